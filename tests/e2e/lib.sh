# lib.sh - the e2e topology: network namespaces, veths, the colonet services, a test adapter.
# SPDX-License-Identifier: MPL-2.0
#
# Sourced by tests/e2e/*.sh (POSIX sh, run as root).  Not a test itself.
#
#   client (cl)                primary host (ph)                   primary guest (pg)
#   eth0 192.0.2.1  ─veth─  cli ┬ colo-mirror --in ──▶ --to-primary ┬ gst ─veth─ eth0 192.0.2.2
#   2001:db8:1::1               └ colo-compare --outdev ◀ --primary-in ┘           2001:db8:1::2
#                               sec 198.51.100.1                                   02:00:00:00:00:02
#                                 │ zmq: mirror → rewriter (9001), rewriter → compare (9002)
#                               pri 198.51.100.2
#                               secondary host (sh)                 secondary guest (sg)
#                               colo-rewriter --to-guest/--from-guest gst ─veth─ eth0 (the same
#                                                                          addresses and MAC)
#
# The guests differ only in their own choices (ISNs, timing); whatever the
# client sees comes out of colo-compare.  Checkpoint requests go on
# colo-compare's notify-dev (Xen strings) to $BUILD/e2e/adapter in the
# primary host's namespace, which counts them and answers checkpoint-done.
#
# Everything a run creates carries the prefix cn<pid>- (namespaces) or lives
# in $E2E_DIR; e2e_cleanup (installed on EXIT) kills the processes, deletes
# the namespaces and checks that nothing with the prefix is left.
#
# Neighbours are static (no ARP/NDP), IPv6 addresses are nodad and no
# link-local address is generated, router solicitations are off.  What is
# left are the MLD reports a guest sends once its link comes up (twice, about
# half a second later): e2e_topology waits until each guest's host-side veth
# has seen them (tcpdump, bounded), before any service starts.  After that the
# guests send nothing on their own, so every frame compare sees answers the
# client.

BUILD=${BUILD:-build}
E2E_NAME=${E2E_NAME:-e2e}
E2E_P="cn$$-"
E2E_DIR=""
E2E_PIDS=""
E2E_PASSED=0
E2E_FAILED=0

E2E_CLIENT4=192.0.2.1
E2E_GUEST4=192.0.2.2
E2E_CLIENT6=2001:db8:1::1
E2E_GUEST6=2001:db8:1::2
E2E_CLIENT_MAC=02:00:00:00:00:01
E2E_GUEST_MAC=02:00:00:00:00:02
E2E_PH4=198.51.100.1
E2E_SH4=198.51.100.2
E2E_PORT_MIRROR=9001
E2E_PORT_COMPARE=9002
E2E_PORT_NOTIFY=9010
E2E_PORT_API=7100
E2E_PORT_EVENTS=7101
# 1: e2e_config adds colo-control (primary host, its store in $E2E_DIR) and
# points mirror, compare and rewriter at it; e2e_start starts it first.
E2E_CONTROL=${E2E_CONTROL:-0}
E2E_CONTROL_PID=""
# TCP timestamps on the guests: on, as on any Linux guest.  colo-rewriter
# translates the echoed TSecr toward the secondary (Linux >= 6.11 drops a
# handshake ACK whose TSecr it never sent: TcpExtTSEcrRejected); set 0 to
# run without them.
E2E_GUEST_TCP_TIMESTAMPS=${E2E_GUEST_TCP_TIMESTAMPS:-1}

e2e_say() { echo "$E2E_NAME: $*"; }

# Skip (exit 0) without root or a tool; fail without the binaries.
e2e_require() {
    if [ "$(id -u)" != 0 ]; then
        e2e_say "skipped: needs root (network namespaces)"
        echo "0 passed, 0 failed"
        exit 0
    fi
    for t in ip ethtool sysctl socat ping ss tcpdump; do
        if ! command -v "$t" >/dev/null 2>&1; then
            e2e_say "skipped: $t not installed (sh scripts/deps.sh)"
            echo "0 passed, 0 failed"
            exit 0
        fi
    done
    if ! ip netns add "${E2E_P}probe" 2>/dev/null; then
        e2e_say "skipped: cannot create network namespaces here"
        echo "0 passed, 0 failed"
        exit 0
    fi
    ip netns del "${E2E_P}probe"
    for f in "$BUILD/bin/colo-mirror" "$BUILD/bin/colo-compare" "$BUILD/bin/colo-rewriter" \
        "$BUILD/bin/colo-control" "$BUILD/bin/coloctl" "$BUILD/e2e/adapter"; do
        if [ ! -x "$f" ]; then
            e2e_say "$f not built (make BUILD=$BUILD)"
            echo "0 passed, 1 failed"
            exit 1
        fi
    done
    E2E_DIR=$(mktemp -d "/tmp/colonet-e2e.XXXXXX")
    trap e2e_cleanup EXIT
    # PIPE: a reader that went away (| head) ends the test through the EXIT trap too.
    trap 'exit 1' INT TERM HUP PIPE
}

