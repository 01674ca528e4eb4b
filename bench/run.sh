#!/usr/bin/env bash
# esia-gateway against nginx as a plain TLS reverse proxy, every target of issue 11 in one
# invocation on this machine, each gateway target beside the nginx run that serves the
# same bytes from the same upstream:
#
#  static upstream (nginx serving files; the reference is nginx proxying it)
#   plain_1k / plain_100k   the gateway with no policy (proxy only), keep-alive
#   plain_conn              the same, a new TLS connection for every request
#   rewrite_20k             the transition banner put into a 20 KB windows-1251 page that
#                           arrives gzip and leaves gzip (an anonymous visitor during the
#                           transition), against…
#   untouched_20k           …the same bytes proxied as they are (served as non-HTML)
#  the demo diary (`esia-gateway demo`; the reference is nginx with the diary's cookie)
#   linked                  an ESIA session linked to `parent` in form mode (session cookie →
#                           cache, the diary's cookies from the sealed jar, calendar after the
#                           cutover + the shipped route groups) reading «Оценки» (/marks)
#   legacy                  a password session after the cutover asking for /marks (403 page)
#   anon                    no session asking for /marks (302 to the ESIA start page)
#   anon_login              no session opening the diary's login page (the shipped policy, the
#                           «Войти через Госуслуги» button put in)
#   banner                  a password session during the transition reading /marks with the
#                           banner put in (a second gateway whose calendar is in transition)
#
# Sessions are made by bench/login_linked.py through the real ESIA login and link. Each
# target: req/s, p50/p99 and CPU µs per request (utime+stime from /proc of the measured
# process(es) over the run ÷ requests; nginx = master + workers of the proxying nginx only),
# median of ROUNDS interleaved rounds. The table goes to bench/RESULTS.md; what follows the
# `<!-- notes -->` line there (the profile and what was tried) is kept.
#
# Then the memory figure: SESSIONS (100,000) copies of the linked session are put in the
# store (bench/sessions_memory.py) and HOT (10,000) of them are driven by wrk, each
# signing into the diary once (its jar is its own) and then served from the cache;
# the gateway's RSS before and after, and the answers that were not 2xx/3xx.
#
#   bench/run.sh                        # 8 s per run, 50 connections, 3 rounds (~12 min)
#   DURATION=3s ROUNDS=1 SESSIONS=0 bench/run.sh   # quick look, no memory figure
#   PROFILE=1 bench/run.sh              # + perf profiles of the linked and rewrite targets
#                                       # (PROFILE_TARGETS="plain_1k …" for others)
#   RESULTS=/tmp/r.md bench/run.sh      # the table somewhere else
#   ONLY="ngx_20k untouched_20k rewrite_20k" SESSIONS=0 bench/run.sh
#                                       # some targets only (a before/after of one change);
#                                       # the table is printed, RESULTS.md left alone
set -euo pipefail

DURATION=${DURATION:-8s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
SESSIONS=${SESSIONS:-100000}
HOT=${HOT:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/esia-bench.XXXXXX)
if [ -n "${ONLY:-}" ]; then RESULTS=${RESULTS:-$WORK/results.md}; else RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}; fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
  echo "== installing nginx-light and wrk"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 200); do curl -skf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "error: $1 did not come up" >&2; exit 1; }
# nginx workers run as an unprivileged user when started by root: let them read the files.
mkdir -p "$WORK/www" "$WORK/logs"; chmod 755 "$WORK" "$WORK/www"

echo "== building the gateway (release)"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/esia-gateway"

echo "== the static pages and the demo (ESIA mock + demo diary)"
python3 - "$WORK/www" <<'PY'
import gzip, os, sys
root = sys.argv[1]
import random
rnd = random.Random(11)
names = ["Иванова Анна", "Петров Илья", "Смирнова Мария", "Кузнецов Артём", "Соколова Вера",
         "Попов Денис", "Лебедева Ольга", "Козлов Никита", "Новикова Дарья", "Морозов Глеб"]
