/*  =========================================================================
    test_ring_procs - one writer process and two reader processes on a
    channel, over tens of millions of self-checking messages

    Usage: test_ring_procs [-v]
    Environment: ZSHM_TEST_MESSAGES (default 20000000) sets the count;
    TU_SEED replays a run.

    The writer publishes messages of random sizes (16 bytes to the slot
    size), each carrying its sequence number and a checksum, with every byte
    derived from the sequence number (testutil.h), half by send and half by
    reserve/commit.  Two readers follow it in their own processes:

      - a fast one, spinning on recv;
      - a slow one, which sleeps on the futex (`block`), reads zero-copy
        with peek/advance, and now and then dawdles so that it is lapped.

    Each reader checks every message it is given (nothing torn, nothing
    misattributed, sizes within the slot, sequence strictly increasing) and
    keeps its own count of the sequence numbers it never saw.  It reads
    until EPIPE, which comes once the writer has exited and everything it
    published has been read, then reports to the parent through a pipe.
    The parent decides: for each reader, delivered + lost == messages sent,
    its own gap count equals the reader's lost count, the last message it
    saw is the last one sent, and no message was bad.
    =========================================================================
*/

#define _GNU_SOURCE
#include "testutil.h"

#define S_CAPACITY  1024
#define S_SLOT      64
#define S_READERS   2

static bool s_verbose = false;

//  What a reader tells the parent at the end.
typedef struct {
    uint64_t start;             //  position at creation
    uint64_t delivered;         //  messages received, our count
    uint64_t gaps;              //  sequences never seen, our count
    uint64_t last;              //  last sequence received
    uint64_t lost;              //  zshm_reader_lost
    uint64_t reader_delivered;  //  zshm_reader_delivered
    uint64_t position;          //  zshm_reader_position at the end
    uint64_t bad;               //  messages that failed tu_msg_verify
    uint64_t disorder;          //  sequence not above the previous one
    uint64_t oversize;          //  size above the slot
    uint64_t broken_peeks;      //  advance said the peek was overwritten
    uint64_t first_bad_seq;     //  first bad message's sequence
    int first_bad_verdict;      //  and what was wrong with it
    int end_errno;              //  why reading stopped (EPIPE expected)
} s_report_t;

//  What the writer tells the parent at the end.
typedef struct {
    uint64_t published;         //  messages published
    uint64_t head;              //  zshm_ring_head at the end
    uint64_t failures;          //  sends that did not get the next seq
} s_writer_report_t;

//  --------------------------------------------------------------------------

static void
s_writer (const char *name, uint64_t count, uint64_t seed, int ready_fd, int go_fd)
{
    zshm_ring_t *ring = zshm_ring_new (name, S_CAPACITY, S_SLOT);
    CHECKF (ring, "writer: zshm_ring_new (%s)", name);
    char byte = 'r';
    tu_write_all (ready_fd, &byte, 1);
    CHECK (tu_read_all (go_fd, &byte, 1, -1) == 1 && byte == 'g');

    s_writer_report_t report = { 0 };
    unsigned char msg [S_SLOT];
    tu_rng_t rng;
    tu_rng_seed (&rng, seed);
    uint64_t burst_end = 0;
    for (uint64_t seq = 1; seq <= count; seq++) {
        //  Bursts of up to two rings, and after half of them a pause of up
        //  to 50 us: readers are lapped in bursts and catch up in pauses,
        //  so both loss and delivery are plentiful
        if (seq >= burst_end) {
            burst_end = seq + tu_rng_range (&rng, 1, 2 * S_CAPACITY);
            if (tu_rng_next (&rng) & 1)
                tu_sleep_ns ((int64_t) tu_rng_range (&rng, 1000, 50000));
        }
        size_t size = tu_msg_size (seq, TU_MSG_MIN, S_SLOT);
        if (seq & 1) {
            tu_msg_fill (msg, seq, size);
            if (zshm_ring_send (ring, msg, size) != seq)
                report.failures++;
        }
        else {
            uint64_t reserved;
            void *slot = zshm_ring_reserve (ring, &reserved);
            if (reserved != seq)
                report.failures++;
            tu_msg_fill (slot, seq, size);
            if (zshm_ring_commit (ring, size))
                report.failures++;
        }
        report.published++;
    }
    report.head = zshm_ring_head (ring);
    tu_write_all (ready_fd, &report, sizeof report);
    //  Exiting drops the writer's lock; the readers then see EPIPE once
    //  they have read everything
    zshm_ring_destroy (&ring);
    _exit (0);
}

