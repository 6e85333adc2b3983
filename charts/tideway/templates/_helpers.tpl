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

{{/* The Sentinels, comma-separated, when Redis is managed by Sentinel; empty otherwise. */}}
{{- define "tideway.redisSentinels" -}}
{{- with .Values.redis.sentinel.hosts }}
{{- if $.Values.redis.bundled }}{{ fail "redis.sentinel.hosts names an external Redis: set redis.bundled to false" }}{{ end }}
{{- if $.Values.redis.url }}{{ fail "redis.url and redis.sentinel.hosts both name Redis: give one" }}{{ end }}
{{- join "," . }}
{{- end }}
{{- end }}

{{/* True when the chart creates a Secret from the values. */}}
{{- define "tideway.createSecret" -}}
{{- $sentinelPasswords := and (include "tideway.redisSentinels" .) (or .Values.redis.password .Values.redis.sentinelPassword) }}
{{- if and (not .Values.existingSecret) (or .Values.git.token .Values.git.sshKey .Values.webhookSecret .Values.slack.webhookUrl .Values.slack.signingSecret .Values.notify.webhookUrl (include "tideway.externalRedisUrl" .) $sentinelPasswords) }}true{{ end }}
{{- end }}

{{- define "tideway.secretName" -}}
{{- default (include "tideway.fullname" .) .Values.existingSecret }}
{{- end }}

{{/* The secret values the controller gets, as a YAML map: value name -> key in the Secret. */}}
{{- define "tideway.secretKeys" -}}
{{- $keys := dict }}
{{- if .Values.existingSecret }}
{{- range $value, $key := .Values.existingSecretKeys }}
{{- $sentinel := include "tideway.redisSentinels" $ }}
{{- $wanted := true }}
{{- if eq $value "redisUrl" }}{{ $wanted = and (not $.Values.redis.bundled) (not $sentinel) }}{{ end }}
{{- if or (eq $value "redisPassword") (eq $value "redisSentinelPassword") }}{{ $wanted = not (empty $sentinel) }}{{ end }}
{{- if and $key $wanted }}{{ $_ := set $keys $value $key }}{{ end }}
{{- end }}
{{- else }}
{{- if .Values.git.token }}{{ $_ := set $keys "gitToken" "git-token" }}{{ end }}
{{- if .Values.git.sshKey }}{{ $_ := set $keys "gitSshKey" "git-ssh-key" }}{{ end }}
{{- if .Values.webhookSecret }}{{ $_ := set $keys "webhookSecret" "webhook-secret" }}{{ end }}
{{- if .Values.slack.webhookUrl }}{{ $_ := set $keys "slackWebhookUrl" "slack-webhook-url" }}{{ end }}
{{- if .Values.slack.signingSecret }}{{ $_ := set $keys "slackSigningSecret" "slack-signing-secret" }}{{ end }}
{{- if .Values.notify.webhookUrl }}{{ $_ := set $keys "notifyWebhookUrl" "notify-webhook-url" }}{{ end }}
{{- if and (include "tideway.externalRedisUrl" .) (not (include "tideway.redisSentinels" .)) }}{{ $_ := set $keys "redisUrl" "redis-url" }}{{ end }}
{{- if and (include "tideway.redisSentinels" .) .Values.redis.password }}{{ $_ := set $keys "redisPassword" "redis-password" }}{{ end }}
{{- if and (include "tideway.redisSentinels" .) .Values.redis.sentinelPassword }}{{ $_ := set $keys "redisSentinelPassword" "redis-sentinel-password" }}{{ end }}
{{- end }}
{{- toYaml $keys }}
{{- end }}

{{- define "tideway.controllerSelectorLabels" -}}
{{ include "tideway.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}
