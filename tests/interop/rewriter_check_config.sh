#!/bin/sh
# rewriter_check_config.sh - colo-rewriter's options, --config and --check-config, and a start/stop.
# SPDX-License-Identifier: MPL-2.0
#
# Environment: BUILD (binaries in $BUILD/bin).  Needs no root and no QEMU.
set -u

BUILD=${BUILD:-build}
BIN=$BUILD/bin/colo-rewriter
passed=0
failed=0
DIR=$(mktemp -d /tmp/rewriter-check.XXXXXX)
PID=""
SHM="rwcheck-$$"
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    rm -rf "$DIR"
    rm -f /dev/shm/colonet-$SHM-*
}
trap cleanup EXIT

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

# expect FILE RC LINE: --check-config on FILE exits RC and prints LINE (or nothing).
expect() {
    out=$("$BIN" --config "$1" --check-config 2>&1)
    rc=$?
    [ "$rc" = "$2" ] && [ "$out" = "$3" ] || {
        echo "     got rc $rc: $out"
        echo "     want rc $2: $3"
        return 1
    }
}

if [ ! -x "$BIN" ]; then
    echo "rewriter_check_config: $BIN not built"
    echo "0 passed, 1 failed"
    exit 1
fi

cat >"$DIR/good.conf" <<CONF
# two instances and a section of another kind
[rewriter vm1-nic0]
from-mirror = zmq+tcp://0.0.0.0:7101,bind
to-guest = qemu+unix:$DIR/vm1-to-guest.sock,server
from-guest = qemu+unix:$DIR/vm1-from-guest.sock,server
to-compare = zmq+tcp://primary:7201
vnet-hdr-support = on
max-connections = 65536
idle-timeout = 600000
closed-linger = 2000
control = zmq+tcp://control:7000

[rewriter vm2-nic0]
from-mirror = shm:$SHM-in
to-guest = packet:tap2
from-guest = packet:tap2
to-compare = shm:$SHM-out

[compare vm1-nic0]
whatever = is ignored here
CONF
check "a good config passes silently" expect "$DIR/good.conf" 0 ""

cat >"$DIR/shm.conf" <<CONF
[rewriter vm1]
from-mirror = shm:a
to-guest = shm:x
from-guest = shm:x
to-compare = shm:b
CONF
check "one shm ring both ways is refused with file, line and key" \
    expect "$DIR/shm.conf" 1 "$DIR/shm.conf:4: [rewriter vm1] key 'from-guest': 'shm:x': shm ports carry one direction only"

cat >"$DIR/loop.conf" <<CONF
[rewriter vm1]
from-mirror = shm:a
to-compare = shm:b
to-guest = shm:a
from-guest = shm:c
CONF
check "a port feeding itself is refused" \
    expect "$DIR/loop.conf" 1 "$DIR/loop.conf:4: [rewriter vm1] key 'to-guest': 'shm:a': the same port as 'from-mirror'"

cat >"$DIR/unknown.conf" <<CONF

[rewriter vm1]
from-mirror = shm:a
to-gest = shm:b
CONF
check "an unknown key is refused" \
    expect "$DIR/unknown.conf" 1 "$DIR/unknown.conf:4: [rewriter vm1] unknown key 'to-gest'"

cat >"$DIR/missing.conf" <<CONF
# comment

[rewriter vm1]
from-mirror = shm:a
to-guest = shm:b
from-guest = shm:c
CONF
check "a missing key names the section's line" \
    expect "$DIR/missing.conf" 1 "$DIR/missing.conf:3: [rewriter vm1] key 'to-compare': missing (a URI is required)"

cat >"$DIR/number.conf" <<CONF
[rewriter vm1]
from-mirror = shm:a
to-guest = shm:b
from-guest = shm:c
to-compare = shm:d
max-connections = 0
CONF
check "a number out of range is refused" \
    expect "$DIR/number.conf" 1 "$DIR/number.conf:6: [rewriter vm1] key 'max-connections': '0': expected a number from 1 to 1073741824"