static void
s_note (s_report_t *report, uint64_t seq, const void *msg, size_t size)
{
    if (size > S_SLOT)
        report->oversize++;
    if (seq <= report->last)
        report->disorder++;
    else
        report->gaps += seq - report->last - 1;
    int verdict = size > S_SLOT ? TU_MSG_BAD_SIZE
                : tu_msg_verify (msg, size, seq, tu_msg_size (seq, TU_MSG_MIN, S_SLOT));
    if (verdict != TU_MSG_OK) {
        if (!report->bad) {
            report->first_bad_seq = seq;
            report->first_bad_verdict = verdict;
        }
        report->bad++;
    }
    report->last = seq;
    report->delivered++;
}

static void
s_reader (const char *name, int index, uint64_t count, uint64_t seed, int report_fd)
{
    zshm_ring_t *ring = zshm_ring_open (name);
    CHECKF (ring, "reader %d: zshm_ring_open (%s)", index, name);
    zshm_reader_t *reader = zshm_reader_new (ring);
    CHECK (reader);
    bool slow = index == 1;
    zshm_reader_set_idle (reader, slow ? ZSHM_IDLE_BLOCK : ZSHM_IDLE_SPIN);
    s_report_t report = { 0 };
    report.start = zshm_reader_position (reader);
    report.last = report.start - 1;
    tu_rng_t rng;
    tu_rng_seed (&rng, seed);
    //  Ready: registered, positioned at the first message
    tu_write_all (report_fd, &report, sizeof report);

    unsigned char buf [S_SLOT + 64];
    for (;;) {
        uint64_t seq;
        if (!slow) {
            ssize_t size = zshm_reader_recv (reader, buf, sizeof buf, &seq);
            if (size < 0) {
                report.end_errno = errno;
                break;
            }
            s_note (&report, seq, buf, (size_t) size);
            continue;
        }
        //  Slow: sleeps on the futex for the first sixteenth of the run
        //  (each publish then costs the writer a wake-up system call, so
        //  not longer), then backs off with nanosleep instead
        if (report.last >= count / 16 && zshm_reader_idle (reader) == ZSHM_IDLE_BLOCK)
            zshm_reader_set_idle (reader, ZSHM_IDLE_BACKOFF);
        //  Zero-copy, and dawdling now and then (about every 4000
        //  messages, for 20 us to 1 ms, half asleep and half busy so that
        //  it is also lapped in the middle of reading)
        if (zshm_reader_wait (reader, -1)) {
            report.end_errno = errno;
            break;
        }
        size_t size;
        const void *peeked = zshm_reader_peek (reader, &size, &seq);
        if (!peeked)
            continue;           //  resolved a lap, nothing ready after all
        size_t copy = size < sizeof buf ? size : sizeof buf;
        memcpy (buf, peeked, copy);
        if ((tu_rng_next (&rng) & 4095) == 0) {
            int64_t dawdle = (int64_t) tu_rng_range (&rng, 20000, 1000000);
            if (tu_rng_next (&rng) & 1)
                tu_sleep_ns (dawdle);
            else {
                int64_t until = tu_now_ns () + dawdle;
                while (tu_now_ns () < until)
                    ;
            }
        }
        if (zshm_reader_advance (reader))
            s_note (&report, seq, buf, size);      //  intact: must be good
        else
            report.broken_peeks++;
    }
    report.lost = zshm_reader_lost (reader);
    report.reader_delivered = zshm_reader_delivered (reader);
    report.position = zshm_reader_position (reader);
    tu_write_all (report_fd, &report, sizeof report);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);
    _exit (0);
}

//  --------------------------------------------------------------------------

