# service.mk - colo-rewriter's objects (see the top-level Makefile).
# SPDX-License-Identifier: MPL-2.0
REWRITER_SRC = services/rewriter/colo_rewriter.c services/rewriter/colo_rewriter_actor.c
SERVICE_LIB_SRC += $(REWRITER_SRC)
BINS += colo-rewriter
colo-rewriter_SRC = services/rewriter/main_rewriter.c $(REWRITER_SRC)
