#!/usr/bin/env bash
# shellcheck disable=SC2016 # '${Status}' and sh -c '…"$1"…' are meant literally
# Installs the Debian package in a clean Debian 12 root and starts it the way its unit
# would, then under the root's own systemd (issue 13). Needs root (debootstrap, chroot,
# mount, unshare), a reachable Debian mirror, curl and openssl on the host; no Docker,
# and no systemd on the host.
#
#   deploy/test-deb.sh [--keep] [PATH.deb]
#
# Without PATH.deb: cargo build --release --locked && cargo deb --no-build first.
# Steps, each printed PASS or FAIL (7 SKIP where it cannot run); exit 1 if any failed:
#   1. the package
#   2. a clean root: debootstrap --variant=minbase bookworm, with systemd
#   3. apt-get install ./esia-gateway_*.deb (dependencies from the mirror)
#   4. what postinst promised: user, directories and modes, conffile, unit enabled
#   5. configure as an operator: certificate, vault key (keys generate), store; the
#      unit's ExecStartPre (check-config) as its user
#   6. without systemd: ExecStart as the unit's user, umask, capability and no new
#      privileges (setpriv); /healthz, a page through the gateway over TLS, ExecReload,
#      SIGTERM and exit status 0
#   7. under systemd: the root booted with its systemd as PID 1 of new namespaces; the
#      enabled unit starts with its whole sandbox; the same pages, systemctl reload
#      (a broken file refused), systemctl stop. SKIP where no cgroup v2 is mounted
#   8. dpkg --purge: the package's files go, operator data (keys, certificates, store)
#      and the system user stay
#   9. install again over the existing user, purge with no operator data: nothing left
# The pristine root is cached as target/deb-test/bookworm-minbase.tar (delete it to
# bootstrap again); each run unpacks a fresh copy into target/deb-test/root, removed at
# the end unless --keep is given or a step failed. The gateway listens on a loopback
# address of its own with the shipped ports (443, 80, 9090) where free. Mounts, processes
# and the cgroup it made are undone whatever happens.
#
# Environment: DEB_MIRROR (default http://deb.debian.org/debian), DEB_TEST_ADDR (a
# loopback address for the gateway's listeners, default 127.87.0.1).
set -euo pipefail

cd "$(dirname "$0")/.."
repo="$PWD"

keep=0
deb=""
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h | --help)
      sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) deb="$arg" ;;
  esac
done

mirror="${DEB_MIRROR:-http://deb.debian.org/debian}"
addr="${DEB_TEST_ADDR:-127.87.0.1}"
work="$repo/target/deb-test"
cache="$work/bookworm-minbase.tar"
root="$work/root"
log="$work/log"
user="esia-gateway"
conf="/etc/esia-gateway/gateway.toml"

failures=0
failed_steps=()
step_name=""
step_failures=0
step_start=0
run_start=$SECONDS
gateway_pid=""
diary_pid=""

# --- reporting ------------------------------------------------------------------------
step() {
  step_name="$1"
  step_failures=0
  step_start=$SECONDS
  echo "== $step_name"
}
ok() { echo "   ok    $*"; }
bad() {
  echo "   FAIL  $*"
  step_failures=$((step_failures + 1))
  failures=$((failures + 1))
}
end_step() {
  local took=$((SECONDS - step_start))
  if ((step_failures == 0)); then
    echo "PASS  $step_name (${took}s)"
  else
    echo "FAIL  $step_name (${took}s, $step_failures failed)"
    failed_steps+=("$step_name")
  fi
}
# A failure after which the next steps cannot run.
fatal() {
  bad "$*"
  end_step
  exit 1
}
# check DESCRIPTION COMMAND...: ok or FAIL by the command's status.
check() {
  local what="$1"
  shift
  if "$@" >>"$log" 2>&1; then ok "$what"; else bad "$what"; fi
}
# expect DESCRIPTION ACTUAL WANTED
expect() {
  if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: '$2', expected '$3'"; fi
}

