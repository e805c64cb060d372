#!/bin/sh
# e2e.sh - bench/e2e's topologies: the COLO path of tests/e2e/lib.sh and a direct veth, one client, one server.
# SPDX-License-Identifier: MPL-2.0
#
# Run by build/bench/e2e (see bench/e2e.c), which passes its options in
# E2E_BENCH_* and reads the figures from the file $E2E_BENCH_OUT, one line
# per result: "PATH WHAT key=value ...".  POSIX sh, root.
#
#   COLO:   cl ─ ph (colo-mirror, colo-compare, colo-control, adapter) ─ pg
#                └ sh (colo-rewriter) ─ sg               (tests/e2e/lib.sh)
#   direct: dc ─veth─ dg       the same addresses, MACs, static neighbours,
#                              offloads off (MTU-sized frames), TCP timestamps
#
# Namespaces carry lib.sh's prefix (cn<pid>-), so its cleanup (on EXIT,
# also after INT/TERM/HUP) removes the direct path's too and checks that
# nothing is left.  pg, sg and dg run "e2e --serve"; the client runs in dc,
# then cl, one test at a time.  After each COLO test, colo-compare's
# counters (through colo-control's status, see s_snapshot) and the
# adapter's checkpoint requests are written down.
set -u
E2E_NAME=e2e-bench
E2E_CONTROL=1
s_here=$(cd "$(dirname "$0")" && pwd)
. "$s_here/../tests/e2e/lib.sh"

SELF=${E2E_BENCH_SELF:-}
OUT=${E2E_BENCH_OUT:-}
if [ -z "$SELF" ] || [ -z "$OUT" ]; then
    echo "e2e.sh: run build/bench/e2e, not this script" >&2
    exit 2
fi
SECONDS_EACH=${E2E_BENCH_SECONDS:-3}
ONLY=${E2E_BENCH_ONLY:-}
UDP=${E2E_BENCH_UDP:-1}
VERBOSE=${E2E_BENCH_VERBOSE:-0}
REPEAT=${E2E_BENCH_REPEAT:-1}
CLIENT_OPTS="--seconds $SECONDS_EACH --conns ${E2E_BENCH_CONNS:-1} --chunk ${E2E_BENCH_CHUNK:-1048576}
 --rate ${E2E_BENCH_RATE:-2000} --req ${E2E_BENCH_REQ:-64} --resp ${E2E_BENCH_RESP:-64}"
# A client gets 5 times its test time plus 30 s before timeout kills it.
CLIENT_TIMEOUT=$(echo "$SECONDS_EACH" | awk '{printf "%d", $1 * 5 + 30}')

e2e_require

s_say() { if [ "$VERBOSE" = 1 ]; then e2e_say "$*" >&2; fi; }
s_fail() {
    e2e_say "$*" >&2
    e2e_dump_logs
    exit 1
}

# ---------------------------------------------------------------- direct path

s_direct_topology() {
    for ns in dc dg; do
        ip netns add "$E2E_P$ns" || return 1
        e2e_in "$ns" ip link set lo up || return 1
    done
    ip link add eth0 netns "${E2E_P}dc" type veth peer name eth0 netns "${E2E_P}dg" || return 1
    e2e_in dg sysctl -qw "net.ipv4.tcp_timestamps=$E2E_GUEST_TCP_TIMESTAMPS" || return 1
    e2e_endpoint dc "$E2E_CLIENT_MAC" "$E2E_CLIENT4" "$E2E_CLIENT6" \
        "$E2E_GUEST4" "$E2E_GUEST6" "$E2E_GUEST_MAC" || return 1
    e2e_endpoint dg "$E2E_GUEST_MAC" "$E2E_GUEST4" "$E2E_GUEST6" \
        "$E2E_CLIENT4" "$E2E_CLIENT6" "$E2E_CLIENT_MAC"
}

# ---------------------------------------------------------------- servers

s_serving() {
    [ "$(e2e_in "$1" ss -Htln '( sport = :5001 or sport = :5002 )' | wc -l)" -ge 2 ] \
        && e2e_in "$1" ss -Huln 'sport = :5002' | grep -q .
}

s_start_server() {
    e2e_bg "$1" "$E2E_DIR/server-$1.log" "$SELF" --serve
    e2e_wait 50 s_serving "$1" || s_fail "the server in $1 is not listening"
}

# ---------------------------------------------------------------- COLO counters

# colo-compare's counters of interest, from coloctl status's output ($1).
s_compare_counters() {
    awk '$2 == "compare" {
        for (i = 1; i <= NF; i++)
            if ($i ~ /^(out_frames|held_us|held_le_[0-9a-z]*|checkpoint_requests|released_flush|timeouts|mismatch_[a-z0-9]*|released_matched|released_retransmit|secondary_stale|primary_frames|secondary_frames|input_pauses)=/)
                printf " %s", $i
    }' "$1"
}

