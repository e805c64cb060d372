#!/bin/sh
# tcp_echo.sh - issue 6 test 1 with echo connections: client data into both guests and back, byte-exact, no checkpoint.
# SPDX-License-Identifier: MPL-2.0
#
# tcp_transfer.sh with E2E_ECHO=1: next to the downloads, CONC echo
# connections per address family send ESIZE bytes each through socat
# EXEC:cat on both guests.  What it covers beyond downloads: the client's
# send window must fit both guests (colo-compare clamps the primary's
# window to the secondary's: a guest whose cat starts later would drop data
# beyond its window for good), and the close, where a FIN held for the
# secondary is sent twice and both closed sockets answer the second ACK with
# an RST.
E2E_NAME=tcp_echo E2E_ECHO=1 exec sh "$(dirname "$0")/tcp_transfer.sh"
