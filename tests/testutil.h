/*  =========================================================================
    testutil - small helpers shared by the standalone tests in tests/

    Header only, every function static: each test is one program.

    CHECK (cond) and CHECKF (cond, fmt, ...) print file:line and exit 1 when
    the condition is false.  Unlike assert they still check under -DNDEBUG,
    and they exit rather than abort, so a forked child's failure reaches its
    parent as exit status 1 while a crash stays a signal.

    Test messages carry their own proof of integrity: a message's size and
    every byte of it are derived from its sequence number, and it carries a
    checksum, so a reader can tell a torn or misattributed copy from a good
    one without any shared state:

       0   seq       u64  sequence number the writer gave it
       8   size      u32  total message size, bytes
       12  checksum  u32  tu_checksum of the other bytes
       16  stream    size - 16 bytes from a generator seeded by seq
    =========================================================================
*/

#ifndef TESTUTIL_H_INCLUDED
#define TESTUTIL_H_INCLUDED

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zshm.h"

//  Exit codes automake's harness understands.
#define TU_PASS 0
#define TU_FAIL 1
#define TU_SKIP 77

#define FAIL(...)          tu_fail (__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond)        ((cond) ? (void) 0 : tu_fail (__FILE__, __LINE__, "%s", #cond))
#define CHECKF(cond, ...)  ((cond) ? (void) 0 : tu_fail (__FILE__, __LINE__, __VA_ARGS__))

static void tu_fail (const char *file, int line, const char *format, ...)
    __attribute__ ((format (printf, 3, 4), noreturn));

//  Report a failed check and leave at once.  _exit, not exit: a failing
//  thread must not run atexit handlers under its siblings' feet, and a
//  forked child must not flush its parent's buffered output twice.
static void
tu_fail (const char *file, int line, const char *format, ...)
{
    int error = errno;
    fflush (stdout);
    fprintf (stderr, "%s:%d: FAIL (pid %d): ", file, line, (int) getpid ());
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, " [errno %d: %s]\n", error, strerror (error));
    fflush (stderr);
    _exit (TU_FAIL);
}

//  CLOCK_MONOTONIC in nanoseconds; the same clock in every process, so
//  times taken by different processes compare.
static inline int64_t
tu_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void
tu_sleep_ns (int64_t ns)
{
    struct timespec pause = { (time_t) (ns / 1000000000LL), (long) (ns % 1000000000LL) };
    while (nanosleep (&pause, &pause) == -1 && errno == EINTR)
        ;
}

//  --------------------------------------------------------------------------
//  Random numbers: xorshift64*, seeded through splitmix64 so that nearby
//  seeds (consecutive sequence numbers) give unrelated streams.

static inline uint64_t
tu_mix64 (uint64_t value)
{
    value += 0x9e3779b97f4a7c15ULL;
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ULL;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebULL;
    return value ^ (value >> 31);
}

typedef struct {
    uint64_t state;             //  never 0
} tu_rng_t;

static inline void
tu_rng_seed (tu_rng_t *rng, uint64_t seed)
{
    rng->state = tu_mix64 (seed);
    if (!rng->state)
        rng->state = 1;
}

static inline uint64_t
tu_rng_next (tu_rng_t *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

//  Uniform-enough integer in [low, high].
static inline uint64_t
tu_rng_range (tu_rng_t *rng, uint64_t low, uint64_t high)
{
    return low + tu_rng_next (rng) % (high - low + 1);
}

//  A seed that differs between runs and processes, printed by tests so a
//  failure can be replayed with TU_SEED.
static inline uint64_t
tu_seed (void)
{
    const char *text = getenv ("TU_SEED");
    if (text && *text)
        return strtoull (text, NULL, 0);
    return tu_mix64 ((uint64_t) tu_now_ns () ^ ((uint64_t) getpid () << 40));
}

//  --------------------------------------------------------------------------
//  Checksums and self-proving messages

//  A word-at-a-time checksum (FNV-style multiply over 64-bit words, the
//  tail zero-padded), folded to 32 bits.  Fast enough for tens of millions
//  of small messages, and any change to any byte changes it with high
//  probability.
static inline uint32_t
tu_checksum (const void *data, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) data;
    uint64_t hash = 0xcbf29ce484222325ULL ^ size;
    while (size >= 8) {
        uint64_t word;
        memcpy (&word, bytes, 8);
        hash = (hash ^ word) * 0x100000001b3ULL;
        hash ^= hash >> 29;
        bytes += 8;
        size -= 8;
    }
    if (size) {
        uint64_t word = 0;
        memcpy (&word, bytes, size);
        hash = (hash ^ word) * 0x100000001b3ULL;
        hash ^= hash >> 29;
    }
    return (uint32_t) (hash ^ (hash >> 32));
}

#define TU_MSG_MIN 16           //  header: seq, size, checksum

//  The size of message `seq`, in [min, max]: derived from seq, so a reader
//  knows what size to expect.
static inline size_t
tu_msg_size (uint64_t seq, size_t min, size_t max)
{
    return (size_t) (min + tu_mix64 (seq ^ 0x5157a11e) % (max - min + 1));
}

