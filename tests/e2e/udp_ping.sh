#!/bin/sh
# udp_ping.sh - issue 6 test 6: UDP request/response echo and ping (ICMP, ICMPv6) through mirror, rewriter and compare.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh.  Both guests run a socat UDP echo (IPv4 and IPv6);
# the client sends distinct requests and must get each one back exactly;
# ping and ping -6 must get every reply.  Compare matches the guests'
# datagrams per flow: no checkpoint request at all.
set -u
E2E_NAME=udp_ping
. "$(dirname "$0")/lib.sh"
e2e_require

N=${N:-5}

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR"
e2e_check "services started from one config, links up" e2e_start

for g in pg sg; do
    e2e_bg "$g" "$E2E_DIR/$g-udp4.log" socat UDP4-RECVFROM:7000,fork EXEC:cat
    e2e_bg "$g" "$E2E_DIR/$g-udp6.log" socat UDP6-RECVFROM:7000,ipv6only=1,fork EXEC:cat
done
s_udp_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Hlun "( sport = :7000 )" | wc -l)" -ge 2 ] || return 1
    done
}
e2e_check "UDP echo servers bound on both guests" e2e_wait 50 s_udp_up

# One request per client process; the reply must be the request.  socat
# waits -t seconds for it after sending (and always that long: UDP has no
# end); 1 s was too short on a loaded machine, where the guests' socat forks
# a process per datagram.
s_udp_echo() {
    fam=$1
    if [ "$fam" = 4 ]; then addr=$E2E_GUEST4; else addr="[$E2E_GUEST6]"; fi
    pids=""
    i=0
    while [ "$i" -lt "$N" ]; do
        printf 'request %s %s from colonet e2e\n' "$fam" "$i" >"$E2E_DIR/u$fam.$i.in"
        e2e_in cl timeout 15 socat -t 3 "OPEN:$E2E_DIR/u$fam.$i.in,rdonly!!CREATE:$E2E_DIR/u$fam.$i.out" \
            "UDP$fam:$addr:7000" 2>/dev/null &
        pids="$pids $!"
        i=$((i + 1))
    done
    for p in $pids; do wait "$p"; done
    ok=0
    i=0
    while [ "$i" -lt "$N" ]; do
        cmp -s "$E2E_DIR/u$fam.$i.in" "$E2E_DIR/u$fam.$i.out" \
            || { e2e_say "udp$fam request $i: got '$(cat "$E2E_DIR/u$fam.$i.out" 2>/dev/null)'"; ok=1; }
        i=$((i + 1))
    done
    return $ok
}
e2e_check "UDP echo over IPv4: $N requests answered exactly" s_udp_echo 4
e2e_check "UDP echo over IPv6: $N requests answered exactly" s_udp_echo 6
s_ping() {
    e2e_in cl ping "$@" -c 10 -i 0.05 -W 2 -q >"$E2E_DIR/ping.out" 2>&1
    grep -q " 10 received" "$E2E_DIR/ping.out" || { cat "$E2E_DIR/ping.out"; return 1; }
}
e2e_check "ping (ICMP): 10 of 10 replies" s_ping -4 "$E2E_GUEST4"
e2e_check "ping -6 (ICMPv6): 10 of 10 replies" s_ping -6 "$E2E_GUEST6"
e2e_check "ping with 1400-byte payloads: 10 of 10" s_ping -4 -s 1400 "$E2E_GUEST4"
e2e_check "zero checkpoint requests (got $(e2e_requests))" [ "$(e2e_requests)" -eq 0 ]
e2e_check "services still running" e2e_alive
[ "$E2E_FAILED" -eq 0 ] || e2e_dump_logs
e2e_finish
