package nodetest

import (
	"errors"
	"os"
)

// Setup does for a program that is not a test (cmd/readybench) what Main
// does before the tests: with KUBECONFIG set (the node's exec sets it), it
// builds helm and the images, imports them into the node's containerd and
// returns the Env. Close removes its directory.
func Setup() (*Env, error) {
	if os.Getenv("KUBECONFIG") == "" {
		return nil, errors.New(NoNodeMessage)
	}
	e, err := setup()
	if err != nil && e != nil {
		os.RemoveAll(e.Dir)
		return nil, err
	}
	return e, err
}

// Close removes the Env's temporary directory.
func (e *Env) Close() error { return os.RemoveAll(e.Dir) }
