#!/usr/bin/env bash
# The gateway on the path users take, against nginx as a plain TLS proxy in front of the
# same diary, in one invocation on this machine:
#
#   linked   an ESIA session linked to `parent` in form mode (session cookie → store-
#            backed cache, the diary's cookies attached from the sealed jar, calendar
#            after the cutover + the shipped route groups) reading «Оценки» (/marks)
#   legacy   a password session after the cutover asking for /marks (refused, 403 page)
#   anon     no session asking for /marks (302 to the ESIA start page)
#   nginx    nginx TLS proxy → the same diary, with the diary's own session cookie
#
# The diary and the ESIA mock are `esia-gateway demo` (one process); the measured
# gateway is a separate `esia-gateway run` on a copy of the demo's config (same store
# and vault), so its CPU is its own. Sessions are made by bench/login_linked.py through
# the real ESIA login and link. Prints req/s, p50/p99, CPU µs per request (utime+stime
# from /proc, nginx = all its processes) and peak RSS, median of ROUNDS interleaved
# rounds, and writes the table to bench/RESULTS.md.
#
# Then the memory figure: SESSIONS (100,000) copies of the linked session are put in the
# store (bench/sessions_memory.py) and HOT (10,000) of them are driven by wrk, each
# signing into the diary once (its jar is its own) and then served from the cache;
# the gateway's RSS before and after, and the requests that were not answered 200.
#
#   bench/real_path.sh                       # 10 s per run, 50 connections, 3 rounds
#   DURATION=5s ROUNDS=1 bench/real_path.sh  # quick
#   SESSIONS=0 bench/real_path.sh            # without the memory figure
#   PROFILE=1 bench/real_path.sh             # + perf profile of the linked target (round 1)
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/esia-bench-real.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  echo "== installing nginx-light and wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DEMO=$(free_port); DEMO_ADMIN=$(free_port); GW=$(free_port); ADMIN=$(free_port); NGX=$(free_port)
chmod 755 "$WORK"; mkdir -p "$WORK/logs"

echo "== building the gateway (release)"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/esia-gateway"

echo "== starting the demo (ESIA mock + demo diary) and logging in through it"
(cd "$WORK" && RUST_LOG=warn exec "$BIN" demo --data-dir "$WORK/demo" --https "127.0.0.1:$DEMO" \
  --admin "127.0.0.1:$DEMO_ADMIN" --at 2019-02-01 >"$WORK/logs/demo.txt" 2>&1) & PIDS+=($!)
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$DEMO_ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
CA="$WORK/demo/certs/demo-ca.pem"
DIARY=$(awk -F'"' '/^\[upstream\]/{u=1} u && /^url = /{print $2; exit}' "$WORK/demo/gateway.toml")
eval "$(python3 "$ROOT/bench/login_linked.py" "https://localhost:$DEMO" "$CA" "$DIARY" | sed 's/^\([a-z]*\)=\(.*\)$/COOKIE_\1="\2"/')"

# The measured gateway: the demo's config on other ports, quiet logs, no access log.
python3 - "$WORK/demo/gateway.toml" "$WORK/gateway.toml" "$GW" "$ADMIN" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'(?m)^https = ".*"$', f'https = "127.0.0.1:{sys.argv[3]}"', text, count=1)
text = re.sub(r'(?m)^admin = ".*"$', f'admin = "127.0.0.1:{sys.argv[4]}"', text, count=1)
text = re.sub(r'(?m)^level = ".*"$', 'level = "warn"', text, count=1)
text = re.sub(r'(?m)^access_log = .*$', 'access_log = false', text, count=1)
# wrk asks by address: serve 127.0.0.1 as an alias of the demo's public name.
text = re.sub(r'(?m)^(public_url = ".*")$', r'\1\nhosts = ["127.0.0.1"]', text, count=1)
open(sys.argv[2], "w").write(text)
PY
(cd "$WORK" && RUST_LOG=error exec "$BIN" run --config "$WORK/gateway.toml" >"$WORK/logs/gw.txt" 2>&1) & PIDS+=($!)
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$ADMIN/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
GWPID=$(pgrep -f "esia-gateway run --config $WORK/gateway.toml" | head -1)

cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $WORK/logs; proxy_temp_path $WORK/logs;
  fastcgi_temp_path $WORK/logs; uwsgi_temp_path $WORK/logs; scgi_temp_path $WORK/logs;
  upstream diary { server ${DIARY#http://}; keepalive 64; }
  server {
    listen 127.0.0.1:$NGX ssl http2;
    ssl_certificate $WORK/demo/certs/gateway.pem; ssl_certificate_key $WORK/demo/certs/gateway.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://diary; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)
for _ in $(seq 1 100); do curl -skf "https://127.0.0.1:$NGX/login" >/dev/null 2>&1 && break; sleep 0.1; done

GW_URL="https://127.0.0.1:$GW/marks"; NGX_URL="https://127.0.0.1:$NGX/marks"
# What each target answers (status, bytes), checked before measuring.
probe() { curl -sk -o "$WORK/logs/$1.body" -w "%{http_code} %{size_download}" -H "Cookie: $3" "$2"; }
echo "== what each target answers"
printf '  %-8s %s\n' nginx "$(probe nginx "$NGX_URL" "$COOKIE_diary")" \
  linked "$(probe linked "$GW_URL" "__Host-esia-gw=$COOKIE_gateway")" \
  legacy "$(probe legacy "$GW_URL" "__Host-esia-gw=$COOKIE_legacy")" \
  anon "$(probe anon "$GW_URL" "")"
grep -q 'page-marks' "$WORK/logs/nginx.body" || { echo "error: nginx did not serve the grades"; exit 1; }
grep -q 'page-marks' "$WORK/logs/linked.body" || { echo "error: the linked session did not get the grades"; exit 1; }

ticks() { # utime+stime of the given pids, in clock ticks
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
nginx_pids() { echo "$(cat "$WORK/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')"; }
HZ=$(getconf CLK_TCK)

# measure NAME URL COOKIE PIDS... -> "rps p50_ms p99_ms cpu_us_per_req"
measure() {
  local name=$1 url=$2 cookie=$3; shift 3
  local before after out
  before=$(ticks "$@")
  if [ -n "$cookie" ]; then
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Cookie: $cookie" "$url" 2>&1)
  else
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" 2>&1)
  fi
  after=$(ticks "$@")
  echo "$out" >> "$WORK/logs/$name.txt"
  python3 - "$before" "$after" "$HZ" <<PY
import re, sys
t = """$out"""
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
reqs = int(re.search(r"(\d+) requests in", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
cpu_us = (int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3]) * 1e6 / max(reqs, 1)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {cpu_us:.1f}")
PY
}

echo "== warming up"
wrk -t1 -c10 -d2s -H "Cookie: $COOKIE_diary" "$NGX_URL" >/dev/null 2>&1 || true
wrk -t1 -c10 -d2s -H "Cookie: __Host-esia-gw=$COOKIE_gateway" "$GW_URL" >/dev/null 2>&1 || true

store_queries() { curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '/^esia_gateway_session_store_queries_total/ {print $2}'; }
declare -A R
Q0=$(store_queries); LINKED_REQS=0
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  # shellcheck disable=SC2046
  R[nginx]+="$(measure nginx "$NGX_URL" "$COOKIE_diary" $(nginx_pids));"
  if [ "$round" = 1 ] && [ -n "${PROFILE:-}" ] && need perf; then
    # Where the linked path's CPU goes: sampled while round 1's linked run is measured.
    perf record -q -F 499 -g -p "$GWPID" -o "$WORK/perf.data" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
    PERF=$!
  fi
  R[linked]+="$(measure linked "$GW_URL" "__Host-esia-gw=$COOKIE_gateway" "$GWPID");"
  if [ -n "${PERF:-}" ]; then
    wait "$PERF" || true
    perf report -i "$WORK/perf.data" --no-children --sort symbol --stdio 2>/dev/null \
      | grep -v '^#' | grep -v '^$' | grep '%' | head -60 > "${PROFILE_OUT:-/tmp/esia-gateway-linked-profile.txt}" || true
    echo "   profile: ${PROFILE_OUT:-/tmp/esia-gateway-linked-profile.txt}"
    PERF=""
  fi
  LINKED_REQS=$((LINKED_REQS + $(grep -o '[0-9]* requests in' "$WORK/logs/linked.txt" | tail -1 | cut -d' ' -f1)))
  R[legacy]+="$(measure legacy "$GW_URL" "__Host-esia-gw=$COOKIE_legacy" "$GWPID");"
  R[anon]+="$(measure anon "$GW_URL" "" "$GWPID");"
done
RSS_GW=$(awk '/VmHWM/ {print $2}' "/proc/$GWPID/status")
# Session store queries over every round (all targets): a hot session needs none.
STORE_Q=$(( $(store_queries) - Q0 ))

SESSIONS=${SESSIONS:-100000}; HOT=${HOT:-10000}
MEM_LINE=""
if [ "$SESSIONS" -gt 0 ]; then
  echo "== memory: $SESSIONS sessions in the store, $HOT of them driven"
  rss() { awk '/VmRSS/ {print $2}' "/proc/$GWPID/status"; }
  RSS_BEFORE=$(rss)
  python3 "$ROOT/bench/sessions_memory.py" "$WORK/demo/gateway.db" "$COOKIE_gateway" \
    "$SESSIONS" "$WORK/hot.txt" "$HOT"
  cat > "$WORK/hot.lua" <<LUA
local cookies = {}
for line in io.lines("$WORK/hot.txt") do cookies[#cookies + 1] = line end
local i = 0
request = function()
  i = i % #cookies + 1
  return wrk.format("GET", "/marks", { ["Cookie"] = "__Host-esia-gw=" .. cookies[i] })
end
LUA
  # First pass: every hot session signs into the diary from the vault once.
  FIRST=$(wrk -t1 -c"$CONNS" -d20s -s "$WORK/hot.lua" "https://127.0.0.1:$GW" 2>&1)
  # Steady state: the same sessions, now from the cache with their own jars.
  STEADY=$(wrk -t1 -c"$CONNS" -d"$DURATION" -s "$WORK/hot.lua" "https://127.0.0.1:$GW" 2>&1)
  RSS_AFTER=$(rss)
  # A hot copy really is signed in: the grades, not a redirect.
  probe hot "$GW_URL" "__Host-esia-gw=$(head -1 "$WORK/hot.txt")" >/dev/null
  grep -q 'page-marks' "$WORK/logs/hot.body" || { echo "error: a hot session did not get the grades"; exit 1; }
  bad() { echo "$1" | awk '/Non-2xx or 3xx/ {print $NF; f=1} END {if (!f) print 0}'; }
  done_reqs() { echo "$1" | grep -o '[0-9]* requests in' | cut -d' ' -f1; }
  MEM_LINE="Memory: RSS $((RSS_BEFORE / 1024)) MiB before, $((RSS_AFTER / 1024)) MiB with $SESSIONS sessions in the store and $HOT of them hot (driven through $(done_reqs "$FIRST") + $(done_reqs "$STEADY") requests; answers other than 2xx/3xx: $(bad "$FIRST") + $(bad "$STEADY"))."
  echo "$MEM_LINE"
fi
export MEM_LINE

python3 - "$ROOT/bench/RESULTS.md" "$DURATION" "$CONNS" "$ROUNDS" "$RSS_GW" "$STORE_Q" "$LINKED_REQS" \
  "${R[nginx]}" "${R[linked]}" "${R[legacy]}" "${R[anon]}" <<'PY'
import datetime, os, platform, statistics, subprocess, sys
out, dur, conns, rounds, rss, store_q, linked_reqs = sys.argv[1:8]
def rows(s):
    return [list(map(float, r.split())) for r in s.strip(";").split(";")]
def med(rs, i):
    return statistics.median(r[i] for r in rs)
names = ["nginx", "linked", "legacy", "anon"]
data = {n: rows(v) for n, v in zip(names, sys.argv[8:12])}
ref = data["nginx"]
desc = {
    "nginx": "nginx TLS proxy → diary, /marks with the diary's cookie (reference)",
    "linked": "gateway, linked ESIA session (form mode, jar attached, calendar after cutover, shipped groups) → /marks",
    "legacy": "gateway, password session after the cutover → /marks refused (403 page)",
    "anon": "gateway, no session → /marks (302 to the ESIA start page)",
}
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), platform.machine())
lines = [
    "# Benchmark results",
    "",
    f"`bench/real_path.sh` on {datetime.date.today()}, {os.cpu_count()} cores ({model}), "
    f"wrk {dur}, {conns} connections, HTTPS, median of {rounds} interleaved round(s). "
    "The upstream is the demo diary (`esia-gateway demo`) for every target; CPU µs per "
    "request is utime+stime of the measured process(es) from /proc over the run divided "
    "by the requests wrk completed (nginx: master and workers; gateway: its process). "
    "Ratios are against nginx in the same run. The machine is shared with other work "
    "while this runs, so absolute figures move between runs; the ratios are the result.",
    "",
    "| target | req/s | ×nginx | p50 ms | p99 ms | p99 ×nginx | CPU µs/req |",
    "|---|--:|--:|--:|--:|--:|--:|",
]
for n in names:
    rs = data[n]
    lines.append(
        f"| {desc[n]} | {med(rs,0):.0f} | {med(rs,0)/med(ref,0):.2f} | {med(rs,1):.2f} | "
        f"{med(rs,2):.2f} | {med(rs,2)/max(med(ref,2),1e-9):.2f} | {med(rs,3):.1f} |"
    )
lines += ["", f"Peak RSS of the measured gateway: {int(rss)/1024:.1f} MiB. "
          f"Session store queries during all rounds: {store_q} "
          f"(`esia_gateway_session_store_queries_total`; {linked_reqs} linked-session requests).", "",
          *([os.environ["MEM_LINE"], ""] if os.environ.get("MEM_LINE") else []),
          "Plain proxying (no policy, static nginx upstream) is measured by `bench/run.sh`.", ""]
text = "\n".join(lines)
open(out, "w").write(text)
print()
print(text)
PY
