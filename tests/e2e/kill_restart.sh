#!/bin/sh
# kill_restart.sh - issue 6 test 5: kill -9 of each service in turn during traffic, then restart: connections recover or fail cleanly, rules are intact, no primary frame is released unverified.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh with colo-control (E2E_CONTROL=1); the adapter's
# gate stays CLOSED for the whole run: no checkpoint-done is ever given, so
# compare can release a primary frame only after a match (or by a rule).
#
# Ports (servers on both guests, IPv4 and IPv6):
#   8080  the same file D on both guests, paced (a chunk, a pause): the
#         downloads that are running while a service is killed;
#   8081  the same file E on both guests, at full speed: new downloads
#         after each restart;
#   8082  different answers (primary P, secondary S), no rule: one client
#         connection per family is open for the whole run.  The primary's
#         answer is never verified, so not one of its bytes may reach the
#         client, through any kill and restart (capture on the client's
#         eth0; the capture on the primary host shows it was sent);
#   8083  different answers (primary P3, secondary S3) under a passthrough
#         rule added before the first kill: a download returns P3.
#
# For each of colo-mirror, colo-compare, colo-rewriter and colo-control in
# turn: paced downloads from 8080 (IPv4, IPv6) are started and have
# received bytes; kill -9; wait until the process is gone (and, for the
# data plane, colo-control shows it DEAD); restart it with the same
# command line; wait until it is back (links up, registered and alive at
# the current rules version: e2e_kill / e2e_restart of lib.sh).  Then:
#   - new downloads from 8081 over IPv4 and IPv6 complete byte-exact (each
#     bounded by a timeout);
#   - the rule list (coloctl --json passthrough list) is the same as before
#     the kill, and a download from 8083 returns the primary's answer;
#   - every service is running.
# At the end: every download that was running at a kill either completed
# byte-exact or failed, and what a failed one received is a prefix of D
# (never a wrong byte); the 8082 connections received nothing; compare
# (its last incarnation) released nothing by checkpoint or failover.
#
# With the gate closed, requests caused by the kills stay unanswered.  That
# does not hold up other connections: compare settles each connection on
# its own, and an outstanding request only stops new ones being sent.  A
# connection that spans a restart may not recover: compare holds it for
# good, waiting for a checkpoint that never comes; that is "fail cleanly",
# allowed (the client's socat gives up after 10 s without a byte).  NEW
# connections must work after every restart.  Seen here:
#   - rewriter: its offset table is lost, the secondary's segments of an
#     open connection no longer line up with the primary's;
#   - compare: a new instance starts tracking a connection at the first
#     primary segment it sees; segments sent while it was down leave a
#     hole in front of new data, and the retransmission that would fill it
#     queues behind that data (compare releases a connection's primary
#     segments in arrival order);
#   - mirror: the client's ACKs are lost while it is down; when the
#     secondary is a segment behind the primary at that moment, the
#     primary's next segment waits for bytes the secondary sends only on a
#     new ACK, and the guests' retransmissions that would draw one from
#     the client queue behind it;
#   - colo-control: the data plane keeps running, downloads complete.
set -u
E2E_NAME=kill_restart
E2E_CONTROL=1
. "$(dirname "$0")/lib.sh"
e2e_require

DSIZE=${DSIZE:-1048576}  # bytes of D (paced: 64 KiB every 0.1 s)
ESIZE=${ESIZE:-300000}   # bytes of E
SIZE=${SIZE:-60000}      # bytes of P, S, P3, S3
KINDS=${KINDS:-"mirror compare rewriter control"}

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR"
GATE=$E2E_DIR/gate       # never created: the gate stays closed
e2e_check "services and colo-control started from one config, links up, registered" \
    e2e_start "$GATE"

