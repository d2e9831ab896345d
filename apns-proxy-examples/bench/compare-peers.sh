#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the apns-proxy bench against peers, side by side in one table: HAProxy and nginx (TCP) doing the same
# virtual-address -> courier splice as apns-proxy, dnsmasq and unbound (DNS) serving the same courier A records.
#
#   apns-proxy-examples/bench/compare-peers.sh [--no-install] [bench options, e.g. --quick or --only bulk,dns]
#
# What it does, on loopback only (127.0.0.0/8, ports >= 1024):
#   1. installs haproxy, nginx-light + libnginx-mod-stream, dnsmasq-base, unbound and dnsperf from Debian's packages
#      if missing (as root, or with sudo), with service start-up blocked (policy-rc.d) so no daemon binds anything
#      during the install;
#   2. asks the bench for the courier map (`bench --emit-map CIDR`: front address, upstream, name) and writes:
#      HAProxy: `mode tcp`, one frontend bound to each 127.100.121.N:5223 -> its courier's upstream, nbthread 1;
#      nginx: `stream` with `map $server_addr $upstream`, one worker;
#      dnsmasq and unbound: the couriers' A records (apns-proxy's addresses) on 127.0.0.1 high ports;
#   3. starts each pinned to the proxy CPU (taskset -c $PROXY_CPU, default 0), like the bench pins apns-proxy;
#   4. runs `apns-proxy.jar bench --peer haproxy,pid=..,subnet=.. --peer nginx,pid=..,subnet=..
#      --dns-peer dnsmasq,pid=..,addr=.. --dns-peer unbound,pid=..,addr=..` plus your options; the bench starts the
#      upstream servers and apns-proxy itself, and measures everything (direct included) in the same run;
#   5. stops every daemon it started (by PID) on exit.
#
# Environment: JAR (default apns-proxy-examples/target/apns-proxy.jar), JAVA (default java), PROXY_CPU (0),
# BENCH_CMD (default "$JAVA -jar $JAR bench"), WORK (a directory for configs and logs; default a new temp dir).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
JAR=${JAR:-$root/apns-proxy-examples/target/apns-proxy.jar}
JAVA=${JAVA:-java}
PROXY_CPU=${PROXY_CPU:-0}
BENCH_CMD=${BENCH_CMD:-"$JAVA -jar $JAR bench"}

proxy_subnet=127.100.110.0/24
haproxy_subnet=127.100.121.0/24
nginx_subnet=127.100.122.0/24
dnsmasq_port=15353
unbound_port=15354

install=yes
if [ "${1:-}" = "--no-install" ]; then
  install=no
  shift
fi

log() { echo "compare-peers: $*" >&2; }

# ------------------------------------------------------------------------------------------------ 1. packages
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    log "need root or sudo to run: $*"
    return 1
  fi
}

