/*  =========================================================================
    test_pubsub - zshm_pub and zshm_sub in one process: ZeroMQ semantics on
    shm (topics, binary and empty topics, empty frames, multipart all or
    nothing, big fragmented messages, unsubscribe, maxmsg), receiving
    (rcvtimeo, replay, idle strategies), streaming send, zmsg, the tcp://
    fallback against plain CZMQ sockets, a subscriber made before its
    publisher, and hostile segment contents.

    Usage: test_pubsub [-v]     TU_SEED replays the random parts.
    =========================================================================
*/

#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "zshm_record.h"

static bool s_verbose = false;
static tu_rng_t s_rng;

#define SAY(...) do { if (s_verbose) printf (__VA_ARGS__); } while (0)

//  An endpoint for channel `name` with options (may be "").
static char *
s_endpoint (char *buf, size_t size, const char *name, const char *options)
{
    snprintf (buf, size, "shm://%s%s%s", name, *options ? "?" : "", options);
    return buf;
}

//  Receive with the subscriber's rcvtimeo and check the frame count.
static void
s_expect_frames (zshm_sub_t *sub, int frames)
{
    int rc = zshm_sub_recv (sub);
    CHECKF (rc == frames, "recv gave %d, expected %d frames", rc, frames);
    CHECK (zshm_sub_frames (sub) == (size_t) frames);
}

//  Frame `index` of the last message equals (data, size).
static void
s_expect_frame (zshm_sub_t *sub, size_t index, const void *data, size_t size)
{
    size_t got = 0;
    const void *frame = zshm_sub_frame (sub, index, &got);
    CHECKF (frame, "frame %zu missing", index);
    CHECKF (got == size, "frame %zu has %zu bytes, expected %zu", index, got, size);
    CHECKF (size == 0 || memcmp (frame, data, size) == 0, "frame %zu differs", index);
}

//  Receive [topic][data] with the topic a string.
static void
s_expect (zshm_sub_t *sub, const char *topic, const char *data)
{
    s_expect_frames (sub, 2);
    s_expect_frame (sub, 0, topic, strlen (topic));
    s_expect_frame (sub, 1, data, strlen (data));
}

static void
s_expect_nothing (zshm_sub_t *sub)
{
    int saved = zshm_sub_rcvtimeo (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    errno = 0;
    int rc = zshm_sub_recv (sub);
    CHECKF (rc == -1 && errno == EAGAIN, "expected nothing, got %d", rc);
    zshm_sub_set_rcvtimeo (sub, saved);
}

//  --------------------------------------------------------------------------
//  Topics, filters, frames

static void
s_test_topics (void)
{
    SAY ("  topics and filters\n");
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "topics");
    zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name,
                                                "capacity=256&slot=128"));
    CHECK (pub);
    zshm_sub_t *all = zshm_sub_new (endpoint, "");
    zshm_sub_t *fruit = zshm_sub_new (endpoint, "apple");
    zshm_sub_t *none = zshm_sub_new (endpoint, NULL);
    zshm_sub_t *binary = zshm_sub_new (endpoint, NULL);
    CHECK (all && fruit && none && binary);
    CHECK (zshm_sub_subscribe (fruit, "banana") == 0);
    //  A binary prefix with a NUL inside: must not match as "bin"
    const char bin_prefix [] = { 'b', 'i', 'n', 0, 1 };
    CHECK (zshm_sub_subscribe_bytes (binary, bin_prefix, sizeof bin_prefix) == 0);
    zshm_sub_set_rcvtimeo (all, 1000);
    zshm_sub_set_rcvtimeo (fruit, 1000);
    zshm_sub_set_rcvtimeo (binary, 1000);
    //  Attach all before anything is sent (they start at the oldest of a
    //  channel created after them anyway; this is the plain case)
    s_expect_nothing (all);
    s_expect_nothing (fruit);
    s_expect_nothing (none);
    s_expect_nothing (binary);

    CHECK (zshm_pub_send (pub, "apple.red", "1", 1) == 0);
    CHECK (zshm_pub_send (pub, "appl", "2", 1) == 0);           //  shorter than prefix
    CHECK (zshm_pub_send (pub, "banana", "3", 1) == 0);
    CHECK (zshm_pub_send (pub, "cherry", "4", 1) == 0);
    CHECK (zshm_pub_send (pub, "", "5", 1) == 0);               //  empty topic
    const char bin_topic [] = { 'b', 'i', 'n', 0, 1, 2, 0 };
    const char bin_other [] = { 'b', 'i', 'n', 0, 2 };
    const void *frames [3] = { bin_topic, "", "tail" };
    size_t sizes [3] = { sizeof bin_topic, 0, 4 };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);  //  empty middle frame
    frames [0] = bin_other;
    sizes [0] = sizeof bin_other;
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
    const void *one [1] = { "alone" };
    size_t one_size [1] = { 5 };
    CHECK (zshm_pub_send_frames (pub, one, one_size, 1) == 0);  //  topic only

    s_expect (all, "apple.red", "1");
    s_expect (all, "appl", "2");
    s_expect (all, "banana", "3");
    s_expect (all, "cherry", "4");
    s_expect (all, "", "5");
    s_expect_frames (all, 3);
    s_expect_frame (all, 0, bin_topic, sizeof bin_topic);
    s_expect_frame (all, 1, "", 0);
    s_expect_frame (all, 2, "tail", 4);
    s_expect_frames (all, 3);
    s_expect_frame (all, 0, bin_other, sizeof bin_other);
    s_expect_frames (all, 1);
    s_expect_frame (all, 0, "alone", 5);
    s_expect_nothing (all);

    s_expect (fruit, "apple.red", "1");
    s_expect (fruit, "banana", "3");
    s_expect_nothing (fruit);

    s_expect_frames (binary, 3);
    s_expect_frame (binary, 0, bin_topic, sizeof bin_topic);
    s_expect_frame (binary, 1, "", 0);
    s_expect_nothing (binary);

    s_expect_nothing (none);
    CHECK (zshm_sub_lost (all) == 0 && zshm_sub_lost (fruit) == 0);

    //  Unsubscribe, counted like ZMQ_SUBSCRIBE
    CHECK (zshm_sub_subscribe (fruit, "apple") == 0);           //  twice now
    CHECK (zshm_sub_unsubscribe (fruit, "apple") == 0);
    CHECK (zshm_pub_send (pub, "apple", "6", 1) == 0);
    s_expect (fruit, "apple", "6");
    CHECK (zshm_sub_unsubscribe (fruit, "apple") == 0);
    CHECK (zshm_sub_unsubscribe (fruit, "unknown") == 0);       //  ignored, as zmq
    CHECK (zshm_pub_send (pub, "apple", "7", 1) == 0);
    CHECK (zshm_pub_send (pub, "banana", "8", 1) == 0);
    s_expect (fruit, "banana", "8");
    CHECK (zshm_sub_unsubscribe (fruit, "banana") == 0);
    CHECK (zshm_pub_send (pub, "banana", "9", 1) == 0);
    s_expect_nothing (fruit);
    //  Subscribing to everything later
    CHECK (zshm_sub_subscribe (none, "") == 0);
    CHECK (zshm_pub_send (pub, "late", "10", 2) == 0);
    s_expect (none, "late", "10");

    zshm_sub_destroy (&all);
    zshm_sub_destroy (&fruit);
    zshm_sub_destroy (&none);
    zshm_sub_destroy (&binary);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  Big messages, multipart all or nothing, maxmsg