cat >"$DIR/uri.conf" <<CONF
[rewriter vm1]
from-mirror = shm:a
to-guest = qemu+unix:/run/x.sock,sever
from-guest = shm:c
to-compare = shm:d
CONF
check "a bad port option is refused" \
    expect "$DIR/uri.conf" 1 "$DIR/uri.conf:3: [rewriter vm1] key 'to-guest': 'qemu+unix:/run/x.sock,sever': unknown option 'sever'"

check "no file: exit 1" sh -c "\"$BIN\" --config \"$DIR/none.conf\" --check-config 2>/dev/null; test \$? = 1"
check "no instance: usage, exit 2" sh -c "\"$BIN\" 2>/dev/null; test \$? = 2"
check "unknown option: usage, exit 2" sh -c "\"$BIN\" --frm-mirror shm:a 2>/dev/null; test \$? = 2"
check "--help on stdout, exit 0" sh -c "\"$BIN\" --help | grep -q '^usage: colo-rewriter'"
check "command line instance passes --check-config" \
    "$BIN" --from-mirror shm:a --to-guest shm:b --from-guest shm:c --to-compare shm:d --check-config
check "command line error names the option" \
    sh -c "test \"\$(\"$BIN\" --from-mirror shm:a --to-guest shm:b --from-guest shm:c --check-config 2>&1)\" = \"colo-rewriter: --to-compare: missing (a URI is required)\""

# Start one instance, wait (bounded) for its sockets, stop it with SIGTERM.
"$BIN" --id smoke --from-mirror "shm:$SHM-m" --to-guest "qemu+unix:$DIR/g.sock,server" \
    --from-guest "qemu+unix:$DIR/h.sock,server" --to-compare "shm:$SHM-c" \
    2>"$DIR/run.log" &
PID=$!
i=0
while [ $i -lt 100 ] && { [ ! -S "$DIR/g.sock" ] || [ ! -S "$DIR/h.sock" ]; }; do
    sleep 0.05
    i=$((i + 1))
done
check "it starts and listens on its chardev sockets" test -S "$DIR/g.sock" -a -S "$DIR/h.sock"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=""
check "SIGTERM stops it with exit 0" test "$rc" = 0
check "it logged its wiring" grep -q "rewriter smoke: shm:$SHM-m -> qemu+unix:$DIR/g.sock,server" "$DIR/run.log"

# Two instances from one config file, one process, one thread each.
cat >"$DIR/two.conf" <<CONF
[rewriter vm1]
from-mirror = shm:$SHM-1a
to-guest = qemu+unix:$DIR/vm1.sock,server
from-guest = qemu+unix:$DIR/vm1.sock,server
to-compare = shm:$SHM-1b
vnet-hdr-support = on

[rewriter vm2]
from-mirror = shm:$SHM-2a
to-guest = shm:$SHM-2b
from-guest = shm:$SHM-2c
to-compare = shm:$SHM-2d
CONF
"$BIN" --config "$DIR/two.conf" 2>"$DIR/two.log" &
PID=$!
i=0
while [ $i -lt 100 ] && [ "$(grep -c 'rewriter vm[12]: ' "$DIR/two.log")" != 2 ]; do
    sleep 0.05
    i=$((i + 1))
done
check "a config with two instances starts both" test "$(grep -c 'rewriter vm[12]: ' "$DIR/two.log")" = 2
check "a shared guest chardev is one socket, with vnet" \
    grep -q "rewriter vm1: shm:$SHM-1a -> qemu+unix:$DIR/vm1.sock,server,vnet .*, qemu+unix:$DIR/vm1.sock,server,vnet -> shm:$SHM-1b" "$DIR/two.log"
kill -TERM "$PID"
wait "$PID"
rc=$?
PID=""
check "both stop on SIGTERM, exit 0" test "$rc" = 0

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