# Run a command in one of our namespaces: e2e_in cl|pg|sg|ph|sh CMD...
e2e_in() {
    ns=$1
    shift
    ip netns exec "$E2E_P$ns" "$@"
}

# Start a background command in a namespace, remember its pid.
# e2e_bg NS LOGFILE CMD...
e2e_bg() {
    ns=$1
    log=$2
    shift 2
    ip netns exec "$E2E_P$ns" "$@" >"$log" 2>&1 &
    E2E_PIDS="$E2E_PIDS $!"
    E2E_LAST_PID=$!
}

e2e_check() {
    name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        E2E_PASSED=$((E2E_PASSED + 1))
    else
        echo "FAIL $name"
        E2E_FAILED=$((E2E_FAILED + 1))
    fi
}

# Wait (bounded: N tenths of a second) until a command succeeds.
e2e_wait() {
    tenths=$1
    shift
    n=0
    while [ "$n" -lt "$tenths" ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        n=$((n + 1))
        sleep 0.1
    done
    return 1
}

e2e_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$E2E_P" ; }

e2e_cleanup() {
    rc=$?
    for p in $E2E_PIDS; do kill "$p" 2>/dev/null; done
    for ns in $(e2e_namespaces); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    done
    for p in $E2E_PIDS; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    for ns in $(e2e_namespaces); do ip netns del "$ns" 2>/dev/null; done
    if [ -n "$(e2e_namespaces)" ]; then
        echo "$E2E_NAME: namespaces left behind: $(e2e_namespaces)" >&2
        rc=1
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "$E2E_NAME: kept $E2E_DIR" >&2
    elif [ -n "$E2E_DIR" ]; then
        rm -rf "$E2E_DIR"
    fi
    exit "$rc"
}

# One end of a veth: no offloads (frames stay MTU-sized), up.
s_e2e_if_plain() {
    e2e_in "$1" ethtool -K "$2" tso off gso off gro off tx off rx off sg off >/dev/null 2>&1
    e2e_in "$1" ip link set "$2" up
}

# A host-side veth end: no addresses of its own, no IPv6 at all.
s_e2e_if_host() {
    e2e_in "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    s_e2e_if_plain "$1" "$2"
}

# An endpoint (client or guest): MAC, addresses, static neighbour, quiet IPv6.
# Non-zero if a step that matters failed.  bench/e2e.sh sets up its direct
# path's two ends with it too, so both paths have the same settings.
# e2e_endpoint NS MAC ADDR4 ADDR6 PEER4 PEER6 PEERMAC
e2e_endpoint() {
    ns=$1
    e2e_in "$ns" ip link set eth0 address "$2" || return 1
    e2e_in "$ns" ip link set eth0 addrgenmode none
    e2e_in "$ns" sysctl -qw net.ipv6.conf.eth0.accept_ra=0
    e2e_in "$ns" sysctl -qw net.ipv6.conf.eth0.router_solicitations=0
    e2e_in "$ns" sysctl -qw net.ipv6.conf.eth0.dad_transmits=0
    e2e_in "$ns" sysctl -qw net.ipv6.conf.eth0.mldv2_unsolicited_report_interval=1
    e2e_in "$ns" sysctl -qw net.ipv6.conf.eth0.mldv1_unsolicited_report_interval=1
    e2e_in "$ns" ip addr add "$3/24" dev eth0 || return 1
    e2e_in "$ns" ip addr add "$4/64" dev eth0 nodad || return 1
    s_e2e_if_plain "$ns" eth0 || return 1
    e2e_in "$ns" ip neigh replace "$5" lladdr "$7" dev eth0 nud permanent || return 1
    e2e_in "$ns" ip neigh replace "$6" lladdr "$7" dev eth0 nud permanent
}

# Build the namespaces and links.  Returns non-zero if any step failed.
e2e_topology() {
    for ns in cl pg sg ph sh; do
        ip netns add "$E2E_P$ns" || return 1
        e2e_in "$ns" ip link set lo up || return 1
    done
    ip link add eth0 netns "${E2E_P}cl" type veth peer name cli netns "${E2E_P}ph" || return 1
    ip link add eth0 netns "${E2E_P}pg" type veth peer name gst netns "${E2E_P}ph" || return 1
    ip link add eth0 netns "${E2E_P}sg" type veth peer name gst netns "${E2E_P}sh" || return 1
    ip link add sec netns "${E2E_P}ph" type veth peer name pri netns "${E2E_P}sh" || return 1
    s_e2e_if_host ph cli
    s_e2e_if_host ph gst
    s_e2e_if_host sh gst
    s_e2e_if_plain ph sec
    s_e2e_if_plain sh pri
    e2e_in ph ip addr add "$E2E_PH4/24" dev sec || return 1
    e2e_in sh ip addr add "$E2E_SH4/24" dev pri || return 1
    # Watch for the guests' MLD reports (see the top of this file).
    e2e_in ph timeout 5 tcpdump -nn -i gst -c 2 "ether dst host 33:33:00:00:00:16" \
        >"$E2E_DIR/mld-pg.log" 2>&1 &
    mld_pg=$!
    e2e_in sh timeout 5 tcpdump -nn -i gst -c 2 "ether dst host 33:33:00:00:00:16" \
        >"$E2E_DIR/mld-sg.log" 2>&1 &
    mld_sg=$!
    e2e_wait 30 grep -q listening "$E2E_DIR/mld-pg.log"
    e2e_wait 30 grep -q listening "$E2E_DIR/mld-sg.log"
    e2e_endpoint cl "$E2E_CLIENT_MAC" "$E2E_CLIENT4" "$E2E_CLIENT6" \
        "$E2E_GUEST4" "$E2E_GUEST6" "$E2E_GUEST_MAC" || return 1
    for g in pg sg; do
        e2e_in "$g" sysctl -qw "net.ipv4.tcp_timestamps=$E2E_GUEST_TCP_TIMESTAMPS" || return 1
        e2e_endpoint "$g" "$E2E_GUEST_MAC" "$E2E_GUEST4" "$E2E_GUEST6" \
            "$E2E_CLIENT4" "$E2E_CLIENT6" "$E2E_CLIENT_MAC" || return 1
    done
    # Bounded (5 s): if a report was missed, it went out before this point.
    wait "$mld_pg"
    wait "$mld_sg"
    return 0
}

# Write the deployment config (one file for both hosts; each service runs
# the sections of its own kind).  Extra "key = value" lines for the compare
# section may be given as arguments.
# With E2E_CONTROL=1, colo-control runs on the primary host and every
# data-plane section names it and the VM.
e2e_config() {
    E2E_CONF=$E2E_DIR/colonet.conf
    E2E_API=tcp://$E2E_PH4:$E2E_PORT_API
    if [ "$E2E_CONTROL" = 1 ]; then
        ctl="control = $E2E_API
vm = vm1"
    else
        ctl=""
    fi
    {
        echo "# colonet e2e deployment: primary host $E2E_PH4, secondary host $E2E_SH4"
        if [ "$E2E_CONTROL" = 1 ]; then
            echo "[control main]"
            echo "api = $E2E_API"
            echo "events = tcp://$E2E_PH4:$E2E_PORT_EVENTS"
            echo "store = $E2E_DIR/control-store"
            echo "heartbeat = 200"
            echo
        fi
        echo "[mirror vm1]"
        echo "in = packet:cli"
        echo "to-primary = packet:gst"
        echo "to-secondary = zmq+tcp://$E2E_SH4:$E2E_PORT_MIRROR"
        [ -z "$ctl" ] || echo "$ctl"
        echo
        echo "[compare vm1]"
        echo "primary-in = packet:gst"
        echo "secondary-in = zmq+tcp://$E2E_PH4:$E2E_PORT_COMPARE,bind"
        echo "outdev = packet:cli"
        echo "notify-dev = qemu+tcp:127.0.0.1:$E2E_PORT_NOTIFY,server"
        [ -z "$ctl" ] || echo "$ctl"
        for kv in "$@"; do echo "$kv"; done
        echo
        echo "[rewriter vm1]"
        echo "from-mirror = zmq+tcp://$E2E_SH4:$E2E_PORT_MIRROR,bind"
        echo "to-guest = packet:gst"
        echo "from-guest = packet:gst"
        echo "to-compare = zmq+tcp://$E2E_PH4:$E2E_PORT_COMPARE"
        [ -z "$ctl" ] || echo "$ctl"
    } >"$E2E_CONF"
}

# coloctl against the deployment's colo-control (from the primary host).
e2e_ctl() {
    e2e_in ph "$BUILD/bin/coloctl" --control "$E2E_API" --timeout 2000 "$@"
}

# Start colo-control from the config and wait until it answers.
e2e_start_control() {
    e2e_bg ph "$E2E_DIR/control.log" "$BUILD/bin/colo-control" --config "$E2E_CONF"
    E2E_CONTROL_PID=$E2E_LAST_PID
    e2e_wait 100 e2e_ctl status
}

# Every instance of kind $1 (compare, mirror, rewriter) is registered with
# colo-control, alive, and has its rules at the current version.
s_e2e_registered() {
    e2e_ctl status >"$E2E_DIR/status.out" 2>/dev/null || return 1
    grep " $1 " "$E2E_DIR/status.out" | grep -q "alive" || return 1
    ! grep " $1 " "$E2E_DIR/status.out" | grep -q '\*'
}

s_e2e_established() {
    e2e_in "$1" ss -Htn state established "( sport = :$2 or dport = :$2 )" | grep -q .
}

s_e2e_adapter_connected() { grep -q "connected=1" "$E2E_DIR/adapter.state" 2>/dev/null; }

# Start the services and the adapter (optional argument: a gate file for
# the adapter's answers) and wait until every link is up.
e2e_start() {
    if [ "$E2E_CONTROL" = 1 ]; then
        e2e_start_control || return 1
    fi
    e2e_bg sh "$E2E_DIR/rewriter.log" "$BUILD/bin/colo-rewriter" --config "$E2E_CONF"
    E2E_REWRITER_PID=$E2E_LAST_PID
    e2e_bg ph "$E2E_DIR/compare.log" "$BUILD/bin/colo-compare" --config "$E2E_CONF"
    E2E_COMPARE_PID=$E2E_LAST_PID
    e2e_bg ph "$E2E_DIR/mirror.log" "$BUILD/bin/colo-mirror" --config "$E2E_CONF"
    E2E_MIRROR_PID=$E2E_LAST_PID
    e2e_bg ph "$E2E_DIR/adapter.log" "$BUILD/e2e/adapter" \
        "qemu+tcp:127.0.0.1:$E2E_PORT_NOTIFY" "$E2E_DIR/adapter.state" "$@"
    E2E_ADAPTER_PID=$E2E_LAST_PID
    e2e_wait 100 s_e2e_established ph "$E2E_PORT_MIRROR" || return 1
    e2e_wait 100 s_e2e_established ph "$E2E_PORT_COMPARE" || return 1
    e2e_wait 100 s_e2e_adapter_connected || return 1
    if [ "$E2E_CONTROL" = 1 ]; then
        for k in mirror compare rewriter; do e2e_wait 100 s_e2e_registered "$k" || return 1; done
    fi
    return 0
}

# A service by kind (control, mirror, compare, rewriter): its namespace,
# binary and pid variable, as e2e_start started it.
s_e2e_kind() {
    case $1 in
    control) s_ns=ph s_bin=colo-control s_var=E2E_CONTROL_PID ;;
    mirror) s_ns=ph s_bin=colo-mirror s_var=E2E_MIRROR_PID ;;
    compare) s_ns=ph s_bin=colo-compare s_var=E2E_COMPARE_PID ;;
    rewriter) s_ns=sh s_bin=colo-rewriter s_var=E2E_REWRITER_PID ;;
    *) return 1 ;;
    esac
}

