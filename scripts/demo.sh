#!/bin/sh
# demo.sh - make demo: colonet between a client and two guests in network namespaces, a live table, a summary.
# SPDX-License-Identifier: MPL-2.0
#
#   BUILD=build sh scripts/demo.sh          (make demo: as root, after the build)
#   sh scripts/demo.sh --preflight          (only: exit 1 with one line unless root)
#
# The topology of tests/e2e/lib.sh with colo-control (E2E_CONTROL=1): a
# client, a primary and a secondary guest, colo-mirror and colo-compare on
# the primary host, colo-rewriter on the secondary host, colo-control, and
# the test adapter answering compare's checkpoint requests (checkpoint-done).
# Both guests run the same servers: downloads (8080), an echo (8081), a UDP
# echo (7000); and two that answer differently on each guest: a clock
# (8083, which a passthrough rule added during the run lets bypass
# comparison) and a divergence (8082, the secondary's answer differs: compare
# asks for a checkpoint, the adapter answers, the primary's answer goes out).
#
# The client runs a mixed workload for about 10 s.  Meanwhile a table, one
# row per counter report (instances report to colo-control once a second,
# with their heartbeat), shows what coloctl --json status says.  Then a
# summary, and everything is torn down (lib.sh's cleanup).  Exit 0 when every
# check of the summary holds.
set -u

if [ "$(id -u)" != 0 ]; then
    echo "make demo: needs root (network namespaces); run: sudo make demo" >&2
    exit 1
fi
[ "${1:-}" = --preflight ] && exit 0

E2E_NAME=demo
E2E_CONTROL=1
BUILD=${BUILD:-build}
. "$(dirname "$0")/../tests/e2e/lib.sh"

DL_SIZE=${DL_SIZE:-1000000}   # bytes per download
DL_PAUSE=${DL_PAUSE:-0.5}   # seconds between a client's downloads
DL_SECONDS=8            # downloads, echo and UDP run this long
RUN_LIMIT=60            # seconds: the whole workload, or the demo fails

say() { echo "demo: $*"; }
s_ms() { date +%s%3N; }

# ---------------------------------------------------------------- preflight
# lib.sh's e2e_require skips (exit 0) like a test; the demo fails instead,
# with one line, before e2e_require sets the run up.
for t in ip ethtool sysctl socat ping ss tcpdump awk cmp; do
    command -v "$t" >/dev/null 2>&1 \
        || { say "$t not installed (sh scripts/deps.sh installs it)" >&2; exit 1; }
done
if ! ip netns add "${E2E_P}probe" 2>/dev/null; then
    say "cannot create network namespaces here (a container without CAP_SYS_ADMIN?)" >&2
    exit 1
fi
ip netns del "${E2E_P}probe"
for f in colo-mirror colo-compare colo-rewriter colo-control coloctl; do
    [ -x "$BUILD/bin/$f" ] || { say "$BUILD/bin/$f not built (make BUILD=$BUILD)" >&2; exit 1; }
done
[ -x "$BUILD/e2e/adapter" ] || { say "$BUILD/e2e/adapter not built" >&2; exit 1; }
e2e_require

# ---------------------------------------------------------------- teardown
# Always, also on failure or interrupt: first the workload (shells in this
# namespace, which would start more clients, and all they started), then
# lib.sh's cleanup (in a subshell: it ends in exit): processes, namespaces,
# the run's directory.  Then no process may be left in what were our
# namespaces (one that entered a namespace while the cleanup swept it would
# keep it alive, unnamed): each is killed by pid.
WL_PID=""
s_strays() {
    ls -l /proc/[0-9]*/ns/net 2>/dev/null | awk -v want="$d_nets" '
        BEGIN { n = split (want, w, " "); for (i = 1; i <= n; i++) W[w[i]] = 1 }
        $NF in W { split ($(NF - 2), a, "/"); print a[3] }'
}
# Stop a process and all its descendants (stopped, none can start another;
# walked again until the tree holds still), then kill them.
s_kill_tree() {
    d_tree=""
    d_pass=0
    while [ "$d_pass" -lt 10 ]; do
        d_prev=$d_tree
        d_tree=""
        d_new=$1
        while [ -n "$d_new" ]; do
            kill -STOP $d_new 2>/dev/null
            d_tree="$d_tree $d_new"
            d_new=$(for p in $d_new; do ps -o pid= --ppid "$p"; done 2>/dev/null)
        done
        [ "$d_tree" != "$d_prev" ] || break
        d_pass=$((d_pass + 1))
    done
    kill -9 $d_tree 2>/dev/null
    kill -CONT $d_tree 2>/dev/null
    wait "$1" 2>/dev/null
}

