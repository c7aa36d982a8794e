// Package supervise is tinit's event loop: it starts the main child and owns
// everything about it until tinit exits.
//
// The loop (Run) is a select over SIGCHLD, the heartbeat's SIGALRM, the
// other signals (in the order they came), the notify socket's messages
// (--notify) and one timer; each event goes to
// a state machine (machine) whose phase says what the event means. The
// machine reaches processes only through Ops (package proc and package
// reaper in production, fakes in tests) and reads time from a Clock, so
// that every (phase, event) pair is a unit test that needs no process and
// no sleep (machine_test.go).
//
// Invariants:
//
//   - One goroutine, the one running Run, owns the child's state: its pid,
//     its phase, restart counts, the deadline, the exit code to return.
//     Nothing else writes it.
//   - Reaping goes through package reaper only, from this loop: on every
//     SIGCHLD it sweeps with wait4(-1, WNOHANG) and picks the main child's
//     status out of the sweep. Children are started with syscall.ForkExec
//     (package proc), which leaves no pidfd and no Wait to race the sweep.
//   - Every signal tinit handles was registered (package signals) before
//     the child is started, so none can arrive unhandled in between.
//   - Every signal received and forwarded reaches the child, or its group,
//     in the order received; repeats of one signal may coalesce, as the
//     kernel's do. (Signals pending at the same instant reach os/signal in
//     number order, as the kernel dequeues them; nothing here reorders.) A stop signal is forwarded like any other, also while
//     stopping; only the deadline brings SIGKILL.
//   - A signal that --rewrite maps to 0 is dropped before anything else
//     looks at it: it stops nothing and starts no timer.
//   - Each phase has at most one deadline, and the loop's one timer is set
//     to it, so no timer can fire into the wrong phase.
//   - A restart starts a clean generation: the crashed child's process
//     group gets SIGTERM, SIGKILL after Grace, and the next child starts
//     once that group is empty and the backoff is over. Processes that
//     left the group (daemons) are not part of a generation; they are
//     drained at the end.
//   - No process gets the stop signal twice. Every signal tinit sends to a
//     process group goes through one path (groupSignal), which remembers
//     the groups that had their stop (a forwarded stop signal, or tinit's
//     own SIGTERM to a crashed generation or a failed child) and when, and
//     never sends tinit's own SIGTERM to one of them: not the restart's,
//     not the final one to leftovers. A phase added later cannot forget
//     the rule, since it has no other way to signal a group. A group is
//     forgotten once it is empty, so that as PID 1 the final SIGTERM is
//     one kill(-1) again. Everything gets SIGKILL at the deadline. Two
//     exceptions: a signal tinit received is always forwarded, also to a
//     group that had its stop (the child may give a second one a meaning
//     of its own); and as PID 1 without its own /proc, the final SIGTERM
//     is kill(-1), which cannot skip a group.
//   - A stop signal meets the main child's exit in the order the kernel
//     saw them: before it acts on a stop signal, the loop reaps. A child
//     that had exited by then is a crash (restarted by policy), and the
//     stop signal then ends tinit with 128+N, as in any restart phase; a
//     restart due at once (--backoff 0) waits in backingOff for it, so no
//     child starts only to be stopped.
//   - tinit is done when the reaper reports no child left: as PID 1 or
//     subreaper every survivor of the tree is re-parented to it, so "no
//     child" is "nothing left", and the case with nothing left costs no
//     wait at all. After tinit's own SIGKILL it waits KillWait at most.
//   - Run never exits the process; it returns a Result and main exits.
//   - Other goroutines see the loop's state only through the healthz.State
//     it publishes, once per event.
//   - The heartbeat's setitimer is armed and disarmed here, not in healthz
//     as the design sketch put it: the timer's life belongs to the loop
//     that receives its SIGALRM, and healthz only reads the tick time the
//     loop publishes.
//
// Phases and their one deadline:
//
//	running        the main child is alive                  none; with --notify: --notify-timeout
//	                                                        until READY=1, then the watchdog
//	drain-window   a stop signal came with --drain: held    end of --drain
//	stopping       the stop signal was forwarded             stop + drain + grace: SIGKILL
//	killing        the main child's group had SIGKILL        KillWait: give up
//	crashStopping  crashed, restart due: its group had TERM  Grace: SIGKILL the group
//	crashKilling   the crashed group had SIGKILL             KillWait: start anyway
//	backingOff     the crashed generation is gone            end of backoff: start
//	failing        not ready in time, or hung: had TERM      Grace: SIGKILL the group
//	               (group) or ABRT (child)
//	failKilling    the failed child's group had SIGKILL      KillWait: give up
//	waiting        before a start, the --wait-for targets   --wait-timeout: exit 124; every 5 s
//	               are tried                                before it: a progress line
//	reloading      a graceful restart (--reload-on,         Grace: SIGKILL the group
//	               --restart-signal): the group had TERM
//	reloadKilling  the restarting group had SIGKILL         KillWait: give up
//	finishing      the main child is gone for good           the SIGKILL deadline
//	finishKilling  leftovers had SIGKILL                     KillWait: give up
//
// Transitions (machine_test.go's TestTransitions has a row for each). An
// exit is the main child's where there is one, else the last process the
// phase waits for; "stop" is a stop signal (TERM, INT, QUIT by default,
// judged before --rewrite), "other" any other forwarded signal:
//
//	phase          exit                    stop                    other       deadline                tick
//	running        restart: crashStopping  reap first; stopping,   forward     failing (TERM or ABRT)  sweep
//	               (group empty: backingOff) forward it
//	               else finishing
//	drain-window   finishing               hold; a new one: send   hold        send held, stopping     sweep
//	                                       held, stopping
//	stopping       finishing               forward                 forward     SIGKILL group, killing  sweep
//	killing        finishing (KILL left-   forward                 forward     give up: 137            sweep
//	               overs, same KillWait)
//	crashStopping  group empty: backingOff finishing, 128+N        drop        SIGKILL group,          group empty?
//	               or start                                                    crashKilling
//	crashKilling   group empty: start      finishing, 128+N        drop        start anyway            group empty?
//	backingOff     -                       finishing, 128+N        drop        start: running (no      sweep
//	                                                                           resources: backingOff)
//	finishing      none left: done         drop                    drop        SIGKILL, finishKilling  sweep
//	finishKilling  none left: done         drop                    drop        give up                 SIGKILL again
//	failing        as running's exit, a    forward, stopping       forward     SIGKILL group,          sweep
//	               failure whatever its                                        failKilling
//	               status; its group had
//	               its SIGTERM: none again
//	failKilling    as failing's            forward; exit ends      forward     give up: 137            sweep
//	                                       tinit
//	waiting        - (orphans reaped)       finishing, 128+N,       drop        timeout: finishing,     sweep
//	                                       no child ever           (counted)   124; else a progress
//	                                                                           line
//	reloading      group empty: start at   forward; stopping,      forward     SIGKILL group,          sweep
//	               once, else crashStopping 128+N when it exits                reloadKilling
//	               (no backoff, not counted)
//	reloadKilling  as reloading's          forward; killing,       forward     give up: 137            sweep
//	                                       128+N when it exits
//
// The lifecycle events, in every phase (TestTransitions has their
// rows): "held" (every --wait-for target has held) starts the child in
// waiting and means nothing elsewhere; "change" (a --reload-on change,
// debounced by package watch) and "restart" (--restart-signal) act in
// running only: "change" sends --reload-signal to the child's group
// (tinit's own signal: no --rewrite) or, with --reload-signal restart,
// enters reloading as "restart" does, by SIGTERM after --rewrite to the
// group. Elsewhere both are dropped and logged: a child that is not
// running, or is going, reads its files when it starts. A graceful
// restart counts neither as a restart nor against --max-restarts, waits
// for no backoff, and waits for --wait-for again only with
// --wait-on-restart; readiness is off while it runs (Stopping).
// Before it acts, a restart request reaps, as a stop signal does: a
// child that had exited is a crash, judged by --restart.
// Every "start" above enters waiting first when --wait-for targets are
// set and the start is the first, or any with --wait-on-restart. A
// signal dropped for want of a child (waiting, restarting, backing off)
// is counted (tinit_signals_dropped_total).
//
// Three more events, in every phase (TestTransitions has their rows too):
// SIGTSTP, SIGTTIN or SIGTTOU at tinit ("jobstop") stops the child's group
// and then tinit, as below; SIGCONT at tinit ("cont") gives the child the
// terminal and is forwarded; the main child continued by anyone
// ("continued", WCONTINUED: a kill -CONT from docker exec) resumes its
// paused deadlines and ends no phase. In the drain window all three
// kinds are held with the rest, in order (a SIGCONT drops the stops held
// before it and a stop the SIGCONT, as the kernel does with pending
// signals), and replayed when it ends, each with its usual action except
// that tinit does not stop itself. The drain and grace deadlines run on
// while the child is stopped.
//
// A start that fails for want of a resource (fork's EAGAIN under a full
// pids cgroup, ENOMEM, EMFILE, ENFILE) is no verdict on PROGRAM: on a
// restart it is a failed start that backs off (minRetry at least) and
// counts against --max-restarts like a crash; on the first start tinit
// exits 1.
//
// A notify message (--notify) changes no phase, except WATCHDOG=trigger
// in running (failing at once); it moves running's deadline: READY=1 ends
// --notify-timeout and arms the watchdog, WATCHDOG=1 re-arms it. Messages
// count only from the main child's tree (--notify-access tree) or the main
// child and its MAINPID (main); a restarted child starts unready. Without
// a /proc of tinit's own there is no tree to walk, and the tree is every
// process in tinit's pid namespace (proc.InTree): Run says so once, at
// warn level, since each refused message is logged at debug only. A child
// that failed this way is a failure for --restart whatever its exit
// status, though tinit sent the signal: on-failure restarts it, never
// exits with its code (134 after SIGABRT), and with 1 when that code is
// 0. While the child is stopped by job control (Ctrl-Z) the deadline
// waits, and moves on by the time it was stopped, until the child runs
// again, whoever continued it; a WATCHDOG=1 that comes meanwhile counts
// from then.
//
// Entering finishing sends SIGTERM to the leftovers except the groups that
// had their stop, with the stop's deadline (or Grace from now); none
// left is done at once. A PROGRAM that cannot start (127, 126, or 1 for
// want of a resource) enters finishing too, so processes tinit inherited are drained as on every
// other exit path.
//
// Job control, in every phase: SIGTSTP, SIGTTIN and SIGTTOU stop the
// child's group with SIGSTOP (the child alone gets the signal itself with
// --single-child; a --rewrite of it is forwarded instead), then tinit stops
// itself; a main child stopped by one of them (WUNTRACED) stops tinit too,
// unless tinit sent that signal itself (--single-child, a --rewrite to it)
// since the last SIGCONT. SIGCONT gives the terminal to the child's group
// when tinit's group holds it again ("fg"), then is forwarded. As PID 1,
// which the kernel never stops, and in an orphaned process group, which
// nothing would continue, tinit only forwards.
//
// Exit codes (ExitCode, then Config.ExitMap):
//
//	child exited with N       N (the last child's, with restarts)
//	child killed by signal S  128+S (137 after tinit's own SIGKILL)
//	stop signal N while restarting (crashStopping, crashKilling,
//	backingOff, reloading, reloadKilling) or waiting
//	                          128+N
//	--wait-timeout ran out    124 (CodeWaitTimeout)
//	child failed (--notify)   its code, 1 if that is 0
//	PROGRAM not found         127
//	PROGRAM not executable    126
//	PROGRAM could not be      1 (fork's EAGAIN, ENOMEM, EMFILE, ENFILE:
//	started for want of a       on the first start, or when a failed
//	resource                    restart reaches --max-restarts)
//
// tinit's own usage and configuration errors (exit 2) are decided in main,
// before Run is called.
//
// Log lines carry their data as fields, with one name for each kind, and
// a message a person reads without them:
//
//	signal    the signal the line is about: received ("SIGTERM", before
//	          --rewrite), or sent by tinit itself (SIGTERM, SIGKILL)
//	to        what a forwarded signal was sent as, when --rewrite changed it
//	pid       the main child (or a reaped orphan)
//	group     the process group signalled
//	code      an exit code (before --remap-exit)
//	restarts  the main child's restarts once the line's action is done: 1
//	          on the first restart's warning and on the "started" line of
//	          the child it starts
//	delay     how long until the action ("200ms"): the backoff, --drain
//	grace     how long until SIGKILL ("10s")
//
// Lines on the paths a storm can drive (forwarding, dropping, reaping) are
// built only when their level is enabled.
package supervise
