/*  =========================================================================
    test_proto_codec - zshm's own protobuf codec against protobuf-c

    Usage: test_proto_codec [-v] [ROUNDS]

    zshm_codec (plugin/zshm_codec.h) packs and unpacks flat messages itself,
    for speed.  It must never disagree with protobuf-c:
      - packing: for random messages of every flat type here (every scalar
        type, strings, bytes, enums, proto3 implicit presence and proto2
        optional fields with defaults, one-, two- and three-byte keys, with
        extreme values: 0, -0.0, NaN, infinities, INT_MIN, UINT64_MAX,
        NULL and empty strings), the size and every byte equal protobuf-c's,
        and a buffer one byte short is refused;
      - unpacking: those messages, and mutations of them (bytes flipped,
        cut short, duplicated, foreign fields appended, wire types changed),
        decode to what protobuf-c decodes, field for field, whenever the
        codec claims them; what it passes on is protobuf-c's to judge.  The
        test fails if the codec claims too few of the valid messages, so a
        codec that passes everything on cannot pass it;
      - non-flat types (repeated, oneof, sub-messages, required) are never
        claimed.
    All of it runs twice: with the code zshm_fastgen wrote for these types
    (test_codec.zshm.c and the others, linked in), and with the interpreter
    alone (zshm_codec_set_fast).  With the code, it must be registered for
    every type, pack every message itself, byte for byte, and decode every
    valid one itself.
    The seed is printed; TU_SEED=... replays a run.
    =========================================================================
*/

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "zshm.h"
#include "zshm_codec.h"
#include "market.pb-c.h"
#include "test_codec.pb-c.h"
#include "test_codec2.pb-c.h"

static bool s_verbose = false;
#define SAY(...) do { if (s_verbose) printf (__VA_ARGS__); } while (0)

//  Room for one random message's strings and bytes.
#define S_SCRATCH 4096
#define S_PACKED  8192

typedef struct {
    tu_rng_t rng;
    char scratch [S_SCRATCH];       //  strings and bytes of the message
    size_t used;
} s_gen_t;

//  Some bytes of the scratch area, `size` long, NUL-free if `text`.
static uint8_t *
s_bytes (s_gen_t *gen, size_t size, bool text)
{
    if (gen->used + size + 1 > S_SCRATCH)
        size = 0;
    uint8_t *bytes = (uint8_t *) gen->scratch + gen->used;
    for (size_t index = 0; index < size; index++) {
        uint8_t byte = (uint8_t) tu_rng_next (&gen->rng);
        bytes [index] = text && !byte ? 'x' : byte;
    }
    bytes [size] = '\0';
    gen->used += size + 1;
    return bytes;
}

static uint64_t
s_number (s_gen_t *gen)
{
    static const uint64_t edges [] = {
        0, 1, 2, 127, 128, 16383, 16384, 0x7fffffff, 0x80000000, 0xffffffff,
        0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL, UINT64_MAX,
        (uint64_t) -1, (uint64_t) -2, (uint64_t) -128, (uint64_t) INT32_MIN
    };
    switch (tu_rng_range (&gen->rng, 0, 3)) {
        case 0:  return edges [tu_rng_range (&gen->rng, 0, sizeof edges / sizeof edges [0] - 1)];
        case 1:  return tu_rng_range (&gen->rng, 0, 300);
        case 2:  return tu_rng_next (&gen->rng) >> tu_rng_range (&gen->rng, 0, 63);
        default: return tu_rng_next (&gen->rng);
    }
}

static double
s_real (s_gen_t *gen)
{
    static const double edges [] = { 0.0, -0.0, 1.0, -1.5, 1e300, -1e-300, 5e-324 };
    switch (tu_rng_range (&gen->rng, 0, 4)) {
        case 0:  return edges [tu_rng_range (&gen->rng, 0, sizeof edges / sizeof edges [0] - 1)];
        case 1:  return NAN;
        case 2:  return tu_rng_range (&gen->rng, 0, 1) ? INFINITY : -INFINITY;
        default: return (double) (int64_t) tu_rng_next (&gen->rng) / 1e6;
    }
}

