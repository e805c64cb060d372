#!/bin/sh
# tcp_transfer.sh - issue 6 test 1: real TCP through mirror, rewriter and compare, byte-exact, no checkpoint.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh.  Both guests run the same deterministic socat
# servers (a download of a fixed file on port 8080, an echo on port 8081,
# IPv4 and IPv6); the client runs many socat clients at once.  Every
# transfer must come out byte-exact, and colo-compare must ask for no
# checkpoint at all: the guests pick different ISNs (the rewriter
# translates) and segment differently (compare compares streams).
#
# The echo half (client data into both guests) is off by default;
# tests/e2e/tcp_echo.sh runs it (E2E_ECHO=1).
#
# Counters printed at the end (guests and client, nstat): TSEcrRejected
# (a handshake ACK whose TSecr the secondary never sent), ListenOverflows /
# ListenDrops (a SYN one guest's listener refused), BeyondWindow (a segment
# beyond a guest's receive window, dropped: compare must keep the client
# within both guests' windows), PAWSEstab (a segment with an older timestamp,
# dropped: released frames out of timestamp order).  On a failure, also
# the kernel's drop counts of every packet socket (ss -0 -m, skmem "d").
set -u
E2E_NAME=${E2E_NAME:-tcp_transfer}
. "$(dirname "$0")/lib.sh"
e2e_require

CONC=${CONC:-6}          # concurrent connections per kind and address family
SIZE=${SIZE:-400000}     # bytes per download
ESIZE=${ESIZE:-100000}   # bytes per echo
E2E_ECHO=${E2E_ECHO:-0}  # 1: echo connections too

s_listening() { e2e_in "$1" ss -Htln "sport = :$2" | grep -q .; }

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR"
e2e_check "services started from one config, links up" e2e_start

# Deterministic content the two guests share.
head -c "$SIZE" /dev/urandom >"$E2E_DIR/download"
head -c "$ESIZE" /dev/urandom >"$E2E_DIR/echo.in"
for g in pg sg; do
    e2e_bg "$g" "$E2E_DIR/$g-srv4.log" socat TCP4-LISTEN:8080,fork,reuseaddr,backlog=256 \
        "OPEN:$E2E_DIR/download,rdonly"
    e2e_bg "$g" "$E2E_DIR/$g-srv6.log" socat TCP6-LISTEN:8080,ipv6only=1,fork,reuseaddr,backlog=256 \
        "OPEN:$E2E_DIR/download,rdonly"
    e2e_bg "$g" "$E2E_DIR/$g-echo4.log" socat TCP4-LISTEN:8081,fork,reuseaddr,backlog=256 EXEC:cat
    e2e_bg "$g" "$E2E_DIR/$g-echo6.log" socat TCP6-LISTEN:8081,ipv6only=1,fork,reuseaddr,backlog=256 EXEC:cat
done
s_servers_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Htln '( sport = :8080 or sport = :8081 )' | wc -l)" -ge 4 ] \
            || return 1
    done
}
e2e_check "servers listening on both guests" e2e_wait 50 s_servers_up

# Run the clients: CONC downloads and CONC echoes per address family, all at
# once, each bounded by timeout.
t0=$(date +%s.%N)
cpids=""
i=0
while [ "$i" -lt "$CONC" ]; do
    for fam in 4 6; do
        if [ "$fam" = 4 ]; then addr=$E2E_GUEST4; else addr="[$E2E_GUEST6]"; fi
        e2e_in cl timeout 30 socat -u "TCP$fam:$addr:8080" "CREATE:$E2E_DIR/dl$fam.$i" \
            2>"$E2E_DIR/dl$fam.$i.err" &
        cpids="$cpids $!"
        [ "$E2E_ECHO" = 1 ] || continue
        e2e_in cl timeout 30 socat -t 20 "OPEN:$E2E_DIR/echo.in,rdonly!!CREATE:$E2E_DIR/ec$fam.$i" \
            "TCP$fam:$addr:8081" 2>"$E2E_DIR/ec$fam.$i.err" &
        cpids="$cpids $!"
    done
    i=$((i + 1))
done
cfail=0
for p in $cpids; do wait "$p" || cfail=$((cfail + 1)); done
t1=$(date +%s.%N)
e2e_say "$((CONC * (2 + 2 * E2E_ECHO))) transfers in $(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}') s"

e2e_check "every client exited 0" [ "$cfail" -eq 0 ]
s_all_equal() {
    ok=0
    for fam in 4 6; do
        i=0
        while [ "$i" -lt "$CONC" ]; do
            cmp -s "$E2E_DIR/download" "$E2E_DIR/dl$fam.$i" \
                || { e2e_say "download $fam.$i differs: $(wc -c <"$E2E_DIR/dl$fam.$i" 2>/dev/null) bytes"; ok=1; }
            i=$((i + 1))
        done
    done
    return $ok
}
s_all_echoed() {
    ok=0
    for fam in 4 6; do
        i=0
        while [ "$i" -lt "$CONC" ]; do
            cmp -s "$E2E_DIR/echo.in" "$E2E_DIR/ec$fam.$i" \
                || { e2e_say "echo $fam.$i differs: $(wc -c <"$E2E_DIR/ec$fam.$i" 2>/dev/null) bytes"; ok=1; }
            i=$((i + 1))
        done
    done
    return $ok
}
e2e_check "downloads byte-exact over IPv4 and IPv6 ($CONC each)" s_all_equal
[ "$E2E_ECHO" = 1 ] && e2e_check "echoes byte-exact over IPv4 and IPv6 ($CONC each)" s_all_echoed
e2e_check "zero checkpoint requests (got $(e2e_requests))" [ "$(e2e_requests)" -eq 0 ]
e2e_check "services still running" e2e_alive
for g in pg sg cl; do
    e2e_say "$g: $(e2e_in "$g" nstat -az TcpExtListenOverflows TcpExtTSEcrRejected \
        TcpExtListenDrops TcpExtBeyondWindow TcpExtPAWSEstab | grep -v "^#" \
        | awk "{printf \"%s=%s \", \$1, \$2}")"
done
if [ "$E2E_FAILED" -ne 0 ]; then
    for h in ph sh; do
        e2e_in "$h" ss -0 -a -m -p 2>/dev/null | sed -n 's/.*:\([a-z0-9]*\) .*users:(("\([^"]*\)".*skmem:(.*,d\([0-9]*\)).*/\2 on \1: \3 dropped/p' \
            | while read -r line; do e2e_say "$h packet socket: $line"; done
    done
    e2e_dump_logs
fi
e2e_finish
