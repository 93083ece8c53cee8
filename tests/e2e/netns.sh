# SPDX-License-Identifier: GPL-2.0-or-later
# Hosts on a private LAN for end-to-end tests that need real mDNS: network
# namespaces joined by veth pairs to a bridge, each host with its own
# dbus-daemon and avahi-daemon. Nothing is ever attached to a real interface
# and no daemon runs in the root namespace, so every packet stays inside
# namespaces the test made (PLATFORM.md "Test traffic stays on this machine").
#
# Source it after lib.sh. Needs root and network namespaces; without them the
# test fails at once, saying what is missing (it does not skip).
#
#   ns_host NAME                  a host: network namespace + private mount
#                                 namespace (its own /run), lo up
#   ns_run NAME CMD...            runs CMD in the host (cwd kept)
#   ns_bg NAME CMD...             same, in the background; its pid (the
#                                 program itself) goes to PIDS and NS_PID
#   ns_lan                        the LAN: a bridge in a "switch" namespace
#   ns_attach NAME ADDR/PREFIX    plugs the host in: veth "lan0" in the host,
#                                 ADDR on it, up
#   ns_detach NAME                unplugs it (deletes the veth pair)
#   ns_addr_add NAME ADDR/PREFIX  one more address on lan0 (DHCP-like hand-over:
#                                 the other hosts forget that address's MAC)
#   ns_addr_del NAME ADDR/PREFIX  removes one
#   ns_avahi NAME [IFACE]         dbus-daemon --system + avahi-daemon in the
#                                 host on IFACE (default lan0 if attached,
#                                 else lo), returns once avahi answers there;
#                                 again after ns_avahi_stop: avahi only
#   ns_avahi_stop NAME [--bus]    stops the host's avahi-daemon (and with
#                                 --bus its dbus-daemon too)
#   ns_gateway NAME [ARGS...]     hearthd in the host, like lib.sh's
#                                 start_gateway (GATEWAY_PID, STREAM_PORT,
#                                 stop_gateway); listens on 0.0.0.0 unless
#                                 ARGS say otherwise
#   ns_browse NAME TYPE           avahi-browse -rptk TYPE in the host: one
#                                 "=;…" line per resolved service
#   ns_sees / ns_lost NAME TYPE ERE  whether one of them matches ERE (for
#                                 wait_for)
#   ns_ip NAME                    the host's first IPv4 address on lan0
#   ns_camera HOST NAME [ARGS...] a fake camera in HOST on 0.0.0.0:RTSP_PORT
#                                 (default 8554): CAM_ID_NAME, CAM_PID_NAME
#   ns_display HOST NAME ARGS...  hearth-display NAME run in HOST
#
# Timings seen (tests/e2e/netns-selftest.sh logs them): avahi-daemon is up
# about 1 s after it starts (host name probing); a new service is resolved
# across the LAN within about 1 s of its publication; a withdrawn one is gone
# at the next browse. One ns_browse itself takes about 1 s (avahi-browse -t
# waits for "all for now"), so ns_sees/ns_lost poll at that pace: give
# wait_for 10 s or more.
#
# Names: NAME is [a-z0-9-], at most 20 characters. Namespaces are called
# "h<pid of the test>-NAME", so several tests (meson test runs them in
# parallel) never share one; ports and interface names are per namespace, so
# tests may use fixed ones inside.
#
# Inside a host, /run is a private tmpfs: dbus-daemon and avahi-daemon use
# their default paths (/run/dbus/system_bus_socket, /run/avahi-daemon) and
# clients run through ns_run find them with no DBUS_SYSTEM_BUS_ADDRESS.
#
# IPv6: new interfaces of every namespace get no IPv6 at all (no link-local
# address, so no duplicate address detection to wait for), and avahi runs
# with use-ipv6=no and publish-aaaa-on-ipv4=no: a service resolves to the
# host's IPv4 address on the LAN, nothing else. lo keeps ::1.
#
# Cleanup, at exit whatever the outcome (a CLEANUP_HOOKS entry of lib.sh):
# every process in the test's namespaces is killed and the namespaces are
# deleted, which deletes their veths and the bridge. A run killed outright
# (SIGKILL) can leave empty namespaces behind; the next run deletes those of
# test processes that no longer exist.

NS_PREFIX="h$$"
declare -A NS_HOLDER=()  # NAME → pid of the process holding its namespaces
declare -A NS_DBUS_PID=()   # NAME → its dbus-daemon
declare -A NS_AVAHI_PID=()  # NAME → its avahi-daemon
NS_NAMES=()              # hosts, in creation order
NS_SWITCH=               # the switch's namespace, once ns_lan ran
NS_PID=                  # pid of the last ns_bg
NS_PORTS=0

