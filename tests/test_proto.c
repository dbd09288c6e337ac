/*  =========================================================================
    test_proto - protobuf payloads through a zshm channel

    - every sample of every example type (tests/proto_samples.h) goes
      through zshm_pub_send_proto and zshm_sub_recv_proto and comes back
      equal, field for field (compared by repacking), with its topic and
      type name; the telemetry sample spans many 1 KiB slots and some
      fields hold extreme values (INT64_MIN/MAX, UINT64_MAX, NaN, +-inf,
      subnormals, empty and long strings, empty bytes, UTF-8);
    - the bytes on the ring are exactly protobuf-c's packing;
    - another type, the wrong frame count, and no type name fail with
      EPROTO, are counted, and return nothing;
    - garbage and truncated payloads published with a valid type name fail
      with EPROTO (or parse, when a cut falls on a field boundary) and
      never crash; the count of errors matches the failures exactly;
    - a message larger than the publisher's maxmsg fails with EMSGSIZE
      and leaves the publisher usable;
    - results live until the next receive: the arena is reused, and a
      second subscriber has its own;
    - over tcp:// (no type name on the wire) messages are refused unless
      the subscriber accepts untyped ones, and then round-trip too.
    =========================================================================
*/

#include <inttypes.h>

#include "testutil.h"
#include "zshm_proto.h"
#include "proto_samples.h"

static char s_channel [64];

//  Descriptor for a sample's message (the samples know their own).
static const ProtobufCMessageDescriptor *
s_descriptor (const proto_sample_t *sample)
{
    return sample->msg->descriptor;
}

