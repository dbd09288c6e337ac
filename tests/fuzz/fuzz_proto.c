/*  =========================================================================
    fuzz_proto - libFuzzer target for the protobuf decode path

    Each input is one payload as a hostile publisher would put it on a
    channel: the first byte picks the type name the message claims (one of
    the example types, or sometimes a wrong one), the rest are the payload
    bytes.  They go through the real path, zshm_pub_send_begin/write/end
    into a ring with small slots (so payloads fragment), then
    zshm_sub_recv_proto on a subscriber, and also straight through
    zshm_proto_arena_unpack.  The target checks that:

      - nothing crashes, reads out of bounds or leaks (the sanitizers);
      - a failure is EPROTO (or ENOMEM at the arena limit), and counted;
      - the ring path and the direct path agree on success or failure;
      - both agree with protobuf-c's own unpack (malloc), field for field
        (compared by packing), although zshm_codec decodes what it
        claims; and the codec packs what protobuf-c packs;
      - a message that parsed packs, and parses again (when protobuf-c
        accepts its own output, see below) to the same bytes.

    Build: clang -fsanitize=fuzzer,address,undefined with libzshm,
    libzshm_types and the generated headers (-I build/proto); the wiring
    lives with the other fuzz targets in tests/fuzz.
    =========================================================================
*/

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zshm.h"
#include "zshm_codec.h"
#include "market.pb-c.h"
#include "telemetry.pb-c.h"
#include "zshm_meta.pb-c.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const ProtobufCMessageDescriptor *s_descriptors [] = {
    &zshm__market__tick__descriptor,
    &zshm__market__quote__descriptor,
    &zshm__market__trade__descriptor,
    &zshm__telemetry__telemetry__descriptor,
    &zshm__meta__descriptor,
    &zshm__heartbeat__descriptor,
};
#define S_TYPES (sizeof s_descriptors / sizeof s_descriptors [0])

static char s_channel [64];
static zshm_pub_t *s_pub;
static zshm_sub_t *s_sub;
static zshm_proto_arena_t *s_arena;
static zshm_proto_arena_t *s_check_arena;

static void
s_cleanup (void)
{
    zshm_sub_destroy (&s_sub);
    zshm_pub_destroy (&s_pub);
    zshm_proto_arena_destroy (&s_arena);
    zshm_proto_arena_destroy (&s_check_arena);
    if (*s_channel)
        zshm_ring_unlink (s_channel);
}

static void
s_setup (void)
{
    snprintf (s_channel, sizeof s_channel, "fuzz_proto.%d", (int) getpid ());
    zshm_ring_unlink (s_channel);
    char endpoint [128];
    //  64-byte slots: anything past 48 payload bytes is fragmented.
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=64&capacity=65536", s_channel);
    s_pub = zshm_pub_new (endpoint);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", s_channel);
    s_sub = zshm_sub_new (endpoint, "");
    //  Arenas with a modest limit, so that limit failures are exercised too.
    s_arena = zshm_proto_arena_new (0, 4 << 20);
    s_check_arena = zshm_proto_arena_new (0, 4 << 20);
    if (!s_pub || !s_sub || !s_arena || !s_check_arena) {
        fprintf (stderr, "fuzz_proto: setup failed: %s\n", strerror (errno));
        abort ();
    }
    zshm_sub_set_rcvtimeo (s_sub, 5000);
    zshm_sub_set_proto_limit (s_sub, 4 << 20);
    atexit (s_cleanup);
}