static void
s_test_big (void)
{
    SAY ("  300 KiB over 1 KiB slots, multipart, maxmsg\n");
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "big");
    zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name,
                                                "capacity=1024&slot=1024"));
    CHECK (pub);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "big");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 1000);
    s_expect_nothing (sub);

    size_t big_size = 300 * 1024;
    unsigned char *big = (unsigned char *) malloc (big_size);
    CHECK (big);
    tu_msg_fill (big, 42, big_size);
    uint64_t head = zshm_ring_head (zshm_pub_ring (pub));
    CHECK (zshm_pub_send (pub, "big", big, big_size) == 0);
    //  It took ceil (body / 1008) consecutive slots
    size_t body = 8 + 4 + 3 + 4 + big_size;
    CHECK (zshm_ring_head (zshm_pub_ring (pub)) - head == (body + 1007) / 1008);
    CHECK (zshm_pub_seq (pub) == head);
    s_expect_frames (sub, 2);
    size_t size;
    const void *data = zshm_sub_frame (sub, 1, &size);
    CHECK (size == big_size && tu_msg_verify (data, size, 42, big_size) == TU_MSG_OK);
    CHECK (zshm_sub_seq (sub) == head);

    //  Multipart, many frames, spanning slots, with empty ones
    const void *frames [6] = { "big.multi", "", big, "", big + 5000, "x" };
    size_t sizes [6] = { 9, 0, 3000, 0, 2500, 1 };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 6) == 0);
    s_expect_frames (sub, 6);
    for (size_t index = 0; index < 6; index++)
        s_expect_frame (sub, index, frames [index], sizes [index]);

    //  All or nothing: a streamed message is invisible until its end ...
    CHECK (zshm_pub_send_begin (pub, "big.stream", 10, 5000, NULL) == 0);
    CHECK (zshm_pub_send_write (pub, big, 4000) == 0);          //  3 slots committed
    s_expect_nothing (sub);                                     //  partial: not delivered
    CHECK (zshm_pub_send_write (pub, big + 4000, 1000) == 0);
    s_expect_nothing (sub);
    CHECK (zshm_pub_send_end (pub) == 0);
    s_expect_frames (sub, 2);
    s_expect_frame (sub, 1, big, 5000);
    CHECK (zshm_sub_lost (sub) == 0);
    //  ... and an abandoned one is never delivered, and counted
    CHECK (zshm_pub_send_begin (pub, "big.stream", 10, 5000, NULL) == 0);
    CHECK (zshm_pub_send_write (pub, big, 4000) == 0);
    s_expect_nothing (sub);
    CHECK (zshm_pub_send_end (pub) == -1 && errno == EINVAL);
    CHECK (zshm_pub_send (pub, "big.after", "ok", 2) == 0);
    s_expect (sub, "big.after", "ok");
    CHECK (zshm_sub_lost (sub) == 1 && zshm_sub_dropped (sub) == 1);

    //  maxmsg: the publisher refuses, a subscriber with a smaller one drops
    zshm_pub_t *small = NULL;
    char name2 [64], endpoint2 [256];
    tu_channel (name2, sizeof name2, "maxmsg");
    small = zshm_pub_new (s_endpoint (endpoint2, sizeof endpoint2, name2,
                                      "capacity=64&slot=256&maxmsg=2000"));
    CHECK (small && zshm_pub_maxmsg (small) == 2000);
    snprintf (endpoint, sizeof endpoint, "shm://%s?maxmsg=1000", name2);
    zshm_sub_t *picky = zshm_sub_new (endpoint, "");
    CHECK (picky);
    zshm_sub_set_rcvtimeo (picky, 1000);
    s_expect_nothing (picky);
    //  body = 8 + 4 + 1 + 4 + n
    errno = 0;
    CHECK (zshm_pub_send (small, "t", big, 1984) == -1 && errno == EMSGSIZE);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "t");
    zmsg_addmem (msg, big, 1984);
    CHECK (zshm_pub_send_msg (small, &msg) == -1 && errno == EMSGSIZE && msg == NULL);
    CHECK (zshm_pub_send_begin (small, "t", 1, 1984, NULL) == -1 && errno == EMSGSIZE);
    CHECK (zshm_pub_send (small, "t", big, 1983) == 0);         //  2000: fits the pub
    CHECK (zshm_pub_send (small, "t", big, 983) == 0);          //  1000: fits both
    s_expect_frames (picky, 2);
    s_expect_frame (picky, 1, big, 983);
    CHECK (zshm_sub_dropped (picky) == 1 && zshm_sub_lost (picky) == 1);
    zshm_sub_destroy (&picky);
    zshm_pub_destroy (&small);
    CHECK (zshm_ring_unlink (name2) == 0);

    free (big);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  A reader lapped in the middle of a message drops it whole, counts it,