s_exit() {
    d_rc=$?
    trap '' INT TERM HUP
    trap - EXIT
    d_dir=$E2E_DIR
    d_nets=$(for ns in $(e2e_namespaces); do stat -L -c 'net:[%i]' "/run/netns/$ns"; done 2>/dev/null)
    [ -z "$WL_PID" ] || s_kill_tree "$WL_PID"
    true   # e2e_cleanup's exit status starts from $?
    (e2e_cleanup) 2>&1
    d_crc=$?
    for p in $E2E_PIDS; do wait "$p" 2>/dev/null; done
    d_strays=$(s_strays)
    if [ -n "$d_strays" ]; then
        kill -9 $d_strays 2>/dev/null
        e2e_wait 50 s_no_strays
    fi
    d_left=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$E2E_P")
    if [ "$d_crc" -eq 0 ] && [ -z "$d_left" ] && [ -z "$(s_strays)" ]; then
        [ -z "$d_strays" ] || say "($(echo $d_strays | wc -w) stray process(es) killed in the removed namespaces)"
        if [ -n "${KEEP:-}" ]; then
            say "torn down: processes stopped, all ${E2E_P}* namespaces removed (kept $d_dir)"
        else
            say "torn down: processes stopped, all ${E2E_P}* namespaces removed, $d_dir removed"
        fi
    else
        say "teardown: left behind: ${d_left:-} $(s_strays | sed 's/^/pid /' | tr '\n' ' ')" >&2
        d_rc=1
    fi
    exit "$d_rc"
}
s_no_strays() { [ -z "$(s_strays)" ]; }
trap s_exit EXIT
trap 'echo; say "interrupted" >&2; exit 1' INT TERM HUP

# Which of the processes e2e_start started is gone.
s_stopped() {
    for d_w in "colo-control $E2E_CONTROL_PID" "colo-mirror $E2E_MIRROR_PID" \
        "colo-compare $E2E_COMPARE_PID" "colo-rewriter $E2E_REWRITER_PID" \
        "the adapter $E2E_ADAPTER_PID"; do
        kill -0 "${d_w##* }" 2>/dev/null || printf '%s ' "${d_w% *}"
    done
}

s_fail() {
    say "FAILED: $*" >&2
    e2e_dump_logs
    exit 1
}

