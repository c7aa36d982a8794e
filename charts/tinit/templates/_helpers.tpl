{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "tinit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart name>, or the release name when it already
contains the chart name.
*/}}
{{- define "tinit.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart label value: name-version.
*/}}
{{- define "tinit.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "tinit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tinit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "tinit.labels" -}}
helm.sh/chart: {{ include "tinit.chart" . }}
{{ include "tinit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end }}

{{/*
"repository:tag" of an image block.
*/}}
{{- define "tinit.imageRef" -}}
{{- printf "%s:%s" .repository (toString .tag) }}
{{- end }}

{{/*
Where the install init container puts tinit, and the path of the binary.
*/}}
{{- define "tinit.binDir" -}}/tinit-bin{{- end }}
{{- define "tinit.binPath" -}}/tinit-bin/tinit{{- end }}

{{/*
Whole seconds from tinit's first stop signal to its SIGKILL: drain + grace.
*/}}
{{- define "tinit.deadlineSeconds" -}}
{{- add (int .Values.tinit.drainSeconds) (int .Values.tinit.graceSeconds) }}
{{- end }}

{{/*
Pod terminationGracePeriodSeconds: the value set, which must be above
drain + grace, or drain + grace + terminationGraceExtraSeconds.
*/}}
{{- define "tinit.terminationGracePeriodSeconds" -}}
{{- $deadline := int (include "tinit.deadlineSeconds" .) }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $deadline (int .Values.terminationGraceExtraSeconds) }}
{{- else }}
{{- $set := int .Values.terminationGracePeriodSeconds }}
{{- if le $set $deadline }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than tinit.drainSeconds + tinit.graceSeconds (%d), or the kubelet kills the pod before tinit's own deadline" $set $deadline) }}
{{- end }}
{{- $set }}
{{- end }}
{{- end }}

{{/*
The root context tinit-lib's templates are called with, as JSON: its
.Values.tinit are this chart's tinit values for the process that runs
under tinit. Takes a dict:
  root  the chart's root context
  for   "app" (inject mode) or "sidecar" (the sidecar's own health port,
        restart policy and checks, TINIT_SUBREAPER with a shared process
        namespace, and exitZeroOnStop, off when sidecar.env or
        tinit.extraEnv has a TINIT_REMAP_EXIT of its own: the user's
        replaces the chart's, and a container must not name a variable
        twice)
checks.appPort (a boolean here) becomes tinit-lib's checks.appPort, the
port number of the app or the sidecar, or is dropped.
*/}}
{{- define "tinit.libRoot" -}}
{{- $v := .root.Values }}
{{- $t := deepCopy $v.tinit }}
{{- $checks := deepCopy ($t.checks | default dict) }}
{{- $port := $v.app.port }}
{{- if eq .for "sidecar" }}
{{- $sc := $v.sidecar }}
{{- $_ := set $t "healthPort" $sc.healthPort }}
{{- $_ := set $t "restart" $sc.restart }}
{{- $checks = deepCopy ($sc.checks | default dict) }}
{{- $port = $sc.port }}
{{- if $sc.shareProcessNamespace }}
{{- $_ := set $t "extraEnv" (prepend ($t.extraEnv | default list) (dict "name" "TINIT_SUBREAPER" "value" "true")) }}
{{- end }}
{{- $ownRemap := include "tinit-lib._hasEnv" (dict "env" ($sc.env | default list) "name" "TINIT_REMAP_EXIT") }}
{{- $_ := set $t "exitZeroOnStop" (and (ne (toString $sc.exitZeroOnStop) "false") (not $ownRemap)) }}
{{- end }}
{{- $appPort := ne (toString $checks.appPort) "false" }}
{{- $_ := unset $checks "appPort" }}
{{- if and $appPort $port }}{{ $_ := set $checks "appPort" $port }}{{ end }}
{{- $_ := set $t "checks" $checks }}
{{- toJson (dict "Values" (dict "tinit" $t)) }}
{{- end }}
