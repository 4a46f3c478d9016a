{{/* Names are cut at 63 characters, the limit of a Kubernetes label value and DNS label. */}}
{{- define "sagaflow.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sagaflow.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sagaflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sagaflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sagaflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sagaflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: orchestrator
app.kubernetes.io/part-of: sagaflow
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sagaflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sagaflow.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sagaflow.secretName" -}}
{{- default (printf "%s-secrets" (include "sagaflow.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "sagaflow.headlessName" -}}
{{- printf "%s-headless" (include "sagaflow.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The saga.json text: sagaJson as given (a string from --set-file, or YAML turned into JSON), else the chart's default. */}}
{{- define "sagaflow.sagaJson" -}}
{{- if kindIs "string" .Values.sagaJson -}}
{{- if .Values.sagaJson -}}
{{- .Values.sagaJson -}}
{{- else -}}
{{- .Files.Get "files/saga.json" -}}
{{- end -}}
{{- else -}}
{{- toPrettyJson .Values.sagaJson -}}
{{- end -}}
{{- end -}}

{{- define "sagaflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Values that would break the shutdown hand-over fail the render instead of the rollout. */}}
{{- define "sagaflow.validate" -}}
{{- if le (mul (int .Values.terminationGracePeriodSeconds) 1000) (int .Values.shutdownGraceMs) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v s) must exceed shutdownGraceMs (%v ms): Kubernetes would kill a pod in the middle of its shutdown" .Values.terminationGracePeriodSeconds .Values.shutdownGraceMs) -}}
{{- end -}}
{{- end -}}