//  Fill a message of a flat type with random values.
static void
s_random (s_gen_t *gen, ProtobufCMessage *msg)
{
    const ProtobufCMessageDescriptor *descriptor = msg->descriptor;
    gen->used = 0;
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        char *member = (char *) msg + field->offset;
        if (tu_rng_range (&gen->rng, 0, 5) == 0)
            continue;                   //  leave it as message_init set it
        uint64_t number = s_number (gen);
        switch (field->type) {
            case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
            case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_UINT32:
            case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_ENUM: {
                uint32_t v = (uint32_t) number;
                memcpy (member, &v, sizeof v);
                break;
            }
            case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64:
                memcpy (member, &number, sizeof number);
                break;
            case PROTOBUF_C_TYPE_BOOL: {
                //  Any int: protobuf-c packs nonzero as 1
                protobuf_c_boolean v = (protobuf_c_boolean) (number % 4);
                memcpy (member, &v, sizeof v);
                break;
            }
            case PROTOBUF_C_TYPE_FLOAT: {
                float v = (float) s_real (gen);
                memcpy (member, &v, sizeof v);
                break;
            }
            case PROTOBUF_C_TYPE_DOUBLE: {
                double v = s_real (gen);
                memcpy (member, &v, sizeof v);
                break;
            }
            case PROTOBUF_C_TYPE_STRING: {
                const char *v;
                switch (tu_rng_range (&gen->rng, 0, 4)) {
                    case 0:  v = NULL; break;
                    case 1:  v = ""; break;
                    case 2:  v = (const char *) field->default_value; break;
                    case 3:  v = (char *) s_bytes (gen, tu_rng_range (&gen->rng, 200, 400), true);
                             break;
                    default: v = (char *) s_bytes (gen, tu_rng_range (&gen->rng, 1, 20), true);
                }
                memcpy (member, &v, sizeof v);
                break;
            }
            case PROTOBUF_C_TYPE_BYTES: {
                ProtobufCBinaryData v = { 0, NULL };
                switch (tu_rng_range (&gen->rng, 0, 2)) {
                    case 0:  break;
                    case 1:  v.data = s_bytes (gen, 0, false); break;       //  empty, not NULL
                    default: v.len = tu_rng_range (&gen->rng, 1, 300);
                             v.data = s_bytes (gen, v.len, false);
                }
                memcpy (member, &v, sizeof v);
                break;
            }
            default:
                CHECKF (false, "%s.%s: not a flat field", descriptor->name, field->name);
        }
        if (field->label == PROTOBUF_C_LABEL_OPTIONAL && field->quantifier_offset) {
            protobuf_c_boolean has = tu_rng_range (&gen->rng, 0, 3) != 0;
            memcpy ((char *) msg + field->quantifier_offset, &has, sizeof has);
        }
    }
}

//  Field by field equality of two messages of one flat type; the first
//  difference into why.
static bool
s_same (const ProtobufCMessage *a, const ProtobufCMessage *b, char *why, size_t max)
{
    const ProtobufCMessageDescriptor *descriptor = a->descriptor;
    if (b->descriptor != descriptor || a->n_unknown_fields != b->n_unknown_fields) {
        snprintf (why, max, "descriptor or unknown fields");
        return false;
    }
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        const char *x = (const char *) a + field->offset;
        const char *y = (const char *) b + field->offset;
        bool same = true;
        switch (field->type) {
            case PROTOBUF_C_TYPE_STRING: {
                const char *s = *(const char *const *) x, *t = *(const char *const *) y;
                same = (!s && !t) || (s && t && strcmp (s, t) == 0);
                break;
            }
            case PROTOBUF_C_TYPE_BYTES: {
                const ProtobufCBinaryData *s = (const ProtobufCBinaryData *) x;
                const ProtobufCBinaryData *t = (const ProtobufCBinaryData *) y;
                same = s->len == t->len && !s->data == !t->data
                    && (!s->len || memcmp (s->data, t->data, s->len) == 0);
                break;
            }
            case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_DOUBLE:
                same = memcmp (x, y, 8) == 0;
                break;
            default:
                same = memcmp (x, y, 4) == 0;
        }
        if (same && field->quantifier_offset)
            same = memcmp ((const char *) a + field->quantifier_offset,
                           (const char *) b + field->quantifier_offset,
                           sizeof (protobuf_c_boolean)) == 0;
        if (!same) {
            snprintf (why, max, "field %s", field->name);
            return false;
        }
    }
    return true;
}