# --- the root -------------------------------------------------------------------------
# Commands in the root, with the bare environment a service or an admin shell gets.
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}
mounts_under() {
  awk -v r="$1" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
unmount_all() {
  local m
  for m in $(mounts_under "$root"); do
    umount "$m" 2>/dev/null || umount -l "$m" || echo "!! cannot unmount $m" >&2
  done
}
remove_root() {
  unmount_all
  if [ -n "$(mounts_under "$root")" ]; then
    echo "!! $root still has mounts; not removing it" >&2
    return 1
  fi
  # --one-file-system: never into a bind mount, even one that escaped the check above.
  rm -rf --one-file-system "$root"
}
stop_process() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local status=$?
  set +e
  stop_process "$gateway_pid"
  stop_process "$diary_pid"
  stop_systemd
  unmount_all
  if [ -d "$root" ]; then
    if ((keep == 0 && failures == 0 && status == 0)); then
      remove_root
    else
      echo "== the root is kept for inspection: $root (log: $log)"
    fi
  fi
  echo "== total $((SECONDS - run_start))s"
  if ((failures > 0 || status != 0)); then
    echo "RESULT: FAIL (${failed_steps[*]:-aborted})"
    exit 1
  fi
  echo "RESULT: PASS"
}

# --- systemd in namespaces (step 7) ----------------------------------------------------
# The root's own systemd as PID 1 of new PID, mount, UTS, IPC and cgroup namespaces (the
# network stays the host's), as systemd-nspawn would run it, so the unit starts with all
# of its sandbox (seccomp filter, read-only system, private /tmp, capabilities). /proc/sys
# and /sys are read-only and /dev is a fresh tmpfs with a few nodes: the booted system
# cannot change the host's kernel settings or reach its terminals. Skipped, not failed,
# where no cgroup v2 hierarchy is mounted (systemd needs one).
boot_script='set -e
root=$1
echo 0 >"$2/cgroup.procs"
mount --bind "$root" "$root" # a mount point, for the namespaces of the units
mount -t proc proc "$root/proc"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=755,nosuid tmpfs "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
  IFS=: read -r name major minor <<EOF
$node
EOF
  mknod -m 666 "$root/dev/$name" c "$major" "$minor"
done
mkdir "$root/dev/pts" "$root/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
exec unshare --cgroup /bin/sh -c "mount -t cgroup2 cgroup2 \"\$1/sys/fs/cgroup\" &&
  exec chroot \"\$1\" /usr/bin/env -i container=esia-gateway-deb-test /lib/systemd/systemd" sh "$root"'
sd_cgroup=""
sd_unshare=""
sd_pid=""
# A command inside the booted system (its mount and PID namespaces and root).
sd() {
  nsenter -t "$sd_pid" -m -p -r -w /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}
boot_systemd() {
  local v2 own
  v2=$(findmnt -n -t cgroup2 -o TARGET | head -n 1)
  if [ -z "$v2" ]; then
    skip_reason="no cgroup v2 hierarchy is mounted on this host"
    return 1
  fi
  own=$(sed -n 's/^0:://p' /proc/self/cgroup)
  sd_cgroup="$v2${own%/}/esia-gateway-deb-test.$$"
  if ! mkdir "$sd_cgroup" 2>/dev/null; then
    skip_reason="cannot make the cgroup $sd_cgroup"
    sd_cgroup=""
    return 1
  fi
  unshare --pid --fork --mount --uts --ipc --propagation private --kill-child \
    /bin/bash -c "$boot_script" boot "$root" "$sd_cgroup" >"$work/boot.log" 2>&1 &
  sd_unshare=$!
  for _ in $(seq 1 100); do
    sd_pid=$(cut -d' ' -f1 "/proc/$sd_unshare/task/$sd_unshare/children" 2>/dev/null || true)
    [ -n "$sd_pid" ] && [ "$(cat "/proc/$sd_pid/comm" 2>/dev/null)" = "systemd" ] && return 0
    kill -0 "$sd_unshare" 2>/dev/null || break
    sleep 0.1
  done
  skip_reason="systemd did not start: $(tr '\n' ' ' <"$work/boot.log")"
  return 1
}
# Powers the booted system off (SIGRTMIN+4), killed after 30 s; sd_stop says which.
sd_stop=""
stop_systemd() {
  [ -n "$sd_unshare" ] || return 0
  sd_stop="poweroff"
  if [ -n "$sd_pid" ] && kill -0 "$sd_pid" 2>/dev/null; then
    kill -s RTMIN+4 "$sd_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$sd_unshare" 2>/dev/null || break
      sleep 0.2
    done
    # PID 1 of a namespace: killing it ends every process in it.
    if kill -KILL "$sd_pid" 2>/dev/null; then sd_stop="killed"; fi
  fi
  wait "$sd_unshare" 2>/dev/null || true
  sd_unshare=""
  sd_pid=""
  if [ -n "$sd_cgroup" ] && [ -d "$sd_cgroup" ]; then
    for _ in $(seq 1 20); do
      find "$sd_cgroup" -depth -type d -exec rmdir {} + 2>/dev/null && break
      sleep 0.2
    done
  fi
  sd_cgroup=""
}