static int
s_check_reader (int index, const s_report_t *report, uint64_t count)
{
    int failures = 0;
#define S_EXPECT(cond, ...) \
    do { if (!(cond)) { fprintf (stderr, "test_ring_procs: reader %d: ", index); \
                        fprintf (stderr, __VA_ARGS__); fputc ('\n', stderr); failures++; } \
    } while (0)
    S_EXPECT (report->start == 1, "started at %llu, not 1", (unsigned long long) report->start);
    S_EXPECT (report->end_errno == EPIPE, "stopped with errno %d, not EPIPE", report->end_errno);
    S_EXPECT (report->bad == 0, "%llu bad messages, first seq %llu verdict %d",
              (unsigned long long) report->bad, (unsigned long long) report->first_bad_seq,
              report->first_bad_verdict);
    S_EXPECT (report->disorder == 0, "%llu messages out of order",
              (unsigned long long) report->disorder);
    S_EXPECT (report->oversize == 0, "%llu messages larger than the slot",
              (unsigned long long) report->oversize);
    S_EXPECT (report->last == count, "last message %llu, not %llu",
              (unsigned long long) report->last, (unsigned long long) count);
    S_EXPECT (report->position == count + 1, "ended at %llu, not %llu",
              (unsigned long long) report->position, (unsigned long long) count + 1);
    S_EXPECT (report->delivered + report->lost == count,
              "delivered %llu + lost %llu != sent %llu", (unsigned long long) report->delivered,
              (unsigned long long) report->lost, (unsigned long long) count);
    S_EXPECT (report->gaps == report->lost, "saw %llu gaps, reader counted %llu lost",
              (unsigned long long) report->gaps, (unsigned long long) report->lost);
    S_EXPECT (report->reader_delivered == report->delivered,
              "reader counted %llu delivered, we got %llu",
              (unsigned long long) report->reader_delivered,
              (unsigned long long) report->delivered);
    S_EXPECT (report->delivered > 0, "nothing delivered");
#undef S_EXPECT
    return failures;
}

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    setvbuf (stdout, NULL, _IOLBF, 0);
    tu_require_shm ("test_ring_procs");
    uint64_t count = tu_env_u64 ("ZSHM_TEST_MESSAGES", 20000000);
    uint64_t seed = tu_seed ();
    tu_rng_t rng;
    tu_rng_seed (&rng, seed);
    printf ("test_ring_procs: %llu messages, seed 0x%llx\n", (unsigned long long) count,
            (unsigned long long) seed);
    tu_watchdog (300);

    char name [64];
    tu_channel (name, sizeof name, "procs");
    int writer_ready [2], writer_go [2];
    CHECK (pipe (writer_ready) == 0 && pipe (writer_go) == 0);
    uint64_t writer_seed = tu_rng_next (&rng);
    pid_t writer = tu_fork ();
    if (writer == 0) {
        close (writer_ready [0]);
        close (writer_go [1]);
        s_writer (name, count, writer_seed, writer_ready [1], writer_go [0]);
    }
    close (writer_ready [1]);
    close (writer_go [0]);
    char byte;
    CHECKF (tu_read_all (writer_ready [0], &byte, 1, 60000) == 1 && byte == 'r',
            "writer did not start");

    //  Readers fork from the parent, which never opened the channel: none
    //  of them shares the writer's lock, so its exit is seen as death
    int report_fds [S_READERS];
    pid_t readers [S_READERS];
    for (int index = 0; index < S_READERS; index++) {
        int fds [2];
        CHECK (pipe (fds) == 0);
        uint64_t reader_seed = tu_rng_next (&rng);
        readers [index] = tu_fork ();
        if (readers [index] == 0) {
            close (fds [0]);
            close (writer_ready [0]);
            close (writer_go [1]);
            s_reader (name, index, count, reader_seed, fds [1]);
        }
        close (fds [1]);
        report_fds [index] = fds [0];
        s_report_t ready;
        CHECKF (tu_read_all (report_fds [index], &ready, sizeof ready, 60000) == 1,
                "reader %d did not start", index);
    }

    int64_t start = tu_now_ns ();
    tu_write_all (writer_go [1], "g", 1);
    s_writer_report_t written;
    CHECKF (tu_read_all (writer_ready [0], &written, sizeof written, -1) == 1,
            "writer died early");
    int64_t written_ns = tu_now_ns () - start;
    int status = tu_reap (writer);
    char text [64];
    CHECKF (WIFEXITED (status) && WEXITSTATUS (status) == 0, "writer: %s",
            tu_status (status, text, sizeof text));

    int failures = 0;
    if (written.published != count || written.failures || written.head != count + 1) {
        fprintf (stderr, "test_ring_procs: writer published %llu of %llu, %llu failures, "
                 "head %llu\n", (unsigned long long) written.published,
                 (unsigned long long) count, (unsigned long long) written.failures,
                 (unsigned long long) written.head);
        failures++;
    }
    for (int index = 0; index < S_READERS; index++) {
        s_report_t report;
        bool reported = tu_read_all (report_fds [index], &report, sizeof report, -1) == 1;
        status = tu_reap (readers [index]);
        if (!reported || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
            fprintf (stderr, "test_ring_procs: reader %d %s (%s)\n", index,
                     reported ? "failed" : "gave no report", tu_status (status, text, sizeof text));
            failures++;
            continue;
        }
        failures += s_check_reader (index, &report, count);
        printf ("test_ring_procs: reader %d (%s): %llu delivered, %llu lost (%.1f%%)",
                index, index ? "slow: block then backoff, peek" : "fast: spin, recv",
                (unsigned long long) report.delivered, (unsigned long long) report.lost,
                100.0 * (double) report.lost / (double) count);
        if (index)
            printf (", %llu peeks overwritten", (unsigned long long) report.broken_peeks);
        printf ("\n");
    }
    double seconds = (double) (tu_now_ns () - start) / 1e9;
    printf ("test_ring_procs: writer %.2f s (%.1f M msg/s), all done in %.2f s\n",
            (double) written_ns / 1e9, (double) count / ((double) written_ns / 1e3), seconds);
    CHECK (zshm_ring_unlink (name) == 0);
    if (failures) {
        printf ("test_ring_procs: FAIL (%d)\n", failures);
        return TU_FAIL;
    }
    printf ("test_ring_procs: OK\n");
    return TU_PASS;
}
