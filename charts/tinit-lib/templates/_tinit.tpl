{{/*
tinit-lib: add tinit to the pod template of your own chart.

Public templates (their names and contexts are the interface):

  tinit-lib.initContainer  .                                  one initContainers item
  tinit-lib.volume         .                                  one volumes item
  tinit-lib.volumeMount    .                                  one volumeMounts item (app container)
  tinit-lib.command        (dict "root" $ "command" LIST)     the command: list
  tinit-lib.env            .                                  env items (TINIT_*)
  tinit-lib.ports          .                                  one ports item, tinit-health
  tinit-lib.probes         .                                  livenessProbe, readinessProbe, startupProbe
  tinit-lib.sidecarProbes  .                                  the same for a native sidecar (startupProbe on /readyz)

Settings come from .Values.tinit of the chart that includes them; every key
is optional and the defaults are written here (a library chart's own
values.yaml would land under .Values.tinit-lib). With tinit.enabled false
every template renders nothing, except tinit-lib.command, which renders
LIST unchanged.
*/}}

{{/*
The default image tag: tinit-lib's appVersion, written in at release
together with Chart.yaml's appVersion (inside an include, .Chart is the
including chart, not tinit-lib).
*/}}
{{- define "tinit-lib.appVersion" -}}dev{{- end }}

{{/* Where tinit is installed, and its path. */}}
{{- define "tinit-lib.binDir" -}}/tinit-bin{{- end }}
{{- define "tinit-lib.binPath" -}}/tinit-bin/tinit{{- end }}

