/*  =========================================================================
    test_pubsub_procs - zshm_pub and zshm_sub across processes

    restart    Two subscriber processes, made before any publisher.  A
               publisher is killed with SIGKILL and restarted twice: once
               taking over the same segment, once replacing it with another
               layout.  Each subscriber sees EPIPE exactly once per death,
               then every message of the next publisher from its first,
               with no new subscriber; restarts are counted.
    block      Eight subscriber processes with idle=block follow a
               publisher paced at 100,000 messages a second for 10 seconds
               (ZSHM_TEST_BLOCK_RATE, ZSHM_TEST_BLOCK_SECONDS): every one
               receives every message, in order, and loses nothing.
    fragments  Big messages (2-20 KiB over 256-byte slots) on a small ring,
               published flat out, while the parent freezes subscribers
               (SIGSTOP/SIGCONT) at random moments so that they are lapped
               in the middle of messages.  Every message delivered carries
               a checksum over all its bytes and must verify: a partial or
               spliced message is never delivered.  Drops must be seen.

    Usage: test_pubsub_procs [-v] [restart|block|fragments]
    =========================================================================
*/

#define _GNU_SOURCE
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "testutil.h"

static bool s_verbose = false;

#define SAY(...) do { if (s_verbose) { printf (__VA_ARGS__); fflush (stdout); } } while (0)

//  Memory shared with the children, made before the first fork.
static void *
s_shared (size_t size)
{
    void *shared = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK (shared != MAP_FAILED);
    memset (shared, 0, size);
    return shared;
}

//  Fork a child that runs body (arg) and exits 0; CHECK failures exit 1.
static pid_t
s_spawn (void (*body) (void *), void *arg)
{
    fflush (stdout);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        body (arg);
        _exit (TU_PASS);
    }
    return pid;
}

//  Wait for a child; true if it exited 0.
static bool
s_reap (pid_t pid)
{
    int status;
    CHECK (waitpid (pid, &status, 0) == pid);
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return true;
    if (WIFSIGNALED (status))
        fprintf (stderr, "child %d died of signal %d\n", (int) pid, WTERMSIG (status));
    return false;
}

static void
s_kill (pid_t pid)
{
    CHECK (kill (pid, SIGKILL) == 0);
    int status;
    CHECK (waitpid (pid, &status, 0) == pid);
}

//  Poll `done (arg)` every millisecond for up to `seconds`.
static bool
s_wait_for (bool (*done) (void *), void *arg, int seconds)
{
    int64_t deadline = tu_now_ns () + (int64_t) seconds * 1000000000LL;
    while (!done (arg)) {
        if (tu_now_ns () > deadline)
            return false;
        tu_sleep_ns (1000000);
    }
    return true;
}

//  --------------------------------------------------------------------------
//  restart

#define RESTART_SUBS 2
#define RESTART_GENS 3

typedef struct {
    uint32_t generation;        //  which publisher, 1..3
    uint32_t pad;               //  0
    uint64_t counter;           //  from 1, per publisher
} s_tick_t;

typedef struct {
    char name [64];             //  channel
    _Atomic int stop;           //  parent: children, finish
    _Atomic int generation;     //  parent: the publisher child's generation
    struct {
        _Atomic uint64_t received [RESTART_GENS + 1];   //  per generation
        _Atomic uint64_t first [RESTART_GENS + 1];      //  first counter seen
        _Atomic int epipes;             //  EPIPE returned
        _Atomic uint64_t restarts;      //  zshm_sub_restarts at the end
        _Atomic uint64_t lost;          //  zshm_sub_lost at the end
    } subs [RESTART_SUBS];
} s_restart_t;

static s_restart_t *s_restart;