//  Publish a raw payload with a type name, as a hostile or broken
//  publisher might.
static void
s_send_raw (zshm_pub_t *pub, const char *topic, const void *data, size_t size,
            const char *type_name)
{
    CHECK (zshm_pub_send_begin (pub, topic, strlen (topic), size, type_name) == 0);
    if (size)
        CHECK (zshm_pub_send_write (pub, data, size) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
}

static void
s_test_round_trips (zshm_pub_t *pub, zshm_sub_t *sub, proto_samples_t *samples)
{
    for (size_t index = 0; index < samples->count; index++) {
        const proto_sample_t *sample = &samples->items [index];
        char topic [64];
        snprintf (topic, sizeof topic, "sample.%s", sample->name);
        CHECKF (zshm_pub_send_proto (pub, topic, sample->msg) == 0, "send %s", sample->name);

        const char *got_topic = NULL;
        ProtobufCMessage *got = zshm_sub_recv_proto (sub, s_descriptor (sample), &got_topic);
        CHECKF (got, "recv %s", sample->name);
        CHECKF (got->descriptor == s_descriptor (sample), "descriptor of %s", sample->name);
        CHECKF (got_topic && streq (got_topic, topic), "topic of %s", sample->name);
        CHECKF (streq (zshm_sub_type (sub), s_descriptor (sample)->name), "type of %s: %s",
                sample->name, zshm_sub_type (sub));
        CHECKF (proto_samples_equal (got, sample->msg), "%s differs after the round trip",
                sample->name);

        //  The payload frame is protobuf-c's packing, byte for byte.
        size_t size = 0, frame_size = 0;
        uint8_t *packed = proto_samples_pack (sample->msg, &size);
        CHECK (packed);
        const void *frame = zshm_sub_frame (sub, 1, &frame_size);
        CHECKF (frame && frame_size == size && memcmp (frame, packed, size) == 0,
                "%s: bytes on the ring", sample->name);
        free (packed);
    }
    CHECK (zshm_sub_proto_errors (sub) == 0);
}

//  Spot checks of decoded values, so that "equal" above cannot hide two
//  equally wrong encodings.
static void
s_test_extremes (zshm_pub_t *pub, zshm_sub_t *sub, proto_samples_t *samples)
{
    CHECK (zshm_pub_send_proto (pub, "x", &samples->tick_extreme.base) == 0);
    Zshm__Market__Tick *tick = (Zshm__Market__Tick *)
        zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
    CHECK (tick);
    CHECK (streq (tick->symbol, ""));
    CHECK (isnan (tick->bid));
    CHECK (isinf (tick->ask) && tick->ask > 0);
    CHECK (isinf (tick->last) && tick->last < 0);
    CHECK (tick->exchange_time_ns == UINT64_MAX && tick->bid_size == UINT64_MAX);
    CHECK (tick->sequence == UINT64_MAX && tick->volume == 1ULL << 63);
    CHECK (tick->venue == ZSHM__MARKET__VENUE__VENUE_OTHER);

    CHECK (zshm_pub_send_proto (pub, "x", &samples->tick_long.base) == 0);
    tick = (Zshm__Market__Tick *) zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
    CHECK (tick);
    CHECK (strlen (tick->symbol) == PROTO_SAMPLES_LONG && streq (tick->symbol, samples->long_text));
    CHECK (tick->bid == DBL_MAX && tick->last == -DBL_MAX);
    CHECK (tick->ask > 0 && tick->ask < DBL_MIN);

    CHECK (zshm_pub_send_proto (pub, "x", &samples->quote_extreme.base) == 0);
    Zshm__Market__Quote *quote = (Zshm__Market__Quote *)
        zshm_sub_recv_proto (sub, &zshm__market__quote__descriptor, NULL);
    CHECK (quote);
    CHECK (quote->bid_price == INT64_MIN && quote->ask_price == INT64_MAX);
    CHECK (quote->price_exponent == INT32_MIN);
    CHECK (quote->bid_size == UINT64_MAX && quote->ask_size == UINT64_MAX - 1);
    CHECK (quote->bid_orders == UINT32_MAX && quote->level == UINT32_MAX);
    CHECK (quote->indicative);
    CHECK (streq (quote->symbol, samples->quote_extreme.symbol));

    CHECK (zshm_pub_send_proto (pub, "x", &samples->trade_extreme.base) == 0);
    Zshm__Market__Trade *trade = (Zshm__Market__Trade *)
        zshm_sub_recv_proto (sub, &zshm__market__trade__descriptor, NULL);
    CHECK (trade);
    CHECK (trade->price == INT64_MIN && trade->size == UINT64_MAX);
    CHECK (trade->price_exponent == INT32_MAX);
    CHECK (trade->n_conditions == 16 && trade->conditions [15] == 7);
    CHECK (streq (trade->currency, "") && isinf (trade->notional));
    CHECK (strlen (trade->trade_id) == PROTO_SAMPLES_LONG);

    CHECK (zshm_pub_send_proto (pub, "x", &samples->telemetry.base) == 0);
    Zshm__Telemetry__Telemetry *telemetry = (Zshm__Telemetry__Telemetry *)
        zshm_sub_recv_proto (sub, &zshm__telemetry__telemetry__descriptor, NULL);
    CHECK (telemetry);
    CHECK (telemetry->scan && telemetry->scan->n_ranges == PROTO_SAMPLES_BEAMS);
    CHECK (isinf (telemetry->scan->ranges [0]));
    CHECK (telemetry->scan->ranges [1] == 1.0f / 64.0f);
    CHECK (telemetry->camera_jpeg.len == PROTO_SAMPLES_CAMERA);
    CHECK (memcmp (telemetry->camera_jpeg.data, samples->camera, PROTO_SAMPLES_CAMERA) == 0);
    CHECK (telemetry->n_counters == 5 && telemetry->counters [0] == INT64_MIN
           && telemetry->counters [4] == INT64_MAX);
    CHECK (telemetry->status_case == ZSHM__TELEMETRY__TELEMETRY__STATUS_WARNINGS
           && telemetry->warnings == 3);
    CHECK (telemetry->n_joint_names == PROTO_SAMPLES_JOINTS
           && streq (telemetry->joint_names [11], "joint_11"));
    CHECK (telemetry->pose && telemetry->pose->orientation
           && telemetry->pose->orientation->w == 0.7071067811865476);
    CHECK (telemetry->joint_efforts [0] == DBL_MIN);

    CHECK (zshm_pub_send_proto (pub, "x", &samples->telemetry_fault.base) == 0);
    telemetry = (Zshm__Telemetry__Telemetry *)
        zshm_sub_recv_proto (sub, &zshm__telemetry__telemetry__descriptor, NULL);
    CHECK (telemetry);
    CHECK (telemetry->camera_jpeg.len == 0);
    CHECK (telemetry->n_joint_names == 0 && telemetry->scan == NULL);
    CHECK (telemetry->status_case == ZSHM__TELEMETRY__TELEMETRY__STATUS_FAULT
           && streq (telemetry->fault, "motor 3 overcurrent"));

    //  An empty message is an empty payload frame, and still typed.
    CHECK (protobuf_c_message_get_packed_size (&samples->telemetry_empty.base) == 0);
    CHECK (zshm_pub_send_proto (pub, "empty", &samples->telemetry_empty.base) == 0);
    const char *topic = NULL;
    telemetry = (Zshm__Telemetry__Telemetry *)
        zshm_sub_recv_proto (sub, &zshm__telemetry__telemetry__descriptor, &topic);
    CHECK (telemetry && streq (topic, "empty"));
    CHECK (telemetry->pose == NULL && telemetry->sequence == 0 && streq (telemetry->robot_id, ""));
    CHECK (zshm_sub_proto_errors (sub) == 0);
}

static void
s_test_wrong_type (zshm_pub_t *pub, zshm_sub_t *sub, proto_samples_t *samples)
{
    uint64_t errors = zshm_sub_proto_errors (sub);
    //  A Tick is not a Quote, though its bytes would parse as one.
    CHECK (zshm_pub_send_proto (pub, "t", &samples->tick.base) == 0);
    const char *topic = "unchanged";
    errno = 0;
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__quote__descriptor, &topic) == NULL);
    CHECK (errno == EPROTO);
    CHECK (streq (topic, "unchanged"));
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    //  The message is still there to dispatch on.
    CHECK (streq (zshm_sub_type (sub), "zshm.market.Tick"));
    Zshm__Market__Tick *tick = (Zshm__Market__Tick *)
        zshm_sub_decode_proto (sub, &zshm__market__tick__descriptor, &topic);
    CHECK (tick && streq (tick->symbol, "AAPL") && streq (topic, "t"));

    //  A type name that merely starts like the right one.
    size_t size = 0;
    uint8_t *packed = proto_samples_pack (&samples->tick.base, &size);
    CHECK (packed);
    s_send_raw (pub, "t", packed, size, "zshm.market.TickX");
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    s_send_raw (pub, "t", packed, size, "zshm.market");
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);

    //  No type name at all (a raw publisher): refused unless allowed.
    CHECK (zshm_pub_send (pub, "t", packed, size) == 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    CHECK (zshm_sub_set_proto_untyped (sub, true) == 0);
    CHECK (zshm_pub_send (pub, "t", packed, size) == 0);
    tick = (Zshm__Market__Tick *) zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
    CHECK (tick && proto_samples_equal (&tick->base, &samples->tick.base));
    //  ...but another type's name is refused even then.
    CHECK (zshm_pub_send_proto (pub, "t", &samples->tick.base) == 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__quote__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    CHECK (zshm_sub_set_proto_untyped (sub, false) == 0);

    //  One frame, or three: not [topic][payload].
    const void *frames [3] = { "t", packed, packed };
    size_t sizes [3] = { 1, size, size };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 1) == 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EPROTO);
    CHECK (zshm_sub_proto_errors (sub) == ++errors);
    free (packed);

    //  After all that, a good message still comes through.
    CHECK (zshm_pub_send_proto (pub, "t", &samples->quote.base) == 0);
    ProtobufCMessage *got = zshm_sub_recv_proto (sub, &zshm__market__quote__descriptor, NULL);
    CHECK (got && proto_samples_equal (got, &samples->quote.base));
    CHECK (zshm_sub_proto_errors (sub) == errors);
}

