/*  =========================================================================
    zshm_reader - one reader's cursor on a zshm_ring

    The reader's half of the protocol drawn at the top of zshm_ring.c lives
    in s_read (R1-R5) and zshm_reader_peek/advance (the same steps split in
    two; their common case is also inline, for the subscriber, in
    zshm_reader_priv.h).  Everything else here is waiting: idle
    strategies, the futex for `block`, and the liveness probe that turns a
    dead writer into EPIPE.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "zshm_reader_priv.h"

//  How often a waiting reader asks whether the writer is still alive.  A
//  dead writer is reported within this interval plus one poll.
#define ZSHM_LIVENESS_NS   (100 * 1000000LL)
//  Longest single futex sleep for `block`.  It bounds the rare lost wake-up
//  (see s_block) and how late a sleeping reader notices a dead writer.
#define ZSHM_BLOCK_SLEEP_NS (2 * 1000000LL)
//  `block` and `backoff` spin this many polls before they yield or sleep.
#define ZSHM_SPIN_POLLS    200
//  Empty try_recv calls between two looks at the clock.
#define ZSHM_TRY_POLLS     1024

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

//  Claim a registry entry so that tools can see this reader.  An entry is
//  free when its pid is 0 or names a dead process, so a reader that was
//  killed cannot wedge the registry.
static zshm_reader_entry_t *
s_register (zshm_ring_t *ring)
{
    if (ring->fd < 0 || !ring->control_writable)
        return NULL;
    uint32_t self = (uint32_t) getpid ();
    for (int index = 0; index < ZSHM_MAX_READERS; index++) {
        zshm_reader_entry_t *entry = &ring->control->readers [index];
        uint32_t owner = zshm_load_relaxed (&entry->pid);
        bool free_entry = owner == 0
            || (owner != self && kill ((pid_t) owner, 0) == -1 && errno == ESRCH);
        //  Acquire on success: we own the line from here on; the previous
        //  owner's last stores (release in s_unregister) are behind us.
        if (free_entry
        &&  atomic_compare_exchange_strong_explicit (&entry->pid, &owner, self,
                                                     memory_order_acquire,
                                                     memory_order_relaxed)) {
            //  A reader that died asleep is still counted among the
            //  waiters: uncount it, so the writer stops waking nobody.
            if (zshm_load_relaxed (&entry->flags) & ZSHM_READER_SLEEPING)
                atomic_fetch_sub_explicit (&ring->control->waiters, 1, memory_order_relaxed);
            zshm_store_relaxed (&entry->flags, 0);
            uint64_t id = 0;
            if (getrandom (&id, sizeof id, GRND_NONBLOCK) != sizeof id)
                id = (uint64_t) s_now_ns ();
            zshm_store_relaxed (&entry->id, id);
            zshm_store_relaxed (&entry->lost, 0);
            zshm_store_relaxed (&entry->delivered, 0);
            return entry;
        }
    }
    return NULL;                //  full: we work, unlisted
}

static void
s_unregister (zshm_reader_entry_t *entry)
{
    if (entry)
        //  Release: our last counter stores happen before the entry is free.
        zshm_store_release (&entry->pid, 0);
}

zshm_reader_t *
zshm_reader_new (zshm_ring_t *ring)
{
    assert (ring);
    zshm_reader_t *self = (zshm_reader_t *) calloc (1, sizeof (zshm_reader_t));
    if (!self)
        return NULL;
    self->ring = ring;
    self->idle = ZSHM_IDLE_SPIN;
    self->entry = s_register (ring);
    zshm_reader_seek_latest (self);
    return self;
}

void
zshm_reader_destroy (zshm_reader_t **self_p)
{
    assert (self_p);
    zshm_reader_t *self = *self_p;
    if (self) {
        s_unregister (self->entry);
        free (self);
        *self_p = NULL;
    }
}

//  We expected `position` but its slot's `state` is a later lap: the writer
//  overwrote what we wanted.  Resume half a ring behind the writer, the
//  middle of what the ring still holds, so we are not lapped again at once,
//  and count everything skipped as lost.  We always move forward.
static void
s_resync (zshm_reader_t *self, uint64_t state)
{
    uint64_t half = self->ring->capacity / 2;
    //  The newest message surely published: a clean state's own; for a
    //  dirty mark, two before it (W1 of seq runs at the latest in the
    //  reserve of seq-1, at the earliest after the commit of seq-2).
    uint64_t seq = state & ZSHM_SEQ_MASK;
    uint64_t newest = !(state & ZSHM_DIRTY) ? seq : seq > 2 ? seq - 2 : 0;
    uint64_t target = newest + 1 > half ? newest + 1 - half : 0;
    //  The writer may be up to a ring past `seq` already; its head (relaxed,
    //  a hint that only ever lags) keeps us off slots about to go.
    uint64_t head = zshm_load_relaxed (&self->ring->header->head);
    if (head > half && head - half > target)
        target = head - half;
    if (target <= self->position)
        target = self->position + 1;
    self->lost += target - self->position;
    self->position = target;
    self->peeked = false;
    zshm_reader_publish (self);
}

//  How a state word compares to what we expect.
typedef enum { S_WAIT, S_READY, S_LAPPED } s_verdict_t;

static inline s_verdict_t
s_judge (uint64_t state, uint64_t expected)
{
    uint64_t seq = state & ZSHM_SEQ_MASK;
    if (seq > expected)
        return S_LAPPED;        //  a later lap, dirty or clean
    if (seq == expected && !(state & ZSHM_DIRTY))
        return S_READY;
    return S_WAIT;              //  being written, or still an older lap
}

//  The reader's protocol, R1 to R5.  Returns 1 with a message copied (at
//  most max bytes) and its size and sequence stored, or 0 if none is ready.
//  Bounded: a hostile segment cannot keep us here.
static int
s_read (zshm_reader_t *self, void *buf, size_t max, size_t *size_p, uint64_t *seq_p)
{
    zshm_ring_t *ring = self->ring;
    self->peeked = false;
    for (uint64_t round = 0; round <= ring->capacity; round++) {
        uint64_t expected = self->position;
        zshm_slot_t *slot = zshm_ring_slot (ring, expected);
        //  R1: pairs with the writer's W4 release; makes the length and
        //  payload of `expected` visible below.
        uint64_t state = zshm_load_acquire (&slot->state);
        s_verdict_t verdict = s_judge (state, expected);
        if (verdict == S_WAIT)
            return 0;
        if (verdict == S_LAPPED) {
            s_resync (self, state);
            continue;
        }
        //  R2: the length, clamped so that no copy leaves the slot.
        size_t size = zshm_load_relaxed (&slot->length);
        size_t copy = size < max ? size : max;
        if (copy > ring->slot_size)
            copy = ring->slot_size;
        //  R3: into private memory.
        if (copy)
            zshm_copy_from_shared (buf, slot->payload, copy);
        //  R4: pairs with the writer's W2; if R3 saw any of a later lap's
        //  payload, R5 sees that lap's dirty mark.
        zshm_fence_acquire ();
        //  R5
        uint64_t again = zshm_load_relaxed (&slot->state);
        if (again != state) {
            //  Torn: overwritten while we copied.  Discard the copy.
            s_resync (self, again);
            continue;
        }
        self->position = expected + 1;
        if (size > ring->slot_size) {
            //  A stable length that cannot be: a corrupt segment, not a
            //  race.  Count it lost rather than deliver garbage.
            self->lost++;
            zshm_reader_publish (self);
            continue;
        }
        self->delivered++;
        zshm_reader_publish (self);
        *size_p = size;
        if (seq_p)
            *seq_p = expected;
        return 1;
    }
    return 0;
}

//  True if s_read would act now (a message, or a lap to resolve).
static inline bool
s_ready (zshm_reader_t *self)
{
    zshm_slot_t *slot = zshm_ring_slot (self->ring, self->position);
    return s_judge (zshm_load_acquire (&slot->state), self->position) != S_WAIT;
}

//  `block`: tell the writer we sleep, look once more, sleep on the futex.
//
//  The writer wakes us only if it sees waiters != 0 after its commit, and
//  it loads that word without a fence so that publishing costs nothing when
//  nobody sleeps.  A commit that races our registration can therefore be
//  missed (its waiters load may pass its own state store); we then sleep
//  until the timeout, ZSHM_BLOCK_SLEEP_NS at most, instead of for ever.
static void
s_block (zshm_reader_t *self, int64_t sleep_ns)
{
    zshm_ring_t *ring = self->ring;
    if (!ring->control_writable) {
        //  A read-only mapping cannot register; poll gently instead.
        struct timespec pause = { 0, 200000 };
        nanosleep (&pause, NULL);
        return;
    }
    zshm_control_t *control = ring->control;
    //  Seq_cst: our registration is visible before we look at the slot
    //  again (pairs with the writer's waiters load after W4).
    atomic_fetch_add_explicit (&control->waiters, 1, memory_order_seq_cst);
    //  Counted, then flagged (and unflagged before uncounted): a reader
    //  killed in between leaks one count at worst, never uncounts twice.
    //  Relaxed: only whoever reclaims our entry after we died reads it.
    if (self->entry)
        zshm_store_relaxed (&self->entry->flags, ZSHM_READER_SLEEPING);
    //  Acquire: pairs with the release in zshm_ring_wake.
    uint32_t seen = zshm_load_acquire (&control->futex);
    if (!s_ready (self))
        zshm_ring_sleep (ring, seen, sleep_ns);
    if (self->entry)
        zshm_store_relaxed (&self->entry->flags, 0);
    atomic_fetch_sub_explicit (&control->waiters, 1, memory_order_relaxed);
}

int
zshm_reader_wait (zshm_reader_t *self, int timeout_ms)
{
    assert (self);
    if (s_ready (self))
        return 0;
    int64_t now = s_now_ns ();
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : now + (int64_t) timeout_ms * 1000000LL;
    int64_t sleep_ns = 1000;           //  backoff's current sleep
    for (uint64_t polls = 0;; polls++) {
        //  While it only spins (spin, and the first polls of backoff and
        //  block) it looks at the clock every 64 polls: a clock read costs
        //  as much as a poll.  Past that every poll is a system call anyway.
        bool spinning = self->idle == ZSHM_IDLE_SPIN
                     || (self->idle != ZSHM_IDLE_YIELD && polls < ZSHM_SPIN_POLLS);
        if (timeout_ms == 0 || (polls & 63) == 0 || !spinning) {
            now = s_now_ns ();
            //  The probe costs system calls: at most one per interval,
            //  across calls (shared with try_recv's).
            if (now >= self->next_liveness_ns) {
                self->next_liveness_ns = now + ZSHM_LIVENESS_NS;
                if (!zshm_ring_writer_alive (self->ring)) {
                    //  Whatever it published before dying comes first.
                    if (s_ready (self))
                        return 0;
                    errno = EPIPE;
                    return -1;
                }
            }
            if (now >= deadline) {
                errno = EAGAIN;
                return -1;
            }
        }
        switch (self->idle) {
            case ZSHM_IDLE_SPIN:
                zshm_cpu_relax ();
                break;
            case ZSHM_IDLE_YIELD:
                sched_yield ();
                break;
            case ZSHM_IDLE_BACKOFF:
                if (polls < ZSHM_SPIN_POLLS)
                    zshm_cpu_relax ();
                else
                if (polls < 2 * ZSHM_SPIN_POLLS)
                    sched_yield ();
                else {
                    int64_t left = deadline - now;
                    int64_t nap = sleep_ns < left ? sleep_ns : left;
                    struct timespec pause = { 0, (long) nap };
                    nanosleep (&pause, NULL);
                    if (sleep_ns < 1000000)
                        sleep_ns *= 2;
                }
                break;
            case ZSHM_IDLE_BLOCK:
                if (polls < ZSHM_SPIN_POLLS)
                    zshm_cpu_relax ();
                else {
                    int64_t left = deadline - now;
                    s_block (self, left < ZSHM_BLOCK_SLEEP_NS ? left : ZSHM_BLOCK_SLEEP_NS);
                }
                break;
        }
        if (s_ready (self))
            return 0;
    }
}

//  No message: EAGAIN, or EPIPE if the writer is dead.  Probing liveness
//  costs system calls, so an empty poll looks at the clock only every
//  ZSHM_TRY_POLLS calls and probes at most every ZSHM_LIVENESS_NS.
static ssize_t
s_nothing (zshm_reader_t *self)
{
    errno = EAGAIN;
    if (++self->empty_polls >= ZSHM_TRY_POLLS || self->next_liveness_ns == 0) {
        self->empty_polls = 0;
        int64_t now = s_now_ns ();
        if (now >= self->next_liveness_ns) {
            self->next_liveness_ns = now + ZSHM_LIVENESS_NS;
            if (!zshm_ring_writer_alive (self->ring) && !s_ready (self))
                errno = EPIPE;
        }
    }
    return -1;
}

ssize_t
zshm_reader_try_recv (zshm_reader_t *self, void *buf, size_t max, uint64_t *seq_p)
{
    assert (self);
    assert (buf || max == 0);
    size_t size;
    if (s_read (self, buf, max, &size, seq_p))
        return (ssize_t) size;
    return s_nothing (self);
}

ssize_t
zshm_reader_recv_timeout (zshm_reader_t *self, void *buf, size_t max, uint64_t *seq_p,
                          int timeout_ms)
{
    assert (self);
    assert (buf || max == 0);
    int64_t deadline = timeout_ms < 0 ? INT64_MAX
                     : s_now_ns () + (int64_t) timeout_ms * 1000000LL;
    for (;;) {
        size_t size;
        if (s_read (self, buf, max, &size, seq_p))
            return (ssize_t) size;
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - s_now_ns ();
            wait_ms = left > 0 ? (int) ((left + 999999) / 1000000) : 0;
        }
        if (zshm_reader_wait (self, wait_ms))
            return -1;
    }
}

ssize_t
zshm_reader_recv (zshm_reader_t *self, void *buf, size_t max, uint64_t *seq_p)
{
    return zshm_reader_recv_timeout (self, buf, max, seq_p, -1);
}

const void *
zshm_reader_peek (zshm_reader_t *self, size_t *size_p, uint64_t *seq_p)
{
    assert (self);
    zshm_ring_t *ring = self->ring;
    for (uint64_t round = 0; round <= ring->capacity; round++) {
        uint64_t expected = self->position;
        zshm_slot_t *slot = zshm_ring_slot (ring, expected);
        uint64_t state = zshm_load_acquire (&slot->state);          //  R1
        s_verdict_t verdict = s_judge (state, expected);
        if (verdict == S_WAIT)
            break;
        if (verdict == S_LAPPED) {
            s_resync (self, state);
            continue;
        }
        size_t size = zshm_load_relaxed (&slot->length);            //  R2
        if (size > ring->slot_size) {
            //  Torn or corrupt: R4/R5 decide which.
            zshm_fence_acquire ();
            uint64_t again = zshm_load_relaxed (&slot->state);
            if (again != state)
                s_resync (self, again);
            else {
                self->position++;
                self->lost++;
                zshm_reader_publish (self);
            }
            continue;
        }
        //  R3 is the caller's; advance runs R4 and R5.
        self->peeked = true;
        self->peek_state = state;
        if (size_p)
            *size_p = size;
        if (seq_p)
            *seq_p = expected;
        return slot->payload;
    }
    self->peeked = false;
    s_nothing (self);
    return NULL;
}

bool
zshm_reader_advance (zshm_reader_t *self)
{
    assert (self);
    if (!self->peeked) {
        errno = EINVAL;
        return false;
    }
    self->peeked = false;
    zshm_slot_t *slot = zshm_ring_slot (self->ring, self->position);
    //  R4: pairs with W2, as in s_read: if the caller's reads saw any of a
    //  later lap, R5 sees its dirty mark.
    zshm_fence_acquire ();
    uint64_t again = zshm_load_relaxed (&slot->state);              //  R5
    if (again != self->peek_state) {
        s_resync (self, again);
        return false;
    }
    self->position++;
    self->delivered++;
    zshm_reader_publish (self);
    return true;
}

uint64_t
zshm_reader_lost (zshm_reader_t *self)
{
    assert (self);
    return self->lost;
}

uint64_t
zshm_reader_delivered (zshm_reader_t *self)
{
    assert (self);
    return self->delivered;
}

uint64_t
zshm_reader_position (zshm_reader_t *self)
{
    assert (self);
    return self->position;
}

void
zshm_reader_seek_oldest (zshm_reader_t *self)
{
    assert (self);
    //  The ring holds head-capacity+1 .. head-1; slot (head) is dirty.
    uint64_t head = zshm_load_relaxed (&self->ring->header->head);
    uint64_t span = self->ring->capacity - 1;
    uint64_t position = head > span ? head - span : 1;
    //  The writer marks slots dirty ahead of their next lap (one or two
    //  past head, see zshm_ring_commit); those are gone already: the
    //  oldest message still held is after them.
    //  Relaxed: a mark that lands after this load is an ordinary lap.
    while (position < head
    &&  (zshm_load_relaxed (&zshm_ring_slot (self->ring, position)->state) & ZSHM_DIRTY))
        position++;
    self->position = position;
    self->peeked = false;
    zshm_reader_publish (self);
}

void
zshm_reader_seek_latest (zshm_reader_t *self)
{
    assert (self);
    //  Relaxed: the head only chooses where we start; the slot's own state
    //  word (R1) decides what we read.
    uint64_t head = zshm_load_relaxed (&self->ring->header->head);
    self->position = head ? head : 1;
    self->peeked = false;
    zshm_reader_publish (self);
}

void
zshm_reader_set_idle (zshm_reader_t *self, zshm_idle_t idle)
{
    assert (self);
    assert (idle >= ZSHM_IDLE_SPIN && idle <= ZSHM_IDLE_BLOCK);
    self->idle = idle;
}

zshm_idle_t
zshm_reader_idle (zshm_reader_t *self)
{
    assert (self);
    return self->idle;
}

static const char *s_idle_names [] = { "spin", "yield", "backoff", "block" };

int
zshm_idle_parse (const char *text, zshm_idle_t *idle_p)
{
    for (int index = 0; text && index < 4; index++)
        if (strcmp (text, s_idle_names [index]) == 0) {
            if (idle_p)
                *idle_p = (zshm_idle_t) index;
            return 0;
        }
    errno = EINVAL;
    return -1;
}

const char *
zshm_idle_name (zshm_idle_t idle)
{
    return idle >= ZSHM_IDLE_SPIN && idle <= ZSHM_IDLE_BLOCK ? s_idle_names [idle] : "?";
}

//  --------------------------------------------------------------------------
//  Self test

typedef struct {
    zshm_ring_t *ring;
    int count;
    zshm_idle_t idle;
    int received;
} s_thread_args_t;

static void *
s_reader_thread (void *arg)
{
    s_thread_args_t *args = (s_thread_args_t *) arg;
    zshm_reader_t *reader = zshm_reader_new (args->ring);
    zshm_reader_set_idle (reader, args->idle);
    //  Signal readiness by position: the main thread waits for us to be
    //  created before it sends.
    __atomic_store_n (&args->received, -1, __ATOMIC_RELEASE);
    int received = 0;
    uint64_t value, seq;
    while (received < args->count) {
        //  A generous timeout: a failure here is a lost wake-up, and must
        //  fail the test rather than hang it.
        ssize_t size = zshm_reader_recv_timeout (reader, &value, sizeof value, &seq, 30000);
        assert (size == sizeof value);
        assert (value == seq);
        received++;
    }
    assert (zshm_reader_lost (reader) == 0);
    zshm_reader_destroy (&reader);
    __atomic_store_n (&args->received, received, __ATOMIC_RELEASE);
    return NULL;
}

void
zshm_reader_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_reader: ");

    zshm_ring_t *ring = zshm_ring_new (NULL, 8, 16);
    assert (ring);
    zshm_reader_t *reader = zshm_reader_new (ring);
    assert (reader);
    char buffer [16];
    uint64_t seq = 0;
    errno = 0;
    assert (zshm_reader_try_recv (reader, buffer, sizeof buffer, &seq) == -1 && errno == EAGAIN);
    assert (zshm_reader_peek (reader, NULL, NULL) == NULL && errno == EAGAIN);
    assert (zshm_reader_recv_timeout (reader, buffer, sizeof buffer, &seq, 10) == -1
            && errno == EAGAIN);
    assert (!zshm_reader_advance (reader) && errno == EINVAL);

    assert (zshm_ring_send (ring, "hello", 5) == 1);
    assert (zshm_reader_try_recv (reader, buffer, sizeof buffer, &seq) == 5 && seq == 1);
    assert (memcmp (buffer, "hello", 5) == 0);

    //  Truncation, zmq style: the whole size comes back, the copy stops
    assert (zshm_ring_send (ring, "0123456789", 10) == 2);
    memset (buffer, '#', sizeof buffer);
    assert (zshm_reader_try_recv (reader, buffer, 4, &seq) == 10 && seq == 2);
    assert (memcmp (buffer, "0123####", 8) == 0);

    //  Peek and advance
    assert (zshm_ring_send (ring, "peek", 4) == 3);
    size_t size = 0;
    const char *bytes = (const char *) zshm_reader_peek (reader, &size, &seq);
    assert (bytes && size == 4 && seq == 3 && memcmp (bytes, "peek", 4) == 0);
    assert (zshm_reader_peek (reader, NULL, NULL) == bytes);
    assert (zshm_reader_advance (reader));
    assert (zshm_reader_delivered (reader) == 3);

    //  Peek, then lap: advance is false and the loss is counted
    assert (zshm_ring_send (ring, "lapped", 6) == 4);
    assert (zshm_reader_peek (reader, &size, &seq) && seq == 4);
    for (int count = 0; count < 20; count++)
        zshm_ring_send (ring, "x", 1);
    assert (!zshm_reader_advance (reader));
    assert (zshm_reader_lost (reader) > 0);
    //  Everything is accounted for
    while (zshm_reader_try_recv (reader, buffer, sizeof buffer, &seq) >= 0)
        ;
    assert (zshm_reader_delivered (reader) + zshm_reader_lost (reader) == 24);
    assert (zshm_reader_position (reader) == 25);

    //  Replay from the oldest message still held
    zshm_reader_t *replay = zshm_reader_new (ring);
    //  (an 8-slot ring holds 6: the writer keeps two slots dirty)
    zshm_reader_seek_oldest (replay);
    assert (zshm_reader_position (replay) == 25 - 6);
    int replayed = 0;
    while (zshm_reader_try_recv (replay, buffer, sizeof buffer, &seq) >= 0)
        replayed++;
    assert (replayed == 6 && zshm_reader_lost (replay) == 0);
    zshm_reader_destroy (&replay);
    zshm_reader_destroy (&reader);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);

    //  Idle strategies, threads
    assert (zshm_idle_parse ("backoff", NULL) == 0);
    zshm_idle_t idle;
    assert (zshm_idle_parse ("block", &idle) == 0 && idle == ZSHM_IDLE_BLOCK);
    assert (zshm_idle_parse ("nap", &idle) == -1 && errno == EINVAL);
    for (int strategy = ZSHM_IDLE_SPIN; strategy <= ZSHM_IDLE_BLOCK; strategy++) {
        //  Room for every message: however slowly a loaded machine runs
        //  the reader, it is never lapped, so it must get all of them.
        ring = zshm_ring_new (NULL, 4096, 8);
        s_thread_args_t args = { ring, 2000, (zshm_idle_t) strategy, 0 };
        pthread_t thread;
        assert (pthread_create (&thread, NULL, s_reader_thread, &args) == 0);
        while (__atomic_load_n (&args.received, __ATOMIC_ACQUIRE) == 0)
            sched_yield ();
        for (uint64_t value = 1; value <= 2000; value++) {
            assert (zshm_ring_send (ring, &value, sizeof value) == value);
            if (value % 256 == 0)
                usleep (1000);      //  let a sleeping reader sleep
        }
        pthread_join (thread, NULL);
        assert (args.received == 2000);
        zshm_ring_destroy (&ring);
    }

    if (verbose)
        printf ("OK\n");
}
