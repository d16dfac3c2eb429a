{{/* The chart's name, cut to the 63 characters Kubernetes allows in a label. */}}
{{- define "foyer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of the release's objects. */}}
{{- define "foyer.fullname" -}}
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

{{- define "foyer.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "foyer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "foyer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "foyer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "foyer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "foyer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with admin-token and redis-url: the operator's, or the chart's. */}}
{{- define "foyer.envSecretName" -}}
{{- default (printf "%s-env" (include "foyer.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* The Secret mounted as tokens.key_dir. */}}
{{- define "foyer.keysSecretName" -}}
{{- default (printf "%s-keys" (include "foyer.fullname" .)) .Values.keys.existingSecret }}
{{- end }}

{{- define "foyer.keyDir" -}}/etc/foyer/keys{{- end }}
{{- define "foyer.configDir" -}}/etc/foyer/config{{- end }}
{{- define "foyer.tlsDir" -}}/etc/foyer/tls{{- end }}

{{/*
foyer.config renders foyer.yaml: the operator's `config` plus the keys the chart owns (listen,
redis, tokens.key_dir, tls). Secrets never go here: admin tokens and a Redis URL with a
password come from the env Secret, the signing keys and the ticket secret from the keys Secret.
*/}}
{{- define "foyer.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- range $k := list "listen" "redis" "tls" "admin" "tickets" -}}
{{- if hasKey $cfg $k -}}
{{- if eq $k "admin" -}}
{{- fail "config.admin: admin tokens are secrets: set secrets.adminToken or secrets.existingSecret (key admin-token)" -}}
{{- else if eq $k "tickets" -}}
{{- fail "config.tickets: the ticket secret is a secret: put it in keys.files[.ticket-secret] or keys.existingSecret" -}}
{{- else -}}
{{- fail (printf "config.%s: the chart sets %s itself: use the chart's %s values" $k $k (ternary "containerPort" $k (eq $k "listen"))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf ":%d" (int .Values.containerPort)) -}}
{{- $tokens := dict -}}
{{- if hasKey $cfg "tokens" -}}{{- $tokens = deepCopy (get $cfg "tokens") -}}{{- end -}}
{{- if hasKey $tokens "key_dir" -}}
{{- fail "config.tokens.key_dir: the chart mounts the keys Secret there itself" -}}
{{- end -}}
{{- $_ = set $tokens "key_dir" (include "foyer.keyDir" .) -}}
{{- $_ = set $cfg "tokens" $tokens -}}
{{- $r := .Values.redis -}}
{{- $redis := dict "prefix" $r.prefix "timeout" $r.timeout -}}
{{- if eq $r.mode "single" -}}
{{- if not $r.url -}}{{- fail "redis.url: must be set in single mode (a password-bearing URL may come from secrets.redisURL; redis.url is then a placeholder)" -}}{{- end -}}
{{- if $r.addrs -}}{{- fail "redis.addrs: only for sentinel or cluster mode; single mode uses redis.url" -}}{{- end -}}
{{- $_ = set $redis "url" $r.url -}}
{{- else if eq $r.mode "sentinel" -}}
{{- if not $r.addrs -}}{{- fail "redis.addrs: sentinel mode needs the sentinels' host:port addresses" -}}{{- end -}}
{{- if not $r.masterName -}}{{- fail "redis.masterName: sentinel mode needs the master's name" -}}{{- end -}}
{{- $_ = set $redis "addrs" $r.addrs -}}
{{- $_ = set $redis "master_name" $r.masterName -}}
{{- else if eq $r.mode "cluster" -}}
{{- if not $r.addrs -}}{{- fail "redis.addrs: cluster mode needs seed nodes' host:port addresses" -}}{{- end -}}
{{- if $r.masterName -}}{{- fail "redis.masterName: only for sentinel mode" -}}{{- end -}}
{{- $_ = set $redis "addrs" $r.addrs -}}
{{- else -}}
{{- fail (printf "redis.mode: must be single, sentinel or cluster, got %q" $r.mode) -}}
{{- end -}}
{{- if and $r.password (ne $r.mode "single") -}}
{{- $_ = set $redis "password" $r.password -}}
{{- else if $r.password -}}
{{- fail "redis.password: in single mode put the password in the URL, kept in secrets.redisURL" -}}
{{- end -}}
{{- $_ = set $cfg "redis" $redis -}}
{{- if .Values.tls.enabled -}}
{{- if not .Values.tls.secretName -}}{{- fail "tls.secretName: name the kubernetes.io/tls Secret foyer serves" -}}{{- end -}}
{{- $_ = set $cfg "tls" (dict "cert_file" (printf "%s/tls.crt" (include "foyer.tlsDir" .)) "key_file" (printf "%s/tls.key" (include "foyer.tlsDir" .))) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end }}

{{/* True when a FOYER_REDIS_URL comes from the env Secret. */}}
{{- define "foyer.redisURLFromSecret" -}}
{{- if and (eq .Values.redis.mode "single") (or .Values.secrets.redisURL .Values.secrets.existingSecret) -}}true{{- end -}}
{{- end }}