//  Publish `size` bytes as a payload of `descriptor`'s type; true if the
//  subscriber unpacked it, false if it failed with EPROTO (anything else
//  fails the test).
static bool
s_try_payload (zshm_pub_t *pub, zshm_sub_t *sub, const ProtobufCMessageDescriptor *descriptor,
               const uint8_t *data, size_t size)
{
    s_send_raw (pub, "g", data, size, descriptor->name);
    errno = 0;
    ProtobufCMessage *msg = zshm_sub_recv_proto (sub, descriptor, NULL);
    if (msg) {
        CHECK (msg->descriptor == descriptor);
        //  What parsed must pack again (protobuf-c validates as it packs
        //  nothing, but walking the message touches every pointer in it).
        size_t packed = protobuf_c_message_get_packed_size (msg);
        CHECK (packed <= 16 * size + 16);
        return true;
    }
    CHECKF (errno == EPROTO, "unpack of %zu bytes failed with errno %d", size, errno);
    return false;
}

static void
s_test_garbage (zshm_pub_t *pub, zshm_sub_t *sub, proto_samples_t *samples)
{
    uint64_t errors = zshm_sub_proto_errors (sub);
    uint64_t failures = 0;

    //  Bytes that can never parse.
    static const uint8_t bad_tag [] = { 0x0F, 0x00 };                  //  wire type 7
    static const uint8_t bad_varint [] = { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                           0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 };
    static const uint8_t overlong [] = { 0x0A, 0x10, 'A', 'A' };        //  length past end
    static const uint8_t huge_length [] = { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F };
    static const uint8_t zero_tag [] = { 0x00, 0x00 };                 //  field number 0
    static const uint8_t all_ones [] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    const struct { const uint8_t *data; size_t size; } never [] = {
        { bad_tag, sizeof bad_tag }, { bad_varint, sizeof bad_varint },
        { overlong, sizeof overlong }, { huge_length, sizeof huge_length },
        { zero_tag, sizeof zero_tag }, { all_ones, sizeof all_ones },
    };
    const ProtobufCMessageDescriptor *descriptors [] = {
        &zshm__market__tick__descriptor, &zshm__market__quote__descriptor,
        &zshm__market__trade__descriptor, &zshm__telemetry__telemetry__descriptor,
        &zshm__meta__descriptor
    };
    for (size_t index = 0; index < sizeof never / sizeof never [0]; index++)
        for (size_t type = 0; type < sizeof descriptors / sizeof descriptors [0]; type++) {
            CHECKF (!s_try_payload (pub, sub, descriptors [type], never [index].data,
                                    never [index].size),
                    "garbage %zu parsed as %s", index, descriptors [type]->name);
            failures++;
        }
    CHECK (zshm_sub_proto_errors (sub) == errors + failures);

    //  Every truncation of the telemetry sample's first 2 KiB, and a spread
    //  of cuts through the rest: each fails cleanly or is a shorter valid
    //  message.  Cuts inside the 4 KiB scan or the 64 KiB camera field
    //  must fail.
    size_t size = 0;
    uint8_t *packed = proto_samples_pack (&samples->telemetry.base, &size);
    CHECK (packed && size > 70000);
    uint64_t parsed = 0, cuts = 0, inside_failed = 0;
    for (size_t cut = 0; cut < size; cut += cut < 2048 ? 1 : 997) {
        //  Copy into an exact-size buffer so ASan sees any read past it.
        uint8_t *copy = (uint8_t *) malloc (cut ? cut : 1);
        CHECK (copy);
        memcpy (copy, packed, cut);
        if (s_try_payload (pub, sub, &zshm__telemetry__telemetry__descriptor, copy, cut))
            parsed++;
        else {
            failures++;
            if (cut > size - PROTO_SAMPLES_CAMERA + 16 && cut < size - 64)
                inside_failed++;
        }
        cuts++;
        free (copy);
    }
    CHECK (zshm_sub_proto_errors (sub) == errors + failures);
    CHECK (cuts - parsed > cuts / 2);
    CHECK (inside_failed > 0);
    free (packed);

    //  Random bytes, and a valid message with random bytes flipped.
    uint8_t noise [512];
    for (int round = 0; round < 400; round++) {
        size_t noise_size = (size_t) (round * 37) % sizeof noise;
        proto_samples_fill (noise, noise_size, (uint64_t) round + 1);
        if (!s_try_payload (pub, sub, descriptors [round % 5], noise, noise_size))
            failures++;
    }
    packed = proto_samples_pack (&samples->trade.base, &size);
    CHECK (packed);
    for (int round = 0; round < 400; round++) {
        uint8_t *copy = (uint8_t *) malloc (size);
        CHECK (copy);
        memcpy (copy, packed, size);
        uint8_t where [2];
        proto_samples_fill (where, 2, (uint64_t) round + 1000);
        copy [where [0] % size] ^= (uint8_t) (where [1] | 1);
        if (!s_try_payload (pub, sub, &zshm__market__trade__descriptor, copy, size))
            failures++;
        free (copy);
    }
    free (packed);
    CHECK (zshm_sub_proto_errors (sub) == errors + failures);
    printf ("test_proto: %" PRIu64 " bad payloads refused, %" PRIu64 " truncations parsed\n",
            failures, parsed);
}

