#!/bin/sh
# control_durability.sh - colo-control and coloctl as processes: exit codes, --json, kill -9, resync.
# SPDX-License-Identifier: MPL-2.0
#
# Runs $BUILD/bin/colo-control on unix (ipc) endpoints in a temporary
# directory and drives it with $BUILD/bin/coloctl:
# - coloctl's exit codes (0 ok, 1 refused with the reason on stderr,
#   2 usage, 3 unreachable) and its --json output;
# - durability: a writer adds rules one by one, recording each one the
#   service acknowledged; colo-control is killed with SIGKILL while the
#   writer runs, then restarted on the same store: every acknowledged rule
#   is there, a deleted one is not, and nothing else is (at most the one
#   request that was in flight at the kill, which may or may not have been
#   stored: it was never acknowledged either way);
# - instances resync: a "coloctl watch --as compare" instance started
#   before the kill follows the restarted service to its new version.
set -u

BUILD=${BUILD:-build}
CONTROL=$BUILD/bin/colo-control
COLOCTL=$BUILD/bin/coloctl
passed=0
failed=0

say() { echo "control_durability: $*"; }
for f in "$CONTROL" "$COLOCTL"; do
    if [ ! -x "$f" ]; then
        say "$f not built (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

DIR=$(mktemp -d /tmp/colonet-ctl.XXXXXX)
API="ipc://$DIR/api"
EVENTS="ipc://$DIR/events"
CTL_PID=""
WRITER_PID=""
WATCH_PID=""
cleanup() {
    for p in $WRITER_PID $WATCH_PID $CTL_PID; do kill -9 "$p" 2>/dev/null; done
    for p in $WRITER_PID $WATCH_PID $CTL_PID; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

check() {
    name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name"
        failed=$((failed + 1))
    fi
}

ctl() { "$COLOCTL" --control "$API" --timeout 2000 "$@"; }

# Start colo-control and wait (bounded) until it answers.
start_control() {
    "$CONTROL" --api "$API" --events "$EVENTS" --store "$DIR/store" --heartbeat 100 \
        2>>"$DIR/control.log" &
    CTL_PID=$!
    n=0
    while [ $n -lt 50 ]; do
        if ctl status >/dev/null 2>&1; then return 0; fi
        n=$((n + 1))
        sleep 0.1
    done
    return 1
}

# Wait (bounded) until a file has a line matching a pattern.
wait_line() {
    n=0
    while [ $n -lt 200 ]; do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        n=$((n + 1))
        sleep 0.1
    done
    return 1
}

rc_is() { want=$1; shift; "$@" >"$DIR/out" 2>"$DIR/err"; [ $? -eq "$want" ]; }
out_is() { [ "$(cat "$DIR/out")" = "$1" ]; }
out_has() { grep -q -- "$1" "$DIR/out"; }
err_has() { grep -q -- "$1" "$DIR/err"; }

# ---------------------------------------------------------------- --check-config
cat >"$DIR/host.conf" <<EOF
# a host: other services' sections are ignored
[compare vm1-nic0]
primary-in = shm:x
[control main]
store = $DIR/store
api = $API
events = $EVENTS
[vm vm1]
checkpoint-hook = /bin/true
EOF
check "--check-config accepts a good file silently" sh -c "'$CONTROL' --config '$DIR/host.conf' \
    --check-config >'$DIR/out' 2>&1 && [ ! -s '$DIR/out' ]"
sed 's|^api = .*|api = udp://x|' "$DIR/host.conf" >"$DIR/bad.conf"
check "--check-config refuses a bad endpoint (1)" rc_is 1 "$CONTROL" --config "$DIR/bad.conf" \
    --check-config
check "... naming file, line and key" err_has "bad.conf:6: \\[control main\\] key 'api': 'udp://x'"
sed 's|^checkpoint-hook = .*|checkpoint-hook = /nonexistent/hook|' "$DIR/host.conf" >"$DIR/bad.conf"
check "--check-config refuses a missing hook (1)" rc_is 1 "$CONTROL" --config "$DIR/bad.conf" \
    --check-config
check "... naming the [vm] section" err_has "bad.conf:9: \\[vm vm1\\] key 'checkpoint-hook'"
check "no --store is a usage error (2)" rc_is 2 "$CONTROL" --api "$API"

check "colo-control starts and answers" start_control

# ---------------------------------------------------------------- exit codes, --json

check "usage error exits 2" rc_is 2 ctl passthrough frobnicate
check "bad --proto exits 2" rc_is 2 ctl passthrough add --proto sctp6
check "bad --src exits 2" rc_is 2 ctl passthrough add --src 10.0.0.1/8
check "status takes no --dport (2)" rc_is 2 ctl status --dport 22
check "unreachable exits 3" rc_is 3 "$COLOCTL" --control "ipc://$DIR/nobody" --timeout 300 status

check "add exits 0" rc_is 0 ctl passthrough add --proto tcp --dport 3389 --comment RDP
check "... and prints the new id" out_is 1
check "an exact duplicate exits 1" rc_is 1 ctl passthrough add --proto tcp --dport 3389
check "... naming the existing id on stderr" err_has "id 1"
check "the same rule from the other end exits 1" rc_is 1 ctl passthrough add --proto tcp \
    --sport 3389
check "match-everything without --force exits 1" rc_is 1 ctl passthrough add --vm vm9
check "... and says why on stderr" err_has "--force"
check "match-everything with --force exits 0" rc_is 0 ctl passthrough add --vm vm9 --force
check "delete of an unknown id exits 1" rc_is 1 ctl passthrough del 999
check "--json add exits 0" rc_is 0 ctl --json passthrough add --proto udp --dst fd00::/64 \
    --dport 53
check "... with the id and version" out_is '{"ok":true,"id":3,"version":3}'
check "--json refusal exits 1" rc_is 1 ctl --json passthrough add --proto udp --dst fd00::/64 \
    --dport 53
check "... and says so on stdout" out_has '"error":"duplicate"'
check "... with the existing id" out_has '"id":3'
check "--json list --vm" rc_is 0 ctl --json passthrough list --vm vm9
check "... has vm9's rule" out_has '"vm":"vm9"'
check "... and the global ones" out_has '"dst":"fd00::/64","dport":"53"'
check "... with comments" out_has '"comment":"RDP"'
check "--json stats" rc_is 0 ctl --json stats
check "... counts the refusals" out_has '"errors_duplicate":3'
check "--json failover" rc_is 0 ctl --json failover --vm vm1
check "... says who got it" out_is '{"ok":true,"event_id":1,"delivered":0}'
check "checkpoint-done needs --vm (2)" rc_is 2 ctl checkpoint-done
check "delete exits 0" rc_is 0 ctl passthrough del 2
check "text list" rc_is 0 ctl passthrough list
check "... has rule 1" out_has "^1 .*3389.*RDP"
check "... not the deleted one" sh -c "! grep -q '^2 ' '$DIR/out'"

# ---------------------------------------------------------------- kill -9 during updates
# An instance that follows the rules.
"$COLOCTL" --control "$API" watch --vm vm1 --as compare --instance e2e-compare \
    >"$DIR/watch" 2>>"$DIR/watch.err" &
WATCH_PID=$!
check "an instance registers and gets the rules" wait_line "$DIR/watch" "^rules 4 2$"

# The writer: one rule per port, acknowledged ids recorded as "id port".
: >"$DIR/acked"
(
    port=10000
    while [ $port -lt 10400 ]; do
        echo "$port" >"$DIR/inflight"
        id=$("$COLOCTL" --control "$API" --timeout 1000 passthrough add --proto udp \
            --dport $port 2>/dev/null) || exit 0
        echo "$id $port" >>"$DIR/acked"
        port=$((port + 1))
    done
) &
WRITER_PID=$!
n=0
while [ $n -lt 200 ] && [ "$(wc -l <"$DIR/acked")" -lt 25 ]; do
    n=$((n + 1))
    sleep 0.05
done
kill -9 "$CTL_PID"
wait "$CTL_PID" 2>/dev/null
CTL_PID=""
wait "$WRITER_PID" 2>/dev/null
WRITER_PID=""
acked=$(wc -l <"$DIR/acked")
check "the writer had $acked acknowledged rules at the kill" [ "$acked" -ge 25 ]

check "colo-control restarts on the same store" start_control
ctl --json passthrough list >"$DIR/list"
# Every rule as "id port" (ports of the writer's rules only).
tr '{' '\n' <"$DIR/list" | sed -n 's/^"id":\([0-9]*\),.*"dport":"\(1[0-9][0-9][0-9][0-9]\)".*/\1 \2/p' \
    | sort >"$DIR/stored"
sort "$DIR/acked" >"$DIR/acked.sorted"
missing=$(comm -23 "$DIR/acked.sorted" "$DIR/stored" | wc -l)
comm -13 "$DIR/acked.sorted" "$DIR/stored" >"$DIR/extra"
inflight=$(cat "$DIR/inflight")
only_inflight() {
    [ ! -s "$DIR/extra" ] && return 0
    [ "$(wc -l <"$DIR/extra")" -eq 1 ] && grep -q " $inflight\$" "$DIR/extra"
}
check "every acknowledged rule is there ($acked)" [ "$missing" -eq 0 ]
check "nothing else (at most the one in flight)" only_inflight
check "the deleted rule stayed deleted" sh -c "! grep -q '\"id\":2,' '$DIR/list'"
check "the earlier rules are intact" grep -q '"id":1,[^}]*"dport":"3389"' "$DIR/list"

# The instance follows: a new rule after the restart reaches it.
new_id=$(ctl passthrough add --vm vm1 --proto tcp --dport 8443)
version=$(ctl --json passthrough list | sed -n 's/^{"ok":true,"version":\([0-9]*\),.*/\1/p')
count=$(ctl --json passthrough list --vm vm1 | tr '{' '\n' | grep -c '"id":')
check "a rule added after the restart gets id $new_id" [ -n "$new_id" ]
check "the instance resyncs to version $version ($count rules)" \
    wait_line "$DIR/watch" "^rules $version $count$"
registered() {
    n=0
    while [ $n -lt 100 ]; do
        ctl status >"$DIR/out" 2>&1 && out_has "e2e-compare .*alive" && return 0
        n=$((n + 1))
        sleep 0.1
    done
    return 1
}
check "the instance registered again, alive" registered

kill "$CTL_PID"
wait "$CTL_PID" 2>/dev/null
CTL_PID=""
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
