#!/usr/bin/env bash
# Three foyer gateways behind HAProxy on one Redis, on loopback, bounded in time; reproduces the
# figures in docs/deploy.md. Stops everything it started (by PID) and deletes its Redis keys.
#
#   deploy/haproxy/run.sh                 # about 7 minutes
#   DURATION=60s WARMUP=15s deploy/haproxy/run.sh
#
# Environment: FOYER_REDIS_URL (default redis://127.0.0.1:6379/0), DURATION (measured window of
# the crowd, default 180s), WARMUP (30s), RATE (600 a minute), CROWD (1500 waiting), BASE_PORT
# (18080: the load balancer; +1..+3 the gateways, +9 HAProxy's stats), ROLL (1: restart one
# gateway in the middle of the window), LOAD (1: then joins and polls at full speed with wrk).
# Needs haproxy and redis-cli (apt-get install haproxy redis-tools); wrk for LOAD=1.
set -euo pipefail
cd "$(dirname "$0")/../.."

REDIS_URL=${FOYER_REDIS_URL:-redis://127.0.0.1:6379/0}
DURATION=${DURATION:-180s}
WARMUP=${WARMUP:-30s}
RATE=${RATE:-600}
CROWD=${CROWD:-1500}
BASE_PORT=${BASE_PORT:-18080}
ROLL=${ROLL:-1}
LOAD=${LOAD:-1}

log() { printf '[run] %s\n' "$*" >&2; }
for tool in haproxy redis-cli curl go; do
  command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }
done
if [ "$LOAD" = 1 ] && ! command -v wrk >/dev/null; then log "LOAD=1 needs wrk (apt-get install wrk)"; exit 1; fi

work=$(mktemp -d /tmp/foyer-haproxy.XXXXXX)
prefix="haproxy-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
admin="run-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
ticket="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
LB=127.0.0.1:$BASE_PORT
STATS=127.0.0.1:$((BASE_PORT + 9))
GW=(127.0.0.1:$((BASE_PORT + 1)) 127.0.0.1:$((BASE_PORT + 2)) 127.0.0.1:$((BASE_PORT + 3)))
gwpid=()
haproxy_pid=""
rhost=$(printf '%s' "$REDIS_URL" | sed -E 's#^redis://([^@/]*@)?([^:/]+):?([0-9]*).*#\2#')
rport=$(printf '%s' "$REDIS_URL" | sed -E 's#^redis://([^@/]*@)?([^:/]+):?([0-9]*).*#\3#')
rport=${rport:-6379}

stop_pid() { # TERM, up to 10 s, then KILL: only our own children
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  set +e
  [ -n "${crowd_pid:-}" ] && stop_pid "$crowd_pid"
  [ -n "$haproxy_pid" ] && stop_pid "$haproxy_pid"
  for i in "${!gwpid[@]}"; do stop_pid "${gwpid[$i]}"; done
  local n
  n=$(timeout 60 redis-cli -h "$rhost" -p "$rport" --scan --pattern "${prefix}:*" | head -n 200000 |
      timeout 60 xargs -r -n 500 redis-cli -h "$rhost" -p "$rport" unlink | awk '{s+=$1} END {print s+0}')
  log "stopped what this run started; deleted $n Redis keys under ${prefix}:; logs in $work"
}
trap cleanup EXIT INT TERM

log "building foyer and the crowd driver"
mkdir -p "$work/bin"
go build -o "$work/bin/foyer" ./cmd/foyer
go build -o "$work/bin/foyer-load" ./cmd/foyer-load
go build -o "$work/bin/crowd" ./deploy/haproxy/crowd
"$work/bin/foyer" keygen --dir "$work/keys" >/dev/null

write_config() { # $1: joins_per_minute
  cat >"$work/foyer.yaml" <<YAML
public_url: http://$LB
redis:
  url: $REDIS_URL
  prefix: $prefix
admin:
  tokens:
    - name: run
      token: $admin
tokens:
  key_dir: $work/keys
tickets:
  secrets:
    - id: 1
      secret: $ticket
# HAProxy is on this address; nothing else is believed.
trusted_proxies: ["127.0.0.1/32"]
limits:
  joins_per_minute: $1
log:
  level: info
  format: json
rooms:
  - name: sale
    mode: token
    return_urls: ["http://$LB/"]
    rate_per_minute: $RATE
    max_active: $((RATE * 2))
    absent_after: 60s
  - name: hold
    mode: token
    return_urls: ["http://$LB/"]
    rate_per_minute: 1
    max_active: 1
YAML
}

start_gateway() { # $1: index 0..2
  local i=$1
  FOYER_LISTEN=${GW[$i]} "$work/bin/foyer" serve --config "$work/foyer.yaml" >>"$work/gw$((i + 1)).log" 2>&1 &
  gwpid[$i]=$!
  for _ in $(seq 150); do
    curl -fsS "http://${GW[$i]}/readyz" >/dev/null 2>&1 && return 0
    kill -0 "${gwpid[$i]}" 2>/dev/null || { log "gateway $((i + 1)) exited: $(tail -3 "$work/gw$((i + 1)).log")"; exit 1; }
    sleep 0.2
  done
  log "gateway $((i + 1)) not ready after 30 s"; exit 1
}

lb_servers() { # name status requests-total, from HAProxy's stats CSV
  curl -fsS "http://$STATS/stats;csv" | awk -F, '$1=="gateways" && $2 ~ /^gw/ {print $2, $18, "requests=" $8}'
}