//  The stream bytes of message `seq`, from offset 16 to `size`.
static inline void
tu_msg_stream (unsigned char *out, uint64_t seq, size_t size)
{
    tu_rng_t rng;
    tu_rng_seed (&rng, seq);
    size_t offset = TU_MSG_MIN;
    while (offset + 8 <= size) {
        uint64_t word = tu_rng_next (&rng);
        memcpy (out + offset, &word, 8);
        offset += 8;
    }
    if (offset < size) {
        uint64_t word = tu_rng_next (&rng);
        memcpy (out + offset, &word, size - offset);
    }
}

//  Checksum of a message: over everything but the checksum field itself.
static inline uint32_t
tu_msg_checksum (const unsigned char *msg, size_t size)
{
    uint32_t head = tu_checksum (msg, 12);
    uint32_t tail = tu_checksum (msg + TU_MSG_MIN, size - TU_MSG_MIN);
    return head ^ (tail * 0x9e3779b1u);
}

//  Write message `seq` of `size` bytes (>= TU_MSG_MIN) into buf.
static inline void
tu_msg_fill (void *buf, uint64_t seq, size_t size)
{
    unsigned char *msg = (unsigned char *) buf;
    uint32_t size32 = (uint32_t) size;
    memcpy (msg, &seq, 8);
    memcpy (msg + 8, &size32, 4);
    tu_msg_stream (msg, seq, size);
    uint32_t check = tu_msg_checksum (msg, size);
    memcpy (msg + 12, &check, 4);
}

//  Verdicts of tu_msg_verify.
#define TU_MSG_OK        0
#define TU_MSG_SHORT     1      //  smaller than a header
#define TU_MSG_BAD_SEQ   2      //  carries another sequence number
#define TU_MSG_BAD_SIZE  3      //  size field or size disagrees
#define TU_MSG_BAD_SUM   4      //  checksum mismatch
#define TU_MSG_BAD_BYTES 5      //  checksum fine, content not seq's

//  Check that buf holds exactly message `seq`, `size` bytes long: its
//  header, its checksum, and every byte against the regenerated stream.
//  If expected_size is not 0 the size must also equal it.  Returns
//  TU_MSG_OK or the first thing found wrong.
static inline int
tu_msg_verify (const void *buf, size_t size, uint64_t seq, size_t expected_size)
{
    const unsigned char *msg = (const unsigned char *) buf;
    if (size < TU_MSG_MIN)
        return TU_MSG_SHORT;
    uint64_t carried;
    uint32_t size32, check;
    memcpy (&carried, msg, 8);
    memcpy (&size32, msg + 8, 4);
    memcpy (&check, msg + 12, 4);
    if (carried != seq)
        return TU_MSG_BAD_SEQ;
    if (size32 != size || (expected_size && size != expected_size))
        return TU_MSG_BAD_SIZE;
    if (check != tu_msg_checksum (msg, size))
        return TU_MSG_BAD_SUM;
    unsigned char expected [TU_MSG_MIN + 8];
    tu_rng_t rng;
    tu_rng_seed (&rng, seq);
    for (size_t offset = TU_MSG_MIN; offset < size; offset += 8) {
        uint64_t word = tu_rng_next (&rng);
        size_t chunk = size - offset < 8 ? size - offset : 8;
        memcpy (expected, &word, 8);
        if (memcmp (msg + offset, expected, chunk))
            return TU_MSG_BAD_BYTES;
    }
    return TU_MSG_OK;
}

//  --------------------------------------------------------------------------
//  Channels

//  Write a channel name unique to this process into buf: tu-TAG-PID-N.
//  A stale segment of that name (a dead earlier run with our pid) is
//  removed.  Returns buf.
static inline char *
tu_channel (char *buf, size_t size, const char *tag)
{
    static int counter = 0;
    snprintf (buf, size, "tu-%s-%d-%d", tag, (int) getpid (), ++counter);
    zshm_ring_unlink (buf);
    return buf;
}

//  Remove every channel tu_channel made in process `pid` (tu-*-PID-N) and
//  anything planted beside them (their -suffixed variants): after a child
//  failed half-way, so that failures leave nothing in /dev/shm.  Returns
//  how many entries it removed.
static inline int
tu_cleanup (pid_t pid)
{
    DIR *dir = opendir (zshm_ring_dir ());
    if (!dir)
        return 0;
    char marker [32];
    snprintf (marker, sizeof marker, "-%d-", (int) pid);
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (strncmp (entry->d_name, "zshm.tu-", 8) || !strstr (entry->d_name + 8, marker))
            continue;
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", zshm_ring_dir (), entry->d_name);
        if (unlink (path) == 0 || rmdir (path) == 0)
            removed++;
    }
    closedir (dir);
    return removed;
}

//  The segment file of a channel: zshm_ring_dir()/zshm.NAME.
static inline char *
tu_segment_path (char *buf, size_t size, const char *name)
{
    snprintf (buf, size, "%s/zshm.%s", zshm_ring_dir (), name);
    return buf;
}

