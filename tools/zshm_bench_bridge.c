/*  =========================================================================
    zshm_bench_bridge - `zshm bench` rows of the bridge, and raw zmq tcp
    measured the same way

      zmq-tcp-oneway   libzmq PUB -> tcp 127.0.0.1 -> SUB, between two
                       threads (the zmq rows' context)
      bridge           zshm_pub -> ring -> zshm_bridge (serving) -> tcp
                       127.0.0.1 -> zshm_bridge (feeding) -> ring -> zshm_sub:
                       two bridge actors in this process, as two zshm-bridge
                       programs on one host; the serving bridge and the
                       subscriber wait as --bridge-idle says (default block,
                       the bridge's default)

    Latency is one-way with one message in flight: side A (the receiver)
    asks for the next message through the shared argument; side B sees the
    ask, stamps the message with bench_stamp_begin and sends it; A stamps
    again when it has it.  One host, one clock (the invariant TSC or
    CLOCK_MONOTONIC): the difference is exact, with no return path to halve
    and no queue in front of the message.  The payload's first 8 bytes are
    the stamp, so every size from 8 bytes works.

    Throughput: B sends back-to-back for --duration-ms, each payload
    starting with its sequence number; A counts what arrives and the gaps
    (drops at the high-water marks, a serving bridge lapped on its ring).
    The bridge's throughput is compared with the zmq-tcp row's (PUB/SUB
    back-to-back on the same loopback), which the table shows beside it.

    Nobody spins while waiting here by default: A blocks (zmq_recv, or the
    ring's futex with idle=block) and B yields between looks at the ask.  In
    between there are threads that need a CPU too (libzmq's I/O threads,
    the bridges): on a 2-core machine a spinning side would take it from
    them.  The bridges and their I/O thread are started from the unpinned
    main thread, so the scheduler places them.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zshm.h"
#include "zshm_bridge.h"
#include "zshm_bench_priv.h"

#define S_TOPIC             "b"         //  every message's topic
#define S_TOPIC_SIZE        1
#define S_RECORD_OVERHEAD   (16 + 8 + 4 + S_TOPIC_SIZE + 4)  //  as zshm_bench_pubsub.c
#define S_PROBE             UINT64_MAX  //  a join probe, never a stamp
#define S_PROBE_US          1000        //  between probes until A joins
#define S_POLL_MS           20          //  receive timeout between checks
#define S_SILENCE_MS        50          //  throughput: quiet after the end
#define S_ENDPOINT_MAX      256         //  bytes of an endpoint string

typedef enum { S_ZMQ, S_BRIDGE } s_path_t;

typedef struct {
    s_path_t path;              //  raw zmq tcp, or the bridge
    size_t size;                //  payload bytes, >= 8
    int hwm;                    //  zmq: SNDHWM and RCVHWM
    void *ctx;                  //  zmq: the bench's context
    char endpoint [S_ENDPOINT_MAX]; //  zmq: where B's PUB is bound
    zshm_pub_t *pub;            //  bridge: B's publisher on the source ring
    zshm_sub_t *sub;            //  bridge: A's subscriber on the far ring
    _Atomic int bound;          //  zmq: `endpoint` is set
    _Atomic int joined;         //  A received a probe
    _Atomic uint64_t ask;       //  latency: A wants message `ask`
    _Atomic int done;           //  throughput: B stopped sending
    _Atomic uint64_t sent;      //  throughput: messages B sent
    uint64_t start;             //  throughput: stamp before the first send
    uint64_t end;               //  throughput: stamp of A's last message
    uint64_t received;          //  throughput: messages A got
    uint64_t lost;              //  throughput: gaps in A's sequence
    uint64_t disorder;          //  throughput: sequence went backwards
} s_oneway_arg_t;

//  B's end: a PUB it binds (zmq) or the publisher made for it (bridge).
typedef struct {
    s_oneway_arg_t *arg;        //  the shared argument
    void *socket;               //  zmq: the PUB
} s_sender_t;

//  A's end: a SUB (zmq) or the subscriber made for it (bridge).
typedef struct {
    s_oneway_arg_t *arg;        //  the shared argument
    void *socket;               //  zmq: the SUB
} s_receiver_t;

static void *
s_zmq_socket (bench_pair_t *pair, int type)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    void *socket = zmq_socket (arg->ctx, type);
    if (!socket) {
        bench_fail (pair, "zmq_socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    int linger = 0, timeout = S_POLL_MS;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &arg->hwm, sizeof arg->hwm);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &arg->hwm, sizeof arg->hwm);
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
}

//  Open B's end.  Returns 0, or -1 with the failure recorded.
static int
s_sender_open (bench_pair_t *pair, s_sender_t *sender)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    sender->arg = arg;
    sender->socket = NULL;
    if (arg->path == S_ZMQ) {
        if (!(sender->socket = s_zmq_socket (pair, ZMQ_PUB)))
            return -1;
        size_t length = sizeof arg->endpoint;
        if (zmq_bind (sender->socket, "tcp://127.0.0.1:*")
        ||  zmq_getsockopt (sender->socket, ZMQ_LAST_ENDPOINT, arg->endpoint, &length))
            return bench_fail (pair, "zmq_bind: %s", zmq_strerror (zmq_errno ()));
    }
    atomic_store_explicit (&arg->bound, 1, memory_order_release);
    return 0;
}

static void
s_sender_close (s_sender_t *sender)
{
    if (sender->socket)
        zmq_close (sender->socket);
    sender->socket = NULL;
}

static inline int
s_send (s_sender_t *sender, const void *data, size_t size)
{
    if (sender->arg->path == S_ZMQ) {
        if (zmq_send (sender->socket, S_TOPIC, S_TOPIC_SIZE, ZMQ_SNDMORE) < 0
        ||  zmq_send (sender->socket, data, size, 0) < 0)
            return -1;
        return 0;
    }
    return zshm_pub_send (sender->arg->pub, S_TOPIC, data, size);
}

//  Open A's end.  Returns 0, or -1 with the failure recorded.
static int
s_receiver_open (bench_pair_t *pair, s_receiver_t *receiver)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    receiver->arg = arg;
    receiver->socket = NULL;
    if (bench_wait (pair, &arg->bound, 1, "the sender"))
        return -1;
    if (arg->path == S_ZMQ) {
        if (!(receiver->socket = s_zmq_socket (pair, ZMQ_SUB)))
            return -1;
        if (zmq_setsockopt (receiver->socket, ZMQ_SUBSCRIBE, "", 0)
        ||  zmq_connect (receiver->socket, arg->endpoint))
            return bench_fail (pair, "zmq_connect %s: %s", arg->endpoint,
                               zmq_strerror (zmq_errno ()));
    }
    return 0;
}

static void
s_receiver_close (s_receiver_t *receiver)
{
    if (receiver->socket)
        zmq_close (receiver->socket);
    receiver->socket = NULL;
}

//  Receive one payload into buf.  Returns its size, or -1 with errno
//  EAGAIN (nothing within S_POLL_MS) or another error.
static inline int
s_recv (s_receiver_t *receiver, void *buf, size_t max)
{
    if (receiver->arg->path == S_ZMQ) {
        for (;;) {
            char topic [8];
            int more = 0;
            size_t more_size = sizeof more;
            if (zmq_recv (receiver->socket, topic, sizeof topic, 0) < 0) {
                errno = zmq_errno ();
                return -1;
            }
            zmq_getsockopt (receiver->socket, ZMQ_RCVMORE, &more, &more_size);
            if (!more)
                continue;
            int size = zmq_recv (receiver->socket, buf, max, 0);
            if (size < 0) {
                errno = zmq_errno ();
                return -1;
            }
            return size < (int) max ? size : (int) max;
        }
    }
    zshm_sub_t *sub = receiver->arg->sub;
    int frames = zshm_sub_recv (sub);
    if (frames < 0)
        return -1;
    size_t size = 0;
    const void *data = frames == 2 ? zshm_sub_frame (sub, 1, &size) : NULL;
    if (!data)
        return 0;
    if (size > max)
        size = max;
    memcpy (buf, data, size);
    return (int) size;
}

//  A: wait for a probe.  Returns 0, or -1 with the failure recorded.
static int
s_join (bench_pair_t *pair, s_receiver_t *receiver, void *buf, size_t max)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    uint64_t deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
    while (bench_mono_ns () < deadline) {
        int size = s_recv (receiver, buf, max);
        if (size >= 8 && bench_get64 (buf) == S_PROBE) {
            //  Release, to s_probe's acquire of joined.
            atomic_store_explicit (&arg->joined, 1, memory_order_release);
            return 0;
        }
        if (size < 0 && errno != EAGAIN && errno != EINTR)
            return bench_fail (pair, "receiving: %s", strerror (errno));
        if (atomic_load (&pair->control->b_state) < 0)
            return bench_fail (pair, "the sender failed");
    }
    return bench_fail (pair, "no probe came through in %d ms", BENCH_TIMEOUT_MS);
}

//  B: send probes until A has one.  Returns 0, or -1 with the failure
//  recorded.
static int
s_probe (bench_pair_t *pair, s_sender_t *sender, void *buf, size_t size)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    uint64_t probe = S_PROBE;
    bench_put64 (buf, probe);
    //  Acquire, from s_join's release of joined.
    while (!atomic_load_explicit (&arg->joined, memory_order_acquire)) {
        if (bench_stopping (pair))
            return bench_fail (pair, "stopped before the receiver joined");
        s_send (sender, buf, size);
        struct timespec pause = { 0, S_PROBE_US * 1000L };
        nanosleep (&pause, NULL);
    }
    return 0;
}

static int
s_latency_receive (bench_pair_t *pair)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    s_receiver_t receiver = { arg, NULL };
    int rc = -1;
    uint8_t *buf = (uint8_t *) calloc (1, arg->size);
    if (!buf) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (s_receiver_open (pair, &receiver) || s_join (pair, &receiver, buf, arg->size))
        goto done;
    pair->row->one_way = true;
    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    for (uint64_t count = 1; bench_lat_more (bench, &lat); count++) {
        uint64_t asked = bench_now ();
        //  Release: B reads `asked`-era state only through its own stamp.
        atomic_store_explicit (&arg->ask, count, memory_order_release);
        uint64_t deadline = 0;
        for (;;) {
            int size = s_recv (&receiver, buf, arg->size);
            uint64_t end = bench_stamp_end ();
            if (size >= 8 && bench_get64 (buf) != S_PROBE) {
                uint64_t begin = bench_get64 (buf);
                //  Sent after we asked, or it is not the answer.
                if (begin < asked || begin > end) {
                    bench_fail (pair, "message %" PRIu64 " carries a stamp from elsewhere",
                                count);
                    goto done;
                }
                bench_lat_add (bench, &lat, begin, end);
                break;
            }
            if (size < 0 && errno != EAGAIN && errno != EINTR) {
                bench_fail (pair, "receiving: %s", strerror (errno));
                goto done;
            }
            if (size < 0) {
                uint64_t now = bench_mono_ns ();
                if (!deadline)
                    deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
                else
                if (now > deadline) {
                    bench_fail (pair, "message %" PRIu64 " never came", count);
                    goto done;
                }
            }
        }
    }
    rc = bench_lat_finish (bench, pair->row);
done:
    s_receiver_close (&receiver);
    free (buf);
    return rc;
}

static int
s_latency_send (bench_pair_t *pair)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    s_sender_t sender = { arg, NULL };
    int rc = -1;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (s_sender_open (pair, &sender) || s_probe (pair, &sender, out, arg->size))
        goto done;
    for (uint64_t count = 1;; count++) {
        //  Yield, not spin: the threads between us and A need CPUs.
        while (atomic_load_explicit (&arg->ask, memory_order_acquire) < count) {
            if (bench_stopping (pair)) {
                rc = 0;
                goto done;
            }
            sched_yield ();
        }
        uint64_t begin = bench_stamp_begin ();
        bench_put64 (out, begin);
        if (s_send (&sender, out, arg->size)) {
            bench_fail (pair, "sending: %s", strerror (errno));
            goto done;
        }
    }
done:
    s_sender_close (&sender);
    free (out);
    return rc;
}

static int
s_tput_send (bench_pair_t *pair)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    s_sender_t sender = { arg, NULL };
    int rc = -1;
    uint64_t seq = 0;
    uint8_t *out = (uint8_t *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    memset (out, 0x5a, arg->size);
    if (s_sender_open (pair, &sender) || s_probe (pair, &sender, out, arg->size))
        goto done;
    arg->start = bench_now ();
    uint64_t deadline = arg->start + bench_ms_ticks (pair->bench->duration_ms);
    do {
        for (int index = 0; index < 64; index++, seq++) {
            bench_put64 (out, seq);
            if (s_send (&sender, out, arg->size)) {
                bench_fail (pair, "sending: %s", strerror (errno));
                goto done;
            }
        }
    } while (bench_now () < deadline);
    rc = 0;
done:
    atomic_store_explicit (&arg->sent, seq, memory_order_relaxed);
    //  Release: `sent` is visible to whoever sees `done`.
    atomic_store_explicit (&arg->done, 1, memory_order_release);
    //  A zmq PUB closed now would drop what it still queues: keep it
    //  open until A has counted (A's return makes `stop`).
    while (sender.socket && !bench_stopping (pair)) {
        struct timespec pause = { 0, 1000000 };
        nanosleep (&pause, NULL);
    }
    s_sender_close (&sender);
    free (out);
    return rc;
}

static int
s_tput_receive (bench_pair_t *pair)
{
    s_oneway_arg_t *arg = (s_oneway_arg_t *) pair->arg;
    s_receiver_t receiver = { arg, NULL };
    int rc = -1;
    uint8_t *buf = (uint8_t *) calloc (1, arg->size);
    if (!buf) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (s_receiver_open (pair, &receiver) || s_join (pair, &receiver, buf, arg->size))
        goto done;
    bench_counter_t counter = { 0, 0, 0, 0, 0 };
    uint64_t quiet_since = 0;
    for (;;) {
        int size = s_recv (&receiver, buf, arg->size);
        if (size >= 8) {
            if (bench_get64 (buf) != S_PROBE) {
                bench_count (&counter, bench_get64 (buf));
                quiet_since = 0;
            }
        }
        else
        if (size < 0 && errno != EAGAIN && errno != EINTR) {
            bench_fail (pair, "receiving: %s", strerror (errno));
            goto done;
        }
        //  Acquire, from the sender's release of done: `sent` is final.
        if (atomic_load_explicit (&arg->done, memory_order_acquire)) {
            if (atomic_load (&pair->control->b_state) < 0) {
                bench_fail (pair, "the sender failed");
                goto done;
            }
            if (counter.expected >= atomic_load_explicit (&arg->sent, memory_order_relaxed))
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
    }
    uint64_t sent = atomic_load_explicit (&arg->sent, memory_order_relaxed);
    if (counter.expected < sent)
        counter.lost += sent - counter.expected;    //  the tail was dropped
    arg->end = counter.last ? counter.last : bench_now ();
    arg->received = counter.received;
    arg->lost = counter.lost;
    arg->disorder = counter.disorder;
    rc = 0;
done:
    s_receiver_close (&receiver);
    free (buf);
    return rc;
}

//  --------------------------------------------------------------------------
//  zmq-tcp-oneway

int
bench_zmq_tcp_oneway (bench_t *bench, bench_row_t *row)
{
    if (!bench->zmq_ctx)
        return bench_row_fail (row, "no zmq context");
    s_oneway_arg_t arg;
    memset (&arg, 0, sizeof arg);
    arg.path = S_ZMQ;
    arg.size = row->size;
    arg.hwm = bench->zmq_hwm;
    arg.ctx = bench->zmq_ctx;
    return bench_pair_run (bench, row, BENCH_THREADS, s_latency_receive, s_latency_send,
                           &arg, sizeof arg);
}

//  --------------------------------------------------------------------------
//  bridge

typedef struct {
    char source [64];           //  the publisher's channel
    char dest [64];             //  the feeding bridge's channel
    zshm_pub_t *pub;            //  publisher on source
    zactor_t *serve;            //  source -> tcp
    zactor_t *feed;             //  tcp -> dest
    zshm_sub_t *sub;            //  subscriber on dest
} s_route_t;

static void
s_route_destroy (s_route_t *route)
{
    zactor_destroy (&route->feed);
    zactor_destroy (&route->serve);
    zshm_sub_destroy (&route->sub);
    zshm_pub_destroy (&route->pub);
    zshm_ring_unlink (route->source);
    zshm_ring_unlink (route->dest);
    bench_cleanup_forget ();
}

//  Build publisher, bridges and subscriber over rings of `capacity` slots.
//  Returns 0, or -1 with the row failed ("bridge did not start: ..." when
//  a bridge refused to start, so that tests can tell).
static int
s_route_new (bench_t *bench, bench_row_t *row, size_t capacity, s_route_t *route)
{
    memset (route, 0, sizeof *route);
    bench_channel_name (bench, route->source, sizeof route->source, "src");
    bench_channel_name (bench, route->dest, sizeof route->dest, "dst");
    bench_cleanup_channel (0, route->source);
    bench_cleanup_channel (1, route->dest);
    size_t slot = row->size + S_RECORD_OVERHEAD;
    char endpoint [S_ENDPOINT_MAX], reason [200];
    if (bench_czmq_init ())
        return bench_row_fail (row, "cannot start CZMQ");
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=%zu&slot=%zu", route->source,
              capacity, slot);
    if (!(route->pub = zshm_pub_new (endpoint)))
        return bench_row_fail (row, "zshm_pub_new %s: %s", endpoint, strerror (errno));
    snprintf (endpoint, sizeof endpoint, "shm://%s", route->source);
    if (!(route->serve = zshm_bridge_new (endpoint, "tcp://127.0.0.1:*")))
        return bench_row_fail (row, "bridge did not start: zshm_bridge_new: %s",
                               strerror (errno));
    zshm_bridge_set (route->serve, "idle", bench->bridge_idle);
    if (zshm_bridge_start (route->serve, reason, sizeof reason))
        return bench_row_fail (row, "bridge did not start: serving: %s", reason);
    char *data = NULL, *link = NULL;
    zstr_send (route->serve, "ENDPOINTS");
    if (zstr_recvx (route->serve, &data, &link, NULL) != 2 || !data || !link
    ||  strncmp (data, "tcp://", 6) || strncmp (link, "tcp://", 6)) {
        zstr_free (&data);
        zstr_free (&link);
        return bench_row_fail (row, "bridge did not start: no tcp endpoints");
    }
    char dest [S_ENDPOINT_MAX];
    snprintf (dest, sizeof dest, "shm://%s?capacity=%zu&slot=%zu", route->dest, capacity, slot);
    route->feed = zshm_bridge_new (data, dest);
    if (route->feed) {
        zshm_bridge_set (route->feed, "link", link);
        if (zshm_bridge_start (route->feed, reason, sizeof reason)) {
            zstr_free (&data);
            zstr_free (&link);
            return bench_row_fail (row, "bridge did not start: feeding: %s", reason);
        }
    }
    zstr_free (&data);
    zstr_free (&link);
    if (!route->feed)
        return bench_row_fail (row, "bridge did not start: zshm_bridge_new: %s",
                               strerror (errno));
    snprintf (endpoint, sizeof endpoint, "shm://%s?idle=%s", route->dest, bench->bridge_idle);
    if (!(route->sub = zshm_sub_new (endpoint, "")))
        return bench_row_fail (row, "zshm_sub_new %s: %s", endpoint, strerror (errno));
    //  Attached now (zshm_sub attaches on its first receive), so that the
    //  join's probes find it there.
    zshm_sub_set_rcvtimeo (route->sub, 0);
    while (zshm_sub_recv (route->sub) >= 0)
        ;
    zshm_sub_set_rcvtimeo (route->sub, S_POLL_MS);
    return 0;
}

//  One run over a fresh route: latency (tput false) or throughput.
static int
s_bridge_run (bench_t *bench, bench_row_t *row, bool tput)
{
    size_t capacity = tput ? bench_tput_capacity (bench, row->size + S_RECORD_OVERHEAD)
                           : bench->capacity;
    s_route_t route;
    int rc = s_route_new (bench, row, capacity, &route);
    if (rc == 0) {
        s_oneway_arg_t arg;
        memset (&arg, 0, sizeof arg);
        arg.path = S_BRIDGE;
        arg.size = row->size;
        arg.pub = route.pub;
        arg.sub = route.sub;
        if (tput) {
            rc = bench_pair_run (bench, row, BENCH_THREADS, s_tput_receive, s_tput_send,
                                 &arg, sizeof arg);
            if (rc == 0) {
                bench_throughput_set (row, arg.sent, arg.received, arg.lost,
                                      arg.end - arg.start, capacity);
                if (arg.disorder)
                    rc = bench_row_fail (row, "%" PRIu64 " messages out of order",
                                         arg.disorder);
            }
        }
        else
            rc = bench_pair_run (bench, row, BENCH_THREADS, s_latency_receive,
                                 s_latency_send, &arg, sizeof arg);
    }
    s_route_destroy (&route);
    return rc;
}

int
bench_bridge (bench_t *bench, bench_row_t *row)
{
    int rc = s_bridge_run (bench, row, false);
    if (rc == 0)
        rc = s_bridge_run (bench, row, true);
    return rc;
}
