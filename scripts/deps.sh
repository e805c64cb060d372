#!/bin/sh
# deps.sh - install the Debian packages colonet needs that are missing.
# SPDX-License-Identifier: MPL-2.0
#
# Idempotent and silent when everything is present.  As root it installs what
# is missing; otherwise it prints the exact apt-get line and fails.
set -eu

PKGS="make gcc pkg-config libc6-dev
libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler libmsgpack-dev
check clang libclang-rt-dev iproute2 ethtool procps
qemu-system-x86 libmicrohttpd-dev socat iputils-ping tcpdump python3-yaml"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "colonet: missing Debian packages; as root run: apt-get install -y$missing" >&2
    exit 1
fi
echo "colonet: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends$missing >/dev/null
