package healthz

// Stub until the waitz branch lands.
const (
	ReloadSignal = iota
	ReloadRestart
	ReloadActions
)

const (
	ReloadCauseFile = iota
	ReloadCauseSignal
	ReloadCauses
)

// WaitTarget stub.
type WaitTarget struct{ raw string }

func (t WaitTarget) String() string { return t.raw }

// ParseWaitTarget stub.
func ParseWaitTarget(s, dir string) (WaitTarget, error) { return WaitTarget{s}, nil }

// Wait stub.
type Wait struct{}

func NewWait(targets []WaitTarget, clock Clock) *Wait { return &Wait{} }
func (w *Wait) Start() <-chan struct{}                { c := make(chan struct{}); close(c); return c }
func (w *Wait) Stop()                                 {}
func (w *Wait) Failing() []string                     { return nil }

func (h *Handler) WithWait(w *Wait) *Handler { return h }
