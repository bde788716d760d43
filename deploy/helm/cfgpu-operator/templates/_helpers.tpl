{{/* Names and labels shared by every template. */}}

{{- define "cfgpu-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cfgpu-operator.fullname" -}}
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

{{- define "cfgpu-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cfgpu-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cfgpu-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cfgpu-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cfgpu-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cfgpu-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the operator-wide tokens, if any. */}}
{{- define "cfgpu-operator.secretName" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if or .Values.credentials.cfgpuToken .Values.credentials.safeToken }}
{{- include "cfgpu-operator.fullname" . }}
{{- end }}
{{- end }}

{{/*
What the operator does in a watched namespace, and nothing more: Kopf lists and watches
the two kinds and patches them (finalizers and its annotations go through the main
resource), status is written through the status subresource, Events are posted, and
Secrets named in spec.credentialsSecretRef are read one by one. A SafeWorkload's
onComplete hand-over patches (Stop) or deletes (Release) the GpuInstances it names.
*/}}
{{- define "cfgpu-operator.rules" -}}
- apiGroups: ["cfgpu.io"]
  resources: ["gpuinstances"]
  verbs: ["list", "watch", "patch", "delete"]
- apiGroups: ["cfgpu.io"]
  resources: ["safeworkloads"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["cfgpu.io"]
  resources: ["gpuinstances/status", "safeworkloads/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{- define "cfgpu-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
