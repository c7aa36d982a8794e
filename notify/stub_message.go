package notify

// Message: a stand-in for the notify package's type while it is built.
type Message struct {
	Pid                       int
	Bad                       string
	Ready, Reloading, Stopping bool
	Status                    string
	HasStatus                 bool
	MainPID                   int
	Watchdog                  bool
	WatchdogTrigger           bool
	Unknown                   int
	FDs                       int
}
