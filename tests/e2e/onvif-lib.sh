# SPDX-License-Identifier: GPL-2.0-or-later
# ONVIF devices on the test LAN of netns.sh: the fake ONVIF camera
# (tests/tools/fake-onvif.py, in front of two fake-camera streams), Debian's
# wsdd (a WS-Discovery device that is not a camera), a listener that records
# WS-Discovery multicast, and the npm `onvif` client (tests/onvif-client).
# WS-Discovery is multicast with TTL 1 on the hosts' lan0: nothing leaves the
# test's namespaces.
#
# Source it after lib.sh and netns.sh; the hosts must be ns_host'ed and
# ns_attach'ed first.
#
#   ns_onvif HOST NAME [FAKE-ONVIF ARGS...]
#       the fake ONVIF camera NAME ([A-Za-z0-9_]) in HOST on lan0: HTTP port
#       $ONVIF_HTTP_PORT (default 80), main stream on RTSP port
#       $ONVIF_RTSP_PORT (default 554), sub stream on that port + 1; ARGS
#       come after the defaults, so they win (e.g. --user admin
#       --password-file F, --maker, --model, --serial, --mac (default:
#       lan0's, the MAC the gateway sees),
#       --stream-uri-host 203.0.113.7, --stream-uri Profile_2=URL,
#       --auth http-digest, --password-text refuse, --strict-auth,
#       --camera-arg=--audio=pcma; see the top of fake-onvif.py). Returns
#       once it listens and sent its Hello. Sets ONVIF_PID_NAME,
#       ONVIF_XADDR_NAME (http://ADDR:PORT/onvif/device_service),
#       ONVIF_MAIN_URI_NAME and ONVIF_SUB_URI_NAME (what GetStreamUri
#       answers), and ONVIF_UUID_NAME, ONVIF_SERIAL_NAME,
#       ONVIF_MAIN_STAMP_NAME, ONVIF_SUB_STAMP_NAME (the stamp ids of the
#       two streams' frames), which are kept when NAME starts again (the same
#       device, e.g. at a new address). Its log (one line per request and
#       datagram, never a credential): $T/onvif-NAME.log.
#   ns_onvif_stop NAME
#       SIGTERM: it sends Bye, stops its streams and must exit 0.
#   ns_wsdd HOST [WSDD ARGS...]
#       Debian's wsdd in HOST on lan0, IPv4 only: a Windows-style WS-Discovery
#       host (Types wsdp:Device pub:Computer), not a camera. It sends Hello
#       (wsdd 0.7's carries its endpoint and XAddrs but no Types) and Bye,
#       and answers Probes for its own types, never one for
#       dn:NetworkVideoTransmitter. Sets WSDD_PID and WSDD_UUID; log
#       $T/wsdd-HOST.log. Returns once it listens on UDP 3702 (its Hello
#       follows at once: wait for it with ns_wsd_seen in another host; wsdd
#       turns multicast loopback off, so HOST itself never sees it).
#   ns_wsd_listen HOST
#       records every WS-Discovery multicast message HOST receives on lan0,
#       one line each in $T/wsd-HOST.txt: "ACTION ENDPOINT TYPES" (action's
#       last segment: Hello, Bye, Probe...; "-" where there is none).
#       ns_wsd_seen HOST ERE: a line matches (for wait_for). It binds
#       239.255.255.250:3702 with SO_REUSEADDR: a program in the same HOST
#       that binds port 3702 without it (after the listener) gets
#       EADDRINUSE, so listen from another host than hearthd's if unsure.
#   ns_ipv6 HOST
#       IPv6 on HOST's lan0 (netns.sh makes interfaces without it): a
#       link-local address at once (no duplicate address detection), for
#       WS-Discovery on [ff02::c]:3702 (fake-onvif.py --ipv6).
#   ns_multicast_route HOST
#       a route for 224.0.0.0/4 on lan0, for clients (the npm one) that send
#       multicast without choosing an interface; the hosts have no default
#       route.
#   onvif_client HOST ARGS...
#       the npm onvif client (tests/onvif-client/onvif-client.js) in HOST:
#       "probe [--timeout MS]" or "camera --host ADDR [--port N] [--user U
#       --password-file F]"; prints its JSON. Fails the test if `npm ci` has
#       not installed it (scripts/setup.sh --tests does).

BIN_FAKE_ONVIF=$HEARTH_SOURCE_DIR/tests/tools/fake-onvif.py
ONVIF_CLIENT_DIR=$HEARTH_SOURCE_DIR/tests/onvif-client

_onvif_require() {
  local tool
  for tool in python3 wsdd node; do
    command -v "$tool" >/dev/null || fail "“$tool” is not installed (scripts/setup.sh --tests installs it)"
  done
}

