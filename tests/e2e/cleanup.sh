#!/bin/sh
# cleanup.sh - issue 6 test 7: namespaces, links and processes are gone afterwards, also when a test fails.
# SPDX-License-Identifier: MPL-2.0
#
# Runs a child test (this file with E2E_CLEANUP_CHILD set) that builds the
# whole topology, starts every service, the adapter and a guest server, says
# what it made, and then fails (exit 1) or is killed with SIGTERM.  Afterwards
# no namespace with its prefix, none of its processes and none of its files
# may be left.
set -u
E2E_NAME=cleanup
. "$(dirname "$0")/lib.sh"

if [ -n "${E2E_CLEANUP_CHILD:-}" ]; then
    e2e_require
    e2e_topology || exit 1
    e2e_config
    e2e_start || exit 1
    e2e_bg pg "$E2E_DIR/srv.log" socat TCP4-LISTEN:8080,fork,reuseaddr EXEC:cat
    echo "prefix $E2E_P"
    echo "dir $E2E_DIR"
    echo "pids $E2E_PIDS"
    echo "ready"
    if [ "$E2E_CLEANUP_CHILD" = fail ]; then exit 1; fi
    # Wait to be killed (bounded).
    n=0
    while [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    exit 0
fi

e2e_require
s_child_out=$E2E_DIR/child.out

s_nothing_left() {
    prefix=$(sed -n 's/^prefix //p' "$s_child_out")
    dir=$(sed -n 's/^dir //p' "$s_child_out")
    pids=$(sed -n 's/^pids //p' "$s_child_out")
    [ -n "$prefix" ] || { e2e_say "the child said nothing"; return 1; }
    left=0
    if ip netns list | grep -q "^$prefix"; then
        e2e_say "namespaces left: $(ip netns list | grep "^$prefix" | tr '\n' ' ')"
        left=1
    fi
    for p in $pids; do
        if kill -0 "$p" 2>/dev/null; then e2e_say "process $p left"; left=1; fi
    done
    if [ -e "$dir" ]; then e2e_say "$dir left"; left=1; fi
    return $left
}

# 1. The child fails half-way through a test.
E2E_CLEANUP_CHILD=fail sh "$0" >"$s_child_out" 2>&1
rc=$?
e2e_check "a failing child exits non-zero (got $rc)" [ "$rc" -ne 0 ]
e2e_check "the child had built everything" grep -q ready "$s_child_out"
e2e_check "after a failure: no namespace, process or file left" s_nothing_left

# 2. The child is killed with SIGTERM while everything runs.
E2E_CLEANUP_CHILD=term sh "$0" >"$s_child_out" 2>&1 &
child=$!
e2e_check "the second child is up" e2e_wait 150 grep -q ready "$s_child_out"
kill -TERM "$child"
wait "$child"
e2e_check "after SIGTERM: no namespace, process or file left" s_nothing_left
e2e_finish