static void
s_hex (const char *label, const uint8_t *data, size_t size)
{
    fprintf (stderr, "%s (%zu bytes):", label, size);
    for (size_t index = 0; index < size && index < 200; index++)
        fprintf (stderr, " %02x", data [index]);
    fprintf (stderr, "\n");
}

typedef struct {
    uint64_t claimed;       //  the codec decoded it
    uint64_t passed;        //  the codec left it to protobuf-c
    uint64_t refused;       //  protobuf-c refused it (codec passed)
} s_tally_t;

//  Decode `data` both ways; they must agree wherever the codec claims it.
static void
s_compare_unpack (const ProtobufCMessageDescriptor *descriptor, zshm_proto_arena_t *arena,
                  const uint8_t *data, size_t size, s_tally_t *tally)
{
    ProtobufCMessage *theirs = protobuf_c_message_unpack (descriptor, NULL, size, data);
    zshm_proto_arena_reset (arena);
    ProtobufCMessage *ours = NULL;
    zshm_codec_result_t result = zshm_codec_unpack (
        zshm_codec_plan (descriptor), zshm_proto_arena_allocator (arena), data, size, &ours);
    CHECKF (result != ZSHM_CODEC_NOMEM, "%s: the arena ran out", descriptor->name);
    if (result == ZSHM_CODEC_DONE) {
        char why [128] = "";
        if (!theirs || !s_same (ours, theirs, why, sizeof why)) {
            s_hex ("input", data, size);
            CHECKF (false, "%s: the codec decoded what protobuf-c %s%s", descriptor->name,
                    theirs ? "decodes differently: " : "refuses", why);
        }
        tally->claimed++;
    }
    else {
        tally->passed++;
        tally->refused += !theirs;
    }
    if (theirs)
        protobuf_c_message_free_unpacked (theirs, NULL);
}

//  Change a packed message at random.
static size_t
s_mutate (tu_rng_t *rng, uint8_t *data, size_t size, size_t max)
{
    int changes = (int) tu_rng_range (rng, 1, 3);
    for (int change = 0; change < changes; change++) {
        switch (tu_rng_range (rng, 0, 6)) {
            case 0:                     //  a byte replaced
                if (size)
                    data [tu_rng_range (rng, 0, size - 1)] = (uint8_t) tu_rng_next (rng);
                break;
            case 1:                     //  a bit flipped
                if (size)
                    data [tu_rng_range (rng, 0, size - 1)] ^= (uint8_t) (1u << tu_rng_range (rng, 0, 7));
                break;
            case 2:                     //  cut short
                if (size)
                    size = tu_rng_range (rng, 0, size - 1);
                break;
            case 3: {                   //  a piece repeated at the end
                if (!size)
                    break;
                size_t from = tu_rng_range (rng, 0, size - 1);
                size_t length = tu_rng_range (rng, 1, size - from);
                if (size + length <= max) {
                    memmove (data + size, data + from, length);
                    size += length;
                }
                break;
            }
            case 4: {                   //  a field of any number and wire type
                uint8_t field [16];
                uint32_t id = (uint32_t) tu_rng_range (rng, 0, 20);
                unsigned wire = (unsigned) tu_rng_range (rng, 0, 7);
                size_t length = 0;
                field [length++] = (uint8_t) (id << 3 | wire);
                size_t extra = tu_rng_range (rng, 0, 10);
                for (size_t index = 0; index < extra; index++)
                    field [length++] = (uint8_t) tu_rng_next (rng);
                if (size + length <= max) {
                    memcpy (data + size, field, length);
                    size += length;
                }
                break;
            }
            case 5:                     //  a key's wire type changed
                for (size_t index = 0; index < size; index++)
                    if (tu_rng_range (rng, 0, 7) == 0) {
                        data [index] = (uint8_t) ((data [index] & ~7u)
                                                  | tu_rng_range (rng, 0, 7));
                        break;
                    }
                break;
            default: {                  //  a long varint (10 or 11 bytes)
                size_t length = tu_rng_range (rng, 10, 11);
                if (size + length + 1 <= max) {
                    data [size++] = (uint8_t) (tu_rng_range (rng, 1, 16) << 3);
                    for (size_t index = 0; index + 1 < length; index++)
                        data [size++] = 0x80 | (uint8_t) tu_rng_next (rng);
                    data [size++] = (uint8_t) tu_rng_range (rng, 0, 3);
                }
            }
        }
    }
    return size;
}