write_config 30
for i in 0 1 2; do start_gateway "$i"; done
log "gateways ready: ${GW[*]} (pids ${gwpid[*]}), Redis $REDIS_URL prefix $prefix"

export FOYER_LB_BIND=$LB FOYER_LB_STATS=$STATS FOYER_GW1=${GW[0]} FOYER_GW2=${GW[1]} FOYER_GW3=${GW[2]}
haproxy -c -q -f deploy/haproxy/haproxy.cfg
haproxy -db -f deploy/haproxy/haproxy.cfg >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://$LB/readyz" >/dev/null 2>&1 && break
  kill -0 "$haproxy_pid" 2>/dev/null || { log "haproxy exited: $(tail -3 "$work/haproxy.log")"; haproxy_pid=""; exit 1; }
  sleep 0.1
done
sleep 2.5 # two health checks
log "HAProxy $(haproxy -v | head -1 | awk '{print $3}') on $LB (pid $haproxy_pid); servers:"
lb_servers | sed 's/^/[run]   /' >&2
[ "$(lb_servers | grep -c ' UP ')" = 3 ] || { log "not every gateway is UP in HAProxy"; exit 1; }

# 1. X-Forwarded-For, seen through foyer's per-client join limit (30 a minute, burst 10, counted
#    by each replica: 3 x 10 at once here). 60 joins from 127.0.2.77, each claiming another
#    address in its own X-Forwarded-For: if foyer believed the claims none would be refused; it
#    must refuse some. Then joins from 127.0.2.78 must go through: foyer tells the two apart, so
#    it does not take HAProxy's address for everyone's.
joins_from() { # $1 source address, $2 count, $3 spoof (1/0): the status codes, counted
  local args=() i
  for i in $(seq "$2"); do
    [ "$i" -gt 1 ] && args+=(--next)
    args+=(-sS -o /dev/null -w '%{http_code}\n' --interface "$1" -H 'Accept: application/json' -X POST)
    [ "$3" = 1 ] && args+=(-H "X-Forwarded-For: 203.0.113.$i")
    args+=("http://$LB/foyer/v1/rooms/hold/join")
  done
  curl -s --parallel --parallel-max 8 "${args[@]}" 2>/dev/null | sort | uniq -c | tr -s ' ' | tr '\n' ';'
}
spoofed=$(joins_from 127.0.2.77 60 1)
other=$(joins_from 127.0.2.78 5 0)
if [[ "$spoofed" == *" 429"* && "$other" == " 5 200;" ]]; then
  log "X-Forwarded-For: ok (60 joins from 127.0.2.77 with made-up headers:$spoofed 5 from 127.0.2.78:$other)"
else
  log "X-Forwarded-For: FAILED (127.0.2.77 with made-up headers:$spoofed 127.0.2.78:$other)"; exit 1
fi

# 2. A steady crowd through the load balancer, the join limit on (30 a minute per address).
log "crowd: $CROWD waiting, rate $RATE/min, warm-up $WARMUP, window $DURATION (ROLL=$ROLL)"
"$work/bin/crowd" --url "http://$LB" --replicas "http://${GW[0]},http://${GW[1]},http://${GW[2]}" \
  --room sale --admin-token "$admin" --crowd "$CROWD" --duration "$DURATION" --warmup "$WARMUP" \
  >"$work/crowd.txt" 2>&1 &
crowd_pid=$!
if [ "$ROLL" = 1 ]; then
  secs=$(( $(printf '%s' "$WARMUP" | tr -dc 0-9) + $(printf '%s' "$DURATION" | tr -dc 0-9) / 2 ))
  sleep "$secs"
  if kill -0 "$crowd_pid" 2>/dev/null; then
    log "restarting gateway 2 (SIGTERM, then start again) while the crowd runs"
    stop_pid "${gwpid[1]}"
    sleep 3
    start_gateway 1
    log "gateway 2 back (pid ${gwpid[1]})"
  fi
fi
rc=0; wait "$crowd_pid" || rc=$?
crowd_pid=""
cat "$work/crowd.txt"
[ "$rc" = 0 ] || { log "crowd failed ($rc)"; exit 1; }
log "HAProxy servers after the crowd:"
lb_servers | sed 's/^/[run]   /' >&2

if [ "$LOAD" = 1 ]; then
  # 3. Full-speed joins and polls through the load balancer (wrk from one address: the join limit
  #    is turned off for this part, so the gateways restart with joins_per_minute: 0).
  write_config 0
  for i in 0 1 2; do stop_pid "${gwpid[$i]}"; start_gateway "$i"; done
  sleep 2.5
  cat >"$work/join.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Accept"] = "application/json"
LUA
  log "joins: wrk -t2 -c64 -d15s through HAProxy"
  wrk -t2 -c64 -d15s --latency -s "$work/join.lua" "http://$LB/foyer/v1/rooms/hold/join" | tee "$work/joins.txt" |
    grep -E 'Requests/sec|Non-2xx|Socket errors|50%|99%' | sed 's/^/[run]   /' >&2
  log "polls: foyer-load polls --target through HAProxy"
  "$work/bin/foyer-load" polls --target "http://$LB" --room hold --redis "$REDIS_URL" --tickets 20000 \
    --duration 15s --warmup 2s --nginx=false --baseline=false 2>&1 | tee "$work/polls.txt" | tail -n 12
fi
log "done"
