/*  =========================================================================
    test_fault_inject - zshm_pub / zshm_sub under injected faults

    Usage: test_fault_inject [-v] [writer|readers|full|truncate]...
    Environment: ZSHM_TEST_WRITER_KILLS (default 100), ZSHM_TEST_VICTIMS
    (default 140); TU_SEED replays a run.

    Messages are self-proving (testutil.h): the data frame carries an id,
    (generation << 32) | index, its size and every byte derive from the id,
    and one message in three has a third frame repeating the id.  Data
    frames are 16 to 3000 bytes on 256-byte slots, so most messages span
    several fragments.  Every ring is big enough that nothing is ever
    overwritten, so any message missing, repeated, out of order or torn is
    a failure, not loss.

    writer    Three subscriber processes (backoff, block, yield) follow a
              channel while its publisher is killed with SIGKILL 100 times,
              each generation by a new publisher that takes the channel
              over.  Most kills come after a random delay into bursts of
              sends; one in four lands deterministically in the middle of a
              fragmented message (a streaming send stopped half-way).  The
              publisher stores how many sends returned into shared memory
              after each one.  After each kill every subscriber reports EPIPE
              within seconds, having received exactly the messages of that
              generation from its first, all intact: the reported count, or
              one more (a send that returned just before the kill could
              report it); never the half-written one, which is counted as
              dropped.
    readers   A paced publisher and two steady subscribers; meanwhile 140
              (more than ZSHM_MAX_READERS) victim readers, subscribers with
              every idle strategy and raw ring readers, in batches of 1-3,
              are killed with SIGKILL at random moments.  Each victim is seen
              registered and alive, then registered and dead; later victims
              reuse the dead entries, so the registry never holds more than
              the steady readers and one batch.  The steady readers and the
              publisher are unaffected: every message arrives, intact, in
              order, nothing lost.
    full      In a private mount namespace, ZSHM_DIR on a 64 KiB tmpfs: a
              big zshm_ring_new / zshm_pub_new fails with ENOSPC and leaves
              no file behind; a small ring still works; on a tmpfs filled up
              to the last few pages, even a small one fails the same way.
              Skipped (77 for this part only) where mounting is not allowed.
    truncate  A publisher and two subscribers while the segment is
              truncated under them (to 0, 100 bytes, the header, half, one
              byte short).  Nobody dies of SIGBUS; the subscribers get EPIPE
              and everything they received was intact and in order; the
              publisher carries on until told to stop and exits normally;
              a new publisher then replaces the segment and the same
              subscribers receive its messages.

    Each part runs in its own child process under an alarm, so a crash or
    a hang fails that part, and the parent reports every part.
    =========================================================================
*/

#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "testutil.h"
#include "zshm_layout.h"

static bool s_verbose = false;
static uint64_t s_seed;

#define SAY(...) do { if (s_verbose) { printf (__VA_ARGS__); fflush (stdout); } } while (0)

//  Message shape
#define S_TOPIC      "fi"
#define S_DATA_MAX   3000       //  largest data frame
#define S_SLOT       256        //  slot size, so most messages fragment
#define S_FRAGS_MAX  16         //  slots one message may take, at most

//  Longest a subscriber may take to report a dead or vanished publisher.
//  The ring promises about a second; this only catches a hang that the
//  alarm would otherwise turn into an anonymous failure.
#define S_EPIPE_LIMIT_NS (5 * 1000000000LL)

//  Memory shared with the children, made before forking them.
static void *
s_shared (size_t size)
{
    void *shared = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK (shared != MAP_FAILED);
    memset (shared, 0, size);
    return shared;
}

static uint64_t
s_id (uint32_t generation, uint32_t index)
{
    return ((uint64_t) generation << 32) | index;
}

//  --------------------------------------------------------------------------
//  Publishing

//  Send message `id`: [topic][data] or, one in three, [topic][data][id].
static void
s_send (zshm_pub_t *pub, uint64_t id)
{
    unsigned char data [S_DATA_MAX];
    size_t size = tu_msg_size (id, TU_MSG_MIN, S_DATA_MAX);
    tu_msg_fill (data, id, size);
    if (id % 3 == 0) {
        const void *frames [3] = { S_TOPIC, data, &id };
        size_t sizes [3] = { strlen (S_TOPIC), size, sizeof id };
        CHECKF (zshm_pub_send_frames (pub, frames, sizes, 3) == 0, "send %llx",
                (unsigned long long) id);
    }
    else
        CHECKF (zshm_pub_send (pub, S_TOPIC, data, size) == 0, "send %llx",
                (unsigned long long) id);
}

//  How a publisher process behaves.
typedef struct {
    const char *endpoint;       //  where it publishes
    uint32_t generation;        //  high half of its message ids
    int park_after;             //  stop mid-message after this many, or -1
    int burst;                  //  messages between pauses; 0: random 1-64
    int64_t pause_ns;           //  pause length; 0: random 20-300 us
    _Atomic uint64_t *committed;    //  sends that returned, stored after each
} s_pub_plan_t;