ns_onvif() {
  local host=$1 name=$2 ready var
  shift 2
  [[ $name =~ ^[A-Za-z0-9_]+$ ]] || fail "ns_onvif: bad name “$name”"
  ready=$T/onvif-$name.ready
  for var in UUID MAIN_STAMP SUB_STAMP; do
    var=ONVIF_${var}_$name
    [ -n "${!var:-}" ] || printf -v "$var" '%s' "$(python3 -c 'import uuid; print(uuid.uuid4())')"
  done
  var=ONVIF_SERIAL_$name
  [ -n "${!var:-}" ] || printf -v "$var" 'FC%s' "$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
  rm -f "$ready"
  # The fake cameras it starts run without leak checking, as ns_camera's.
  ns_bg "$host" env ASAN_OPTIONS=detect_leaks=0 python3 "$BIN_FAKE_ONVIF" --interface lan0 \
    --http-port "${ONVIF_HTTP_PORT:-80}" --rtsp-port "${ONVIF_RTSP_PORT:-554}" \
    --fake-camera "$BIN_CAMERA" --uuid "$(_onvif_var UUID "$name")" \
    --serial "$(_onvif_var SERIAL "$name")" --main-stamp-id "$(_onvif_var MAIN_STAMP "$name")" \
    --sub-stamp-id "$(_onvif_var SUB_STAMP "$name")" --ready-file "$ready" "$@" \
    >>"$T/onvif-$name.log" 2>&1
  printf -v "ONVIF_PID_$name" '%s' "$NS_PID"
  wait_for --pid "$NS_PID" "$T/onvif-$name.log" 40 "fake ONVIF camera $name" test -s "$ready"
  printf -v "ONVIF_XADDR_$name" '%s' "$(cut -d' ' -f1 "$ready")"
  printf -v "ONVIF_MAIN_URI_$name" '%s' "$(sed -n 's/.* main=\([^ ]*\).*/\1/p' "$ready")"
  printf -v "ONVIF_SUB_URI_$name" '%s' "$(sed -n 's/.* sub=\([^ ]*\).*/\1/p' "$ready")"
}

_onvif_var() {
  local var=ONVIF_$1_$2
  echo "${!var}"
}

ns_onvif_stop() {
  local pid rc=0
  pid=$(_onvif_var PID "$1")
  [ -n "$pid" ] || fail "ns_onvif_stop: no fake ONVIF camera $1"
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  [ $rc -eq 0 ] || fail "fake ONVIF camera $1 exited with $rc: $(tail -n 5 "$T/onvif-$1.log")"
}

# The listener: Python, standard library, joined to 239.255.255.250 on lan0.
_WSD_LISTENER='
import socket, struct, sys, xml.etree.ElementTree as ET
out = open(sys.argv[1], "a", buffering=1)
addr = open("/sys/class/net/lan0/address").read()  # fails early without lan0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("239.255.255.250", 3702))
mreqn = struct.pack("4s4si", socket.inet_aton("239.255.255.250"), bytes(4),
                    socket.if_nametoindex("lan0"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
open(sys.argv[2], "w").close()
while True:
    data, peer = s.recvfrom(65536)
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        print("malformed", peer[0], "-", file=out)
        continue
    def text(local):
        for e in root.iter():
            if e.tag.endswith("}" + local) and e.text:
                return " ".join(e.text.split())
        return "-"
    print(text("Action").rsplit("/", 1)[-1], text("Address"), text("Types"), file=out)
'

ns_wsd_listen() {
  local host=$1
  [ ! -e "$T/wsd-$host.ready" ] || return 0
  ns_bg "$host" python3 -c "$_WSD_LISTENER" "$T/wsd-$host.txt" "$T/wsd-$host.ready" \
    >>"$T/wsd-$host.log" 2>&1
  wait_for --pid "$NS_PID" "$T/wsd-$host.log" 10 "the WS-Discovery listener in $host" \
    test -e "$T/wsd-$host.ready"
}

ns_wsd_seen() {
  grep -Eq -- "$2" "$T/wsd-$1.txt" 2>/dev/null
}

ns_wsdd() {
  local host=$1
  shift
  WSDD_UUID=$(python3 -c 'import uuid; print(uuid.uuid4())')
  ns_bg "$host" wsdd --interface lan0 --ipv4only --uuid "$WSDD_UUID" --hostname "wsdd-$host" \
    --shortlog "$@" >>"$T/wsdd-$host.log" 2>&1
  WSDD_PID=$NS_PID
  wait_for --pid "$WSDD_PID" "$T/wsdd-$host.log" 20 "wsdd to listen in $host" \
    eval '[ -n "$(ns_run "$host" ss -Hlun "sport = :3702")" ]'
}

ns_ipv6() {
  local ns
  ns=$(_ns_name "$1")
  _ns_sysctl "$ns" net.ipv6.conf.lan0.accept_dad=0 net.ipv6.conf.lan0.disable_ipv6=0
  wait_for 10 "an IPv6 link-local address on $1's lan0" \
    eval '[ -n "$(ip -n "$ns" -6 -o addr show dev lan0 scope link)" ]'
}

ns_multicast_route() {
  ip -n "$(_ns_name "$1")" route replace 224.0.0.0/4 dev lan0
}

onvif_client() {
  local host=$1
  shift
  [ -d "$ONVIF_CLIENT_DIR/node_modules/onvif" ] ||
    fail "the npm onvif client is not installed: scripts/setup.sh --tests runs npm ci in tests/onvif-client"
  ns_run "$host" node "$ONVIF_CLIENT_DIR/onvif-client.js" "$@"
}

_onvif_require
