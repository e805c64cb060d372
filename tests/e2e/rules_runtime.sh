#!/bin/sh
# rules_runtime.sh - issue 6 test 4: a passthrough rule added with coloctl at run time stops the checkpoint requests of its port; deleting it brings comparison back.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh with colo-control (E2E_CONTROL=1).  Port 8082
# diverges: the primary guest serves file P, the secondary guest file S
# (same length, different bytes).  Port 8080 serves the same file D on both
# guests; it must be compared (bytes_compared grows by its downloads) and
# pass without a checkpoint request in every phase.
#
#   (a) no rule, adapter gate OPEN: a download from 8082 causes checkpoint
#       requests.  The gate is open so that each request is answered:
#       compare keeps at most one request outstanding and repeats it every
#       scan cycle until checkpoint-done, and a rule does not answer it, so
#       with the gate closed the request count would keep moving through
#       (b) whatever the rule does.  Every checkpoint-done flushes the
#       primary's queued frames, so the download completes with P.  (The
#       adapter's checkpoint-done does not copy the primary's state into
#       the secondary: the guests stay divergent, each later segment of the
#       connection mismatches again; that is fine, every one is answered.)
#   (b) coloctl passthrough add --vm vm1 --proto tcp --dport 8082 at run
#       time; once compare reports the new rules version (coloctl --json
#       status), new downloads from 8082 over IPv4 and IPv6 complete
#       byte-exact with the PRIMARY's answer, the request count does not
#       move, compare's released_bypass and secondary_bypassed counters
#       grow, and 8080 is still compared.
#   (c) the gate is CLOSED, coloctl passthrough del ID; once compare has
#       the new version, a new download from 8082 (IPv4 and IPv6) causes a
#       request again, the primary guest did send its answer (capture on
#       the primary host), yet no payload byte from 8082 reaches the client
#       (capture on its eth0) nor its socat; meanwhile 8080 downloads still
#       complete byte-exact (compare settles each connection on its own; a
#       held one does not stop matched frames of others).
# At the end every "checkpoint requested" line of compare's log names a
# connection to port 8082: none was ever caused by 8080.
set -u
E2E_NAME=rules_runtime
E2E_CONTROL=1
. "$(dirname "$0")/lib.sh"
e2e_require

SIZE=${SIZE:-100000}     # bytes of P and S (port 8082)
DSIZE=${DSIZE:-200000}   # bytes of D (port 8080)
N=${N:-3}                # downloads per family and phase

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR"
GATE=$E2E_DIR/gate
touch "$GATE"
e2e_check "services and colo-control started from one config, links up, registered" \
    e2e_start "$GATE"

{ printf 'PRIMARY\n'; head -c "$((SIZE - 8))" /dev/urandom; } >"$E2E_DIR/P"
{ printf 'SECONDARY\n'; head -c "$((SIZE - 10))" /dev/urandom; } >"$E2E_DIR/S"
head -c "$DSIZE" /dev/urandom >"$E2E_DIR/D"
for g in pg sg; do
    if [ "$g" = pg ]; then f=$E2E_DIR/P; else f=$E2E_DIR/S; fi
    for fam in 4 6; do
        if [ "$fam" = 6 ]; then v6=",ipv6only=1"; else v6=""; fi
        e2e_bg "$g" "$E2E_DIR/$g-div$fam.log" socat "TCP$fam-LISTEN:8082,fork,reuseaddr$v6" \
            "OPEN:$f,rdonly"
        e2e_bg "$g" "$E2E_DIR/$g-same$fam.log" socat "TCP$fam-LISTEN:8080,fork,reuseaddr$v6" \
            "OPEN:$E2E_DIR/D,rdonly"
    done
done
s_servers_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Htln '( sport = :8080 or sport = :8082 )' | wc -l)" -ge 4 ] \
            || return 1
    done
}
e2e_check "servers listening on both guests (8080 the same, 8082 different)" \
    e2e_wait 50 s_servers_up

# ---------------------------------------------------------------- helpers