_ns_fail_env() {
  fail "this test needs root and network namespaces (ip netns, veth, bridge, unshare, nsenter) plus dbus-daemon and avahi-daemon: $*"
}

_ns_require() {
  local tool
  [ "$(id -u)" -eq 0 ] || _ns_fail_env "not running as root (uid $(id -u))"
  for tool in ip unshare nsenter mount dbus-daemon avahi-daemon avahi-browse \
      avahi-publish-service avahi-resolve-host-name; do
    command -v "$tool" >/dev/null || _ns_fail_env "“$tool” is not installed"
  done
  ip netns list >/dev/null 2>&1 || _ns_fail_env "“ip netns” does not work: $(ip netns list 2>&1)"
}

# Namespaces of earlier runs that were killed before their cleanup: only
# empty ones (no process left in them) of test processes that are gone.
_ns_collect_garbage() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ $ns =~ ^h([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    [ "$pid" != $$ ] || continue
    ! kill -0 "$pid" 2>/dev/null || continue
    [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] || continue
    ip netns del "$ns" 2>/dev/null || true
  done
}

_ns_name() { echo "$NS_PREFIX-$1"; }

_ns_known() {
  [ -n "${NS_HOLDER[$1]:-}" ] || fail "no host “$1” (ns_host $1 first)"
}

# Kills what runs in one namespace and deletes it.
_ns_destroy() {
  local ns=$1 pids deadline=$((SECONDS + 5))
  ip netns list 2>/dev/null | grep -q "^$ns\\b" || return 0
  while pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ]; do
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    [ $SECONDS -lt $deadline ] || break
    sleep 0.05
  done
  ip netns del "$ns" 2>/dev/null || echo "netns.sh: could not delete namespace $ns" >&2
}

