#!/usr/bin/env bash
# Throughput and latency of esia-gateway against nginx as a TLS reverse proxy, both in
# front of the same static nginx upstream, measured in one invocation on this machine.
#
#   bench/run.sh                 # default: 10 s per run, 50 connections
#   DURATION=30s CONNS=100 bench/run.sh
#
# Prints requests/s, p50/p99 latency and peak RSS for each proxy, and gateway/nginx
# ratios. Installs nginx and wrk from Debian when missing. Loopback only.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/esia-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  echo "== installing nginx-light and wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); NGX=$(free_port); GW=$(free_port); ADMIN=$(free_port)

echo "== preparing pages, certificate and configs in $WORK"
mkdir -p "$WORK/www" "$WORK/logs"
# nginx workers run as an unprivileged user when started by root: let them read the pages.
chmod 755 "$WORK" "$WORK/www"
python3 - "$WORK/www" <<'PY'
import sys, os
root = sys.argv[1]
def page(n):
    body = "<p>" + ("Оценки ученика 5 «А» " * 400)
    return ("<!doctype html><html><head><meta charset=utf-8><title>RID</title></head><body>" + body)[: n - 15] + "</body></html>"
for name, size in (("1k.html", 1024), ("100k.html", 100 * 1024)):
    data = page(size).encode()[:size]
    open(os.path.join(root, name), "wb").write(data.ljust(size, b" "))
PY
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path $WORK/logs; proxy_temp_path $WORK/logs;
  fastcgi_temp_path $WORK/logs; uwsgi_temp_path $WORK/logs; scgi_temp_path $WORK/logs;
  upstream diary { server 127.0.0.1:$UP; keepalive 64; }
  server { listen 127.0.0.1:$UP; root $WORK/www; }
  server {
    listen 127.0.0.1:$NGX ssl http2;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://diary; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https; proxy_buffering on;
    }
  }
}
NGINX

cat > "$WORK/gateway.toml" <<TOML
[listen]
https = "127.0.0.1:$GW"
admin = "127.0.0.1:$ADMIN"
[tls]
cert = "$WORK/cert.pem"
key = "$WORK/key.pem"
[upstream]
url = "http://127.0.0.1:$UP"
[log]
level = "warn"
access_log = false
TOML

echo "== building the gateway (release)"
(cd "$ROOT" && cargo build --release --quiet)
GATEWAY="${CARGO_TARGET_DIR:-$ROOT/target}/release/esia-gateway"

nginx -t -c "$WORK/nginx.conf" -p "$WORK" 2>&1 | grep -v "syntax is ok\|test is successful" || true
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
RUST_LOG=error "$GATEWAY" run --config "$WORK/gateway.toml" & GWPID=$!; PIDS+=($GWPID)
ready=""
for i in $(seq 1 100); do
  curl -skf "https://127.0.0.1:$GW/1k.html" >/dev/null 2>&1 && curl -skf "https://127.0.0.1:$NGX/1k.html" >/dev/null 2>&1 && { ready=1; break; }
  sleep 0.1
done
[ -n "$ready" ] || { echo "error: nginx or the gateway did not come up (see $WORK/logs/error.log)" >&2; tail -5 "$WORK/logs/error.log" >&2 || true; exit 1; }

# Peak RSS in KiB: the gateway process; nginx = master + workers.
rss_gateway() { awk '/VmHWM/ {print $2}' "/proc/$GWPID/status"; }
rss_nginx() {
  local total=0 p
  for p in $(pgrep -f "nginx.*$WORK/nginx.conf"; pgrep -P "$(cat "$WORK/nginx.pid")"); do
    total=$((total + $(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)))
  done
  echo "$total"
}

# run NAME URL [extra wrk args] -> prints "rps p50_ms p99_ms"
run() {
  local out
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${@:2}" 2>&1)
  echo "$out" > "$WORK/logs/$1.txt"
  python3 - "$WORK/logs/$1.txt" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errs.group(1) if errs else 0}")
PY
}

echo "== warming up"
wrk -t1 -c10 -d2s "https://127.0.0.1:$NGX/1k.html" >/dev/null 2>&1 || true
wrk -t1 -c10 -d2s "https://127.0.0.1:$GW/1k.html" >/dev/null 2>&1 || true

declare -A R
for page in 1k 100k; do
  R[nginx_$page]=$(run "nginx_$page" "https://127.0.0.1:$NGX/$page.html")
  if [ "$page" = 1k ] && [ -n "${PROFILE:-}" ] && need perf; then
    # PROFILE=1: where the gateway's CPU goes per request, sampled during the 1 KB run.
    perf record -q -g -F 999 -o "$WORK/perf.data" -p "$GWPID" >/dev/null 2>&1 & PERF=$!
    R[gw_$page]=$(run "gw_$page" "https://127.0.0.1:$GW/$page.html")
    kill -INT "$PERF" 2>/dev/null || true; wait "$PERF" 2>/dev/null || true
    perf report -i "$WORK/perf.data" --no-children --stdio --percent-limit 1.5 --sort dso,symbol -g none 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | head -40 > "${PROFILE_OUT:-/tmp/esia-gateway-profile.txt}" || true
  else
    R[gw_$page]=$(run "gw_$page" "https://127.0.0.1:$GW/$page.html")
  fi
done
# A new TLS connection for every request: handshakes per second.
R[nginx_hs]=$(run nginx_hs "https://127.0.0.1:$NGX/1k.html" -H "Connection: close")
R[gw_hs]=$(run gw_hs "https://127.0.0.1:$GW/1k.html" -H "Connection: close")

RSS_NGX=$(rss_nginx); RSS_GW=$(rss_gateway)
python3 - "$RSS_NGX" "$RSS_GW" "$DURATION" "$CONNS" \
  "${R[nginx_1k]}" "${R[gw_1k]}" "${R[nginx_100k]}" "${R[gw_100k]}" "${R[nginx_hs]}" "${R[gw_hs]}" <<'PY'
import sys
rss_n, rss_g, dur, conns = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = [r.split() for r in sys.argv[5:]]
names = ["1 KB keep-alive", "100 KB keep-alive", "1 KB new TLS conn"]
print(f"\nwrk {dur}, {conns} connections, HTTPS, same nginx static upstream, this machine")
print(f"{'run':20} {'proxy':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
for i, name in enumerate(names):
    n, g = rows[2 * i], rows[2 * i + 1]
    for label, r in (("nginx", n), ("gateway", g)):
        print(f"{name:20} {label:8} {r[0]:>9} {r[1]:>8} {r[2]:>8} {r[3]:>8}")
    print(f"{'':20} {'ratio':8} {float(g[0]) / float(n[0]):>9.2f} {float(g[1]) / max(float(n[1]), 1e-9):>8.2f} {float(g[2]) / max(float(n[2]), 1e-9):>8.2f}")
print(f"\npeak RSS: nginx (all processes) {rss_n / 1024:.1f} MiB, gateway {rss_g / 1024:.1f} MiB")
print("targets: gateway/nginx req/s >= 0.90 on 1 KB, p99 ratio <= 1.20")
PY