# Every instance of kind $1 is shown DEAD by colo-control.
s_e2e_dead() {
    e2e_ctl status >"$E2E_DIR/status.out" 2>/dev/null || return 1
    grep " $1 " "$E2E_DIR/status.out" | grep -q "DEAD"
}

s_e2e_adapter_disconnected() { grep -q "connected=0" "$E2E_DIR/adapter.state" 2>/dev/null; }

# kill -9 a service (e2e_kill KIND [SIGNAL]) and wait until it is gone
# (reaped) and its absence is visible: compare's adapter saw notify-dev
# drop; with E2E_CONTROL=1 a data-plane instance is shown DEAD (3 missed
# heartbeats), so that e2e_restart's wait for it to be alive means the new
# process registered.  Returns non-zero if a wait ran out.
e2e_kill() {
    s_e2e_kind "$1" || return 2
    eval "s_pid=\$$s_var"
    [ -n "$s_pid" ] || return 1
    kill "-${2:-9}" "$s_pid" 2>/dev/null
    wait "$s_pid" 2>/dev/null
    e2e_wait 100 sh -c "! kill -0 $s_pid" || return 1
    if [ "$1" = compare ]; then
        e2e_wait 100 s_e2e_adapter_disconnected || return 1
    fi
    if [ "$E2E_CONTROL" = 1 ] && [ "$1" != control ]; then
        e2e_wait 150 s_e2e_dead "$1" || return 1
    fi
    return 0
}

