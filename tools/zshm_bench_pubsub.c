/*  =========================================================================
    zshm_bench_pubsub - `zshm bench` rows of the publisher and subscriber

      pubsub-thread    zshm_pub and zshm_sub on shm:// channels, as the ring
      pubsub-process   rows measure the bare ring: ping-pong through two
                       channels for latency, back-to-back for throughput;
                       subscribers spin (idle=spin, the default)
      actor            the zshm_publisher and zshm_subscriber actors, used
                       as a PUB and a SUB socket: the same ping-pong and
                       throughput, between two threads, next to zmq-inproc;
                       the subscriber actors wait as --actor-idle says
                       (default spin, zshm_sub's default)
      block            wake-up latency of an idle=block subscriber: one
                       timestamped message at a time, 200 to 1000 us apart,
                       so that the subscriber is asleep on its futex
      proto-raw        one-way latency at one fixed rate (S_PROTO_PERIOD_US):
      proto-zshm       raw bytes the size of a packed zshm.market.Tick, the
      proto-pbc        Tick through zshm_pub_send_proto/zshm_sub_recv_proto,
                       and protobuf-c's default path (pack into a stack
                       buffer and zshm_pub_send; protobuf_c_message_unpack
                       with malloc, then free_unpacked)

    Every message is [topic "b"][payload], the payload starting with a
    64-bit sequence number.  Slots are sized so that a message fits one slot
    (zshm_record.h: a 16-byte record header, an 8-byte body header, then
    each frame's 4-byte size and bytes), so nothing is fragmented.

    One-way rows (block, proto-*) have side A receive and time, since only
    side A's samples are kept: side B publishes, stamping each message with
    bench_stamp_begin just before it sends, and side A stamps again just
    after it has the message in hand.  Both stamps read one clock (the
    invariant TSC, or CLOCK_MONOTONIC), so no halving and no echo.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "zshm.h"
#include "market.pb-c.h"
#include "zshm_bench_priv.h"

#define S_TOPIC             "b"         //  every message's topic
#define S_TOPIC_SIZE        1
//  Slot bytes a two-frame message adds to its payload (no type name).
#define S_RECORD_OVERHEAD   (16 + 8 + 4 + S_TOPIC_SIZE + 4)
#define S_TYPE_ROOM         128         //  slot room for a type name
#define S_RECV_POLL_MS      20          //  rcvtimeo between looks at `stop`
#define S_SILENCE_MS        50          //  throughput: quiet after the end
#define S_BLOCK_GAP_MIN_US  200         //  block: shortest pause between messages
#define S_BLOCK_GAP_MAX_US  1000        //  block: longest
#define S_BLOCK_WARMUP      20          //  block: messages not recorded, at most
#define S_PROTO_PERIOD_US   10          //  proto: one message per 10 us
#define S_PROTO_SLOT        256         //  proto: slot size of all three rows
#define S_PROTO_SEQ_BASE    100000000   //  proto: Tick.sequence offset (4-byte varint)
#define S_WARM              0           //  tag of an untimed warm-up message
#define S_ENDPOINT_MAX      192         //  bytes of an endpoint string

//  The slot size that carries a `size`-byte payload in one slot.
static size_t
s_slot_for (size_t size)
{
    return size + S_RECORD_OVERHEAD;
}

//  Endpoints of a channel: the publisher's with its layout, the
//  subscriber's with `options` ("" for none).
static void
s_endpoints (char *pub, char *sub, const char *name, size_t capacity, size_t slot,
             const char *options)
{
    snprintf (pub, S_ENDPOINT_MAX, "shm://%s?capacity=%zu&slot=%zu", name, capacity, slot);
    snprintf (sub, S_ENDPOINT_MAX, "shm://%s%s%s", name, *options ? "?" : "", options);
}

//  Receive the next message on `sub`, waiting in S_RECV_POLL_MS steps.
//  Returns its frame count, or -1 with errno ECANCELED (side B told to
//  stop), ETIMEDOUT (nothing for BENCH_TIMEOUT_MS), EPIPE (the publisher
//  died) or zshm_sub_recv's.
static int
s_sub_recv (bench_pair_t *pair, zshm_sub_t *sub)
{
    uint64_t deadline = 0;
    for (;;) {
        int frames = zshm_sub_recv (sub);
        if (frames >= 0)
            return frames;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
        if (bench_stopping (pair)) {
            errno = ECANCELED;
            return -1;
        }
        uint64_t now = bench_mono_ns ();
        if (!deadline)
            deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
        else
        if (now > deadline) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
}

//  A new subscriber, attached to its channel now, or NULL with the failure
//  recorded.  zshm_sub attaches on its first receive and then starts at
//  the next message, so a poll now makes "created" mean "receives what is
//  published from here on"; what the poll finds (nothing, unless the
//  endpoint asks for a replay) is read and dropped.
static zshm_sub_t *
s_sub_new (bench_pair_t *pair, const char *endpoint, int rcvtimeo)
{
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    if (!sub) {
        bench_fail (pair, "zshm_sub_new %s: %s", endpoint, strerror (errno));
        return NULL;
    }
    zshm_sub_set_rcvtimeo (sub, 0);
    while (zshm_sub_recv (sub) >= 0)
        ;
    if (!zshm_sub_connected (sub)) {
        bench_fail (pair, "zshm_sub_new %s: not attached (%s)", endpoint, strerror (errno));
        zshm_sub_destroy (&sub);
        return NULL;
    }
    zshm_sub_set_rcvtimeo (sub, rcvtimeo);
    return sub;
}

//  A new publisher, or NULL with the failure recorded.
static zshm_pub_t *
s_pub_new (bench_pair_t *pair, const char *endpoint)
{
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    if (!pub)
        bench_fail (pair, "zshm_pub_new %s: %s", endpoint, strerror (errno));
    return pub;
}

//  --------------------------------------------------------------------------
//  pubsub-thread, pubsub-process

typedef struct {
    size_t size;                //  payload bytes
    size_t capacity;            //  slots per ring
    char name_ab [64];          //  channel A->B
    char name_ba [64];          //  channel B->A
    char pub_ab [S_ENDPOINT_MAX];   //  A's publisher endpoint
    char sub_ab [S_ENDPOINT_MAX];   //  B's subscriber endpoint
    char pub_ba [S_ENDPOINT_MAX];   //  B's publisher endpoint
    char sub_ba [S_ENDPOINT_MAX];   //  A's subscriber endpoint
    _Atomic int ab_ready;       //  A's publisher exists
    _Atomic int b_ready;        //  B's subscriber (and publisher) exist
    _Atomic int done;           //  throughput: A stopped sending
    _Atomic uint64_t sent;      //  throughput: messages A sent
    uint64_t last_seq;          //  throughput: sequence of A's last message
    uint64_t start;             //  throughput: stamp before the first send
    uint64_t end;               //  throughput: stamp B finished reading
    uint64_t received;          //  throughput: B's messages
    uint64_t lost;              //  throughput: B's zshm_sub_lost
} s_pubsub_arg_t;

static int
s_pubsub_ping (bench_pair_t *pair)
{
    s_pubsub_arg_t *arg = (s_pubsub_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    zshm_pub_t *pub = NULL;
    zshm_sub_t *sub = NULL;
    int rc = -1;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (!(pub = s_pub_new (pair, arg->pub_ab)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->ab_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_ready, 1, "the echo side")
    ||  !(sub = s_sub_new (pair, arg->sub_ba, S_RECV_POLL_MS)))
        goto done;

    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    //  A lap of warm-up, as the ring rows: no first touch is timed.
    if (lat.warmup < arg->capacity)
        lat.warmup = arg->capacity;
    for (uint64_t count = 1; bench_lat_more (bench, &lat); count++) {
        bench_put64 (out, count);
        uint64_t begin = bench_stamp_begin ();
        zshm_pub_send (pub, S_TOPIC, out, arg->size);
        int frames = s_sub_recv (pair, sub);
        uint64_t end = bench_stamp_end ();
        if (frames < 0) {
            bench_fail (pair, "waiting for echo %" PRIu64 ": %s", count, strerror (errno));
            goto done;
        }
        size_t size = 0;
        const void *data = frames == 2 ? zshm_sub_frame (sub, 1, &size) : NULL;
        if (!data || size != arg->size || bench_get64 (data) != count) {
            bench_fail (pair, "echo %" PRIu64 " came back wrong (%d frames, %zu bytes)",
                        count, frames, size);
            goto done;
        }
        bench_lat_add (bench, &lat, begin, end);
    }
    rc = bench_lat_finish (bench, pair->row);
done:
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    free (out);
    return rc;
}

static int
s_pubsub_pong (bench_pair_t *pair)
{
    s_pubsub_arg_t *arg = (s_pubsub_arg_t *) pair->arg;
    zshm_pub_t *pub = NULL;
    zshm_sub_t *sub = NULL;
    int rc = -1;
    if (bench_wait (pair, &arg->ab_ready, 1, "the ping side")
    ||  !(sub = s_sub_new (pair, arg->sub_ab, S_RECV_POLL_MS))
    ||  !(pub = s_pub_new (pair, arg->pub_ba)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_ready, 1, memory_order_release);
    for (;;) {
        int frames = s_sub_recv (pair, sub);
        if (frames < 0) {
            //  The normal end: A is done (stop) or its publisher is gone.
            if (errno == ECANCELED || errno == EPIPE)
                rc = 0;
            else
                bench_fail (pair, "waiting for a ping: %s", strerror (errno));
            break;
        }
        size_t size = 0;
        const void *data = zshm_sub_frame (sub, 1, &size);
        if (data)
            zshm_pub_send (pub, S_TOPIC, data, size);
    }
done:
    zshm_pub_destroy (&pub);
    zshm_sub_destroy (&sub);
    return rc;
}

static int
s_pubsub_write (bench_pair_t *pair)
{
    s_pubsub_arg_t *arg = (s_pubsub_arg_t *) pair->arg;
    zshm_pub_t *pub = NULL;
    int rc = -1;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    memset (out, 0x5a, arg->size);
    if (!(pub = s_pub_new (pair, arg->pub_ab)))
        goto done;
    //  A lap before the reader reads, so that no first touch is timed.
    for (size_t index = 0; index < arg->capacity; index++)
        zshm_pub_send (pub, S_TOPIC, out, arg->size);
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->ab_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_ready, 1, "the reader"))
        goto done;
    uint64_t sent = 0;
    arg->start = bench_now ();
    uint64_t deadline = arg->start + bench_ms_ticks (pair->bench->duration_ms);
    do {
        for (int index = 0; index < 256; index++)
            zshm_pub_send (pub, S_TOPIC, out, arg->size);
        sent += 256;
    } while (bench_now () < deadline);
    arg->last_seq = zshm_pub_seq (pub);
    atomic_store_explicit (&arg->sent, sent, memory_order_relaxed);
    //  Release: `sent` and `last_seq` are visible to whoever sees `done`.
    atomic_store_explicit (&arg->done, 1, memory_order_release);
    rc = 0;
done:
    zshm_pub_destroy (&pub);
    free (out);
    return rc;
}

static int
s_pubsub_read (bench_pair_t *pair)
{
    s_pubsub_arg_t *arg = (s_pubsub_arg_t *) pair->arg;
    zshm_sub_t *sub = NULL;
    int rc = -1;
    if (bench_wait (pair, &arg->ab_ready, 1, "the writer"))
        goto done;
    //  Replay the writer's warm-up lap once (first touches), then count
    //  from where that leaves us: the next message published.
    char endpoint [S_ENDPOINT_MAX + 16];
    snprintf (endpoint, sizeof endpoint, "%s?from=oldest", arg->sub_ab);
    if (!(sub = s_sub_new (pair, endpoint, 0)))
        goto done;
    uint64_t lost_before = zshm_sub_lost (sub);
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_ready, 1, memory_order_release);
    uint64_t received = 0, deadline = 0;
    for (uint64_t empty = 1;; ) {
        if (zshm_sub_recv (sub) >= 0) {
            received++;
            continue;
        }
        if (errno != EAGAIN && errno != EPIPE) {
            bench_fail (pair, "zshm_sub_recv: %s", strerror (errno));
            goto done;
        }
        //  Done when the writer stopped and we hold its last message.
        if (atomic_load_explicit (&arg->done, memory_order_acquire)) {
            if (zshm_sub_seq (sub) >= arg->last_seq)
                break;
            if (!deadline)
                deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
        }
        if ((empty++ & 0xffff) == 0) {
            if (deadline && bench_mono_ns () > deadline) {
                bench_fail (pair, "stuck at %" PRIu64 " of %" PRIu64 " messages", received,
                            atomic_load (&arg->sent));
                goto done;
            }
            if (bench_stopping (pair) && !atomic_load (&arg->done)) {
                bench_fail (pair, "stopped before the writer finished");
                goto done;
            }
        }
    }
    arg->end = bench_now ();
    arg->received = received;
    arg->lost = zshm_sub_lost (sub) - lost_before;
    rc = 0;
done:
    zshm_sub_destroy (&sub);
    return rc;
}

static void
s_pubsub_arg_init (bench_t *bench, bench_row_t *row, s_pubsub_arg_t *arg, size_t capacity)
{
    memset (arg, 0, sizeof *arg);
    arg->size = row->size;
    arg->capacity = capacity;
    bench_channel_name (bench, arg->name_ab, sizeof arg->name_ab, "ab");
    bench_channel_name (bench, arg->name_ba, sizeof arg->name_ba, "ba");
    s_endpoints (arg->pub_ab, arg->sub_ab, arg->name_ab, capacity, s_slot_for (row->size), "");
    s_endpoints (arg->pub_ba, arg->sub_ba, arg->name_ba, capacity, s_slot_for (row->size), "");
    bench_cleanup_channel (0, arg->name_ab);
    bench_cleanup_channel (1, arg->name_ba);
}

static void
s_unlink_pair (const char *name_ab, const char *name_ba)
{
    zshm_ring_unlink (name_ab);
    zshm_ring_unlink (name_ba);
    bench_cleanup_forget ();
}

static int
s_pubsub_row (bench_t *bench, bench_row_t *row, bench_mode_t mode)
{
    s_pubsub_arg_t arg;
    s_pubsub_arg_init (bench, row, &arg, bench->capacity);
    int rc = bench_pair_run (bench, row, mode, s_pubsub_ping, s_pubsub_pong, &arg, sizeof arg);
    s_unlink_pair (arg.name_ab, arg.name_ba);
    if (rc)
        return rc;
    size_t capacity = bench_tput_capacity (bench, s_slot_for (row->size));
    s_pubsub_arg_init (bench, row, &arg, capacity);
    rc = bench_pair_run (bench, row, mode, s_pubsub_write, s_pubsub_read, &arg, sizeof arg);
    s_unlink_pair (arg.name_ab, arg.name_ba);
    if (rc == 0) {
        bench_throughput_set (row, arg.sent, arg.received, arg.lost, arg.end - arg.start,
                              capacity);
        if (arg.received + arg.lost != arg.sent)
            rc = bench_row_fail (row, "received %" PRIu64 " + lost %" PRIu64
                                 " != sent %" PRIu64, arg.received, arg.lost, arg.sent);
    }
    return rc;
}

int
bench_pubsub_thread (bench_t *bench, bench_row_t *row)
{
    return s_pubsub_row (bench, row, BENCH_THREADS);
}

int
bench_pubsub_process (bench_t *bench, bench_row_t *row)
{
    return s_pubsub_row (bench, row, BENCH_PROCESSES);
}

//  --------------------------------------------------------------------------
//  CZMQ for the actor and bridge rows

int
bench_czmq_init (void)
{
    static bool started = false;
    if (started)
        return 0;
    //  The bench handles SIGINT/SIGTERM itself (it removes its channels).
    zsys_handler_set (NULL);
    if (zsys_init () == NULL)
        return -1;
    zsys_set_logstream (NULL);
    //  A socket starts CZMQ's I/O thread now, from this unpinned thread.
    zsock_t *sock = zsock_new (ZMQ_PUB);
    if (!sock)
        return -1;
    zsock_destroy (&sock);
    started = true;
    return 0;
}

//  --------------------------------------------------------------------------
//  actor: zshm_publisher and zshm_subscriber, used through their pipes with
//  zmq_send/zmq_recv as an application uses PUB and SUB sockets.  The
//  actors are made here, from the unpinned main thread, so that their
//  threads are not pinned (threads inherit their creator's affinity);
//  sides A and B only use their pipes.  Subscriber actors get the zmq rows'
//  high-water mark and no $PUBLISHER events; throughput counts gaps in the
//  sequence numbers, as the zmq rows do (the subscriber actor drops at its
//  high-water mark, like a PUB socket).


typedef struct {
    size_t size;                //  payload bytes
    void *pub_ab;               //  A's publisher actor's pipe (libzmq socket)
    void *sub_ab;               //  B's subscriber actor's pipe
    void *pub_ba;               //  B's publisher actor's pipe
    void *sub_ba;               //  A's subscriber actor's pipe
    _Atomic int done;           //  throughput: A stopped sending
    _Atomic uint64_t sent;      //  throughput: messages A sent
    uint64_t start;             //  throughput: stamp before the first send
    uint64_t end;               //  throughput: stamp of B's last message
    uint64_t received;          //  throughput: messages B got
    uint64_t lost;              //  throughput: gaps in B's sequence
    uint64_t disorder;          //  throughput: sequence went backwards
} s_actor_arg_t;

//  Send [topic][payload] on an actor's pipe.  Returns 0 or -1.
static int
s_actor_send (void *handle, const void *data, size_t size)
{
    if (zmq_send (handle, S_TOPIC, S_TOPIC_SIZE, ZMQ_SNDMORE) < 0
    ||  zmq_send (handle, data, size, 0) < 0)
        return -1;
    return 0;
}

//  Receive one message's payload from an actor's pipe into buf (at most
//  max bytes).  Returns its size, or -1 with errno EAGAIN (nothing within
//  the pipe's receive timeout) or libzmq's.  Anything not [topic][payload]
//  (an event, say) is skipped.
static int
s_actor_recv (void *handle, void *buf, size_t max)
{
    for (;;) {
        char topic [8];
        int more = 0;
        size_t more_size = sizeof more;
        if (zmq_recv (handle, topic, sizeof topic, 0) < 0)
            return -1;
        zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size);
        if (!more)
            continue;
        int size = zmq_recv (handle, buf, max, 0);
        if (size < 0)
            return -1;
        zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size);
        bool extra = more;
        while (more) {
            char rest [8];
            zmq_recv (handle, rest, sizeof rest, 0);
            zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size);
        }
        if (!extra && topic [0] == S_TOPIC [0] && (size_t) size <= max)
            return size;
    }
}

static int
s_actor_ping (bench_pair_t *pair)
{
    s_actor_arg_t *arg = (s_actor_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    int rc = -1;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    uint8_t *in = (uint8_t *) calloc (1, arg->size);
    if (!out || !in) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    for (uint64_t count = 1; bench_lat_more (bench, &lat); count++) {
        bench_put64 (out, count);
        uint64_t begin = bench_stamp_begin ();
        if (s_actor_send (arg->pub_ab, out, arg->size)) {
            bench_fail (pair, "sending to the publisher actor: %s", zmq_strerror (zmq_errno ()));
            goto done;
        }
        uint64_t deadline = 0;
        for (;;) {
            int size = s_actor_recv (arg->sub_ba, in, arg->size);
            if (size >= 8 && bench_get64 (in) == count)
                break;
            if (size < 0 && zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
                bench_fail (pair, "zmq_recv: %s", zmq_strerror (zmq_errno ()));
                goto done;
            }
            uint64_t now = bench_mono_ns ();
            if (!deadline)
                deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
            else
            if (now > deadline) {
                bench_fail (pair, "no echo of %" PRIu64, count);
                goto done;
            }
        }
        bench_lat_add (bench, &lat, begin, bench_stamp_end ());
    }
    rc = bench_lat_finish (bench, pair->row);
    bench_put64 (out, BENCH_QUIT);
    s_actor_send (arg->pub_ab, out, arg->size);
done:
    free (out);
    free (in);
    return rc;
}

static int
s_actor_pong (bench_pair_t *pair)
{
    s_actor_arg_t *arg = (s_actor_arg_t *) pair->arg;
    return bench_echo (pair, arg->sub_ab, s_actor_recv, arg->pub_ba, s_actor_send, arg->size);
}

static int
s_actor_write (bench_pair_t *pair)
{
    s_actor_arg_t *arg = (s_actor_arg_t *) pair->arg;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out)
        return bench_fail (pair, "out of memory");
    memset (out, 0x5a, arg->size);
    int rc = -1;
    uint64_t seq = 0;
    arg->start = bench_now ();
    uint64_t deadline = arg->start + bench_ms_ticks (pair->bench->duration_ms);
    do {
        for (int index = 0; index < 64; index++, seq++) {
            bench_put64 (out, seq);
            //  The publisher actor's pipe pushes back when it is full: a
            //  send may wait, as on a PUB socket's pipe it would not.
            if (s_actor_send (arg->pub_ab, out, arg->size)) {
                bench_fail (pair, "sending to the publisher actor: %s",
                            zmq_strerror (zmq_errno ()));
                goto done;
            }
        }
    } while (bench_now () < deadline);
    rc = 0;
done:
    atomic_store_explicit (&arg->sent, seq, memory_order_relaxed);
    //  Release: `sent` above is final, for the receiver's acquire of done.
    atomic_store_explicit (&arg->done, 1, memory_order_release);
    free (out);
    return rc;
}

//  Count what arrives until every message is accounted for, or until
//  S_SILENCE_MS pass without one after the writer stopped.
static int
s_actor_read (bench_pair_t *pair)
{
    s_actor_arg_t *arg = (s_actor_arg_t *) pair->arg;
    uint8_t *buf = (uint8_t *) calloc (1, arg->size);
    if (!buf)
        return bench_fail (pair, "out of memory");
    bench_counter_t counter = { 0, 0, 0, 0, 0 };
    uint64_t quiet_since = 0;
    for (;;) {
        int size = s_actor_recv (arg->sub_ab, buf, arg->size);
        if (size >= 8) {
            bench_count (&counter, bench_get64 (buf));
            quiet_since = 0;
        }
        else
        if (size < 0 && zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
            free (buf);
            return bench_fail (pair, "zmq_recv: %s", zmq_strerror (zmq_errno ()));
        }
        //  Acquire, from the writer's release of done: `sent` is final.
        if (atomic_load_explicit (&arg->done, memory_order_acquire)) {
            uint64_t sent = atomic_load_explicit (&arg->sent, memory_order_relaxed);
            if (counter.expected >= sent)
                break;
            if (size < 0) {
                uint64_t now = bench_mono_ns ();
                if (!quiet_since)
                    quiet_since = now;
                else
                if (now - quiet_since > S_SILENCE_MS * 1000000ULL)
                    break;
            }
        }
        else
        if (size < 0 && bench_stopping (pair)) {
            free (buf);
            return bench_fail (pair, "stopped before the writer finished");
        }
    }
    uint64_t sent = atomic_load_explicit (&arg->sent, memory_order_relaxed);
    if (counter.expected < sent)
        counter.lost += sent - counter.expected;    //  the tail was dropped
    arg->end = counter.last ? counter.last : bench_now ();
    arg->received = counter.received;
    arg->lost = counter.lost;
    arg->disorder = counter.disorder;
    free (buf);
    return 0;
}

//  A publisher actor on `pub` and a subscriber actor on `sub` with the
//  bench's high-water mark, subscribed to everything, events off.  Returns
//  0, or -1 with the row failed.
static int
s_actors_new (bench_t *bench, bench_row_t *row, const char *pub, const char *sub,
              zactor_t **pub_p, zactor_t **sub_p)
{
    if (!(*pub_p = zshm_publisher_new (pub)))
        return bench_row_fail (row, "zshm_publisher_new %s: %s", pub, strerror (errno));
    if (!(*sub_p = zshm_subscriber_new (sub, NULL)))
        return bench_row_fail (row, "zshm_subscriber_new %s: %s", sub, strerror (errno));
    char hwm [16];
    snprintf (hwm, sizeof hwm, "%d", bench->zmq_hwm);
    zstr_sendx (*sub_p, "EVENTS", "0", NULL);
    zstr_sendx (*sub_p, "HWM", hwm, NULL);
    zstr_sendx (*sub_p, "SUBSCRIBE", "", NULL);
    //  Commands are taken in order: the reply says the others are in force.
    zstr_send (*sub_p, "LOST");
    zmsg_t *reply = zmsg_recv (*sub_p);
    bool ok = reply && zmsg_size (reply) == 3;
    zmsg_destroy (&reply);
    if (!ok)
        return bench_row_fail (row, "the subscriber actor did not answer LOST");
    //  The application's ends of the pipes poll, so that a side can stop.
    int timeout = S_RECV_POLL_MS;
    zmq_setsockopt (zsock_resolve (*sub_p), ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return 0;
}

//  One run of the actor row: ping-pong (tput false) or throughput.
static int
s_actor_run (bench_t *bench, bench_row_t *row, bool tput, s_actor_arg_t *arg)
{
    size_t capacity = tput ? bench_tput_capacity (bench, s_slot_for (row->size))
                           : bench->capacity;
    char name_ab [64], name_ba [64];
    char pub_ab [S_ENDPOINT_MAX], sub_ab [S_ENDPOINT_MAX];
    char pub_ba [S_ENDPOINT_MAX], sub_ba [S_ENDPOINT_MAX];
    bench_channel_name (bench, name_ab, sizeof name_ab, "ab");
    bench_channel_name (bench, name_ba, sizeof name_ba, "ba");
    char idle [32];
    snprintf (idle, sizeof idle, "idle=%s", bench->actor_idle);
    s_endpoints (pub_ab, sub_ab, name_ab, capacity, s_slot_for (row->size), idle);
    s_endpoints (pub_ba, sub_ba, name_ba, capacity, s_slot_for (row->size), idle);
    bench_cleanup_channel (0, name_ab);
    bench_cleanup_channel (1, name_ba);
    zactor_t *actor_pub_ab = NULL, *actor_sub_ab = NULL;
    zactor_t *actor_pub_ba = NULL, *actor_sub_ba = NULL;
    int rc = -1;
    memset (arg, 0, sizeof *arg);
    arg->size = row->size;
    if (bench_czmq_init ()) {
        bench_row_fail (row, "cannot start CZMQ");
        goto done;
    }
    if (s_actors_new (bench, row, pub_ab, sub_ab, &actor_pub_ab, &actor_sub_ab)
    ||  (!tput && s_actors_new (bench, row, pub_ba, sub_ba, &actor_pub_ba, &actor_sub_ba)))
        goto done;
    arg->pub_ab = zsock_resolve (actor_pub_ab);
    arg->sub_ab = zsock_resolve (actor_sub_ab);
    arg->pub_ba = actor_pub_ba ? zsock_resolve (actor_pub_ba) : NULL;
    arg->sub_ba = actor_sub_ba ? zsock_resolve (actor_sub_ba) : NULL;
    if (tput) {
        rc = bench_pair_run (bench, row, BENCH_THREADS, s_actor_write, s_actor_read,
                             arg, sizeof *arg);
        if (rc == 0) {
            bench_throughput_set (row, arg->sent, arg->received, arg->lost,
                                  arg->end - arg->start, capacity);
            if (arg->disorder)
                rc = bench_row_fail (row, "%" PRIu64 " messages out of order", arg->disorder);
        }
    }
    else
        rc = bench_pair_run (bench, row, BENCH_THREADS, s_actor_ping, s_actor_pong,
                             arg, sizeof *arg);
done:
    zactor_destroy (&actor_sub_ba);
    zactor_destroy (&actor_sub_ab);
    zactor_destroy (&actor_pub_ab);
    zactor_destroy (&actor_pub_ba);
    s_unlink_pair (name_ab, name_ba);
    return rc;
}

int
bench_actor (bench_t *bench, bench_row_t *row)
{
    s_actor_arg_t arg;
    int rc = s_actor_run (bench, row, false, &arg);
    if (rc == 0)
        rc = s_actor_run (bench, row, true, &arg);
    return rc;
}

//  --------------------------------------------------------------------------
//  block: B publishes one message at a time, pausing 200 to 1000 us
//  (nanosleep) between them so that A's idle=block subscriber has gone to
//  sleep on its futex; A times publish to receive.  Between processes, as
//  block is meant to be used.  A lap of untimed warm-up messages first
//  touches every slot.

typedef struct {
    size_t size;                //  payload bytes (>= 16)
    size_t capacity;            //  ring slots
    char name [64];             //  the channel
    char pub [S_ENDPOINT_MAX];  //  B's publisher endpoint
    char sub [S_ENDPOINT_MAX];  //  A's subscriber endpoint (idle=block)
    _Atomic int pub_ready;      //  B's publisher exists
    _Atomic int sub_ready;      //  A's subscriber exists
} s_block_arg_t;

static int
s_block_receive (bench_pair_t *pair)
{
    s_block_arg_t *arg = (s_block_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    zshm_sub_t *sub = NULL;
    int rc = -1;
    if (bench_wait (pair, &arg->pub_ready, 1, "the publisher")
    ||  !(sub = s_sub_new (pair, arg->sub, S_RECV_POLL_MS)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->sub_ready, 1, memory_order_release);
    pair->row->one_way = true;
    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    //  Each sample costs a pause: a few are enough to settle.
    lat.warmup = bench->warmup < S_BLOCK_WARMUP ? bench->warmup : S_BLOCK_WARMUP;
    uint64_t expected = 1;
    while (bench_lat_more (bench, &lat)) {
        int frames = s_sub_recv (pair, sub);
        uint64_t end = bench_stamp_end ();
        size_t size = 0;
        const uint8_t *data = frames == 2 ? (const uint8_t *) zshm_sub_frame (sub, 1, &size)
                                          : NULL;
        if (frames < 0) {
            bench_fail (pair, "waiting for message %" PRIu64 ": %s", expected,
                        strerror (errno));
            goto done;
        }
        if (!data || size != arg->size) {
            bench_fail (pair, "a malformed message (%d frames, %zu bytes)", frames, size);
            goto done;
        }
        uint64_t tag = bench_get64 (data);
        if (tag == S_WARM)
            continue;
        if (tag != expected) {
            bench_fail (pair, "message %" PRIu64 " came as %" PRIu64, expected, tag);
            goto done;
        }
        expected++;
        bench_lat_add (bench, &lat, bench_get64 (data + 8), end);
    }
    rc = bench_lat_finish (bench, pair->row);
done:
    zshm_sub_destroy (&sub);
    return rc;
}

static int
s_block_publish (bench_pair_t *pair)
{
    s_block_arg_t *arg = (s_block_arg_t *) pair->arg;
    zshm_pub_t *pub = NULL;
    int rc = -1;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (!(pub = s_pub_new (pair, arg->pub)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->pub_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->sub_ready, 1, "the subscriber"))
        goto done;
    for (size_t index = 0; index < arg->capacity; index++)
        zshm_pub_send (pub, S_TOPIC, out, arg->size);
    uint64_t random = 0x9e3779b97f4a7c15ULL ^ (uint64_t) getpid ();
    for (uint64_t tag = 1; !bench_stopping (pair); tag++) {
        //  xorshift64: a pause the subscriber cannot learn.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        uint64_t gap_us = S_BLOCK_GAP_MIN_US
                        + random % (S_BLOCK_GAP_MAX_US - S_BLOCK_GAP_MIN_US + 1);
        struct timespec pause = { 0, (long) gap_us * 1000 };
        nanosleep (&pause, NULL);
        bench_put64 (out, tag);
        uint64_t begin = bench_stamp_begin ();
        bench_put64 (out + 8, begin);
        zshm_pub_send (pub, S_TOPIC, out, arg->size);
    }
    rc = 0;
done:
    zshm_pub_destroy (&pub);
    free (out);
    return rc;
}

int
bench_block (bench_t *bench, bench_row_t *row)
{
    s_block_arg_t arg;
    memset (&arg, 0, sizeof arg);
    arg.size = row->size < 16 ? 16 : row->size;
    row->size = arg.size;
    arg.capacity = bench->capacity;
    bench_channel_name (bench, arg.name, sizeof arg.name, "block");
    s_endpoints (arg.pub, arg.sub, arg.name, arg.capacity, s_slot_for (arg.size), "idle=block");
    bench_cleanup_channel (0, arg.name);
    int rc = bench_pair_run (bench, row, BENCH_PROCESSES, s_block_receive, s_block_publish,
                             &arg, sizeof arg);
    zshm_ring_unlink (arg.name);
    bench_cleanup_forget ();
    return rc;
}

//  --------------------------------------------------------------------------
//  proto-raw, proto-zshm, proto-pbc: B publishes a zshm.market.Tick every
//  S_PROTO_PERIOD_US (the same rate for all three), A receives and uses it;
//  one way, between processes, idle=spin.  B also waits until A has the
//  previous one (A says so in the shared argument), so that one stall of A
//  (preempted on a busy machine) costs one sample, not a queue of them.  The stamp travels in the Tick's
//  receive_time_ns (fixed64) and the sequence in its sequence field, so
//  the packed size never changes; the raw row sends that many bytes with
//  the same two numbers in its first 16.  Timed: B from just before
//  packing (or copying) to A just after it has read both numbers out of the
//  unpacked message.  protobuf-c's free_unpacked comes after the stamp, as
//  the arena's reset comes in zshm's next receive.

typedef enum { S_PROTO_RAW, S_PROTO_ZSHM, S_PROTO_PBC } s_proto_kind_t;

typedef struct {
    s_proto_kind_t kind;        //  which path
    size_t size;                //  bytes of the packed Tick
    size_t capacity;            //  ring slots
    char name [64];             //  the channel
    char pub [S_ENDPOINT_MAX];  //  B's publisher endpoint
    char sub [S_ENDPOINT_MAX];  //  A's subscriber endpoint
    _Atomic int pub_ready;      //  B's publisher exists
    _Atomic int sub_ready;      //  A's subscriber exists
    _Atomic uint64_t received;  //  the last tag A has timed
} s_proto_arg_t;

//  A realistic Tick; the caller sets the stamp and sequence.
static void
s_tick_init (Zshm__Market__Tick *tick)
{
    zshm__market__tick__init (tick);
    tick->symbol = (char *) "AAPL";
    tick->venue = ZSHM__MARKET__VENUE__VENUE_XNAS;
    tick->exchange_time_ns = 1700000000123456789ULL;
    tick->receive_time_ns = 1700000000123459999ULL;
    tick->sequence = S_PROTO_SEQ_BASE;
    tick->bid = 189.25;
    tick->ask = 189.5;
    tick->last = 189.3;
    tick->bid_size = 100;
    tick->ask_size = 200;
    tick->last_size = 50;
    tick->volume = 12345678;
}

static int
s_proto_receive (bench_pair_t *pair)
{
    s_proto_arg_t *arg = (s_proto_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    zshm_sub_t *sub = NULL;
    int rc = -1;
    if (bench_wait (pair, &arg->pub_ready, 1, "the publisher")
    ||  !(sub = s_sub_new (pair, arg->sub, S_RECV_POLL_MS)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->sub_ready, 1, memory_order_release);
    pair->row->one_way = true;
    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    uint64_t expected = 1, deadline = 0;
    while (bench_lat_more (bench, &lat)) {
        uint64_t tag = 0, begin = 0, end = 0;
        int frames = 0;
        if (arg->kind == S_PROTO_ZSHM) {
            Zshm__Market__Tick *tick = (Zshm__Market__Tick *)
                zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, NULL);
            if (tick) {
                tag = tick->sequence - S_PROTO_SEQ_BASE;
                begin = tick->receive_time_ns;
                end = bench_stamp_end ();
            }
            else
            if (errno == EAGAIN || errno == EINTR) {
                //  rcvtimeo expired: a look at the deadline, as s_sub_recv.
                uint64_t now = bench_mono_ns ();
                if (!deadline)
                    deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
                else
                if (now > deadline) {
                    bench_fail (pair, "no Tick for %d ms", BENCH_TIMEOUT_MS);
                    goto done;
                }
                continue;
            }
            else {
                bench_fail (pair, "zshm_sub_recv_proto: %s", strerror (errno));
                goto done;
            }
        }
        else {
            frames = s_sub_recv (pair, sub);
            if (frames < 0) {
                bench_fail (pair, "waiting for Tick %" PRIu64 ": %s", expected,
                            strerror (errno));
                goto done;
            }
            size_t size = 0;
            const void *data = frames == 2 ? zshm_sub_frame (sub, 1, &size) : NULL;
            if (!data) {
                bench_fail (pair, "a malformed message (%d frames)", frames);
                goto done;
            }
            if (arg->kind == S_PROTO_RAW) {
                if (size < 16) {
                    bench_fail (pair, "a %zu-byte message", size);
                    goto done;
                }
                tag = bench_get64 (data);
                begin = bench_get64 ((const uint8_t *) data + 8);
                end = bench_stamp_end ();
            }
            else {
                Zshm__Market__Tick *tick = (Zshm__Market__Tick *) protobuf_c_message_unpack (
                    &zshm__market__tick__descriptor, NULL, size, (const uint8_t *) data);
                if (!tick) {
                    bench_fail (pair, "protobuf_c_message_unpack failed");
                    goto done;
                }
                tag = tick->sequence - S_PROTO_SEQ_BASE;
                begin = tick->receive_time_ns;
                end = bench_stamp_end ();
                protobuf_c_message_free_unpacked (&tick->base, NULL);
            }
        }
        deadline = 0;
        if (tag == S_WARM)
            continue;
        if (tag != expected) {
            bench_fail (pair, "Tick %" PRIu64 " came as %" PRIu64, expected, tag);
            goto done;
        }
        //  Release, to B's acquire of received in s_proto_publish: B may
        //  send the next one (after its own stamp).
        atomic_store_explicit (&arg->received, tag, memory_order_release);
        expected++;
        bench_lat_add (bench, &lat, begin, end);
    }
    rc = bench_lat_finish (bench, pair->row);
done:
    zshm_sub_destroy (&sub);
    return rc;
}

//  Publish one Tick (or its raw stand-in) tagged `tag`, stamped now.
static inline void
s_proto_send (s_proto_arg_t *arg, zshm_pub_t *pub, Zshm__Market__Tick *tick, uint8_t *raw,
              uint64_t tag)
{
    uint64_t begin = bench_stamp_begin ();
    if (arg->kind == S_PROTO_RAW) {
        bench_put64 (raw, tag);
        bench_put64 (raw + 8, begin);
        zshm_pub_send (pub, S_TOPIC, raw, arg->size);
        return;
    }
    tick->sequence = S_PROTO_SEQ_BASE + tag;
    tick->receive_time_ns = begin;
    if (arg->kind == S_PROTO_ZSHM)
        zshm_pub_send_proto (pub, S_TOPIC, &tick->base);
    else {
        uint8_t packed [S_PROTO_SLOT];
        size_t size = protobuf_c_message_pack (&tick->base, packed);
        zshm_pub_send (pub, S_TOPIC, packed, size);
    }
}

static int
s_proto_publish (bench_pair_t *pair)
{
    s_proto_arg_t *arg = (s_proto_arg_t *) pair->arg;
    zshm_pub_t *pub = NULL;
    int rc = -1;
    uint8_t raw [S_PROTO_SLOT];
    memset (raw, 0x5a, sizeof raw);
    Zshm__Market__Tick tick;
    s_tick_init (&tick);
    if (!(pub = s_pub_new (pair, arg->pub)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->pub_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->sub_ready, 1, "the subscriber"))
        goto done;
    for (size_t index = 0; index < arg->capacity; index++)
        s_proto_send (arg, pub, &tick, raw, S_WARM);
    uint64_t period = bench_us_ticks (S_PROTO_PERIOD_US);
    uint64_t next = bench_now () + period;
    for (uint64_t tag = 1; !bench_stopping (pair); tag++) {
        //  Spin to the next tick of the schedule, and until A has the last
        //  message: a stall of A then delays one sample, not the queue
        //  behind it.  After a stall, carry on from now, not in a burst.
        uint64_t now;
        for (uint64_t spins = 1;; spins++) {
            now = bench_now ();
            if (now >= next
            //  Acquire, from A's release of received after its stamp
            &&  atomic_load_explicit (&arg->received, memory_order_acquire) + 1 >= tag)
                break;
            if ((spins & 0xffff) == 0 && bench_stopping (pair))
                break;
            bench_relax ();
        }
        next = now - next > period ? now + period : next + period;
        s_proto_send (arg, pub, &tick, raw, tag);
    }
    rc = 0;
done:
    zshm_pub_destroy (&pub);
    return rc;
}

static int
s_proto_row (bench_t *bench, bench_row_t *row, s_proto_kind_t kind)
{
    Zshm__Market__Tick tick;
    s_tick_init (&tick);
    s_proto_arg_t arg;
    memset (&arg, 0, sizeof arg);
    arg.kind = kind;
    arg.size = protobuf_c_message_get_packed_size (&tick.base);
    row->size = arg.size;
    arg.capacity = bench->capacity;
    bench_channel_name (bench, arg.name, sizeof arg.name, "proto");
    s_endpoints (arg.pub, arg.sub, arg.name, arg.capacity, S_PROTO_SLOT, "");
    bench_cleanup_channel (0, arg.name);
    int rc = bench_pair_run (bench, row, BENCH_PROCESSES, s_proto_receive, s_proto_publish,
                             &arg, sizeof arg);
    zshm_ring_unlink (arg.name);
    bench_cleanup_forget ();
    return rc;
}

int
bench_proto_raw (bench_t *bench, bench_row_t *row)
{
    return s_proto_row (bench, row, S_PROTO_RAW);
}

int
bench_proto_zshm (bench_t *bench, bench_row_t *row)
{
    return s_proto_row (bench, row, S_PROTO_ZSHM);
}

int
bench_proto_pbc (bench_t *bench, bench_row_t *row)
{
    return s_proto_row (bench, row, S_PROTO_PBC);
}