//  and delivers the next one intact.  One thread: the laps are exact.
static void
s_test_lapped (void)
{
    SAY ("  lapped in mid-message\n");
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "lapped");
    //  48 body bytes per slot, 16 slots
    zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name,
                                                "capacity=16&slot=64"));
    CHECK (pub);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    s_expect_nothing (sub);
    unsigned char payload [2000];
    tu_msg_fill (payload, 7, sizeof payload);
    CHECK (zshm_pub_send_begin (pub, "m", 1, sizeof payload, NULL) == 0);
    CHECK (zshm_pub_send_write (pub, payload, 300) == 0);       //  6 slots out
    s_expect_nothing (sub);                                     //  reassembling
    CHECK (zshm_pub_send_write (pub, payload + 300, sizeof payload - 300) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);                       //  laps the reader
    s_expect_nothing (sub);
    CHECK (zshm_sub_dropped (sub) == 1);
    CHECK (zshm_sub_lost (sub) > 1);
    //  The next message arrives whole
    uint64_t lost = zshm_sub_lost (sub);
    CHECK (zshm_pub_send (pub, "next", payload, 200) == 0);
    s_expect_frames (sub, 2);
    s_expect_frame (sub, 1, payload, 200);
    CHECK (zshm_sub_lost (sub) == lost);
    //  A late reader that starts in the middle of a message ignores the
    //  orphan fragments without counting them
    CHECK (zshm_pub_send_begin (pub, "m", 1, 400, NULL) == 0);
    CHECK (zshm_pub_send_write (pub, payload, 200) == 0);
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zshm_sub_t *late = zshm_sub_new (endpoint, "");
    CHECK (late);
    zshm_sub_set_rcvtimeo (late, 0);
    s_expect_nothing (late);                                    //  attached at latest
    CHECK (zshm_pub_send_write (pub, payload + 200, 200) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
    s_expect_nothing (late);
    CHECK (zshm_pub_send (pub, "whole", "w", 1) == 0);
    s_expect (late, "whole", "w");
    CHECK (zshm_sub_lost (late) == 0);
    s_expect_frames (sub, 2);                                   //  the first got both
    s_expect_frame (sub, 1, payload, 400);
    s_expect (sub, "whole", "w");
    zshm_sub_destroy (&late);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  Receiving: rcvtimeo, replay, streaming, zmsg

typedef struct {
    zshm_pub_t *pub;            //  publisher to send on
    int delay_ms;               //  wait this long first
    int count;                  //  then send this many
} s_sender_t;

static void *
s_sender (void *arg)
{
    s_sender_t *sender = (s_sender_t *) arg;
    tu_sleep_ns ((int64_t) sender->delay_ms * 1000000);
    for (int index = 0; index < sender->count; index++) {
        char text [16];
        snprintf (text, sizeof text, "%d", index);
        CHECK (zshm_pub_send (sender->pub, "late", text, strlen (text)) == 0);
    }
    return NULL;
}

static void
s_test_receiving (void)
{
    SAY ("  rcvtimeo, replay, streaming, zmsg\n");
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "recv");
    zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name,
                                                "capacity=64&slot=96"));
    CHECK (pub);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub && zshm_sub_rcvtimeo (sub) == -1);

    //  0: poll
    zshm_sub_set_rcvtimeo (sub, 0);
    int64_t start = tu_now_ns ();
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    //  N: wait about N ms, never less
    zshm_sub_set_rcvtimeo (sub, 50);
    start = tu_now_ns ();
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    CHECKF (tu_now_ns () - start >= 49 * 1000000LL, "returned after %lld ns",
            (long long) (tu_now_ns () - start));
    CHECK (zshm_sub_recv_msg (sub) == NULL && errno == EAGAIN);
    //  -1: for ever, until a thread publishes
    zshm_sub_set_rcvtimeo (sub, -1);
    s_sender_t sender = { pub, 50, 1 };
    pthread_t thread;
    CHECK (pthread_create (&thread, NULL, s_sender, &sender) == 0);
    s_expect (sub, "late", "0");
    pthread_join (thread, NULL);
    //  N with a message arriving inside it
    zshm_sub_set_rcvtimeo (sub, 5000);
    sender.count = 3;
    CHECK (pthread_create (&thread, NULL, s_sender, &sender) == 0);
    s_expect (sub, "late", "0");
    s_expect (sub, "late", "1");
    s_expect (sub, "late", "2");
    pthread_join (thread, NULL);

    //  Streaming, typed, and zmsg
    const char *text = "a payload written in pieces";
    size_t length = strlen (text);
    CHECK (zshm_pub_send_begin (pub, "stream", 6, length, "zshm.test.Text") == 0);
    for (size_t offset = 0; offset < length; offset += 5)
        CHECK (zshm_pub_send_write (pub, text + offset, length - offset < 5 ? length - offset : 5) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
    zmsg_t *msg = zshm_sub_recv_msg (sub);
    CHECK (msg && zmsg_size (msg) == 2);
    char *topic = zmsg_popstr (msg);
    char *body = zmsg_popstr (msg);
    CHECK (streq (topic, "stream") && streq (body, text));
    CHECK (streq (zshm_sub_type (sub), "zshm.test.Text"));
    zstr_free (&topic);
    zstr_free (&body);
    zmsg_destroy (&msg);
    char type [64];
    CHECK (zshm_ring_type (zshm_pub_ring (pub), type, sizeof type) > 0
           && streq (type, "zshm.test.Text"));
    //  A zero-length stream
    CHECK (zshm_pub_send_begin (pub, "empty", 5, 0, "zshm.test.Empty") == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
    s_expect (sub, "empty", "");
    CHECK (streq (zshm_sub_type (sub), "zshm.test.Empty"));
    //  Untyped messages have no type
    msg = zmsg_new ();
    zmsg_addstr (msg, "zmsg");
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "three");
    CHECK (zshm_pub_send_msg (pub, &msg) == 0 && msg == NULL);
    msg = zshm_sub_recv_msg (sub);
    CHECK (msg && zmsg_size (msg) == 3);
    CHECK (zframe_size (zmsg_first (msg)) == 4 && zframe_size (zmsg_next (msg)) == 0);
    CHECK (zframe_streq (zmsg_next (msg), "three"));
    CHECK (streq (zshm_sub_type (sub), ""));
    zmsg_destroy (&msg);

    //  Replay: a new subscriber with from=oldest sees what the ring holds
    int held = 1 + 3 + 1 + 1 + 1;
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", name);
    zshm_sub_t *replay = zshm_sub_new (endpoint, "late");
    CHECK (replay);
    zshm_sub_set_rcvtimeo (replay, 0);
    s_expect (replay, "late", "0");
    s_expect (replay, "late", "0");
    s_expect (replay, "late", "1");
    s_expect (replay, "late", "2");
    s_expect_nothing (replay);
    //  and so does seek_oldest on an existing one
    CHECK (zshm_sub_seek_oldest (sub) == 0);
    zshm_sub_set_rcvtimeo (sub, 0);
    int count = 0;
    while (zshm_sub_recv (sub) > 0)
        count++;
    CHECK (errno == EAGAIN && count == held);
    //  ...while a default one starts at the next message
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zshm_sub_t *latest = zshm_sub_new (endpoint, "");
    zshm_sub_set_rcvtimeo (latest, 0);
    s_expect_nothing (latest);
    CHECK (zshm_pub_send (pub, "new", "n", 1) == 0);
    s_expect (latest, "new", "n");
    zshm_sub_destroy (&latest);
    zshm_sub_destroy (&replay);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  Idle strategies: each delivers everything when the reader keeps up

#define IDLE_MESSAGES 20000

typedef struct {
    zshm_sub_t *sub;            //  the subscriber, made by the main thread
    int received;               //  messages received in order
    _Atomic int ready;          //  the thread is about to receive
} s_idle_args_t;

static void *
s_idle_reader (void *arg)
{
    s_idle_args_t *args = (s_idle_args_t *) arg;
    atomic_store (&args->ready, 1);
    for (uint64_t expected = 1; expected <= IDLE_MESSAGES; expected++) {
        s_expect_frames (args->sub, 2);
        size_t size;
        const void *data = zshm_sub_frame (args->sub, 1, &size);
        uint64_t value;
        CHECK (size == sizeof value);
        memcpy (&value, data, sizeof value);
        CHECKF (value == expected, "got %llu, expected %llu", (unsigned long long) value,
                (unsigned long long) expected);
        args->received++;
    }
    return NULL;
}

static void
s_test_idle (void)
{
    for (int idle = ZSHM_IDLE_SPIN; idle <= ZSHM_IDLE_BLOCK; idle++) {
        SAY ("  idle=%s\n", zshm_idle_name ((zshm_idle_t) idle));
        char name [64], endpoint [256], options [64];
        tu_channel (name, sizeof name, "idle");
        //  A ring longer than the whole run: the reader always keeps up
        zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name,
                                                    "capacity=32768&slot=64"));
        CHECK (pub);
        snprintf (options, sizeof options, "idle=%s", zshm_idle_name ((zshm_idle_t) idle));
        zshm_sub_t *sub = zshm_sub_new (s_endpoint (endpoint, sizeof endpoint, name, options),
                                        "n");
        CHECK (sub);
        //  Attach now, at the latest message (none yet)
        zshm_sub_set_rcvtimeo (sub, 0);
        s_expect_nothing (sub);
        zshm_sub_set_rcvtimeo (sub, 10000);
        //  set_idle overrides the endpoint's option: set it back
        zshm_sub_set_idle (sub, ZSHM_IDLE_SPIN);
        zshm_sub_set_idle (sub, (zshm_idle_t) idle);
        s_idle_args_t args = { sub, 0, 0 };
        pthread_t thread;
        CHECK (pthread_create (&thread, NULL, s_idle_reader, &args) == 0);
        while (!atomic_load (&args.ready))
            tu_sleep_ns (100000);
        for (uint64_t value = 1; value <= IDLE_MESSAGES; value++) {
            CHECK (zshm_pub_send (pub, "n", &value, sizeof value) == 0);
            if (value % 1000 == 0)
                tu_sleep_ns (2000000);      //  let a sleeping reader sleep
        }
        pthread_join (thread, NULL);
        CHECK (args.received == IDLE_MESSAGES);
        CHECK (zshm_sub_lost (sub) == 0);
        zshm_sub_destroy (&sub);
        zshm_pub_destroy (&pub);
        CHECK (zshm_ring_unlink (name) == 0);
    }
}