if [ "$(id -u)" -ne 0 ]; then
  echo "deploy/test-deb.sh needs root (debootstrap, chroot, mount): sudo $0 $*" >&2
  exit 2
fi
for tool in debootstrap curl openssl ss unshare nsenter findmnt; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "missing $tool (apt-get install debootstrap curl openssl iproute2 util-linux)" >&2
    exit 2
  }
done
mkdir -p "$work"
: >"$log"
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the package -------------------------------------------------------------------
step "1. package"
if [ -z "$deb" ]; then
  if ! cargo deb --version >/dev/null 2>&1; then
    fatal "cargo-deb is not installed (cargo install cargo-deb), or give PATH.deb"
  fi
  echo "   cargo build --release --locked && cargo deb --no-build (output in $log)"
  if ! cargo build --release --locked >>"$log" 2>&1; then
    tail -n 20 "$log"
    fatal "cargo build --release --locked failed"
  fi
  # cargo deb prints the package's path last on stdout.
  if ! deb=$(cargo deb --no-build 2>>"$log" | tail -n 1) || [ -z "$deb" ]; then
    tail -n 20 "$log"
    fatal "cargo deb --no-build failed"
  fi
fi
[ -f "$deb" ] || fatal "no package at $deb"
deb=$(realpath "$deb")
ok "$(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
echo "   depends: $(dpkg-deb -f "$deb" Depends)"
end_step

# --- 2. a clean root ------------------------------------------------------------------
step "2. clean Debian 12 root (debootstrap minbase)"
remove_root || fatal "cannot remove the previous root"
if [ ! -f "$cache" ]; then
  echo "   no cache: debootstrap bookworm from $mirror (a few minutes, once)"
  fresh="$work/bootstrap"
  rm -rf --one-file-system "$fresh"
  if ! debootstrap --variant=minbase --include=systemd bookworm "$fresh" "$mirror" >>"$log" 2>&1; then
    tail -n 20 "$log"
    fatal "debootstrap failed"
  fi
  rm -rf "$fresh"/var/cache/apt/archives/*.deb
  tar -C "$fresh" -cf "$cache.part" . && mv "$cache.part" "$cache"
  rm -rf --one-file-system "$fresh"
  ok "bootstrapped and cached as $cache ($(du -m "$cache" | cut -f1) MiB)"
else
  ok "pristine copy from $cache"
fi
mkdir -p "$root"
tar -C "$root" -xf "$cache"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# As in a container build: packages must not start services in this root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
# /dev with /dev/pts (apt wants a pty); a slave, so that nothing done here reaches the host.
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
ok "root at $root, /proc and /dev mounted"
check "no esia-gateway user before the install" bash -c "! chroot '$root' getent passwd $user"
end_step

# --- 3. install -----------------------------------------------------------------------
step "3. apt-get install ./$(basename "$deb")"
# Not in /tmp: the boot in step 7 empties it.
cp "$deb" "$root/root/esia-gateway.deb"
if ! in_root apt-get update -q >>"$log" 2>&1; then
  fatal "apt-get update in the root failed (mirror $mirror)"
fi
if in_root apt-get install -y -q /root/esia-gateway.deb >"$work/install.log" 2>&1; then
  cat "$work/install.log" >>"$log"
  ok "installed; pulled from the mirror: $(sed -n 's/^Setting up \([^:( ]*\).*/\1/p' "$work/install.log" |
    grep -vx esia-gateway | tr '\n' ' ')"
else
  cat "$work/install.log"
  fatal "apt-get install failed"
fi
if grep -Ei "^[EW]:|warning|error|can ?not|failed" "$work/install.log" >"$work/install-warnings.log"; then
  bad "the install printed warnings: $(tr '\n' ' ' <"$work/install-warnings.log")"
else
  ok "no warnings or errors in the install output"
fi
expect "package state" "$(in_root dpkg-query -W -f='${Status}' esia-gateway)" "install ok installed"
end_step

