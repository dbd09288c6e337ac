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
# with protoc-c, then compiles and links against libzshm.  List
# ticker.zshm.o instead of ticker.pb-c.o to have zshm pack and unpack the
# schema's flat types with code written for them (twice as fast as its
# interpreter; never both: ticker.zshm.c includes ticker.pb-c.c).  What it
# gives:
#
#   - a rule  NAME.pb-c.c NAME.pb-c.h: NAME.proto  (one protoc-c run makes
#     both), for your own schemas and for zshm's: market.proto,
#     telemetry.proto and zshm_meta.proto are found in the installed
#     ZSHM_PROTO_DIR, both to `import "market.proto";` from your schemas and
#     to generate C for them (list market.pb-c.o among your objects);
#   - a rule  NAME.zshm.c: NAME.pb-c.c NAME.pb-c.h  that builds zshm's
#     generator (the installed zshm_fastgen.c) against the schema's
#     descriptors with ZSHM_FASTGEN_CC (default: CC, which must then make
#     programs for the machine that builds) and runs it;
#   - ZSHM_CFLAGS and ZSHM_LIBS from pkg-config, added to CPPFLAGS and
#     LDLIBS, which make's built-in rules use; so `make CFLAGS=-O0` still
#     works (set ZSHM_NO_FLAGS=1 before the include to add them yourself,
#     and add them yourself if you set CPPFLAGS or LDLIBS on the command
#     line).
#
# Variables you may set before the include: PKG_CONFIG (pkg-config),
# PROTOC_C (protoc-c), ZSHM_PROTO_PATH (more directories to search for
# imports, space separated), ZSHM_FASTGEN_CC.  Schemas in other
# directories: add `vpath %.proto DIR`.  Generated files go beside the
# target you ask for, and stay (they are not make's intermediates).

ifndef ZSHM_MK_INCLUDED
ZSHM_MK_INCLUDED := 1

# Where this fragment is installed; the schemas sit beside it, so an
# installed tree can be moved (DESTDIR, relocated prefixes) and still work.
ZSHM_MK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
ZSHM_PROTO_DIR ?= $(ZSHM_MK_DIR)/proto

PKG_CONFIG ?= pkg-config
PROTOC_C ?= protoc-c
ZSHM_FASTGEN_CC ?= $(CC)
ZSHM_FASTGEN_SRC ?= $(ZSHM_MK_DIR)/zshm_fastgen.c

# Asked once, not at every expansion.
ifeq ($(origin ZSHM_CFLAGS),undefined)
ZSHM_CFLAGS := $(shell $(PKG_CONFIG) --cflags zshm)
endif
ifeq ($(origin ZSHM_LIBS),undefined)
ZSHM_LIBS := $(shell $(PKG_CONFIG) --libs zshm)
endif
# The generator needs protobuf-c alone (not libzshm: it runs before
# anything is installed where the loader looks).
ifeq ($(origin ZSHM_FASTGEN_LIBS),undefined)
ZSHM_FASTGEN_LIBS := $(shell $(PKG_CONFIG) --libs libprotobuf-c)
endif
ifndef ZSHM_NO_FLAGS
CPPFLAGS += $(ZSHM_CFLAGS)
LDLIBS += $(ZSHM_LIBS)
endif

vpath %.proto $(ZSHM_PROTO_DIR)
.PRECIOUS: %.pb-c.c %.pb-c.h %.zshm.c

# A pattern rule with two targets is one recipe making both.  The schema's
# own directory comes first on the import path, then yours, then zshm's.
%.pb-c.c %.pb-c.h: %.proto
	$(PROTOC_C) -I$(patsubst %/,%,$(dir $<)) $(addprefix -I,$(ZSHM_PROTO_PATH)) \
	    -I$(ZSHM_PROTO_DIR) --c_out=$(patsubst %/,%,$(dir $@)) $<

# The generator lists the schema's message descriptors (one ZSHM_FASTGEN
# line each, taken from the header), is built against them, writes the
# code, and is removed.  It reads only the schema's own messages, never
# the descriptors of the schemas it imports, so those are left unresolved
# (a position-dependent program, where they simply stay null).
%.zshm.c: %.pb-c.c %.pb-c.h
	sed -n 's/^extern const ProtobufCMessageDescriptor \([A-Za-z0-9_]*\);$$/ZSHM_FASTGEN (\1)/p' \
	    $*.pb-c.h > $*.fastgen.h
	$(ZSHM_FASTGEN_CC) -I$(patsubst %/,%,$(dir $@)) $(ZSHM_CFLAGS) \
	    -DZSHM_FASTGEN_HEADER='"$(notdir $*).pb-c.h"' -DZSHM_FASTGEN_LIST='"$(notdir $*).fastgen.h"' \
	    -no-pie -Wl,--unresolved-symbols=ignore-all \
	    -o $*-fastgen $(ZSHM_FASTGEN_SRC) $*.pb-c.c $(ZSHM_FASTGEN_LIBS)
	$(dir $*)$(notdir $*)-fastgen $(notdir $*).pb-c.c > $@.tmp
	mv $@.tmp $@
	rm -f $*-fastgen $*.fastgen.h

endif
