# service.mk - colo-mirror and colo-redirector (see the top-level Makefile).
# SPDX-License-Identifier: MPL-2.0
MIRROR_SRC = services/mirror/colo_mirror.c services/mirror/colo_redirector.c
SERVICE_LIB_SRC += $(MIRROR_SRC)
BINS += colo-mirror colo-redirector
colo-mirror_SRC = services/mirror/main_mirror.c $(MIRROR_SRC)
colo-redirector_SRC = services/mirror/main_redirector.c $(MIRROR_SRC)
