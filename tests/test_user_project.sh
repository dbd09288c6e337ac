#!/bin/sh
# test_user_project - an out-of-tree project builds against the installed
# zshm and exchanges its own protobuf messages through it.
#
#   1. `make install DESTDIR=$tmp` from this build tree;
#   2. a tiny project in another directory, with a new schema (order.proto,
#      which imports zshm's installed market.proto), a C program and a
#      Makefile that uses nothing but
#          include $(shell pkg-config --variable=zshm_mk zshm)
#      (pkg-config finds the staged tree through PKG_CONFIG_PATH and
#      PKG_CONFIG_SYSROOT_DIR, the standard way to use a DESTDIR install);
#   3. make generates order.pb-c.[ch] and market.pb-c.[ch] with protoc-c,
#      then order.zshm.c and market.zshm.c with zshm's installed generator
#      (the objects listed are the .zshm.o), builds the program, and the
#      program publishes and receives Orders (a nested, repeated type) and
#      Fills (a flat one, with extreme values) through a zshm channel, and
#      checks that the generated code is what packs Fills and Quotes.
#
# The project is compiled with this build's CC, CFLAGS and LDFLAGS (read
# from its Makefile), so sanitizer builds link their runtime too.

builddir=${top_builddir:-$(pwd)}
builddir=$(cd "$builddir" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/zshm-user-project.XXXXXX") || exit 1
channel="test_user_project.$$"
trap 'rm -rf "$work"; rm -f "${ZSHM_DIR:-/dev/shm}/zshm.$channel"' EXIT INT TERM

# Nested makes must not inherit the outer make's jobserver or flags.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
make_var () {
    sed -n "s/^$1 = //p" "$builddir/Makefile" | head -n 1
}

stage="$work/stage"
if ! make -C "$builddir" install DESTDIR="$stage" >"$work/install.log" 2>&1; then
    echo "test_user_project: make install failed"; tail -n 30 "$work/install.log"; exit 1
fi
pc=$(find "$stage" -name zshm.pc | head -n 1)
[ -n "$pc" ] || { echo "test_user_project: zshm.pc was not installed"; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$stage
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
for file in zshm_mk protodir; do
    path=$(pkg-config --variable=$file zshm)
    [ -e "$path" ] || { echo "test_user_project: pkg-config's $file ($path) does not exist"; exit 1; }
done
[ -f "$(pkg-config --variable=protodir zshm)/market.proto" ] \
    || { echo "test_user_project: market.proto was not installed"; exit 1; }
[ -f "$(pkg-config --variable=includedir zshm)/zshm_proto.h" ] \
    || { echo "test_user_project: zshm_proto.h was not installed"; exit 1; }
[ -f "$(pkg-config --variable=includedir zshm)/zshm_fastgen.h" ] \
    || { echo "test_user_project: zshm_fastgen.h was not installed"; exit 1; }
# Only the public headers are installed: nothing private, nothing generated.
for private in zshm_sub_priv.h zshm_pub_priv.h zshm_codec.h zshm_record.h zshm_layout.h \
               market.pb-c.h; do
    [ ! -e "$(pkg-config --variable=includedir zshm)/$private" ] \
        || { echo "test_user_project: $private should not be installed"; exit 1; }
done

project="$work/project"
mkdir -p "$project"
cat >"$project/order.proto" <<'EOF'
syntax = "proto3";
package shop;
import "market.proto";

message Order {
    string client = 1;
    zshm.market.Side side = 2;
    zshm.market.Quote limit = 3;
    repeated uint32 fills = 4;
    bytes note = 5;
}

message Fill {
    string client = 1;
    sint64 quantity = 2;
    double price = 3;
    zshm.market.Side side = 4;
    bool last = 5;
    fixed32 venue = 6;
    bytes tag = 7;
    uint64 sequence = 100;
}
EOF
cat >"$project/shop.c" <<'EOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zshm.h>
#include "order.pb-c.h"

int
main (int argc, char **argv)
{
    if (argc != 2)
        return 1;
    char endpoint [256];
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=256", argv [1]);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", argv [1]);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "orders");
    if (!pub || !sub) {
        fprintf (stderr, "shop: %s\n", strerror (errno));
        return 1;
    }
    zshm_sub_set_rcvtimeo (sub, 5000);
    uint32_t fills [100];
    for (int index = 0; index < 100; index++)
        fills [index] = (uint32_t) index * 1000u;
    for (int index = 0; index < 20; index++) {
        Zshm__Market__Quote limit = ZSHM__MARKET__QUOTE__INIT;
        limit.symbol = (char *) "AAPL";
        limit.bid_price = 1892500 + index;
        limit.price_exponent = -4;
        Shop__Order order = SHOP__ORDER__INIT;
        order.client = (char *) "acme";
        order.side = index % 2 ? ZSHM__MARKET__SIDE__SIDE_BUY : ZSHM__MARKET__SIDE__SIDE_SELL;
        order.limit = &limit;
        order.n_fills = (size_t) index * 5;     //  up to 95 fills: past a 256-byte slot
        order.fills = fills;
        if (zshm_pub_send_proto (pub, "orders.acme", &order.base))
            return 1;
        const char *topic;
        Shop__Order *got = (Shop__Order *)
            zshm_sub_recv_proto (sub, &shop__order__descriptor, &topic);
        if (!got || strcmp (topic, "orders.acme") || strcmp (got->client, "acme")
        ||  got->side != order.side || !got->limit || got->limit->bid_price != 1892500 + index
        ||  got->n_fills != order.n_fills
        ||  (got->n_fills && got->fills [got->n_fills - 1] != fills [got->n_fills - 1])) {
            fprintf (stderr, "shop: order %d did not come back\n", index);
            return 1;
        }
    }
    //  Fills go through the code zshm_fastgen wrote for them, extreme
    //  values included
    if (!zshm_fastgen_active (&shop__fill__descriptor)
    ||  !zshm_fastgen_active (&zshm__market__quote__descriptor)
    ||  zshm_fastgen_active (&shop__order__descriptor)) {
        fprintf (stderr, "shop: the generated code is not registered as it should be\n");
        return 1;
    }
    int64_t quantities [4] = { 0, -1, INT64_MIN, INT64_MAX };
    for (int index = 0; index < 40; index++) {
        Shop__Fill fill = SHOP__FILL__INIT;
        fill.client = (char *) (index % 3 ? "acme" : "");
        fill.quantity = quantities [index % 4];
        fill.price = index % 5 ? 189.25 * index : -0.0;
        fill.side = index % 2 ? ZSHM__MARKET__SIDE__SIDE_BUY : ZSHM__MARKET__SIDE__SIDE_SELL;
        fill.last = index % 2;
        fill.venue = (uint32_t) index * 0x10001u;
        fill.tag.data = (uint8_t *) "\0\1\2";
        fill.tag.len = (size_t) index % 4;
        fill.sequence = UINT64_MAX - (uint64_t) index;
        if (zshm_pub_send_proto (pub, "orders.fill", &fill.base))
            return 1;
        Shop__Fill *got = (Shop__Fill *)
            zshm_sub_recv_proto (sub, &shop__fill__descriptor, NULL);
        if (!got || strcmp (got->client, fill.client) || got->quantity != fill.quantity
        ||  got->price != fill.price || got->side != fill.side || got->last != fill.last
        ||  got->venue != fill.venue || got->tag.len != fill.tag.len
        ||  (got->tag.len && memcmp (got->tag.data, fill.tag.data, got->tag.len))
        ||  got->sequence != fill.sequence) {
            fprintf (stderr, "shop: fill %d did not come back\n", index);
            return 1;
        }
    }
    //  A Quote is not an Order.
    Zshm__Market__Quote quote = ZSHM__MARKET__QUOTE__INIT;
    quote.symbol = (char *) "MSFT";
    if (zshm_pub_send_proto (pub, "orders.quote", &quote.base)
    ||  zshm_sub_recv_proto (sub, &shop__order__descriptor, NULL) || errno != EPROTO
    ||  zshm_sub_proto_errors (sub) != 1) {
        fprintf (stderr, "shop: a Quote was taken for an Order\n");
        return 1;
    }
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (argv [1]);
    printf ("shop: 20 orders and 40 fills round-tripped, fills and quotes by generated code\n");
    return 0;
}
EOF
# The whole build description a user writes: the include and the targets.
cat >"$project/Makefile" <<'EOF'
include $(shell pkg-config --variable=zshm_mk zshm)