//  --------------------------------------------------------------------------
//  A subscriber made before its publisher

typedef struct {
    char endpoint [256];        //  where to publish
    int delay_ms;               //  after this long
    int count;                  //  this many messages
} s_late_pub_t;

static void *
s_late_publisher (void *arg)
{
    s_late_pub_t *late = (s_late_pub_t *) arg;
    tu_sleep_ns ((int64_t) late->delay_ms * 1000000);
    zshm_pub_t *pub = zshm_pub_new (late->endpoint);
    CHECK (pub);
    for (int index = 0; index < late->count; index++)
        CHECK (zshm_pub_send (pub, "early", &index, sizeof index) == 0);
    zshm_pub_destroy (&pub);
    return NULL;
}

static void
s_test_sub_first (void)
{
    SAY ("  subscriber before publisher\n");
    char name [64];
    s_late_pub_t late;
    tu_channel (name, sizeof name, "first");
    s_endpoint (late.endpoint, sizeof late.endpoint, name, "capacity=64&slot=64");
    late.delay_ms = 100;
    late.count = 20;
    char endpoint [256];
    zshm_sub_t *sub = zshm_sub_new (s_endpoint (endpoint, sizeof endpoint, name, ""), "early");
    CHECK (sub);
    CHECK (!zshm_sub_connected (sub));
    zshm_sub_set_rcvtimeo (sub, 10);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    pthread_t thread;
    CHECK (pthread_create (&thread, NULL, s_late_publisher, &late) == 0);
    //  Every message, from the first: the channel is younger than we are
    zshm_sub_set_rcvtimeo (sub, -1);
    for (int index = 0; index < late.count; index++) {
        s_expect_frames (sub, 2);
        s_expect_frame (sub, 1, &index, sizeof index);
    }
    pthread_join (thread, NULL);
    //  The publisher is gone: EPIPE once, then nothing
    CHECK (zshm_sub_recv (sub) == -1 && errno == EPIPE);
    CHECK (!zshm_sub_connected (sub));
    zshm_sub_set_rcvtimeo (sub, 30);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    //  A restart (takeover of the same segment) is picked up
    late.delay_ms = 0;
    late.count = 3;
    CHECK (pthread_create (&thread, NULL, s_late_publisher, &late) == 0);
    zshm_sub_set_rcvtimeo (sub, 5000);
    for (int index = 0; index < late.count; index++) {
        s_expect_frames (sub, 2);
        s_expect_frame (sub, 1, &index, sizeof index);
    }
    pthread_join (thread, NULL);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EPIPE);
    CHECK (zshm_sub_restarts (sub) == 1);
    //  A replaced segment (another layout) too
    s_endpoint (late.endpoint, sizeof late.endpoint, name, "capacity=128&slot=96&replace=1");
    CHECK (pthread_create (&thread, NULL, s_late_publisher, &late) == 0);
    for (int index = 0; index < late.count; index++) {
        s_expect_frames (sub, 2);
        s_expect_frame (sub, 1, &index, sizeof index);
    }
    pthread_join (thread, NULL);
    CHECK (zshm_sub_restarts (sub) == 2);
    CHECK (zshm_sub_lost (sub) == 0);
    zshm_sub_destroy (&sub);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  tcp:// both ways against plain CZMQ sockets