static void
s_restart_subscriber (void *arg)
{
    int index = *(int *) arg;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s", s_restart->name);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "tick");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 50);
    uint64_t last [RESTART_GENS + 1] = { 0 };
    while (!atomic_load (&s_restart->stop)) {
        int rc = zshm_sub_recv (sub);
        if (rc < 0) {
            if (errno == EPIPE)
                atomic_fetch_add (&s_restart->subs [index].epipes, 1);
            else
                CHECKF (errno == EAGAIN, "recv failed");
            continue;
        }
        CHECK (rc == 2);
        size_t size;
        const void *data = zshm_sub_frame (sub, 1, &size);
        s_tick_t tick;
        CHECK (size == sizeof tick);
        memcpy (&tick, data, sizeof tick);
        CHECK (tick.generation >= 1 && tick.generation <= RESTART_GENS);
        //  In order and complete within each publisher's life: the ring is
        //  long enough that a subscriber never falls a whole ring behind.
        CHECKF (tick.counter == last [tick.generation] + 1,
                "sub %d, generation %u: got %llu after %llu", index, tick.generation,
                (unsigned long long) tick.counter,
                (unsigned long long) last [tick.generation]);
        if (last [tick.generation] == 0)
            atomic_store (&s_restart->subs [index].first [tick.generation], tick.counter);
        last [tick.generation] = tick.counter;
        atomic_fetch_add (&s_restart->subs [index].received [tick.generation], 1);
    }
    atomic_store (&s_restart->subs [index].restarts, zshm_sub_restarts (sub));
    atomic_store (&s_restart->subs [index].lost, zshm_sub_lost (sub));
    zshm_sub_destroy (&sub);
}

static void
s_restart_publisher (void *arg)
{
    const char *options = (const char *) arg;
    char endpoint [256];
    snprintf (endpoint, sizeof endpoint, "shm://%s?%s", s_restart->name, options);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECKF (pub, "zshm_pub_new (%s)", endpoint);
    s_tick_t tick = { (uint32_t) atomic_load (&s_restart->generation), 0, 0 };
    //  Until killed: a message every 100 us or so
    for (;;) {
        tick.counter++;
        CHECK (zshm_pub_send (pub, "tick", &tick, sizeof tick) == 0);
        tu_sleep_ns (100000);
    }
}

static bool
s_all_received (void *arg)
{
    int generation = *(int *) arg;
    for (int index = 0; index < RESTART_SUBS; index++)
        if (atomic_load (&s_restart->subs [index].received [generation]) < 200)
            return false;
    return true;
}

static bool
s_all_epipes (void *arg)
{
    int epipes = *(int *) arg;
    for (int index = 0; index < RESTART_SUBS; index++)
        if (atomic_load (&s_restart->subs [index].epipes) < epipes)
            return false;
    return true;
}

static void
s_test_restart (void)
{
    SAY ("restart: kill -9 and restart, subscribers still running\n");
    s_restart = (s_restart_t *) s_shared (sizeof (s_restart_t));
    tu_channel (s_restart->name, sizeof s_restart->name, "restart");
    //  Subscribers first: they wait for the publisher
    pid_t subs [RESTART_SUBS];
    int indexes [RESTART_SUBS];
    for (int index = 0; index < RESTART_SUBS; index++) {
        indexes [index] = index;
        subs [index] = s_spawn (s_restart_subscriber, &indexes [index]);
    }
    tu_sleep_ns (50000000);
    //  Long rings: 65536 slots is seconds of messages
    const char *layouts [RESTART_GENS + 1] = {
        NULL, "capacity=65536&slot=64", "capacity=65536&slot=64",
        "capacity=32768&slot=96&replace=1"
    };
    for (int generation = 1; generation <= RESTART_GENS; generation++) {
        atomic_store (&s_restart->generation, generation);
        pid_t pub = s_spawn (s_restart_publisher, (void *) layouts [generation]);
        CHECKF (s_wait_for (s_all_received, &generation, 20),
                "generation %d never reached every subscriber", generation);
        SAY ("  generation %d received; kill -9\n", generation);
        if (generation < RESTART_GENS) {
            s_kill (pub);
            CHECKF (s_wait_for (s_all_epipes, &generation, 10),
                    "subscribers never saw publisher %d die", generation);
        }
        else {
            atomic_store (&s_restart->stop, 1);
            for (int index = 0; index < RESTART_SUBS; index++)
                CHECK (s_reap (subs [index]));
            s_kill (pub);
        }
    }
    for (int index = 0; index < RESTART_SUBS; index++) {
        SAY ("  sub %d: epipes %d restarts %llu lost %llu\n", index,
             atomic_load (&s_restart->subs [index].epipes),
             (unsigned long long) atomic_load (&s_restart->subs [index].restarts),
             (unsigned long long) atomic_load (&s_restart->subs [index].lost));
        //  Each publisher's messages from its very first
        for (int generation = 1; generation <= RESTART_GENS; generation++)
            CHECKF (atomic_load (&s_restart->subs [index].first [generation]) == 1,
                    "sub %d missed the start of generation %d", index, generation);
        CHECK (atomic_load (&s_restart->subs [index].epipes) == RESTART_GENS - 1);
        //  One takeover, one replacement
        CHECK (atomic_load (&s_restart->subs [index].restarts) == RESTART_GENS - 1);
        CHECK (atomic_load (&s_restart->subs [index].lost) == 0);
    }
    CHECK (zshm_ring_unlink (s_restart->name) == 0);
    munmap (s_restart, sizeof (s_restart_t));
}