{{/*
Checks one value against a type and fails naming its key. Takes a dict:
key (for the message), type, value; optional enum (a list).
Types: bool, string, int (whole number >= 0), port (1-65535), posint
(>= 1), strings (list of strings), map, envList (list of maps with a
name), duration (Go duration string, "" allowed), digest, optionalPort.
*/}}
{{- define "tinit-lib._check" -}}
{{- $k := .key }}{{- $v := .value }}{{- $t := .type }}
{{- $isNum := or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v) }}
{{- $whole := and $isNum (eq (float64 $v) (floor $v)) }}
{{- if eq $t "bool" }}
{{- if not (kindIs "bool" $v) }}{{ fail (printf "tinit-lib: %s must be true or false, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "string" }}
{{- if not (kindIs "string" $v) }}{{ fail (printf "tinit-lib: %s must be a string (quote it), got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "int" }}
{{- if or (not $whole) (lt (float64 $v) 0.0) }}{{ fail (printf "tinit-lib: %s must be a whole number >= 0, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "posint" }}
{{- if or (not $whole) (lt (float64 $v) 1.0) }}{{ fail (printf "tinit-lib: %s must be a whole number >= 1, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "port" }}
{{- if or (not $whole) (lt (float64 $v) 1.0) (gt (float64 $v) 65535.0) }}{{ fail (printf "tinit-lib: %s must be a port number 1-65535, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "optionalPort" }}
{{- if not (kindIs "invalid" $v) }}
{{- if or (not $whole) (lt (float64 $v) 1.0) (gt (float64 $v) 65535.0) }}{{ fail (printf "tinit-lib: %s must be the app's port number (1-65535) or null, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- end }}
{{- else if eq $t "duration" }}
{{- if not (and (kindIs "string" $v) (regexMatch "^(|0|(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$" $v)) }}{{ fail (printf "tinit-lib: %s must be a Go duration string such as \"30s\" or \"1m30s\" (\"\" for unset), got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "digest" }}
{{- if not (and (kindIs "string" $v) (regexMatch "^(|sha256:[a-f0-9]{64})$" $v)) }}{{ fail (printf "tinit-lib: %s must be \"\" or \"sha256:\" and 64 hex digits, got %v" $k $v) }}{{ end }}
{{- else if eq $t "map" }}
{{- if not (kindIs "map" $v) }}{{ fail (printf "tinit-lib: %s must be a map, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- else if eq $t "strings" }}
{{- if not (kindIs "slice" $v) }}{{ fail (printf "tinit-lib: %s must be a list of strings, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- range $i, $e := $v }}
{{- if not (kindIs "string" $e) }}{{ fail (printf "tinit-lib: %s[%d] must be a string, got %s %v" $k $i (kindOf $e) $e) }}{{ end }}
{{- end }}
{{- else if eq $t "envList" }}
{{- if not (kindIs "slice" $v) }}{{ fail (printf "tinit-lib: %s must be a list of EnvVar maps, got %s %v" $k (kindOf $v) $v) }}{{ end }}
{{- range $i, $e := $v }}
{{- if not (and (kindIs "map" $e) (kindIs "string" (get $e "name")) (get $e "name")) }}{{ fail (printf "tinit-lib: %s[%d] must be an EnvVar map with a name, got %v" $k $i $e) }}{{ end }}
{{- end }}
{{- end }}
{{- with .enum }}
{{- if not (has $v .) }}{{ fail (printf "tinit-lib: %s must be one of %s, got %v" $k (join ", " .) $v) }}{{ end }}
{{- end }}
{{- end }}

{{/*
Merges one map of settings with its defaults. Takes a dict: prefix (the
key path, e.g. "tinit.image"), in (the user's map or nil), spec (a list of
[key type default enum?]). Fails on an unknown key or a wrong type;
returns the merged map as JSON.
*/}}
{{- define "tinit-lib._section" -}}
{{- $prefix := .prefix }}
{{- $in := .in }}
{{- if kindIs "invalid" $in }}{{ $in = dict }}{{ end }}
{{- if not (kindIs "map" $in) }}{{ fail (printf "tinit-lib: %s must be a map, got %s %v" $prefix (kindOf $in) $in) }}{{ end }}
{{- $known := list }}
{{- range .spec }}{{ $known = append $known (index . 0) }}{{ end }}
{{- range $k, $_ := $in }}
{{- if not (has $k $known) }}{{ fail (printf "tinit-lib: unknown key %s.%s (known: %s)" $prefix $k (join ", " $known)) }}{{ end }}
{{- end }}
{{- $out := dict }}
{{- range .spec }}
{{- $key := index . 0 }}{{- $type := index . 1 }}{{- $v := index . 2 }}
{{- if and (hasKey $in $key) (not (kindIs "invalid" (index $in $key))) }}
{{- $v = index $in $key }}
{{- $enum := list }}{{ if gt (len .) 3 }}{{ $enum = index . 3 }}{{ end }}
{{- include "tinit-lib._check" (dict "key" (printf "%s.%s" $prefix $key) "type" $type "value" $v "enum" $enum) }}
{{- end }}
{{- $_ := set $out $key $v }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
All settings, validated and merged with the defaults, as JSON. Context: a
root context (anything with .Values).
*/}}
{{- define "tinit-lib.settings" -}}
{{- $in := .Values.tinit }}
{{- $top := list
  (list "enabled" "bool" true)
  (list "image" "map" dict)
  (list "healthPort" "port" 9180)
  (list "restart" "string" "never" (list "never" "on-failure" "always"))
  (list "graceSeconds" "int" 8)
  (list "drainSeconds" "int" 0)
  (list "checks" "map" dict)
  (list "rewrite" "strings" list)
  (list "logLevel" "string" "" (list "" "error" "warn" "info" "debug" "trace"))
  (list "logFormat" "string" "" (list "" "text" "json"))
  (list "extraEnv" "envList" list)
  (list "resources" "map" (dict "requests" (dict "cpu" "10m" "memory" "16Mi") "limits" (dict "memory" "32Mi")))
  (list "probes" "map" dict)
  (list "notify" "map" dict)
  (list "exitZeroOnStop" "bool" false)
}}
{{- $s := fromJson (include "tinit-lib._section" (dict "prefix" "tinit" "in" $in "spec" $top)) }}
{{- $_ := set $s "image" (fromJson (include "tinit-lib._section" (dict "prefix" "tinit.image" "in" $s.image "spec" (list
  (list "repository" "string" "tinit")
  (list "tag" "string" (include "tinit-lib.appVersion" .))
  (list "digest" "digest" "")
  (list "pullPolicy" "string" "IfNotPresent" (list "Always" "IfNotPresent" "Never"))
)))) }}
{{- if not $s.image.repository }}{{ fail "tinit-lib: tinit.image.repository must not be empty" }}{{ end }}
{{- if not $s.image.tag }}{{ $_ := set $s.image "tag" (include "tinit-lib.appVersion" .) }}{{ end }}
{{- $_ := set $s "checks" (fromJson (include "tinit-lib._section" (dict "prefix" "tinit.checks" "in" $s.checks "spec" (list
  (list "appPort" "optionalPort" nil)
  (list "tcp" "strings" list)
  (list "http" "strings" list)
  (list "file" "strings" list)
  (list "interval" "duration" "")
  (list "failAfter" "duration" "")
  (list "startPeriod" "duration" "")
)))) }}
{{- $_ := set $s "notify" (fromJson (include "tinit-lib._section" (dict "prefix" "tinit.notify" "in" $s.notify "spec" (list
  (list "enabled" "bool" false)
  (list "access" "string" "tree" (list "tree" "main"))
  (list "watchdog" "duration" "")
  (list "timeout" "duration" "")
)))) }}
{{- if not $s.notify.enabled }}
{{- $n := $s.notify }}
{{- range $key, $off := dict "access" "tree" "watchdog" "" "timeout" "" }}
{{- if ne (get $n $key) $off }}{{ fail (printf "tinit-lib: tinit.notify.%s is %q but tinit.notify.enabled is false: set tinit.notify.enabled to true, or leave tinit.notify.%s unset" $key (get $n $key) $key) }}{{ end }}
{{- end }}
{{- end }}
{{- range $s.checks.http }}
{{- if not (hasPrefix "http://" .) }}{{ fail (printf "tinit-lib: tinit.checks.http entry %q must be an http:// URL (tinit has no TLS; use a tcp check)" .) }}{{ end }}
{{- end }}
{{- $timings := list (list "initialDelaySeconds" "int") (list "periodSeconds" "posint") (list "timeoutSeconds" "posint") (list "failureThreshold" "posint") }}
{{- $p := fromJson (include "tinit-lib._section" (dict "prefix" "tinit.probes" "in" $s.probes "spec" (list
  (list "liveness" "map" dict) (list "readiness" "map" dict) (list "startup" "map" dict) (list "sidecarStartup" "map" dict)))) }}
{{- $defaults := dict
  "liveness" (list 0 10 2 3)
  "readiness" (list 0 5 2 2)
  "startup" (list 0 2 2 3)
  "sidecarStartup" (list 0 1 1 60) }}
{{- range $name, $d := $defaults }}
{{- $spec := list }}
{{- range $i, $t := $timings }}{{ $spec = append $spec (list (index $t 0) (index $t 1) (index $d $i)) }}{{ end }}
{{- $_ := set $p $name (fromJson (include "tinit-lib._section" (dict "prefix" (printf "tinit.probes.%s" $name) "in" (get $p $name) "spec" $spec))) }}
{{- end }}
{{- $_ := set $s "probes" $p }}
{{- toJson $s }}
{{- end }}

{{/*
Seconds (rounded up) of a Go duration string; "" and "0" are 0.
*/}}
{{- define "tinit-lib._seconds" -}}
{{- $total := 0.0 }}
{{- $unit := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- range regexFindAll "([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h)" . -1 }}
{{- $num := regexFind "^([0-9]+(\\.[0-9]*)?|\\.[0-9]+)" . }}
{{- $u := trimPrefix $num . }}
{{- $total = addf $total (mulf (float64 $num) (get $unit $u)) }}
{{- end }}
{{- int64 (ceil $total) }}
{{- end }}

{{/* "repository:tag", or "repository:tag@digest" when a digest pins it. */}}
{{- define "tinit-lib._imageRef" -}}
{{- printf "%s:%s" .repository .tag }}{{ with .digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The init container that copies tinit out of its scratch image into the
shared emptyDir: non-root, read-only root filesystem, no capabilities,
RuntimeDefault seccomp (the restricted Pod Security Standard).
*/}}
{{- define "tinit-lib.initContainer" -}}
{{- $s := fromJson (include "tinit-lib.settings" .) }}
{{- if $s.enabled -}}
- name: tinit-install
  image: {{ include "tinit-lib._imageRef" $s.image | quote }}
  imagePullPolicy: {{ $s.image.pullPolicy }}
  command: ["/tinit", "--install", {{ include "tinit-lib.binDir" . | quote }}]
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
    seccompProfile:
      type: RuntimeDefault
  {{- with $s.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tinit-bin
      mountPath: {{ include "tinit-lib.binDir" . }}
{{- end }}
{{- end }}

{{/* The emptyDir tinit is installed into. */}}
{{- define "tinit-lib.volume" -}}
{{- $s := fromJson (include "tinit-lib.settings" .) }}
{{- if $s.enabled -}}
- name: tinit-bin
  emptyDir:
    sizeLimit: 64Mi
{{- end }}
{{- end }}

{{/* Its read-only mount in the container that runs under tinit. */}}
{{- define "tinit-lib.volumeMount" -}}
{{- $s := fromJson (include "tinit-lib.settings" .) }}
{{- if $s.enabled -}}
- name: tinit-bin
  mountPath: {{ include "tinit-lib.binDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{/*
The command: list, /tinit-bin/tinit -- LIST; LIST unchanged when tinit is
disabled. Context: (dict "root" $ "command" LIST).
*/}}
{{- define "tinit-lib.command" -}}
{{- $cmd := .command }}
{{- if not (kindIs "slice" $cmd) }}{{ fail (printf "tinit-lib.command: \"command\" must be a list of strings, got %s %v" (kindOf $cmd) $cmd) }}{{ end }}
{{- include "tinit-lib._check" (dict "key" "the command of tinit-lib.command" "type" "strings" "value" $cmd) }}
{{- $s := fromJson (include "tinit-lib.settings" .root) }}
{{- if $s.enabled }}
{{- if not $cmd }}{{ fail "tinit-lib.command: the command list is empty; tinit needs the program to run (Kubernetes' command replaces the image's ENTRYPOINT)" }}{{ end }}
{{- toYaml (concat (list (include "tinit-lib.binPath" .root) "--") $cmd) }}
{{- else }}
{{- toYaml $cmd }}
{{- end }}
{{- end }}

{{/*
The TINIT_* environment. TINIT_HEALTH_ADDR is always set: the ports and
probes use the same port. With notify.enabled, TINIT_NOTIFY and
TINIT_NOTIFY_ACCESS are always set (what runs shows in the pod spec), the
watchdog and timeout when set; the socket is tinit's default abstract one.
With exitZeroOnStop, TINIT_REMAP_EXIT maps the stop signals' codes to 0,
unless extraEnv has a TINIT_REMAP_EXIT of its own, which replaces it (a
container must not name one variable twice).
*/}}
{{- define "tinit-lib.env" -}}
{{- $s := fromJson (include "tinit-lib.settings" .) }}
{{- if $s.enabled }}
{{- $c := $s.checks }}
{{- $tcp := list }}
{{- with $c.appPort }}{{ $tcp = append $tcp (printf "127.0.0.1:%d" (int .)) }}{{ end }}
{{- $tcp = concat $tcp $c.tcp -}}
- name: TINIT_HEALTH_ADDR
  value: {{ printf ":%d" (int $s.healthPort) | quote }}
- name: TINIT_TERMINATION_LOG
  value: /dev/termination-log
- name: TINIT_RESTART
  value: {{ $s.restart | quote }}
- name: TINIT_GRACE
  value: {{ printf "%ds" (int $s.graceSeconds) | quote }}
- name: TINIT_DRAIN
  value: {{ printf "%ds" (int $s.drainSeconds) | quote }}
{{- if $tcp }}
- name: TINIT_CHECK_TCP
  value: {{ join "," $tcp | quote }}
{{- end }}
{{- with $c.http }}
- name: TINIT_CHECK_HTTP
  value: {{ join "," . | quote }}
{{- end }}
{{- with $c.file }}
- name: TINIT_CHECK_FILE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $c.interval }}
- name: TINIT_CHECK_INTERVAL
  value: {{ . | quote }}
{{- end }}
{{- with $c.failAfter }}
- name: TINIT_CHECK_FAIL_AFTER
  value: {{ . | quote }}
{{- end }}
{{- with $c.startPeriod }}
- name: TINIT_CHECK_START_PERIOD
  value: {{ . | quote }}
{{- end }}
{{- with $s.notify }}
{{- if .enabled }}
- name: TINIT_NOTIFY
  value: "true"
- name: TINIT_NOTIFY_ACCESS
  value: {{ .access | quote }}
{{- with .watchdog }}
- name: TINIT_NOTIFY_WATCHDOG
  value: {{ . | quote }}
{{- end }}
{{- with .timeout }}
- name: TINIT_NOTIFY_TIMEOUT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- with $s.rewrite }}
- name: TINIT_REWRITE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $s.logLevel }}
- name: TINIT_LOG_LEVEL
  value: {{ . | quote }}
{{- end }}
{{- with $s.logFormat }}
- name: TINIT_LOG_FORMAT
  value: {{ . | quote }}
{{- end }}
{{- if and $s.exitZeroOnStop (not (include "tinit-lib._hasEnv" (dict "env" $s.extraEnv "name" "TINIT_REMAP_EXIT"))) }}
- name: TINIT_REMAP_EXIT
  value: {{ include "tinit-lib._stopExitRemap" . | quote }}
{{- end }}
{{- with $s.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- end }}

{{/*
tinit.exitZeroOnStop's TINIT_REMAP_EXIT: 128 + INT, QUIT and TERM, the
stop signals tinit knows by default, become 0. A native sidecar gets
SIGTERM when the pod's main containers are done and exits 143, which
Kubernetes ignores for the pod's phase but tools reading container
statuses count as a failure. Off by default: the same templates serve app
containers, whose 143 must stay visible.
*/}}
{{- define "tinit-lib._stopExitRemap" -}}130:0,131:0,143:0{{- end }}

{{/*
"true" when the EnvVar list env has an item named name, "" otherwise
(a template returns text). Takes a dict: env, name.
*/}}
{{- define "tinit-lib._hasEnv" -}}
{{- $name := .name }}
{{- range .env }}{{ if eq (toString (get . "name")) $name }}true{{ end }}{{ end }}
{{- end }}

{{/* The health port. Takes a dict: root, portName. */}}
{{- define "tinit-lib._ports" -}}
{{- $s := fromJson (include "tinit-lib.settings" .root) }}
{{- if $s.enabled -}}
- name: {{ .portName }}
  containerPort: {{ int $s.healthPort }}
  protocol: TCP
{{- end }}
{{- end }}

{{- define "tinit-lib.ports" -}}
{{- include "tinit-lib._ports" (dict "root" . "portName" "tinit-health") }}
{{- end }}

{{/*
Liveness (/healthz), readiness (/readyz) and startup probes on the named
health port. Takes a dict: root, portName, and sidecar (true for a native
sidecar).

The startupProbe of an app container is on /healthz and covers
tinit.checks.startPeriod: its failureThreshold is
ceil(startPeriod / periodSeconds) + probes.startup.failureThreshold, so the
kubelet waits the whole start period, and then the usual failure budget,
before it gives up on the container. During the start period tinit itself
keeps /healthz at 200 while the app checks fail (they do not count toward
failAfter), so liveness does not kill an app that is still starting.

A native sidecar's startupProbe is what holds the pod's main containers
back, so it is on /readyz: they start only once the sidecar's app checks
pass (or its READY=1 came), not as soon as tinit runs. Its timings are
probes.sidecarStartup (every second, so main starts within a second of
the sidecar's app; a minute of failures after the start period before the
kubelet restarts the sidecar).

With tinit.drainSeconds > 0, the kubelet must see /readyz turn 503 early
in the drain: it notices after at most periodSeconds x failureThreshold,
and the news still has to reach the EndpointSlice and every proxy that
reads it before the app gets its stop signal. So that product must fit in
half the drain: periodSeconds is lowered to floor(drain / (2 x
failureThreshold)) when it does not, and a drain shorter than 2 x
failureThreshold seconds (which even a 1 s period cannot honour) fails the
render.
*/}}
{{- define "tinit-lib._probes" -}}
{{- $s := fromJson (include "tinit-lib.settings" .root) }}
{{- if $s.enabled }}
{{- $p := $s.probes }}
{{- $sidecar := eq (toString .sidecar) "true" }}
{{- $start := int64 (include "tinit-lib._seconds" $s.checks.startPeriod) }}
{{- $su := $p.startup }}
{{- if $sidecar }}{{ $su = $p.sidecarStartup }}{{ end }}
{{- $period := int64 $su.periodSeconds }}
{{- $cover := div (add $start $period -1) $period }}
{{- $ready := $p.readiness }}
{{- $drain := int64 $s.drainSeconds }}
{{- $rf := int64 $ready.failureThreshold }}
{{- if and (gt $drain 0) (gt (mul 2 (int64 $ready.periodSeconds) $rf) $drain) }}
{{- if lt $drain (mul 2 $rf) }}
{{- fail (printf "tinit-lib: tinit.drainSeconds %d is too short for the kubelet to see /readyz turn 503 in time: with tinit.probes.readiness.failureThreshold %d it needs %d s even at a 1 s period, and that must fit in half the drain; set tinit.drainSeconds to at least %d, or lower the failureThreshold" $drain $rf $rf (mul 2 $rf)) }}
{{- end }}
{{- $_ := set $ready "periodSeconds" (div $drain (mul 2 $rf)) }}
{{- end -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .portName }}
  {{- toYaml $p.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .portName }}
  {{- toYaml $ready | nindent 2 }}
startupProbe:
  httpGet:
    path: {{ ternary "/readyz" "/healthz" $sidecar }}
    port: {{ .portName }}
  initialDelaySeconds: {{ int64 $su.initialDelaySeconds }}
  periodSeconds: {{ $period }}
  timeoutSeconds: {{ int64 $su.timeoutSeconds }}
  failureThreshold: {{ add $cover (int64 $su.failureThreshold) }}
{{- end }}
{{- end }}

{{- define "tinit-lib.probes" -}}
{{- include "tinit-lib._probes" (dict "root" . "portName" "tinit-health") }}
{{- end }}

{{/*
The probes of a native sidecar (an init container with restartPolicy
Always) that runs under tinit: as tinit-lib.probes, but the startupProbe
waits for /readyz, so the pod's main containers start only once the
sidecar's app serves.
*/}}
{{- define "tinit-lib.sidecarProbes" -}}
{{- include "tinit-lib._probes" (dict "root" . "portName" "tinit-health" "sidecar" true) }}
{{- end }}
