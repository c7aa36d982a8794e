package webhook

import (
	"bytes"
	"io"
	"log/slog"
)

// LogPrefix starts every log line, as "tinit: " starts tinit's.
const LogPrefix = "tinit-inject: "

// prefixWriter puts LogPrefix before each line. slog's handlers write a
// record in one call, under their own lock.
type prefixWriter struct{ w io.Writer }

func (p prefixWriter) Write(b []byte) (int, error) {
	var buf bytes.Buffer
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) > 0 {
			buf.WriteString(LogPrefix)
			buf.Write(line)
		}
	}
	if _, err := p.w.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// NewLogger logs to w in slog's text format, each line prefixed, with
// the time in RFC 3339 with milliseconds in UTC, as tinit's.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(prefixWriter{w}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.String(slog.TimeKey, a.Value.Time().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			}
			return a
		},
	}))
}

// discard is a logger that drops everything (no logger given).
func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
