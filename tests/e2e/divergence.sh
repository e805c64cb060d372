#!/bin/sh
# divergence.sh - issue 6 test 3: the secondary answers differently: a checkpoint is requested in time, nothing unverified reaches the client before checkpoint-done.
# SPDX-License-Identifier: MPL-2.0
#
# The topology of lib.sh with the adapter's gate closed (it counts
# DO_CHECKPOINT but holds COLO_CHECKPOINT back until the gate file exists).
# The primary guest serves file P on port 8080, the secondary guest serves
# file S (same length, different bytes), IPv4 and IPv6.  The client opens
# one connection per family at the same time and captures everything that
# reaches its namespace (tcpdump on its eth0).
#
# Checks, in order:
#   - a checkpoint is requested within compare-timeout + expired-scan-cycle
#     (3000 + 1000 ms) of the client's start;
#   - the primary guest did send its answer (seen on the primary host's gst)
#     and compare kept asking while unanswered (a repeat, one scan cycle on),
#     yet no TCP payload byte from the guests' port reached the client: not
#     the secondary's differing answer, nor the primary's unverified one;
#   - once the gate opens, the adapter answers, and the primary's answer is
#     released (checkpoint-done flushes the queued primary frames): what the
#     client received is a non-empty prefix of P on both connections.
#
# The adapter's checkpoint-done does not copy the primary's state into the
# secondary (there is no VM here), so the guests stay divergent afterwards:
# only this first episode is asserted.
set -u
E2E_NAME=divergence
. "$(dirname "$0")/lib.sh"
e2e_require

SIZE=${SIZE:-30000}      # bytes of each answer
TIMEOUT_MS=3000          # compare-timeout (compare's default, written out)
SCAN_MS=1000             # expired-scan-cycle (likewise)

e2e_check "topology up" e2e_topology
e2e_config "pcap-dir = $E2E_DIR" "compare-timeout = $TIMEOUT_MS" "expired-scan-cycle = $SCAN_MS"
GATE=$E2E_DIR/gate
e2e_check "services started from one config (adapter gate closed), links up" e2e_start "$GATE"

# The two answers: they differ from their first byte on.
{ printf 'PRIMARY\n'; head -c "$((SIZE - 8))" /dev/urandom; } >"$E2E_DIR/P"
{ printf 'SECONDARY\n'; head -c "$((SIZE - 10))" /dev/urandom; } >"$E2E_DIR/S"
for g in pg sg; do
    if [ "$g" = pg ]; then f=$E2E_DIR/P; else f=$E2E_DIR/S; fi
    e2e_bg "$g" "$E2E_DIR/$g-srv4.log" socat TCP4-LISTEN:8080,fork,reuseaddr "OPEN:$f,rdonly"
    e2e_bg "$g" "$E2E_DIR/$g-srv6.log" socat TCP6-LISTEN:8080,ipv6only=1,fork,reuseaddr \
        "OPEN:$f,rdonly"
done
s_servers_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Htln '( sport = :8080 )' | wc -l)" -ge 2 ] || return 1
    done
}
e2e_check "servers listening on both guests (different answers)" e2e_wait 50 s_servers_up

# Captures: everything reaching the client's namespace, and the primary
# guest's output as the primary host sees it.
# --immediate-mode: packets reach the file as they come, not a ring block
# later (a capture read while held must be up to date).
e2e_bg cl "$E2E_DIR/cap-cl.log" tcpdump -nn -U --immediate-mode -i eth0 -w "$E2E_DIR/cl.pcap" tcp
CAP_CL_PID=$E2E_LAST_PID
e2e_bg ph "$E2E_DIR/cap-pg.log" tcpdump -nn -U --immediate-mode -i gst -w "$E2E_DIR/pg.pcap" tcp
s_capturing() { grep -q listening "$E2E_DIR/cap-cl.log" && grep -q listening "$E2E_DIR/cap-pg.log"; }
e2e_check "captures running" e2e_wait 50 s_capturing

# TCP payload bytes from port 8080 in a capture (IPv4 and IPv6) with a
# timestamp before (B) or from (A) epoch time T on: s_payload FILE B|A T.
# tcpdump -q -tt prints "EPOCH IP SRC > DST: tcp LEN".
s_payload() {
    tcpdump -q -tt -nn -r "$1" 'tcp src port 8080' 2>/dev/null \
        | awk -v w="$2" -v t="$3" '$(NF - 1) == "tcp" && (w == "A") == ($1 >= t) { n += $NF }
            END { print n + 0 }'
}
# Payload packets from port 8080 over one family (ip, ip6) in a capture.
s_payload_pkts() {
    tcpdump -q -nn -r "$1" "$2 and tcp src port 8080" 2>/dev/null \
        | awk '$(NF - 1) == "tcp" && $NF > 0 { n++ } END { print n + 0 }'
}