# --- 4. what postinst made --------------------------------------------------------------
stat_of() { in_root stat -c '%U:%G %a' "$1" 2>/dev/null || echo missing; }
step "4. postinst: user, directories, conffile, enabled unit"
passwd_line=$(in_root getent passwd "$user" || true)
if [ -n "$passwd_line" ]; then
  IFS=: read -r _ _ uid gid _ home shell <<<"$passwd_line"
  ok "user $user (uid $uid, home $home, shell $shell)"
  if ((uid < 1000)); then ok "a system uid"; else bad "uid $uid is not a system uid"; fi
  expect "home" "$home" "/var/lib/esia-gateway"
  expect "primary group" "$(in_root getent group "$gid" | cut -d: -f1)" "$user"
  case "$shell" in */nologin | */false) ok "no login shell" ;; *) bad "login shell $shell" ;; esac
else
  bad "no user $user"
fi
expect "/var/lib/esia-gateway" "$(stat_of /var/lib/esia-gateway)" "$user:$user 750"
expect "/etc/esia-gateway/keys" "$(stat_of /etc/esia-gateway/keys)" "$user:$user 700"
expect "/etc/esia-gateway/certs" "$(stat_of /etc/esia-gateway/certs)" "root:root 755"
expect "$conf" "$(stat_of "$conf")" "root:$user 640"
expect "/etc/esia-gateway/data" "$(in_root readlink /etc/esia-gateway/data || echo missing)" "/var/lib/esia-gateway"
expect "/usr/bin/esia-gateway" "$(stat_of /usr/bin/esia-gateway)" "root:root 755"
if in_root dpkg-query -W -f='${Conffiles}\n' esia-gateway | grep -q "^ $conf "; then
  ok "$conf is a conffile"
else
  bad "$conf is not a conffile"
fi
unit=$(in_root dpkg -L esia-gateway | grep '/systemd/system/esia-gateway\.service$' || true)
if [ -n "$unit" ] && [ -f "$root$unit" ]; then
  ok "unit $unit"
else
  fatal "no esia-gateway.service in the package"
fi
# (deb-systemd-helper links /lib/systemd/system/…; /lib is /usr/lib on Debian 12)
expect "enabled: multi-user.target.wants/esia-gateway.service ->" \
  "$(in_root readlink -f /etc/systemd/system/multi-user.target.wants/esia-gateway.service || echo missing)" \
  "$unit"
expect "systemctl is-enabled (offline)" "$(in_root systemctl is-enabled esia-gateway 2>&1 || true)" "enabled"
if in_root systemd-analyze verify "$unit" >"$work/verify.log" 2>&1; then
  ok "systemd-analyze verify: no complaints"
else
  bad "systemd-analyze verify: $(tr '\n' ' ' <"$work/verify.log")"
fi
end_step

# --- 5. configure as an operator would, check-config as the service user ---------------
unit_value() { sed -n "s/^$1=//p" "$root$unit" | head -n 1; }
exec_start_pre=$(unit_value ExecStartPre)
exec_start=$(unit_value ExecStart)
exec_reload=$(unit_value ExecReload)
unit_user=$(unit_value User)
unit_group=$(unit_value Group)
unit_umask=$(unit_value UMask)
unit_caps=$(unit_value AmbientCapabilities)
unit_stop=$(unit_value TimeoutStopSec)