//  Exit with TU_SKIP unless the channel directory is usable.
static inline void
tu_require_shm (const char *program)
{
    if (access (zshm_ring_dir (), W_OK | X_OK)) {
        printf ("%s: SKIP, %s is not writable\n", program, zshm_ring_dir ());
        exit (TU_SKIP);
    }
}

//  --------------------------------------------------------------------------
//  Processes

#define TU_CHILDREN_MAX 64

//  Children the watchdog kills; the parent's, not inherited.
static pid_t tu_children [TU_CHILDREN_MAX];
static int tu_child_count = 0;

static inline void
tu_watchdog_expired (int signum)
{
    for (int index = 0; index < tu_child_count; index++)
        if (tu_children [index] > 0)
            kill (tu_children [index], SIGKILL);
    static const char message [] = "FAIL: watchdog expired (a hang)\n";
    if (write (STDERR_FILENO, message, sizeof message - 1) < 0)
        _exit (TU_FAIL);
    _exit (TU_FAIL);
}

//  Fail the test (exit 1, children killed) if it is still running after
//  `seconds`: a hang is a failure, not a stuck CI job.
static inline void
tu_watchdog (unsigned seconds)
{
    signal (SIGALRM, tu_watchdog_expired);
    alarm (seconds);
}

//  Forget a child the caller has reaped (so the watchdog never kills a
//  recycled pid).
static inline void
tu_forget (pid_t pid)
{
    for (int index = 0; index < tu_child_count; index++)
        if (tu_children [index] == pid)
            tu_children [index] = 0;
}

//  fork, with output flushed first so nothing is printed twice.  The child
//  dies with its parent (PR_SET_PDEATHSIG), has no watchdog of its own
//  (SIGALRM kills it: set alarm() for a per-child limit), and no children.
//  Returns what fork returns; fails the test if fork fails.
static inline pid_t
tu_fork (void)
{
    fflush (stdout);
    fflush (stderr);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (TU_FAIL);            //  orphaned before prctl took hold
        alarm (0);
        signal (SIGALRM, SIG_DFL);
        tu_child_count = 0;
    }
    else {
        int slot = 0;
        while (slot < tu_child_count && tu_children [slot] > 0)
            slot++;
        if (slot < TU_CHILDREN_MAX) {
            tu_children [slot] = pid;
            if (slot == tu_child_count)
                tu_child_count++;
        }
    }
    return pid;
}

//  waitpid for one child, retrying on EINTR; returns its status.
static inline int
tu_reap (pid_t pid)
{
    int status = 0;
    pid_t rc;
    while ((rc = waitpid (pid, &status, 0)) == -1 && errno == EINTR)
        ;
    CHECKF (rc == pid, "waitpid (%d)", (int) pid);
    tu_forget (pid);
    return status;
}

//  Describe a wait status ("exit 1", "signal Killed").
static inline const char *
tu_status (int status, char *buf, size_t size)
{
    if (WIFEXITED (status))
        snprintf (buf, size, "exit %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status))
        snprintf (buf, size, "signal %s", strsignal (WTERMSIG (status)));
    else
        snprintf (buf, size, "status 0x%x", status);
    return buf;
}

static inline void
tu_write_all (int fd, const void *data, size_t size)
{
    const char *bytes = (const char *) data;
    while (size) {
        ssize_t rc = write (fd, bytes, size);
        if (rc < 0 && errno == EINTR)
            continue;
        CHECKF (rc > 0, "write to pipe");
        bytes += rc;
        size -= (size_t) rc;
    }
}

//  Read exactly size bytes, waiting at most timeout_ms in all (-1: no
//  limit).  Returns 1, 0 on end of file, -1 on timeout.
static inline int
tu_read_all (int fd, void *data, size_t size, int timeout_ms)
{
    char *bytes = (char *) data;
    int64_t deadline = tu_now_ns () + (int64_t) timeout_ms * 1000000LL;
    while (size) {
        if (timeout_ms >= 0) {
            int64_t left = deadline - tu_now_ns ();
            struct pollfd item = { fd, POLLIN, 0 };
            int rc = left > 0 ? poll (&item, 1, (int) ((left + 999999) / 1000000)) : 0;
            if (rc < 0 && errno == EINTR)
                continue;
            CHECK (rc >= 0);
            if (rc == 0)
                return -1;
        }
        ssize_t rc = read (fd, bytes, size);
        if (rc < 0 && errno == EINTR)
            continue;
        CHECKF (rc >= 0, "read from pipe");
        if (rc == 0)
            return 0;
        bytes += rc;
        size -= (size_t) rc;
    }
    return 1;
}

//  A number from the environment, or `fallback`.
static inline uint64_t
tu_env_u64 (const char *variable, uint64_t fallback)
{
    const char *text = getenv (variable);
    if (!text || !*text)
        return fallback;
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 0);
    CHECKF (!errno && *end == 0 && value > 0, "%s=%s is not a positive number", variable, text);
    return value;
}

#endif