//  Send `probe` until `sub` receives something (the slow joiner), then
//  drain whatever probes are still in flight.
static void
s_join_zsock (zshm_pub_t *pub, zsock_t *sub)
{
    zsock_set_rcvtimeo (sub, 20);
    for (int attempt = 0;; attempt++) {
        CHECKF (attempt < 500, "tcp subscriber never joined");
        CHECK (zshm_pub_send (pub, "probe", "", 0) == 0);
        zmsg_t *msg = zmsg_recv (sub);
        if (msg) {
            zmsg_destroy (&msg);
            break;
        }
    }
    zmsg_t *msg;
    while ((msg = zmsg_recv (sub)))
        zmsg_destroy (&msg);
}

static void
s_test_tcp (void)
{
    SAY ("  tcp:// fallback\n");
    //  zshm_pub on tcp (and shm at once) -> zsock SUB
    char name [64], endpoints [256];
    tu_channel (name, sizeof name, "tcp");
    snprintf (endpoints, sizeof endpoints, "shm://%s?capacity=64&slot=128,tcp://127.0.0.1:*",
              name);
    zshm_pub_t *pub = zshm_pub_new (endpoints);
    CHECK (pub && zshm_pub_sock (pub) && zshm_pub_ring (pub));
    const char *bound = zsock_endpoint (zshm_pub_sock (pub));
    CHECK (bound && strncmp (bound, "tcp://127.0.0.1:", 16) == 0);
    zsock_t *zsub = zsock_new_sub (bound, "probe");
    CHECK (zsub);
    zsock_set_subscribe (zsub, "t");
    char shm_endpoint [256];
    zshm_sub_t *shm_sub = zshm_sub_new (s_endpoint (shm_endpoint, sizeof shm_endpoint, name, ""),
                                        "t");
    CHECK (shm_sub);
    zshm_sub_set_rcvtimeo (shm_sub, 0);
    s_expect_nothing (shm_sub);
    s_join_zsock (pub, zsub);
    zsock_set_rcvtimeo (zsub, 2000);
    zshm_sub_set_rcvtimeo (shm_sub, 2000);

    const void *frames [3] = { "t.multi", "", "last" };
    size_t sizes [3] = { 7, 0, 4 };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
    CHECK (zshm_pub_send (pub, "ignored", "x", 1) == 0);
    CHECK (zshm_pub_send_begin (pub, "t.stream", 8, 5, "zshm.T") == 0);
    CHECK (zshm_pub_send_write (pub, "abcde", 5) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "t.zmsg");
    zmsg_addstr (msg, "z");
    CHECK (zshm_pub_send_msg (pub, &msg) == 0);
    //  The zsock SUB gets exactly what a PUB would have sent
    msg = zmsg_recv (zsub);
    CHECK (msg && zmsg_size (msg) == 3);
    CHECK (zframe_streq (zmsg_first (msg), "t.multi"));
    CHECK (zframe_size (zmsg_next (msg)) == 0);
    CHECK (zframe_streq (zmsg_next (msg), "last"));
    zmsg_destroy (&msg);
    msg = zmsg_recv (zsub);
    CHECK (msg && zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), "t.stream"));
    CHECK (zframe_streq (zmsg_next (msg), "abcde"));
    zmsg_destroy (&msg);
    msg = zmsg_recv (zsub);
    CHECK (msg && zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), "t.zmsg"));
    zmsg_destroy (&msg);
    //  ...and so does the shm subscriber
    s_expect_frames (shm_sub, 3);
    s_expect_frame (shm_sub, 2, "last", 4);
    s_expect (shm_sub, "t.stream", "abcde");
    s_expect (shm_sub, "t.zmsg", "z");
    zshm_sub_destroy (&shm_sub);
    zsock_destroy (&zsub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);

    //  zsock PUB -> zshm_sub on tcp (connecting, and binding with '@')
    zsock_t *zpub = zsock_new_pub ("@tcp://127.0.0.1:*");
    CHECK (zpub);
    char endpoint [256];
    snprintf (endpoint, sizeof endpoint, "%s", zsock_endpoint (zpub));
    zshm_sub_t *sub = zshm_sub_new (endpoint, "probe");
    CHECK (sub && zshm_sub_sock (sub));
    CHECK (zshm_sub_subscribe (sub, "t") == 0);
    const char bin [] = { 'b', 0, 'n' };
    CHECK (zshm_sub_subscribe_bytes (sub, bin, sizeof bin) == 0);
    zshm_sub_set_rcvtimeo (sub, 20);
    for (int attempt = 0;; attempt++) {
        CHECKF (attempt < 500, "zshm tcp subscriber never joined");
        zstr_send (zpub, "probe");
        if (zshm_sub_recv (sub) > 0)
            break;
        CHECK (errno == EAGAIN);
    }
    while (zshm_sub_recv (sub) > 0)
        ;
    CHECK (zshm_sub_connected (sub) && zshm_sub_seq (sub) == 0);
    zshm_sub_set_rcvtimeo (sub, 2000);
    zstr_sendx (zpub, "t.one", "", "3", NULL);
    zstr_sendx (zpub, "other", "x", NULL);
    zsock_send (zpub, "bb", bin, sizeof bin, "bin", (size_t) 3);
    zstr_sendx (zpub, "t.two", "2", NULL);
    s_expect_frames (sub, 3);
    s_expect_frame (sub, 0, "t.one", 5);
    s_expect_frame (sub, 1, "", 0);
    s_expect_frame (sub, 2, "3", 1);
    CHECK (streq (zshm_sub_type (sub), ""));
    s_expect_frames (sub, 2);
    s_expect_frame (sub, 0, bin, sizeof bin);
    msg = zshm_sub_recv_msg (sub);
    CHECK (msg && zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), "t.two"));
    zmsg_destroy (&msg);
    //  Unsubscribe is forwarded
    CHECK (zshm_sub_unsubscribe (sub, "t") == 0);
    zstr_sendx (zpub, "t.gone", "x", NULL);
    zstr_sendx (zpub, "probe", "end", NULL);
    s_expect (sub, "probe", "end");
    CHECK (zshm_sub_seek_oldest (sub) == -1 && errno == ENOTSUP);
    zshm_sub_set_rcvtimeo (sub, 0);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    zshm_sub_destroy (&sub);
    zsock_destroy (&zpub);

    //  A binding zshm_sub and a connecting zsock PUB
    sub = zshm_sub_new ("@tcp://127.0.0.1:*", "");
    CHECK (sub);
    snprintf (endpoint, sizeof endpoint, ">%s", zsock_endpoint (zshm_sub_sock (sub)));
    zpub = zsock_new_pub (endpoint);
    CHECK (zpub);
    zshm_sub_set_rcvtimeo (sub, 20);
    for (int attempt = 0;; attempt++) {
        CHECKF (attempt < 500, "binding subscriber never joined");
        zstr_send (zpub, "hello");
        if (zshm_sub_recv (sub) == 1)
            break;
    }
    s_expect_frame (sub, 0, "hello", 5);
    zshm_sub_destroy (&sub);
    zsock_destroy (&zpub);

    //  Empty frames are frames on tcp too, even in a subscriber's first
    //  message (nothing buffered yet): a pointer, never NULL
    sub = zshm_sub_new ("@tcp://127.0.0.1:*", "");
    CHECK (sub);
    snprintf (endpoint, sizeof endpoint, ">%s", zsock_endpoint (zshm_sub_sock (sub)));
    zpub = zsock_new_pub (endpoint);
    CHECK (zpub);
    zshm_sub_set_rcvtimeo (sub, 20);
    for (int attempt = 0;; attempt++) {
        CHECKF (attempt < 500, "binding subscriber never joined");
        zsock_send (zpub, "bb", "", (size_t) 0, "", (size_t) 0);
        if (zshm_sub_recv (sub) == 2)
            break;
    }
    size_t empty_size = 1;
    CHECK (zshm_sub_frame (sub, 0, &empty_size) != NULL && empty_size == 0);
    empty_size = 1;
    CHECK (zshm_sub_frame (sub, 1, &empty_size) != NULL && empty_size == 0);
    zshm_sub_destroy (&sub);
    zsock_destroy (&zpub);

    //  Bad tcp endpoints fail cleanly
    CHECK (zshm_pub_new ("tcp://256.1.1.1:1") == NULL);
    CHECK (zshm_sub_new ("tcp://", "") == NULL && errno == EINVAL);
}

