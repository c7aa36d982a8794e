package main

import (
	"fmt"
	"strconv"
	"strings"
)

// shortHint spells the ways to give short flag spelled that parseArgs
// accepts, with the value's name from the help rather than the user's
// text, which may hold anything.
func (o *option) shortHint(spelled string) string {
	switch o.kind {
	case bare, count:
		return spelled + " alone"
	case boolean:
		return fmt.Sprintf("%s alone, or --%s=true or =false", spelled, o.long)
	}
	return fmt.Sprintf("%s %s, %s%s or --%s=%s", spelled, o.value, spelled, o.value, o.long, o.value)
}

// cmdline is what parseArgs found.
type cmdline struct {
	values  map[string][]string // by long name, in order given
	spelled map[string]string   // by long name: "-s" or "--subreaper"
	verbose int
	argv    []string // PROGRAM and its arguments
}

func (c *cmdline) has(long string) bool { _, ok := c.values[long]; return ok }

// add records one occurrence of o. A switch or a value given again is
// the same as once when the value is the same (tini and dumb-init take
// the last; a command line that says one thing twice is not wrong), and
// an error naming it when the values differ.
func (c *cmdline) add(o *option, spelled, v string) error {
	old, dup := c.values[o.long]
	switch {
	case o.kind == count:
		c.verbose++
	case o.kind == list || !dup:
	case old[0] == v || (o.kind == boolean && sameBool(old[0], v)):
		return nil
	default:
		return fmt.Errorf("%s given twice with different values: %q and %q", spelled, old[0], v)
	}
	c.values[o.long] = append(old, v)
	if !dup {
		c.spelled[o.long] = spelled
	}
	return nil
}

// parseArgs reads options in getopt style, as tini and dumb-init do, so
// their command lines keep working: clustered switches (-vvv, -sg), values
// attached or separate (-pSIGKILL, -p SIGKILL, --rewrite=TERM:QUIT,
// --rewrite TERM:QUIT). Parsing stops at "--" or at the first argument
// that is not an option, which is PROGRAM: "tinit sh -c ..." gives -c to
// sh. On an error it returns what it had read so far too.
func parseArgs(args []string) (*cmdline, error) {
	c := &cmdline{values: map[string][]string{}, spelled: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			c.argv = args[i+1:]
			return c, nil
		case strings.HasPrefix(a, "--"):
			name, v, hasV := strings.Cut(a[2:], "=")
			o := lookupLong(name)
			if o == nil {
				return c, fmt.Errorf("unknown flag %q", "--"+name)
			}
			spelled := "--" + name
			switch o.kind {
			case bare, count:
				if hasV {
					return c, fmt.Errorf("%s takes no value", spelled)
				}
				v = "true"
			case boolean:
				if !hasV {
					v = "true"
				}
			default:
				if !hasV {
					if i+1 >= len(args) {
						return c, fmt.Errorf("%s needs a value (%s)", spelled, o.value)
					}
					i++
					v = args[i]
				}
			}
			if err := c.add(o, spelled, v); err != nil {
				return c, err
			}
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := lookupShort(a[j])
				if o == nil {
					return c, fmt.Errorf("unknown flag %q", "-"+string([]byte{a[j]}))
				}
				spelled := "-" + string(a[j])
				if j+1 < len(a) && a[j+1] == '=' {
					// getopt would read "-s=true" as -s then an unknown
					// -=, and "-p=KILL" as the signal "=KILL"; tini has
					// no such form. Either way the user meant a value:
					// say how to give one.
					return c, fmt.Errorf("%q: a short flag takes no \"=\": give %s", a, o.shortHint(spelled))
				}
				v := "true"
				if o.kind == value || o.kind == list {
					switch {
					case j+1 < len(a):
						v = a[j+1:]
					case i+1 < len(args):
						i++
						v = args[i]
					default:
						return c, fmt.Errorf("%s needs a value (%s)", spelled, o.value)
					}
					j = len(a)
				}
				if err := c.add(o, spelled, v); err != nil {
					return c, err
				}
			}
		default:
			c.argv = args[i:]
			return c, nil
		}
	}
	return c, nil
}

// sameBool reports whether two spellings of a boolean mean the same:
// "-c --single-child=1" says one thing twice.
func sameBool(a, b string) bool {
	x, errA := strconv.ParseBool(strings.TrimSpace(a))
	y, errB := strconv.ParseBool(strings.TrimSpace(b))
	return errA == nil && errB == nil && x == y
}