shop: shop.o order.zshm.o market.zshm.o
shop.o order.zshm.o: order.pb-c.h market.pb-c.h
EOF

cc=$(make_var CC)
cflags=$(make_var CFLAGS)
ldflags=$(make_var LDFLAGS)
if ! make -C "$project" CC="${cc:-cc}" CFLAGS="$cflags" LDFLAGS="$ldflags" \
        >"$work/build.log" 2>&1; then
    echo "test_user_project: the user project did not build"; cat "$work/build.log"; exit 1
fi
for generated in order.pb-c.c order.pb-c.h market.pb-c.c market.pb-c.h order.zshm.c \
                 market.zshm.c; do
    [ -f "$project/$generated" ] || { echo "test_user_project: $generated not generated"; exit 1; }
done
libdir=$(pkg-config --variable=libdir zshm)
if ! LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$project/shop" "$channel"; then
    echo "test_user_project: the user program failed"; exit 1
fi
# It really ran against the staged library, not one installed elsewhere.
if command -v ldd >/dev/null 2>&1; then
    LD_LIBRARY_PATH="$libdir" ldd "$project/shop" | grep -q "$stage.*libzshm" \
        || { echo "test_user_project: shop did not load the staged libzshm"; exit 1; }
fi
echo "test_user_project: a project built from the installed zshm exchanged its own messages"
exit 0