//  --------------------------------------------------------------------------
//  Hostile segments: records forged or mangled by another writer never
//  crash a subscriber, are dropped and counted, and never hide the valid
//  messages among them.

//  Encode a valid message [topic][payload] into records of up to `slot`
//  bytes in out[]; returns the number of records; sizes in sizes[].  A
//  message that fits one record takes the short header if short_form.
static size_t
s_forge (uint8_t out [][256], size_t *sizes, size_t slot, const char *topic,
         const uint8_t *payload, size_t payload_size, bool short_form)
{
    uint8_t body [2048];
    size_t topic_size = strlen (topic);
    size_t total = 8 + 4 + topic_size + 4 + payload_size;
    zshm_body_encode (body, 0, 2);
    zshm_record_put32 (body + 8, (uint32_t) topic_size);
    memcpy (body + 12, topic, topic_size);
    zshm_record_put32 (body + 12 + topic_size, (uint32_t) payload_size);
    memcpy (body + 16 + topic_size, payload, payload_size);
    if (short_form && total <= slot - 16) {
        zshm_record_encode_short (out [0], (uint32_t) total);
        memcpy (out [0] + 8, body, total);
        sizes [0] = 8 + total;
        return 1;
    }
    size_t count = 0;
    for (size_t offset = 0; offset < total; offset += slot - 16, count++) {
        size_t length = total - offset < slot - 16 ? total - offset : slot - 16;
        uint16_t flags = (offset == 0 ? ZSHM_RECORD_FIRST : 0)
                       | (offset + length == total ? ZSHM_RECORD_LAST : 0);
        zshm_record_encode (out [count], flags, (uint32_t) total, (uint32_t) offset);
        memcpy (out [count] + 16, body + offset, length);
        sizes [count] = 16 + length;
    }
    return count;
}

