# zshm.mk - build programs that use zshm and protobuf types (GNU make)
#
# Installed as $(datadir)/zshm/zshm.mk.  In your Makefile:
#
#     include $(shell pkg-config --variable=zshm_mk zshm)
#
#     ticker: ticker.o ticker.pb-c.o
#     ticker.o: ticker.pb-c.h
#
# and `make` generates ticker.pb-c.c and ticker.pb-c.h from ticker.proto
# with protoc-c, then compiles and links against libzshm.  What it gives:
#
#   - a rule  NAME.pb-c.c NAME.pb-c.h: NAME.proto  (one protoc-c run makes
#     both), for your own schemas and for zshm's: market.proto,
#     telemetry.proto and zshm_meta.proto are found in the installed
#     ZSHM_PROTO_DIR, both to `import "market.proto";` from your schemas and
#     to generate C for them (list market.pb-c.o among your objects);
#   - ZSHM_CFLAGS and ZSHM_LIBS from pkg-config, added to CPPFLAGS and
#     LDLIBS, which make's built-in rules use; so `make CFLAGS=-O0` still
#     works (set ZSHM_NO_FLAGS=1 before the include to add them yourself,
#     and add them yourself if you set CPPFLAGS or LDLIBS on the command
#     line).
#
# Variables you may set before the include: PKG_CONFIG (pkg-config),
# PROTOC_C (protoc-c), ZSHM_PROTO_PATH (more directories to search for
# imports, space separated).  Schemas in other directories: add
# `vpath %.proto DIR`.  Generated files go beside the target you ask for.

ifndef ZSHM_MK_INCLUDED
ZSHM_MK_INCLUDED := 1

# Where this fragment is installed; the schemas sit beside it, so an
# installed tree can be moved (DESTDIR, relocated prefixes) and still work.
ZSHM_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ZSHM_PROTO_DIR ?= $(ZSHM_MK_DIR)/proto

PKG_CONFIG ?= pkg-config
PROTOC_C ?= protoc-c

# Asked once, not at every expansion.
ifeq ($(origin ZSHM_CFLAGS),undefined)
ZSHM_CFLAGS := $(shell $(PKG_CONFIG) --cflags zshm)
endif
ifeq ($(origin ZSHM_LIBS),undefined)
ZSHM_LIBS := $(shell $(PKG_CONFIG) --libs zshm)
endif
ifndef ZSHM_NO_FLAGS
CPPFLAGS += $(ZSHM_CFLAGS)
LDLIBS += $(ZSHM_LIBS)
endif

vpath %.proto $(ZSHM_PROTO_DIR)

# A pattern rule with two targets is one recipe making both.  The schema's
# own directory comes first on the import path, then yours, then zshm's.
%.pb-c.c %.pb-c.h: %.proto
	$(PROTOC_C) -I$(patsubst %/,%,$(dir $<)) $(addprefix -I,$(ZSHM_PROTO_PATH)) \
	    -I$(ZSHM_PROTO_DIR) --c_out=$(patsubst %/,%,$(dir $@)) $<

endif