head -c "$DSIZE" /dev/urandom >"$E2E_DIR/D"
head -c "$ESIZE" /dev/urandom >"$E2E_DIR/E"
{ printf 'PRIMARY\n'; head -c "$((SIZE - 8))" /dev/urandom; } >"$E2E_DIR/P"
{ printf 'SECONDARY\n'; head -c "$((SIZE - 10))" /dev/urandom; } >"$E2E_DIR/S"
{ printf 'PRIMARY3\n'; head -c "$((SIZE - 9))" /dev/urandom; } >"$E2E_DIR/P3"
{ printf 'SECONDARY3\n'; head -c "$((SIZE - 11))" /dev/urandom; } >"$E2E_DIR/S3"
# The paced server: D in 64 KiB chunks, a pause after each (traffic
# shaping, so that downloads are running when a service dies).
cat >"$E2E_DIR/paced.sh" <<EOF
i=0
while [ \$i -lt $(((DSIZE + 65535) / 65536)) ]; do
    dd if="$E2E_DIR/D" bs=65536 skip=\$i count=1 status=none || exit 0
    sleep 0.1
    i=\$((i + 1))
done
EOF
for g in pg sg; do
    if [ "$g" = pg ]; then a=P; b=P3; else a=S; b=S3; fi
    for fam in 4 6; do
        if [ "$fam" = 6 ]; then v6=",ipv6only=1"; else v6=""; fi
        l="TCP$fam-LISTEN"
        e2e_bg "$g" "$E2E_DIR/$g-8080-$fam.log" socat "$l:8080,fork,reuseaddr$v6" \
            "SYSTEM:sh $E2E_DIR/paced.sh"
        e2e_bg "$g" "$E2E_DIR/$g-8081-$fam.log" socat "$l:8081,fork,reuseaddr$v6" \
            "OPEN:$E2E_DIR/E,rdonly"
        e2e_bg "$g" "$E2E_DIR/$g-8082-$fam.log" socat "$l:8082,fork,reuseaddr$v6" \
            "OPEN:$E2E_DIR/$a,rdonly"
        e2e_bg "$g" "$E2E_DIR/$g-8083-$fam.log" socat "$l:8083,fork,reuseaddr$v6" \
            "OPEN:$E2E_DIR/$b,rdonly"
    done
done
s_servers_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Htln '( sport >= :8080 and sport <= :8083 )' | wc -l)" -ge 8 ] \
            || return 1
    done
}
e2e_check "servers listening on both guests (8080-8083)" e2e_wait 50 s_servers_up

# ---------------------------------------------------------------- helpers

s_size() { wc -c <"$1" 2>/dev/null || echo 0; }
# One download in the background: s_get TAG FAMILY PORT [SECONDS] (its
# output in $E2E_DIR/TAG, its pid in S_PID; socat gives up after 10 s
# without a byte).
s_get() {
    if [ "$2" = 4 ]; then addr=$E2E_GUEST4; else addr="[$E2E_GUEST6]"; fi
    e2e_in cl timeout "${4:-60}" socat -T 10 -u "TCP$2:$addr:$3" "CREATE:$E2E_DIR/$1" \
        2>"$E2E_DIR/$1.err" &
    S_PID=$!
    E2E_PIDS="$E2E_PIDS $!"
}
# Download synchronously and compare: s_fetch_is TAG FAMILY PORT FILE.
s_fetch_is() {
    s_get "$1" "$2" "$3" 30
    wait "$S_PID"
    cmp -s "$E2E_DIR/$1" "$4" \
        || { e2e_say "$1: $(s_size "$E2E_DIR/$1") bytes, not $4"; return 1; }
}
# Both families at once: s_fetch_both TAG PORT FILE.
s_fetch_both() {
    s_get "$1.4" 4 "$2" 30
    f4=$S_PID
    s_get "$1.6" 6 "$2" 30
    f6=$S_PID
    wait "$f4"
    wait "$f6"
    ok=0
    for fam in 4 6; do
        cmp -s "$E2E_DIR/$1.$fam" "$3" \
            || { e2e_say "$1.$fam: $(s_size "$E2E_DIR/$1.$fam") bytes, not $(basename "$3")"; ok=1; }
    done
    return $ok
}
# (without the hits, which count since each compare instance started)
s_rules() { e2e_ctl --json passthrough list 2>/dev/null | sed 's/,"hits":[0-9]*//g' >"$1"; }
s_has_bytes() { [ "$(s_size "$1")" -gt 0 ]; }
# TCP payload bytes in a capture (tcpdump -q: "... tcp LEN").
s_payload() {
    tcpdump -q -nn -r "$1" 2>/dev/null | awk '$(NF - 1) == "tcp" { n += $NF } END { print n + 0 }'
}

