// Package mutate decides what tinit-inject does to a pod, as a pure
// function: Mutate takes the pod as the API server sent it, the settings
// that do not depend on the namespace, and a way to read an image's
// ENTRYPOINT and CMD, and returns a minimal RFC 6902 JSON Patch with what
// it did and did not do. It reads no cluster, no clock and no
// environment; the only thing it calls out to is Images, and only for a
// chosen container whose command is empty.
//
// Invariants:
//
//   - The patch never replaces a list or an object the user wrote: the
//     install container goes in with "add /spec/initContainers/0" (or
//     creates the list), and env, ports, volume mounts and volumes are
//     appended item by item ("/-") or created when absent. Only scalars
//     and the string lists tinit takes over are replaced: command, args
//     and terminationGracePeriodSeconds. Operations on containers come
//     before the insert at initContainers/0, so their indices are the
//     pod's own.
//   - Kubernetes' rules decide the command: command replaces the image's
//     ENTRYPOINT and args its CMD; with command set and args empty the
//     CMD is not run. Each chosen container becomes
//     /tinit-bin/tinit -- <what it would have run>. Image values moved
//     into command or args are escaped ("$" before "(" or "$" doubled),
//     since the kubelet expands $(VAR) there and the runtime never did;
//     the user's own values are already in that syntax and stay as they
//     are. An argv that starts with tini, tini-static or dumb-init gets
//     tinit in its place with the same arguments; one that starts with
//     catatonit, or with tinit, is left alone with a reason.
//   - A pod is never half-processed: a bad tinit.dev/* value, a broken
//     health-port rule or a Windows pod leaves every chosen container
//     alone, each listed in tinit.dev/skipped with the reason. One
//     container is left alone (listed too) when its image cannot be read,
//     its argv is catatonit's or tinit's, it already mounts /tinit-bin, or
//     its own TINIT_* value is one tinit would refuse.
//   - Settings are checked as tinit checks them (settings.go; the test
//     runs the real tinit over the same table). A TINIT_* variable the
//     container sets itself wins: the annotation's is not added, and
//     terminationGracePeriodSeconds counts the container's own value
//     (valueFrom and $(VAR) values are unknown here and count as tinit's
//     default). The period is raised to the largest drain + grace + 5 s
//     of the wrapped containers, rounded up to a second, never lowered.
//   - Safe to run twice: a pod that carries tinit.dev/injected or
//     tinit.dev/skipped has been here, and one with a tinit-bin volume or
//     a tinit-install init container has tinit already; both get no
//     patch, so a container another webhook adds between two invocations
//     is never wrapped. tinit.dev/wrapped names the wrapped containers.
//   - Opted out (label tinit.dev/inject: "false") is no patch. Which pods
//     reach the webhook at all is its selectors' business, not this
//     package's: every pod given to Mutate counts as opted in.
package mutate