stream_module() {
  for f in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
    if [ -f "$f" ]; then echo "$f"; return 0; fi
  done
  return 1
}

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
stream_module >/dev/null || missing+=(libnginx-mod-stream)
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v unbound >/dev/null 2>&1 || missing+=(unbound)
command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
if [ ${#missing[@]} -gt 0 ]; then
  if [ $install = no ]; then
    log "missing ${missing[*]} and --no-install given"
    exit 1
  fi
  log "installing ${missing[*]}"
  # keep package scripts from starting daemons (nginx would bind 0.0.0.0:80, unbound port 53): Debian's
  # policy-rc.d convention, only if no policy is in place already, removed again afterwards
  policy_added=no
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    policy_added=yes
  fi
  status=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
         && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    || status=$?
  if [ $policy_added = yes ]; then
    as_root rm -f /usr/sbin/policy-rc.d
  fi
  if [ $status != 0 ]; then
    log "apt-get install ${missing[*]} failed ($status)"
    exit 1
  fi
fi
nginx_stream=$(stream_module) || { log "nginx stream module not found after install"; exit 1; }

# ------------------------------------------------------------------------------------------------ 2. configs
work=${WORK:-$(mktemp -d /tmp/apns-proxy-peers.XXXXXX)}
mkdir -p "$work"
log "configs and logs in $work"

pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  sleep 0.5
  for p in "${pids[@]}"; do
    kill -9 "$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# the map (FRONT:PORT UPSTREAM:PORT NAME per courier) with the caller's options, so --couriers, --port and
# --upstream-base apply to the peers too
for t in proxy haproxy nginx; do
  subnet_var=${t}_subnet
  # shellcheck disable=SC2086
  $BENCH_CMD "$@" --emit-map "${!subnet_var}" > "$work/map-$t.txt"
done

{
  echo "global"
  echo "  nbthread 1"
  echo "  maxconn 9900"
  echo "defaults"
  echo "  mode tcp"
  echo "  timeout connect 5s"
  echo "  timeout client 1h"
  echo "  timeout server 1h"
  i=0
  while read -r front upstream name; do
    echo "frontend courier$i # $name"
    echo "  bind $front"
    echo "  default_backend upstream$i"
    echo "backend upstream$i"
    echo "  server courier$i $upstream"
    i=$((i + 1))
  done < "$work/map-haproxy.txt"
} > "$work/haproxy.cfg"

{
  echo "load_module $nginx_stream;"
  echo "worker_processes 1;"
  echo "worker_rlimit_nofile 20000;"
  echo "daemon off;"
  echo "pid $work/nginx.pid;"
  echo "error_log $work/nginx-error.log warn;"
  echo "events { worker_connections 19900; }"
  echo "stream {"
  echo "  map \$server_addr \$upstream {"
  while read -r front upstream name; do
    echo "    ${front%:*} $upstream; # $name"
  done < "$work/map-nginx.txt"
  echo "  }"
  echo "  server {"
  while read -r front upstream name; do
    echo "    listen $front;"
  done < "$work/map-nginx.txt"
  echo "    proxy_pass \$upstream;"
  echo "    proxy_connect_timeout 5s;"
  echo "    proxy_timeout 1h;"
  echo "    proxy_half_close on; # like apns-proxy and HAProxy: after EOF one way, the other way goes on"
  echo "  }"
  echo "}"
} > "$work/nginx.conf"

dnsmasq_records=()
{
  echo "server:"
  echo "  interface: 127.0.0.1"
  echo "  port: $unbound_port"
  echo "  do-ip6: no"
  echo "  do-daemonize: no"
  echo "  username: \"\""
  echo "  chroot: \"\""
  echo "  directory: \"$work\""
  echo "  pidfile: \"$work/unbound.pid\""
  echo "  use-syslog: no"
  echo "  logfile: \"\""
  echo "  num-threads: 1"
  echo "  module-config: \"iterator\""
  echo "  access-control: 127.0.0.0/8 allow"
  echo "  local-zone: \"push.apple.com.\" static"
  while read -r front upstream name; do
    echo "  local-data: \"$name. 30 IN A ${front%:*}\""
    dnsmasq_records+=("--host-record=$name,${front%:*}")
  done < "$work/map-proxy.txt"
  echo "remote-control:"
  echo "  control-enable: no"
} > "$work/unbound.conf"

# ------------------------------------------------------------------------------------------------ 3. daemons
pin=(taskset -c "$PROXY_CPU")
if [ "$(nproc)" -lt 2 ]; then
  pin=()
fi

wait_port() { # host port proto: bounded wait until something listens
  for _ in $(seq 1 100); do
    if [ "$3" = tcp ] && (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    if [ "$3" = udp ] && ss -Hlun "src $1:$2" 2>/dev/null | grep -q .; then return 0; fi
    sleep 0.1
  done
  return 1
}

first_front() { head -1 "$1" | cut -d' ' -f1; } # HOST:PORT

haproxy -c -f "$work/haproxy.cfg" >/dev/null
"${pin[@]}" haproxy -db -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=("$haproxy_pid")

"${pin[@]}" nginx -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf" > "$work/nginx.log" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")

"${pin[@]}" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
  --listen-address=127.0.0.1 --port=$dnsmasq_port -u "$(id -un)" --pid-file="$work/dnsmasq.pid" --log-facility=- \
  "${dnsmasq_records[@]}" > "$work/dnsmasq.log" 2>&1 &
dnsmasq_pid=$!
pids+=("$dnsmasq_pid")

"${pin[@]}" unbound -d -c "$work/unbound.conf" > "$work/unbound.log" 2>&1 &
unbound_pid=$!
pids+=("$unbound_pid")

wait_port "$(first_front "$work/map-haproxy.txt" | cut -d: -f1)" "$(first_front "$work/map-haproxy.txt" | cut -d: -f2)" tcp || { log "haproxy did not start:"; cat "$work/haproxy.log" >&2; exit 1; }
wait_port "$(first_front "$work/map-nginx.txt" | cut -d: -f1)" "$(first_front "$work/map-nginx.txt" | cut -d: -f2)" tcp || { log "nginx did not start:"; cat "$work/nginx-error.log" "$work/nginx.log" >&2; exit 1; }
wait_port 127.0.0.1 $dnsmasq_port udp || { log "dnsmasq did not start:"; cat "$work/dnsmasq.log" >&2; exit 1; }
wait_port 127.0.0.1 $unbound_port udp || { log "unbound did not start:"; cat "$work/unbound.log" >&2; exit 1; }

# nginx's connections live in its worker: sample that process (the master only supervises)
nginx_worker=""
for _ in $(seq 1 50); do
  nginx_worker=$(pgrep -P "$nginx_pid" | head -1 || true)
  [ -n "$nginx_worker" ] && break
  sleep 0.1
done
[ -n "$nginx_worker" ] || { log "no nginx worker process"; exit 1; }
# dnsmasq -k stays in the foreground: its PID is the one we started
log "haproxy pid $haproxy_pid, nginx worker pid $nginx_worker, dnsmasq pid $dnsmasq_pid, unbound pid $unbound_pid"
log "$(haproxy -v | head -1); $(nginx -v 2>&1); $(dnsmasq --version | head -1); $(unbound -V | head -1)"

# ------------------------------------------------------------------------------------------------ 4. the bench
# shellcheck disable=SC2086
# --proxy-cpu: the bench counts every target's CPU as the busy share of this core, where the daemons run
$BENCH_CMD --proxy-cpu "$PROXY_CPU" \
  --peer "haproxy,pid=$haproxy_pid,subnet=$haproxy_subnet" \
  --peer "nginx,pid=$nginx_worker,subnet=$nginx_subnet" \
  --dns-peer "dnsmasq,pid=$dnsmasq_pid,addr=127.0.0.1:$dnsmasq_port" \
  --dns-peer "unbound,pid=$unbound_pid,addr=127.0.0.1:$unbound_port" \
  "$@"
