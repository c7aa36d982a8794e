// Package notify reads systemd's notify protocol (sd_notify(3)) for tinit:
// the datagrams a child sends to $NOTIFY_SOCKET, parsed into Messages.
//
// Invariants:
//
//   - A datagram is taken whole or not at all. A payload that is not
//     newline-separated KEY=VALUE lines is dropped (Bad "malformed") with
//     nothing applied, so a half-garbled READY=1 never counts. Within a good
//     datagram, a key tinit does not handle, or a known key with a value it
//     does not take, is skipped and counted (Unknown): the protocol grows,
//     and senders put MONOTONIC_USEC or BARRIER=1 next to the keys that
//     matter.
package notify
