#!/bin/sh
# qemu_filters.sh - QEMU's own filter-mirror and filter-redirector wired to colo-mirror and colo-redirector.
# SPDX-License-Identifier: MPL-2.0
#
# One paused QEMU (no guest code runs; its net filters still do) per mode,
# vnet_hdr off and on, with the chardev/filter wiring of docs/qemu.md:
#
#   netdev n0 (primary):  filter-redirector tx outdev -> colo-mirror -> filter-redirector tx indev
#                         filter-redirector rx outdev -> colo-redirector (stands in for
#                         colo-compare) -> filter-redirector rx indev -> the backend
#   netdev n1 (secondary): colo-mirror's copy -> filter-redirector tx indev;
#                         filter-redirector rx outdev -> colo-redirector -> shm ring
#   netdev n2 (primary, QEMU's own filter-mirror): filter-mirror tx outdev -> colo-mirror
#                         (no --to-primary) -> secondary
#
# The "guest" at the tail of each netdev is a pair of extra filter-redirectors
# that hand what the guest would receive to qframes and inject what it would
# send.  The client writes into the -netdev socket backend (plain framing);
# what goes back toward the backend is taken by a filter-redirector at the
# head of n0 (a paused VM queues frames for the backend itself instead of
# delivering them).  Every check compares files byte for byte, then our
# services are restarted and every path is checked again.
#
# Environment: BUILD (binaries in $BUILD/bin and $BUILD/interop), QEMU (the
# emulator), KEEP=1 keeps the scratch directory with every log.
set -u

BUILD=${BUILD:-build}
BIN=$BUILD/bin
QF=${QFRAMES:-$BUILD/interop/qframes}
QEMU=${QEMU:-qemu-system-x86_64}
N=200
passed=0
failed=0
start=$(date +%s)

say() { echo "qemu_filters: $*"; }
if ! command -v "$QEMU" >/dev/null 2>&1; then
    say "$QEMU not found (scripts/deps.sh installs qemu-system-x86)"
    echo "0 passed, 1 failed"
    exit 1
fi
for f in "$BIN/colo-mirror" "$BIN/colo-redirector" "$QF"; do
    if [ ! -x "$f" ]; then
        say "$f not built (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

