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