# A command as the unit runs it: its user and group, a bare environment, cwd /, its umask,
# no new privileges and only its ambient capabilities (what setpriv can stand in for;
# the namespaces, system-call filter and read-only system of the unit are systemd's).
service_command() {
  # CAP_NET_BIND_SERVICE CAP_X -> +net_bind_service,+x (setpriv's names)
  local caps=""
  if [ -n "$unit_caps" ]; then
    caps=$(echo "$unit_caps" | tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ \{1,\}/,/g')
  fi
  svc=(chroot "$root" /bin/sh -c 'umask "$1"; shift; cd /; exec "$@"' sh "${unit_umask:-0022}"
    /usr/bin/setpriv --reuid="$unit_user" --regid="$unit_group" --init-groups --no-new-privs
    --inh-caps="-all${caps:+,$caps}" --ambient-caps="-all${caps:+,$caps}"
    --bounding-set="-all${caps:+,$caps}" --
    /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/esia-gateway
    USER="$unit_user" LOGNAME="$unit_user" SHELL=/usr/sbin/nologin "$@")
}
as_service() {
  service_command "$@"
  "${svc[@]}"
}
# Is a TCP port free on $addr (nobody on it or on the wildcard)?
port_free() {
  ! ss -Hltn | awk '{ print $4 }' | grep -Eq "^(\\*|0\\.0\\.0\\.0|\\[::\\]|$addr):$1\$"
}
pick_port() {
  local p
  for p in "$@"; do
    port_free "$p" && {
      echo "$p"
      return
    }
  done
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    port_free "$p" && {
      echo "$p"
      return
    }
  done
  echo 0
}

step "5. configure (certificate, vault key, store, ports) and check-config as $unit_user"
expect "User=" "$unit_user" "$user"
expect "ExecStartPre=" "$exec_start_pre" "/usr/bin/esia-gateway check-config --config $conf"
expect "ExecStart=" "$exec_start" "/usr/bin/esia-gateway run --config $conf"
# The shipped ports (443, 80) on a loopback address of their own, bound through the
# unit's CAP_NET_BIND_SERVICE; free high ports where something holds them already.
https_port=$(pick_port 443)
http_port=$(pick_port 80)
admin_port=$(pick_port 9090)
diary_port=$(pick_port 8080)
for p in "$https_port" "$http_port" "$admin_port" "$diary_port"; do
  [ "$p" != 0 ] || fatal "no free port on $addr"
done
echo "   listeners on $addr: https $https_port, http $http_port, admin $admin_port; diary $diary_port"
cp "$root$conf" "$root/tmp/gateway.toml.shipped"
# The minimal edits: where to listen and where the diary is; a store and a vault key so
# that data/ (-> /var/lib/esia-gateway) and keys/ are used as the config documents them.
sed -i \
  -e "/^\[listen\]/,/^\[/ s|^https = .*|https = \"$addr:$https_port\"|" \
  -e "/^\[listen\]/,/^\[/ s|^http = .*|http = \"$addr:$http_port\"|" \
  -e "/^\[listen\]/,/^\[/ s|^admin = .*|admin = \"$addr:$admin_port\"|" \
  -e "/^\[upstream\]/,/^\[/ s|^url = .*|url = \"http://$addr:$diary_port\"|" \
  "$root$conf"
cat >>"$root$conf" <<'EOF'

# Added by deploy/test-deb.sh.
[store]
backend = "sqlite"
path = "data/gateway.db"

[vault]
key = "keys/vault.key"
EOF
echo "   the edits to $conf:"
diff -u "$root/tmp/gateway.toml.shipped" "$root$conf" | grep '^[-+][^-+]' | sed 's/^/     /' || true
# A self-signed certificate for the gateway, the key readable by the service's group.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:$addr" \
  -keyout "$work/gateway.key" -out "$work/gateway.pem" >>"$log" 2>&1
install -m 0644 "$work/gateway.pem" "$root/etc/esia-gateway/certs/gateway.pem"
install -m 0640 "$work/gateway.key" "$root/etc/esia-gateway/certs/gateway.key"
in_root chgrp "$user" /etc/esia-gateway/certs/gateway.key
ok "self-signed certificate in certs/ (key root:$user 0640)"
if as_service /usr/bin/esia-gateway keys generate --config "$conf" >"$work/keys.log" 2>&1; then
  ok "$(head -n 1 "$work/keys.log")"
else
  bad "keys generate as $unit_user: $(tr '\n' ' ' <"$work/keys.log")"
fi
expect "keys/vault.key" "$(stat_of /etc/esia-gateway/keys/vault.key)" "$user:$user 600"
# `run` opens the store only with [esia]; `keys status` opens it too, through data/.
if as_service /usr/bin/esia-gateway keys status --config "$conf" >"$work/keys-status.log" 2>&1; then
  ok "keys status as $unit_user opened the store"
else
  bad "keys status as $unit_user: $(tr '\n' ' ' <"$work/keys-status.log")"
fi
expect "data/gateway.db -> /var/lib/esia-gateway/gateway.db" \
  "$(stat_of /var/lib/esia-gateway/gateway.db)" "$user:$user 600"
# shellcheck disable=SC2086 # the unit's command line, split as systemd splits it
if as_service $exec_start_pre >"$work/check-config.log" 2>&1; then
  ok "ExecStartPre (check-config) as $unit_user: $(tail -n 1 "$work/check-config.log")"
else
  cat "$work/check-config.log"
  fatal "ExecStartPre (check-config) as $unit_user failed"
fi
end_step

# --- 6. run ---------------------------------------------------------------------------
# Polls /healthz while the command "$@" succeeds (the gateway is alive); prints the answer.
wait_healthz() {
  local answer=""
  for _ in $(seq 1 150); do
    "$@" || break
    answer=$(curl -fsS --max-time 2 "http://$addr:$admin_port/healthz" 2>/dev/null) && break
    sleep 0.2
  done
  echo "$answer"
}
# The browser side: the diary's login page through the gateway over TLS, and the policy.
page_checks() {
  local code policy
  code=$(curl -ksS -o "$work/login.html" -w '%{http_code}' --max-time 10 \
    --resolve "localhost:$https_port:$addr" "https://localhost:$https_port/login" || true)
  if [ "$code" = "200" ] && grep -q 'page-login' "$work/login.html"; then
    ok "GET https://…/login over TLS: 200, the diary's login page through the gateway"
  else
    bad "GET https://…/login: $code, $(head -c 300 "$work/login.html" 2>/dev/null)"
  fi
  # A page no route group names needs a session after the cutover (seed 004's
  # calendar): the gateway's policy answers, not the diary.
  policy=$(curl -ksS -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 10 \
    --resolve "localhost:$https_port:$addr" "https://localhost:$https_port/" || true)
  case "$policy" in
    302\ https://localhost:"$https_port"/esia/start*) ok "GET / with no session: the calendar's policy answers $policy" ;;
    *) bad "GET / with no session: $policy, expected 302 to /esia/start" ;;
  esac
}
# no_errors_in LOG [EXPECTED]: no ERROR or panic in the log but lines matching EXPECTED (ERE).
no_errors_in() {
  local errors
  errors=$(grep -Ei '(^|[^a-z])(ERROR|panicked)' "$1" | grep -Ev -e "${2:-^$}" | head -n 3 | tr '\n' ' ' || true)
  if [ -n "$errors" ]; then
    bad "errors in the gateway's log: $errors"
  else
    ok "no errors in the gateway's log ($(wc -l <"$1") lines${2:+, but the expected one})"
  fi
}
start_diary() {
  # The diary: the package's own demo diary, in the root, as nobody (one for steps 6, 7).
  [ -n "$diary_pid" ] && kill -0 "$diary_pid" 2>/dev/null && return 0
  # chroot execs: $! is the diary.
  chroot --userspec=nobody:nogroup "$root" /usr/bin/esia-gateway demo-diary \
    --listen "$addr:$diary_port" >>"$work/diary.log" 2>&1 &
  diary_pid=$!
}