DIR=$(mktemp -d /tmp/colonet-interop.XXXXXX)
SHM="interop-$$"
PIDS=""
cleanup() {
    for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$DIR"
    rm -f /dev/shm/colonet-"$SHM"*
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

# wait_log FILE PATTERN COUNT: until FILE has COUNT lines matching PATTERN
# (at most 10 s, in 50 ms steps).
wait_log() {
    i=0
    while [ "$i" -lt 200 ]; do
        n=$(grep -c -e "$2" "$1" 2>/dev/null || true)
        [ "${n:-0}" -ge "$3" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    say "timed out waiting for $3 x '$2' in $1:"
    tail -5 "$1" >&2
    return 1
}

forget_pid() {
    new=""
    for p in $PIDS; do [ "$p" = "$1" ] || new="$new $p"; done
    PIDS=$new
}

# ---------------------------------------------------------------- config check
cat >"$DIR/bad.conf" <<EOF
[mirror vm1]
in = qemu+unix:$DIR/x.sock,server
to-secondary = qemu+unix:$DIR/y.sock,sever
EOF
out=$("$BIN/colo-mirror" --config "$DIR/bad.conf" --check-config 2>&1)
rc=$?
want="$DIR/bad.conf:3: [mirror vm1] key 'to-secondary': 'qemu+unix:$DIR/y.sock,sever': unknown option 'sever'"
[ "$rc" = 1 ] && [ "$out" = "$want" ]
check "colo-mirror --check-config names file, line and key" test $? = 0

# ---------------------------------------------------------------- one mode
# run_mode off|on
run_mode() {
    mode=$1
    if [ "$mode" = on ]; then V=",vnet"; QV=",vnet_hdr_support=on"; else V=""; QV=""; fi
    D="$DIR/$mode"
    mkdir -p "$D"
    P0=$("$QF" port)
    P1=$("$QF" port)
    P2=$("$QF" port)
    S=$D  # socket directory

    # colo-mirror from a config file: vm1 sits in the primary's path
    # (filter-redirector out and in), vm2 behind QEMU's own filter-mirror.
    cat >"$D/colonet.conf" <<EOF
[mirror vm1]
in = qemu+unix:$S/mirror_in.sock,server$V
to-primary = qemu+unix:$S/mirror_out.sock,server$V
to-secondary = qemu+unix:$S/red0.sock,server$V

[mirror vm2]
in = qemu+unix:$S/fmirror_in.sock,server$V
to-secondary = qemu+unix:$S/sec2.sock,server$V
EOF
    check "vnet=$mode: colo-mirror --check-config accepts the config" \
        "$BIN/colo-mirror" --config "$D/colonet.conf" --check-config

    start_services() {
        "$BIN/colo-mirror" --config "$D/colonet.conf" 2>>"$D/mirror.$1.log" &
        MIRROR=$!
        # Pair 1 stands in for colo-compare (releases everything), pair 2
        # for colo-rewriter's from-guest -> to-compare leg.
        "$BIN/colo-redirector" \
            --in "qemu+unix:$S/compare_in.sock,server$V" --out "qemu+unix:$S/compare_out.sock,server$V" \
            --in "qemu+unix:$S/red1.sock,server$V" --out "shm:$SHM-$mode" \
            2>>"$D/redirector.$1.log" &
        REDIRECTOR=$!
        PIDS="$PIDS $MIRROR $REDIRECTOR"
    }
    # QEMU connects to every socket of ours (reconnect=1): wait for it.
    wait_services() {
        wait_log "$D/mirror.$1.log" "\.sock,server[^ ]*: connected" 4 &&
            wait_log "$D/redirector.$1.log" "\.sock,server[^ ]*: connected" 3
    }
    start_services 1

    # The command line of docs/qemu.md (primary and secondary filters), plus
    # the guest stand-ins (pg*, sg*, p2g*) at the tail of each netdev.
    "$QEMU" -M q35 -accel tcg -S -nodefaults -display none -m 64 \
        -monitor unix:$S/hmp.sock,server=on,wait=off \
        -netdev socket,id=n0,listen=127.0.0.1:$P0 -device e1000,netdev=n0 \
        -netdev socket,id=n1,listen=127.0.0.1:$P1 -device e1000,netdev=n1 \
        -netdev socket,id=n2,listen=127.0.0.1:$P2 -device e1000,netdev=n2 \
        -chardev socket,id=taprx,path=$S/tap_rx.sock,reconnect=1 \
        -object filter-redirector,id=tap0,netdev=n0,queue=rx,outdev=taprx$QV \
        -chardev socket,id=mirror_in,path=$S/mirror_in.sock,reconnect=1 \
        -chardev socket,id=mirror_out,path=$S/mirror_out.sock,reconnect=1 \
        -chardev socket,id=compare_in,path=$S/compare_in.sock,reconnect=1 \
        -chardev socket,id=compare_out,path=$S/compare_out.sock,reconnect=1 \
        -object filter-redirector,id=m0,netdev=n0,queue=tx,outdev=mirror_in$QV \
        -object filter-redirector,id=m1,netdev=n0,queue=tx,indev=mirror_out$QV \
        -object filter-redirector,id=redire0,netdev=n0,queue=rx,indev=compare_out$QV \
        -object filter-redirector,id=redire1,netdev=n0,queue=rx,outdev=compare_in$QV \
        -chardev socket,id=pgrx,path=$S/pguest_rx.sock,reconnect=1 -chardev socket,id=pgtx,path=$S/pguest_tx.sock,reconnect=1 \
        -object filter-redirector,id=pg0,netdev=n0,queue=tx,outdev=pgrx$QV \
        -object filter-redirector,id=pg1,netdev=n0,queue=rx,indev=pgtx$QV \
        -chardev socket,id=red0,path=$S/red0.sock,reconnect=1 \
        -chardev socket,id=red1,path=$S/red1.sock,reconnect=1 \
        -object filter-redirector,id=f1,netdev=n1,queue=tx,indev=red0$QV \
        -object filter-redirector,id=f2,netdev=n1,queue=rx,outdev=red1$QV \
        -chardev socket,id=sgrx,path=$S/sguest_rx.sock,reconnect=1 -chardev socket,id=sgtx,path=$S/sguest_tx.sock,reconnect=1 \
        -object filter-redirector,id=sg0,netdev=n1,queue=tx,outdev=sgrx$QV \
        -object filter-redirector,id=sg1,netdev=n1,queue=rx,indev=sgtx$QV \
        -chardev socket,id=fmirror_in,path=$S/fmirror_in.sock,reconnect=1 \
        -object filter-mirror,id=fm0,netdev=n2,queue=tx,outdev=fmirror_in$QV \
        -chardev socket,id=p2grx,path=$S/p2guest_rx.sock,reconnect=1 \
        -object filter-redirector,id=p2g0,netdev=n2,queue=tx,outdev=p2grx$QV \
        2>"$D/qemu.log" &
    QEMU_PID=$!
    PIDS="$PIDS $QEMU_PID"
    if ! wait_services 1; then
        check "vnet=$mode: QEMU connects to colo-mirror and colo-redirector" false
        return
    fi

    # Frame files, and one qframes for both rounds: its stand-in chardevs
    # must stay connected, because QEMU 7.2's filter-redirector stops
    # reading an indev for good once it disconnects (docs/qemu.md).
    k=0
    for r in 1 2; do
        mkdir -p "$D/r$r"
        for f in tx tx2 rx rx2; do
            k=$((k + 1))
            "$QF" gen $N $k "$D/r$r/$f.frames"
        done
    done
    # round R: step 1 client -> guests, step 2 guests -> client.
    round_args() {
        R="$D/r$1"
        echo "--send qemu+tcp:127.0.0.1:$P0 $R/tx.frames" \
            "--recv qemu+unix:$S/pguest_rx.sock,server$V $N $R/pguest_rx.out" \
            "--recv qemu+unix:$S/sguest_rx.sock,server$V $N $R/sguest_rx.out" \
            "--send qemu+tcp:127.0.0.1:$P2 $R/tx2.frames" \
            "--recv qemu+unix:$S/p2guest_rx.sock,server$V $N $R/p2guest_rx.out" \
            "--recv qemu+unix:$S/sec2.sock$V $N $R/sec2.out" \
            "--then" \
            "--send qemu+unix:$S/pguest_tx.sock,server$V $R/rx.frames" \
            "--recv qemu+unix:$S/tap_rx.sock,server$V $N $R/tap.out" \
            "--send qemu+unix:$S/sguest_tx.sock,server$V $R/rx2.frames" \
            "--recv shm:$SHM-$mode $N $R/to_compare.out" \
            "--mark $R/done"
    }
    # shellcheck disable=SC2046 # word splitting wanted; no spaces in paths
    "$QF" run --timeout 15000 $(round_args 1) --then --wait-file "$D/go2" $(round_args 2) \
        2>"$D/qframes.log" &
    QFRAMES=$!
    PIDS="$PIDS $QFRAMES"

    # round_checks R TAG
    round_checks() {
        R="$D/r$1"
        t="vnet=$mode$2"
        check "$t: client -> filter-redirector -> colo-mirror -> primary guest, byte-exact" \
            cmp -s "$R/tx.frames" "$R/pguest_rx.out"
        check "$t: client -> colo-mirror -> secondary filter-redirector -> secondary guest" \
            cmp -s "$R/tx.frames" "$R/sguest_rx.out"
        check "$t: client -> filter-mirror: original to the guest, copy via colo-mirror" \
            sh -c "cmp -s '$R/tx2.frames' '$R/p2guest_rx.out' && cmp -s '$R/tx2.frames' '$R/sec2.out'"
        check "$t: primary guest -> filter-redirector -> colo-redirector -> filter-redirector -> client" \
            cmp -s "$R/rx.frames" "$R/tap.out"
        check "$t: secondary guest -> filter-redirector -> colo-redirector -> shm ring" \
            cmp -s "$R/rx2.frames" "$R/to_compare.out"
    }
    wait_file() {
        i=0
        while [ "$i" -lt 400 ]; do
            [ -e "$1" ] && return 0
            kill -0 "$QFRAMES" 2>/dev/null || return 1
            sleep 0.05
            i=$((i + 1))
        done
        return 1
    }
    wait_file "$D/r1/done" || { say "qframes:"; cat "$D/qframes.log"; }
    round_checks 1 ""

    # Restart our side (SIGTERM with vnet off, SIGKILL with vnet on), wait
    # for QEMU to reconnect, re-create the filter-redirectors whose indev
    # is one of our sockets (QEMU 7.2 does not re-arm them), go again.
    if [ "$mode" = on ]; then sig=KILL; else sig=TERM; fi
    kill -$sig "$MIRROR" "$REDIRECTOR"
    wait "$MIRROR" 2>/dev/null
    wait "$REDIRECTOR" 2>/dev/null
    forget_pid "$MIRROR"
    forget_pid "$REDIRECTOR"
    start_services 2
    if wait_services 2 && "$QF" hmp "$S/hmp.sock" \
        "object_del m1" \
        "object_add filter-redirector,id=m1,netdev=n0,queue=tx,indev=mirror_out,position=id=redire0,insert=before$QV" \
        "object_del redire0" \
        "object_add filter-redirector,id=redire0,netdev=n0,queue=rx,indev=compare_out,position=id=redire1,insert=before$QV" \
        "object_del f1" \
        "object_add filter-redirector,id=f1,netdev=n1,queue=tx,indev=red0,position=head$QV" \
        >"$D/hmp.log" 2>&1; then
        : >"$D/go2"
    else
        say "restart or re-creating the filters failed:"
        cat "$D/hmp.log"
    fi
    wait "$QFRAMES" || { say "qframes:"; cat "$D/qframes.log"; }
    forget_pid "$QFRAMES"
    round_checks 2 " after SIG$sig restart of colo-mirror/colo-redirector"

    kill "$MIRROR" "$REDIRECTOR" "$QEMU_PID" 2>/dev/null
    for p in "$MIRROR" "$REDIRECTOR" "$QEMU_PID"; do
        wait "$p" 2>/dev/null
        forget_pid "$p"
    done
}

run_mode off
run_mode on

say "$(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
