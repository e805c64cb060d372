#!/bin/sh
# guest_opens.sh - issue 6 test 2: TCP connections the guests open, to servers on the client side, byte-exact, no checkpoint.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh, turned around: the client namespace runs the
# servers (a download of a fixed file on port 8090; an upload sink on port
# 8091 that keeps each connection's bytes in a file named by the peer's
# port), and both guests run the same socat clients at nearly the same
# time, each connection from a fixed source port so that the two guests'
# connections have the same 4-tuple.  The client's servers see only the
# primary's connections (one per source port); the secondary's SYN and data
# go through colo-rewriter, which learns the offset from the secondary's SYN
# and the client's SYN-ACK, to colo-compare, which compares and drops them.
# Every transfer must come out byte-exact in both guests (downloads) and on
# the client (uploads), over IPv4 and IPv6, with no checkpoint request.
set -u
E2E_NAME=guest_opens
. "$(dirname "$0")/lib.sh"
e2e_require

CONC=${CONC:-4}          # connections per kind and address family
SIZE=${SIZE:-300000}     # bytes per download (client -> guest)
USIZE=${USIZE:-200000}   # bytes per upload (guest -> client)

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR"
e2e_check "services started from one config, links up" e2e_start

head -c "$SIZE" /dev/urandom >"$E2E_DIR/download"
head -c "$USIZE" /dev/urandom >"$E2E_DIR/upload"
mkdir "$E2E_DIR/up"
e2e_bg cl "$E2E_DIR/cl-dl4.log" socat TCP4-LISTEN:8090,fork,reuseaddr,backlog=256 \
    "OPEN:$E2E_DIR/download,rdonly"
e2e_bg cl "$E2E_DIR/cl-dl6.log" socat TCP6-LISTEN:8090,ipv6only=1,fork,reuseaddr,backlog=256 \
    "OPEN:$E2E_DIR/download,rdonly"
# One file per accepted connection: up/<peer port>.<pid>.
e2e_bg cl "$E2E_DIR/cl-up4.log" socat -u TCP4-LISTEN:8091,fork,reuseaddr,backlog=256 \
    "SYSTEM:exec cat >$E2E_DIR/up/\$SOCAT_PEERPORT.\$\$"
e2e_bg cl "$E2E_DIR/cl-up6.log" socat -u TCP6-LISTEN:8091,ipv6only=1,fork,reuseaddr,backlog=256 \
    "SYSTEM:exec cat >$E2E_DIR/up/\$SOCAT_PEERPORT.\$\$"
s_servers_up() {
    [ "$(e2e_in cl ss -Htln '( sport = :8090 or sport = :8091 )' | wc -l)" -ge 4 ]
}
e2e_check "servers listening on the client" e2e_wait 50 s_servers_up

# Source ports: download i over IPv4 from 20000+i, IPv6 from 21000+i;
# uploads from 22000+i and 23000+i.  The same command in both guests, the
# primary first and the secondary right after (compare holds the primary's
# SYN until the secondary's twin arrives).
t0=$(date +%s.%N)
gpids=""
i=0
while [ "$i" -lt "$CONC" ]; do
    for fam in 4 6; do
        if [ "$fam" = 4 ]; then addr=$E2E_CLIENT4; dp=$((20000 + i)); up=$((22000 + i))
        else addr="[$E2E_CLIENT6]"; dp=$((21000 + i)); up=$((23000 + i)); fi
        for g in pg sg; do
            e2e_in "$g" timeout 30 socat -u "TCP$fam:$addr:8090,sourceport=$dp,reuseaddr" \
                "CREATE:$E2E_DIR/$g.dl$fam.$i" 2>"$E2E_DIR/$g.dl$fam.$i.err" &
            gpids="$gpids $!"
        done
        for g in pg sg; do
            e2e_in "$g" timeout 30 socat -u "OPEN:$E2E_DIR/upload,rdonly" \
                "TCP$fam:$addr:8091,sourceport=$up,reuseaddr" 2>"$E2E_DIR/$g.up$fam.$i.err" &
            gpids="$gpids $!"
        done
    done
    i=$((i + 1))
done
gfail=0
for p in $gpids; do wait "$p" || gfail=$((gfail + 1)); done
t1=$(date +%s.%N)
e2e_say "$((CONC * 4)) connections per guest in $(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}') s"

e2e_check "every guest client exited 0 ($gfail failed)" [ "$gfail" -eq 0 ]
s_downloads_equal() {
    ok=0
    for g in pg sg; do
        for fam in 4 6; do
            i=0
            while [ "$i" -lt "$CONC" ]; do
                f=$E2E_DIR/$g.dl$fam.$i
                cmp -s "$E2E_DIR/download" "$f" \
                    || { e2e_say "$g download $fam.$i differs: $(wc -c <"$f" 2>/dev/null) bytes"; ok=1; }
                i=$((i + 1))
            done
        done
    done
    return $ok
}
e2e_check "downloads byte-exact in both guests over IPv4 and IPv6 ($CONC each)" s_downloads_equal

# The upload sink writes its file when the connection ends; the guests'
# clients have exited, so the client's side is closing: wait (bounded) for
# every sink child to finish before comparing.
s_sinks_done() { ! e2e_in cl ss -Htn state established '( sport = :8091 )' | grep -q . ; }
e2e_wait 50 s_sinks_done
s_uploads_equal() {
    ok=0
    for p in $(i=0; while [ "$i" -lt "$CONC" ]; do echo $((22000 + i)) $((23000 + i)); i=$((i + 1)); done); do
        n=$(ls "$E2E_DIR/up" | grep -c "^$p\.")
        [ "$n" -eq 1 ] || { e2e_say "upload from port $p: $n connections at the client"; ok=1; continue; }
        cmp -s "$E2E_DIR/upload" "$E2E_DIR/up/$p".* \
            || { e2e_say "upload from port $p differs: $(wc -c <"$E2E_DIR/up/$p".*) bytes"; ok=1; }
    done
    total=$(ls "$E2E_DIR/up" | wc -l)
    [ "$total" -eq $((2 * CONC)) ] || { e2e_say "$total upload connections at the client"; ok=1; }
    return $ok
}
e2e_check "uploads byte-exact at the client, one connection per source port (IPv4 and IPv6)" \
    s_uploads_equal
# A primary frame left unmatched (e.g. at connection close) asks for a
# checkpoint only after compare-timeout (3000 ms) plus up to one scan cycle
# (1000 ms): watch that long for a late request before counting.
s_requested() { [ "$(e2e_requests)" -gt 0 ]; }
e2e_wait 45 s_requested
e2e_check "zero checkpoint requests, also compare-timeout + a scan cycle later (got $(e2e_requests))" \
    [ "$(e2e_requests)" -eq 0 ]
e2e_check "services still running" e2e_alive
[ "$E2E_FAILED" -eq 0 ] || e2e_dump_logs
e2e_finish