step "6. run without systemd: ExecStart as $unit_user, healthz, TLS, reload, SIGTERM"
start_diary
# shellcheck disable=SC2086
service_command $exec_start
# A simple command: $! is chroot's pid, which execs sh, setpriv, env and the gateway.
"${svc[@]}" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
started=$SECONDS
if [ "$(wait_healthz kill -0 "$gateway_pid")" = "ok" ]; then
  ok "GET /healthz on the admin listener: ok, $((SECONDS - started))s after the start"
else
  cat "$work/gateway.log"
  fatal "the gateway did not answer /healthz (log above)"
fi
status_line() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$gateway_pid/status"; }
expect "the process' uid" "$(status_line Uid)" "$uid"
if [ "$unit_caps" = "CAP_NET_BIND_SERVICE" ]; then
  expect "its ambient capabilities (CAP_NET_BIND_SERVICE = bit 10)" "$(status_line CapAmb)" "0000000000000400"
fi
expect "no new privileges" "$(status_line NoNewPrivs)" "1"
check "GET /readyz: 200" curl -fsS --max-time 5 "http://$addr:$admin_port/readyz"
page_checks
redirect=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 \
  "http://$addr:$http_port/login" || true)
case "$redirect" in
  30[1278]\ https://*) ok "plain HTTP redirects: $redirect" ;;
  *) bad "plain HTTP answer: $redirect" ;;
esac
subject=$(echo | openssl s_client -connect "$addr:$https_port" -servername localhost 2>/dev/null |
  openssl x509 -noout -subject 2>/dev/null || true)