# Start a service again (e2e_restart KIND) with e2e_start's command line
# (its log appended to), and wait until it is back: colo-control answers;
# a data-plane service has its links up (mirror: to the rewriter; compare:
# from the rewriter, and the adapter on notify-dev; rewriter: from the
# mirror, to compare) and, with E2E_CONTROL=1, is registered, alive, at the
# current rules version.  Returns non-zero if a wait ran out.
e2e_restart() {
    s_e2e_kind "$1" || return 2
    echo "--- e2e_restart $1" >>"$E2E_DIR/$1.log"
    ip netns exec "$E2E_P$s_ns" "$BUILD/bin/$s_bin" --config "$E2E_CONF" >>"$E2E_DIR/$1.log" 2>&1 &
    E2E_PIDS="$E2E_PIDS $!"
    E2E_LAST_PID=$!
    eval "$s_var=\$!"
    case $1 in
    control) e2e_wait 100 e2e_ctl status || return 1 ;;
    mirror) e2e_wait 100 s_e2e_established ph "$E2E_PORT_MIRROR" || return 1 ;;
    compare)
        e2e_wait 100 s_e2e_established ph "$E2E_PORT_COMPARE" || return 1
        e2e_wait 100 s_e2e_adapter_connected || return 1
        ;;
    rewriter)
        e2e_wait 100 s_e2e_established ph "$E2E_PORT_MIRROR" || return 1
        e2e_wait 100 s_e2e_established ph "$E2E_PORT_COMPARE" || return 1
        ;;
    esac
    if [ "$E2E_CONTROL" = 1 ]; then
        if [ "$1" = control ]; then
            for k in mirror compare rewriter; do e2e_wait 150 s_e2e_registered "$k" || return 1; done
        else
            e2e_wait 150 s_e2e_registered "$1" || return 1
        fi
    fi
    return 0
}

# Checkpoint requests the adapter has counted so far.
e2e_requests() {
    sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$E2E_DIR/adapter.state" 2>/dev/null || echo 0
}

e2e_answers() {
    sed -n 's/.*answers=\([0-9]*\).*/\1/p' "$E2E_DIR/adapter.state" 2>/dev/null || echo 0
}

# The processes started are all still running.
e2e_alive() {
    for p in $E2E_REWRITER_PID $E2E_COMPARE_PID $E2E_MIRROR_PID $E2E_ADAPTER_PID \
        $E2E_CONTROL_PID; do
        kill -0 "$p" 2>/dev/null || return 1
    done
}

e2e_finish() {
    echo "$E2E_PASSED passed, $E2E_FAILED failed"
    [ "$E2E_FAILED" -eq 0 ]
}

# On failure, show the services' logs (tails) to help the reader.
e2e_dump_logs() {
    for f in "$E2E_DIR"/*.log; do
        [ -s "$f" ] || continue
        echo "--- $(basename "$f")" >&2
        tail -15 "$f" >&2
    done
}