//  A publisher process: creates or takes over the channel, reports the
//  head it starts at on `report_fd`, then publishes messages 1, 2, ... of
//  its generation, storing the count after each send returns.  It never
//  publishes more than the ring minus a message's worth of slots, so that
//  followers that were caught up when it started can never be lapped.  It
//  stops when `command_fd` (if >= 0) becomes readable: then it writes its
//  count to report_fd and exits 0.  With park_after >= 0 it sends that
//  many messages, then streams half of a fragmented one, reports 'p' and
//  waits to be killed.
static void
s_publisher (const s_pub_plan_t *plan, int report_fd, int command_fd)
{
    zshm_pub_t *pub = zshm_pub_new (plan->endpoint);
    CHECKF (pub, "publisher: zshm_pub_new (%s)", plan->endpoint);
    zshm_ring_t *ring = zshm_pub_ring (pub);
    uint64_t start = zshm_ring_head (ring);
    uint64_t budget = zshm_ring_capacity (ring) - S_FRAGS_MAX;
    tu_write_all (report_fd, &start, sizeof start);
    tu_rng_t rng;
    tu_rng_seed (&rng, s_seed ^ plan->generation ^ ((uint64_t) getpid () << 20));

    uint32_t index = 0;
    int in_burst = 0;
    for (;;) {
        if (command_fd >= 0) {
            struct pollfd item = { command_fd, POLLIN, 0 };
            if (poll (&item, 1, 0) > 0)
                break;
        }
        if (plan->park_after >= 0 && index == (uint32_t) plan->park_after) {
            //  A message of several fragments, interrupted after the first
            //  ones are committed: readers must never deliver it.
            uint64_t id = s_id (plan->generation, index + 1);
            unsigned char data [S_DATA_MAX];
            tu_msg_fill (data, id, S_DATA_MAX);
            size_t part = (size_t) tu_rng_range (&rng, 3 * S_SLOT, S_DATA_MAX - 1);
            CHECK (zshm_pub_send_begin (pub, S_TOPIC, strlen (S_TOPIC), S_DATA_MAX, NULL) == 0);
            CHECK (zshm_pub_send_write (pub, data, part) == 0);
            tu_write_all (report_fd, "p", 1);
            for (;;)
                pause ();
        }
        if (zshm_ring_head (ring) - start >= budget) {
            tu_sleep_ns (1000000);      //  full: wait to be stopped or killed
            continue;
        }
        s_send (pub, s_id (plan->generation, ++index));
        //  Release: the count is stored after the send's own stores.
        atomic_store_explicit (plan->committed, index, memory_order_release);
        if (++in_burst >= (plan->burst ? plan->burst : (int) tu_rng_range (&rng, 1, 64))) {
            in_burst = 0;
            tu_sleep_ns (plan->pause_ns ? plan->pause_ns
                                        : (int64_t) tu_rng_range (&rng, 20000, 300000));
        }
    }
    uint64_t count = index;
    tu_write_all (report_fd, &count, sizeof count);
    zshm_pub_destroy (&pub);
    _exit (TU_PASS);
}

typedef struct {
    pid_t pid;                  //  publisher process
    int report_fd;              //  its reports come in here
    int command_fd;             //  write a byte here to stop it, or -1
    uint64_t start;             //  head it started at
} s_pub_t;

static void
s_publisher_start (s_pub_t *self, const s_pub_plan_t *plan, bool stoppable)
{
    int reports [2], commands [2] = { -1, -1 };
    CHECK (pipe (reports) == 0);
    CHECK (!stoppable || pipe (commands) == 0);
    self->pid = tu_fork ();
    if (self->pid == 0) {
        close (reports [0]);
        if (stoppable)
            close (commands [1]);
        s_publisher (plan, reports [1], commands [0]);
    }
    close (reports [1]);
    if (stoppable)
        close (commands [0]);
    self->report_fd = reports [0];
    self->command_fd = commands [1];
    CHECKF (tu_read_all (self->report_fd, &self->start, sizeof self->start, 30000) == 1,
            "publisher %d did not start", (int) self->pid);
}

//  Stop a stoppable publisher; returns how many messages it sent.
static uint64_t
s_publisher_stop (s_pub_t *self)
{
    tu_write_all (self->command_fd, "s", 1);
    uint64_t count;
    CHECKF (tu_read_all (self->report_fd, &count, sizeof count, 30000) == 1,
            "publisher %d did not stop", (int) self->pid);
    int status = tu_reap (self->pid);
    char text [64];
    CHECKF (WIFEXITED (status) && WEXITSTATUS (status) == 0, "publisher: %s",
            tu_status (status, text, sizeof text));
    close (self->report_fd);
    close (self->command_fd);
    return count;
}

//  --------------------------------------------------------------------------
//  Following: subscriber processes that verify every message

//  What a follower has seen of the messages so far.
typedef struct {
    uint64_t count;             //  messages received since the last report
    uint64_t first;             //  first id of those, 0 if none
    uint64_t last;              //  last id received ever, 0 if none
    uint64_t total;             //  messages received in all
    uint64_t bad;               //  torn, foreign or malformed messages
    uint64_t disorder;          //  ids not following the previous one
    uint64_t first_bad;         //  id of the first bad message
    int first_verdict;          //  what was wrong with it
} s_seen_t;

//  Check the subscriber's current message and account for it.
static void
s_verify (zshm_sub_t *sub, s_seen_t *seen)
{
    size_t topic_size, size, extra_size = 0;
    const void *topic = zshm_sub_frame (sub, 0, &topic_size);
    const unsigned char *data = (const unsigned char *) zshm_sub_frame (sub, 1, &size);
    uint64_t id = 0;
    int verdict = TU_MSG_OK;
    if (!topic || topic_size != strlen (S_TOPIC) || memcmp (topic, S_TOPIC, topic_size)
    ||  !data || size < TU_MSG_MIN)
        verdict = TU_MSG_SHORT;
    else {
        memcpy (&id, data, sizeof id);
        verdict = tu_msg_verify (data, size, id, tu_msg_size (id, TU_MSG_MIN, S_DATA_MAX));
        size_t frames = id % 3 == 0 ? 3 : 2;
        const void *extra = frames == 3 ? zshm_sub_frame (sub, 2, &extra_size) : NULL;
        if (verdict == TU_MSG_OK
        &&  (zshm_sub_frames (sub) != frames
             || (frames == 3 && (extra_size != sizeof id || memcmp (extra, &id, sizeof id)))))
            verdict = TU_MSG_BAD_SIZE;
    }
    if (verdict != TU_MSG_OK && !seen->bad++) {
        seen->first_bad = id;
        seen->first_verdict = verdict;
    }
    //  In order: the next index of the same generation, or the first of a
    //  later one.
    uint32_t generation = (uint32_t) (id >> 32), index = (uint32_t) id;
    uint32_t last_generation = (uint32_t) (seen->last >> 32);
    bool follows = seen->last == 0 ? index >= 1
                 : (generation == last_generation && index == (uint32_t) seen->last + 1)
                || (generation > last_generation && index == 1);
    if (!follows)
        seen->disorder++;
    if (!seen->count)
        seen->first = id;
    seen->last = id;
    seen->count++;
    seen->total++;
}