# ---------------------------------------------------------------- before the kills

e2e_bg cl "$E2E_DIR/cap-cl.log" tcpdump -nn -U --immediate-mode -i eth0 -w "$E2E_DIR/cl.pcap" \
    tcp src port 8082
CAP_CL_PID=$E2E_LAST_PID
e2e_bg ph "$E2E_DIR/cap-pg.log" tcpdump -nn -U --immediate-mode -i gst -w "$E2E_DIR/pg.pcap" \
    tcp src port 8082
CAP_PG_PID=$E2E_LAST_PID
s_capturing() { grep -q listening "$E2E_DIR/cap-cl.log" && grep -q listening "$E2E_DIR/cap-pg.log"; }
e2e_check "captures of port 8082 running (client eth0, primary host gst)" e2e_wait 50 s_capturing

id=$(e2e_ctl passthrough add --vm vm1 --proto tcp --dport 8083 --comment e2e-bypass)
e2e_check "passthrough rule for 8083 added (id $id)" [ -n "$id" ]
e2e_check "... every instance at its version" e2e_wait 150 s_e2e_registered compare
s_rules "$E2E_DIR/rules.before"
e2e_check "8083 returns the primary's answer (bypass)" s_fetch_is by0 4 8083 "$E2E_DIR/P3"
e2e_check "8081 downloads byte-exact (IPv4, IPv6)" s_fetch_both new0 8081 "$E2E_DIR/E"
e2e_check "zero checkpoint requests so far" [ "$(e2e_requests)" -eq 0 ]

# The divergent connections, open for the whole run.
s_get div.4 4 8082 600
s_get div.6 6 8082 600
s_primary_sent() { [ "$(s_payload "$E2E_DIR/pg.pcap")" -gt 0 ]; }
e2e_check "8082: the primary guest sends its (unverifiable) answer" e2e_wait 100 s_primary_sent
s_requested() { [ "$(e2e_requests)" -ge 1 ]; }
e2e_check "8082: compare asks for a checkpoint (the gate stays closed)" e2e_wait 150 s_requested

# ---------------------------------------------------------------- the kills