subjects = ["Алгебра", "Геометрия", "Русский язык", "Литература", "Физика", "История", "Химия"]
def page(n, charset="utf-8"):
    # A class journal: varied enough that gzip shrinks it about as much as a real page.
    head = f"<!doctype html><html><head><meta charset={charset}><title>Дневник</title></head><body>"
    rows, size = [], 0
    while size < n:
        marks = "".join(f"<td>{rnd.choice('2345')}</td>" for _ in range(rnd.randint(3, 8)))
        row = (f"<tr><td>{rnd.choice(names)}</td><td>{rnd.choice(subjects)}</td>{marks}"
               f"<td>{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}</td></tr>\n")
        rows.append(row)
        size += len(row.encode())
    return head, "<table>" + "".join(rows)
for name, size in (("1k.html", 1024), ("100k.html", 100 * 1024)):
    head, body = page(size)
    data = (head + body).encode()[: size - 14] + b"</body></html>"
    open(os.path.join(root, name), "wb").write(data)
# 20 KB of a windows-1251 page, stored gzip: served as HTML (rewritten) and as bytes.
head, body = page(20 * 1024, "windows-1251")
text = (head + body).encode("cp1251")[: 20 * 1024 - 22] + b"</table></body></html>"
open(os.path.join(root, "page-1251.gz"), "wb").write(gzip.compress(text, 6))
PY
DEMO=$(free_port); DEMO_ADMIN=$(free_port); UP=$(free_port); NGX=$(free_port); NGX_DIARY=$(free_port)
(cd "$WORK" && RUST_LOG=warn exec "$BIN" demo --data-dir "$WORK/demo" --https "127.0.0.1:$DEMO" \
  --admin "127.0.0.1:$DEMO_ADMIN" --at 2019-02-01 >"$WORK/logs/demo.txt" 2>&1) & PIDS+=($!)
wait_for "http://127.0.0.1:$DEMO_ADMIN/healthz"
CA="$WORK/demo/certs/demo-ca.pem"; CERT="$WORK/demo/certs/gateway.pem"; KEY="$WORK/demo/certs/gateway.key"
DIARY=$(awk -F'"' '/^\[upstream\]/{u=1} u && /^url = /{print $2; exit}' "$WORK/demo/gateway.toml")
echo "== logging in and linking through the ESIA mock"
eval "$(python3 "$ROOT/bench/login_linked.py" "https://localhost:$DEMO" "$CA" "$DIARY" | sed 's/^\([a-z]*\)=\(.*\)$/COOKIE_\1="\2"/')"