expect "the certificate served" "${subject// /}" "subject=CN=localhost"
# systemctl reload: ExecReload as the service user, $MAINPID the gateway.
reload_cmd=${exec_reload//\$MAINPID/$gateway_pid}
# shellcheck disable=SC2086
if as_service $reload_cmd >"$work/reload.log" 2>&1; then
  ok "ExecReload ($exec_reload): $(tail -n 1 "$work/reload.log")"
else
  bad "ExecReload ($exec_reload): $(tr '\n' ' ' <"$work/reload.log")"
fi
reloaded=0
for _ in $(seq 1 50); do
  grep -q "configuration reloaded" "$work/gateway.log" && reloaded=1 && break
  sleep 0.1
done
if ((reloaded)) && kill -0 "$gateway_pid" 2>/dev/null &&
  [ "$(curl -fsS --max-time 2 "http://$addr:$admin_port/healthz" 2>/dev/null)" = "ok" ]; then
  ok "the gateway logged \"configuration reloaded\" and still answers"
else
  bad "no reload in the gateway's log, or it stopped answering"
fi
# systemctl stop: SIGTERM, then TimeoutStopSec before SIGKILL.
kill -TERM "$gateway_pid"
stop_start=$SECONDS
stopped=0
for _ in $(seq 1 $((${unit_stop:-45} * 10))); do
  kill -0 "$gateway_pid" 2>/dev/null || {
    stopped=1
    break
  }
  sleep 0.1
done
if ((stopped)); then
  set +e
  wait "$gateway_pid"
  rc=$?
  set -e
  gateway_pid=""
  expect "exit status after SIGTERM ($((SECONDS - stop_start))s)" "$rc" "0"
else
  bad "still running ${unit_stop:-45}s (TimeoutStopSec) after SIGTERM"
fi
no_errors_in "$work/gateway.log"
end_step

# --- 7. under systemd (boot_systemd above) --------------------------------------------
step "7. under systemd: boot the root, the unit starts enabled, reload, stop"
skip_reason=""
if boot_systemd; then
  booted=$SECONDS
  # Its manager socket first (is-system-running answers), then the end of the boot.
  for _ in $(seq 1 300); do
    [ -n "$(sd systemctl is-system-running 2>/dev/null || true)" ] && break
    sleep 0.1
  done
  state=$(timeout 120 nsenter -t "$sd_pid" -m -p -r -w /usr/bin/systemctl is-system-running --wait 2>/dev/null || true)
  ok "systemd $(sd systemctl --version | head -n 1 | cut -d' ' -f2 || true) booted as PID 1 of its namespaces: $state in $((SECONDS - booted))s"
  failed_units=$(sd systemctl list-units --failed --plain --no-legend | cut -d' ' -f1 | tr '\n' ' ' || true)
  [ -z "$failed_units" ] || echo "   note  failed units in the booted root: $failed_units"
  expect "esia-gateway.service (enabled, started at boot)" "$(sd systemctl is-active esia-gateway || true)" "active"
  start_diary
  if [ "$(wait_healthz sd systemctl -q is-active esia-gateway)" = "ok" ]; then
    ok "GET /healthz: ok"
  else
    bad "no answer on /healthz: $(sd systemctl status esia-gateway --no-pager -n 20 | tr '\n' ' ')"
  fi
  main_pid=$(sd systemctl show -p MainPID --value esia-gateway || echo 0)
  if [ "${main_pid:-0}" != 0 ]; then
    sd_status() { sd awk -v k="$1:" '$1 == k { print $2 }' "/proc/$main_pid/status" || true; }
    expect "main process uid" "$(sd_status Uid)" "$uid"
    expect "seccomp (SystemCallFilter)" "$(sd_status Seccomp)" "2"
    expect "no new privileges" "$(sd_status NoNewPrivs)" "1"
    expect "effective capabilities (CAP_NET_BIND_SERVICE only)" "$(sd_status CapEff)" "0000000000000400"
    expect "capability bounding set" "$(sd_status CapBnd)" "0000000000000400"
    # ProtectSystem=strict: / is read-only in its mount namespace, its state dir is not.
    mounts=$(sd awk '$5 == "/" || $5 == "/var/lib/esia-gateway" { split($6, o, ","); print $5 " " o[1] }' \
      "/proc/$main_pid/mountinfo" | sort -u | tr '\n' ' ' || true)
    case "$mounts" in
      "/ ro /var/lib/esia-gateway rw ") ok "ProtectSystem=strict, ReadWritePaths: $mounts" ;;
      *) bad "its mounts: '$mounts', expected / ro, /var/lib/esia-gateway rw" ;;
    esac
  else
    bad "esia-gateway.service has no main process"
  fi
  page_checks
  echo "   note  systemd-analyze security: $(sd systemd-analyze security esia-gateway --no-pager 2>/dev/null |
    tail -n 1 | sed 's/^→ //' || true)"
  # systemctl reload = ExecReload: a broken file is refused and the gateway keeps running.
  cp "$root$conf" "$work/gateway.toml.good"
  printf '\n[listen]\n' >>"$root$conf"
  if sd systemctl reload esia-gateway >"$work/sd-reload-bad.log" 2>&1; then
    bad "systemctl reload accepted a broken gateway.toml"
  else
    ok "systemctl reload refuses a broken gateway.toml"
  fi
  expect "and the gateway still runs" "$(sd systemctl is-active esia-gateway || true)" "active"
  cat "$work/gateway.toml.good" >"$root$conf"
  if sd systemctl reload esia-gateway >"$work/sd-reload.log" 2>&1; then
    ok "systemctl reload with the good file"
  else
    bad "systemctl reload: $(tr '\n' ' ' <"$work/sd-reload.log")"
  fi
  stop_start=$SECONDS
  sd systemctl stop esia-gateway || true
  expect "systemctl stop ($((SECONDS - stop_start))s): Result, exit status" \
    "$(sd systemctl show -p Result --value esia-gateway) $(sd systemctl show -p ExecMainStatus --value esia-gateway)" \
    "success 0"
  sd journalctl -u esia-gateway -o cat --no-pager >"$work/journal.log" 2>&1 || true
  if grep -q "configuration reloaded" "$work/journal.log"; then
    ok "the journal shows the reload"
  else
    bad "no reload in the journal"
  fi
  # The broken file's error, from ExecReload.
  broken="duplicate key \`listen\`"
  if grep -q "$broken" "$work/journal.log"; then
    ok "the journal says why: $(grep -m 1 -o 'gateway.toml:[0-9:]* TOML syntax error[^(]*' "$work/journal.log")"
  else
    bad "the journal does not say why the reload was refused"
  fi
  no_errors_in "$work/journal.log" "$broken|: 1 configuration error\\(s\\):\$"
  off_start=$SECONDS
  stop_systemd
  expect "systemctl poweroff ($((SECONDS - off_start))s)" "$sd_stop" "poweroff"
  end_step
