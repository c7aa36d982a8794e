{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "tinit-inject.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart name>, or the release name when it already
contains the chart name. It names the Service, so it must be a DNS label.
*/}}
{{- define "tinit-inject.fullname" -}}
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
{{- define "tinit-inject.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "tinit-inject.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tinit-inject.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "tinit-inject.labels" -}}
helm.sh/chart: {{ include "tinit-inject.chart" . }}
{{ include "tinit-inject.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{/*
"repository:tag[@digest]" of an image block; the tag defaults to the
chart's appVersion (the schema makes it a string). Takes a dict: image
(the block), root (the chart's root context).
*/}}
{{- define "tinit-inject.imageRef" -}}
{{- $img := .image }}
{{- $ref := printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag) }}
{{- with $img.digest }}{{ $ref = printf "%s@%s" $ref . }}{{ end }}
{{- $ref }}
{{- end }}

{{/*
Name of the ServiceAccount the injector runs as.
*/}}
{{- define "tinit-inject.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tinit-inject.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: the injector needs an account with get on secrets and serviceaccounts" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret that holds the serving certificate (tls.crt, tls.key, ca.crt),
made by the chart or by cert-manager.
*/}}
{{- define "tinit-inject.tlsSecretName" -}}
{{- printf "%s-tls" (include "tinit-inject.fullname" .) }}
{{- end }}

{{/*
The names the apiserver may reach the Service by, the serving
certificate's SANs.
*/}}
{{- define "tinit-inject.dnsNames" -}}
{{- $svc := include "tinit-inject.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- toJson (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) }}
{{- end }}

{{/*
Ports of the injector: HTTPS for the apiserver (AdmissionReview at
/mutate), plain HTTP for /healthz and /metrics.
*/}}
{{- define "tinit-inject.httpsPort" -}}8443{{- end }}
{{- define "tinit-inject.healthPort" -}}8080{{- end }}

{{/*
Where the injector pod mounts its certificate and the registry CA.
*/}}
{{- define "tinit-inject.tlsDir" -}}/etc/tinit-inject/tls{{- end }}
{{- define "tinit-inject.registryCADir" -}}/etc/tinit-inject/registry-ca{{- end }}

{{/*
The injector's own deadline, --timeout: webhook.timeoutSeconds less 2 s,
so that it answers before the apiserver gives up. Fails below 3 s.
*/}}
{{- define "tinit-inject.timeout" -}}
{{- $t := int .Values.webhook.timeoutSeconds }}
{{- if lt $t 3 }}
{{- fail (printf "webhook.timeoutSeconds is %d, and must be at least 3: the injector's own deadline (--timeout) is webhook.timeoutSeconds - 2 s, so that it answers before the apiserver gives up" $t) }}
{{- end }}
{{- printf "%ds" (sub $t 2) }}
{{- end }}

{{/*
Namespaces whose pods never reach the webhook: the release's own, where
the injector runs (its pods must not wait on themselves), kube-system,
and webhook.excludeNamespaces.
*/}}
{{- define "tinit-inject.excludedNamespaces" -}}
{{- toJson (concat (list .Release.Namespace "kube-system") (.Values.webhook.excludeNamespaces | default list) | uniq) }}
{{- end }}
