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
redis, tokens.key_dir, tls). Secrets never go here: admin tokens, a Redis URL with a
password and a Redis password come from the env Secret, the signing keys and the ticket secrets
from the keys Secret (config.tickets may name files there with secret_file, for rotation).
*/}}
{{- define "foyer.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- range $k := list "listen" "redis" "tls" "admin" "tickets" -}}
{{- if hasKey $cfg $k -}}
{{- if eq $k "admin" -}}
{{- range $i, $t := (get (get $cfg "admin") "tokens") -}}
{{- if or (hasKey $t "token") (not (hasKey $t "token_file")) -}}
{{- fail "config.admin: admin tokens are secrets: set secrets.adminToken or secrets.existingSecret (key admin-token), or give name and token_file (a file of the keys Secret), never token" -}}
{{- end -}}
{{- end -}}
{{- else if eq $k "tickets" -}}
{{- range $i, $s := (get (get $cfg "tickets") "secrets") -}}
{{- if or (hasKey $s "secret") (not (hasKey $s "secret_file")) -}}
{{- fail (printf "config.tickets.secrets[%d]: ticket secrets are secrets: give id and secret_file (a file of the keys Secret, for example /etc/foyer/keys/ticket-%v), never secret" $i (get $s "id")) -}}
{{- end -}}
{{- end -}}
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
{{- /* The password never goes into the ConfigMap: it reaches foyer as FOYER_REDIS_PASSWORD
       from the env Secret (key redis-password). */ -}}
{{- if and $r.password (eq $r.mode "single") -}}
{{- fail "redis.password: in single mode put the password in the URL, kept in secrets.redisURL" -}}
{{- else if and $r.password $.Values.secrets.existingSecret -}}
{{- fail "redis.password: with secrets.existingSecret, put the password in that Secret under the key redis-password" -}}
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