# Write "colo NAME counters... requests=R" once the counters are fresh.
# colo-compare hands its counters to its colo-control client on every scan
# (expired-scan-cycle: 100 ms here instead of 1000; it only scans the
# queues for expired frames), and the client sends them with its next
# hello (every 1000 ms): 1.3 s after the last frame, status has them all.
# Every instance's counters go to $E2E_DIR/status.N (kept with --keep).
s_snapshot() {
    sleep 1.3
    s_snaps=$((s_snaps + 1))
    e2e_ctl status >"$E2E_DIR/status.$s_snaps" 2>&1
    echo "colo $1$(s_compare_counters "$E2E_DIR/status.$s_snaps") requests=$(e2e_requests)" \
        >>"$OUT"
}
s_snaps=0

# ---------------------------------------------------------------- tests

TESTS="bulk tcprr"
[ "$UDP" = 1 ] && TESTS="$TESTS udprr"

# s_run PATH TEST NS [client options]: one test, its figures into $OUT.
s_run() {
    path=$1
    t=$2
    ns=$3
    shift 3
    s_say "$path $t"
    # shellcheck disable=SC2086
    line=$(e2e_in "$ns" timeout "$CLIENT_TIMEOUT" "$SELF" --client "$E2E_GUEST4" --test "$t" \
        $CLIENT_OPTS "$@") || s_fail "$path $t: the client failed"
    echo "$path $t $line" >>"$OUT"
    s_say "$path $t $line"
}

: >"$OUT"
s_say "namespaces ${E2E_P}*, files in $E2E_DIR"
if [ "$ONLY" != colo ]; then
    s_direct_topology || s_fail "direct topology"
    s_start_server dg
fi
if [ "$ONLY" != direct ]; then
    e2e_topology || s_fail "COLO topology"
    if [ "${E2E_BENCH_LINK_OFFLOADS:-0}" = 1 ]; then
        # The hosts' link (zmq between mirror, rewriter and compare) with
        # the offloads a real NIC has; the guests' links stay MTU-sized.
        e2e_in ph ethtool -K sec tso on gso on gro on tx on rx on sg on >/dev/null 2>&1
        e2e_in sh ethtool -K pri tso on gso on gro on tx on rx on sg on >/dev/null 2>&1
    fi
    # Extra compare options: "key=value;key=value" into "key = value" lines.
    set -- "expired-scan-cycle = 100"
    s_opts=${E2E_BENCH_COMPARE_OPTS:-}
    while [ -n "$s_opts" ]; do
        kv=${s_opts%%;*}
        set -- "$@" "${kv%%=*} = ${kv#*=}"
        [ "$kv" = "$s_opts" ] && s_opts="" || s_opts=${s_opts#*;}
    done
    e2e_config "$@"
    if [ "${E2E_BENCH_LINKS:-zmq}" = qemu ]; then
        # qemu+tcp between the hosts: the same endpoints, no zmq I/O thread.
        sed -i -e 's%zmq+tcp://\([0-9.]*\):\([0-9]*\),bind%qemu+tcp:\1:\2,server%' \
            -e 's%zmq+tcp://\([0-9.]*\):\([0-9]*\)%qemu+tcp:\1:\2%' "$E2E_CONF"
    fi
    e2e_start || s_fail "COLO services did not come up"
    s_start_server pg
    s_start_server sg
    s_snapshot "snap test=-1"
fi
# Each test on the direct path, then on the COLO path (so a change in
# other load hits both alike), REPEAT times; every COLO test is followed by
# a snapshot of compare's counters ("snap test=INDEX").
rep=0
while [ "$rep" -lt "$REPEAT" ]; do
    i=0
    for t in $TESTS; do
        if [ "$ONLY" != colo ]; then
            s_run direct "$t" dc --netns "${E2E_P}dc,${E2E_P}dg"
        fi
        if [ "$ONLY" != direct ]; then
            s_run colo "$t" cl --netns "${E2E_P}cl,${E2E_P}ph,${E2E_P}pg,${E2E_P}sh,${E2E_P}sg" \
                --pids "mirror=$E2E_MIRROR_PID,compare=$E2E_COMPARE_PID,rewriter=$E2E_REWRITER_PID"
            s_snapshot "snap test=$i"
        fi
        i=$((i + 1))
    done
    rep=$((rep + 1))
done
if [ "$ONLY" != direct ]; then
    e2e_alive || s_fail "a COLO service died"
    echo "colo adapter requests=$(e2e_requests) answers=$(e2e_answers)" >>"$OUT"
fi
if [ -n "${KEEP:-}" ]; then
    cp "$OUT" "$E2E_DIR/results"
    for ns in $(e2e_namespaces); do
        ip netns exec "$ns" nstat -az >"$E2E_DIR/nstat.${ns#"$E2E_P"}" 2>&1
    done
fi
exit 0