static void
s_test_hostile (void)
{
    SAY ("  hostile segment\n");
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "hostile");
    const size_t slot = 256;
    zshm_ring_t *ring = zshm_ring_new (name, 1024, slot);
    CHECK (ring);
    zshm_sub_t *sub = zshm_sub_new (s_endpoint (endpoint, sizeof endpoint, name, "maxmsg=100000"),
                                    "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    s_expect_nothing (sub);
    uint8_t records [16][256];
    size_t sizes [16];
    uint8_t payload [1500];
    for (size_t index = 0; index < sizeof payload; index++)
        payload [index] = (uint8_t) tu_rng_next (&s_rng);
    int valid_sent = 0, valid_got = 0, last_kind = -1;
    for (int round = 0; round < 3000; round++) {
        //  Half the time a valid message, watched for
        if (round % 2 == 0) {
            char topic [32];
            snprintf (topic, sizeof topic, "valid.%d", round);
            //  Often small enough for one slot, so both headers are seen
            size_t size = tu_rng_range (&s_rng, 0, round % 4 ? 200 : sizeof payload);
            size_t count = s_forge (records, sizes, slot, topic, payload, size,
                                    tu_rng_next (&s_rng) & 1);
            for (size_t index = 0; index < count; index++)
                CHECK (zshm_ring_send (ring, records [index], sizes [index]));
            valid_sent++;
        }
        else {
            //  A mangled valid message, or pure noise
            size_t count = s_forge (records, sizes, slot, "evil", payload,
                                    tu_rng_range (&s_rng, 0, sizeof payload),
                                    tu_rng_next (&s_rng) & 1);
            int kind = (int) tu_rng_range (&s_rng, 0, 7);
            last_kind = kind;
            for (size_t index = 0; index < count; index++) {
                uint8_t *record = records [index];
                switch (kind) {
                    case 0:         //  flip random bytes anywhere
                        for (int flip = 0; flip < 3; flip++)
                            record [tu_rng_range (&s_rng, 0, sizes [index] - 1)] ^=
                                (uint8_t) (1 + tu_rng_range (&s_rng, 0, 254));
                        break;
                    case 1:         //  random total and offset
                        zshm_record_put32 (record + 4, (uint32_t) tu_rng_next (&s_rng));
                        zshm_record_put32 (record + 8, (uint32_t) tu_rng_next (&s_rng));
                        break;
                    case 2:         //  absurd frame count or type length
                        if (index == 0) {
                            zshm_record_put32 (record + 20, (uint32_t) tu_rng_next (&s_rng));
                            zshm_record_put16 (record + 16, (uint16_t) tu_rng_next (&s_rng));
                        }
                        break;
                    case 3:         //  short slots
                        sizes [index] = tu_rng_range (&s_rng, 0, 20);
                        break;
                    case 4:         //  noise
                        for (size_t byte = 0; byte < sizes [index]; byte++)
                            record [byte] = (uint8_t) tu_rng_next (&s_rng);
                        if (tu_rng_next (&s_rng) & 1)
                            zshm_record_put16 (record, ZSHM_RECORD_MAGIC);
                        break;
                    case 5:         //  a frame size that overruns
                        if (index == 0)
                            zshm_record_put32 (record + 24, 0xFFFFFFF0u);
                        break;
                    case 6:         //  the short flag where it does not belong,
                                    //  or a short header whose total is off
                        if (zshm_record_get16 (record + 2) & ZSHM_RECORD_SHORT)
                            zshm_record_put32 (record + 4, zshm_record_get32 (record + 4)
                                               + (uint32_t) tu_rng_range (&s_rng, 1, 9));
                        else
                            zshm_record_put16 (record + 2, zshm_record_get16 (record + 2)
                                                           | ZSHM_RECORD_SHORT);
                        break;
                    default:        //  fragments out of order
                        if (index + 1 < count) {
                            uint8_t swap [256];
                            memcpy (swap, record, 256);
                            memcpy (record, records [index + 1], 256);
                            memcpy (records [index + 1], swap, 256);
                            size_t size = sizes [index];
                            sizes [index] = sizes [index + 1];
                            sizes [index + 1] = size;
                        }
                        break;
                }
                CHECK (zshm_ring_send (ring, record, sizes [index]));
            }
        }
        //  Read as we go, so nothing is lapped
        int rc;
        while ((rc = zshm_sub_recv (sub)) > 0) {
            size_t size;
            const char *topic = (const char *) zshm_sub_frame (sub, 0, &size);
            CHECK (topic);
            //  Every frame is within what we were given
            for (size_t index = 0; index < zshm_sub_frames (sub); index++) {
                size_t frame_size;
                CHECK (zshm_sub_frame (sub, index, &frame_size) && frame_size <= 100000);
            }
            if (size >= 6 && memcmp (topic, "valid.", 6) == 0) {
                CHECK (zshm_sub_frames (sub) == 2);
                valid_got++;
            }
        }
        CHECK (errno == EAGAIN);
        CHECKF (valid_got == valid_sent, "round %d: a valid message was not delivered after "
                "mangling %d", round, last_kind);
    }
    SAY ("    %d valid of %d delivered, %llu dropped\n", valid_got, valid_sent,
         (unsigned long long) zshm_sub_dropped (sub));
    CHECK (valid_got == valid_sent);
    CHECK (zshm_sub_dropped (sub) > 0);
    zshm_sub_destroy (&sub);
    zshm_ring_destroy (&ring);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  Bad arguments

static void
s_test_arguments (void)
{
    SAY ("  arguments\n");
    CHECK (zshm_pub_new ("shm://ok?capacity=") == NULL && errno == EINVAL);
    CHECK (zshm_pub_new ("shm://ok?slot=99999999999") == NULL && errno == EINVAL);
    CHECK (zshm_pub_new ("shm://ok?replace=2") == NULL && errno == EINVAL);
    CHECK (zshm_pub_new ("shm://ok?maxmsg=5") == NULL && errno == EINVAL);
    CHECK (zshm_pub_new ("udp://x") == NULL);
    CHECK (zshm_sub_new ("shm://ok?from=", "") == NULL && errno == EINVAL);
    CHECK (zshm_sub_new ("shm://ok&idle=spin", "") == NULL && errno == EINVAL);
    CHECK (zshm_sub_new ("shm://ok,shm://other", "") == NULL && errno == EINVAL);
    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "args");
    zshm_pub_t *pub = zshm_pub_new (s_endpoint (endpoint, sizeof endpoint, name, "slot=64"));
    CHECK (pub);
    //  Another layout on a live channel: EBUSY; replace of a live one too
    char other [256];
    CHECK (zshm_pub_new (s_endpoint (other, sizeof other, name, "slot=128")) == NULL
           && errno == EBUSY);
    CHECK (zshm_pub_send (pub, NULL, "x", 1) == -1 && errno == EINVAL);
    const void *frames [1] = { NULL };
    size_t sizes [1] = { 3 };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 1) == -1 && errno == EINVAL);
    zshm_pub_destroy (&pub);
    //  A dead writer's channel of another layout: EEXIST, unless replace=1
    CHECK (zshm_pub_new (other) == NULL && errno == EEXIST);
    s_endpoint (other, sizeof other, name, "slot=128&replace=1");
    pub = zshm_pub_new (other);
    CHECK (pub && zshm_ring_slot_size (zshm_pub_ring (pub)) == 128);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
    //  Two shm channels in one publisher
    char name2 [64];
    tu_channel (name2, sizeof name2, "args2");
    snprintf (endpoint, sizeof endpoint, "shm://%s,shm://%s?slot=48", name, name2);
    pub = zshm_pub_new (endpoint);
    CHECK (pub);
    zshm_sub_t *one = zshm_sub_new (s_endpoint (other, sizeof other, name, ""), "");
    zshm_sub_t *two = zshm_sub_new (s_endpoint (other, sizeof other, name2, ""), "");
    CHECK (one && two);
    s_expect_nothing (one);         //  attach now, at the latest message
    s_expect_nothing (two);
    zshm_sub_set_rcvtimeo (one, 1000);
    zshm_sub_set_rcvtimeo (two, 1000);
    CHECK (zshm_pub_send (pub, "both", "0123456789012345678901234567890123456789", 40) == 0);
    s_expect (one, "both", "0123456789012345678901234567890123456789");
    s_expect (two, "both", "0123456789012345678901234567890123456789");
    zshm_sub_destroy (&one);
    zshm_sub_destroy (&two);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
    CHECK (zshm_ring_unlink (name2) == 0);
}

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && streq (argv [1], "-v");
    tu_require_shm ("test_pubsub");
    uint64_t seed = tu_seed ();
    tu_rng_seed (&s_rng, seed);
    printf ("test_pubsub: seed %llu\n", (unsigned long long) seed);
    s_test_arguments ();
    s_test_topics ();
    s_test_big ();
    s_test_lapped ();
    s_test_receiving ();
    s_test_sub_first ();
    s_test_hostile ();
    s_test_idle ();
    s_test_tcp ();
    printf ("test_pubsub: OK\n");
    return TU_PASS;
}
