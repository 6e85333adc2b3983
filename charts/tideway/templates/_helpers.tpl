{{- define "tideway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tideway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "tideway.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "tideway.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "tideway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "tideway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "tideway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tideway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tideway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tideway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tideway.redisName" -}}
{{- printf "%s-redis" (include "tideway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tideway.redisUrl" -}}
{{- if and .Values.existingSecret (not .Values.redis.bundled) (contains "@" .Values.redis.url) }}
{{- fail "redis.url carries credentials but would be passed in plain text: with existingSecret, put the URL in that Secret and name its key in existingSecretKeys.redisUrl" }}
{{- end }}
{{- if .Values.redis.bundled }}
{{- printf "redis://%s:6379" (include "tideway.redisName" .) }}
{{- else }}
{{- required "redis.url is required when redis.bundled is false" .Values.redis.url }}
{{- end }}
{{- end }}

{{/* The external Redis URL from the values, which the chart keeps in its Secret (it may carry a password). */}}
{{- define "tideway.externalRedisUrl" -}}
{{- if not .Values.redis.bundled }}{{ .Values.redis.url }}{{ end }}
{{- end }}

{{/* True when the chart creates a Secret from the values. */}}
{{- define "tideway.createSecret" -}}
{{- if and (not .Values.existingSecret) (or .Values.git.token .Values.git.sshKey .Values.webhookSecret .Values.slack.webhookUrl .Values.notify.webhookUrl (include "tideway.externalRedisUrl" .)) }}true{{ end }}
{{- end }}

{{- define "tideway.secretName" -}}
{{- default (include "tideway.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The secret values the controller gets, as a YAML map: value name -> key in the Secret. */}}
{{- define "tideway.secretKeys" -}}
{{- $keys := dict }}
{{- if .Values.existingSecret }}
{{- range $value, $key := .Values.existingSecretKeys }}
{{- if and $key (or (ne $value "redisUrl") (not $.Values.redis.bundled)) }}{{ $_ := set $keys $value $key }}{{ end }}
{{- end }}
{{- else }}
{{- if .Values.git.token }}{{ $_ := set $keys "gitToken" "git-token" }}{{ end }}
{{- if .Values.git.sshKey }}{{ $_ := set $keys "gitSshKey" "git-ssh-key" }}{{ end }}
{{- if .Values.webhookSecret }}{{ $_ := set $keys "webhookSecret" "webhook-secret" }}{{ end }}
{{- if .Values.slack.webhookUrl }}{{ $_ := set $keys "slackWebhookUrl" "slack-webhook-url" }}{{ end }}
{{- if .Values.notify.webhookUrl }}{{ $_ := set $keys "notifyWebhookUrl" "notify-webhook-url" }}{{ end }}
{{- if include "tideway.externalRedisUrl" . }}{{ $_ := set $keys "redisUrl" "redis-url" }}{{ end }}
{{- end }}
{{- toYaml $keys }}
{{- end }}

{{- define "tideway.controllerSelectorLabels" -}}
{{ include "tideway.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}
