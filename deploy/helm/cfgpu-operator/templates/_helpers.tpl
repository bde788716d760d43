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
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
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
the three kinds and patches them (finalizers and its annotations go through the main
resource), status is written through the status subresource, Events are posted, and
Secrets named in spec.credentialsSecretRef are read one by one. A SafeWorkload's
onComplete hand-over patches (Stop) or deletes (Release) the GpuInstances it names.
*/}}
{{- define "cfgpu-operator.rules" -}}
- apiGroups: ["cfgpu.io"]
  resources: ["gpuinstances"]
  verbs: ["list", "watch", "patch", "delete"]
- apiGroups: ["cfgpu.io"]
  resources: ["safeworkloads", "gpuquotas"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["cfgpu.io"]
  resources: ["gpuinstances/status", "safeworkloads/status", "gpuquotas/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given (it pins the image). */}}
{{- define "cfgpu-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* A probe on the health endpoint, with the value's timings (enabled dropped). */}}
{{- define "cfgpu-operator.probe" -}}
httpGet:
  path: /healthz
  port: health
{{ omit . "enabled" | toYaml }}
{{- end }}

{{/*
Values that pass the schema one by one but not together: fail the install with a sentence
(a schema's if/then says only "maximum: got 2, want 1").
*/}}
{{- define "cfgpu-operator.validate" -}}
{{- $v := .Values }}
{{- if and (gt (int $v.replicaCount) 1) (not $v.leaderElection.enabled) }}
{{- fail (printf "replicaCount is %d but leaderElection.enabled is false: every replica would act on the same objects and could rent an instance twice. Set replicaCount=1, or enable leader election." (int $v.replicaCount)) }}
{{- end }}
{{- if gt (float64 $v.settings.pollFast) (float64 $v.settings.pollSlow) }}
{{- fail (printf "settings.pollFast (%v) is larger than settings.pollSlow (%v): the operator would refuse to start. Make pollFast at most pollSlow." $v.settings.pollFast $v.settings.pollSlow) }}
{{- end }}
{{- if gt (float64 $v.settings.backoffBase) (float64 $v.settings.backoffMax) }}
{{- fail (printf "settings.backoffBase (%v) is larger than settings.backoffMax (%v): the first retry would already wait longer than the longest. Make backoffBase at most backoffMax." $v.settings.backoffBase $v.settings.backoffMax) }}
{{- end }}
{{- if and $v.credentials.existingSecret (or $v.credentials.cfgpuToken $v.credentials.safeToken) }}
{{- fail "credentials.existingSecret is set together with a token in credentials: the tokens would be ignored. Put the tokens into that Secret, or unset existingSecret." }}
{{- end }}
{{- end }}