# ---------------------------------------------------------------- counters
# coloctl --json status, flattened to "kind.name value" lines (one instance
# per kind here): every counter, rules_version and last_heartbeat_ms.
s_status() {
    e2e_ctl --json status 2>/dev/null | awk '
        {
            n = split ($0, part, /\{"kind":"/)
            for (i = 2; i <= n; i++) {
                s = part[i]
                kind = substr (s, 1, index (s, "\"") - 1)
                while (match (s, /"[a-z_0-9]+":-?[0-9]+/)) {
                    kv = substr (s, RSTART + 1, RLENGTH - 1)
                    s = substr (s, RSTART + RLENGTH)
                    c = index (kv, "\":")
                    print kind "." substr (kv, 1, c - 1), substr (kv, c + 2)
                }
            }
        }' >"$1.tmp" && [ -s "$1.tmp" ] && mv "$1.tmp" "$1"
}

# One value from a flattened status file: s_val FILE KEY.
s_val() { awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1" 2>/dev/null || echo 0; }

# The hold-time histogram's buckets (compare.held_le_20us, ..._1ms, ..._1s:
# each counts the frames held at most that long) in status file $1: the least
# bound that fraction $2 of the $3 frames released kept to.
s_within() {
    awk -v f="$2" -v out="$3" '
        index($1, "compare.held_le_") == 1 && $2 >= f * out {
            b = substr($1, 17); n = b + 0
            unit = b ~ /us$/ ? " µs" : b ~ /ms$/ ? " ms" : " s"
            us = n * (unit == " µs" ? 1 : unit == " ms" ? 1000 : 1000000)
            if (best == "" || us < best) { best = us; name = n unit }
        }
        END {
            if (out <= 0) print "nothing held"
            else if (best == "") print "over 1 s"
            else print "within " name
        }' "$1"
}

s_header() {
    printf '%6s %5s %9s %9s %9s %5s %7s %8s %8s %8s %8s  %s\n' \
        "t(s)" conns compared released "bytes cmp" ckpt adapter bypassed "added" mirror rewriter \
        "workload"
    printf '%6s %5s %9s %9s %9s %5s %7s %8s    µs/fr %8s %8s\n' \
        "" "" frames frames "" req "req/ans" frames "in" "sec out"
}

# A row from two flattened status files (previous, current): totals, and
# the added latency over the interval between the two compare reports.
s_row() {
    awk -v t="$3" -v areq="$(e2e_requests)" -v aans="$(e2e_answers)" -v what="$4" '
        FNR == NR { p[$1] = $2; next }
        { c[$1] = $2 }
        function mb(b) {
            if (b >= 1e9) return sprintf ("%.2f GB", b / 1e9)
            if (b >= 1e6) return sprintf ("%.1f MB", b / 1e6)
            if (b >= 1e3) return sprintf ("%.1f kB", b / 1e3)
            return sprintf ("%d B", b)
        }
        END {
            dout = c["compare.out_frames"] - p["compare.out_frames"]
            dheld = c["compare.held_us"] - p["compare.held_us"]
            lat = dout > 0 ? sprintf ("%d", dheld / dout + 0.5) : "-"
            printf "%6.1f %5d %9d %9d %9s %5d %7s %8d %8s %8d %8d  %s\n", t,
                c["compare.connections"], c["compare.released_matched"], c["compare.released"],
                mb(c["compare.bytes_compared"]), c["compare.checkpoint_requests"],
                areq "/" aans, c["compare.released_bypass"], lat,
                c["mirror.in_frames"], c["rewriter.to_compare_frames"], what
        }' "$1" "$2"
}

# ---------------------------------------------------------------- topology, services
echo "colonet demo: a client, a primary and a secondary guest in network namespaces (${E2E_P}*);"
echo "  colo-mirror + colo-compare on the primary host, colo-rewriter on the secondary host,"
echo "  colo-control, and an adapter answering checkpoint requests (checkpoint-done)."
e2e_topology || s_fail "could not build the namespaces and links"
# Compare hands its counters to its control client once per scan cycle and
# the client sends them with each heartbeat (1 s): a 250 ms cycle keeps
# every report fresh.  compare-timeout stays at its default (3000 ms).
e2e_config "expired-scan-cycle = 250"
e2e_start || s_fail "the services did not come up (links or registration with colo-control)"
say "services started from one config ($BUILD/bin, $(grep -c '^\[' "$E2E_CONF") sections), links up, all registered"

# Deterministic content the two guests share, and the two answers that differ.
D=$E2E_DIR
head -c "$DL_SIZE" /dev/urandom >"$D/download"
printf 'primary   says 42\n' >"$D/P"
printf 'secondary says 17\n' >"$D/S"
for g in pg sg; do
    e2e_bg "$g" "$D/$g-dl4.log" socat TCP4-LISTEN:8080,fork,reuseaddr,backlog=64 \
        "OPEN:$D/download,rdonly"
    e2e_bg "$g" "$D/$g-dl6.log" socat TCP6-LISTEN:8080,ipv6only=1,fork,reuseaddr,backlog=64 \
        "OPEN:$D/download,rdonly"
    e2e_bg "$g" "$D/$g-echo4.log" socat TCP4-LISTEN:8081,fork,reuseaddr EXEC:cat
    e2e_bg "$g" "$D/$g-echo6.log" socat TCP6-LISTEN:8081,ipv6only=1,fork,reuseaddr EXEC:cat
    e2e_bg "$g" "$D/$g-udp4.log" socat UDP4-RECVFROM:7000,fork EXEC:cat
    e2e_bg "$g" "$D/$g-udp6.log" socat UDP6-RECVFROM:7000,ipv6only=1,fork EXEC:cat
    e2e_bg "$g" "$D/$g-clock4.log" socat TCP4-LISTEN:8083,fork,reuseaddr SYSTEM:"date +%s.%N"
    e2e_bg "$g" "$D/$g-clock6.log" socat TCP6-LISTEN:8083,ipv6only=1,fork,reuseaddr \
        SYSTEM:"date +%s.%N"
    if [ "$g" = pg ]; then f=$D/P; else f=$D/S; fi
    e2e_bg "$g" "$D/$g-div.log" socat TCP4-LISTEN:8082,fork,reuseaddr "OPEN:$f,rdonly"
done
s_servers_up() {
    for g in pg sg; do
        [ "$(e2e_in "$g" ss -Htln '( sport = :8080 or sport = :8081 or sport = :8082 or sport = :8083 )' \
            | wc -l)" -ge 7 ] || return 1
        [ "$(e2e_in "$g" ss -Hlun '( sport = :7000 )' | wc -l)" -ge 2 ] || return 1
    done
}
e2e_wait 50 s_servers_up || s_fail "the servers did not start on both guests"
say "servers on both guests: downloads :8080, echo :8081, UDP echo :7000, clock :8083 (differs), :8082 (differs)"

# ---------------------------------------------------------------- workload
# Each lane runs in the background, paced by the clock (think time between
# requests is the workload's, not synchronisation), and writes its results
# into $D.  s_phase says what is going on, for the table.
s_phase() { echo "$*" >"$D/phase.tmp" && mv "$D/phase.tmp" "$D/phase"; }
s_addr() { if [ "$1" = 4 ]; then echo "$E2E_GUEST4"; else echo "[$E2E_GUEST6]"; fi; }

# Downloads over one family until the end time; each checked and removed.
s_lane_download() {
    fam=$1; lane=$2; end=$3; i=0
    while [ "$(s_ms)" -lt "$end" ]; do
        out=$D/dl.$fam.$lane.$i
        if e2e_in cl timeout 20 socat -u "TCP$fam:$(s_addr "$fam"):8080" "CREATE:$out" \
            2>"$out.err" && cmp -s "$D/download" "$out"; then
            echo ok >>"$D/res.download"
        else
            echo "FAIL dl.$fam.$lane.$i: $(wc -c <"$out" 2>/dev/null) bytes" >>"$D/res.download"
        fi
        rm -f "$out" "$out.err"
        i=$((i + 1))
        sleep "$DL_PAUSE"
    done
}

# An interactive echo session: a line every 0.25 s, each must come back.
s_lane_echo() {
    fam=$1; lines=$2
    i=0
    while [ "$i" -lt "$lines" ]; do
        echo "line $i of an interactive session over IPv$fam"
        i=$((i + 1))
    done >"$D/echo$fam.want"
    {
        i=0
        while [ "$i" -lt "$lines" ]; do
            sed -n "$((i + 1))p" "$D/echo$fam.want" || exit 0
            i=$((i + 1))
            sleep 0.25
        done
    } | e2e_in cl timeout 30 socat -t 5 - "TCP$fam:$(s_addr "$fam"):8081" >"$D/echo$fam.got" \
        2>"$D/echo$fam.err"
    if cmp -s "$D/echo$fam.want" "$D/echo$fam.got"; then
        echo "ok $lines" >>"$D/res.echo"
    else
        echo "FAIL IPv$fam: $(wc -l <"$D/echo$fam.got") of $lines lines back" >>"$D/res.echo"
    fi
}

# UDP requests, IPv4 and IPv6 in turn, until the end time.
s_lane_udp() {
    end=$1; i=0
    while [ "$(s_ms)" -lt "$end" ]; do
        for fam in 4 6; do
            u=$D/u$fam.$i
            printf 'udp request %s over IPv%s\n' "$i" "$fam" >"$u.in"
            # -t: how long socat listens for the answer after sending.
            e2e_in cl timeout 5 socat -t 0.5 "OPEN:$u.in,rdonly!!CREATE:$u.out" \
                "UDP$fam:$(s_addr "$fam"):7000" 2>/dev/null &
        done
        wait
        for fam in 4 6; do
            u=$D/u$fam.$i
            if cmp -s "$u.in" "$u.out"; then
                echo ok >>"$D/res.udp"
            else
                echo "FAIL udp $fam.$i: got '$(cat "$u.out" 2>/dev/null)'" >>"$D/res.udp"
            fi
            rm -f "$u.in" "$u.out"
        done
        i=$((i + 1))
        sleep 0.2
    done
}

# The clock on 8083, IPv4 and IPv6 in turn: N answers, each a timestamp.
s_lane_clock() {
    n=$1; i=0
    while [ "$i" -lt "$n" ]; do
        fam=$((4 + 2 * (i % 2)))
        e2e_in cl timeout 5 socat -u "TCP$fam:$(s_addr "$fam"):8083" "CREATE:$D/clock.out" \
            2>/dev/null
        if grep -Eqx '[0-9]+\.[0-9]+' "$D/clock.out" 2>/dev/null; then
            echo "ok $(cat "$D/clock.out")" >>"$D/res.clock"
        else
            echo "FAIL clock $i: got '$(cat "$D/clock.out" 2>/dev/null)'" >>"$D/res.clock"
        fi
        i=$((i + 1))
        sleep 0.3
    done
}

s_rule_in_force() {
    s_status "$D/rule.kv" && [ "$(s_val "$D/rule.kv" compare.rules_version)" -ge "$1" ]
}

s_requested() { [ "$(e2e_requests)" -ge 1 ] && [ "$(e2e_answers)" -ge 1 ]; }

s_workload() {
    t0=$(s_ms)
    end=$((t0 + DL_SECONDS * 1000))
    s_phase "mixed"
    e2e_in cl ping -4 -c 50 -i 0.2 -W 2 -q "$E2E_GUEST4" >"$D/ping4.out" 2>&1 &
    pp4=$!
    e2e_in cl ping -6 -c 50 -i 0.2 -W 2 -q "$E2E_GUEST6" >"$D/ping6.out" 2>&1 &
    pp6=$!
    lanes=""
    for fam in 4 6; do
        for lane in 1 2; do
            s_lane_download "$fam" "$lane" "$end" &
            lanes="$lanes $!"
        done
        s_lane_echo "$fam" $((DL_SECONDS * 4)) &
        lanes="$lanes $!"
    done
    s_lane_udp "$end" &
    lanes="$lanes $!"

    # A few seconds in: a passthrough rule for the clock, then the clock.
    while [ "$(s_ms)" -lt $((t0 + 3000)) ]; do sleep 0.1; done
    e2e_ctl --json passthrough add --vm vm1 --proto tcp --dport 8083 --comment demo \
        >"$D/rule.json" 2>"$D/rule.err" || { echo "coloctl: $(cat "$D/rule.err")" >"$D/res.rule"; return 1; }
    rid=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$D/rule.json")
    rver=$(sed -n 's/.*"version":\([0-9]*\).*/\1/p' "$D/rule.json")
    echo "$rid" >"$D/res.rule"
    s_phase "mixed + rule #$rid added"
    e2e_wait 50 s_rule_in_force "$rver" || { echo "not in force" >>"$D/res.rule"; return 1; }
    s_phase "mixed + clock :8083"
    s_lane_clock 12 &
    lanes="$lanes $!"
    for p in $lanes; do wait "$p"; done

    # Near the end: the divergence.
    s_phase "divergence :8082"
    e2e_in cl timeout 20 socat -u "TCP4:$E2E_GUEST4:8082" "CREATE:$D/div.got" 2>"$D/div.err" &
    pd=$!
    e2e_wait 100 s_requested || echo "no request answered" >>"$D/res.div"
    wait "$pd" || echo "client failed: $(cat "$D/div.err")" >>"$D/res.div"
    wait "$pp4"
    wait "$pp6"
    s_phase "done"
    echo "$(( $(s_ms) - t0 ))" >"$D/workload.done"
}

s_workload >"$D/workload.log" 2>&1 &
WL_PID=$!
E2E_PIDS="$E2E_PIDS $WL_PID"

# ---------------------------------------------------------------- live table
# A row whenever compare's counters reach colo-control again (about once a
# second); after the workload, until the counters have caught up (adapter's
# count = compare's, and a report from after the end).
say "workload: mixed = downloads :8080, interactive echo :8081, UDP :7000, ping, ping -6;"
say "  at 3 s a passthrough rule for tcp :8083 and a clock there; then the divergence on :8082."
say "one row per counter report (coloctl --json status; added latency over the row's interval)"
s_header
T0=$(s_ms)
: >"$D/prev.kv"
last=0
done_at=0
deadline=$((T0 + RUN_LIMIT * 1000))
while :; do
    now=$(s_ms)
    [ "$now" -lt "$deadline" ] || s_fail "the workload did not finish within $RUN_LIMIT s (phase: $(cat "$D/phase"))"
    if s_status "$D/cur.kv"; then
        rep=$((now - $(s_val "$D/cur.kv" compare.last_heartbeat_ms)))
        if [ "$last" -eq 0 ]; then
            cp "$D/cur.kv" "$D/prev.kv"   # the first report: the baseline
            last=$rep
        elif [ "$rep" -gt $((last + 500)) ]; then
            t=$(echo "$rep $T0" | awk '{ printf "%.1f", ($1 - $2) / 1000 }')
            s_row "$D/prev.kv" "$D/cur.kv" "$t" "$(cat "$D/phase" 2>/dev/null)"
            cp "$D/cur.kv" "$D/prev.kv"
            last=$rep
            if [ "$done_at" -gt 0 ] && [ "$rep" -gt $((done_at + 300)) ] \
                && [ "$(s_val "$D/cur.kv" compare.checkpoint_requests)" -ge "$(e2e_requests)" ]; then
                break
            fi
        fi
    fi
    if [ "$done_at" -eq 0 ] && [ -s "$D/workload.done" ]; then
        done_at=$(s_ms)
    elif [ "$done_at" -eq 0 ] && ! kill -0 "$WL_PID" 2>/dev/null; then
        s_fail "the workload stopped: $(cat "$D"/res.rule "$D"/res.div 2>/dev/null | tr '\n' ' ')"
    fi
    e2e_alive || s_fail "$(s_stopped) stopped"
    sleep 0.2
done

# ---------------------------------------------------------------- summary
# Every line is a check; one that does not hold is marked and fails the demo.
ok=1
K=$D/cur.kv
s_count() { c=$(grep -c "^$2" "$D/$1" 2>/dev/null); echo "${c:-0}"; }
s_line() { printf '  %-12s %s\n' "$1" "$2"; }
s_more() { printf '  %-12s %s\n' "" "$1"; }
s_check() {
    what=$1
    text=$2
    shift 2
    if "$@"; then s_line "$what" "$text"; else ok=0; s_line "$what" "$text   <-- NOT AS EXPECTED"; fi
}
s_all() { [ "$1" -gt 0 ] && [ "$1" -eq "$2" ]; }
s_mb() { echo "$1" | awk '{ printf "%.1f MB", $1 / 1e6 }'; }

echo
echo "summary: $(( $(cat "$D/workload.done") / 1000 )) s of workload"

n=$(s_count res.download ok); all=$(s_count res.download "")
s_check downloads "$n of $all byte-exact ($((DL_SIZE / 1000)) kB each, 2 clients per family at a time, IPv4 and IPv6)" \
    s_all "$n" "$all"
grep '^FAIL' "$D/res.download" 2>/dev/null | head -3 | while read -r l; do s_more "$l"; done

n=$(s_count res.echo ok)
lines=$(awk '$1 == "ok" { n += $2 } END { print n + 0 }' "$D/res.echo" 2>/dev/null)
s_check echo "$n of 2 interactive sessions (IPv4, IPv6): $lines lines typed, each echoed back exactly" \
    s_all "$n" 2
grep '^FAIL' "$D/res.echo" 2>/dev/null | while read -r l; do s_more "$l"; done

n=$(s_count res.udp ok); all=$(s_count res.udp "")
s_check udp "$n of $all requests answered exactly (IPv4 and IPv6)" s_all "$n" "$all"

p4=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$D/ping4.out"); p4=${p4:-0}
p6=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$D/ping6.out"); p6=${p6:-0}
s_check ping "$p4 of 50 replies (ping), $p6 of 50 (ping -6)" s_all "$((p4 + p6))" 100

rid=$(head -1 "$D/res.rule" 2>/dev/null)
n=$(s_count res.clock ok); all=$(s_count res.clock "")
byp=$(s_val "$K" compare.released_bypass)
s_check passthrough "rule #$rid (coloctl passthrough add --vm vm1 --proto tcp --dport 8083), added at 3 s:" \
    s_all "$n" "$all"
s_more "$n of $all clock answers reached the client, though each guest tells a different time;"
s_check "" "$byp primary frames bypassed comparison, $(s_val "$K" compare.secondary_bypassed) secondary copies dropped" \
    [ "$byp" -gt 0 ]
hits=$(e2e_ctl --json passthrough list --vm vm1 2>/dev/null \
    | grep -o "{\"id\":$rid,[^}]*\"hits\":[0-9]*" | sed 's/.*"hits"://')
s_more "coloctl passthrough list: ${hits:-no} hits for rule #$rid (the frames it matched, both sides)"

req=$(s_val "$K" compare.checkpoint_requests)
eps=$(s_val "$K" compare.checkpoint_episodes)
s_check checkpoints "$req requested by compare ($eps episode), adapter: $(e2e_requests) counted, $(e2e_answers) answered (checkpoint-done); $(s_val "$K" compare.checkpoints) flush" \
    [ "$eps" -ge 1 -a "$(e2e_answers)" -ge 1 ]
# Why: compare logs each episode's reason and connection.
sed -n 's/.*checkpoint requested: //p' "$D/compare.log" | while read -r l; do s_more "why: $l"; done
s_more "port 8082: the secondary answered \"$(tr -d '\n' <"$D/S")\", the primary \"$(tr -d '\n' <"$D/P")\";"
s_check "" "the client got \"$(tr -d '\n' <"$D/div.got" 2>/dev/null)\": the primary's answer, once the checkpoint was done" \
    cmp -s "$D/P" "$D/div.got"
other=$(sed -n 's/.*checkpoint requested: //p' "$D/compare.log" | grep -vc ':8082$' || true)
s_check "" "episodes about anything else: $other" [ "$other" -eq 0 ]

out=$(s_val "$K" compare.out_frames)
held=$(s_val "$K" compare.held_us)
s_line compare "$(s_val "$K" compare.released_matched) frames compared equal and released ($(s_val "$K" compare.released) released in all), $(s_mb "$(s_val "$K" compare.bytes_compared)") of TCP payload compared"
s_line latency "$(s_within "$K" 0.5 "$out") for half of the $out frames released, $(s_within "$K" 0.99 "$out") for 99 % (arrival on a port to outdev; mean $(echo "$held $out" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }') µs, the waits for a checkpoint included)"
s_line mirror "$(s_val "$K" mirror.in_frames) client frames copied to both guests"
s_line rewriter "$(s_val "$K" rewriter.frames_to_guest) client frames into the secondary, $(s_val "$K" rewriter.to_compare_frames) of its frames to compare ($(s_val "$K" rewriter.rewritten_from_guest) with sequence numbers rewritten)"
s_check services "all still running" e2e_alive

if [ "$ok" = 1 ]; then
    say "all as expected; tearing down"
else
    e2e_dump_logs
    say "something was not as expected (marked above); tearing down"
    exit 1
fi
