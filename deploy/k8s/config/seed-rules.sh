#!/bin/sh
# seed-rules.sh - the passthrough rules every deployment starts with.
# SPDX-License-Identifier: MPL-2.0
#
# Run by the Job colonet-seed-rules (deploy/k8s/seed-rules.yaml) against
# $COLO_CONTROL, and by tests/interop/deploy_check.sh against a test
# colo-control.  Idempotent: a rule that exists already is refused as a
# duplicate, which counts as done; any other refusal, or no answer, fails.
set -u
failed=0
seed() {
    out=$(coloctl --json passthrough add "$@" 2>&1)
    case $out in
        *'"ok":true'*) echo "added: $*" ;;
        *'"error":"duplicate"'*) echo "present: $*" ;;
        *) echo "FAILED: $*: $out" >&2; failed=1 ;;
    esac
}
# RDP and VNC consoles: their payloads (bitmaps, timestamps) never match.
seed --proto tcp --dport 3389 --comment "RDP console"
seed --proto tcp --dport 5900-5910 --comment "VNC consoles"
# NTP answers carry each guest's own clock.
seed --vm vm1 --proto udp --dport 123 --comment "vm1 NTP"
exit $failed