static void
s_test_too_large (proto_samples_t *samples)
{
    char name [96], endpoint [160];
    snprintf (name, sizeof name, "%s.small", s_channel);
    snprintf (endpoint, sizeof endpoint, "shm://%s?maxmsg=4096&capacity=64", name);
    zshm_ring_unlink (name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", name);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 5000);

    errno = 0;
    CHECK (zshm_pub_send_proto (pub, "big", &samples->telemetry.base) == -1);
    CHECK (errno == EMSGSIZE);
    //  The failed send left nothing half-done.
    CHECK (zshm_pub_send_proto (pub, "small", &samples->tick.base) == 0);
    const char *topic = NULL;
    ProtobufCMessage *got = zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, &topic);
    CHECK (got && streq (topic, "small") && proto_samples_equal (got, &samples->tick.base));
    zshm_sub_set_rcvtimeo (sub, 0);
    CHECK (zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL) == NULL);
    CHECK (errno == EAGAIN);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
}

//  Two subscribers decode the same message into their own arenas; a result
//  survives other subscribers' receives, and a subscriber's next receive
//  reuses its arena.
static void
s_test_lifetimes (zshm_pub_t *pub, zshm_sub_t *sub, proto_samples_t *samples)
{
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", s_channel);
    zshm_sub_t *other = zshm_sub_new (endpoint, "lifetime");
    CHECK (other);
    zshm_sub_set_rcvtimeo (other, 5000);

    CHECK (zshm_pub_send_proto (pub, "lifetime.a", &samples->trade.base) == 0);
    CHECK (zshm_pub_send_proto (pub, "lifetime.b", &samples->quote.base) == 0);
    const char *topic_a = NULL, *topic_b = NULL;
    ProtobufCMessage *mine = zshm_sub_recv_proto (sub, &zshm__market__trade__descriptor, &topic_a);
    ProtobufCMessage *theirs = zshm_sub_recv_proto (other, &zshm__market__trade__descriptor,
                                                    &topic_b);
    CHECK (mine && theirs && mine != theirs);
    CHECK (streq (topic_a, "lifetime.a") && streq (topic_b, "lifetime.a"));
    //  `mine` is still intact after `other` received.
    CHECK (proto_samples_equal (mine, &samples->trade.base));
    CHECK (proto_samples_equal (theirs, &samples->trade.base));
    //  The next receive reuses the arena from its start: the same call
    //  shape puts the message at the same address.
    ProtobufCMessage *next = zshm_sub_recv_proto (sub, &zshm__market__quote__descriptor, &topic_a);
    CHECK (next && proto_samples_equal (next, &samples->quote.base));
    CHECK (zshm_pub_send_proto (pub, "lifetime.c", &samples->trade.base) == 0);
    next = zshm_sub_recv_proto (sub, &zshm__market__trade__descriptor, &topic_a);
    CHECK (next && (void *) next == (void *) mine && streq (topic_a, "lifetime.c"));
    zshm_sub_destroy (&other);
}

