/*  =========================================================================
    test_ring_faults - the ring under faults: writers killed with SIGKILL,
    hostile segments, file modes

    Usage: test_ring_faults [-v] [kill|reserve|hostile|modes]...
    Environment: ZSHM_TEST_KILLS (default 24) sets the number of kills;
    TU_SEED replays a run.

    kill     A writer process publishes as fast as it can and is killed with
             SIGKILL after a random 0-50 ms, again and again.  Two reader
             processes (one spinning, one sleeping on the futex) must get
             EPIPE within a second or so of each kill and never a torn
             message; each new writer takes the channel over and continues
             the sequence exactly where the dead one stopped, and the
             readers carry on with no duplicate and no gap they did not
             count as lost.
    reserve  The same, deterministically, for a writer killed between
             reserve and commit, on every small capacity.
    hostile  Files planted where a channel should be: zeroed magic, random
             header, bad header fields, truncated, empty, random slots,
             random control region, lying lengths, all 0xff, grown with
             garbage, shrunk under a reader, symlinks, a FIFO, a directory.
             Each is refused with an errno or read strictly within bounds,
             never crashing or hanging; each runs in its own process under
             an alarm, so a crash or a hang is a failure of that case.
    modes    New segments are 0600 whatever the umask; zshm_ring_new_ex
             gives exactly the mode asked for; readers map slots read-only.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "testutil.h"
#include "zshm_layout.h"

static bool s_verbose = false;
static tu_rng_t s_rng;

//  Longest a reader may take to report a dead writer.  The ring promises
//  about a second (it probes every 100 ms); half a second more absorbs
//  scheduling on a busy machine.
#define S_EPIPE_LIMIT_NS 1500000000LL

//  --------------------------------------------------------------------------
//  Readers that follow a channel across writer deaths (kill and reserve)

//  What a reader process tells the parent at each EPIPE and at the end.
typedef struct {
    int kind;                   //  S_READY, S_EPIPE, S_ERROR, S_FINAL
    int error;                  //  errno, for S_ERROR
    int64_t epipe_ns;           //  tu_now_ns when recv returned EPIPE
    uint64_t start;             //  position at creation
    uint64_t position;          //  zshm_reader_position now
    uint64_t last;              //  last sequence received
    uint64_t delivered;         //  messages received, our count
    uint64_t gaps;              //  sequences never seen, our count
    uint64_t lost;              //  zshm_reader_lost
    uint64_t reader_delivered;  //  zshm_reader_delivered
    uint64_t bad;               //  messages failing tu_msg_verify
    uint64_t disorder;          //  sequence not above the previous one
    uint64_t first_bad_seq;     //  first bad message
    int first_bad_verdict;      //  and what was wrong with it
} s_report_t;

enum { S_READY = 1, S_EPIPE, S_ERROR, S_FINAL };

typedef struct {
    pid_t pid;                  //  reader process
    int report_fd;              //  reports come in here
    int command_fd;             //  'c' continue, 's' stop go out here
    uint64_t start;             //  its first position
} s_follower_t;

static void
s_follow (const char *name, size_t slot_size, zshm_idle_t idle, int report_fd, int command_fd)
{
    zshm_ring_t *ring = zshm_ring_open (name);
    CHECKF (ring, "reader: zshm_ring_open (%s)", name);
    zshm_reader_t *reader = zshm_reader_new (ring);
    CHECK (reader);
    zshm_reader_set_idle (reader, idle);
    s_report_t report = { .kind = S_READY };
    report.start = report.position = zshm_reader_position (reader);
    report.last = report.start - 1;
    tu_write_all (report_fd, &report, sizeof report);

    unsigned char buf [4096];
    size_t max = slot_size < sizeof buf ? slot_size : sizeof buf;
    for (;;) {
        uint64_t seq;
        ssize_t size = zshm_reader_recv (reader, buf, sizeof buf, &seq);
        if (size >= 0) {
            if (seq <= report.last)
                report.disorder++;
            else
                report.gaps += seq - report.last - 1;
            int verdict = (size_t) size > slot_size ? TU_MSG_BAD_SIZE
                        : tu_msg_verify (buf, (size_t) size, seq,
                                         tu_msg_size (seq, TU_MSG_MIN, max));
            if (verdict != TU_MSG_OK && !report.bad++) {
                report.first_bad_seq = seq;
                report.first_bad_verdict = verdict;
            }
            report.last = seq;
            report.delivered++;
            continue;
        }
        report.epipe_ns = tu_now_ns ();
        report.kind = errno == EPIPE ? S_EPIPE : S_ERROR;
        report.error = errno;
        report.position = zshm_reader_position (reader);
        report.lost = zshm_reader_lost (reader);
        report.reader_delivered = zshm_reader_delivered (reader);
        tu_write_all (report_fd, &report, sizeof report);
        char command = 's';
        if (report.kind != S_EPIPE || tu_read_all (command_fd, &command, 1, -1) != 1
        ||  command != 'c')
            break;
    }
    report.kind = S_FINAL;
    tu_write_all (report_fd, &report, sizeof report);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);
    _exit (0);
}

static void
s_follower_start (s_follower_t *self, const char *name, size_t slot_size, zshm_idle_t idle)
{
    int reports [2], commands [2];
    CHECK (pipe (reports) == 0 && pipe (commands) == 0);
    self->pid = tu_fork ();
    if (self->pid == 0) {
        close (reports [0]);
        close (commands [1]);
        s_follow (name, slot_size, idle, reports [1], commands [0]);
    }
    close (reports [1]);
    close (commands [0]);
    self->report_fd = reports [0];
    self->command_fd = commands [1];
    s_report_t report;
    CHECKF (tu_read_all (self->report_fd, &report, sizeof report, 30000) == 1
            && report.kind == S_READY, "reader %d did not start", (int) self->pid);
    self->start = report.start;
}

//  Wait for a follower's report after a kill: EPIPE, promptly, and clean.
static void
s_follower_epipe (s_follower_t *self, int index, int64_t killed_ns, s_report_t *report,
                  int64_t *latency_ns)
{
    int rc = tu_read_all (self->report_fd, report, sizeof *report, 10000);
    CHECKF (rc == 1, "reader %d: no EPIPE within 10 s of the kill (rc %d)", index, rc);
    CHECKF (report->kind == S_EPIPE, "reader %d: recv failed with errno %d, not EPIPE", index,
            report->error);
    *latency_ns = report->epipe_ns - killed_ns;
    CHECKF (*latency_ns <= S_EPIPE_LIMIT_NS, "reader %d: EPIPE came %lld ms after the kill",
            index, (long long) (*latency_ns / 1000000));
    CHECKF (report->bad == 0, "reader %d: %llu torn or foreign messages, first %llu verdict %d",
            index, (unsigned long long) report->bad, (unsigned long long) report->first_bad_seq,
            report->first_bad_verdict);
    CHECKF (report->disorder == 0, "reader %d: %llu messages out of order", index,
            (unsigned long long) report->disorder);
    CHECKF (report->delivered + report->lost == report->position - self->start,
            "reader %d: delivered %llu + lost %llu != %llu read past", index,
            (unsigned long long) report->delivered, (unsigned long long) report->lost,
            (unsigned long long) (report->position - self->start));
    CHECKF (report->gaps == report->lost, "reader %d: saw %llu gaps, counted %llu lost", index,
            (unsigned long long) report->gaps, (unsigned long long) report->lost);
    CHECK (report->reader_delivered == report->delivered);
    //  What the dead writer published last is still in the ring, so the
    //  reader has it (unless the writer published nothing at all)
    CHECKF (report->last == report->position - 1 || report->position == self->start,
            "reader %d: last message %llu but stopped at %llu", index,
            (unsigned long long) report->last, (unsigned long long) report->position);
}

static void
s_follower_stop (s_follower_t *self)
{
    tu_write_all (self->command_fd, "s", 1);
    s_report_t report;
    CHECK (tu_read_all (self->report_fd, &report, sizeof report, 10000) == 1);
    CHECK (report.kind == S_FINAL);
    int status = tu_reap (self->pid);
    char text [64];
    CHECKF (WIFEXITED (status) && WEXITSTATUS (status) == 0, "reader: %s",
            tu_status (status, text, sizeof text));
    close (self->report_fd);
    close (self->command_fd);
}

//  --------------------------------------------------------------------------
//  kill: SIGKILL a flat-out writer at random moments

//  A writer process: takes the channel (creating or taking it over),
//  reports the first sequence it will publish, then publishes for ever,
//  half by send and half by reserve/commit.
static pid_t
s_writer_start (const char *name, size_t capacity, size_t slot_size, uint64_t *first_p)
{
    int ready [2];
    CHECK (pipe (ready) == 0);
    pid_t pid = tu_fork ();
    if (pid == 0) {
        close (ready [0]);
        zshm_ring_t *ring = zshm_ring_new (name, capacity, slot_size);
        CHECKF (ring, "writer: zshm_ring_new (%s)", name);
        uint64_t seq = zshm_ring_head (ring);
        tu_write_all (ready [1], &seq, sizeof seq);
        unsigned char msg [4096];
        size_t max = slot_size < sizeof msg ? slot_size : sizeof msg;
        for (;; seq++) {
            size_t size = tu_msg_size (seq, TU_MSG_MIN, max);
            if (seq & 1) {
                tu_msg_fill (msg, seq, size);
                CHECK (zshm_ring_send (ring, msg, size) == seq);
            }
            else {
                uint64_t reserved;
                void *slot = zshm_ring_reserve (ring, &reserved);
                CHECK (reserved == seq);
                tu_msg_fill (slot, seq, size);
                CHECK (zshm_ring_commit (ring, size) == 0);
            }
        }
    }
    close (ready [1]);
    CHECKF (tu_read_all (ready [0], first_p, sizeof *first_p, 30000) == 1,
            "writer did not start");
    close (ready [0]);
    return pid;
}

static void
s_test_kill (void)
{
    enum { CAPACITY = 256, SLOT = 64 };
    int kills = (int) tu_env_u64 ("ZSHM_TEST_KILLS", 24);
    char name [64];
    tu_channel (name, sizeof name, "kill");
    uint64_t first;
    pid_t writer = s_writer_start (name, CAPACITY, SLOT, &first);
    CHECK (first == 1);
    s_follower_t followers [2];
    s_follower_start (&followers [0], name, SLOT, ZSHM_IDLE_SPIN);
    s_follower_start (&followers [1], name, SLOT, ZSHM_IDLE_BLOCK);

    int64_t worst_ns = 0, total_ns = 0;
    uint64_t published = 0;
    for (int round = 0; round < kills; round++) {
        tu_sleep_ns ((int64_t) tu_rng_range (&s_rng, 0, 50000000));
        int64_t killed_ns = tu_now_ns ();
        CHECK (kill (writer, SIGKILL) == 0);
        int status = tu_reap (writer);
        CHECK (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

        s_report_t reports [2];
        for (int index = 0; index < 2; index++) {
            int64_t latency;
            s_follower_epipe (&followers [index], index, killed_ns, &reports [index], &latency);
            worst_ns = latency > worst_ns ? latency : worst_ns;
            total_ns += latency;
        }
        //  Both stopped where the dead writer stopped
        CHECKF (reports [0].position == reports [1].position,
                "round %d: readers stopped at %llu and %llu", round,
                (unsigned long long) reports [0].position,
                (unsigned long long) reports [1].position);
        uint64_t stopped = reports [0].position;
        CHECK (stopped >= first);
        published += stopped - first;

        //  A new writer continues the sequence exactly there
        writer = s_writer_start (name, CAPACITY, SLOT, &first);
        CHECKF (first == stopped, "round %d: new writer starts at %llu, the dead one "
                "stopped before %llu", round, (unsigned long long) first,
                (unsigned long long) stopped);
        for (int index = 0; index < 2; index++)
            tu_write_all (followers [index].command_fd, "c", 1);
        if (s_verbose)
            printf ("   kill %2d: stopped at %llu, EPIPE after %lld / %lld ms\n", round,
                    (unsigned long long) stopped,
                    (long long) ((reports [0].epipe_ns - killed_ns) / 1000000),
                    (long long) ((reports [1].epipe_ns - killed_ns) / 1000000));
    }
    //  The last writer dies too, then the readers give their totals
    int64_t killed_ns = tu_now_ns ();
    CHECK (kill (writer, SIGKILL) == 0);
    tu_reap (writer);
    for (int index = 0; index < 2; index++) {
        s_report_t report;
        int64_t latency;
        s_follower_epipe (&followers [index], index, killed_ns, &report, &latency);
        CHECK (report.delivered > 0);
        printf ("test_ring_faults: kill: reader %d: %llu delivered, %llu lost\n", index,
                    (unsigned long long) report.delivered, (unsigned long long) report.lost);
        s_follower_stop (&followers [index]);
    }
    printf ("test_ring_faults: kill: %d kills, %llu messages, EPIPE after %lld ms on average, "
            "%lld ms at worst\n", kills, (unsigned long long) published,
            (long long) (total_ns / (2 * kills) / 1000000), (long long) (worst_ns / 1000000));
    zshm_ring_info_t info;
    zshm_ring_t *ring = zshm_ring_open (name);
    CHECK (ring && zshm_ring_info (ring, &info) == 0);
    CHECK (info.takeovers == (uint64_t) kills && !info.writer_alive);
    zshm_ring_destroy (&ring);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  reserve: a writer killed between reserve and commit

static void
s_test_reserve_kill (size_t capacity)
{
    enum { SLOT = 32 };
    char name [64];
    tu_channel (name, sizeof name, "reserve");
    int ready [2], go [2];
    CHECK (pipe (ready) == 0 && pipe (go) == 0);
    //  The writer publishes 5 messages (laps of the smallest rings),
    //  reserves the 6th, fills half of it, and waits to be killed
    pid_t writer = tu_fork ();
    char byte;
    if (writer == 0) {
        close (ready [0]);
        close (go [1]);
        zshm_ring_t *ring = zshm_ring_new (name, capacity, SLOT);
        CHECK (ring);
        tu_write_all (ready [1], "r", 1);
        CHECK (tu_read_all (go [0], &byte, 1, -1) == 1);
        unsigned char msg [SLOT];
        for (uint64_t seq = 1; seq <= 5; seq++) {
            size_t size = tu_msg_size (seq, TU_MSG_MIN, SLOT);
            tu_msg_fill (msg, seq, size);
            CHECK (zshm_ring_send (ring, msg, size) == seq);
        }
        uint64_t seq;
        unsigned char *slot = (unsigned char *) zshm_ring_reserve (ring, &seq);
        CHECK (seq == 6);
        memset (slot, 0xee, SLOT / 2);
        tu_write_all (ready [1], "k", 1);
        for (;;)
            pause ();
    }
    close (ready [1]);
    close (go [0]);
    CHECK (tu_read_all (ready [0], &byte, 1, 30000) == 1 && byte == 'r');
    //  A reader following from the start
    zshm_ring_t *side = zshm_ring_open (name);
    CHECK (side);
    zshm_reader_t *reader = zshm_reader_new (side);
    uint64_t start = zshm_reader_position (reader);
    CHECK (start == 1);
    tu_write_all (go [1], "g", 1);
    CHECK (tu_read_all (ready [0], &byte, 1, 30000) == 1 && byte == 'k');
    close (ready [0]);
    close (go [1]);
    CHECK (kill (writer, SIGKILL) == 0);
    tu_reap (writer);

    //  Whatever the ring still holds of 1..5 arrives, then EPIPE; the
    //  half-written 6th is never delivered.  A ring of capacity c holds
    //  c - 2 messages while a reservation is open (the reserved slot and
    //  the one after it are dirty), so a 2-slot ring holds none here.
    unsigned char buf [SLOT];
    uint64_t seq, last = start - 1, gaps = 0, delivered = 0;
    ssize_t size;
    while ((size = zshm_reader_recv (reader, buf, sizeof buf, &seq)) >= 0) {
        CHECKF (seq > last && seq <= 5, "capacity %zu: got %llu after %llu", capacity,
                (unsigned long long) seq, (unsigned long long) last);
        CHECK (tu_msg_verify (buf, (size_t) size, seq, tu_msg_size (seq, TU_MSG_MIN, SLOT))
               == TU_MSG_OK);
        gaps += seq - last - 1;
        last = seq;
        delivered++;
    }
    CHECK (errno == EPIPE);
    if (capacity >= 4) {
        CHECKF (last == 5, "capacity %zu: last message %llu, not 5", capacity,
                (unsigned long long) last);
        CHECK (zshm_reader_position (reader) == 6);
    }

    //  The new writer publishes 6 next
    zshm_ring_t *ring = zshm_ring_new (name, capacity, SLOT);
    CHECK (ring);
    CHECKF (zshm_ring_head (ring) == 6, "capacity %zu: a writer taking over after a death "
            "between reserve and commit starts at %llu, not 6", capacity,
            (unsigned long long) zshm_ring_head (ring));
    unsigned char msg [SLOT];
    for (uint64_t expected = 6; expected <= 7; expected++) {
        size_t msg_size = tu_msg_size (expected, TU_MSG_MIN, SLOT);
        tu_msg_fill (msg, expected, msg_size);
        CHECK (zshm_ring_send (ring, msg, msg_size) == expected);
    }
    //  ...and the reader carries on, without a duplicate, and loses
    //  nothing it does not count (on rings of 4 slots or more, nothing)
    uint64_t gaps_before = gaps;
    while (last < 7) {
        size = zshm_reader_recv_timeout (reader, buf, sizeof buf, &seq, 2000);
        CHECKF (size >= 0, "capacity %zu: nothing after the takeover (last %llu)", capacity,
                (unsigned long long) last);
        CHECKF (seq > last && seq <= 7, "capacity %zu: got %llu after %llu", capacity,
                (unsigned long long) seq, (unsigned long long) last);
        CHECK (tu_msg_verify (buf, (size_t) size, seq, tu_msg_size (seq, TU_MSG_MIN, SLOT))
               == TU_MSG_OK);
        gaps += seq - last - 1;
        last = seq;
        delivered++;
    }
    CHECK (zshm_reader_position (reader) == 8);
    CHECK (zshm_reader_delivered (reader) == delivered);
    CHECK (zshm_reader_lost (reader) == gaps);
    CHECK (delivered + gaps == 8 - start);
    if (capacity >= 4)
        CHECKF (gaps == gaps_before, "capacity %zu: lost %llu after the takeover", capacity,
                (unsigned long long) (gaps - gaps_before));
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);
    zshm_ring_destroy (&side);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------
//  hostile: segments planted by someone else

enum { H_CAPACITY = 16, H_SLOT = 100 };

//  A valid segment image of H_CAPACITY slots of H_SLOT bytes whose dead
//  writer published 1..published (the last capacity - 1 still held).
static unsigned char *
s_image (uint64_t published, size_t *size_p)
{
    size_t total = zshm_layout_total (H_CAPACITY, H_SLOT);
    unsigned char *image = (unsigned char *) calloc (1, total);
    CHECK (image);
    zshm_header_t *header = (zshm_header_t *) image;
    header->magic = ZSHM_MAGIC;
    header->version = ZSHM_LAYOUT_VERSION;
    header->header_size = sizeof (zshm_header_t);
    header->capacity = H_CAPACITY;
    header->slot_size = H_SLOT;
    header->slot_stride = ZSHM_SLOT_STRIDE (H_SLOT);
    header->slots_offset = ZSHM_SLOTS_OFFSET;
    header->total_size = total;
    atomic_store (&header->writer_pid, 999999);
    atomic_store (&header->incarnation, 42);
    atomic_store (&header->head, published + 1);
    uint64_t oldest = published >= H_CAPACITY - 1 ? published - (H_CAPACITY - 2) : 1;
    for (uint64_t seq = oldest; seq <= published + 1; seq++) {
        zshm_slot_t *slot = (zshm_slot_t *) (image + ZSHM_SLOTS_OFFSET
                                             + (seq % H_CAPACITY) * ZSHM_SLOT_STRIDE (H_SLOT));
        if (seq > published) {
            atomic_store (&slot->state, ZSHM_DIRTY | seq);
            continue;
        }
        size_t size = tu_msg_size (seq, TU_MSG_MIN, H_SLOT);
        tu_msg_fill (slot->payload, seq, size);
        atomic_store (&slot->length, (uint32_t) size);
        atomic_store (&slot->state, seq);
    }
    atomic_store (&header->ready, ZSHM_READY);
    *size_p = total;
    return image;
}

static void
s_random_bytes (unsigned char *data, size_t size, tu_rng_t *rng)
{
    for (size_t index = 0; index < size; index++)
        data [index] = (unsigned char) tu_rng_next (rng);
}

static void
s_plant (const char *name, const void *data, size_t size)
{
    char path [PATH_MAX];
    tu_segment_path (path, sizeof path, name);
    int fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    CHECKF (fd >= 0, "plant %s", path);
    CHECK (size == 0 || write (fd, data, size) == (ssize_t) size);
    close (fd);
}

//  Read whatever a ring offers through every receive call, with a bounded
//  number of calls, checking that no size exceeds the slot and no byte is
//  written past the buffer.  Returns how many messages were delivered.
static uint64_t
s_read_bounded (zshm_ring_t *ring, bool check_content)
{
    enum { GUARD = 64, CALLS = 100000 };
    size_t slot = zshm_ring_slot_size (ring);
    CHECK (slot >= 1 && slot <= ZSHM_SLOT_SIZE_MAX);
    size_t room = slot < 4096 ? slot : 4096;
    unsigned char *buf = (unsigned char *) malloc (room + GUARD);
    CHECK (buf);
    memset (buf + room, 0x3c, GUARD);
    zshm_reader_t *reader = zshm_reader_new (ring);
    CHECK (reader);
    uint64_t delivered = 0, seq;
    for (int pass = 0; pass < 3; pass++) {
        zshm_reader_seek_oldest (reader);
        int calls;
        for (calls = 0; calls < CALLS; calls++) {
            ssize_t size;
            if (pass == 0)
                size = zshm_reader_try_recv (reader, buf, room, &seq);
            else
            if (pass == 1)
                size = zshm_reader_recv_timeout (reader, buf, room, &seq, 20);
            else {
                size_t peek_size;
                const void *peeked = zshm_reader_peek (reader, &peek_size, &seq);
                size = peeked ? (ssize_t) peek_size : -1;
                if (peeked) {
                    CHECKF (peek_size <= slot, "peek size %zu > slot %zu", peek_size, slot);
                    memcpy (buf, peeked, peek_size < room ? peek_size : room);
                    if (!zshm_reader_advance (reader))
                        continue;
                }
            }
            if (size < 0) {
                CHECKF (errno == EAGAIN || errno == EPIPE, "receive failed, errno %d", errno);
                break;
            }
            CHECKF ((size_t) size <= slot, "delivered %zd bytes from a %zu-byte slot", size, slot);
            if (check_content)
                CHECKF (tu_msg_verify (buf, (size_t) size, seq,
                                       tu_msg_size (seq, TU_MSG_MIN, room)) == TU_MSG_OK,
                        "message %llu corrupt", (unsigned long long) seq);
            delivered++;
        }
        CHECKF (calls < CALLS, "pass %d: messages without end", pass);
        for (int at = 0; at < GUARD; at++)
            CHECKF (buf [room + at] == 0x3c, "wrote past the buffer");
    }
    //  The observers cope as well
    zshm_ring_info_t info;
    CHECK (zshm_ring_info (ring, &info) == 0);
    CHECK (strlen (info.type_name) < sizeof info.type_name);
    zshm_reader_info_t readers [8];
    int count = zshm_ring_readers (ring, readers, 8);
    CHECK (count >= 0 && count <= ZSHM_MAX_READERS);
    char type [200];
    CHECK (zshm_ring_type (ring, type, sizeof type) < sizeof type);
    zshm_reader_destroy (&reader);
    free (buf);
    return delivered;
}

//  How a hostile case must turn out.
typedef enum {
    H_REFUSED,                  //  zshm_ring_open must refuse it
    H_BOUNDED,                  //  refused, or read strictly within bounds
    H_INTACT                    //  opens and yields the published messages
} s_expect_t;

//  Open a planted channel as a reader and as a writer.
static void
s_attack (const char *name, s_expect_t expect, const char *title)
{
    errno = 0;
    zshm_ring_t *ring = zshm_ring_open (name);
    if (!ring)
        CHECKF (errno != 0, "%s: refused without an errno", title);
    if (expect == H_REFUSED)
        CHECKF (ring == NULL, "%s: zshm_ring_open accepted it", title);
    if (expect == H_INTACT)
        CHECKF (ring != NULL, "%s: zshm_ring_open refused a valid segment", title);
    if (ring) {
        CHECK (zshm_ring_capacity (ring) == H_CAPACITY && zshm_ring_slot_size (ring) == H_SLOT);
        uint64_t delivered = s_read_bounded (ring, expect == H_INTACT);
        if (expect == H_INTACT)
            CHECKF (delivered == 3 * (H_CAPACITY - 1), "%s: %llu delivered", title,
                    (unsigned long long) delivered);
        zshm_ring_destroy (&ring);
    }
    //  Liveness probes and writers cope too: a writer either refuses the
    //  file or takes it over and works
    int alive = zshm_ring_probe (name);
    CHECKF (alive == 0 || (alive == -1 && errno != 0), "%s: probe %d", title, alive);
    errno = 0;
    zshm_ring_t *writer = zshm_ring_new (name, H_CAPACITY, H_SLOT);
    if (!writer) {
        CHECKF (errno != 0, "%s: zshm_ring_new refused without an errno", title);
        return;
    }
    zshm_ring_t *side = zshm_ring_open (name);
    CHECKF (side, "%s: taken over, but zshm_ring_open fails", title);
    zshm_reader_t *reader = zshm_reader_new (side);
    unsigned char msg [H_SLOT], buf [H_SLOT];
    for (int count = 0; count < 3; count++) {
        uint64_t expected = zshm_ring_head (writer);
        size_t size = tu_msg_size (expected, TU_MSG_MIN, H_SLOT);
        tu_msg_fill (msg, expected, size);
        CHECK (zshm_ring_send (writer, msg, size) == expected);
        uint64_t seq = 0;
        ssize_t got = zshm_reader_recv_timeout (reader, buf, sizeof buf, &seq, 2000);
        CHECKF (got == (ssize_t) size && seq == expected,
                "%s: after takeover sent %llu, received %zd bytes seq %llu", title,
                (unsigned long long) expected, got, (unsigned long long) seq);
        CHECK (tu_msg_verify (buf, size, seq, size) == TU_MSG_OK);
    }
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&side);
    zshm_ring_destroy (&writer);
}

//  Each case builds its file and attacks it; run in a child process.
static void
s_hostile_case (int which, const char *name, uint64_t seed)
{
    tu_rng_t rng;
    tu_rng_seed (&rng, seed);
    size_t total;
    unsigned char *image = s_image (3 * (H_CAPACITY - 1), &total);
    zshm_header_t *header = (zshm_header_t *) image;
    char path [PATH_MAX];
    tu_segment_path (path, sizeof path, name);

    switch (which) {
        case 0:                 //  control: the valid image reads back
            s_plant (name, image, total);
            s_attack (name, H_INTACT, "valid");
            break;
        case 1:
            header->magic = 0;
            s_plant (name, image, total);
            s_attack (name, H_REFUSED, "zeroed magic");
            break;
        case 2:
            for (int round = 0; round < 50; round++) {
                s_random_bytes (image, ZSHM_HEADER_REGION, &rng);
                s_plant (name, image, total);
                s_attack (name, H_REFUSED, "random header");
                CHECK (unlink (path) == 0);
            }
            s_plant (name, image, total);
            break;
        case 3: {
            //  One field at a time, each a lie the reader must catch
            uint64_t lies [][2] = {
                { offsetof (zshm_header_t, version), ZSHM_LAYOUT_VERSION + 1 },
                { offsetof (zshm_header_t, header_size), 64 },
                { offsetof (zshm_header_t, capacity), 0 },
                { offsetof (zshm_header_t, capacity), 1 },
                { offsetof (zshm_header_t, capacity), 24 },
                { offsetof (zshm_header_t, capacity), 32 },
                { offsetof (zshm_header_t, capacity), 1ULL << 40 },
                { offsetof (zshm_header_t, capacity), 1ULL << 63 },
                { offsetof (zshm_header_t, slot_size), 0 },
                { offsetof (zshm_header_t, slot_size), 1000 },
                { offsetof (zshm_header_t, slot_size), UINT64_MAX },
                { offsetof (zshm_header_t, slot_stride), 64 },
                { offsetof (zshm_header_t, slot_stride), 0 },
                { offsetof (zshm_header_t, slots_offset), 0 },
                { offsetof (zshm_header_t, slots_offset), ZSHM_SLOTS_OFFSET + 64 },
                { offsetof (zshm_header_t, total_size), 0 },
                { offsetof (zshm_header_t, total_size), UINT64_MAX },
                { offsetof (zshm_header_t, total_size), 1ULL << 20 },
                { offsetof (zshm_header_t, ready), 0 },
                { offsetof (zshm_header_t, ready), ~ZSHM_READY },
            };
            for (size_t index = 0; index < sizeof lies / sizeof lies [0]; index++) {
                unsigned char *copy = (unsigned char *) malloc (total);
                CHECK (copy);
                memcpy (copy, image, total);
                size_t offset = (size_t) lies [index][0];
                if (offset == offsetof (zshm_header_t, version)
                ||  offset == offsetof (zshm_header_t, header_size)) {
                    uint32_t value = (uint32_t) lies [index][1];
                    memcpy (copy + offset, &value, 4);
                }
                else
                    memcpy (copy + offset, &lies [index][1], 8);
                s_plant (name, copy, total);
                char title [64];
                snprintf (title, sizeof title, "header lie %zu", index);
                s_attack (name, H_REFUSED, title);
                CHECK (unlink (path) == 0);
                free (copy);
            }
            s_plant (name, image, total);
            break;
        }
        case 4:
            s_plant (name, image, 100);
            s_attack (name, H_REFUSED, "truncated to 100 bytes");
            break;
        case 5:
            s_plant (name, image, total / 2);
            s_attack (name, H_REFUSED, "truncated to half");
            break;
        case 6:
            s_plant (name, image, total - 1);
            s_attack (name, H_REFUSED, "one byte short");
            break;
        case 7:
            s_plant (name, NULL, 0);
            s_attack (name, H_REFUSED, "empty");
            break;
        case 8:
            for (int round = 0; round < 20; round++) {
                s_random_bytes (image + ZSHM_SLOTS_OFFSET, total - ZSHM_SLOTS_OFFSET, &rng);
                s_plant (name, image, total);
                s_attack (name, H_BOUNDED, "random slots");
                CHECK (unlink (path) == 0);
            }
            s_plant (name, image, total);
            break;
        case 9:
            //  The control region readers write to: random reader entries
            s_random_bytes (image + ZSHM_CONTROL_OFFSET, ZSHM_CONTROL_REGION, &rng);
            s_plant (name, image, total);
            s_attack (name, H_INTACT, "random control region");
            break;
        case 10:
            //  Published, stable, lying lengths: never delivered as such
            for (uint64_t index = 0; index < H_CAPACITY; index++) {
                zshm_slot_t *slot = (zshm_slot_t *) (image + ZSHM_SLOTS_OFFSET
                                                     + index * ZSHM_SLOT_STRIDE (H_SLOT));
                uint32_t lengths [] = { H_SLOT + 1, 4096, UINT32_MAX, 1u << 31 };
                atomic_store (&slot->length, lengths [index % 4]);
            }
            s_plant (name, image, total);
            s_attack (name, H_BOUNDED, "lying lengths");
            break;
        case 11:
            memset (image, 0xff, total);
            s_plant (name, image, total);
            s_attack (name, H_REFUSED, "all 0xff");
            break;
        case 12: {
            size_t grown = total + 3 * 4096 + 123;
            unsigned char *bigger = (unsigned char *) realloc (image, grown);
            CHECK (bigger);
            image = bigger;
            s_random_bytes (image + total, grown - total, &rng);
            s_plant (name, image, grown);
            s_attack (name, H_BOUNDED, "grown with garbage");
            //  Grown is not a lie about the layout: if accepted, the
            //  published messages must read back intact
            zshm_ring_t *ring = zshm_ring_open (name);
            if (ring) {
                zshm_ring_destroy (&ring);
                CHECK (unlink (path) == 0);
                s_plant (name, image, grown);
                ring = zshm_ring_open (name);
                CHECK (ring);
                CHECK (s_read_bounded (ring, true) == 3 * (H_CAPACITY - 1));
                zshm_ring_destroy (&ring);
            }
            break;
        }
        case 13: {
            //  A symlink to a valid, live segment: refused, target untouched
            char target_name [80], target [PATH_MAX];
            snprintf (target_name, sizeof target_name, "%s-target", name);
            zshm_ring_unlink (target_name);
            tu_segment_path (target, sizeof target, target_name);
            zshm_ring_t *owner = zshm_ring_new (target_name, H_CAPACITY, H_SLOT);
            CHECK (owner);
            unsigned char msg [H_SLOT];
            tu_msg_fill (msg, 1, 50);
            CHECK (zshm_ring_send (owner, msg, 50) == 1);
            struct stat before, after;
            CHECK (stat (target, &before) == 0);
            CHECK (symlink (target, path) == 0);
            s_attack (name, H_REFUSED, "symlink to a live segment");
            errno = 0;
            CHECK (zshm_ring_new (name, H_CAPACITY, H_SLOT) == NULL && errno != 0);
            CHECK (zshm_ring_new (name, 2 * H_CAPACITY, H_SLOT) == NULL && errno != 0);
            CHECK (stat (target, &after) == 0);
            CHECK (before.st_ino == after.st_ino && before.st_size == after.st_size);
            CHECK ((before.st_mode & 07777) == (after.st_mode & 07777));
            //  Its owner still publishes and its readers still read
            zshm_ring_t *side = zshm_ring_open (target_name);
            CHECK (side);
            zshm_reader_t *reader = zshm_reader_new (side);
            tu_msg_fill (msg, 2, 60);
            CHECK (zshm_ring_send (owner, msg, 60) == 2);
            uint64_t seq;
            unsigned char buf [H_SLOT];
            CHECK (zshm_reader_try_recv (reader, buf, sizeof buf, &seq) == 60 && seq == 2);
            CHECK (tu_msg_verify (buf, 60, 2, 60) == TU_MSG_OK);
            zshm_reader_destroy (&reader);
            zshm_ring_destroy (&side);
            //  A symlink to a dead writer's segment is refused as well
            zshm_ring_destroy (&owner);
            s_attack (name, H_REFUSED, "symlink to a dead segment");
            struct stat link_stat;
            CHECK (lstat (path, &link_stat) == 0 && S_ISLNK (link_stat.st_mode));
            CHECK (zshm_ring_unlink (target_name) == 0);
            s_attack (name, H_REFUSED, "dangling symlink");
            break;
        }
        case 14:
            CHECK (mkfifo (path, 0600) == 0);
            s_attack (name, H_REFUSED, "FIFO");
            break;
        case 15:
            CHECK (mkdir (path, 0700) == 0);
            s_attack (name, H_REFUSED, "directory");
            CHECK (rmdir (path) == 0);
            break;
        case 16: {
            //  A valid segment shrunk under a reader that has it mapped
            size_t sizes [] = { 0, 100, ZSHM_SLOTS_OFFSET, total / 2, total - 1 };
            for (size_t index = 0; index < sizeof sizes / sizeof sizes [0]; index++) {
                s_plant (name, image, total);
                zshm_ring_t *ring = zshm_ring_open (name);
                CHECK (ring);
                zshm_reader_t *reader = zshm_reader_new (ring);
                zshm_reader_seek_oldest (reader);
                CHECK (truncate (path, (off_t) sizes [index]) == 0);
                unsigned char buf [H_SLOT];
                uint64_t seq;
                ssize_t size;
                int calls = 0;
                while ((size = zshm_reader_recv_timeout (reader, buf, sizeof buf, &seq, 2000))
                       >= 0 && calls++ < 1000)
                    CHECK ((size_t) size <= H_SLOT);
                CHECKF (size < 0 && errno == EPIPE, "shrunk to %zu: errno %d", sizes [index],
                        errno);
                CHECK (zshm_ring_readers (ring, NULL, 0) >= 0);
                zshm_reader_destroy (&reader);
                zshm_ring_destroy (&ring);
                CHECK (unlink (path) == 0);
            }
            s_plant (name, image, total);
            break;
        }
        default:
            FAIL ("no hostile case %d", which);
    }
    free (image);
    _exit (0);
}

static const char *s_hostile_names [] = {
    "valid (control)", "zeroed magic", "random header", "header lies", "truncated to 100 bytes",
    "truncated to half", "one byte short", "empty", "random slots", "random control region",
    "lying lengths", "all 0xff", "grown with garbage", "symlinks", "FIFO", "directory",
    "shrunk under a reader"
};

static int
s_test_hostile (void)
{
    int failures = 0;
    int cases = (int) (sizeof s_hostile_names / sizeof s_hostile_names [0]);
    for (int which = 0; which < cases; which++) {
        char name [64], path [PATH_MAX];
        tu_channel (name, sizeof name, "hostile");
        tu_segment_path (path, sizeof path, name);
        uint64_t seed = tu_rng_next (&s_rng);
        pid_t child = tu_fork ();
        if (child == 0) {
            alarm (20);         //  a hang dies of SIGALRM: a failure
            s_hostile_case (which, name, seed);
        }
        int status = tu_reap (child);
        tu_cleanup (child);
        char text [64];
        bool passed = WIFEXITED (status) && WEXITSTATUS (status) == 0;
        if (!passed) {
            fprintf (stderr, "test_ring_faults: hostile case '%s' failed: %s%s\n",
                     s_hostile_names [which], tu_status (status, text, sizeof text),
                     WIFSIGNALED (status) && WTERMSIG (status) == SIGALRM ? " (hung)" : "");
            failures++;
        }
        else
        if (s_verbose)
            printf ("   hostile: %s: OK\n", s_hostile_names [which]);
        //  Whatever the case left behind
        struct stat st;
        if (lstat (path, &st) == 0) {
            if (S_ISDIR (st.st_mode))
                rmdir (path);
            else
                unlink (path);
        }
        char target [PATH_MAX + 16];
        snprintf (target, sizeof target, "%s-target", path);
        unlink (target);
    }
    return failures;
}

//  --------------------------------------------------------------------------
//  modes

static mode_t
s_mode (const char *name)
{
    char path [PATH_MAX];
    struct stat st;
    CHECK (lstat (tu_segment_path (path, sizeof path, name), &st) == 0);
    CHECK (S_ISREG (st.st_mode));
    CHECK (st.st_uid == geteuid ());
    return st.st_mode & 07777;
}

//  No temporary file of ours left in the channel directory.
static void
s_no_leftovers (void)
{
    DIR *dir = opendir (zshm_ring_dir ());
    CHECK (dir);
    char prefix [64];
    snprintf (prefix, sizeof prefix, "zshm-new.%d.", (int) getpid ());
    struct dirent *entry;
    while ((entry = readdir (dir)))
        CHECKF (strncmp (entry->d_name, prefix, strlen (prefix)),
                "temporary %s left behind", entry->d_name);
    closedir (dir);
}

//  True if [address, address + size) lies in one mapping with exactly the
//  permissions given ("r--s").
static bool
s_mapped_as (const void *address, size_t size, const char *perms)
{
    FILE *maps = fopen ("/proc/self/maps", "r");
    CHECK (maps);
    char line [512];
    bool found = false;
    uintptr_t at = (uintptr_t) address;
    while (fgets (line, sizeof line, maps)) {
        unsigned long start, end;
        char mode [8];
        if (sscanf (line, "%lx-%lx %7s", &start, &end, mode) != 3)
            continue;
        if (at >= start && at + size <= end) {
            found = strcmp (mode, perms) == 0;
            break;
        }
    }
    fclose (maps);
    return found;
}

static void
s_test_modes (void)
{
    mode_t saved = umask (022);
    static const mode_t masks [] = { 0, 022, 077, 0777 };
    for (size_t index = 0; index < sizeof masks / sizeof masks [0]; index++) {
        umask (masks [index]);
        char name [64];
        tu_channel (name, sizeof name, "mode");
        zshm_ring_t *ring = zshm_ring_new (name, 4, 8);
        CHECK (ring);
        mode_t mode = s_mode (name);
        CHECKF ((mode & 077) == 0, "umask %03o: new segment mode %04o is open to others",
                (unsigned) masks [index], (unsigned) mode);
        CHECKF (mode == 0600, "umask %03o: new segment mode %04o", (unsigned) masks [index],
                (unsigned) mode);
        zshm_ring_destroy (&ring);
        //  Taking over keeps the mode
        ring = zshm_ring_new (name, 4, 8);
        CHECK (ring && s_mode (name) == 0600);
        zshm_ring_destroy (&ring);
        CHECK (zshm_ring_unlink (name) == 0);

        static const mode_t wanted [] = { 0640, 0604, 0400, 0660 };
        for (size_t which = 0; which < sizeof wanted / sizeof wanted [0]; which++) {
            tu_channel (name, sizeof name, "mode");
            ring = zshm_ring_new_ex (name, 4, 8, 0, wanted [which]);
            CHECKF (ring, "new_ex mode %04o", (unsigned) wanted [which]);
            CHECKF (s_mode (name) == wanted [which], "umask %03o: asked %04o, got %04o",
                    (unsigned) masks [index], (unsigned) wanted [which],
                    (unsigned) s_mode (name));
            zshm_ring_destroy (&ring);
            CHECK (zshm_ring_unlink (name) == 0);
        }
    }
    umask (saved);
    //  Modes beyond the permission bits are refused
    char name [64];
    tu_channel (name, sizeof name, "mode");
    errno = 0;
    CHECK (zshm_ring_new_ex (name, 4, 8, 0, 04600) == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_ring_new_ex (name, 4, 8, 0, 01600) == NULL && errno == EINVAL);
    s_no_leftovers ();

    //  A reader maps header and slots read-only
    zshm_ring_t *writer = zshm_ring_new (name, 64, 4000);
    zshm_ring_t *side = zshm_ring_open (name);
    CHECK (writer && side);
    zshm_reader_t *reader = zshm_reader_new (side);
    unsigned char msg [4000];
    tu_msg_fill (msg, 1, sizeof msg);
    CHECK (zshm_ring_send (writer, msg, sizeof msg) == 1);
    size_t size;
    const unsigned char *peeked = (const unsigned char *) zshm_reader_peek (reader, &size, NULL);
    CHECK (peeked && size == sizeof msg);
    CHECKF (s_mapped_as (peeked, size, "r--s"), "a reader's slots are not mapped read-only");
    const unsigned char *base = peeked - ZSHM_SLOT_HEADER
                              - ZSHM_SLOT_STRIDE (4000) * 1 - ZSHM_SLOTS_OFFSET;
    CHECKF (s_mapped_as (base, ZSHM_HEADER_REGION, "r--s"),
            "a reader's header is not mapped read-only");
    CHECK (zshm_reader_advance (reader));
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&side);
    zshm_ring_destroy (&writer);
    CHECK (zshm_ring_unlink (name) == 0);
}

//  --------------------------------------------------------------------------

static void s_test_modes_any (size_t unused) { s_test_modes (); }
static void s_test_kill_any (size_t unused) { s_test_kill (); }

//  Run one part in a child process, so that a failure (a failed check, a
//  crash, a hang) is reported and the other parts still run; then remove
//  whatever channels the child left.  Returns 1 if it failed.
static int
s_part (const char *title, void (*test) (size_t), size_t arg)
{
    tu_rng_next (&s_rng);       //  each part its own random numbers
    pid_t child = tu_fork ();
    if (child == 0) {
        alarm (180);
        test (arg);
        _exit (TU_PASS);
    }
    int status = tu_reap (child);
    tu_cleanup (child);
    char text [64];
    bool passed = WIFEXITED (status) && WEXITSTATUS (status) == TU_PASS;
    if (arg)
        printf ("test_ring_faults: %s (%zu): %s\n", title, arg,
                passed ? "OK" : tu_status (status, text, sizeof text));
    else
        printf ("test_ring_faults: %s: %s\n", title,
                passed ? "OK" : tu_status (status, text, sizeof text));
    return passed ? 0 : 1;
}

static bool
s_wanted (int argc, char **argv, const char *part)
{
    bool any = false;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "-v") == 0)
            continue;
        any = true;
        if (strcmp (argv [arg], part) == 0)
            return true;
    }
    return !any;
}

int
main (int argc, char **argv)
{
    for (int arg = 1; arg < argc; arg++)
        if (strcmp (argv [arg], "-v") == 0)
            s_verbose = true;
    setvbuf (stdout, NULL, _IOLBF, 0);
    tu_require_shm ("test_ring_faults");
    uint64_t seed = tu_seed ();
    tu_rng_seed (&s_rng, seed);
    printf ("test_ring_faults: seed 0x%llx\n", (unsigned long long) seed);
    tu_watchdog (240);
    int failures = 0;
    if (s_wanted (argc, argv, "modes"))
        failures += s_part ("modes", s_test_modes_any, 0);
    if (s_wanted (argc, argv, "hostile")) {
        int failed = s_test_hostile ();
        printf ("test_ring_faults: hostile: %s\n", failed ? "FAIL" : "OK");
        failures += failed;
    }
    if (s_wanted (argc, argv, "reserve"))
        for (size_t capacity = 2; capacity <= 64; capacity *= 2)
            failures += s_part ("reserve", s_test_reserve_kill, capacity);
    if (s_wanted (argc, argv, "kill"))
        failures += s_part ("kill", s_test_kill_any, 0);
    tu_cleanup (getpid ());
    if (failures) {
        printf ("test_ring_faults: FAIL (%d)\n", failures);
        return TU_FAIL;
    }
    printf ("test_ring_faults: OK\n");
    return TU_PASS;
}