//  Random messages of a flat type: packing identical, unpacking agreeing,
//  mutations judged the same.  Returns the tally of the mutations.
static void
s_test_type (const ProtobufCMessageDescriptor *descriptor, uint64_t seed, int rounds,
             zshm_proto_arena_t *arena, s_tally_t *mutations, bool fast_on)
{
    const zshm_codec_plan_t *plan = zshm_codec_plan (descriptor);
    CHECKF (plan, "%s should be flat", descriptor->name);
    CHECK (zshm_codec_plan (descriptor) == plan);       //  kept, not made again
    const zshm_fastgen_t *fast = zshm_codec_fast (plan);
    CHECKF ((fast != NULL) == fast_on, "%s: generated code %s", descriptor->name,
            fast ? "in use with the interpreter asked for" : "not registered");
    s_gen_t *gen = (s_gen_t *) malloc (sizeof (s_gen_t));
    uint8_t *ours = (uint8_t *) malloc (S_PACKED);
    uint8_t *theirs = (uint8_t *) malloc (S_PACKED);
    ProtobufCMessage *msg = (ProtobufCMessage *) malloc (descriptor->sizeof_message);
    CHECK (gen && ours && theirs && msg);
    tu_rng_seed (&gen->rng, seed);
    s_tally_t valid = { 0, 0, 0 };
    for (int round = 0; round < rounds; round++) {
        descriptor->message_init (msg);
        s_random (gen, msg);
        size_t size = 0;
        CHECKF (zshm_codec_size (plan, msg, &size), "%s: the codec will not size a flat message",
                descriptor->name);
        size_t expected = protobuf_c_message_get_packed_size (msg);
        CHECKF (size == expected, "%s: sized %zu, protobuf-c %zu", descriptor->name, size,
                expected);
        CHECK (size <= S_PACKED);
        size_t packed = zshm_codec_pack (plan, msg, ours, size);
        size_t reference = protobuf_c_message_pack (msg, theirs);
        if (packed != reference || memcmp (ours, theirs, packed) != 0) {
            s_hex ("zshm_codec", ours, packed);
            s_hex ("protobuf-c", theirs, reference);
            CHECKF (false, "%s: packed differently from protobuf-c", descriptor->name);
        }
        if (size)
            CHECKF (zshm_codec_pack (plan, msg, ours, size - 1) == ZSHM_CODEC_NOROOM,
                    "%s: packed %zu bytes into %zu", descriptor->name, size, size - 1);
        if (fast) {
            //  The generated code alone: with room to spare it packs
            //  everything itself, and decodes every valid message
            memset (ours, 0, S_PACKED);
            CHECKF (fast->pack (msg, ours, S_PACKED) == reference
                    && memcmp (ours, theirs, reference) == 0,
                    "%s: the generated code packed differently", descriptor->name);
            size_t head = (descriptor->sizeof_message + 15) & ~(size_t) 15;
            ProtobufCMessage *decoded = (ProtobufCMessage *) malloc (head + reference + 1);
            ProtobufCMessage *expected_msg = protobuf_c_message_unpack (descriptor, NULL,
                                                                        reference, theirs);
            CHECK (decoded && expected_msg);
            descriptor->message_init (decoded);
            char why [128] = "";
            CHECKF (fast->unpack (decoded, (char *) decoded + head, theirs, reference),
                    "%s: the generated code left a valid message to the interpreter",
                    descriptor->name);
            CHECKF (s_same (decoded, expected_msg, why, sizeof why),
                    "%s: the generated code decoded differently: %s", descriptor->name, why);
            protobuf_c_message_free_unpacked (expected_msg, NULL);
            free (decoded);
        }
        s_compare_unpack (descriptor, arena, theirs, reference, &valid);
        //  Mutations of it
        for (int mutation = 0; mutation < 8; mutation++) {
            memcpy (ours, theirs, reference);
            size_t mutated = s_mutate (&gen->rng, ours, reference, S_PACKED);
            s_compare_unpack (descriptor, arena, ours, mutated, mutations);
        }
    }
    CHECKF (valid.refused == 0, "%s: protobuf-c refused its own packing", descriptor->name);
    SAY ("  %-24s %d messages packed as protobuf-c does; claimed %llu of them\n",
         descriptor->name, rounds, (unsigned long long) valid.claimed);
    //  The fast path must be the common one for what the codec was made
    //  for; Distant's far field alone is left to protobuf-c by the
    //  interpreter (the generated code matches its key whole).
    if (fast_on || descriptor != &codectest__distant__descriptor)
        CHECKF (valid.claimed == (uint64_t) rounds, "%s: claimed %llu of %d valid messages",
                descriptor->name, (unsigned long long) valid.claimed, rounds);
    else
        CHECKF (valid.claimed > 0 && valid.passed > 0, "%s: claimed %llu, passed %llu",
                descriptor->name, (unsigned long long) valid.claimed,
                (unsigned long long) valid.passed);
    free (msg);
    free (theirs);
    free (ours);
    free (gen);
}