//  What a follower tells the parent.
typedef struct {
    int kind;                   //  S_READY, S_EPIPE, S_ERROR, S_FINAL
    int error;                  //  errno, for S_ERROR
    int64_t when_ns;            //  tu_now_ns at the event
    s_seen_t seen;              //  messages since the previous report
    uint64_t lost;              //  zshm_sub_lost
    uint64_t dropped;           //  zshm_sub_dropped
    uint64_t restarts;          //  zshm_sub_restarts
} s_report_t;

enum { S_READY = 1, S_EPIPE, S_ERROR, S_FINAL };

//  A follower process: subscribes to everything with the given idle
//  strategy, verifies every message, reports each EPIPE (then waits for the
//  next publisher) and stops with a final report when told to.
static void
s_follow (const char *name, const char *idle, bool from_oldest, int report_fd,
          int command_fd)
{
    char endpoint [256];
    snprintf (endpoint, sizeof endpoint, "shm://%s?idle=%s%s", name, idle,
              from_oldest ? "&from=oldest" : "");
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECKF (sub, "follower: zshm_sub_new (%s)", endpoint);
    zshm_sub_set_rcvtimeo (sub, 100);
    s_report_t report = { .kind = S_READY };
    tu_write_all (report_fd, &report, sizeof report);
    for (;;) {
        if (zshm_sub_recv (sub) >= 0) {
            s_verify (sub, &report.seen);
            continue;
        }
        int error = errno;
        if (error == EAGAIN) {
            struct pollfd item = { command_fd, POLLIN, 0 };
            if (poll (&item, 1, 0) > 0)
                break;
            continue;
        }
        report.kind = error == EPIPE ? S_EPIPE : S_ERROR;
        report.error = error;
        report.when_ns = tu_now_ns ();
        report.lost = zshm_sub_lost (sub);
        report.dropped = zshm_sub_dropped (sub);
        report.restarts = zshm_sub_restarts (sub);
        tu_write_all (report_fd, &report, sizeof report);
        if (error != EPIPE)
            _exit (TU_FAIL);
        report.seen.count = 0;
        report.seen.first = 0;
    }
    report.kind = S_FINAL;
    report.lost = zshm_sub_lost (sub);
    report.dropped = zshm_sub_dropped (sub);
    report.restarts = zshm_sub_restarts (sub);
    tu_write_all (report_fd, &report, sizeof report);
    zshm_sub_destroy (&sub);
    _exit (TU_PASS);
}

typedef struct {
    pid_t pid;                  //  follower process
    const char *idle;           //  its idle strategy
    int report_fd;              //  its reports come in here
    int command_fd;             //  write a byte here to stop it
    uint64_t torn;              //  losses that are not dropped partials allowed
    s_report_t last;            //  its previous report
} s_follower_t;

static void
s_follower_start (s_follower_t *self, const char *name, const char *idle, bool from_oldest)
{
    int reports [2], commands [2];
    CHECK (pipe (reports) == 0 && pipe (commands) == 0);
    self->idle = idle;
    self->torn = 0;
    self->pid = tu_fork ();
    if (self->pid == 0) {
        close (reports [0]);
        close (commands [1]);
        s_follow (name, idle, from_oldest, reports [1], commands [0]);
    }
    close (reports [1]);
    close (commands [0]);
    self->report_fd = reports [0];
    self->command_fd = commands [1];
    CHECKF (tu_read_all (self->report_fd, &self->last, sizeof self->last, 30000) == 1
            && self->last.kind == S_READY, "follower %d did not start", (int) self->pid);
}

//  The next report of a follower, which must be EPIPE and clean.
static void
s_follower_epipe (s_follower_t *self, const char *when, int64_t since_ns, s_report_t *report)
{
    int rc = tu_read_all (self->report_fd, report, sizeof *report, 30000);
    CHECKF (rc == 1, "%s: %s follower: no EPIPE (rc %d)", when, self->idle, rc);
    CHECKF (report->kind == S_EPIPE, "%s: %s follower: recv failed with errno %d, not EPIPE",
            when, self->idle, report->error);
    CHECKF (report->when_ns - since_ns <= S_EPIPE_LIMIT_NS, "%s: %s follower: EPIPE came "
            "%lld ms late", when, self->idle,
            (long long) ((report->when_ns - since_ns) / 1000000));
    CHECKF (report->seen.bad == 0, "%s: %s follower: %llu bad messages, first %llx verdict %d",
            when, self->idle, (unsigned long long) report->seen.bad,
            (unsigned long long) report->seen.first_bad, report->seen.first_verdict);
    CHECKF (report->seen.disorder == 0, "%s: %s follower: %llu messages out of order", when,
            self->idle, (unsigned long long) report->seen.disorder);
    //  Nothing is ever overwritten here: all loss is dropped partials,
    //  save what the caller allows for (a copy torn by a truncation)
    CHECKF (report->lost >= report->dropped && report->lost - report->dropped <= self->torn,
            "%s: %s follower: lost %llu, of which dropped only %llu: the ring lapped it",
            when, self->idle, (unsigned long long) report->lost,
            (unsigned long long) report->dropped);
}

