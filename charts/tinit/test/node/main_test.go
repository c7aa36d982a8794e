// Package node runs tinit's charts on a real single-node Kubernetes
// (.ci/kube/node): the kubelet, not a decoder, says what the pods do.
//
// Run on the node (make node-test does up, this and down):
//
//	.ci/kube/node exec go test -count=1 -timeout 30m ./...
//
// in charts/tinit/test/node. Without KUBECONFIG the tests say so in one
// line, and fail when CI is set, skip otherwise. The fixture is package
// internal/nodetest; the tests of issue 20 are in *_test.go here, one
// namespace each.
package node

import (
	"os"
	"testing"

	"github.com/tinit/tinit/charts/tinit/test/node/internal/nodetest"
)

// env is the node, helm and the images, set up once by TestMain.
var env *nodetest.Env

func TestMain(m *testing.M) { os.Exit(nodetest.Main(m, &env)) }
