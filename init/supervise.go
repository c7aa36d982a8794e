package supervise

import (
	"errors"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/tinit/tinit/reaper"
	"github.com/tinit/tinit/signals"
)

// Config is what Run needs, already validated by the caller.
type Config struct {
	// Argv is PROGRAM and its arguments; PROGRAM is looked up in Env's PATH.
	Argv []string
	// Env is the child's environment.
	Env []string
	// Group sends forwarded signals to the child's process group (the
	// default, tini's -g); false sends them to the child alone.
	Group bool
	// Rewrite maps received signals to the ones forwarded.
	Rewrite signals.Rewrite
	// ExitMap rewrites the exit code tinit returns (-e, --remap-exit).
	ExitMap ExitMap
	// WarnOnReap logs each reaped orphan at warn level (tini's -w).
	WarnOnReap bool
	Log        logrus.FieldLogger
}

// Signals are the channels from signals.Register.
type Signals struct {
	Child <-chan os.Signal
	Other <-chan os.Signal
}

// Run starts the main child, forwards signals to it and reaps every child
// until the main one exits, and returns the code tinit should exit with.
func Run(cfg Config, sigs Signals) int {
	l := &loop{cfg: cfg, log: cfg.Log}
	return l.run(sigs)
}

// loop holds the state that only Run's goroutine touches.
type loop struct {
	cfg   Config
	log   logrus.FieldLogger
	child child
	buf   []reaper.Exit // reused across sweeps: a storm allocates once
}

func (l *loop) run(sigs Signals) int {
	c, err := startChild(l.cfg.Argv, l.cfg.Env)
	if err != nil {
		var se *StartError
		if errors.As(err, &se) {
			l.log.Error(err)
			return l.cfg.ExitMap.Apply(se.Code)
		}
		l.log.Error(err)
		return CodeNotExecutable
	}
	l.child = c
	l.log.WithFields(logrus.Fields{"pid": c.pid, "foreground": c.foreground}).
		Infof("started %q", l.cfg.Argv[0])

	for {
		select {
		case <-sigs.Child:
			if ws, done := l.reap(); done {
				code := ExitCode(ws)
				l.log.WithFields(logrus.Fields{"pid": l.child.pid, "code": code}).Info("main child exited")
				return l.cfg.ExitMap.Apply(code)
			}
		case s := <-sigs.Other:
			l.handle(s.(unix.Signal))
		}
	}
}

// reap collects every exited child and reports the main child's status
// if it was among them.
func (l *loop) reap() (status unix.WaitStatus, mainExited bool) {
	var err error
	l.buf, err = reaper.Reap(l.buf[:0])
	if err != nil {
		// Only a bug in the wait options gets here; the next SIGCHLD
		// tries again.
		l.log.Error(err)
	}
	for _, e := range l.buf {
		if e.Pid == l.child.pid {
			status, mainExited = e.Status, true
			continue
		}
		f := l.log.WithFields(logrus.Fields{"pid": e.Pid, "code": ExitCode(e.Status)})
		if l.cfg.WarnOnReap {
			f.Warn("reaped orphan")
		} else {
			f.Debug("reaped orphan")
		}
	}
	return status, mainExited
}

// handle forwards sig to the main child (or its group), after --rewrite.
func (l *loop) handle(sig unix.Signal) {
	if signals.Classify(sig) != signals.Forward {
		l.log.Debugf("dropped %s: never forwarded", signals.Name(sig))
		return
	}
	to := l.cfg.Rewrite.Apply(sig)
	if to == 0 {
		l.log.Debugf("dropped %s: rewritten to 0", signals.Name(sig))
		return
	}
	err := signals.Send(l.child.pid, l.cfg.Group, to)
	switch {
	case err == nil:
		l.log.Debugf("forwarded %s as %s", signals.Name(sig), signals.Name(to))
	case errors.Is(err, signals.ErrNoProcess):
		// The child exited and its SIGCHLD is on its way.
		l.log.Debug(err)
	default:
		l.log.Warn(err)
	}
}
