#!/bin/sh
# compare_qemu.sh - QEMU's colo-compare and ours fed the same frames: same output where QEMU is right.
# SPDX-License-Identifier: MPL-2.0
#
# Starts Debian's qemu-system-x86_64 without a guest (-M none) holding one
# colo-compare object on unix chardev sockets with notify_dev (so it runs
# stand-alone: it says DO_CHECKPOINT and flushes on COLO_CHECKPOINT), and
# colonet's colo-compare on the equivalent qemu+unix server ports, with the
# same compare_timeout, expired_scan_cycle and max_queue_size.  The driver
# ($BUILD/interop/colo_drive, tests/interop/colo_drive.c) connects to both,
# writes the same frame sequences and checks each case; docs/compare.md
# lists the cases where QEMU is wrong and what ours does instead.
set -u

BUILD=${BUILD:-build}
QEMU=${QEMU:-qemu-system-x86_64}
COMPARE=$BUILD/bin/colo-compare
DRIVE=${DRIVE:-$BUILD/interop/colo_drive}
TIMEOUT_MS=3000
SCAN_MS=1000
QUEUE=64
passed=0
failed=0

say() { echo "compare_qemu: $*"; }
if ! command -v "$QEMU" >/dev/null 2>&1; then
    say "$QEMU not found (scripts/deps.sh installs qemu-system-x86)"
    echo "0 passed, 1 failed"
    exit 1
fi
for f in "$COMPARE" "$DRIVE"; do
    if [ ! -x "$f" ]; then
        say "$f not built (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

DIR=$(mktemp -d /tmp/colonet-cmpq.XXXXXX)
mkdir "$DIR/qemu" "$DIR/ours"
QEMU_PID=""
OURS_PID=""
cleanup() {
    for p in $QEMU_PID $OURS_PID; do kill -9 "$p" 2>/dev/null; done
    for p in $QEMU_PID $OURS_PID; do wait "$p" 2>/dev/null; done
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

# wait_sockets DIR: until DIR holds the four sockets (at most 10 s, 50 ms steps).
wait_sockets() {
    i=0
    while [ "$i" -lt 200 ]; do
        [ -S "$1/pri.sock" ] && [ -S "$1/sec.sock" ] && [ -S "$1/out.sock" ] &&
            [ -S "$1/notify.sock" ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}

# wait_exit PID: until PID is gone (at most 10 s); its status in $status.
wait_exit() {
    i=0
    while [ "$i" -lt 200 ] && kill -0 "$1" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -0 "$1" 2>/dev/null && return 1
    wait "$1"
    status=$?
    return 0
}

# QEMU: its chardevs are the servers, as a drop-in replacement expects.
Q=$DIR/qemu
cd="socket,server=on,wait=off"
"$QEMU" -M none -nodefaults -display none -S \
    -object iothread,id=iot0 \
    -chardev $cd,id=pri,path=$Q/pri.sock \
    -chardev $cd,id=sec,path=$Q/sec.sock \
    -chardev $cd,id=out,path=$Q/out.sock \
    -chardev $cd,id=notify,path=$Q/notify.sock \
    -object colo-compare,id=cmp0,primary_in=pri,secondary_in=sec,outdev=out,iothread=iot0,notify_dev=notify,compare_timeout=$TIMEOUT_MS,expired_scan_cycle=$SCAN_MS,max_queue_size=$QUEUE \
    2>"$DIR/qemu.log" &
QEMU_PID=$!

O=$DIR/ours
"$COMPARE" --id interop \
    --primary-in "qemu+unix:$O/pri.sock,server" \
    --secondary-in "qemu+unix:$O/sec.sock,server" \
    --outdev "qemu+unix:$O/out.sock,server" \
    --notify-dev "qemu+unix:$O/notify.sock,server" \
    --compare-timeout $TIMEOUT_MS --expired-scan-cycle $SCAN_MS --max-queue-size $QUEUE \
    2>"$DIR/ours.log" &
OURS_PID=$!

check "qemu's colo-compare listens on its four chardev sockets" wait_sockets "$Q"
check "colo-compare listens on its four qemu+unix sockets" wait_sockets "$O"

"$DRIVE" --qemu "$Q" --ours "$O" --scan-ms $SCAN_MS --timeout-ms $TIMEOUT_MS \
    --queue $QUEUE >"$DIR/drive.out" 2>"$DIR/drive.err"
cat "$DIR/drive.out"
dp=$(grep -c '^ok ' "$DIR/drive.out")
df=$(grep -c '^FAIL ' "$DIR/drive.out")
passed=$((passed + dp))
failed=$((failed + df))
check "the driver ran every case" test "$dp" -gt 40 -a "$df" = 0
[ -s "$DIR/drive.err" ] && { say "driver stderr:"; cat "$DIR/drive.err" >&2; }

check "qemu is still running" kill -0 "$QEMU_PID"
kill -TERM "$OURS_PID" 2>/dev/null
status=255
check "colo-compare stops on SIGTERM" wait_exit "$OURS_PID"
OURS_PID=""
check "colo-compare exits 0 after SIGTERM" test "$status" = 0

if [ "$failed" -gt 0 ]; then
    say "qemu log:"
    tail -20 "$DIR/qemu.log" >&2
    say "colo-compare log:"
    tail -20 "$DIR/ours.log" >&2
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
