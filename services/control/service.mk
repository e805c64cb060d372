# service.mk - colo-control and coloctl (see the top-level Makefile).
# SPDX-License-Identifier: MPL-2.0
CONTROL_SRC = services/control/colo_ctldb.c services/control/colo_ctlstore.c \
              services/control/colo_ctlhook.c services/control/colo_ctlhttp.c \
              services/control/colo_control.c
SERVICE_LIB_SRC += $(CONTROL_SRC)
SERVICE_TEST_LIBS += $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
BINS += colo-control coloctl
colo-control_SRC = services/control/main_control.c $(CONTROL_SRC)
colo-control_LIBS = $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
coloctl_SRC = services/control/main_coloctl.c