# The static upstream is an nginx of its own, so the proxying nginx's CPU is only proxying.
cat > "$WORK/static.conf" <<NGINX
worker_processes 1;
pid $WORK/static.pid;
error_log $WORK/logs/static-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off; sendfile on; keepalive_requests 100000;
  client_body_temp_path $WORK/logs; proxy_temp_path $WORK/logs;
  fastcgi_temp_path $WORK/logs; uwsgi_temp_path $WORK/logs; scgi_temp_path $WORK/logs;
  server {
    listen 127.0.0.1:$UP; root $WORK/www;
    location = /page-1251.html { alias $WORK/www/page-1251.gz; types { } default_type "text/html; charset=windows-1251"; add_header Content-Encoding gzip; }
    location = /page-1251.bin { alias $WORK/www/page-1251.gz; types { } default_type application/octet-stream; add_header Content-Encoding gzip; }
  }
}
NGINX
cat > "$WORK/nginx.conf" <<NGINX
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 100000;
  client_body_temp_path $WORK/logs; proxy_temp_path $WORK/logs;
  fastcgi_temp_path $WORK/logs; uwsgi_temp_path $WORK/logs; scgi_temp_path $WORK/logs;
  ssl_certificate $CERT; ssl_certificate_key $KEY; ssl_protocols TLSv1.2 TLSv1.3;
  proxy_http_version 1.1; proxy_set_header Connection "";
  proxy_set_header Host \$host; proxy_set_header X-Forwarded-For \$remote_addr;
  proxy_set_header X-Forwarded-Proto https;
  upstream static { server 127.0.0.1:$UP; keepalive 64; }
  upstream diary { server ${DIARY#http://}; keepalive 64; }
  server { listen 127.0.0.1:$NGX ssl; location / { proxy_pass http://static; } }
  server { listen 127.0.0.1:$NGX_DIARY ssl; location / { proxy_pass http://diary; } }
}
NGINX
nginx -c "$WORK/static.conf" -p "$WORK" & PIDS+=($!)
nginx -c "$WORK/nginx.conf" -p "$WORK" & PIDS+=($!)

# The measured gateways, each its own process (its CPU is its own), quiet, no access log.
#   linked      the demo's config (same store and vault) on the real clock: after the cutover
#   transition  the same with the calendar moved so that today is in the transition
#   plain       no policy at all in front of the static upstream
#   rewrite     the transition's config in front of the static upstream
declare -A PORT APORT GWPID
for g in linked transition plain rewrite; do PORT[$g]=$(free_port); APORT[$g]=$(free_port); done
python3 - "$WORK/demo/gateway.toml" "$WORK" "${PORT[linked]}" "${APORT[linked]}" \
  "${PORT[transition]}" "${APORT[transition]}" "${PORT[rewrite]}" "${APORT[rewrite]}" "$UP" <<'PY'
import re, sys
src, work = sys.argv[1], sys.argv[2]
text = open(src).read()
def ports(t, https, admin):
    t = re.sub(r'(?m)^https = ".*"$', f'https = "127.0.0.1:{https}"', t, count=1)
    t = re.sub(r'(?m)^admin = ".*"$', f'admin = "127.0.0.1:{admin}"', t, count=1)
    t = re.sub(r'(?m)^level = ".*"$', 'level = "warn"', t, count=1)
    t = re.sub(r'(?m)^access_log = .*$', 'access_log = false', t, count=1)
    # wrk asks by address: serve 127.0.0.1 as an alias of the demo's public name.
    return re.sub(r'(?m)^(public_url = ".*")$', r'\1\nhosts = ["127.0.0.1"]', t, count=1)
open(f"{work}/linked.toml", "w").write(ports(text, sys.argv[3], sys.argv[4]))
moved = re.sub(r'(?m)^transition_from = \S+', "transition_from = 2020-01-01", text, count=1)
moved = re.sub(r'(?m)^esia_only_from = \S+', "esia_only_from = 2099-01-01", moved, count=1)
assert moved != text, "the demo's calendar lines were not found"
open(f"{work}/transition.toml", "w").write(ports(moved, sys.argv[5], sys.argv[6]))
# The same transition in front of the static upstream: anonymous pages get the banner.
static = re.sub(r'(?m)^(\[upstream\]\nurl = )".*"$', f'\\1"http://127.0.0.1:{sys.argv[9]}"', moved, count=1)
assert static != moved, "the demo's upstream line was not found"
open(f"{work}/rewrite.toml", "w").write(ports(static, sys.argv[7], sys.argv[8]))
PY
plain_toml() {
  printf '[listen]\nhttps = "127.0.0.1:%s"\nadmin = "127.0.0.1:%s"\n[tls]\ncert = "%s"\nkey = "%s"\n' \
    "${PORT[$1]}" "${APORT[$1]}" "$CERT" "$KEY"
  printf '[upstream]\nurl = "http://127.0.0.1:%s"\n[log]\nlevel = "warn"\naccess_log = false\n' "$UP"
}
plain_toml plain > "$WORK/plain.toml"
for g in linked transition plain rewrite; do
  (cd "$WORK" && RUST_LOG=error exec "$BIN" run --config "$WORK/$g.toml" >"$WORK/logs/gw-$g.txt" 2>&1) & PIDS+=($!)
done
for g in linked transition plain rewrite; do
  wait_for "http://127.0.0.1:${APORT[$g]}/healthz"
  GWPID[$g]=$(pgrep -f "esia-gateway run --config $WORK/$g.toml" | head -1)
done
wait_for "https://127.0.0.1:$NGX/1k.html"; wait_for "https://127.0.0.1:$NGX_DIARY/login"
NGINX_PIDS="$(cat "$WORK/nginx.pid") $(pgrep -P "$(cat "$WORK/nginx.pid")" | tr '\n' ' ')"

# Every target: NAME URL COOKIE PROCESS-GROUP [extra header]; "" = no cookie.
GZ="Accept-Encoding: gzip, deflate"
declare -A URL COOKIE WHO HDR
target() { URL[$1]=$2; COOKIE[$1]=$3; WHO[$1]=$4; HDR[$1]=${5:-}; }
S="https://127.0.0.1:$NGX"; D="https://127.0.0.1:$NGX_DIARY"
G() { echo "https://127.0.0.1:${PORT[$1]}"; }
target ngx_1k "$S/1k.html" "" nginx
target plain_1k "$(G plain)/1k.html" "" plain
target ngx_100k "$S/100k.html" "" nginx
target plain_100k "$(G plain)/100k.html" "" plain
target ngx_conn "$S/1k.html" "" nginx "Connection: close"
target plain_conn "$(G plain)/1k.html" "" plain "Connection: close"
target ngx_20k "$S/page-1251.html" "" nginx "$GZ"
target untouched_20k "$(G rewrite)/page-1251.bin" "" rewrite "$GZ"
target rewrite_20k "$(G rewrite)/page-1251.html" "" rewrite "$GZ"
target ngx_marks "$D/marks" "$COOKIE_diary" nginx
target linked "$(G linked)/marks" "__Host-esia-gw=$COOKIE_gateway" linked
target legacy "$(G linked)/marks" "__Host-esia-gw=$COOKIE_legacy" linked
target anon "$(G linked)/marks" "" linked
target ngx_login "$D/login" "" nginx
target anon_login "$(G linked)/login" "" linked
target banner "$(G transition)/marks" "__Host-esia-gw=$COOKIE_legacy" transition
ORDER="ngx_1k plain_1k ngx_100k plain_100k ngx_conn plain_conn ngx_20k untouched_20k rewrite_20k ngx_marks linked legacy anon ngx_login anon_login banner"
if [ -n "${ONLY:-}" ]; then
  for name in $ONLY; do [ -n "${URL[$name]:-}" ] || { echo "error: no target $name (targets: $ORDER)" >&2; exit 1; }; done
  ORDER=$ONLY
fi

# What each target answers, checked before measuring: a wrong answer measured fast is no result.
probe() {
  local args=(-sk -o "$WORK/logs/$1.body" -D "$WORK/logs/$1.head" -w "%{http_code} %{size_download}")
  [ -n "${COOKIE[$1]}" ] && args+=(-H "Cookie: ${COOKIE[$1]}")
  [ -n "${HDR[$1]}" ] && args+=(-H "${HDR[$1]}")
  curl "${args[@]}" "${URL[$1]}"
}
expect() { # NAME STATUS [grep pattern in the (decoded) body]
  local got; got=$(probe "$1")
  printf '  %-14s %s\n' "$1" "$got"
  [ "${got%% *}" = "$2" ] || { echo "error: $1 answered ${got%% *}, not $2" >&2; exit 1; }
  if [ -n "${3:-}" ]; then
    if grep -qi '^content-encoding: gzip' "$WORK/logs/$1.head"; then gzip -dc "$WORK/logs/$1.body"; else cat "$WORK/logs/$1.body"; fi \
      | iconv -f "$( grep -qi 'windows-1251' "$WORK/logs/$1.head" && echo cp1251 || echo utf-8)" -t utf-8 \
      | grep -q "$3" || { echo "error: $1 lacks $3" >&2; exit 1; }
  fi
}
echo "== what each target answers"
expect ngx_1k 200; expect plain_1k 200; expect ngx_100k 200; expect plain_100k 200
expect ngx_conn 200; expect plain_conn 200
expect ngx_20k 200 'Алгебра'; expect untouched_20k 200
expect rewrite_20k 200 'привязку к ЕСИА'
cmp -s <(gzip -dc "$WORK/logs/untouched_20k.body") <(gzip -dc "$WORK/logs/ngx_20k.body") \
  || { echo "error: the untouched page differs from nginx's" >&2; exit 1; }
expect ngx_marks 200 page-marks; expect linked 200 page-marks
expect legacy 403; expect anon 302
expect ngx_login 200; expect anon_login 200 'Госуслуги'
expect banner 200 'привязку к ЕСИА'
grep -q page-marks "$WORK/logs/banner.body" || { echo "error: the banner page lacks the grades" >&2; exit 1; }

ticks() { # utime+stime of the given pids, in clock ticks
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
pids_of() { if [ "$1" = nginx ]; then echo "$NGINX_PIDS"; else echo "${GWPID[$1]}"; fi; }
HZ=$(getconf CLK_TCK)

# measure NAME -> "rps p50_ms p99_ms cpu_us_per_req non2xx3xx"
measure() {
  local name=$1 before after out args=(-t"$THREADS" -c"$CONNS" -d"$DURATION" --latency)
  [ -n "${COOKIE[$name]}" ] && args+=(-H "Cookie: ${COOKIE[$name]}")
  [ -n "${HDR[$name]}" ] && args+=(-H "${HDR[$name]}")
  # shellcheck disable=SC2046
  before=$(ticks $(pids_of "${WHO[$name]}"))
  out=$(wrk "${args[@]}" "${URL[$name]}" 2>&1)
  # shellcheck disable=SC2046
  after=$(ticks $(pids_of "${WHO[$name]}"))
  echo "$out" > "$WORK/logs/$name.txt"
  python3 - "$WORK/logs/$name.txt" "$before" "$after" "$HZ" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n
reqs = int(re.search(r"(\d+) requests in", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
cpu_us = (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]) * 1e6 / max(reqs, 1)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {cpu_us:.1f} {bad.group(1) if bad else 0}")
PY
}

echo "== warming up"
for name in $ORDER; do DURATION=1s measure "$name" >/dev/null; done

store_queries() { curl -s "http://127.0.0.1:${APORT[linked]}/metrics" | awk '/^esia_gateway_session_store_queries_total/ {print $2}'; }
declare -A R
Q0=$(store_queries); LINKED_REQS=0
profiled() { # NAME: sample the measured gateway with perf while it is measured
  local name=$1 out="${PROFILE_DIR:-/tmp}/esia-gateway-$1-profile.txt"
  perf record -q -F 499 -g -p "$(pids_of "${WHO[$name]}")" -o "$WORK/perf-$name.data" -- sleep "${DURATION%s}" >/dev/null 2>&1 &
  local perf=$!
  R[$name]+="$(measure "$name");"
  wait "$perf" || true
  perf report -i "$WORK/perf-$name.data" --no-children --sort symbol --stdio 2>/dev/null \
    | grep -v '^#' | grep -v '^$' | grep '%' | sed -E 's/[[:space:]]+$//' | head -60 > "$out" || true
  # Inclusive time of the gateway's own functions (deep only in a build with frame
  # pointers: RUSTFLAGS="-C force-frame-pointers=yes").
  perf report -i "$WORK/perf-$name.data" --children --sort symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9.]+% +[0-9.]+% +\[\.\] +(esia_gateway|<esia_gateway)' \
    | sed -E 's/([[:space:]]+-)*[[:space:]]*$//' | head -80 > "${out%.txt}-inclusive.txt" || true
  echo "   profile of $name: $out, ${out%.txt}-inclusive.txt"
}
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for name in $ORDER; do
    if [ "$round" = 1 ] && [ -n "${PROFILE:-}" ] && need perf && [[ " ${PROFILE_TARGETS:-linked rewrite_20k} " == *" $name "* ]]; then
      profiled "$name"
    else
      R[$name]+="$(measure "$name");"
    fi
  done
  [ -f "$WORK/logs/linked.txt" ] && LINKED_REQS=$((LINKED_REQS + $(grep -o '[0-9]* requests in' "$WORK/logs/linked.txt" | cut -d' ' -f1)))
done
# Session store queries over every round of the linked gateway: a hot session needs none.
STORE_Q=$(( $(store_queries) - Q0 ))
declare -A RSS
for g in linked transition plain rewrite; do RSS[$g]=$(awk '/VmHWM/ {print $2}' "/proc/${GWPID[$g]}/status"); done
RSS_NGX=0
for p in $NGINX_PIDS; do RSS_NGX=$((RSS_NGX + $(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done

MEM_LINE=""
if [ "$SESSIONS" -gt 0 ]; then
  echo "== memory: $SESSIONS sessions in the store, $HOT of them driven"
  rss() { awk '/VmRSS/ {print $2}' "/proc/${GWPID[linked]}/status"; }
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
  FIRST=$(wrk -t1 -c"$CONNS" -d20s -s "$WORK/hot.lua" "$(G linked)" 2>&1)
  # Steady state: the same sessions, now from the cache with their own jars.
  STEADY=$(wrk -t1 -c"$CONNS" -d"$DURATION" -s "$WORK/hot.lua" "$(G linked)" 2>&1)
  RSS_AFTER=$(rss)
  # A hot copy really is signed in: the grades, not a redirect.
  target hot "$(G linked)/marks" "__Host-esia-gw=$(head -1 "$WORK/hot.txt")" linked
  expect hot 200 page-marks
  bad() { echo "$1" | awk '/Non-2xx or 3xx/ {print $NF; f=1} END {if (!f) print 0}'; }
  done_reqs() { echo "$1" | grep -o '[0-9]* requests in' | cut -d' ' -f1; }
  MEM_LINE="Memory: RSS $((RSS_BEFORE / 1024)) MiB before, $((RSS_AFTER / 1024)) MiB with $SESSIONS sessions in the store and $HOT of them hot (driven through $(done_reqs "$FIRST") + $(done_reqs "$STEADY") requests; answers other than 2xx/3xx: $(bad "$FIRST") + $(bad "$STEADY"))."
  echo "$MEM_LINE"
fi

ARGS=()
for name in $ORDER; do ARGS+=("$name=${R[$name]}"); done
MEM_LINE="$MEM_LINE" python3 - "$RESULTS" "$DURATION" "$CONNS" "$ROUNDS" "$STORE_Q" "$LINKED_REQS" \
  "nginx=$RSS_NGX" "linked=${RSS[linked]}" "transition=${RSS[transition]}" "plain=${RSS[plain]}" \
  "rewrite=${RSS[rewrite]}" -- "${ARGS[@]}" <<'PY'
import datetime, os, platform, statistics, sys
args = sys.argv[1:]
out, dur, conns, rounds, store_q, linked_reqs = args[:6]
split = args.index("--")
rss = dict(a.split("=", 1) for a in args[6:split])
data = {}
for a in args[split + 1:]:
    name, rows = a.split("=", 1)
    data[name] = [list(map(float, r.split())) for r in rows.strip(";").split(";")]
med = lambda name, i: statistics.median(r[i] for r in data[name])
# name: (description, reference row, process)
rows = [
    ("Static upstream, 1 KB / 100 KB pages", None, None),
    ("ngx_1k", "nginx TLS proxy, 1 KB, keep-alive (reference)", "ngx_1k"),
    ("plain_1k", "gateway, no policy (proxy only), 1 KB", "ngx_1k"),
    ("ngx_100k", "nginx TLS proxy, 100 KB (reference)", "ngx_100k"),
    ("plain_100k", "gateway, no policy, 100 KB", "ngx_100k"),
    ("ngx_conn", "nginx TLS proxy, 1 KB, new TLS connection per request (reference)", "ngx_conn"),
    ("plain_conn", "gateway, no policy, 1 KB, new TLS connection per request", "ngx_conn"),
    ("Static upstream, 20 KB windows-1251 page, gzip in and out", None, None),
    ("ngx_20k", "nginx TLS proxy (reference)", "ngx_20k"),
    ("untouched_20k", "gateway, the same bytes passed through untouched", "ngx_20k"),
    ("rewrite_20k", "gateway, the transition banner put in (anonymous, transition)", "ngx_20k"),
    ("The demo diary, shipped policy (calendar + route groups)", None, None),
    ("ngx_marks", "nginx TLS proxy → /marks with the diary's cookie (reference)", "ngx_marks"),
    ("linked", "**real path**: linked ESIA session (form mode, jar attached, after the cutover) → /marks", "ngx_marks"),
    ("legacy", "password session after the cutover → /marks refused (403 page)", "ngx_marks"),
    ("anon", "no session → /marks (302 to the ESIA start page)", "ngx_marks"),
    ("banner", "password session in the transition → /marks with the banner", "ngx_marks"),
    ("ngx_login", "nginx TLS proxy → the diary's login page (reference)", "ngx_login"),
    ("anon_login", "no session → the login page with «Войти через Госуслуги» put in", "ngx_login"),
]
cpu = open("/proc/cpuinfo").read()
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("model name")), platform.machine())
lines = [
    "# Benchmark results", "",
    f"`bench/run.sh` on {datetime.date.today()}, {os.cpu_count()} cores ({model}), Linux "
    f"{platform.release()}; wrk {dur}, {conns} connections, HTTPS, median of {rounds} "
    "interleaved round(s). Each gateway row's ratios are against the nginx row of its "
    "block (same upstream, same bytes) from the same run. CPU µs/req: utime+stime of the "
    "measured process(es) from /proc over the run ÷ requests completed (nginx: master + "
    "workers of the proxying nginx; a gateway: its process); the upstreams are not counted "
    "for either. The machine is shared with other work, so absolute figures move between "
    "runs; the ratios are the result.", "",
    "| target | req/s | ×nginx | p50 ms | p99 ms | p99 ×nginx | CPU µs/req | CPU ×nginx | non-2xx/3xx |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
]
present = [r for r in rows if r[2] is None or (r[0] in data and r[2] in data)]
# A block's heading only when some row of it was measured.
present = [r for i, r in enumerate(present) if r[2] is not None
           or (i + 1 < len(present) and present[i + 1][2] is not None)]
for name, desc, ref in present:
    if ref is None:
        lines.append(f"| *{name}* | | | | | | | | |")
        continue
    bad = int(sum(r[4] for r in data[name]))
    lines.append(
        f"| {desc} | {med(name,0):.0f} | {med(name,0)/med(ref,0):.2f} | {med(name,1):.2f} | "
        f"{med(name,2):.2f} | {med(name,2)/max(med(ref,2),1e-9):.2f} | {med(name,3):.1f} | "
        f"{med(name,3)/max(med(ref,3),1e-9):.2f} | {bad} |"
    )
mib = lambda k: f"{int(rss[k]) / 1024:.1f} MiB"
if "rewrite_20k" in data and "untouched_20k" in data:
    lines += [
    "",
    f"Rewriting costs {med('rewrite_20k',3)/max(med('untouched_20k',3),1e-9):.2f}× the CPU of "
    "passing the same page through untouched "
    f"({med('rewrite_20k',3):.1f} vs {med('untouched_20k',3):.1f} µs/req).",
    ]
lines += [
    "",
    f"Peak RSS: nginx (all processes) {mib('nginx')}; gateways: linked {mib('linked')}, "
    f"transition {mib('transition')}, plain {mib('plain')}, rewrite {mib('rewrite')}. "
    f"Session store queries of the linked gateway during all rounds: {store_q} "
    f"(`esia_gateway_session_store_queries_total`; {linked_reqs} linked-session requests).",
    "",
]
if os.environ.get("MEM_LINE"):
    lines += [os.environ["MEM_LINE"], ""]
notes = ""
if os.path.exists(out):
    old = open(out).read()
    if "<!-- notes -->" in old:
        notes = old[old.index("<!-- notes -->"):]
text = "\n".join(lines) + ("\n" + notes if notes else "")
open(out, "w").write(text)
print()
print("\n".join(lines))
PY
