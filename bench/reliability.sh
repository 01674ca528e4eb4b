#!/usr/bin/env bash
# Load figures for docs/RELIABILITY.md (issue 10), measured on real processes — figures,
# not assertions: the release gateway in front of a static nginx upstream.
#
#   idle       N idle keep-alive TLS connections held (after one request each):
#              RSS per connection, and how many are still open after HOLD seconds
#   slowloris  M connections trickling a request head: all cut by timeouts.header_read
#   soak       wrk at a steady load for SOAK, RSS sampled every 10 s: flat or not
#
#   bench/reliability.sh                                  # N=10000 M=1000 SOAK=30m
#   N=2000 M=200 SOAK=2m bench/reliability.sh             # quick
set -euo pipefail

N=${N:-10000}
M=${M:-1000}
HOLD=${HOLD:-20}
SOAK=${SOAK:-30m}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/esia-reliability.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# Each side (the client here, the gateway) needs one descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 1000)) ]; then
  echo "error: the open-file limit is $(ulimit -n), $((N + 1000)) needed for N=$N (lower N or raise the hard limit)" >&2
  exit 1
fi

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  echo "== installing nginx-light and wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); GW=$(free_port); ADMIN=$(free_port)
chmod 755 "$WORK"  # nginx workers (www-data) read the page
mkdir -p "$WORK/www" "$WORK/logs"
head -c 1024 /dev/zero | tr '\0' 'a' > "$WORK/www/1k.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat > "$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/logs; proxy_temp_path $WORK/logs;
  fastcgi_temp_path $WORK/logs; uwsgi_temp_path $WORK/logs; scgi_temp_path $WORK/logs;
  server { listen 127.0.0.1:$UP; root $WORK/www; }
}
NGINX
# The caps are raised past N: this measures the memory of connections the gateway keeps,
# not its refusal (tests/connection_caps.rs covers that).
cat > "$WORK/gateway.toml" <<TOML
[listen]
https = "127.0.0.1:$GW"
admin = "127.0.0.1:$ADMIN"
[tls]
cert = "$WORK/cert.pem"
key = "$WORK/key.pem"
[upstream]
url = "http://127.0.0.1:$UP"
[limits]
max_connections = $((N + 1000))
max_connections_per_client = $((N + 1000))
[timeouts]
header_read = "10s"
idle = "300s"
[log]
level = "warn"
access_log = false
TOML

echo "== building the gateway (release)"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/esia-gateway"
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
RUST_LOG=error "$BIN" run --config "$WORK/gateway.toml" & GWPID=$!; PIDS+=($GWPID)
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$GW/1k.html" >/dev/null 2>&1 && break; sleep 0.1; done
rss() { awk '/^VmRSS/{print $2}' "/proc/$GWPID/status"; }     # KiB
open_conns() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '/^esia_gateway_open_connections /{print $2}'; }

echo "== idle: $N keep-alive TLS connections held ${HOLD}s"
before=$(rss)
python3 "$ROOT/bench/hold_connections.py" idle 127.0.0.1 "$GW" "$N" "$HOLD" > "$WORK/logs/idle.txt" &
HOLDER=$!
until grep -q HOLDING "$WORK/logs/idle.txt" 2>/dev/null; do sleep 0.5; kill -0 "$HOLDER" 2>/dev/null || break; done
sleep 2
held=$(rss); gauge=$(open_conns)
wait "$HOLDER" || true
cat "$WORK/logs/idle.txt" | grep -v HOLDING
per=$(( (held - before) * 1024 / N ))
IDLE_ROW="| $N idle keep-alive TLS connections | RSS $((before / 1024)) → $((held / 1024)) MiB, **$((per / 1024)) KiB per connection**; open_connections gauge $gauge; $(tail -1 "$WORK/logs/idle.txt") |"
echo "$IDLE_ROW"

echo "== slowloris: $M connections trickling a head (header_read = 10s)"
python3 "$ROOT/bench/hold_connections.py" slowloris 127.0.0.1 "$GW" "$M" 40 > "$WORK/logs/loris.txt"
cat "$WORK/logs/loris.txt"
LORIS_ROW="| $M slowloris connections (one byte per 2 s) | $(cat "$WORK/logs/loris.txt") |"

echo "== soak: wrk -c20 for $SOAK, RSS every 10 s"
wrk -t1 -c20 -d"$SOAK" "https://127.0.0.1:$GW/1k.html" > "$WORK/logs/soak.txt" 2>&1 & WRK=$!
samples=()
while kill -0 "$WRK" 2>/dev/null; do samples+=("$(rss)"); sleep 10; done
wait "$WRK" || true
reqs=$(awk '/Requests\/sec/{print $2}' "$WORK/logs/soak.txt")
first=${samples[1]:-${samples[0]}}; last=${samples[-1]}
min=$(printf '%s\n' "${samples[@]}" | sort -n | head -1); max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
n=${#samples[@]}
quarters=""
for q in 0 1 2 3 4; do
  i=$(( (n - 1) * q / 4 )); quarters+="$((samples[i] / 1024)) "
done
SOAK_ROW="| soak $SOAK at $reqs req/s (wrk -c20, 1 KB) | RSS $((first / 1024)) MiB after 10 s → $((last / 1024)) MiB at the end (min $((min / 1024)), max $((max / 1024)); at 0/25/50/75/100 %: ${quarters% } MiB; $n samples) |"
echo "$SOAK_ROW"

{
  echo
  echo "### $(date -u +%Y-%m-%d) — bench/reliability.sh N=$N M=$M SOAK=$SOAK on $(nproc) cores, $(uname -r)"
  echo
  echo "| load | figure |"
  echo "|---|---|"
  echo "$IDLE_ROW"
  echo "$LORIS_ROW"
  echo "$SOAK_ROW"
} >> "$ROOT/docs/RELIABILITY-runs.md"
echo "== appended to docs/RELIABILITY-runs.md"