# Compare's view in colo-control: one line per instance of coloctl --json
# status; s_cmp_field NAME prints compare's value of NAME (a counter or
# rules_version), empty if unknown.
s_cmp_field() {
    e2e_ctl --json status 2>/dev/null | sed 's/{"kind":/@&/g' | tr '@' '\n' \
        | grep '^{"kind":"compare"' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
# colo-control's rules version.
s_ctl_version() {
    e2e_ctl --json status 2>/dev/null | sed -n 's/^{"ok":true,"version":\([0-9]*\),.*/\1/p'
}
# Compare applies rules version V (it reports it with its heartbeat).
s_cmp_version_is() { [ "$(s_cmp_field rules_version)" = "$1" ]; }
# Compare's counter NAME has reached at least V.
s_cmp_at_least() {
    v=$(s_cmp_field "$1")
    [ -n "$v" ] && [ "$v" -ge "$2" ]
}

# Downloads: s_get TAG FAMILY PORT starts one in the background (bounded),
# its output in $E2E_DIR/TAG; s_wait_all waits for those started since the
# last s_wait_all.
CPIDS=""
s_get() {
    if [ "$2" = 4 ]; then addr=$E2E_GUEST4; else addr="[$E2E_GUEST6]"; fi
    e2e_in cl timeout 60 socat -u "TCP$2:$addr:$3" "CREATE:$E2E_DIR/$1" 2>"$E2E_DIR/$1.err" &
    CPIDS="$CPIDS $!"
    E2E_PIDS="$E2E_PIDS $!"
}
s_wait_all() {
    for p in $CPIDS; do wait "$p"; done
    CPIDS=""
}
# Every file TAG.4.I and TAG.6.I (I < N) equals FILE.
s_all_equal() {
    ok=0
    for fam in 4 6; do
        i=0
        while [ "$i" -lt "$N" ]; do
            cmp -s "$2" "$E2E_DIR/$1.$fam.$i" \
                || { e2e_say "$1.$fam.$i differs: $(wc -c <"$E2E_DIR/$1.$fam.$i" 2>/dev/null) bytes"; ok=1; }
            i=$((i + 1))
        done
    done
    return $ok
}
# N downloads per family from PORT, all at once: s_get_n TAG PORT.
s_get_n() {
    i=0
    while [ "$i" -lt "$N" ]; do
        s_get "$1.4.$i" 4 "$2"
        s_get "$1.6.$i" 6 "$2"
        i=$((i + 1))
    done
}
s_size() { wc -c <"$1" 2>/dev/null || echo 0; }
# No connection of the client's to port 8082 is left (but TIME-WAIT).
s_client_closed() {
    ! e2e_in cl ss -Htn state connected exclude time-wait '( dport = :8082 )' | grep -q .
}
# Compare's last report is settled: every request answered, the report
# counts all of them, nothing queued.
s_settled() {
    r=$(e2e_requests)
    [ "$r" -eq "$(e2e_answers)" ] || return 1
    e2e_ctl --json status 2>/dev/null | sed 's/{"kind":/@&/g' | tr '@' '\n' \
        | grep '^{"kind":"compare"' >"$E2E_DIR/cmp.status" || return 1
    grep -q "\"checkpoint_requests\":$r," "$E2E_DIR/cmp.status" \
        && grep -q '"queued_primary":0,' "$E2E_DIR/cmp.status" \
        && grep -q '"queued_secondary":0,' "$E2E_DIR/cmp.status"
}

# ---------------------------------------------------------------- before: 8080 compared

compared0=$(s_cmp_field bytes_compared)
s_get_n same0 8080
s_wait_all
e2e_check "no rule: $N + $N downloads from 8080 byte-exact (IPv4, IPv6)" s_all_equal same0 "$E2E_DIR/D"
e2e_check "... compared by compare (bytes_compared reaches $((2 * N * DSIZE)))" \
    e2e_wait 100 s_cmp_at_least bytes_compared $((${compared0:-0} + 2 * N * DSIZE))
e2e_check "... zero checkpoint requests (got $(e2e_requests))" [ "$(e2e_requests)" -eq 0 ]

# ---------------------------------------------------------------- (a) no rule: requests

s_get div-a 4 8082
s_wait_all
e2e_check "(a) no rule: the download from 8082 causes checkpoint requests ($(e2e_requests))" \
    [ "$(e2e_requests)" -ge 1 ]
s_answered_p() { [ "$(e2e_answers)" -ge 1 ] && cmp -s "$E2E_DIR/div-a" "$E2E_DIR/P"; }
e2e_check "(a) gate open: answered ($(e2e_answers)), and the client got the primary's answer ($(s_size "$E2E_DIR/div-a") bytes)" \
    s_answered_p
e2e_check "(a) the connection closed, every request answered, nothing queued in compare" \
    e2e_wait 150 s_client_closed && e2e_wait 150 s_settled

# ---------------------------------------------------------------- (b) rule added at run time

id=$(e2e_ctl passthrough add --vm vm1 --proto tcp --dport 8082 --comment e2e-divergent)
e2e_check "(b) coloctl passthrough add --vm vm1 --proto tcp --dport 8082 at run time (id $id)" \
    [ -n "$id" ]
v1=$(s_ctl_version)
e2e_check "(b) compare reports rules version $v1" e2e_wait 150 s_cmp_version_is "$v1"
# Any request still on its way from (a) is answered (gate open) by now.
e2e_wait 50 s_settled
r0=$(e2e_requests)
bypass0=$(s_cmp_field released_bypass)
sbypass0=$(s_cmp_field secondary_bypassed)
compared0=$(s_cmp_field bytes_compared)
s_get_n div-b 8082
s_get_n same-b 8080
s_wait_all
e2e_check "(b) $N + $N downloads from 8082 byte-exact with the PRIMARY's answer" \
    s_all_equal div-b "$E2E_DIR/P"
e2e_check "(b) $N + $N downloads from 8080 byte-exact meanwhile" s_all_equal same-b "$E2E_DIR/D"
# The primary's answers alone are at least SIZE / 1500 frames each.
e2e_check "(b) compare released them by the rule (released_bypass grows by >= $((2 * N * SIZE / 1500)))" \
    e2e_wait 100 s_cmp_at_least released_bypass $((${bypass0:-0} + 2 * N * SIZE / 1500))
# (The secondary's answers on 8082 go nowhere: compare drops them; how many
# frames the secondary guest sends depends on how its TCP copes with ACKs
# for the primary's stream, so only growth is asserted.)
e2e_check "(b) ... and dropped their secondary twins (secondary_bypassed grows)" \
    e2e_wait 100 s_cmp_at_least secondary_bypassed $((${sbypass0:-0} + 1))
e2e_check "(b) 8080 still compared (bytes_compared grows by $((2 * N * DSIZE)))" \
    e2e_wait 100 s_cmp_at_least bytes_compared $((${compared0:-0} + 2 * N * DSIZE))
e2e_check "(b) the request count did not move ($r0 -> $(e2e_requests))" \
    [ "$(e2e_requests)" -eq "$r0" ]
s_listed() { e2e_ctl --json passthrough list --vm vm1 | grep -q "{\"id\":$1,[^}]*\"dport\":\"8082\""; }
e2e_check "(b) the rule is listed (coloctl --json passthrough list)" s_listed "$id"
# Its hits: compare's rule.ID counter, summed by coloctl over the VM's
# compare instances (sent with compare's status every scan cycle).
s_hits_at_least() {
    e2e_ctl --json passthrough list --vm vm1 \
        | grep -o "{\"id\":$1,[^}]*\"hits\":[0-9]*" | sed 's/.*"hits"://' \
        | { read -r h && [ "${h:-0}" -ge "$2" ]; }
}
e2e_check "(b) coloctl passthrough list shows the rule's hits (>= $((2 * N * SIZE / 1500)))" \
    e2e_wait 50 s_hits_at_least "$id" $((2 * N * SIZE / 1500))
s_hits_column() { e2e_ctl passthrough list --vm vm1 | grep -q "^ID .* HITS "; }
e2e_check "(b) ... and the table has a HITS column" s_hits_column

# ---------------------------------------------------------------- (c) rule deleted

rm -f "$GATE"
s_del() { e2e_ctl passthrough del "$1" >/dev/null; }
e2e_check "(c) gate closed; coloctl passthrough del $id" s_del "$id"
v2=$(s_ctl_version)
e2e_check "(c) compare reports rules version $v2" e2e_wait 150 s_cmp_version_is "$v2"
e2e_bg cl "$E2E_DIR/cap-cl.log" tcpdump -nn -U --immediate-mode -i eth0 -w "$E2E_DIR/cl.pcap" \
    tcp src port 8082
CAP_CL_PID=$E2E_LAST_PID
e2e_bg ph "$E2E_DIR/cap-pg.log" tcpdump -nn -U --immediate-mode -i gst -w "$E2E_DIR/pg.pcap" \
    tcp src port 8082
s_capturing() { grep -q listening "$E2E_DIR/cap-cl.log" && grep -q listening "$E2E_DIR/cap-pg.log"; }
e2e_check "(c) captures running" e2e_wait 50 s_capturing
r1=$(e2e_requests)
a1=$(e2e_answers)
s_get div-c.4 4 8082
s_get div-c.6 6 8082
DIV_C_PIDS=$CPIDS
CPIDS=""
s_requested() { [ "$(e2e_requests)" -ge "$1" ]; }
e2e_check "(c) the download from 8082 causes a checkpoint request again" \
    e2e_wait 150 s_requested $((r1 + 1))
# TCP payload bytes from port 8082 in a capture (tcpdump -q: "... tcp LEN").
s_payload() {
    tcpdump -q -nn -r "$1" 2>/dev/null | awk '$(NF - 1) == "tcp" { n += $NF } END { print n + 0 }'
}
s_primary_sent() { [ "$(s_payload "$E2E_DIR/pg.pcap")" -gt 0 ]; }
e2e_check "(c) the primary guest sent its answer" e2e_wait 100 s_primary_sent
# An unanswered request is repeated every scan cycle: one repeat shows the
# answer was held back for a cycle.
e2e_check "(c) the request is repeated while unanswered (gate closed)" \
    e2e_wait 100 s_requested $((r1 + 2))
s_get_n same-c 8080
s_wait_all
e2e_check "(c) meanwhile $N + $N downloads from 8080 byte-exact" s_all_equal same-c "$E2E_DIR/D"
kill "$CAP_CL_PID" 2>/dev/null
wait "$CAP_CL_PID" 2>/dev/null
held=$(s_payload "$E2E_DIR/cl.pcap")
e2e_check "(c) no payload byte from 8082 reached the client (capture: $held)" [ "$held" -eq 0 ]
e2e_check "(c) the client received nothing (IPv4 $(s_size "$E2E_DIR/div-c.4"), IPv6 $(s_size "$E2E_DIR/div-c.6") bytes)" \
    [ "$(s_size "$E2E_DIR/div-c.4")" -eq 0 -a "$(s_size "$E2E_DIR/div-c.6")" -eq 0 ]
e2e_check "(c) no answer from the adapter since the gate closed" \
    [ "$(e2e_answers)" -eq "$a1" ]

s_only_8082() {
    grep "checkpoint requested" "$E2E_DIR/compare.log" >"$E2E_DIR/requests.log"
    [ -s "$E2E_DIR/requests.log" ] && ! grep -v ':8082$' "$E2E_DIR/requests.log"
}
e2e_check "every checkpoint request named a connection to 8082 (compare.log)" s_only_8082
e2e_check "services still running" e2e_alive
for p in $DIV_C_PIDS; do kill "$p" 2>/dev/null; done
e2e_say "requests=$(e2e_requests) answers=$(e2e_answers)"
[ "$E2E_FAILED" -eq 0 ] || e2e_dump_logs
e2e_finish