static void
s_follower_stop (s_follower_t *self, s_report_t *report)
{
    tu_write_all (self->command_fd, "s", 1);
    CHECKF (tu_read_all (self->report_fd, report, sizeof *report, 30000) == 1
            && report->kind == S_FINAL, "%s follower: no final report", self->idle);
    int status = tu_reap (self->pid);
    char text [64];
    CHECKF (WIFEXITED (status) && WEXITSTATUS (status) == 0, "%s follower: %s", self->idle,
            tu_status (status, text, sizeof text));
    close (self->report_fd);
    close (self->command_fd);
}

//  --------------------------------------------------------------------------
//  writer: kill -9 of the publisher at 100 points

#define S_FOLLOWERS 3
static const char *s_follower_idles [S_FOLLOWERS] = { "backoff", "block", "yield" };

static void
s_test_writer (void)
{
    int kills = (int) tu_env_u64 ("ZSHM_TEST_WRITER_KILLS", 100);
    tu_rng_t rng;
    tu_rng_seed (&rng, s_seed ^ 0x1);
    char name [64], endpoint [160];
    tu_channel (name, sizeof name, "wkill");
    //  16384 slots: one generation's budget, and no generation comes near
    //  the capacity, so nothing is ever overwritten
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=16384&slot=%d", name, S_SLOT);
    _Atomic uint64_t *committed
        = (_Atomic uint64_t *) s_shared (sizeof (uint64_t) * (size_t) (kills + 1));

    //  Subscribers first: they take everything from the channel's first
    //  message, as a zmq SUB connected before the bind would.
    s_follower_t followers [S_FOLLOWERS];
    for (int index = 0; index < S_FOLLOWERS; index++)
        s_follower_start (&followers [index], name, s_follower_idles [index], false);

    uint64_t published = 0, dropped = 0;
    int parked = 0, mid_message = 0;
    int64_t worst_ns = 0, total_ns = 0;
    for (int round = 0; round < kills; round++) {
        uint32_t generation = (uint32_t) round + 1;
        bool park = round % 4 == 3;
        s_pub_plan_t plan = {
            .endpoint = endpoint, .generation = generation,
            .park_after = park ? (int) tu_rng_range (&rng, 0, 20) : -1,
            .committed = &committed [generation]
        };
        s_pub_t pub;
        s_publisher_start (&pub, &plan, false);
        if (park) {
            char byte;
            CHECKF (tu_read_all (pub.report_fd, &byte, 1, 30000) == 1 && byte == 'p',
                    "round %d: publisher did not park", round);
        }
        else
            tu_sleep_ns ((int64_t) tu_rng_range (&rng, 0, 20000000));
        int64_t killed_ns = tu_now_ns ();
        CHECK (kill (pub.pid, SIGKILL) == 0);
        int status = tu_reap (pub.pid);
        char text [64];
        CHECKF (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL, "round %d: publisher "
                "ended with %s before the kill", round, tu_status (status, text, sizeof text));
        close (pub.report_fd);
        //  Acquire: pairs with the publisher's release after each send.
        uint64_t reported = atomic_load_explicit (&committed [generation], memory_order_acquire);

        char when [32];
        snprintf (when, sizeof when, "round %d", round);
        uint64_t count = 0, drop = 0;
        for (int index = 0; index < S_FOLLOWERS; index++) {
            s_follower_t *follower = &followers [index];
            s_report_t report;
            s_follower_epipe (follower, when, killed_ns, &report);
            const s_seen_t *seen = &report.seen;
            //  Everything sent before the kill, and at most the one send
            //  that returned but was not yet reported; never the parked
            //  message
            CHECKF (seen->count == reported || (!park && seen->count == reported + 1),
                    "%s: %s follower received %llu messages of generation %u, the publisher "
                    "reported %llu sent%s", when, follower->idle,
                    (unsigned long long) seen->count, generation,
                    (unsigned long long) reported, park ? " and was parked after them" : "");
            CHECKF (seen->count == 0
                    || (seen->first == s_id (generation, 1)
                        && seen->last == s_id (generation, (uint32_t) seen->count)),
                    "%s: %s follower received %llx..%llx", when, follower->idle,
                    (unsigned long long) seen->first, (unsigned long long) seen->last);
            //  The half-written message, dropped whole; a random kill may
            //  have cut one too
            uint64_t dropped_now = report.dropped - follower->last.dropped;
            CHECKF (park ? dropped_now == 1 : dropped_now <= 1, "%s: %s follower dropped "
                    "%llu messages", when, follower->idle, (unsigned long long) dropped_now);
            //  One restart seen per new generation
            CHECKF (report.restarts == (uint64_t) round, "%s: %s follower counted %llu "
                    "restarts", when, follower->idle, (unsigned long long) report.restarts);
            if (index == 0) {
                count = seen->count;
                drop = dropped_now;
            }
            CHECKF (seen->count == count && dropped_now == drop, "%s: followers disagree",
                    when);
            int64_t latency = report.when_ns - killed_ns;
            worst_ns = latency > worst_ns ? latency : worst_ns;
            total_ns += latency;
            follower->last = report;
        }
        published += count;
        dropped += drop;
        parked += park;
        mid_message += !park && drop;
        SAY ("  round %2d: %s, %llu sent (%llu reported)%s\n", round, park ? "parked" : "random",
             (unsigned long long) count, (unsigned long long) reported,
             drop ? ", a partial message dropped" : "");
    }
    for (int index = 0; index < S_FOLLOWERS; index++) {
        s_report_t report;
        s_follower_stop (&followers [index], &report);
        CHECK (report.seen.total == published && report.dropped == dropped);
    }
    printf ("test_fault_inject: writer: %d kills (%d parked mid-message, %d random kills cut "
            "a message), %llu messages delivered intact to each of %d subscribers; EPIPE "
            "after %lld ms on average, %lld ms at worst\n", kills, parked, mid_message,
            (unsigned long long) published, S_FOLLOWERS,
            (long long) (total_ns / (S_FOLLOWERS * kills) / 1000000),
            (long long) (worst_ns / 1000000));
    zshm_ring_t *ring = zshm_ring_open (name);
    zshm_ring_info_t info;
    CHECK (ring && zshm_ring_info (ring, &info) == 0);
    CHECKF (info.takeovers == (uint64_t) kills - 1 && !info.writer_alive,
            "%llu takeovers", (unsigned long long) info.takeovers);
    zshm_ring_destroy (&ring);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  readers: kill -9 of readers at random moments

//  A victim: a subscriber with the given idle strategy, or (idle NULL) a
//  raw ring reader.  It says 'r' once registered, then reads and checks
//  everything until killed.
static void
s_victim (const char *name, const char *idle, int ready_fd)
{
    if (idle) {
        char endpoint [256];
        snprintf (endpoint, sizeof endpoint, "shm://%s?idle=%s", name, idle);
        zshm_sub_t *sub = zshm_sub_new (endpoint, "");
        CHECK (sub);
        //  The subscriber attaches (and registers) on its first receive
        zshm_sub_set_rcvtimeo (sub, 0);
        while (!zshm_sub_connected (sub)) {
            if (zshm_sub_recv (sub) < 0)
                CHECK (errno == EAGAIN);
        }
        tu_write_all (ready_fd, "r", 1);
        zshm_sub_set_rcvtimeo (sub, -1);
        s_seen_t seen = { 0 };
        for (;;) {
            CHECKF (zshm_sub_recv (sub) >= 0, "victim (%s): recv", idle);
            s_verify (sub, &seen);
            //  It joined mid-stream: order is checked from its first
            CHECKF (seen.bad == 0 && seen.disorder == 0, "victim (%s): message %llx bad",
                    idle, (unsigned long long) seen.last);
        }
    }
    zshm_ring_t *ring = zshm_ring_open (name);
    CHECK (ring);
    zshm_reader_t *reader = zshm_reader_new (ring);
    CHECK (reader);
    zshm_reader_set_idle (reader, ZSHM_IDLE_BACKOFF);
    tu_write_all (ready_fd, "r", 1);
    unsigned char buf [S_SLOT];
    uint64_t last = 0, seq;
    for (;;) {
        ssize_t size = zshm_reader_recv (reader, buf, sizeof buf, &seq);
        CHECKF (size >= 16 && (size_t) size <= sizeof buf, "victim (raw): recv %zd", size);
        CHECKF (last == 0 || seq == last + 1, "victim (raw): %llu after %llu",
                (unsigned long long) seq, (unsigned long long) last);
        last = seq;
    }
}

//  Find pid in the channel's reader registry: 1 alive, 0 dead, -1 absent.
//  Returns the number of registered entries in *count_p.
static int
s_registry (zshm_ring_t *ring, pid_t pid, int *count_p)
{
    zshm_reader_info_t readers [ZSHM_MAX_READERS];
    int count = zshm_ring_readers (ring, readers, ZSHM_MAX_READERS);
    CHECK (count >= 0 && count <= ZSHM_MAX_READERS);
    *count_p = count;
    for (int index = 0; index < count; index++)
        if (readers [index].pid == pid)
            return readers [index].alive ? 1 : 0;
    return -1;
}

//  Readers left counted as sleeping on the channel's futex.
static uint32_t
s_waiters (const char *name)
{
    char path [512];
    int fd = open (tu_segment_path (path, sizeof path, name), O_RDONLY);
    CHECK (fd >= 0);
    void *base = mmap (NULL, ZSHM_SLOTS_OFFSET, PROT_READ, MAP_SHARED, fd, 0);
    CHECK (base != MAP_FAILED);
    close (fd);
    zshm_control_t *control = (zshm_control_t *) ((char *) base + ZSHM_CONTROL_OFFSET);
    uint32_t waiters = atomic_load (&control->waiters);
    munmap (base, ZSHM_SLOTS_OFFSET);
    return waiters;
}

#define S_STEADY 2
#define S_BATCH_MAX 3

static void
s_test_readers (void)
{
    int victims = (int) tu_env_u64 ("ZSHM_TEST_VICTIMS", 140);
    tu_rng_t rng;
    tu_rng_seed (&rng, s_seed ^ 0x2);
    char name [64], endpoint [160];
    tu_channel (name, sizeof name, "rkill");
    //  65536 slots: the publisher's whole budget, so that the steady
    //  readers can never be lapped however long they are descheduled
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=65536&slot=%d", name, S_SLOT);
    _Atomic uint64_t *committed = (_Atomic uint64_t *) s_shared (sizeof (uint64_t));

    static const char *steady_idles [S_STEADY] = { "backoff", "block" };
    s_follower_t steady [S_STEADY];
    for (int index = 0; index < S_STEADY; index++)
        s_follower_start (&steady [index], name, steady_idles [index], false);
    //  About 5,000 messages a second: the budget lasts several seconds
    s_pub_plan_t plan = {
        .endpoint = endpoint, .generation = 1, .park_after = -1,
        .burst = 5, .pause_ns = 1000000, .committed = committed
    };
    s_pub_t pub;
    s_publisher_start (&pub, &plan, true);
    zshm_ring_t *ring = zshm_ring_open (name);
    CHECK (ring);
    //  The steady followers attach when the channel appears.  Wait until
    //  they are registered: one attaching later would reclaim the entry of
    //  a victim that died before we looked at it.
    for (int waited = 0;; waited++) {
        zshm_reader_info_t readers [ZSHM_MAX_READERS];
        if (zshm_ring_readers (ring, readers, ZSHM_MAX_READERS) >= S_STEADY)
            break;
        CHECKF (waited < 30000, "the steady followers did not attach in 30 s");
        tu_sleep_ns (1000000);
    }

    static const char *victim_idles [] = { "spin", "yield", "backoff", "block", NULL };
    int killed = 0, most = 0, kinds [5] = { 0 };
    while (killed < victims) {
        int batch = (int) tu_rng_range (&rng, 1, S_BATCH_MAX);
        pid_t pids [S_BATCH_MAX];
        for (int index = 0; index < batch; index++) {
            int kind = (int) tu_rng_range (&rng, 0, 4);
            kinds [kind]++;
            int ready [2];
            CHECK (pipe (ready) == 0);
            pids [index] = tu_fork ();
            if (pids [index] == 0) {
                close (ready [0]);
                s_victim (name, victim_idles [kind], ready [1]);
            }
            close (ready [1]);
            char byte;
            CHECKF (tu_read_all (ready [0], &byte, 1, 30000) == 1, "victim %d did not start",
                    killed + index);
            close (ready [0]);
            int count;
            CHECKF (s_registry (ring, pids [index], &count) == 1, "victim %d (pid %d) is not "
                    "registered alive", killed + index, (int) pids [index]);
            //  Dead entries were reused: never more than the steady
            //  readers and one batch
            CHECKF (count <= S_STEADY + S_BATCH_MAX, "%d readers registered after %d victims",
                    count, killed + index);
            most = count > most ? count : most;
        }
        tu_sleep_ns ((int64_t) tu_rng_range (&rng, 0, 5000000));
        for (int index = 0; index < batch; index++) {
            CHECK (kill (pids [index], SIGKILL) == 0);
            int status = tu_reap (pids [index]);
            char text [64];
            CHECKF (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
                    "victim %d ended with %s before the kill", killed + index,
                    tu_status (status, text, sizeof text));
        }
        for (int index = 0; index < batch; index++) {
            int count;
            CHECKF (s_registry (ring, pids [index], &count) == 0, "victim %d (pid %d) not "
                    "listed as dead after its death", killed + index, (int) pids [index]);
        }
        killed += batch;
    }
    CHECKF (atomic_load (committed) > 0, "the publisher sent nothing");
    uint64_t sent = s_publisher_stop (&pub);
    int64_t stopped_ns = tu_now_ns ();
    for (int index = 0; index < S_STEADY; index++) {
        s_report_t report;
        s_follower_epipe (&steady [index], "readers", stopped_ns, &report);
        CHECKF (report.seen.count == sent && report.lost == 0
                && (sent == 0 || report.seen.last == s_id (1, (uint32_t) sent)),
                "%s steady reader: %llu of %llu messages, %llu lost", steady [index].idle,
                (unsigned long long) report.seen.count, (unsigned long long) sent,
                (unsigned long long) report.lost);
        s_follower_stop (&steady [index], &report);
    }
    //  Every reader is gone now.  Block readers killed in their sleep
    //  leave the futex's waiter count raised; the writer then pays a wake
    //  per commit, but nothing worse.  Reported, not judged.
    uint32_t waiters = s_waiters (name);
    printf ("test_fault_inject: readers: %d victims killed (%d spin, %d yield, %d backoff, "
            "%d block subscribers, %d raw readers), at most %d registry entries in use; "
            "the steady readers got all %llu messages; futex waiters left by dead readers: %u\n",
            killed, kinds [0], kinds [1], kinds [2], kinds [3], kinds [4], most,
            (unsigned long long) sent, waiters);
    zshm_ring_destroy (&ring);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  full: a channel directory with no room

//  Entries of a directory other than . and .., and the first in *first.
static int
s_entries (const char *path, char *first, size_t size)
{
    DIR *dir = opendir (path);
    CHECK (dir);
    int count = 0;
    struct dirent *entry;
    *first = 0;
    while ((entry = readdir (dir)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
            if (!count++)
                snprintf (first, size, "%s", entry->d_name);
        }
    closedir (dir);
    return count;
}

//  Returns TU_SKIP if this process may not mount a tmpfs of its own.
static int
s_test_full (void)
{
    //  Our own mount namespace, so that nothing is left mounted if we die
    if (unshare (CLONE_NEWNS)) {
        printf ("test_fault_inject: full: SKIP, unshare (CLONE_NEWNS): %s\n", strerror (errno));
        return TU_SKIP;
    }
    if (mount ("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        printf ("test_fault_inject: full: SKIP, making mounts private: %s\n", strerror (errno));
        return TU_SKIP;
    }
    char dir [] = "/tmp/zshm-full-XXXXXX";
    CHECK (mkdtemp (dir));
    if (mount ("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700")) {
        printf ("test_fault_inject: full: SKIP, mount -t tmpfs: %s\n", strerror (errno));
        rmdir (dir);
        return TU_SKIP;
    }
    CHECK (setenv ("ZSHM_DIR", dir, 1) == 0);
    CHECK (strcmp (zshm_ring_dir (), dir) == 0);
    char name [64], endpoint [160], entry [256];

    //  A 4 MiB ring in 64 KiB: ENOSPC, and nothing left behind
    tu_channel (name, sizeof name, "full");
    errno = 0;
    zshm_ring_t *ring = zshm_ring_new (name, 4096, 1024);
    CHECKF (!ring && errno == ENOSPC, "zshm_ring_new of 4 MiB in 64 KiB: %p, errno %d",
            (void *) ring, errno);
    printf ("test_fault_inject: full: zshm_ring_new: %s\n", strerror (errno));
    CHECKF (s_entries (dir, entry, sizeof entry) == 0, "left behind: %s", entry);
    CHECK (zshm_ring_open (name) == NULL && errno == ENOENT);

    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=4096&slot=1024", name);
    errno = 0;
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECKF (!pub && errno == ENOSPC, "zshm_pub_new (%s) in 64 KiB: errno %d", endpoint, errno);
    CHECKF (s_entries (dir, entry, sizeof entry) == 0, "left behind: %s", entry);

    //  A small publisher fits and works
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=64&slot=%d", name, S_SLOT);
    pub = zshm_pub_new (endpoint);
    CHECKF (pub, "a small publisher in 64 KiB");
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);      //  attach
    zshm_sub_set_rcvtimeo (sub, 5000);
    s_seen_t seen = { 0 };
    for (uint32_t index = 1; index <= 20; index++) {
        s_send (pub, s_id (1, index));
        CHECK (zshm_sub_recv (sub) >= 2);
        s_verify (sub, &seen);
    }
    CHECK (seen.count == 20 && seen.bad == 0 && seen.disorder == 0);
    zshm_sub_destroy (&sub);

    //  Fill the rest but a page: even a small ring fails, cleanly
    char path [512];
    snprintf (path, sizeof path, "%s/filler", dir);
    int fd = open (path, O_CREAT | O_WRONLY, 0600);
    CHECK (fd >= 0);
    char page [4096] = { 0 };
    while (write (fd, page, sizeof page) == (ssize_t) sizeof page)
        ;
    CHECK (ftruncate (fd, lseek (fd, 0, SEEK_CUR) - (off_t) sizeof page) == 0);
    close (fd);
    char other [64];
    tu_channel (other, sizeof other, "full");
    errno = 0;
    ring = zshm_ring_new (other, 2, 32);
    CHECKF (!ring && errno == ENOSPC, "a small ring in the last page: errno %d", errno);
    CHECKF (s_entries (dir, entry, sizeof entry) == 2, "a file left behind");
    //  A publisher restarting on the full tmpfs: the ring builds a fresh
    //  segment before it finds the old one to take over, so this may fail
    //  too, but only cleanly
    uint64_t head = zshm_ring_head (zshm_pub_ring (pub));
    zshm_pub_destroy (&pub);
    errno = 0;
    pub = zshm_pub_new (endpoint);
    CHECKF (pub || errno == ENOSPC, "a publisher taking over on a full tmpfs: errno %d", errno);
    if (!pub)
        printf ("test_fault_inject: full: a takeover on a full tmpfs fails too: %s\n",
                strerror (errno));
    zshm_pub_destroy (&pub);
    CHECKF (s_entries (dir, entry, sizeof entry) == 2, "a file left behind");
    //  With room again, it takes the channel over and continues
    CHECK (unlink (path) == 0);
    pub = zshm_pub_new (endpoint);
    CHECKF (pub, "a publisher taking over with room again");
    CHECK (zshm_ring_head (zshm_pub_ring (pub)) == head);
    zshm_pub_destroy (&pub);

    CHECK (zshm_ring_unlink (name) == 0);
    CHECK (umount (dir) == 0);
    CHECK (rmdir (dir) == 0);
    printf ("test_fault_inject: full: big rings refused with ENOSPC, nothing left behind, "
            "small rings work\n");
    return TU_PASS;
}

//  --------------------------------------------------------------------------
//  truncate: the segment shrinks under a live publisher and subscribers

static void
s_test_truncate (void)
{
    tu_rng_t rng;
    tu_rng_seed (&rng, s_seed ^ 0x4);
    enum { CAPACITY = 4096 };
    uint64_t total = ZSHM_SLOTS_OFFSET + CAPACITY * ZSHM_SLOT_STRIDE (S_SLOT);
    off_t sizes [] = { 0, 100, ZSHM_SLOTS_OFFSET, (off_t) total / 2, (off_t) total - 1 };
    int cases = (int) (sizeof sizes / sizeof sizes [0]);
    _Atomic uint64_t *committed = (_Atomic uint64_t *) s_shared (2 * sizeof (uint64_t));
    int spurious = 0;
    for (int which = 0; which < cases; which++) {
        char name [64], endpoint [160], path [512];
        tu_channel (name, sizeof name, "trunc");
        tu_segment_path (path, sizeof path, name);
        snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=%d&slot=%d", name, CAPACITY,
                  S_SLOT);
        s_follower_t followers [2];
        s_follower_start (&followers [0], name, "block", false);
        s_follower_start (&followers [1], name, "backoff", false);
        //  A follower copying a slot whose page the truncation takes sees
        //  its copy torn (the state word reads as zero) and counts that one
        //  message lost; the slots after it read as empty, so no more.
        followers [0].torn = followers [1].torn = 1;
        atomic_store (&committed [0], 0);
        s_pub_plan_t plan = {
            .endpoint = endpoint, .generation = 1, .park_after = -1,
            .burst = 4, .pause_ns = 200000, .committed = &committed [0]
        };
        s_pub_t pub;
        s_publisher_start (&pub, &plan, true);
        //  Truncate at a random moment once the stream is flowing
        uint64_t at = tu_rng_range (&rng, 50, 500);
        while (atomic_load (&committed [0]) < at)
            tu_sleep_ns (1000000);
        CHECK (truncate (path, sizes [which]) == 0);
        int64_t truncated_ns = tu_now_ns ();
        uint64_t before = atomic_load (&committed [0]);

        char when [64];
        snprintf (when, sizeof when, "truncated to %lld", (long long) sizes [which]);
        for (int index = 0; index < 2; index++) {
            s_report_t report;
            s_follower_epipe (&followers [index], when, truncated_ns, &report);
            //  What arrived is intact and in order from the first
            //  (s_follower_epipe); it is what was sent before the
            //  truncation, give or take what was in flight
            CHECKF (report.seen.count == 0 || report.seen.first == s_id (1, 1), "%s: %s "
                    "follower started at %llx", when, followers [index].idle,
                    (unsigned long long) report.seen.first);
            CHECKF (report.seen.count <= atomic_load (&committed [0]), "%s: %s follower "
                    "received %llu, more than was sent", when, followers [index].idle,
                    (unsigned long long) report.seen.count);
            SAY ("  %s after %llu sent: %s follower got %llu then EPIPE after %lld ms\n", when,
                 (unsigned long long) before, followers [index].idle,
                 (unsigned long long) report.seen.count,
                 (long long) ((report.when_ns - truncated_ns) / 1000000));
            followers [index].last = report;
        }
        //  The publisher lives on, writing into its guarded mapping
        CHECKF (kill (pub.pid, 0) == 0, "%s: the publisher died", when);
        tu_sleep_ns (20000000);
        uint64_t sent = s_publisher_stop (&pub);
        CHECK (sent >= before);

        //  A new publisher replaces the broken segment; the same
        //  subscribers receive it from its first message
        atomic_store (&committed [1], 0);
        char replace [192];
        snprintf (replace, sizeof replace, "%s&replace=1", endpoint);
        s_pub_plan_t again = {
            .endpoint = replace, .generation = 2, .park_after = -1,
            .burst = 4, .pause_ns = 200000, .committed = &committed [1]
        };
        s_publisher_start (&pub, &again, true);
        while (atomic_load (&committed [1]) < 100)
            tu_sleep_ns (1000000);
        sent = s_publisher_stop (&pub);
        int64_t stopped_ns = tu_now_ns ();
        for (int index = 0; index < 2; index++) {
            s_report_t report;
            s_follower_epipe (&followers [index], when, stopped_ns, &report);
            while (report.seen.count == 0) {
                //  A second EPIPE for the same death, before the new
                //  publisher's messages: the zeroed header read as a new
                //  incarnation.  Tolerated, counted and reported.
                spurious++;
                SAY ("  %s: %s follower: EPIPE again, restarts %llu\n", when,
                     followers [index].idle, (unsigned long long) report.restarts);
                s_follower_epipe (&followers [index], when, stopped_ns, &report);
            }
            //  In order (s_follower_epipe) and ending with the new
            //  publisher's last: all of its messages, from its first
            CHECKF (report.seen.count >= sent && report.seen.last == s_id (2, (uint32_t) sent),
                    "%s: after the replacement the %s follower got %llu messages up to %llx, "
                    "of %llu sent", when, followers [index].idle,
                    (unsigned long long) report.seen.count,
                    (unsigned long long) report.seen.last, (unsigned long long) sent);
            s_follower_stop (&followers [index], &report);
        }
        CHECK (zshm_ring_unlink (name) == 0);
    }
    printf ("test_fault_inject: truncate: %d sizes, no SIGBUS, EPIPE each time, replaced "
            "and read again; %d repeated EPIPEs\n", cases, spurious);
}

//  --------------------------------------------------------------------------

//  Run one part in a child under an alarm.  Returns its exit code, or
//  TU_FAIL if it died of a signal.
static int
s_run (const char *part, unsigned seconds)
{
    pid_t pid = tu_fork ();
    if (pid == 0) {
        alarm (seconds);            //  SIGALRM's default action: a hang dies
        int rc = TU_PASS;
        if (streq (part, "writer"))
            s_test_writer ();
        else
        if (streq (part, "readers"))
            s_test_readers ();
        else
        if (streq (part, "full"))
            rc = s_test_full ();
        else
        if (streq (part, "truncate"))
            s_test_truncate ();
        else
            FAIL ("no part %s", part);
        fflush (stdout);
        _exit (rc);
    }
    int status = tu_reap (pid);
    tu_cleanup (pid);
    char text [64];
    if (WIFEXITED (status) && (WEXITSTATUS (status) == TU_PASS || WEXITSTATUS (status) == TU_SKIP))
        return WEXITSTATUS (status);
    fprintf (stderr, "test_fault_inject: %s: FAILED (%s)\n", part,
             tu_status (status, text, sizeof text));
    return TU_FAIL;
}

int
main (int argc, char *argv [])
{
    setvbuf (stdout, NULL, _IOLBF, 0);
    static const char *all [] = { "writer", "readers", "full", "truncate" };
    const char *parts [8];
    int count = 0;
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "-v"))
            s_verbose = true;
        else
        if (count < 8)
            parts [count++] = argv [index];
    }
    if (!count)
        for (count = 0; count < 4; count++)
            parts [count] = all [count];
    tu_require_shm ("test_fault_inject");
    s_seed = tu_seed ();
    printf ("test_fault_inject: TU_SEED=0x%llx\n", (unsigned long long) s_seed);
    tu_watchdog (300);

    int failed = 0, passed = 0;
    for (int index = 0; index < count; index++) {
        int64_t start = tu_now_ns ();
        int rc = s_run (parts [index], 120);
        printf ("test_fault_inject: %s: %s (%.1f s)\n", parts [index],
                rc == TU_PASS ? "ok" : rc == TU_SKIP ? "skipped" : "FAILED",
                (double) (tu_now_ns () - start) / 1e9);
        failed += rc == TU_FAIL;
        passed += rc == TU_PASS;
    }
    return failed ? TU_FAIL : passed ? TU_PASS : TU_SKIP;
}