//  --------------------------------------------------------------------------
//  block: 8 subscribers at 100 k msg/s

#define BLOCK_SUBS 8

typedef struct {
    char name [64];             //  channel
    _Atomic int ready;          //  subscribers made
    struct {
        _Atomic uint64_t received;      //  data messages, in order
        _Atomic uint64_t lost;          //  zshm_sub_lost at the end
    } subs [BLOCK_SUBS];
} s_block_t;

static s_block_t *s_block;

static void
s_block_subscriber (void *arg)
{
    int index = *(int *) arg;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s?idle=block&from=oldest", s_block->name);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 20000);
    atomic_fetch_add (&s_block->ready, 1);
    uint64_t expected = 1;
    for (;;) {
        int rc = zshm_sub_recv (sub);
        CHECKF (rc == 2, "sub %d: recv gave %d after %llu messages", index, rc,
                (unsigned long long) (expected - 1));
        size_t topic_size, size;
        const char *topic = (const char *) zshm_sub_frame (sub, 0, &topic_size);
        const void *data = zshm_sub_frame (sub, 1, &size);
        uint64_t value;
        CHECK (size == sizeof value);
        memcpy (&value, data, sizeof value);
        if (topic_size == 3 && memcmp (topic, "end", 3) == 0) {
            CHECKF (value == expected - 1, "sub %d: %llu sent, %llu received", index,
                    (unsigned long long) value, (unsigned long long) (expected - 1));
            break;
        }
        CHECKF (value == expected, "sub %d: got %llu, expected %llu", index,
                (unsigned long long) value, (unsigned long long) expected);
        expected++;
        if ((expected & 1023) == 0)
            atomic_store (&s_block->subs [index].received, expected - 1);
    }
    atomic_store (&s_block->subs [index].received, expected - 1);
    atomic_store (&s_block->subs [index].lost, zshm_sub_lost (sub));
    CHECK (zshm_sub_lost (sub) == 0);
    zshm_sub_destroy (&sub);
}

static bool
s_block_ready (void *arg)
{
    return atomic_load (&s_block->ready) == BLOCK_SUBS;
}