//  A subscriber's arena limit: the codec asks for the message and room for
//  all its bytes at once, protobuf-c for less; where only protobuf-c's
//  request fits, the message is still received (protobuf-c decodes it), and
//  where neither fits it fails with ENOMEM.
static void
s_test_limit (void)
{
    char name [64], endpoint [160];
    tu_channel (name, sizeof name, "codec");
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=64&slot=1024", name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", name);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (pub && sub);
    zshm_sub_set_rcvtimeo (sub, 5000);
    //  The topic's copy (16 bytes), the message, its bytes: the codec's
    //  request passes the limit by the payload's size, protobuf-c's not
    Zshm__Market__Tick tick = ZSHM__MARKET__TICK__INIT;
    tick.bid = 189.25;
    tick.sequence = 123456789;
    tick.volume = 1000000;
    size_t message = (sizeof tick + 15) & ~(size_t) 15;
    size_t payload = protobuf_c_message_get_packed_size (&tick.base);
    CHECK (zshm_sub_set_proto_limit (sub, 16 + message + payload / 2) == 0);
    CHECK (zshm_pub_send_proto (pub, "t", &tick.base) == 0);
    const char *topic = NULL;
    Zshm__Market__Tick *got = (Zshm__Market__Tick *) zshm_sub_recv_proto (
        sub, &zshm__market__tick__descriptor, &topic);
    CHECKF (got, "a Tick within protobuf-c's need failed: %s", strerror (errno));
    CHECK (got->bid == 189.25 && got->sequence == 123456789 && got->volume == 1000000);
    CHECK (streq (topic, "t") && streq (got->symbol, ""));
    //  A symbol neither can fit
    char symbol [400];
    memset (symbol, 's', sizeof symbol - 1);
    symbol [sizeof symbol - 1] = 0;
    tick.symbol = symbol;
    CHECK (zshm_pub_send_proto (pub, "t", &tick.base) == 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, &topic) == NULL
           && errno == ENOMEM);
    CHECK (zshm_sub_proto_errors (sub) == 1);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
}

//  zshm_varint_get against zshm_varint_put, at every length, with up to
//  ten bytes more after it and with one byte too few.
static void
s_test_varints (uint64_t seed)
{
    tu_rng_t rng;
    tu_rng_seed (&rng, seed);
    for (unsigned length = 1; length <= 64; length++)
        for (int round = 0; round < 200; round++) {
            uint64_t value = tu_rng_next (&rng);
            if (length < 64)
                value &= (1ULL << length) - 1;
            value |= 1ULL << (length - 1);
            uint8_t buffer [32];
            memset (buffer, round & 1 ? 0xff : 0x00, sizeof buffer);
            size_t size = (size_t) (zshm_varint_put (buffer, value) - buffer);
            CHECK (size == (length + 6) / 7);
            for (size_t room = 0; room <= 10; room++) {
                const uint8_t *at = buffer, *end = buffer + size + room;
                uint64_t got = 0;
                CHECKF (zshm_varint_get (&at, end, &got) && got == value
                        && at == buffer + size,
                        "varint of %u bits (%zu bytes, %zu more): %llx, not %llx", length,
                        size, room, (unsigned long long) got, (unsigned long long) value);
                //  One byte short: no varint, nothing moved
                at = buffer;
                CHECK (!zshm_varint_get (&at, buffer + size - 1, &got) && at == buffer);
            }
        }
    //  Padded encodings are read as protobuf-c reads them; eleven bytes are
    //  too many
    uint8_t padded [16] = { 0x81, 0x80, 0x80, 0x00 };
    const uint8_t *at = padded;
    uint64_t got = 0;
    CHECK (zshm_varint_get (&at, padded + sizeof padded, &got) && got == 1 && at == padded + 4);
    memset (padded, 0x80, sizeof padded);
    at = padded;
    CHECK (!zshm_varint_get (&at, padded + sizeof padded, &got) && at == padded);
    padded [10] = 0;
    CHECK (!zshm_varint_get (&at, padded + sizeof padded, &got) && at == padded);
    padded [9] = 1;
    CHECK (zshm_varint_get (&at, padded + sizeof padded, &got) && got == 1ULL << 63
           && at == padded + 10);
}

