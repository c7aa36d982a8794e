package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// timeFormat is RFC 3339 with milliseconds, in both log formats.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// loggerName marks every JSON line as tinit's; text lines start with
// textPrefix. In kubectl logs, where the app's lines and tinit's are
// mixed, a filter finds them.
const (
	loggerName = "tinit"
	textPrefix = "tinit: "
)

// formatter is logrus's text or JSON format, marked as tinit's.
type formatter struct {
	json bool
	text logrus.TextFormatter
	js   logrus.JSONFormatter
}

func newFormatter(asJSON bool) *formatter {
	return &formatter{
		json: asJSON,
		text: logrus.TextFormatter{DisableColors: true, FullTimestamp: true, TimestampFormat: timeFormat},
		js:   logrus.JSONFormatter{TimestampFormat: timeFormat},
	}
}

func (f *formatter) Format(e *logrus.Entry) ([]byte, error) {
	if f.json {
		// A copy: the entry's fields may be shared with the caller's.
		data := make(logrus.Fields, len(e.Data)+1)
		for k, v := range e.Data {
			data[k] = v
		}
		data["logger"] = loggerName
		marked := *e
		marked.Data = data
		return f.js.Format(&marked)
	}
	line, err := f.text.Format(e)
	return append([]byte(textPrefix), line...), err
}

func newLogger(level logrus.Level, asJSON bool, w io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(w)
	log.SetLevel(level)
	log.SetFormatter(newFormatter(asJSON))
	return log
}

// droppedLine is the warning that n log lines were dropped, in the log's
// format.
func droppedLine(asJSON bool, n uint64) []byte {
	var b bytes.Buffer
	newLogger(logrus.WarnLevel, asJSON, &b).WithField("dropped", n).Warn("log lines dropped: stderr was not being read")
	return b.Bytes()
}

// usageErrors prints one line per problem and, as text, where to read
// more.
func usageErrors(w io.Writer, asJSON bool, errs []error) {
	errorLines(w, asJSON, errs...)
	if !asJSON {
		fmt.Fprintf(w, "%stry 'tinit --help'\n", textPrefix)
	}
}

// errorLines prints one line per error: as text, or as JSON log lines at
// level error when the logs are JSON, so that a log pipeline that parses
// every line parses these too.
func errorLines(w io.Writer, asJSON bool, errs ...error) {
	if asJSON {
		log := newLogger(logrus.ErrorLevel, true, w)
		for _, err := range errs {
			log.Error(err.Error())
		}
		return
	}
	for _, err := range errs {
		fmt.Fprintf(w, "%s%v\n", textPrefix, err)
	}
}

// jsonErrors reports whether errors should be JSON lines: the settings
// say so; else (a mode, which reads no log setting, or a command line that
// did not parse) --log-format json among tinit's own options, else
// TINIT_LOG_FORMAT=json.
func jsonErrors(st *settings, args []string) bool {
	if st != nil && st.mode == "" {
		return st.json
	}
	if v, ok := logFormatArg(args); ok {
		return v == "json"
	}
	return strings.TrimSpace(os.Getenv("TINIT_LOG_FORMAT")) == "json"
}

// logFormatArg finds --log-format's value among tinit's own options. When
// the command line parses, the parser says where they end; when it does
// not, everything before "--" is looked at, so that an error before
// --log-format json is still a JSON line.
func logFormatArg(args []string) (string, bool) {
	cl, err := parseArgs(args)
	if err == nil {
		if !cl.has("log-format") {
			return "", false
		}
		return strings.TrimSpace(cl.values["log-format"][0]), true
	}
	for i, a := range args {
		switch {
		case a == "--":
			return "", false
		case a == "--log-format" && i+1 < len(args):
			return strings.TrimSpace(args[i+1]), true
		case strings.HasPrefix(a, "--log-format="):
			return strings.TrimSpace(strings.TrimPrefix(a, "--log-format=")), true
		}
	}
	return "", false
}