static void
s_test_block (void)
{
    uint64_t rate = tu_env_u64 ("ZSHM_TEST_BLOCK_RATE", 100000);
    uint64_t seconds = tu_env_u64 ("ZSHM_TEST_BLOCK_SECONDS", 10);
    uint64_t total = rate * seconds;
    SAY ("block: %d subscribers, %llu msg/s for %llu s\n", BLOCK_SUBS,
         (unsigned long long) rate, (unsigned long long) seconds);
    s_block = (s_block_t *) s_shared (sizeof (s_block_t));
    tu_channel (s_block->name, sizeof s_block->name, "block");
    pid_t subs [BLOCK_SUBS];
    int indexes [BLOCK_SUBS];
    for (int index = 0; index < BLOCK_SUBS; index++) {
        indexes [index] = index;
        subs [index] = s_spawn (s_block_subscriber, &indexes [index]);
    }
    CHECK (s_wait_for (s_block_ready, NULL, 10));
    //  A ring of 2.6 s at 100 k msg/s: a subscriber would have to stall
    //  that long to lose anything
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=262144&slot=64", s_block->name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    int64_t start = tu_now_ns ();
    for (uint64_t value = 1; value <= total; value++) {
        //  Paced in bursts of 100: ahead of schedule, sleep till due
        if (value % 100 == 0) {
            int64_t due = start + (int64_t) (value * 1000000000ULL / rate);
            int64_t now = tu_now_ns ();
            if (due > now)
                tu_sleep_ns (due - now);
        }
        CHECK (zshm_pub_send (pub, "d", &value, sizeof value) == 0);
    }
    CHECK (zshm_pub_send (pub, "end", &total, sizeof total) == 0);
    double elapsed = (double) (tu_now_ns () - start) / 1e9;
    SAY ("  published %llu in %.1f s\n", (unsigned long long) total, elapsed);
    bool passed = true;
    for (int index = 0; index < BLOCK_SUBS; index++)
        passed &= s_reap (subs [index]);
    for (int index = 0; index < BLOCK_SUBS; index++)
        SAY ("  sub %d: received %llu lost %llu\n", index,
             (unsigned long long) atomic_load (&s_block->subs [index].received),
             (unsigned long long) atomic_load (&s_block->subs [index].lost));
    CHECK (passed);
    for (int index = 0; index < BLOCK_SUBS; index++) {
        CHECK (atomic_load (&s_block->subs [index].received) == total);
        CHECK (atomic_load (&s_block->subs [index].lost) == 0);
    }
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (s_block->name) == 0);
    munmap (s_block, sizeof (s_block_t));
}

//  --------------------------------------------------------------------------
//  fragments: lapped in mid-message, never a partial message

#define FRAG_SUBS 2
#define FRAG_MIN  2000
#define FRAG_MAX  20000

typedef struct {
    char name [64];             //  channel
    _Atomic int stop;           //  parent: subscribers, finish
    _Atomic int stop_pub;       //  parent: publisher, finish (after them)
    _Atomic int ready;          //  subscribers attached
    struct {
        _Atomic uint64_t delivered;     //  messages that verified
        _Atomic uint64_t dropped;       //  zshm_sub_dropped
        _Atomic uint64_t lost;          //  zshm_sub_lost
    } subs [FRAG_SUBS];
} s_frag_t;

static s_frag_t *s_frag;

static void
s_frag_publisher (void *arg)
{
    char endpoint [128];
    //  240 body bytes a slot: a message is 9 to 84 slots, on a ring of 64
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=64&slot=256", s_frag->name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    unsigned char *buffer = (unsigned char *) malloc (FRAG_MAX);
    CHECK (buffer);
    for (uint64_t seq = 1; !atomic_load (&s_frag->stop_pub); seq++) {
        size_t size = tu_msg_size (seq, FRAG_MIN, FRAG_MAX);
        tu_msg_fill (buffer, seq, size);
        CHECK (zshm_pub_send (pub, "m", buffer, size) == 0);
        if (seq % 64 == 0)
            sched_yield ();
    }
    free (buffer);
    zshm_pub_destroy (&pub);
}

static void
s_frag_subscriber (void *arg)
{
    int index = *(int *) arg;
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s", s_frag->name);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "m");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 100);
    atomic_fetch_add (&s_frag->ready, 1);
    uint64_t last = 0;
    while (!atomic_load (&s_frag->stop)) {
        int rc = zshm_sub_recv (sub);
        if (rc < 0) {
            CHECKF (errno == EAGAIN, "sub %d: recv failed", index);
            continue;
        }
        CHECK (rc == 2);
        size_t topic_size, size;
        const char *topic = (const char *) zshm_sub_frame (sub, 0, &topic_size);
        CHECK (topic_size == 1 && *topic == 'm');
        const unsigned char *data = (const unsigned char *) zshm_sub_frame (sub, 1, &size);
        uint64_t seq;
        CHECKF (size >= sizeof seq, "sub %d: a message of %zu bytes", index, size);
        memcpy (&seq, data, sizeof seq);
        int verdict = tu_msg_verify (data, size, seq, tu_msg_size (seq, FRAG_MIN, FRAG_MAX));
        CHECKF (verdict == TU_MSG_OK, "sub %d: message %llu (%zu bytes) is damaged: verdict %d",
                index, (unsigned long long) seq, size, verdict);
        CHECKF (seq > last, "sub %d: %llu after %llu", index, (unsigned long long) seq,
                (unsigned long long) last);
        last = seq;
        atomic_fetch_add (&s_frag->subs [index].delivered, 1);
        atomic_store (&s_frag->subs [index].dropped, zshm_sub_dropped (sub));
        atomic_store (&s_frag->subs [index].lost, zshm_sub_lost (sub));
    }
    atomic_store (&s_frag->subs [index].dropped, zshm_sub_dropped (sub));
    atomic_store (&s_frag->subs [index].lost, zshm_sub_lost (sub));
    zshm_sub_destroy (&sub);
}