_ns_cleanup() {
  local rc=${1:-0} name log i
  if [ "$rc" -ne 0 ]; then
    for log in "$T"/avahi-*.log; do
      [ -e "$log" ] || continue
      echo "--- $(basename "$log"):" >&2
      tail -n 25 "$log" >&2
    done
  fi
  for ((i = ${#NS_NAMES[@]} - 1; i >= 0; i--)); do
    name=${NS_NAMES[i]}
    _ns_destroy "$(_ns_name "$name")"
  done
  [ -z "$NS_SWITCH" ] || _ns_destroy "$NS_SWITCH"
}

# sysctl in a namespace (net.* is per network namespace).
_ns_sysctl() {
  local ns=$1
  shift
  ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

# ns_host NAME: a host with lo up and its own /run.
ns_host() {
  local name=$1 ns ready holder
  [[ $name =~ ^[a-z0-9][a-z0-9-]{0,19}$ ]] || fail "ns_host: bad name “$name”"
  [ -z "${NS_HOLDER[$name]:-}" ] || fail "ns_host: “$name” exists"
  ns=$(_ns_name "$name")
  ready=$T/ns-$name.ready
  ip netns add "$ns" 2>"$T/ns-$name.err" ||
    _ns_fail_env "cannot create a network namespace: $(cat "$T/ns-$name.err")"
  NS_NAMES+=("$name")
  ip -n "$ns" link set lo up
  # Removing the first address of a subnet keeps the others (the kernel
  # would drop them all by default): a host can move to a new address.
  _ns_sysctl "$ns" net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.conf.default.promote_secondaries=1 net.ipv4.conf.all.promote_secondaries=1

  # The holder keeps a mount namespace alive whose /run is its own: sh
  # mounts it, says so, then becomes "sleep" (exec all the way down, so the
  # pid is the holder itself). It is not a job of this shell (bash would
  # report its SIGKILL at cleanup); it stays in the test's process group.
  holder=$( (exec ip netns exec "$ns" unshare --mount --propagation private sh -c '
      mount -t tmpfs -o mode=0755,size=16m hearth-run /run &&
      mkdir -p /run/dbus /run/avahi-daemon /run/lock /run/user &&
      chmod 1777 /run/lock && ln -s /dev/shm /run/shm &&
      : >"$1" && exec sleep infinity' sh "$ready") >>"$T/ns-$name.err" 2>&1 </dev/null &
    echo $!)
  NS_HOLDER[$name]=$holder
  wait_for --pid "$holder" "$T/ns-$name.err" 10 \
    "a private mount namespace for host $name" test -e "$ready"
}

# ns_run NAME CMD...: CMD inside the host's network and mount namespaces.
ns_run() {
  local name=$1
  shift
  _ns_known "$name"
  nsenter -t "${NS_HOLDER[$name]}" -m -n --wd="$PWD" -- "$@"
}

# ns_bg NAME CMD...: the same in the background. nsenter execs CMD, so the
# pid (in PIDS and NS_PID) is CMD's own: killing it stops the program.
ns_bg() {
  local name=$1
  shift
  _ns_known "$name"
  (exec nsenter -t "${NS_HOLDER[$name]}" -m -n --wd="$PWD" -- "$@") &
  NS_PID=$!
  PIDS+=("$NS_PID")
}

# ns_lan: the switch, a namespace with a bridge and nothing else.
ns_lan() {
  [ -z "$NS_SWITCH" ] || return 0
  NS_SWITCH=$NS_PREFIX-lan
  ip netns add "$NS_SWITCH" 2>"$T/ns-lan.err" ||
    _ns_fail_env "cannot create a network namespace: $(cat "$T/ns-lan.err")"
  _ns_sysctl "$NS_SWITCH" net.ipv6.conf.default.disable_ipv6=1
  ip -n "$NS_SWITCH" link set lo up
  # No STP: ports forward as soon as they are up. No snooping: multicast
  # reaches every port whatever IGMP said.
  ip -n "$NS_SWITCH" link add br0 type bridge stp_state 0 mcast_snooping 0
  ip -n "$NS_SWITCH" link set br0 up
}

# ns_attach NAME ADDR/PREFIX: a veth from the switch to the host's "lan0".
ns_attach() {
  local name=$1 addr=$2 ns port
  _ns_known "$name"
  [ -n "$NS_SWITCH" ] || fail "ns_attach: no LAN (ns_lan first)"
  ns=$(_ns_name "$name")
  NS_PORTS=$((NS_PORTS + 1))
  port=port$NS_PORTS
  ip -n "$NS_SWITCH" link add "$port" type veth peer name lan0 netns "$ns"
  ip -n "$NS_SWITCH" link set "$port" master br0 up
  ip -n "$ns" addr add "$addr" dev lan0
  ip -n "$ns" link set lan0 up
}

# ns_detach NAME: unplugs the host (its lan0 and the switch port go away).
ns_detach() {
  local name=$1
  _ns_known "$name"
  ip -n "$(_ns_name "$name")" link del lan0
}

# ns_addr_add NAME ADDR/PREFIX: one more address on the host's lan0. Like a
# DHCP server handing the address over, the other hosts forget which MAC
# had it (there is no gratuitous ARP here).
ns_addr_add() {
  local name=$1 addr=$2 other
  _ns_known "$name"
  ip -n "$(_ns_name "$name")" addr add "$addr" dev lan0
  for other in "${NS_NAMES[@]}"; do
    [ "$other" != "$name" ] || continue
    ip -n "$(_ns_name "$other")" neigh flush to "${addr%/*}" 2>/dev/null || true
  done
}

# ns_addr_del NAME ADDR/PREFIX.
ns_addr_del() {
  _ns_known "$1"
  ip -n "$(_ns_name "$1")" addr del "$2" dev lan0
}

# ns_ip NAME: the host's first IPv4 address on lan0.
ns_ip() {
  ip -n "$(_ns_name "$1")" -4 -o addr show dev lan0 | awk '{split($4, a, "/"); print a[1]; exit}'
}

# ns_avahi NAME [IFACE]: the host's own system bus and mDNS responder. Its
# mDNS host name is "NAME-<pid of the test>.local". Logs: $T/dbus-NAME.log,
# $T/avahi-NAME.log.
ns_avahi() {
  local name=$1 iface=${2:-} ns conf host holder
  _ns_known "$name"
  ns=$(_ns_name "$name")
  holder=${NS_HOLDER[$name]}
  if [ -z "$iface" ]; then
    if ip -n "$ns" link show lan0 >/dev/null 2>&1; then iface=lan0; else iface=lo; fi
  fi
  host=$name-$$
  conf=$T/avahi-$name.conf
  cat >"$conf" <<EOF
[server]
host-name=$host
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=$iface
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no
[reflector]
enable-reflector=no
[rlimits]
EOF

  # The stock system.conf fits: /run is this host's own. No pid file, so a
  # kill leaves nothing that would stop the next start.
  if [ -z "${NS_DBUS_PID[$name]:-}" ] || ! kill -0 "${NS_DBUS_PID[$name]}" 2>/dev/null; then
    # A killed dbus-daemon leaves its socket behind, and would not start again.
    ns_run "$name" rm -f /run/dbus/system_bus_socket
    ns_bg "$name" dbus-daemon --system --nofork --nopidfile --nosyslog >>"$T/dbus-$name.log" 2>&1
    NS_DBUS_PID[$name]=$NS_PID
    wait_for --pid "$NS_PID" "$T/dbus-$name.log" 10 "dbus-daemon's socket in $name" \
      test -S "/proc/$holder/root/run/dbus/system_bus_socket"
  fi

  [ -z "${NS_AVAHI_PID[$name]:-}" ] || fail "ns_avahi: avahi-daemon already runs in $name"
  ns_bg "$name" avahi-daemon --no-drop-root --no-rlimits --no-chroot --no-proc-title \
    -f "$conf" >>"$T/avahi-$name.log" 2>&1
  NS_AVAHI_PID[$name]=$NS_PID
  # Up when it answers for its own name through D-Bus, i.e. what a client sees.
  wait_for --pid "$NS_PID" "$T/avahi-$name.log" 20 "avahi-daemon in $name to answer" \
    ns_run "$name" avahi-resolve-host-name -4 "$host.local"
}

# ns_avahi_stop NAME [--bus]: SIGTERM to the host's avahi-daemon (and
# dbus-daemon), and waits for it.
ns_avahi_stop() {
  local pid=${NS_AVAHI_PID[$1]:-}
  [ -n "$pid" ] || fail "ns_avahi_stop: no avahi-daemon in $1"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "NS_AVAHI_PID[$1]"
  if [ "${2:-}" = --bus ] && [ -n "${NS_DBUS_PID[$1]:-}" ]; then
    kill -TERM "${NS_DBUS_PID[$1]}" 2>/dev/null || true
    wait "${NS_DBUS_PID[$1]}" 2>/dev/null || true
    unset "NS_DBUS_PID[$1]"
  fi
}

# ns_gateway NAME [ARGS...]: hearthd inside the host, with lib.sh's state
# dir and log; hearthctl (ctl) reaches it from outside through its UNIX
# socket. ARGS come after the defaults, so they win.
ns_gateway() {
  local name=$1
  shift
  # No G_DEBUG, as in start_gateway; env execs hearthd, so the pid is its own.
  ns_bg "$name" env -u G_DEBUG "$BIN_HEARTHD" --state-dir "$T/state" --listen 0.0.0.0:0 \
    --pairing-listen 0.0.0.0:0 "$@" >>"$T/hearthd.log" 2>&1
  GATEWAY_PID=$NS_PID
  wait_for 20 "hearthd in $name to answer" ctl status
  STREAM_PORT=$(ctl --json status | json 'j["stream_port"]')
  [ "$STREAM_PORT" -gt 0 ] || fail "no stream port"
}

# ns_browse NAME TYPE: the resolved services of TYPE the host sees now
# (avahi-browse -rptk: "=;iface;IPv4;name;type;domain;host;address;port;txt…";
# the instance name is escaped as in DNS, a space is "\032", TXT strings are
# quoted and separated by spaces).
ns_browse() {
  ns_run "$1" avahi-browse -rptk "$2" 2>/dev/null | grep '^=' || true
}

# ns_sees NAME TYPE ERE: whether a resolved service line matches ERE (for
# wait_for; "!" in front of a whole wait needs a function, see ns_lost).
ns_sees() {
  ns_browse "$1" "$2" | grep -Eq -- "$3"
}

# ns_lost NAME TYPE ERE: no resolved service line matches ERE.
ns_lost() {
  ! ns_sees "$@"
}

# ns_camera HOST NAME [FAKE-CAMERA ARGS...]: a fake camera in HOST on
# 0.0.0.0:$RTSP_PORT (default 8554); sets CAM_ID_<NAME> (kept when the same
# camera starts again: its stamp id is also its TXT id) and CAM_PID_<NAME>.
ns_camera() {
  local host=$1 name=$2 ready=$T/camera-$2.ready id_var=CAM_ID_$2 id
  shift 2
  id=${!id_var:-$(python3 -c 'import uuid; print(uuid.uuid4())')}
  rm -f "$ready"
  ns_bg "$host" env ASAN_OPTIONS=detect_leaks=0 "$BIN_CAMERA" --address 0.0.0.0 \
    --port "${RTSP_PORT:-8554}" --stamp-id "$id" --ready-file "$ready" "$@" \
    >>"$T/camera-$name.log" 2>&1
  printf -v "CAM_PID_$name" '%s' "$NS_PID"
  printf -v "CAM_ID_$name" '%s' "$id"
  wait_for 20 "camera $name" test -s "$ready"
}

# ns_display HOST NAME ARGS...: hearth-display NAME (its own config dir, as
# lib.sh's display) in HOST, without leak checking (as lib.sh's client).
ns_display() {
  local host=$1 name=$2
  shift 2
  ns_run "$host" env ASAN_OPTIONS=detect_leaks=0 "$BIN_DISPLAY" --config-dir "$T/display-$name" "$@"
}

_ns_require
_ns_collect_garbage
CLEANUP_HOOKS+=(_ns_cleanup)
# meson test stops a test that timed out with SIGTERM: leave through the
# EXIT trap, so the namespaces are deleted then too.
trap 'exit 143' TERM
trap 'exit 130' INT