int
main (int argc, char **argv)
{
    int rounds = 2000;
    for (int arg = 1; arg < argc; arg++)
        if (streq (argv [arg], "-v"))
            s_verbose = true;
        else
            rounds = atoi (argv [arg]);
    uint64_t seed = tu_seed ();
    printf ("test_proto_codec: TU_SEED=0x%016llx\n", (unsigned long long) seed);
    s_test_varints (seed);

    //  What is flat and what is not
    CHECK (!zshm_codec_plan (&codectest__nested__descriptor));
    CHECK (!zshm_codec_plan (&codectest2__strict__descriptor));
    CHECK (!zshm_codec_plan (&zshm__market__trade__descriptor));     //  repeated
    CHECK (zshm_codec_plan (&codectest__nested__descriptor) == NULL);   //  the verdict kept
    zshm_proto_arena_t *arena = zshm_proto_arena_new (0, 0);
    CHECK (arena);
    //  Unknown fields, and bytes without data, on a message to pack are
    //  protobuf-c's
    size_t size = 0;
    Codectest__Flat flat = CODECTEST__FLAT__INIT;
    const zshm_codec_plan_t *plan = zshm_codec_plan (&codectest__flat__descriptor);
    CHECK (plan && zshm_codec_size (plan, &flat.base, &size) && size == 0);
    ProtobufCMessageUnknownField unknown = { 99, PROTOBUF_C_WIRE_TYPE_VARINT, 1, (uint8_t *) "\1" };
    flat.base.n_unknown_fields = 1;
    flat.base.unknown_fields = &unknown;
    CHECK (!zshm_codec_size (plan, &flat.base, &size));
    flat.base.n_unknown_fields = 0;
    flat.byt.len = 3;
    CHECK (!zshm_codec_size (plan, &flat.base, &size));

    const ProtobufCMessageDescriptor *types [] = {
        &codectest__flat__descriptor, &codectest__distant__descriptor,
        &codectest2__legacy__descriptor, &codectest2__optional__descriptor,
        &zshm__market__tick__descriptor, &zshm__market__quote__descriptor
    };
    for (int pass = 0; pass < 2; pass++) {
        bool fast_on = pass == 0;
        zshm_codec_set_fast (fast_on);
        s_tally_t mutations = { 0, 0, 0 };
        for (size_t index = 0; index < sizeof types / sizeof types [0]; index++)
            s_test_type (types [index], seed + index, rounds, arena, &mutations, fast_on);
        printf ("test_proto_codec: %s: %d random messages of each of %zu types packed byte "
                "for byte as protobuf-c packs them; of %llu mutations the codec decoded %llu "
                "as protobuf-c does and left %llu to it (which refused %llu)\n",
                fast_on ? "generated code" : "interpreter", rounds,
                sizeof types / sizeof types [0],
                (unsigned long long) (mutations.claimed + mutations.passed),
                (unsigned long long) mutations.claimed, (unsigned long long) mutations.passed,
                (unsigned long long) mutations.refused);
        //  Mutations must exercise both sides
        CHECK (mutations.claimed > 0 && mutations.passed > 0 && mutations.refused > 0);
    }
    zshm_codec_set_fast (true);
    s_test_limit ();
    printf ("test_proto_codec: an arena limit below the codec's request leaves the message "
            "to protobuf-c\n");
    zshm_proto_arena_destroy (&arena);
    return 0;
}