//  Over tcp:// the ZeroMQ wire carries [topic][payload] and no type name:
//  such messages are refused unless the subscriber accepts untyped ones,
//  and then they decode like any other.
static void
s_test_tcp (proto_samples_t *samples)
{
    zshm_pub_t *pub = zshm_pub_new ("tcp://127.0.0.1:*");
    CHECK (pub && zshm_pub_sock (pub));
    const char *endpoint = zsock_endpoint (zshm_pub_sock (pub));
    CHECK (endpoint);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "tcp.");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 100);

    //  ZeroMQ's slow joiner: publish until the subscription has arrived.
    ProtobufCMessage *got = NULL;
    int attempts = 0;
    while (attempts++ < 100) {
        CHECK (zshm_pub_send_proto (pub, "tcp.tick", &samples->tick.base) == 0);
        got = zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
        if (got || errno != EAGAIN)
            break;
    }
    CHECKF (attempts <= 100, "nothing arrived over tcp");
    if (!got) {
        CHECK (errno == EPROTO);
        CHECK (streq (zshm_sub_type (sub), ""));
        CHECK (zshm_sub_proto_errors (sub) == 1);
        CHECK (zshm_sub_set_proto_untyped (sub, true) == 0);
        CHECK (zshm_pub_send_proto (pub, "tcp.tick", &samples->tick.base) == 0);
        zshm_sub_set_rcvtimeo (sub, 5000);
        //  Ticks sent while the subscription was settling may be queued.
        got = zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
    }
    CHECK (got && proto_samples_equal (got, &samples->tick.base));
    //  Drop Ticks still queued from the settling loop: untyped, they would
    //  decode as anything.
    zshm_sub_set_rcvtimeo (sub, 200);
    while (zshm_sub_recv (sub) > 0)
        ;
    CHECK (errno == EAGAIN);
    //  A big message crosses tcp whole.
    CHECK (zshm_pub_send_proto (pub, "tcp.telemetry", &samples->telemetry.base) == 0);
    zshm_sub_set_rcvtimeo (sub, 5000);
    const char *topic = NULL;
    got = zshm_sub_recv_proto (sub, &zshm__telemetry__telemetry__descriptor, &topic);
    CHECK (got && streq (topic, "tcp.telemetry"));
    CHECK (proto_samples_equal (got, &samples->telemetry.base));
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
}

int
main (void)
{
    snprintf (s_channel, sizeof s_channel, "test_proto.%d", (int) getpid ());
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=1024&capacity=1024", s_channel);
    zshm_ring_unlink (s_channel);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", s_channel);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 5000);

    proto_samples_t *samples = (proto_samples_t *) malloc (sizeof (proto_samples_t));
    CHECK (samples);
    proto_samples_init (samples);
    CHECK (samples->count >= 12);
    //  The big sample really does span many slots.
    CHECK (protobuf_c_message_get_packed_size (&samples->telemetry.base) > 64 * 1024);

    s_test_round_trips (pub, sub, samples);
    s_test_extremes (pub, sub, samples);
    s_test_wrong_type (pub, sub, samples);
    s_test_garbage (pub, sub, samples);
    s_test_lifetimes (pub, sub, samples);
    s_test_too_large (samples);
    s_test_tcp (samples);

    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (s_channel) == 0);
    printf ("test_proto: %zu samples round-tripped, all checks passed\n", samples->count);
    free (samples);
    return TU_PASS;
}
