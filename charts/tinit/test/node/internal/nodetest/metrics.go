package nodetest

import (
	"bufio"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

func (s Sample) String() string {
	var ls []string
	for k, v := range s.Labels {
		ls = append(ls, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(ls)
	return fmt.Sprintf("%s{%s} %g", s.Name, strings.Join(ls, ","), s.Value)
}

// ParseMetrics parses the Prometheus text format (comments skipped;
// timestamps ignored).
func ParseMetrics(text string) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := Sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			s.Name = line[:i]
			j := i + 1
			for {
				for j < len(line) && (line[j] == ',' || line[j] == ' ') {
					j++
				}
				if j < len(line) && line[j] == '}' {
					j++
					break
				}
				eq := strings.IndexByte(line[j:], '=')
				if eq < 0 || j+eq+1 >= len(line) || line[j+eq+1] != '"' {
					return nil, fmt.Errorf("bad labels in %q", line)
				}
				key := line[j : j+eq]
				k := j + eq + 2
				var val strings.Builder
				for k < len(line) && line[k] != '"' {
					if line[k] == '\\' && k+1 < len(line) {
						k++
						switch line[k] {
						case 'n':
							val.WriteByte('\n')
						default:
							val.WriteByte(line[k])
						}
					} else {
						val.WriteByte(line[k])
					}
					k++
				}
				if k >= len(line) {
					return nil, fmt.Errorf("unterminated label value in %q", line)
				}
				s.Labels[key] = val.String()
				j = k + 1
			}
			rest = line[j:]
		} else if i >= 0 {
			s.Name, rest = line[:i], line[i:]
		} else {
			return nil, fmt.Errorf("no value in %q", line)
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad value in %q: %v", line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// Sum adds up the samples named name whose labels include every
// key=value pair of match; found says whether any matched.
func Sum(samples []Sample, name string, match map[string]string) (total float64, found bool) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		total += s.Value
		found = true
	}
	return total, found
}

// KubeletMetrics reads one of the kubelet's metrics endpoints through the
// apiserver's node proxy: path is e.g. "metrics/probes" (the kubelet's
// prober_probe_total) or "metrics".
func (e *Env) KubeletMetrics(ctx context.Context, path string) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	b, err := e.Client.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", e.Node, "proxy", path).DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET /api/v1/nodes/%s/proxy/%s: %w", e.Node, path, err)
	}
	return ParseMetrics(string(b))
}

// Probe types as prober_probe_total's probe_type label names them.
const (
	Startup   = "Startup"
	Liveness  = "Liveness"
	Readiness = "Readiness"
)

// ProbeCounts are the kubelet's prober_probe_total for one container of a
// pod: by probe type, by result ("successful", "failed", "unknown").
func (ns *NS) ProbeCounts(pod *corev1.Pod, container string) (map[string]map[string]float64, error) {
	samples, err := ns.Env.KubeletMetrics(ns.Ctx, "metrics/probes")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]float64{}
	for _, s := range samples {
		if s.Name != "prober_probe_total" || s.Labels["namespace"] != ns.Name || s.Labels["pod"] != pod.Name || s.Labels["container"] != container {
			continue
		}
		typ := s.Labels["probe_type"]
		if out[typ] == nil {
			out[typ] = map[string]float64{}
		}
		out[typ][s.Labels["result"]] += s.Value
	}
	return out, nil
}

// TinitMetrics reads tinit's own /metrics on a pod's health port (9180
// for the app in inject mode, 9181 for charts/tinit's sidecar).
func TinitMetrics(pod *corev1.Pod, port int) ([]Sample, error) {
	code, body, err := HTTPGet(PodURL(pod, port, "/metrics"))
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("GET /metrics: %d %s", code, body)
	}
	return ParseMetrics(body)
}

// TinitMetric is one unlabelled metric of tinit's /metrics (the sum of
// its series when it has labels).
func TinitMetric(pod *corev1.Pod, port int, name string) (float64, error) {
	samples, err := TinitMetrics(pod, port)
	if err != nil {
		return 0, err
	}
	v, ok := Sum(samples, name, nil)
	if !ok {
		return 0, fmt.Errorf("tinit's /metrics has no %s", name)
	}
	return v, nil
}
