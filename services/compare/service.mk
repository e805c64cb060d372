# service.mk - colo-compare's objects (see the top-level Makefile).
# SPDX-License-Identifier: MPL-2.0
COMPARE_SRC = services/compare/colo_compare.c services/compare/colo_compare_svc.c
SERVICE_LIB_SRC += $(COMPARE_SRC)
BINS += colo-compare
colo-compare_SRC = services/compare/main_compare.c $(COMPARE_SRC)