t0=$(date +%s%N)
e2e_in cl timeout 60 socat -u "TCP4:$E2E_GUEST4:8080" "CREATE:$E2E_DIR/got4" \
    2>"$E2E_DIR/got4.err" &
E2E_PIDS="$E2E_PIDS $!"
e2e_in cl timeout 60 socat -u "TCP6:[$E2E_GUEST6]:8080" "CREATE:$E2E_DIR/got6" \
    2>"$E2E_DIR/got6.err" &
E2E_PIDS="$E2E_PIDS $!"

s_requested() { [ "$(e2e_requests)" -ge "$1" ]; }
e2e_wait 100 s_requested 1
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
e2e_check "a checkpoint is requested within compare-timeout + scan cycle (after $ms ms, limit $((TIMEOUT_MS + SCAN_MS)))" \
    [ "$(e2e_requests)" -ge 1 -a "$ms" -le $((TIMEOUT_MS + SCAN_MS)) ]

s_primary_sent() {
    [ "$(s_payload_pkts "$E2E_DIR/pg.pcap" ip)" -gt 0 ] && [ "$(s_payload_pkts "$E2E_DIR/pg.pcap" ip6)" -gt 0 ]
}
e2e_check "the primary guest sent its answer on both connections" e2e_wait 50 s_primary_sent
# compare repeats an unanswered request once per scan cycle: a second one
# shows the answer was held back for a cycle while frames were queued.
e2e_check "the request is repeated while unanswered (gate closed)" e2e_wait 50 s_requested 2
e2e_check "no answer from the adapter yet (answers=$(e2e_answers))" [ "$(e2e_answers)" -eq 0 ]
held=$(s_payload "$E2E_DIR/cl.pcap" A 0)
e2e_check "no payload byte from the guests reached the client so far (capture: $held)" \
    [ "$held" -eq 0 ]
s_size() { wc -c <"$1" 2>/dev/null || echo 0; }
e2e_check "the client received nothing (IPv4 $(s_size "$E2E_DIR/got4"), IPv6 $(s_size "$E2E_DIR/got6") bytes)" \
    [ "$(s_size "$E2E_DIR/got4")" -eq 0 -a "$(s_size "$E2E_DIR/got6")" -eq 0 ]

# Open the gate: checkpoint-done releases the primary's queued frames.
tgate=$(date +%s.%N)
touch "$GATE"
s_answered() { [ "$(e2e_answers)" -ge 1 ]; }
e2e_check "the adapter answers (checkpoint-done)" e2e_wait 50 s_answered
s_got_both() { [ "$(s_size "$E2E_DIR/got4")" -gt 0 ] && [ "$(s_size "$E2E_DIR/got6")" -gt 0 ]; }
e2e_check "after checkpoint-done the client receives the primary's answer" e2e_wait 50 s_got_both
s_prefix_of_p() {
    n=$(s_size "$1")
    [ "$n" -gt 0 ] && cmp -s -n "$n" "$1" "$E2E_DIR/P"
}
e2e_check "IPv4: received $(s_size "$E2E_DIR/got4") bytes, a prefix of the primary's answer" \
    s_prefix_of_p "$E2E_DIR/got4"
e2e_check "IPv6: received $(s_size "$E2E_DIR/got6") bytes, a prefix of the primary's answer" \
    s_prefix_of_p "$E2E_DIR/got6"
s_mismatch_pcap() { ls "$E2E_DIR"/vm1-mismatch-*.pcap >/dev/null 2>&1; }
# The whole capture, complete: nothing before the gate opened (the
# adapter cannot answer before), the primary's answer after it.
kill "$CAP_CL_PID" 2>/dev/null
wait "$CAP_CL_PID" 2>/dev/null
before=$(s_payload "$E2E_DIR/cl.pcap" B "$tgate")
after=$(s_payload "$E2E_DIR/cl.pcap" A "$tgate")
e2e_check "client capture: $before payload bytes before the gate opened, $after after" \
    [ "$before" -eq 0 -a "$after" -gt 0 ]
e2e_check "compare recorded the mismatch (pcap-dir)" s_mismatch_pcap
e2e_check "services still running" e2e_alive
e2e_say "requests=$(e2e_requests) answers=$(e2e_answers)"
[ "$E2E_FAILED" -eq 0 ] || e2e_dump_logs
e2e_finish
