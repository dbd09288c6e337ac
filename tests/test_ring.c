/*  =========================================================================
    test_ring - the ring's semantics, on heap rings and on shared-memory
    rings, and a threaded stress on a heap ring

    Usage: test_ring [-v]
    Environment: ZSHM_TEST_STRESS_MESSAGES overrides the stress count;
    TU_SEED replays a run.

    Every scenario that does not need a process boundary runs twice: on a
    heap ring (readers follow the writer's own handle) and on a channel
    (readers follow a handle from zshm_ring_open, as another process would).
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "zshm_atomics.h"

//  Messages a ring of capacity c holds: the writer keeps the next two slots
//  dirty, or one on a 2-slot ring (see the top of plugin/zshm_ring.c).
#define HELD(c) ((c) > 2 ? (c) - 2 : (c) - 1)

static bool s_verbose = false;
static tu_rng_t s_rng;

//  A ring under test: the writer and the handle readers follow.
typedef struct {
    zshm_ring_t *writer;        //  the writer side
    zshm_ring_t *side;          //  what readers follow: writer, or opened
    char name [64];             //  channel name, "" for a heap ring
} s_pair_t;

static void
s_pair_new (s_pair_t *pair, bool shm, size_t capacity, size_t slot_size)
{
    memset (pair, 0, sizeof *pair);
    if (shm) {
        tu_channel (pair->name, sizeof pair->name, "ring");
        pair->writer = zshm_ring_new (pair->name, capacity, slot_size);
        CHECKF (pair->writer, "zshm_ring_new (%s)", pair->name);
        pair->side = zshm_ring_open (pair->name);
        CHECKF (pair->side, "zshm_ring_open (%s)", pair->name);
        CHECK (!zshm_ring_is_writer (pair->side));
    }
    else {
        pair->writer = zshm_ring_new (NULL, capacity, slot_size);
        CHECK (pair->writer);
        pair->side = pair->writer;
        CHECK (zshm_ring_name (pair->writer) == NULL);
    }
    CHECK (zshm_ring_is_writer (pair->writer));
}

static void
s_pair_destroy (s_pair_t *pair)
{
    if (pair->side != pair->writer)
        zshm_ring_destroy (&pair->side);
    zshm_ring_destroy (&pair->writer);
    CHECK (pair->writer == NULL);
    if (*pair->name)
        CHECK (zshm_ring_unlink (pair->name) == 0);
}

//  Publish test message `expected` (its size derived from it, up to the
//  slot size) and check it got that sequence number.
static void
s_send (zshm_ring_t *writer, uint64_t expected)
{
    unsigned char msg [4096];
    size_t slot = zshm_ring_slot_size (writer);
    size_t size = tu_msg_size (expected, TU_MSG_MIN, slot < sizeof msg ? slot : sizeof msg);
    tu_msg_fill (msg, expected, size);
    CHECK (zshm_ring_head (writer) == expected);
    uint64_t seq = zshm_ring_send (writer, msg, size);
    CHECKF (seq == expected, "send gave seq %llu, expected %llu",
            (unsigned long long) seq, (unsigned long long) expected);
}

//  What one reader has seen: checks order, integrity and accounting.
typedef struct {
    uint64_t last;              //  last sequence received, or the one
                                //  before the reader's start
    uint64_t delivered;         //  messages received, by our count
    uint64_t gaps;              //  sequence numbers skipped, by our count
    size_t slot_size;           //  sizes are derived up to this
} s_track_t;

static void
s_track (s_track_t *track, const void *msg, ssize_t size, uint64_t seq)
{
    CHECKF (size >= 0 && (size_t) size <= track->slot_size, "size %zd", size);
    CHECKF (seq > track->last, "seq %llu after %llu", (unsigned long long) seq,
            (unsigned long long) track->last);
    size_t slot = track->slot_size < 4096 ? track->slot_size : 4096;
    int verdict = tu_msg_verify (msg, (size_t) size, seq, tu_msg_size (seq, TU_MSG_MIN, slot));
    CHECKF (verdict == TU_MSG_OK, "message %llu (%zd bytes) is not its own: verdict %d",
            (unsigned long long) seq, size, verdict);
    //  `last` starts one before the reader's first position
    track->gaps += seq - track->last - 1;
    track->last = seq;
    track->delivered++;
}

//  Receive everything ready with try_recv; returns how many.
static uint64_t
s_drain (zshm_reader_t *reader, s_track_t *track)
{
    unsigned char buf [4096];
    uint64_t count = 0, seq;
    ssize_t size;
    while ((size = zshm_reader_try_recv (reader, buf, sizeof buf, &seq)) >= 0) {
        s_track (track, buf, size, seq);
        count++;
    }
    CHECKF (errno == EAGAIN, "try_recv on a drained ring");
    return count;
}

//  --------------------------------------------------------------------------

static void
s_test_capacity (bool shm)
{
    static const size_t cases [][2] = {
        { 0, 2 }, { 1, 2 }, { 2, 2 }, { 3, 4 }, { 4, 4 }, { 5, 8 }, { 8, 8 }, { 9, 16 },
        { 1000, 1024 }
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases [0]; index++) {
        s_pair_t pair;
        s_pair_new (&pair, shm, cases [index][0], 24);
        CHECKF (zshm_ring_capacity (pair.writer) == cases [index][1],
                "capacity %zu gave %zu, expected %zu", cases [index][0],
                zshm_ring_capacity (pair.writer), cases [index][1]);
        CHECK (zshm_ring_capacity (pair.side) == cases [index][1]);
        CHECK (zshm_ring_slot_size (pair.writer) == 24);
        CHECK (zshm_ring_slot_size (pair.side) == 24);
        s_pair_destroy (&pair);
    }
    //  No slot, or too many slots: refused
    errno = 0;
    CHECK (zshm_ring_new (shm ? "tu-never-made" : NULL, 4, 0) == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_ring_new (shm ? "tu-never-made" : NULL, (size_t) 1 << 40, 8) == NULL
           && errno == EINVAL);
}

static void
s_test_empty (bool shm)
{
    s_pair_t pair;
    s_pair_new (&pair, shm, 8, 64);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    CHECK (reader);
    CHECK (zshm_reader_position (reader) == 1);
    unsigned char buf [64];
    uint64_t seq = 12345;
    errno = 0;
    CHECK (zshm_reader_try_recv (reader, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);
    CHECK (seq == 12345);
    errno = 0;
    CHECK (zshm_reader_peek (reader, NULL, NULL) == NULL && errno == EAGAIN);
    errno = 0;
    CHECK (zshm_reader_recv_timeout (reader, buf, sizeof buf, &seq, 0) == -1 && errno == EAGAIN);
    errno = 0;
    CHECK (zshm_reader_recv_timeout (reader, buf, sizeof buf, &seq, 20) == -1 && errno == EAGAIN);
    errno = 0;
    CHECK (zshm_reader_wait (reader, 0) == -1 && errno == EAGAIN);
    //  Nothing peeked: advance refuses
    errno = 0;
    CHECK (!zshm_reader_advance (reader) && errno == EINVAL);
    CHECK (zshm_reader_delivered (reader) == 0 && zshm_reader_lost (reader) == 0);
    zshm_reader_destroy (&reader);
    zshm_reader_destroy (&reader);
    CHECK (reader == NULL);
    s_pair_destroy (&pair);
}

static void
s_test_round_trip (bool shm)
{
    s_pair_t pair;
    s_pair_new (&pair, shm, 8, 64);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    s_track_t track = { .slot_size = 64 };
    unsigned char buf [64];
    uint64_t seq;

    //  Consecutive sequence numbers from 1, many laps of an 8-slot ring
    for (uint64_t expected = 1; expected <= 100; expected++) {
        s_send (pair.writer, expected);
        CHECK (zshm_reader_wait (reader, 0) == 0);
        ssize_t size = zshm_reader_recv (reader, buf, sizeof buf, &seq);
        CHECKF (seq == expected, "received %llu, expected %llu", (unsigned long long) seq,
                (unsigned long long) expected);
        s_track (&track, buf, size, seq);
    }
    CHECK (track.gaps == 0 && zshm_reader_lost (reader) == 0);
    CHECK (zshm_reader_delivered (reader) == 100 && zshm_reader_position (reader) == 101);

    //  Bursts as long as the ring holds: nothing lost
    for (uint64_t burst = 0; burst < 20; burst++) {
        for (int count = 0; count < HELD (8); count++)
            s_send (pair.writer, zshm_ring_head (pair.writer));
        CHECK (s_drain (reader, &track) == HELD (8));
    }
    CHECK (zshm_reader_lost (reader) == 0 && track.gaps == 0);

    //  Reserve/commit: the same slot until committed, then one message
    uint64_t next = zshm_ring_head (pair.writer);
    uint64_t reserved_seq = 0, again_seq = 0;
    unsigned char *slot = (unsigned char *) zshm_ring_reserve (pair.writer, &reserved_seq);
    CHECK (slot && reserved_seq == next);
    CHECK (((uintptr_t) slot & 7) == 0);
    CHECK (zshm_ring_reserve (pair.writer, &again_seq) == slot && again_seq == next);
    CHECK (zshm_ring_reserve (pair.writer, NULL) == slot);
    //  Not yet published
    errno = 0;
    CHECK (zshm_reader_try_recv (reader, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);
    size_t size = tu_msg_size (next, TU_MSG_MIN, 64);
    tu_msg_fill (slot, next, size);
    CHECK (zshm_ring_commit (pair.writer, size) == 0);
    errno = 0;
    CHECK (zshm_ring_commit (pair.writer, size) == -1 && errno == EINVAL);
    CHECK (zshm_ring_head (pair.writer) == next + 1);
    ssize_t received = zshm_reader_recv (reader, buf, sizeof buf, &seq);
    CHECK (seq == next && received == (ssize_t) size);
    s_track (&track, buf, received, seq);

    //  A sent message reads back through peek/advance too
    s_send (pair.writer, next + 1);
    size_t peek_size = 0;
    const void *peeked = zshm_reader_peek (reader, &peek_size, &seq);
    CHECK (peeked && seq == next + 1);
    CHECK (zshm_reader_peek (reader, NULL, NULL) == peeked);     //  same again
    memcpy (buf, peeked, peek_size);
    CHECK (zshm_reader_advance (reader));
    s_track (&track, buf, (ssize_t) peek_size, seq);

    //  An empty message is a message
    CHECK (zshm_ring_send (pair.writer, buf, 0) == next + 2);
    CHECK (zshm_reader_recv (reader, buf, sizeof buf, &seq) == 0 && seq == next + 2);
    CHECK (zshm_reader_lost (reader) == 0);
    CHECK (zshm_reader_delivered (reader) == next + 2);

    //  The reader's ring handle sees the head too (sampled)
    CHECK (zshm_ring_head (pair.side) == next + 3);
    zshm_reader_destroy (&reader);
    s_pair_destroy (&pair);
}

static void
s_test_msgsize (bool shm)
{
    //  100 is not a whole number of words: the tail path matters
    enum { SLOT = 100 };
    s_pair_t pair;
    s_pair_new (&pair, shm, 4, SLOT);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    unsigned char msg [SLOT + 1], buf [SLOT + 8];
    uint64_t seq;
    tu_msg_fill (msg, 1, SLOT);

    //  One byte too many: refused, nothing published
    errno = 0;
    CHECK (zshm_ring_send (pair.writer, msg, SLOT + 1) == 0 && errno == EMSGSIZE);
    errno = 0;
    CHECK (zshm_ring_send (pair.writer, msg, SIZE_MAX) == 0 && errno == EMSGSIZE);
    CHECK (zshm_ring_head (pair.writer) == 1);
    errno = 0;
    CHECK (zshm_reader_try_recv (reader, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);

    //  Exactly a slot fits, every byte of it
    CHECK (zshm_ring_send (pair.writer, msg, SLOT) == 1);
    memset (buf, 0x5a, sizeof buf);
    CHECK (zshm_reader_recv (reader, buf, sizeof buf, &seq) == SLOT && seq == 1);
    CHECK (tu_msg_verify (buf, SLOT, 1, SLOT) == TU_MSG_OK);
    for (size_t index = SLOT; index < sizeof buf; index++)
        CHECK (buf [index] == 0x5a);

    //  Commit past the slot: refused, the reservation stays open
    uint64_t reserved;
    void *slot = zshm_ring_reserve (pair.writer, &reserved);
    CHECK (slot && reserved == 2);
    errno = 0;
    CHECK (zshm_ring_commit (pair.writer, SLOT + 1) == -1 && errno == EMSGSIZE);
    errno = 0;
    CHECK (zshm_ring_commit (pair.writer, SIZE_MAX) == -1 && errno == EMSGSIZE);
    errno = 0;
    CHECK (zshm_reader_try_recv (reader, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);
    CHECK (zshm_ring_head (pair.writer) == 2);
    tu_msg_fill (slot, 2, SLOT);
    CHECK (zshm_ring_commit (pair.writer, SLOT) == 0);
    CHECK (zshm_reader_recv (reader, buf, sizeof buf, &seq) == SLOT && seq == 2);
    CHECK (tu_msg_verify (buf, SLOT, 2, SLOT) == TU_MSG_OK);
    CHECK (zshm_reader_lost (reader) == 0);
    zshm_reader_destroy (&reader);
    s_pair_destroy (&pair);
}

static void
s_test_small_buffer (bool shm)
{
    enum { SLOT = 200, GUARD = 64 };
    s_pair_t pair;
    s_pair_new (&pair, shm, 4, SLOT);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    static const size_t maxes [] = { 0, 1, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 199 };
    unsigned char msg [SLOT], buf [SLOT + GUARD];
    for (size_t index = 0; index < sizeof maxes / sizeof maxes [0]; index++) {
        size_t max = maxes [index];
        uint64_t expected = zshm_ring_head (pair.writer), seq = 0;
        tu_msg_fill (msg, expected, SLOT);
        CHECK (zshm_ring_send (pair.writer, msg, SLOT) == expected);
        memset (buf, 0xa5, sizeof buf);
        //  Alternate the receive calls: all of them copy through s_read
        ssize_t size = index % 2
                     ? zshm_reader_try_recv (reader, buf, max, &seq)
                     : zshm_reader_recv (reader, buf, max, &seq);
        //  The whole size comes back, zmq-style, and not one byte more is
        //  written than asked for
        CHECKF (size == SLOT, "max %zu: size %zd", max, size);
        CHECK (seq == expected);
        CHECKF (memcmp (buf, msg, max) == 0, "max %zu: prefix differs", max);
        for (size_t at = max; at < sizeof buf; at++)
            CHECKF (buf [at] == 0xa5, "max %zu: byte %zu overwritten", max, at);
    }
    //  max 0 needs no buffer at all
    uint64_t expected = zshm_ring_head (pair.writer), seq = 0;
    CHECK (zshm_ring_send (pair.writer, msg, 33) == expected);
    CHECK (zshm_reader_try_recv (reader, NULL, 0, &seq) == 33 && seq == expected);
    //  And a NULL seq_p is fine
    CHECK (zshm_ring_send (pair.writer, msg, 3) == expected + 1);
    memset (buf, 0xa5, sizeof buf);
    CHECK (zshm_reader_recv (reader, buf, 2, NULL) == 3);
    CHECK (memcmp (buf, msg, 2) == 0 && buf [2] == 0xa5);
    CHECK (zshm_reader_lost (reader) == 0);
    zshm_reader_destroy (&reader);
    s_pair_destroy (&pair);
}

static void
s_test_peek_lap (bool shm)
{
    enum { CAPACITY = 8 };
    s_pair_t pair;
    s_pair_new (&pair, shm, CAPACITY, 64);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    s_track_t track = { .slot_size = 64 };
    unsigned char buf [64];
    uint64_t seq, sent = 0;

    //  Peek message p and let the writer publish up to p + capacity - 3:
    //  the slot is intact (the writer marks it dirty for p + capacity when
    //  it has committed p + capacity - 2), so advance succeeds
    s_send (pair.writer, ++sent);
    size_t size;
    const void *peeked = zshm_reader_peek (reader, &size, &seq);
    CHECK (peeked && seq == 1);
    while (sent < 1 + CAPACITY - 3)
        s_send (pair.writer, ++sent);
    memcpy (buf, peeked, size);
    CHECK (zshm_reader_advance (reader));
    s_track (&track, buf, (ssize_t) size, seq);

    //  Peek the next one; one message more than that and advance is false
    peeked = zshm_reader_peek (reader, &size, &seq);
    CHECK (peeked && seq == 2);
    while (sent < 2 + CAPACITY - 2)
        s_send (pair.writer, ++sent);
    CHECK (!zshm_reader_advance (reader));
    CHECK (zshm_reader_lost (reader) > 0);
    CHECK (zshm_reader_position (reader) > 2);

    //  Peek, then lap it many times over
    s_drain (reader, &track);
    s_send (pair.writer, ++sent);
    peeked = zshm_reader_peek (reader, &size, &seq);
    CHECK (peeked && seq == sent);
    for (int count = 0; count < 5 * CAPACITY + 3; count++)
        s_send (pair.writer, ++sent);
    CHECK (!zshm_reader_advance (reader));
    //  advance after a failed advance: nothing is peeked
    errno = 0;
    CHECK (!zshm_reader_advance (reader) && errno == EINVAL);

    //  Everything is accounted for: ours, and the reader's own
    s_drain (reader, &track);
    CHECK (track.last == sent);
    CHECKF (zshm_reader_delivered (reader) + zshm_reader_lost (reader) == sent,
            "delivered %llu + lost %llu != sent %llu",
            (unsigned long long) zshm_reader_delivered (reader),
            (unsigned long long) zshm_reader_lost (reader), (unsigned long long) sent);
    CHECK (zshm_reader_delivered (reader) == track.delivered);
    //  The reader's loss is exactly the sequence numbers we never saw
    //  (the first message was number 1, so no gap before it)
    CHECK (zshm_reader_lost (reader) == track.gaps);
    zshm_reader_destroy (&reader);
    s_pair_destroy (&pair);
}

static void
s_test_laps (bool shm)
{
    enum { CAPACITY = 16, SLOT = 72 };
    s_pair_t pair;
    s_pair_new (&pair, shm, CAPACITY, SLOT);
    zshm_reader_t *reader = zshm_reader_new (pair.side);
    s_track_t track = { .slot_size = SLOT };
    unsigned char buf [SLOT];
    uint64_t sent = 0, seq;

    for (int round = 0; round < 2000; round++) {
        //  Publish 0 to 5 ring-fulls, then read a few, sometimes by peek
        uint64_t burst = tu_rng_range (&s_rng, 0, 5 * CAPACITY);
        for (uint64_t count = 0; count < burst; count++)
            s_send (pair.writer, ++sent);
        uint64_t reads = tu_rng_range (&s_rng, 0, CAPACITY);
        for (uint64_t count = 0; count < reads; count++) {
            if (tu_rng_next (&s_rng) & 1) {
                ssize_t size = zshm_reader_try_recv (reader, buf, sizeof buf, &seq);
                if (size < 0) {
                    CHECK (errno == EAGAIN);
                    break;
                }
                s_track (&track, buf, size, seq);
            }
            else {
                size_t size;
                const void *peeked = zshm_reader_peek (reader, &size, &seq);
                if (!peeked) {
                    CHECK (errno == EAGAIN);
                    break;
                }
                CHECK (size <= SLOT);
                memcpy (buf, peeked, size);
                //  No writer runs meanwhile: the peek must hold
                CHECK (zshm_reader_advance (reader));
                s_track (&track, buf, (ssize_t) size, seq);
            }
        }
    }
    s_drain (reader, &track);
    CHECK (sent > 10 * CAPACITY);
    CHECK (zshm_reader_lost (reader) > 0);          //  it really was lapped
    CHECK (track.last == sent);
    CHECK (zshm_reader_delivered (reader) + zshm_reader_lost (reader) == sent);
    CHECK (zshm_reader_delivered (reader) == track.delivered);
    CHECK (zshm_reader_lost (reader) == track.gaps);
    CHECK (zshm_reader_position (reader) == sent + 1);
    if (s_verbose)
        printf ("   laps: sent %llu, delivered %llu, lost %llu\n", (unsigned long long) sent,
                (unsigned long long) track.delivered, (unsigned long long) track.gaps);
    zshm_reader_destroy (&reader);
    s_pair_destroy (&pair);
}

static void
s_test_readers (bool shm)
{
    enum { CAPACITY = 64 };
    s_pair_t pair;
    s_pair_new (&pair, shm, CAPACITY, 48);
    zshm_reader_t *first = zshm_reader_new (pair.side);
    zshm_reader_t *second = zshm_reader_new (pair.side);
    s_track_t first_track = { .slot_size = 48 }, second_track = { .slot_size = 48 };
    unsigned char buf [48];
    uint64_t seq;

    //  Two readers each get every message
    for (uint64_t expected = 1; expected <= 40; expected++)
        s_send (pair.writer, expected);
    CHECK (s_drain (first, &first_track) == 40);
    CHECK (s_drain (second, &second_track) == 40);
    CHECK (first_track.gaps == 0 && second_track.gaps == 0);
    CHECK (first_track.last == 40 && second_track.last == 40);
    CHECK (zshm_reader_lost (first) == 0 && zshm_reader_lost (second) == 0);

    //  A late reader starts at the next message
    zshm_reader_t *late = zshm_reader_new (pair.side);
    CHECK (zshm_reader_position (late) == 41);
    errno = 0;
    CHECK (zshm_reader_try_recv (late, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);
    s_send (pair.writer, 41);
    CHECK (zshm_reader_recv (late, buf, sizeof buf, &seq) >= 0 && seq == 41);
    CHECK (s_drain (first, &first_track) == 1 && first_track.last == 41);
    CHECK (s_drain (second, &second_track) == 1 && second_track.last == 41);
    zshm_reader_destroy (&late);

    //  seek_latest skips what is held; seek_oldest replays it
    zshm_reader_t *replay = zshm_reader_new (pair.side);
    zshm_reader_seek_oldest (replay);
    CHECK (zshm_reader_position (replay) == 1);
    s_track_t replay_track = { .slot_size = 48 };
    CHECK (s_drain (replay, &replay_track) == 41);
    CHECK (replay_track.gaps == 0 && zshm_reader_lost (replay) == 0);

    for (uint64_t expected = 42; expected <= 141; expected++)
        s_send (pair.writer, expected);
    //  The ring holds the last HELD (capacity): two slots are dirty
    zshm_reader_seek_oldest (replay);
    CHECK (zshm_reader_position (replay) == 142 - HELD (CAPACITY));
    replay_track.last = zshm_reader_position (replay) - 1;
    replay_track.delivered = 0;
    CHECK (s_drain (replay, &replay_track) == HELD (CAPACITY));
    CHECK (replay_track.last == 141 && replay_track.gaps == 0);
    CHECK (zshm_reader_lost (replay) == 0);
    zshm_reader_seek_latest (replay);
    CHECK (zshm_reader_position (replay) == 142);
    errno = 0;
    CHECK (zshm_reader_try_recv (replay, buf, sizeof buf, &seq) == -1 && errno == EAGAIN);

    //  While the writer holds a reservation, W1 has already marked the
    //  oldest slot for the next lap: the ring holds one message fewer, and
    //  a replay gets exactly those, losing none of them
    uint64_t reserved;
    unsigned char *slot = (unsigned char *) zshm_ring_reserve (pair.writer, &reserved);
    CHECK (slot && reserved == 142);
    zshm_reader_t *during = zshm_reader_new (pair.side);
    zshm_reader_seek_oldest (during);
    s_track_t during_track = { .last = zshm_reader_position (during) - 1, .slot_size = 48 };
    uint64_t replayed = s_drain (during, &during_track);
    CHECKF (replayed == CAPACITY - 2 && zshm_reader_lost (during) == 0,
            "seek_oldest during a reservation: %llu replayed of the %d held, %llu lost",
            (unsigned long long) replayed, CAPACITY - 2,
            (unsigned long long) zshm_reader_lost (during));
    CHECK (during_track.last == 141 && during_track.gaps == 0);
    size_t size = tu_msg_size (142, TU_MSG_MIN, 48);
    tu_msg_fill (slot, 142, size);
    CHECK (zshm_ring_commit (pair.writer, size) == 0);
    CHECK (s_drain (during, &during_track) == 1 && during_track.last == 142);
    CHECK (s_drain (replay, &replay_track) == 1 && replay_track.last == 142);
    zshm_reader_destroy (&during);

    //  The first two were lapped meanwhile, and account for it
    s_drain (first, &first_track);
    s_drain (second, &second_track);
    CHECK (first_track.last == 142 && second_track.last == 142);
    CHECK (zshm_reader_delivered (first) + zshm_reader_lost (first) == 142);
    CHECK (zshm_reader_delivered (second) + zshm_reader_lost (second) == 142);
    CHECK (zshm_reader_lost (first) == first_track.gaps);
    CHECK (zshm_reader_lost (second) == second_track.gaps);
    zshm_reader_destroy (&replay);
    zshm_reader_destroy (&second);
    zshm_reader_destroy (&first);
    s_pair_destroy (&pair);
}

//  --------------------------------------------------------------------------
//  Channels only

static void
s_test_names (void)
{
    char long_name [ZSHM_NAME_MAX + 2];
    memset (long_name, 'n', ZSHM_NAME_MAX + 1);
    long_name [ZSHM_NAME_MAX + 1] = 0;
    const char *bad [] = { "", "a/b", "..", ".", ".x", "/abs", "a b", "tab\t", "x\n",
                           "caf\xc3\xa9", "a\\b", long_name };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        const char *name = bad [index];
        CHECKF (!zshm_ring_name_valid (name), "name [%zu] valid", index);
        errno = 0;
        CHECKF (zshm_ring_new (name, 4, 8) == NULL && errno == EINVAL, "new name [%zu]", index);
        errno = 0;
        CHECKF (zshm_ring_new_ex (name, 4, 8, ZSHM_RING_REPLACE, 0600) == NULL
                && errno == EINVAL, "new_ex name [%zu]", index);
        errno = 0;
        CHECKF (zshm_ring_open (name) == NULL && errno == EINVAL, "open name [%zu]", index);
        errno = 0;
        CHECKF (zshm_ring_unlink (name) == -1 && errno == EINVAL, "unlink name [%zu]", index);
        errno = 0;
        CHECKF (zshm_ring_probe (name) == -1 && errno == EINVAL, "probe name [%zu]", index);
    }
    CHECK (!zshm_ring_name_valid (NULL));
    //  Exactly ZSHM_NAME_MAX characters is fine (unique: our pid leads)
    snprintf (long_name, sizeof long_name, "%d-", (int) getpid ());
    size_t length = strlen (long_name);
    memset (long_name + length, 'm', ZSHM_NAME_MAX - length);
    long_name [ZSHM_NAME_MAX] = 0;
    CHECK (zshm_ring_name_valid (long_name));
    zshm_ring_unlink (long_name);
    zshm_ring_t *writer = zshm_ring_new (long_name, 4, 8);
    CHECK (writer);
    zshm_ring_t *side = zshm_ring_open (long_name);
    CHECK (side && strcmp (zshm_ring_name (side), long_name) == 0);
    zshm_ring_destroy (&side);
    zshm_ring_destroy (&writer);
    CHECK (zshm_ring_unlink (long_name) == 0);

    //  A missing channel
    char name [64];
    tu_channel (name, sizeof name, "missing");
    errno = 0;
    CHECK (zshm_ring_open (name) == NULL && errno == ENOENT);
    errno = 0;
    CHECK (zshm_ring_unlink (name) == -1 && errno == ENOENT);
    errno = 0;
    CHECK (zshm_ring_probe (name) == -1 && errno == ENOENT);
}

static void
s_test_second_writer (void)
{
    char name [64];
    tu_channel (name, sizeof name, "busy");
    zshm_ring_t *writer = zshm_ring_new (name, 8, 32);
    CHECK (writer);
    errno = 0;
    CHECK (zshm_ring_new (name, 8, 32) == NULL && errno == EBUSY);
    //  Another layout is still someone else's live channel
    errno = 0;
    CHECK (zshm_ring_new (name, 16, 32) == NULL && errno == EBUSY);
    errno = 0;
    CHECK (zshm_ring_new_ex (name, 8, 32, ZSHM_RING_REPLACE, 0600) == NULL && errno == EBUSY);
    CHECK (zshm_ring_probe (name) == 1);
    //  The first writer is unharmed
    zshm_ring_t *side = zshm_ring_open (name);
    CHECK (side && zshm_ring_writer_alive (side));
    CHECK (zshm_ring_writer_pid (side) == getpid ());
    zshm_reader_t *reader = zshm_reader_new (side);
    s_send (writer, 1);
    s_track_t track = { .slot_size = 32 };
    CHECK (s_drain (reader, &track) == 1 && track.last == 1);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&side);
    zshm_ring_destroy (&writer);
    CHECK (zshm_ring_unlink (name) == 0);
}

static void
s_test_registry (void)
{
    char name [64];
    tu_channel (name, sizeof name, "registry");
    zshm_ring_t *writer = zshm_ring_new (name, 8, 32);
    zshm_ring_t *side = zshm_ring_open (name);
    CHECK (writer && side);
    zshm_reader_info_t info [4];
    CHECK (zshm_ring_readers (side, info, 4) == 0);
    zshm_reader_t *reader = zshm_reader_new (side);
    CHECK (zshm_ring_readers (side, info, 4) == 1);
    CHECK (zshm_ring_readers (writer, info, 4) == 1);
    CHECK (info [0].pid == getpid () && info [0].alive);
    CHECK (info [0].position == 1 && info [0].delivered == 0 && info [0].lost == 0);
    for (uint64_t seq = 1; seq <= 3; seq++)
        s_send (writer, seq);
    s_track_t track = { .slot_size = 32 };
    CHECK (s_drain (reader, &track) == 3);
    CHECK (zshm_ring_readers (side, info, 4) == 1);
    CHECK (info [0].position == 4 && info [0].delivered == 3);

    zshm_reader_t *other = zshm_reader_new (side);
    CHECK (zshm_ring_readers (side, info, 4) == 2);
    CHECK (info [0].id != info [1].id);
    //  max smaller than the count: the count still comes back
    CHECK (zshm_ring_readers (side, info, 1) == 2);
    zshm_reader_destroy (&other);
    zshm_reader_destroy (&reader);
    CHECK (zshm_ring_readers (side, info, 4) == 0);
    //  Heap rings have no registry
    zshm_ring_t *heap = zshm_ring_new (NULL, 4, 8);
    zshm_reader_t *heap_reader = zshm_reader_new (heap);
    CHECK (zshm_ring_readers (heap, info, 4) == 0);
    zshm_reader_destroy (&heap_reader);
    zshm_ring_destroy (&heap);
    zshm_ring_destroy (&side);
    zshm_ring_destroy (&writer);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  A writer child: creates the channel, says so, waits for "go", publishes
//  `count` messages and dies without cleaning up.
static pid_t
s_writer_child (const char *name, uint64_t count, int *go_fd)
{
    int ready [2], go [2];
    CHECK (pipe (ready) == 0 && pipe (go) == 0);
    pid_t pid = tu_fork ();
    if (pid == 0) {
        close (ready [0]);
        close (go [1]);
        zshm_ring_t *writer = zshm_ring_new (name, 128, 64);
        CHECK (writer);
        char byte = 'r';
        CHECK (write (ready [1], &byte, 1) == 1);
        CHECK (read (go [0], &byte, 1) == 1);
        for (uint64_t seq = 1; seq <= count; seq++)
            s_send (writer, seq);
        _exit (0);              //  no destroy: the kernel drops the lock
    }
    close (ready [1]);
    close (go [0]);
    char byte;
    CHECK (read (ready [0], &byte, 1) == 1 && byte == 'r');
    close (ready [0]);
    *go_fd = go [1];
    return pid;
}

static void
s_test_dead_writer (void)
{
    enum { COUNT = 100 };
    char name [64];
    tu_channel (name, sizeof name, "dead");
    int go_fd;
    pid_t child = s_writer_child (name, COUNT, &go_fd);
    zshm_ring_t *side = zshm_ring_open (name);
    CHECK (side && zshm_ring_writer_alive (side));
    CHECK (zshm_ring_writer_pid (side) == child);
    uint64_t incarnation = zshm_ring_incarnation (side);
    zshm_reader_t *early = zshm_reader_new (side);     //  reads while it lives
    zshm_reader_t *after = zshm_reader_new (side);     //  reads once it died
    zshm_reader_set_idle (after, ZSHM_IDLE_BLOCK);
    s_track_t early_track = { .slot_size = 64 }, after_track = { .slot_size = 64 };
    unsigned char buf [64];
    uint64_t seq;
    CHECK (write (go_fd, "g", 1) == 1);
    close (go_fd);
    for (int count = 0; count < COUNT; count++) {
        ssize_t size = zshm_reader_recv (early, buf, sizeof buf, &seq);
        CHECKF (size >= 0, "recv %d", count);
        s_track (&early_track, buf, size, seq);
    }
    int status = tu_reap (child);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    CHECK (!zshm_ring_writer_alive (side));
    CHECK (zshm_ring_probe (name) == 0);

    //  Dead: recv returns EPIPE, promptly
    int64_t start = tu_now_ns ();
    errno = 0;
    CHECK (zshm_reader_recv (early, buf, sizeof buf, &seq) == -1 && errno == EPIPE);
    int64_t elapsed = tu_now_ns () - start;
    CHECKF (elapsed < 1500000000LL, "EPIPE took %lld ms", (long long) (elapsed / 1000000));
    errno = 0;
    CHECK (zshm_reader_recv_timeout (early, buf, sizeof buf, &seq, 5000) == -1 && errno == EPIPE);
    errno = 0;
    CHECK (zshm_reader_wait (early, -1) == -1 && errno == EPIPE);
    CHECK (early_track.last == COUNT && zshm_reader_lost (early) == 0);

    //  ...but only after everything published was read
    start = tu_now_ns ();
    while (after_track.delivered < COUNT) {
        ssize_t size = zshm_reader_recv (after, buf, sizeof buf, &seq);
        CHECKF (size >= 0, "recv after death, %llu received",
                (unsigned long long) after_track.delivered);
        s_track (&after_track, buf, size, seq);
    }
    CHECK (after_track.last == COUNT && after_track.gaps == 0);
    errno = 0;
    CHECK (zshm_reader_recv (after, buf, sizeof buf, &seq) == -1 && errno == EPIPE);
    elapsed = tu_now_ns () - start;
    CHECKF (elapsed < 1500000000LL, "EPIPE (block) took %lld ms",
            (long long) (elapsed / 1000000));

    //  try_recv and peek report it too (they probe at most every 100 ms)
    zshm_reader_t *fresh = zshm_reader_new (side);
    CHECK (zshm_reader_position (fresh) == COUNT + 1);
    errno = 0;
    CHECK (zshm_reader_try_recv (fresh, buf, sizeof buf, &seq) == -1 && errno == EPIPE);
    start = tu_now_ns ();
    errno = 0;
    while (!zshm_reader_peek (fresh, NULL, NULL) && errno == EAGAIN
           && tu_now_ns () - start < 1500000000LL)
        ;
    CHECKF (errno == EPIPE, "peek on a dead ring");

    //  A new writer with the same layout takes over: the sequence continues
    zshm_ring_t *writer = zshm_ring_new (name, 128, 64);
    CHECK (writer);
    CHECK (zshm_ring_head (writer) == COUNT + 1);
    CHECK (zshm_ring_writer_alive (side));
    CHECK (zshm_ring_writer_pid (side) == getpid ());
    CHECK (zshm_ring_incarnation (side) != incarnation);
    zshm_ring_info_t info;
    CHECK (zshm_ring_info (side, &info) == 0 && info.takeovers == 1 && info.writer_alive);
    for (uint64_t expected = COUNT + 1; expected <= COUNT + 10; expected++)
        s_send (writer, expected);
    //  Readers that saw EPIPE carry on where they were
    CHECK (s_drain (early, &early_track) == 10);
    CHECK (s_drain (after, &after_track) == 10);
    s_track_t fresh_track = { .last = COUNT, .slot_size = 64 };
    CHECK (s_drain (fresh, &fresh_track) == 10 && fresh_track.gaps == 0);
    CHECK (early_track.last == COUNT + 10 && early_track.gaps == 0);
    CHECK (after_track.last == COUNT + 10 && after_track.gaps == 0);
    CHECK (zshm_reader_lost (early) == 0 && zshm_reader_lost (after) == 0);
    CHECK (zshm_reader_position (fresh) == COUNT + 11);
    //  Another layout is refused while the dead writer's segment stays
    zshm_ring_destroy (&writer);
    errno = 0;
    CHECK (zshm_ring_new (name, 256, 64) == NULL && errno == EEXIST);

    zshm_reader_destroy (&fresh);
    zshm_reader_destroy (&after);
    zshm_reader_destroy (&early);
    zshm_ring_destroy (&side);
    CHECK (zshm_ring_unlink (name) == 0);

    //  Heap rings never report EPIPE: their writer is this process
    zshm_ring_t *heap = zshm_ring_new (NULL, 4, 8);
    zshm_reader_t *reader = zshm_reader_new (heap);
    CHECK (zshm_ring_writer_alive (heap));
    errno = 0;
    CHECK (zshm_reader_recv_timeout (reader, buf, 8, &seq, 150) == -1 && errno == EAGAIN);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&heap);
}

//  --------------------------------------------------------------------------
//  Threaded stress: a writer thread and two reader threads on a heap ring

typedef struct {
    zshm_ring_t *ring;          //  the heap ring
    uint64_t count;             //  messages the writer publishes
    int index;                  //  reader number
    _Atomic int ready;          //  reader: registered, may start
    uint64_t delivered;         //  reader: messages received
    uint64_t gaps;              //  reader: sequences skipped
    uint64_t lost;              //  reader: zshm_reader_lost at the end
    uint64_t reader_delivered;  //  reader: zshm_reader_delivered at the end
    uint64_t last;              //  reader: last sequence received
    uint64_t seed;              //  reader: for its dawdling
} s_stress_t;

static void *
s_stress_reader (void *arg)
{
    s_stress_t *self = (s_stress_t *) arg;
    zshm_reader_t *reader = zshm_reader_new (self->ring);
    CHECK (reader);
    //  Reader 1 spins; reader 0 backs off, and now and then dawdles so it
    //  gets lapped
    zshm_reader_set_idle (reader, self->index ? ZSHM_IDLE_SPIN : ZSHM_IDLE_BACKOFF);
    s_track_t track = { .slot_size = zshm_ring_slot_size (self->ring) };
    tu_rng_t rng;
    tu_rng_seed (&rng, self->seed);
    unsigned char buf [4096];
    atomic_store (&self->ready, 1);
    while (track.last < self->count) {
        uint64_t seq;
        ssize_t size = zshm_reader_recv (reader, buf, sizeof buf, &seq);
        CHECKF (size >= 0, "stress reader %d: recv", self->index);
        s_track (&track, buf, size, seq);
        if (self->index == 0 && (tu_rng_next (&rng) & 0xffff) == 0)
            tu_sleep_ns (200000);
    }
    self->delivered = track.delivered;
    self->gaps = track.gaps;
    self->last = track.last;
    self->lost = zshm_reader_lost (reader);
    self->reader_delivered = zshm_reader_delivered (reader);
    zshm_reader_destroy (&reader);
    return NULL;
}

static void *
s_stress_writer (void *arg)
{
    s_stress_t *self = (s_stress_t *) arg;
    tu_rng_t rng;
    tu_rng_seed (&rng, self->seed);
    uint64_t capacity = zshm_ring_capacity (self->ring);
    uint64_t burst_end = 0;
    for (uint64_t seq = 1; seq <= self->count; seq++) {
        //  Bursts of up to two rings, then now and then a short pause: the
        //  readers are lapped in the bursts and catch up in the pauses, so
        //  they both lose and receive plenty, with copies racing the writer
        if (seq >= burst_end) {
            burst_end = seq + tu_rng_range (&rng, 1, 2 * capacity);
            if (tu_rng_next (&rng) & 1)
                tu_sleep_ns ((int64_t) tu_rng_range (&rng, 1000, 50000));
        }
        //  Half by send, half by reserve/commit
        if (seq & 1)
            s_send (self->ring, seq);
        else {
            uint64_t reserved;
            void *slot = zshm_ring_reserve (self->ring, &reserved);
            CHECK (reserved == seq);
            size_t size = tu_msg_size (seq, TU_MSG_MIN, zshm_ring_slot_size (self->ring));
            //  Built aside, then stored word by word with relaxed atomics:
            //  a lapped reader may be copying this slot right now, and a
            //  plain store racing its copy is a data race (in C11 and for
            //  TSan) even though the reader throws the copy away.
            unsigned char local [512];
            CHECK (size <= sizeof local);
            tu_msg_fill (local, seq, size);
            zshm_copy_to_shared (slot, local, size);
            CHECK (zshm_ring_commit (self->ring, size) == 0);
        }
    }
    return NULL;
}

static void
s_test_stress (void)
{
    uint64_t count = tu_env_u64 ("ZSHM_TEST_STRESS_MESSAGES", 3000000);
    zshm_ring_t *ring = zshm_ring_new (NULL, 256, 120);
    CHECK (ring);
    s_stress_t readers [2];
    pthread_t threads [2], writer;
    for (int index = 0; index < 2; index++) {
        memset (&readers [index], 0, sizeof readers [index]);
        readers [index].ring = ring;
        readers [index].count = count;
        readers [index].index = index;
        readers [index].seed = tu_rng_next (&s_rng);
        CHECK (pthread_create (&threads [index], NULL, s_stress_reader, &readers [index]) == 0);
    }
    for (int index = 0; index < 2; index++)
        while (!atomic_load (&readers [index].ready))
            tu_sleep_ns (100000);
    s_stress_t write_args = { .ring = ring, .count = count, .seed = tu_rng_next (&s_rng) };
    int64_t start = tu_now_ns ();
    CHECK (pthread_create (&writer, NULL, s_stress_writer, &write_args) == 0);
    CHECK (pthread_join (writer, NULL) == 0);
    for (int index = 0; index < 2; index++)
        CHECK (pthread_join (threads [index], NULL) == 0);
    double seconds = (double) (tu_now_ns () - start) / 1e9;
    for (int index = 0; index < 2; index++) {
        s_stress_t *reader = &readers [index];
        CHECK (reader->last == count);
        CHECKF (reader->delivered + reader->lost == count,
                "stress reader %d: delivered %llu + lost %llu != %llu", index,
                (unsigned long long) reader->delivered, (unsigned long long) reader->lost,
                (unsigned long long) count);
        CHECK (reader->reader_delivered == reader->delivered);
        CHECK (reader->gaps == reader->lost);
        if (s_verbose)
            printf ("   stress reader %d: %llu delivered, %llu lost (%.1f%%)\n", index,
                    (unsigned long long) reader->delivered, (unsigned long long) reader->lost,
                    100.0 * (double) reader->lost / (double) count);
    }
    if (s_verbose)
        printf ("   stress: %llu messages in %.2f s\n", (unsigned long long) count, seconds);
    zshm_ring_destroy (&ring);
}

//  --------------------------------------------------------------------------

//  Run one scenario in a child process, so that a failure is reported and
//  the other scenarios still run.  Returns 1 if it failed.
static int
s_run (const char *title, void (*test) (bool), bool shm)
{
    if (s_verbose)
        printf (" * %s (%s)\n", title, shm ? "channel" : "heap");
    tu_rng_next (&s_rng);       //  each scenario its own random numbers
    pid_t child = tu_fork ();
    if (child == 0) {
        test (shm);
        _exit (TU_PASS);
    }
    int status = tu_reap (child);
    tu_cleanup (child);
    if (WIFEXITED (status) && WEXITSTATUS (status) == TU_PASS)
        return 0;
    char text [64];
    fprintf (stderr, "test_ring: %s (%s) failed: %s\n", title, shm ? "channel" : "heap",
             tu_status (status, text, sizeof text));
    return 1;
}

static void s_test_names_any (bool shm) { s_test_names (); }
static void s_test_second_writer_any (bool shm) { s_test_second_writer (); }
static void s_test_registry_any (bool shm) { s_test_registry (); }
static void s_test_dead_writer_any (bool shm) { s_test_dead_writer (); }
static void s_test_stress_any (bool shm) { s_test_stress (); }

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    setvbuf (stdout, NULL, _IOLBF, 0);
    tu_require_shm ("test_ring");
    uint64_t seed = tu_seed ();
    tu_rng_seed (&s_rng, seed);
    printf ("test_ring: seed 0x%llx\n", (unsigned long long) seed);
    tu_watchdog (240);

    int failures = 0;
    for (int shm = 0; shm <= 1; shm++) {
        failures += s_run ("capacity", s_test_capacity, shm);
        failures += s_run ("empty", s_test_empty, shm);
        failures += s_run ("round trip", s_test_round_trip, shm);
        failures += s_run ("EMSGSIZE", s_test_msgsize, shm);
        failures += s_run ("small buffer", s_test_small_buffer, shm);
        failures += s_run ("peek and lap", s_test_peek_lap, shm);
        failures += s_run ("laps", s_test_laps, shm);
        failures += s_run ("readers", s_test_readers, shm);
    }
    failures += s_run ("names", s_test_names_any, true);
    failures += s_run ("second writer", s_test_second_writer_any, true);
    failures += s_run ("registry", s_test_registry_any, true);
    failures += s_run ("dead writer and takeover", s_test_dead_writer_any, true);
    failures += s_run ("threaded stress", s_test_stress_any, false);
    if (failures) {
        printf ("test_ring: FAIL (%d scenarios)\n", failures);
        return TU_FAIL;
    }
    printf ("test_ring: OK\n");
    return TU_PASS;
}