else
  stop_systemd
  echo "SKIP  $step_name: $skip_reason"
fi
stop_process "$diary_pid"
diary_pid=""

# --- 8. purge ------------------------------------------------------------------------
step "8. dpkg --purge (with operator data)"
if in_root dpkg --purge esia-gateway >"$work/purge.log" 2>&1; then
  ok "purged"
else
  cat "$work/purge.log"
  bad "dpkg --purge failed"
fi
expect "package state" "$(in_root dpkg-query -W -f='${Status}' esia-gateway 2>/dev/null || echo 'not known')" "not known"
gone() { [ ! -e "$root$1" ] && [ ! -L "$root$1" ]; }
check "/usr/bin/esia-gateway removed" gone /usr/bin/esia-gateway
check "$unit removed" gone "$unit"
check "the enablement symlink removed" gone /etc/systemd/system/multi-user.target.wants/esia-gateway.service
check "the conffile removed" gone "$conf"
check "the data/ link removed" gone /etc/esia-gateway/data
check "vault key kept (never deleted)" test -f "$root/etc/esia-gateway/keys/vault.key"
check "certificates kept" test -f "$root/etc/esia-gateway/certs/gateway.pem"
check "the store kept (never deleted)" test -f "$root/var/lib/esia-gateway/gateway.db"
check "user $user kept (Debian keeps system users)" in_root getent passwd "$user"
end_step

# --- 9. reinstall and purge with no operator data ---------------------------------------
step "9. install over the existing user, purge with no operator data"
rm -rf "$root/etc/esia-gateway" "$root/var/lib/esia-gateway"
if in_root apt-get install -y -q /root/esia-gateway.deb >"$work/install2.log" 2>&1; then
  ok "installed again (the user already existed)"
else
  cat "$work/install2.log"
  fatal "the second install failed"
fi
expect "/var/lib/esia-gateway" "$(stat_of /var/lib/esia-gateway)" "$user:$user 750"
expect "/etc/esia-gateway/keys" "$(stat_of /etc/esia-gateway/keys)" "$user:$user 700"
if in_root dpkg --purge esia-gateway >"$work/purge2.log" 2>&1; then ok "purged"; else bad "dpkg --purge failed"; fi
check "/etc/esia-gateway removed" gone /etc/esia-gateway
check "/var/lib/esia-gateway removed (it was empty)" gone /var/lib/esia-gateway
end_step