//  Pack a message into a new buffer; abort if out of memory.
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *size_p)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t *bytes = (uint8_t *) malloc (size ? size : 1);
    if (!bytes)
        abort ();
    *size_p = protobuf_c_message_pack (msg, bytes);
    if (*size_p != size)
        abort ();
    return bytes;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_pub)
        s_setup ();
    if (size < 1)
        return 0;
    const ProtobufCMessageDescriptor *descriptor = s_descriptors [data [0] % S_TYPES];
    //  Values of the selector past twice the type count claim a wrong type.
    bool wrong_type = data [0] >= 2 * S_TYPES && data [0] % 7 == 0;
    const char *type_name = wrong_type ? s_descriptors [(data [0] + 1) % S_TYPES]->name
                                       : descriptor->name;
    const uint8_t *payload = data + 1;
    size_t payload_size = size - 1;

    //  The direct path.
    ProtobufCMessage *direct = zshm_proto_arena_unpack (s_arena, descriptor, payload,
                                                        payload_size);
    int direct_errno = direct ? 0 : errno;
    if (!direct && direct_errno != EPROTO && direct_errno != ENOMEM)
        abort ();

    //  The reference: protobuf-c alone, with malloc.  zshm's path (its own
    //  codec wherever it claims the input) must decode exactly what it
    //  decodes, and the codec must pack what protobuf-c packs.
    ProtobufCMessage *reference = protobuf_c_message_unpack (descriptor, NULL, payload_size,
                                                             payload);
    if (!reference != !direct && direct_errno != ENOMEM)
        abort ();
    if (reference && direct) {
        size_t reference_size, direct_size;
        uint8_t *reference_bytes = s_pack (reference, &reference_size);
        uint8_t *direct_bytes = s_pack (direct, &direct_size);
        if (reference_size != direct_size
        ||  memcmp (reference_bytes, direct_bytes, direct_size))
            abort ();
        const zshm_codec_plan_t *plan = zshm_codec_plan (descriptor);
        size_t codec_size;
        if (plan && zshm_codec_size (plan, direct, &codec_size)) {
            uint8_t *codec_bytes = (uint8_t *) malloc (codec_size ? codec_size : 1);
            if (!codec_bytes)
                abort ();
            if (codec_size != direct_size
            ||  zshm_codec_pack (plan, direct, codec_bytes, codec_size) != codec_size
            ||  memcmp (codec_bytes, direct_bytes, codec_size))
                abort ();
            free (codec_bytes);
        }
        free (reference_bytes);
        free (direct_bytes);
    }
    if (reference)
        protobuf_c_message_free_unpacked (reference, NULL);

    //  The ring path.
    uint64_t errors = zshm_sub_proto_errors (s_sub);
    if (zshm_pub_send_begin (s_pub, "fuzz", 4, payload_size, type_name)
    ||  (payload_size && zshm_pub_send_write (s_pub, payload, payload_size))
    ||  zshm_pub_send_end (s_pub))
        return 0;               //  too large for the channel: nothing sent
    const char *topic = NULL;
    ProtobufCMessage *received = zshm_sub_recv_proto (s_sub, descriptor, &topic);
    if (!received) {
        if (errno != EPROTO && errno != ENOMEM)
            abort ();
        if (zshm_sub_proto_errors (s_sub) != errors + 1)
            abort ();
        //  The paths agree, unless the claimed type was wrong or an arena
        //  hit its limit (which depends on each arena's history).
        if (!wrong_type && direct && errno != ENOMEM)
            abort ();
        return 0;
    }
    if (wrong_type || strcmp (topic, "fuzz") != 0 || zshm_sub_proto_errors (s_sub) != errors)
        abort ();
    if (!direct) {
        if (direct_errno != ENOMEM)
            abort ();
        return 0;
    }

    //  Both paths decoded the same message, and it is stable: packing it
    //  and parsing that again gives the same bytes.
    size_t received_size, direct_size;
    uint8_t *received_bytes = s_pack (received, &received_size);
    uint8_t *direct_bytes = s_pack (direct, &direct_size);
    if (received_size != direct_size || memcmp (received_bytes, direct_bytes, direct_size))
        abort ();
    //  protobuf-c (1.4) accepts field number 0 in a non-canonical tag such
    //  as 80 00, keeps it as an unknown field, packs it as 00 and then
    //  refuses its own output: so a repacked message may fail to parse
    //  (cleanly, EPROTO), but if it parses it must be the same.
    ProtobufCMessage *again = zshm_proto_arena_unpack (s_check_arena, descriptor,
                                                       received_bytes, received_size);
    if (again) {
        size_t again_size;
        uint8_t *again_bytes = s_pack (again, &again_size);
        if (again_size != received_size || memcmp (again_bytes, received_bytes, received_size))
            abort ();
        free (again_bytes);
    }
    else
    if (errno != EPROTO)
        abort ();
    free (received_bytes);
    free (direct_bytes);
    return 0;
}
