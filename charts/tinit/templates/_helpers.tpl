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
The init container that copies tinit out of its scratch image into the
shared emptyDir: non-root, read-only root filesystem, no capabilities.
*/}}
{{- define "tinit.installContainer" -}}
- name: tinit-install
  image: {{ include "tinit.imageRef" .Values.tinit.image | quote }}
  imagePullPolicy: {{ .Values.tinit.image.pullPolicy }}
  command: ["/tinit", "--install", {{ include "tinit.binDir" . | quote }}]
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
  {{- with .Values.tinit.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: tinit-bin
      mountPath: {{ include "tinit.binDir" . }}
{{- end }}

{{/*
The TINIT_* environment of a process run under tinit. Takes a dict:
  root       the chart's root context
  healthPort port of the health endpoint
  restart    TINIT_RESTART
  port       the process's own port, or nil
  checks     the checks block
  subreaper  set TINIT_SUBREAPER=true
*/}}
{{- define "tinit.env" -}}
{{- $t := .root.Values.tinit }}
{{- $checks := .checks | default dict }}
{{- $tcp := list }}
{{- if and .port (ne (toString $checks.appPort) "false") }}
{{- $tcp = append $tcp (printf "127.0.0.1:%d" (int .port)) }}
{{- end }}
{{- $tcp = concat $tcp ($checks.tcp | default list) -}}
- name: TINIT_HEALTH_ADDR
  value: {{ printf ":%d" (int .healthPort) | quote }}
- name: TINIT_TERMINATION_LOG
  value: /dev/termination-log
- name: TINIT_RESTART
  value: {{ .restart | quote }}
- name: TINIT_GRACE
  value: {{ printf "%ds" (int $t.graceSeconds) | quote }}
- name: TINIT_DRAIN
  value: {{ printf "%ds" (int $t.drainSeconds) | quote }}
{{- if $tcp }}
- name: TINIT_CHECK_TCP
  value: {{ join "," $tcp | quote }}
{{- end }}
{{- with $checks.http }}
- name: TINIT_CHECK_HTTP
  value: {{ join "," . | quote }}
{{- end }}
{{- with $checks.file }}
- name: TINIT_CHECK_FILE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $checks.interval }}
- name: TINIT_CHECK_INTERVAL
  value: {{ . | quote }}
{{- end }}
{{- with $checks.failAfter }}
- name: TINIT_CHECK_FAIL_AFTER
  value: {{ . | quote }}
{{- end }}
{{- with $t.rewrite }}
- name: TINIT_REWRITE
  value: {{ join "," . | quote }}
{{- end }}
{{- with $t.logLevel }}
- name: TINIT_LOG_LEVEL
  value: {{ . | quote }}
{{- end }}
{{- with $t.logFormat }}
- name: TINIT_LOG_FORMAT
  value: {{ . | quote }}
{{- end }}
{{- if .subreaper }}
- name: TINIT_SUBREAPER
  value: "true"
{{- end }}
{{- with $t.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Liveness (/healthz) and readiness (/readyz) probes on tinit's named port.
Takes a dict: root, portName.
*/}}
{{- define "tinit.probes" -}}
{{- $p := .root.Values.tinit.probes | default dict -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .portName }}
  {{- with $p.liveness }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .portName }}
  {{- with $p.readiness }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/*
Read-only mount of the directory holding tinit.
*/}}
{{- define "tinit.binMount" -}}
- name: tinit-bin
  mountPath: {{ include "tinit.binDir" . }}
  readOnly: true
{{- end }}
