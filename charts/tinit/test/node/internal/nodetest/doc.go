// Package nodetest is the fixture of the node tests: tinit's charts run
// by a real kubelet on the single-node cluster of .ci/kube/node.
//
// A test package's TestMain calls Main, which needs KUBECONFIG (the
// harness's `exec` sets it, with CONTAINERD_ADDRESS and
// CONTAINERD_NAMESPACE): it builds the pinned helm, the tinit image from
// this checkout and app images from Debian's own binaries (busybox
// httpd, nginx, redis-server; see the *Image constants), imports them into
// the node's containerd and hands the tests an Env. Without KUBECONFIG it
// says so in one line, and fails when CI is set, skips otherwise.
//
// Each test takes a namespace of its own (Env.Namespace), which after the
// test, having dumped pods, events and logs if the test failed, has its
// helm releases uninstalled and is deleted. The helpers wait on
// conditions with generous timeouts (WaitFor, NS.WaitPod, NS.WaitRollout)
// and never assert speed; they exec in containers (NS.Exec,
// NS.Processes), read the kubelet's metrics through the apiserver's node
// proxy (Env.KubeletMetrics, NS.ProbeCounts) and tinit's own
// (TinitMetrics), record watch events with the time they arrived
// (NS.RecordPod, NS.RecordEndpointSlices) and follow logs
// (NS.FollowLogs). The tests run in the node's network namespace, so pod
// IPs answer (PodURL, HTTPGet, PortOpen); ClusterIPs do not (no
// kube-proxy) and there is no DNS.
package nodetest