static bool
s_frag_ready (void *arg)
{
    return atomic_load (&s_frag->ready) == FRAG_SUBS;
}

//  Enough seen: every subscriber delivered some and dropped some partial.
static bool
s_frag_enough (void)
{
    for (int index = 0; index < FRAG_SUBS; index++)
        if (atomic_load (&s_frag->subs [index].delivered) < 20
        ||  atomic_load (&s_frag->subs [index].dropped) < 5)
            return false;
    return true;
}

static void
s_test_fragments (void)
{
    SAY ("fragments: lapped in mid-message\n");
    s_frag = (s_frag_t *) s_shared (sizeof (s_frag_t));
    tu_channel (s_frag->name, sizeof s_frag->name, "frag");
    tu_rng_t rng;
    tu_rng_seed (&rng, tu_seed ());
    pid_t pub = s_spawn (s_frag_publisher, NULL);
    pid_t subs [FRAG_SUBS];
    int indexes [FRAG_SUBS];
    for (int index = 0; index < FRAG_SUBS; index++) {
        indexes [index] = index;
        subs [index] = s_spawn (s_frag_subscriber, &indexes [index]);
    }
    CHECK (s_wait_for (s_frag_ready, NULL, 10));
    //  Freeze a subscriber for 0.2-2 ms now and then, for at least 2 s
    //  and until each has dropped some partial messages (20 s at most)
    int64_t start = tu_now_ns ();
    int64_t minimum = start + 2000000000LL, limit = start + 20000000000LL;
    int freezes = 0;
    while (tu_now_ns () < minimum || (!s_frag_enough () && tu_now_ns () < limit)) {
        pid_t victim = subs [tu_rng_range (&rng, 0, FRAG_SUBS - 1)];
        CHECK (kill (victim, SIGSTOP) == 0);
        tu_sleep_ns ((int64_t) tu_rng_range (&rng, 200000, 2000000));
        CHECK (kill (victim, SIGCONT) == 0);
        freezes++;
        tu_sleep_ns ((int64_t) tu_rng_range (&rng, 1000000, 5000000));
    }
    atomic_store (&s_frag->stop, 1);
    bool passed = true;
    for (int index = 0; index < FRAG_SUBS; index++)
        passed &= s_reap (subs [index]);
    atomic_store (&s_frag->stop_pub, 1);
    passed &= s_reap (pub);
    for (int index = 0; index < FRAG_SUBS; index++)
        SAY ("  sub %d: delivered %llu, dropped %llu partial, lost %llu (%d freezes)\n", index,
             (unsigned long long) atomic_load (&s_frag->subs [index].delivered),
             (unsigned long long) atomic_load (&s_frag->subs [index].dropped),
             (unsigned long long) atomic_load (&s_frag->subs [index].lost), freezes);
    CHECK (passed);
    CHECKF (s_frag_enough (), "the subscribers were not lapped in mid-message enough");
    CHECK (zshm_ring_unlink (s_frag->name) == 0);
    munmap (s_frag, sizeof (s_frag_t));
}

int
main (int argc, char **argv)
{
    const char *only = NULL;
    for (int arg = 1; arg < argc; arg++) {
        if (streq (argv [arg], "-v"))
            s_verbose = true;
        else
            only = argv [arg];
    }
    tu_require_shm ("test_pubsub_procs");
    if (!only || streq (only, "restart"))
        s_test_restart ();
    if (!only || streq (only, "fragments"))
        s_test_fragments ();
    if (!only || streq (only, "block"))
        s_test_block ();
    printf ("test_pubsub_procs: OK\n");
    return TU_PASS;
}