# What a download that was running at a kill got: s_judge TAG prints
# "complete", "prefix" (it failed after a correct prefix of D) or "WRONG".
s_judge() {
    n=$(s_size "$E2E_DIR/$1")
    if cmp -s "$E2E_DIR/$1" "$E2E_DIR/D"; then
        echo complete
    elif [ "$n" -lt "$DSIZE" ] && cmp -s -n "$n" "$E2E_DIR/$1" "$E2E_DIR/D"; then
        echo prefix
    else
        echo WRONG
    fi
}
COMPLETE=0
FAILED=0
for kind in $KINDS; do
    # Paced downloads running while the service dies.
    s_get "run-$kind.4" 4 8080 60
    run4=$S_PID
    s_get "run-$kind.6" 6 8080 60
    run6=$S_PID
    e2e_wait 100 s_has_bytes "$E2E_DIR/run-$kind.4"
    e2e_wait 100 s_has_bytes "$E2E_DIR/run-$kind.6"
    at4=$(s_size "$E2E_DIR/run-$kind.4")
    at6=$(s_size "$E2E_DIR/run-$kind.6")
    if [ "$kind" = control ]; then seen=""; else seen=", colo-control shows it DEAD"; fi
    e2e_check "$kind: kill -9 during 2 downloads (at $at4 and $at6 of $DSIZE bytes): gone$seen" \
        e2e_kill "$kind"
    e2e_check "$kind: restarted: back, registered, current rules" e2e_restart "$kind"
    e2e_check "$kind: new downloads over IPv4 and IPv6 byte-exact" s_fetch_both "new-$kind" 8081 \
        "$E2E_DIR/E"
    s_rules "$E2E_DIR/rules.$kind"
    e2e_check "$kind: the rule list is the same as before" cmp -s "$E2E_DIR/rules.before" \
        "$E2E_DIR/rules.$kind"
    e2e_check "$kind: 8083 still bypassed: the primary's answer" s_fetch_is "by-$kind" 6 8083 \
        "$E2E_DIR/P3"
    # The downloads that were running at the kill end: completed, or given
    # up after 10 s without a byte (bounded by their timeout too).
    wait "$run4"
    wait "$run6"
    j4=$(s_judge "run-$kind.4")
    j6=$(s_judge "run-$kind.6")
    for j in $j4 $j6; do
        case $j in
        complete) COMPLETE=$((COMPLETE + 1)) ;;
        prefix) FAILED=$((FAILED + 1)) ;;
        esac
    done
    e2e_check "$kind: the downloads running at the kill: IPv4 $j4 ($(s_size "$E2E_DIR/run-$kind.4") bytes), IPv6 $j6 ($(s_size "$E2E_DIR/run-$kind.6") bytes)" \
        [ "$j4" != WRONG -a "$j6" != WRONG ]
    e2e_check "$kind: 8082: no payload byte has reached the client" \
        [ "$(s_payload "$E2E_DIR/cl.pcap")" -eq 0 ]
    e2e_check "$kind: every service running" e2e_alive
done

# ---------------------------------------------------------------- at the end

e2e_say "downloads running at the kills: $COMPLETE completed byte-exact, $FAILED failed after a correct prefix"
kill "$CAP_CL_PID" "$CAP_PG_PID" 2>/dev/null
wait "$CAP_CL_PID" 2>/dev/null
wait "$CAP_PG_PID" 2>/dev/null
held=$(s_payload "$E2E_DIR/cl.pcap")
sent=$(s_payload "$E2E_DIR/pg.pcap")
e2e_check "8082: no payload byte reached the client through every kill (capture: $held; the primary guest sent $sent)" \
    [ "$held" -eq 0 -a "$sent" -gt 0 ]
e2e_check "8082: the client received nothing (IPv4 $(s_size "$E2E_DIR/div.4"), IPv6 $(s_size "$E2E_DIR/div.6") bytes)" \
    [ "$(s_size "$E2E_DIR/div.4")" -eq 0 -a "$(s_size "$E2E_DIR/div.6")" -eq 0 ]
e2e_check "no checkpoint-done was ever given (requests $(e2e_requests), answers $(e2e_answers))" \
    [ "$(e2e_answers)" -eq 0 ]
s_cmp_counter() {
    e2e_ctl --json status 2>/dev/null | sed 's/{"kind":/@&/g' | tr '@' '\n' \
        | grep '^{"kind":"compare"' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
e2e_check "compare released nothing by checkpoint or failover (released_flush $(s_cmp_counter released_flush), released_failover $(s_cmp_counter released_failover))" \
    [ "$(s_cmp_counter released_flush)" = 0 -a "$(s_cmp_counter released_failover)" = 0 ]
e2e_check "services still running" e2e_alive
e2e_say "requests=$(e2e_requests) answers=$(e2e_answers)"
[ "$E2E_FAILED" -eq 0 ] || e2e_dump_logs
e2e_finish
