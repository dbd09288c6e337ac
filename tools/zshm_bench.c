/*  =========================================================================
    zshm_bench - `zshm bench`: zshm against ZeroMQ, measured in one run

    Everything is measured in the same run, on the same two pinned CPUs,
    because this kind of host drifts several-fold in speed between runs:
    a figure means something only beside the core-to-core limit measured
    with it (and the load average, printed too).  The rows, in table order:

      limit           two threads bounce a counter between two cache lines;
                      the fastest one CPU can tell another anything
      ring-thread     heap rings between two threads
      ring-process    shared-memory rings between two processes (fork)
      pubsub-thread   zshm_pub/zshm_sub on shm:// (zshm_bench_pubsub.c)
      pubsub-process
      proto-raw       one-way, at one rate: bytes, a protobuf Tick through
      proto-zshm      zshm's packer, and through protobuf-c's default path
      proto-pbc
      zmq-inproc      libzmq PUB/SUB over inproc, between two threads
      actor           the zshm_publisher/zshm_subscriber actors
      zmq-ipc         libzmq PUB/SUB over ipc and tcp (127.0.0.1)
      block           wake-up of an idle=block subscriber
      zmq-tcp
      zmq-tcp-oneway  libzmq tcp, timed one way (zshm_bench_bridge.c)
      bridge          ring, bridge, tcp, bridge, ring, timed one way

    Most rows are measured twice at each payload size:
      latency      ping-pong: A sends on channel A->B, B echoes on B->A;
                   one-way = round trip / 2, as percentiles of every round
                   trip after the warm-up.  Rows marked one_way instead
                   time from B's stamp before sending to A's after
                   receiving, on one clock;
      throughput   A sends back-to-back for --duration-ms, B receives;
                   received msg/s and the share B lost (the ring's
                   zshm_reader_lost, or gaps in sequence numbers), over
                   rings of --tput-ring-bytes.
    Side A runs pinned to the first CPU, side B to the second.  What is
    printed (table, targets, JSON, CSV, SVG) is in zshm_bench_report.c; the
    shared core is declared in zshm_bench_priv.h.

    Adding a row.  A scenario is one function and one line in s_scenarios:

        static int
        s_foo (bench_t *bench, bench_row_t *row)
        {
            //  Measure at row->size bytes.  Latency: time samples on
            //  side A with bench_lat_start/more/add/finish.  Throughput: call
            //  bench_throughput_set.  Return 0, or bench_row_fail (row, ...).
        }

    Most scenarios run their two sides with bench_pair_run, which pins side A
    to the first CPU in the calling thread and side B to the second in a
    thread or a forked process, and gives both the same copy of an
    argument struct in shared memory (results travel back in it).  The
    s_ring_* and s_zmq_* functions are the examples to copy; a scenario in
    another file is declared in zshm_bench_priv.h.  Rows are extended, not
    changed: tests/test_bench_smoke.sh checks every row of --json has
    positive figures.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "zshm.h"
#include "zshm_tools.h"
#include "zshm_bench_priv.h"
#ifdef BENCH_HAVE_TSC
#    include <cpuid.h>
#endif

#define S_DURATION_MS       1000        //  throughput run, latency cap
#define S_ITERATIONS        1000000     //  latency samples wanted per row
#define S_WARMUP            1000        //  round trips not recorded
#define S_QUICK_DURATION_MS 20
#define S_QUICK_ITERATIONS  5000
#define S_QUICK_WARMUP      100
#define S_CAPACITY          4096        //  ring slots of latency runs
#define S_TPUT_BYTES        (64ULL << 20)   //  bytes of a throughput run's ring
#define S_QUICK_TPUT_BYTES  (4ULL << 20)    //  ... with --quick
#define S_ROW_LIMIT_SAMPLES 2000        //  the limit beside each row
#define S_TPUT_BYTES_MIN    (64ULL << 10)   //  --tput-ring-bytes range
#define S_TPUT_BYTES_MAX    (16ULL << 30)
#define S_ZMQ_HWM           10000       //  PUB and SUB high-water marks
#define S_ACTOR_SPIN_CPUS   6           //  allowed CPUs for spinning actors

//  --------------------------------------------------------------------------
//  Time.  On x86-64 with an invariant TSC we read the TSC (calibrated
//  against CLOCK_MONOTONIC at start-up); elsewhere, or with --clock
//  monotonic, clock_gettime.  What a pair of stamps costs with nothing
//  between them is measured and subtracted from every round trip.

//  Set once before anything is measured; forked sides inherit it.
bench_clock_t bench_clock = { false, 1.0, 0 };

#ifdef BENCH_HAVE_TSC
//  An invariant TSC ticks at one rate in every power state and on every
//  core (CPUID 0x80000007, EDX bit 8).
static bool
s_tsc_invariant (void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid (0x80000000, &eax, &ebx, &ecx, &edx) || eax < 0x80000007)
        return false;
    __get_cpuid (0x80000007, &eax, &ebx, &ecx, &edx);
    return (edx >> 8) & 1;
}
#endif

//  Choose and calibrate the clock.  Returns 0, or -1 if `name` asks for a
//  clock this machine cannot give.
static int
s_clock_init (const char *name, int calibrate_ms)
{
    bench_clock.tsc = false;
    bench_clock.ns_per_tick = 1.0;
    if (strcmp (name, "monotonic") != 0) {
#ifdef BENCH_HAVE_TSC
        if (s_tsc_invariant ()) {
            uint64_t ns0 = bench_mono_ns ();
            uint64_t tick0 = __rdtsc ();
            struct timespec pause = { 0, calibrate_ms * 1000000L };
            nanosleep (&pause, NULL);
            uint64_t ns1 = bench_mono_ns ();
            uint64_t tick1 = __rdtsc ();
            if (tick1 > tick0 && ns1 > ns0) {
                bench_clock.tsc = true;
                bench_clock.ns_per_tick = (double) (ns1 - ns0) / (double) (tick1 - tick0);
            }
        }
#endif
        if (!bench_clock.tsc && strcmp (name, "tsc") == 0)
            return -1;
    }
    //  The least a stamp pair costs; the minimum, since anything above it
    //  is an interrupt or a miss, not the timer.
    uint64_t best = UINT64_MAX;
    for (int index = 0; index < 20000; index++) {
        uint64_t begin = bench_stamp_begin ();
        uint64_t end = bench_stamp_end ();
        if (end - begin < best)
            best = end - begin;
    }
    bench_clock.overhead = best;
    return 0;
}

//  --------------------------------------------------------------------------
//  Rows, scenarios, the bench

int
bench_row_fail (bench_row_t *row, const char *format, ...)
{
    if (!row->failed) {
        va_list args;
        va_start (args, format);
        vsnprintf (row->error, sizeof row->error, format, args);
        va_end (args);
        row->failed = true;
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Latency: side A times round trips into the preallocated samples and
//  turns them into percentiles at the end (sorting happens after timing).

void
bench_lat_start (bench_t *bench, bench_lat_t *lat)
{
    bench->nsamples = 0;
    lat->done = 0;
    lat->warmup = bench->warmup;
    lat->last = bench_now ();
    lat->deadline = lat->last + bench_ms_ticks (bench->duration_ms);
}

static int
s_compare_u64 (const void *left, const void *right)
{
    uint64_t a = *(const uint64_t *) left, b = *(const uint64_t *) right;
    return a < b ? -1 : a > b;
}

//  One-way ns of a sample: minus the timer's own cost, halved unless the
//  sample was one way already.
static double
s_one_way_ns (uint64_t ticks, bool one_way)
{
    uint64_t net = ticks > bench_clock.overhead ? ticks - bench_clock.overhead : 0;
    return bench_ticks_ns (net) / (one_way ? 1 : 2);
}

//  Nearest-rank percentile of n sorted samples.
static double
s_percentile (const uint64_t *sorted, uint64_t n, double percent, bool one_way)
{
    uint64_t rank = (uint64_t) ceil (percent / 100.0 * (double) n);
    rank = rank < 1 ? 1 : rank > n ? n : rank;
    return s_one_way_ns (sorted [rank - 1], one_way);
}

int
bench_lat_finish (bench_t *bench, bench_row_t *row)
{
    uint64_t n = bench->nsamples;
    if (n == 0)
        return bench_row_fail (row, "no latency samples");
    qsort (bench->samples, n, sizeof (uint64_t), s_compare_u64);
    bench_latency_t *latency = &row->latency;
    bool one_way = row->one_way;
    double total = 0;
    for (uint64_t index = 0; index < n; index++)
        total += s_one_way_ns (bench->samples [index], one_way);
    latency->samples = n;
    latency->p50 = s_percentile (bench->samples, n, 50, one_way);
    latency->p90 = s_percentile (bench->samples, n, 90, one_way);
    latency->p99 = s_percentile (bench->samples, n, 99, one_way);
    latency->p999 = s_percentile (bench->samples, n, 99.9, one_way);
    latency->max = s_one_way_ns (bench->samples [n - 1], one_way);
    latency->min = s_one_way_ns (bench->samples [0], one_way);
    latency->mean = total / (double) n;
    row->has_latency = true;
    return 0;
}

void
bench_throughput_set (bench_row_t *row, uint64_t sent, uint64_t received, uint64_t lost,
                      uint64_t ticks, size_t capacity)
{
    bench_throughput_t *throughput = &row->throughput;
    throughput->sent = sent;
    throughput->received = received;
    throughput->lost = lost;
    throughput->seconds = bench_ticks_ns (ticks) / 1e9;
    throughput->rate = throughput->seconds > 0 ? (double) received / throughput->seconds : 0;
    throughput->lost_pct = sent ? 100.0 * (double) lost / (double) sent : 0;
    throughput->capacity = capacity;
    row->has_throughput = true;
}

//  --------------------------------------------------------------------------
//  Pairs: side A in the calling thread on the first CPU, side B on the
//  second, in a thread or a forked process.  Both see one argument struct
//  in a MAP_SHARED mapping.  Side B reports only through that struct (in a
//  forked process nothing else reaches the parent).

//  The argument sits a page after the control block, page-aligned so that
//  its own cache-line alignment holds.
#define S_ARG_OFFSET 4096

int
bench_fail (bench_pair_t *pair, const char *format, ...)
{
    char *error = pair->side == 'A' ? pair->control->a_error : pair->control->b_error;
    if (!*error) {
        va_list args;
        va_start (args, format);
        vsnprintf (error, BENCH_ERROR_MAX, format, args);
        va_end (args);
        if (!*error)
            snprintf (error, BENCH_ERROR_MAX, "failed");
    }
    return -1;
}

static int
s_pin (int cpu)
{
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (cpu, &set);
    return sched_setaffinity (0, sizeof set, &set);
}

int
bench_echo (bench_pair_t *pair, void *in, bench_recv_fn *recv, void *out, bench_send_fn *send,
            size_t size)
{
    uint8_t *buf = (uint8_t *) calloc (1, size);
    if (!buf)
        return bench_fail (pair, "out of memory");
    int rc = -1;
    for (;;) {
        int got = recv (in, buf, size);
        if (got < 0) {
            if (zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
                bench_fail (pair, "zmq_recv: %s", zmq_strerror (zmq_errno ()));
                break;
            }
            if (bench_stopping (pair)) {
                rc = 0;
                break;
            }
            continue;
        }
        if (got >= 8 && bench_get64 (buf) == BENCH_QUIT) {
            rc = 0;
            break;
        }
        //  A PUB drops rather than fail; the ping side times out if so.
        send (out, buf, (size_t) got);
    }
    free (buf);
    return rc;
}

int
bench_wait (bench_pair_t *pair, _Atomic int *flag, int value, const char *what)
{
    uint64_t deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
    for (uint64_t spins = 1;; spins++) {
        //  Acquire, from the partner's release of the flag (see the
        //  handshake flags in zshm_bench_priv.h).
        if (atomic_load_explicit (flag, memory_order_acquire) >= value)
            return 0;
        if ((spins & 1023) == 0) {
            if (bench_stopping (pair))
                return bench_fail (pair, "stopped while waiting for %s", what);
            if (pair->side == 'A' && atomic_load (&pair->control->b_state) < 0)
                return bench_fail (pair, "side B failed while A waited for %s", what);
            if (bench_mono_ns () > deadline)
                return bench_fail (pair, "timed out waiting for %s", what);
            //  Let whatever else shares this CPU (the other side, on a
            //  busy machine) run.
            sched_yield ();
        }
        bench_relax ();
    }
}

static int
s_side_b (bench_pair_t *pair)
{
    int rc = s_pin (pair->bench->cpu_b)
           ? bench_fail (pair, "cannot pin to cpu %d: %s", pair->bench->cpu_b, strerror (errno))
           : pair->run (pair);
    atomic_store (&pair->control->b_state, rc == 0 ? 1 : -1);
    return rc;
}

static void *
s_side_b_thread (void *pair)
{
    s_side_b ((bench_pair_t *) pair);
    return NULL;
}

int
bench_pair_run (bench_t *bench, bench_row_t *row, bench_mode_t mode, bench_side_fn *side_a,
            bench_side_fn *side_b, void *arg, size_t arg_size)
{
    if (arg_size > BENCH_ARG_MAX)
        return bench_row_fail (row, "scenario argument too large");
    size_t map_size = S_ARG_OFFSET + (arg_size + 4095) / 4096 * 4096;
    void *map = mmap (NULL, map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return bench_row_fail (row, "mmap: %s", strerror (errno));
    bench_control_t *control = (bench_control_t *) map;
    void *shared_arg = (char *) map + S_ARG_OFFSET;
    memcpy (shared_arg, arg, arg_size);
    bench_pair_t pair_a = { bench, row, mode, control, shared_arg, 'A', side_a };
    bench_pair_t pair_b = { bench, NULL, mode, control, shared_arg, 'B', side_b };

    pthread_t thread;
    pid_t child = -1;
    bool started;
    if (mode == BENCH_THREADS)
        started = pthread_create (&thread, NULL, s_side_b_thread, &pair_b) == 0;
    else {
        //  Nothing buffered may be written twice.
        fflush (stdout);
        fflush (stderr);
        pid_t parent = getpid ();
        child = fork ();
        if (child == 0) {
            //  Never outlive the bench; never touch its zmq context.
            prctl (PR_SET_PDEATHSIG, SIGKILL);
            if (getppid () != parent)
                _exit (1);
            _exit (s_side_b (&pair_b) ? 1 : 0);
        }
        started = child > 0;
    }
    int rc = -1;
    if (!started)
        bench_fail (&pair_a, "cannot start side B: %s", strerror (errno));
    else {
        if (s_pin (bench->cpu_a))
            bench_fail (&pair_a, "cannot pin to cpu %d: %s", bench->cpu_a, strerror (errno));
        else
            rc = side_a (&pair_a);
        sched_setaffinity (0, sizeof bench->allowed, &bench->allowed);
        atomic_store (&control->stop, 1);
        if (mode == BENCH_THREADS)
            pthread_join (thread, NULL);
        else {
            //  A side B that ignores `stop` is killed, not waited for.
            int status = 0;
            uint64_t deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
            pid_t done;
            while ((done = waitpid (child, &status, WNOHANG)) == 0 && bench_mono_ns () < deadline) {
                struct timespec pause = { 0, 200000 };
                nanosleep (&pause, NULL);
            }
            if (done == 0) {
                kill (child, SIGKILL);
                waitpid (child, &status, 0);
                if (!*control->b_error)
                    snprintf (control->b_error, BENCH_ERROR_MAX, "side B did not stop");
                atomic_store (&control->b_state, -1);
            }
            else
            if (done == child && WIFSIGNALED (status) && !*control->b_error)
                snprintf (control->b_error, BENCH_ERROR_MAX, "side B died of signal %d",
                          WTERMSIG (status));
        }
        if (atomic_load (&control->b_state) != 1)
            rc = -1;
    }
    if (rc) {
        if (*control->a_error && *control->b_error)
            bench_row_fail (row, "%s; side B: %s", control->a_error, control->b_error);
        else
        if (*control->b_error)
            bench_row_fail (row, "side B: %s", control->b_error);
        else
            bench_row_fail (row, "%s", *control->a_error ? control->a_error : "failed");
    }
    memcpy (arg, shared_arg, arg_size);
    munmap (map, map_size);
    return rc;
}

//  --------------------------------------------------------------------------
//  Cleaning up after an interrupted run: channels and ipc files of the row
//  in progress are removed on SIGINT/SIGTERM.  (unlink is async-signal-
//  safe; zshm_ring_unlink only adds a snprintf of the path.)

static char s_cleanup_channels [BENCH_CLEANUP_MAX][64];
static char s_cleanup_files [BENCH_CLEANUP_MAX][256];
static volatile sig_atomic_t s_cleanup_armed;

void
bench_cleanup_now (void)
{
    for (int index = 0; index < BENCH_CLEANUP_MAX; index++) {
        if (*s_cleanup_channels [index])
            zshm_ring_unlink (s_cleanup_channels [index]);
        if (*s_cleanup_files [index])
            unlink (s_cleanup_files [index]);
    }
}

void
bench_cleanup_forget (void)
{
    s_cleanup_armed = 0;
    memset (s_cleanup_channels, 0, sizeof s_cleanup_channels);
    memset (s_cleanup_files, 0, sizeof s_cleanup_files);
}

void
bench_cleanup_channel (int index, const char *name)
{
    snprintf (s_cleanup_channels [index], sizeof s_cleanup_channels [index], "%s", name);
    s_cleanup_armed = 1;
}

void
bench_cleanup_file (int index, const char *path)
{
    snprintf (s_cleanup_files [index], sizeof s_cleanup_files [index], "%s", path);
    s_cleanup_armed = 1;
}

void
bench_channel_name (bench_t *bench, char *name, size_t size, const char *suffix)
{
    snprintf (name, size, "bench-%d-%u-%s", (int) getpid (), bench->serial++, suffix);
}

static void
s_on_signal (int sig)
{
    if (s_cleanup_armed)
        bench_cleanup_now ();
    signal (sig, SIG_DFL);
    raise (sig);
}

//  --------------------------------------------------------------------------
//  limit: the core-to-core limit.  A stores a counter in its line; B, spinning
//  on it, copies it into its own line; A spins until it sees it.  Each line
//  has one writer, as each ring slot does, and the lines sit 128 bytes
//  apart so that the adjacent-line prefetcher never pairs them.

#define S_LIMIT_STOP UINT64_MAX

typedef struct {
    _Alignas (128) _Atomic uint64_t ping;   //  written by A only
    _Alignas (128) _Atomic uint64_t pong;   //  written by B only
    _Alignas (128) _Atomic int ready;       //  B is spinning
} s_limit_arg_t;

static int
s_limit_ping (bench_pair_t *pair)
{
    s_limit_arg_t *arg = (s_limit_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    if (bench_wait (pair, &arg->ready, 1, "the echo thread"))
        return -1;
    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    for (uint64_t value = 1; bench_lat_more (bench, &lat); value++) {
        uint64_t begin = bench_stamp_begin ();
        //  The line bounced is the ping/pong pair itself: release/acquire
        //  on each (partners: the loads of ping in s_limit_echo and of
        //  pong here) is all the ordering there is to measure.
        atomic_store_explicit (&arg->ping, value, memory_order_release);
        //  No timeout: B is a thread of ours and cannot vanish.
        while (atomic_load_explicit (&arg->pong, memory_order_acquire) != value)
            bench_relax ();
        bench_lat_add (bench, &lat, begin, bench_stamp_end ());
    }
    //  Release, to s_limit_echo's acquire of ping: B leaves.
    atomic_store_explicit (&arg->ping, S_LIMIT_STOP, memory_order_release);
    return bench_lat_finish (bench, pair->row);
}

static int
s_limit_echo (bench_pair_t *pair)
{
    s_limit_arg_t *arg = (s_limit_arg_t *) pair->arg;
    //  Release, to the ping side's bench_wait on ready.
    atomic_store_explicit (&arg->ready, 1, memory_order_release);
    uint64_t seen = 0;
    for (uint64_t spins = 1;; spins++) {
        //  Acquire, from the ping side's release of ping.
        uint64_t value = atomic_load_explicit (&arg->ping, memory_order_acquire);
        if (value != seen) {
            if (value == S_LIMIT_STOP)
                return 0;
            //  Release, to the ping side's acquire of pong.
            atomic_store_explicit (&arg->pong, value, memory_order_release);
            seen = value;
        }
        else {
            if ((spins & 0xffff) == 0 && bench_stopping (pair))
                return 0;
            bench_relax ();
        }
    }
}

static int
s_limit (bench_t *bench, bench_row_t *row)
{
    s_limit_arg_t arg;
    memset (&arg, 0, sizeof arg);
    return bench_pair_run (bench, row, BENCH_THREADS, s_limit_ping, s_limit_echo, &arg, sizeof arg);
}

//  --------------------------------------------------------------------------
//  ring-thread, ring-process.  Latency: A sends on ring A->B, B receives
//  and sends the copy back on ring B->A.  Throughput: A sends on ring A->B
//  back-to-back, B receives with try_recv.  Both sides spin on
//  zshm_reader_try_recv (the reader polls the slot's state word), and
//  receive by copy, as an application would.  Threads use heap rings made
//  here; processes use channels, each created by its writer.

typedef struct {
    size_t size;                //  payload bytes (= slot size)
    size_t capacity;            //  slots per ring
    char name_ab [64];          //  channel A->B; "" for a heap ring
    char name_ba [64];          //  channel B->A; "" for a heap ring
    zshm_ring_t *heap_ab;       //  heap ring A->B (threads only)
    zshm_ring_t *heap_ba;       //  heap ring B->A (threads only)
    _Atomic int ab_ready;       //  A's writer exists
    _Atomic int b_ready;        //  B's reader (and writer) exist
    _Atomic int done;           //  throughput: A stopped sending
    _Atomic uint64_t sent;      //  throughput: messages A sent
    uint64_t first;             //  throughput: sequence of the first timed one
    uint64_t start;             //  throughput: stamp before the first send
    uint64_t end;               //  throughput: stamp B finished reading
    uint64_t received;          //  throughput: B's delivered
    uint64_t lost;              //  throughput: B's lost
} s_ring_arg_t;

//  The writer of one of the pair's rings: the heap ring, or a new channel.
static zshm_ring_t *
s_ring_writer (bench_pair_t *pair, zshm_ring_t *heap, const char *name)
{
    s_ring_arg_t *arg = (s_ring_arg_t *) pair->arg;
    if (heap)
        return heap;
    zshm_ring_t *ring = zshm_ring_new (name, arg->capacity, arg->size);
    if (!ring)
        bench_fail (pair, "zshm_ring_new %s: %s", name, strerror (errno));
    return ring;
}

//  A reader on the other side's ring (opening the channel if it is one).
static zshm_reader_t *
s_ring_reader (bench_pair_t *pair, zshm_ring_t *heap, const char *name, zshm_ring_t **ring_p)
{
    *ring_p = heap ? heap : zshm_ring_open (name);
    if (!*ring_p) {
        bench_fail (pair, "zshm_ring_open %s: %s", name, strerror (errno));
        return NULL;
    }
    zshm_reader_t *reader = zshm_reader_new (*ring_p);
    if (!reader)
        bench_fail (pair, "zshm_reader_new %s: %s", name, strerror (errno));
    return reader;
}

//  Destroy what a side made; heap rings belong to the scenario.
static void
s_ring_release (zshm_ring_t **ring_p, zshm_ring_t *heap, zshm_reader_t **reader_p)
{
    if (reader_p)
        zshm_reader_destroy (reader_p);
    if (*ring_p != heap)
        zshm_ring_destroy (ring_p);
    *ring_p = NULL;
}

//  Spin on try_recv until a message comes.  Returns its size, or -1 with
//  errno ETIMEDOUT (nothing for BENCH_TIMEOUT_MS), ECANCELED (side B told to
//  stop), EPIPE (writer gone) or the reader's error.
static inline ssize_t
s_ring_recv (bench_pair_t *pair, zshm_reader_t *reader, void *buf, size_t max)
{
    uint64_t deadline = 0;
    for (uint64_t spins = 1;; spins++) {
        ssize_t size = zshm_reader_try_recv (reader, buf, max, NULL);
        if (size >= 0)
            return size;
        if (errno != EAGAIN)
            return -1;
        if ((spins & 0xffff) == 0) {
            uint64_t now = bench_mono_ns ();
            if (bench_stopping (pair)) {
                errno = ECANCELED;
                return -1;
            }
            if (!deadline)
                deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
            else
            if (now > deadline) {
                errno = ETIMEDOUT;
                return -1;
            }
        }
    }
}

static int
s_ring_ping (bench_pair_t *pair)
{
    s_ring_arg_t *arg = (s_ring_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    zshm_ring_t *ab = NULL, *ba = NULL;
    zshm_reader_t *reader = NULL;
    int rc = -1;
    uint64_t *out = (uint64_t *) calloc (1, arg->size);
    uint64_t *in = (uint64_t *) calloc (1, arg->size);
    if (!out || !in) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (!(ab = s_ring_writer (pair, arg->heap_ab, arg->name_ab)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->ab_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_ready, 1, "the echo side")
    ||  !(reader = s_ring_reader (pair, arg->heap_ba, arg->name_ba, &ba)))
        goto done;

    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    //  At least a lap of warm-up, so that every slot's pages are mapped in
    //  both processes before anything is timed (first touches fault).
    if (lat.warmup < arg->capacity)
        lat.warmup = arg->capacity;
    for (uint64_t count = 1; bench_lat_more (bench, &lat); count++) {
        //  Each ping carries its number, checked on the echo (untimed).
        out [0] = count;
        uint64_t begin = bench_stamp_begin ();
        zshm_ring_send (ab, out, arg->size);
        ssize_t size = s_ring_recv (pair, reader, in, arg->size);
        uint64_t end = bench_stamp_end ();
        if (size < 0) {
            bench_fail (pair, "waiting for echo %" PRIu64 ": %s", count, strerror (errno));
            goto done;
        }
        if ((size_t) size != arg->size || in [0] != count) {
            bench_fail (pair, "echo %" PRIu64 " came back as %" PRIu64 " (%zd bytes)",
                    count, in [0], size);
            goto done;
        }
        bench_lat_add (bench, &lat, begin, end);
    }
    rc = bench_lat_finish (bench, pair->row);
done:
    if (ba)
        s_ring_release (&ba, arg->heap_ba, &reader);
    if (ab)
        s_ring_release (&ab, arg->heap_ab, NULL);
    free (out);
    free (in);
    return rc;
}

static int
s_ring_pong (bench_pair_t *pair)
{
    s_ring_arg_t *arg = (s_ring_arg_t *) pair->arg;
    zshm_ring_t *ab = NULL, *ba = NULL;
    zshm_reader_t *reader = NULL;
    int rc = -1;
    void *buf = calloc (1, arg->size);
    if (!buf) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (bench_wait (pair, &arg->ab_ready, 1, "the ping side")
    ||  !(reader = s_ring_reader (pair, arg->heap_ab, arg->name_ab, &ab))
    ||  !(ba = s_ring_writer (pair, arg->heap_ba, arg->name_ba)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_ready, 1, memory_order_release);
    for (;;) {
        ssize_t size = s_ring_recv (pair, reader, buf, arg->size);
        if (size < 0) {
            //  The normal end: A is done (stop) or its writer is gone.
            if (errno == ECANCELED || errno == EPIPE)
                rc = 0;
            else
                bench_fail (pair, "waiting for a ping: %s", strerror (errno));
            break;
        }
        zshm_ring_send (ba, buf, (size_t) size);
    }
done:
    if (ab)
        s_ring_release (&ab, arg->heap_ab, &reader);
    if (ba)
        s_ring_release (&ba, arg->heap_ba, NULL);
    free (buf);
    return rc;
}

static int
s_ring_write (bench_pair_t *pair)
{
    s_ring_arg_t *arg = (s_ring_arg_t *) pair->arg;
    zshm_ring_t *ab = NULL;
    int rc = -1;
    void *out = calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    memset (out, 0x5a, arg->size);
    if (!(ab = s_ring_writer (pair, arg->heap_ab, arg->name_ab)))
        goto done;
    //  A lap before the reader exists (it starts at the next message), so
    //  that no first-touch page fault is timed.
    for (size_t index = 0; index < arg->capacity; index++)
        zshm_ring_send (ab, out, arg->size);
    arg->first = zshm_ring_head (ab);
    //  Release: `first` is visible to whoever sees ab_ready.
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->ab_ready, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_ready, 1, "the reader"))
        goto done;
    uint64_t sent = 0;
    arg->start = bench_now ();
    uint64_t deadline = arg->start + bench_ms_ticks (pair->bench->duration_ms);
    do {
        //  The clock is read once per 256 sends, a few ns among ~5 us.
        for (int index = 0; index < 256; index++)
            zshm_ring_send (ab, out, arg->size);
        sent += 256;
    } while (bench_now () < deadline);
    atomic_store_explicit (&arg->sent, sent, memory_order_relaxed);
    //  Release: `sent` is visible to whoever sees `done`.
    atomic_store_explicit (&arg->done, 1, memory_order_release);
    rc = 0;
    //  A shared-memory reader keeps its mapping and reads to the end after
    //  we close; a heap ring stays until the scenario destroys it.
done:
    if (ab)
        s_ring_release (&ab, arg->heap_ab, NULL);
    free (out);
    return rc;
}

static int
s_ring_read (bench_pair_t *pair)
{
    s_ring_arg_t *arg = (s_ring_arg_t *) pair->arg;
    zshm_ring_t *ab = NULL;
    zshm_reader_t *reader = NULL;
    int rc = -1;
    void *buf = calloc (1, arg->size);
    if (!buf) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (bench_wait (pair, &arg->ab_ready, 1, "the writer")
    ||  !(reader = s_ring_reader (pair, arg->heap_ab, arg->name_ab, &ab)))
        goto done;
    //  Read the writer's warm-up lap once with this reader, for the same
    //  reason, then start afresh at the next message.
    zshm_reader_seek_oldest (reader);
    while (zshm_reader_try_recv (reader, buf, arg->size, NULL) >= 0)
        ;
    zshm_reader_destroy (&reader);
    if (!(reader = zshm_reader_new (ab))) {
        bench_fail (pair, "zshm_reader_new: %s", strerror (errno));
        goto done;
    }
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_ready, 1, memory_order_release);
    uint64_t deadline = 0;
    for (uint64_t empty = 1;; ) {
        if (zshm_reader_try_recv (reader, buf, arg->size, NULL) >= 0)
            continue;
        if (errno != EAGAIN && errno != EPIPE) {
            bench_fail (pair, "zshm_reader_try_recv: %s", strerror (errno));
            goto done;
        }
        //  Done when the writer stopped and we stand past its last message;
        //  messages lapped on the way are lost.
        if (atomic_load_explicit (&arg->done, memory_order_acquire)) {
            uint64_t sent = atomic_load_explicit (&arg->sent, memory_order_relaxed);
            if (zshm_reader_position (reader) >= arg->first + sent)
                break;
            if (!deadline)
                deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
        }
        else
        if (errno == EPIPE) {
            bench_fail (pair, "the writer died");
            goto done;
        }
        if ((empty++ & 0xffff) == 0) {
            if (deadline && bench_mono_ns () > deadline) {
                bench_fail (pair, "stuck at %" PRIu64 " of %" PRIu64 " messages",
                        zshm_reader_position (reader) - arg->first, atomic_load (&arg->sent));
                goto done;
            }
            if (bench_stopping (pair) && !atomic_load (&arg->done)) {
                bench_fail (pair, "stopped before the writer finished");
                goto done;
            }
        }
    }
    arg->end = bench_now ();
    arg->received = zshm_reader_delivered (reader);
    arg->lost = zshm_reader_lost (reader);
    rc = 0;
done:
    if (ab)
        s_ring_release (&ab, arg->heap_ab, &reader);
    free (buf);
    return rc;
}

//  Fresh arguments for one run over rings of `capacity` slots; channel
//  names carry our pid and a serial.
static void
s_ring_arg_init (bench_t *bench, bench_row_t *row, bench_mode_t mode, s_ring_arg_t *arg,
                 size_t capacity, zshm_ring_t *heap_ab, zshm_ring_t *heap_ba)
{
    memset (arg, 0, sizeof *arg);
    arg->size = row->size;
    arg->capacity = capacity;
    arg->heap_ab = heap_ab;
    arg->heap_ba = heap_ba;
    if (mode == BENCH_PROCESSES) {
        bench_channel_name (bench, arg->name_ab, sizeof arg->name_ab, "ab");
        bench_channel_name (bench, arg->name_ba, sizeof arg->name_ba, "ba");
        bench_cleanup_channel (0, arg->name_ab);
        bench_cleanup_channel (1, arg->name_ba);
    }
}

static void
s_ring_arg_unlink (s_ring_arg_t *arg)
{
    if (*arg->name_ab)
        zshm_ring_unlink (arg->name_ab);
    if (*arg->name_ba)
        zshm_ring_unlink (arg->name_ba);
    bench_cleanup_forget ();
}

static int
s_ring_row (bench_t *bench, bench_row_t *row, bench_mode_t mode)
{
    zshm_ring_t *heap_ab = NULL, *heap_ba = NULL;
    if (mode == BENCH_THREADS
    &&  (!(heap_ab = zshm_ring_new (NULL, bench->capacity, row->size))
    ||   !(heap_ba = zshm_ring_new (NULL, bench->capacity, row->size)))) {
        bench_row_fail (row, "zshm_ring_new: %s", strerror (errno));
        zshm_ring_destroy (&heap_ab);
        return -1;
    }
    s_ring_arg_t arg;
    s_ring_arg_init (bench, row, mode, &arg, bench->capacity, heap_ab, heap_ba);
    int rc = bench_pair_run (bench, row, mode, s_ring_ping, s_ring_pong, &arg, sizeof arg);
    s_ring_arg_unlink (&arg);
    if (rc == 0) {
        //  A fresh ring for the throughput run (nothing left from the
        //  pings), of --tput-ring-bytes.
        size_t capacity = bench_tput_capacity (bench, row->size);
        zshm_ring_destroy (&heap_ab);
        zshm_ring_destroy (&heap_ba);
        if (mode == BENCH_THREADS && !(heap_ab = zshm_ring_new (NULL, capacity, row->size)))
            return bench_row_fail (row, "zshm_ring_new: %s", strerror (errno));
        s_ring_arg_init (bench, row, mode, &arg, capacity, heap_ab, NULL);
        rc = bench_pair_run (bench, row, mode, s_ring_write, s_ring_read, &arg, sizeof arg);
        s_ring_arg_unlink (&arg);
        if (rc == 0) {
            bench_throughput_set (row, arg.sent, arg.received, arg.lost, arg.end - arg.start,
                                  capacity);
            if (arg.received + arg.lost != arg.sent)
                rc = bench_row_fail (row, "delivered %" PRIu64 " + lost %" PRIu64
                                 " != sent %" PRIu64, arg.received, arg.lost, arg.sent);
        }
    }
    zshm_ring_destroy (&heap_ab);
    zshm_ring_destroy (&heap_ba);
    return rc;
}

static int
s_ring_thread (bench_t *bench, bench_row_t *row)
{
    return s_ring_row (bench, row, BENCH_THREADS);
}

static int
s_ring_process (bench_t *bench, bench_row_t *row)
{
    return s_ring_row (bench, row, BENCH_PROCESSES);
}

//  --------------------------------------------------------------------------
//  zmq-inproc, zmq-ipc, zmq-tcp: libzmq PUB/SUB between two threads, with
//  the bench's context (its I/O thread is not pinned).  Every payload
//  starts with a 64-bit sequence number.  Latency: a PUB/SUB pair each
//  way, blocking receives.  Throughput: PUB sends back-to-back; with the
//  high-water marks at --zmq-hwm, PUB drops when the pipe is full and the
//  SUB counts the gaps.  SUB sockets are told a probe first, until one
//  arrives, so the slow joiner costs nothing measured.

#define S_ZMQ_PROBE UINT64_MAX          //  handshake, not counted
#define S_ZMQ_POLL_MS 10                //  receive timeout between checks

typedef struct {
    size_t size;                //  payload bytes, >= 8
    int hwm;                    //  SNDHWM and RCVHWM
    void *ctx;                  //  the bench's context
    char transport [8];         //  "inproc", "ipc" or "tcp"
    char stem [200];            //  inproc name or ipc path, without suffix
    char ep_ab [256];           //  endpoint A binds: PUB A->B
    char ep_ba [256];           //  endpoint B binds: PUB B->A
    _Atomic int a_bound;        //  ep_ab is set
    _Atomic int b_bound;        //  ep_ba is set
    _Atomic int b_ready;        //  B's SUB is connected and subscribed
    _Atomic int joined;         //  B received a probe
    _Atomic int done;           //  throughput: A stopped sending
    _Atomic int b_finished;     //  throughput: B counted everything
    _Atomic uint64_t sent;      //  throughput: messages A sent
    uint64_t start;             //  throughput: stamp before the first send
    uint64_t end;               //  throughput: stamp of B's last message
    uint64_t received;          //  throughput: messages B got
    uint64_t lost;              //  throughput: gaps in B's sequence
    uint64_t disorder;          //  throughput: sequence went backwards
} s_zmq_arg_t;

static void *
s_zmq_socket (bench_pair_t *pair, int type)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    void *socket = zmq_socket (arg->ctx, type);
    if (!socket) {
        bench_fail (pair, "zmq_socket: %s", zmq_strerror (zmq_errno ()));
        return NULL;
    }
    int linger = 0, timeout = S_ZMQ_POLL_MS;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &arg->hwm, sizeof arg->hwm);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &arg->hwm, sizeof arg->hwm);
    zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return socket;
}

//  A PUB bound to this transport; its endpoint goes to `endpoint`.
static void *
s_zmq_pub (bench_pair_t *pair, const char *suffix, char *endpoint, size_t size)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    void *pub = s_zmq_socket (pair, ZMQ_PUB);
    if (!pub)
        return NULL;
    char wanted [300];
    if (strcmp (arg->transport, "tcp") == 0)
        snprintf (wanted, sizeof wanted, "tcp://127.0.0.1:*");
    else
        snprintf (wanted, sizeof wanted, "%s://%s-%s", arg->transport, arg->stem, suffix);
    size_t length = size;
    if (zmq_bind (pub, wanted)
    ||  zmq_getsockopt (pub, ZMQ_LAST_ENDPOINT, endpoint, &length)) {
        bench_fail (pair, "zmq_bind %s: %s", wanted, zmq_strerror (zmq_errno ()));
        zmq_close (pub);
        return NULL;
    }
    return pub;
}

static void *
s_zmq_sub (bench_pair_t *pair, const char *endpoint)
{
    void *sub = s_zmq_socket (pair, ZMQ_SUB);
    if (!sub)
        return NULL;
    if (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0) || zmq_connect (sub, endpoint)) {
        bench_fail (pair, "zmq_connect %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zmq_close (sub);
        return NULL;
    }
    return sub;
}

//  Send probes until one comes back on `sub` (or, with sub NULL, until B
//  says it received one).  Returns 0 or -1.
static int
s_zmq_join (bench_pair_t *pair, void *pub, void *sub)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    uint64_t deadline = bench_mono_ns () + BENCH_TIMEOUT_MS * 1000000ULL;
    unsigned char *probe = (unsigned char *) calloc (1, arg->size);
    if (!probe)
        return bench_fail (pair, "out of memory");
    uint64_t seq = S_ZMQ_PROBE;
    memcpy (probe, &seq, sizeof seq);
    int rc = -1;
    while (bench_mono_ns () < deadline) {
        zmq_send (pub, probe, arg->size, ZMQ_DONTWAIT);
        if (sub) {
            zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 1) == 1) {
                rc = 0;
                break;
            }
        }
        else {
            //  Acquire, from the receiver's release of joined when the
            //  first probe arrived (handshake flags: zshm_bench_priv.h).
            if (atomic_load_explicit (&arg->joined, memory_order_acquire)) {
                rc = 0;
                break;
            }
            struct timespec pause = { 0, 500000 };
            nanosleep (&pause, NULL);
        }
        if (atomic_load (&pair->control->b_state) < 0)
            break;
    }
    free (probe);
    return rc ? bench_fail (pair, "the subscriber never joined") : 0;
}

static int
s_zmq_ping (bench_pair_t *pair)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    bench_t *bench = pair->bench;
    void *pub = NULL, *sub = NULL;
    int rc = -1;
    unsigned char *out = (unsigned char *) calloc (1, arg->size);
    unsigned char *in = (unsigned char *) calloc (1, arg->size);
    if (!out || !in) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (!(pub = s_zmq_pub (pair, "ab", arg->ep_ab, sizeof arg->ep_ab)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->a_bound, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_bound, 1, "the echo side")
    ||  !(sub = s_zmq_sub (pair, arg->ep_ba))
    ||  s_zmq_join (pair, pub, sub))
        goto done;

    bench_lat_t lat;
    bench_lat_start (bench, &lat);
    for (uint64_t count = 0; bench_lat_more (bench, &lat); count++) {
        bench_put64 (out, count);
        uint64_t begin = bench_stamp_begin ();
        if (zmq_send (pub, out, arg->size, 0) < 0) {
            bench_fail (pair, "zmq_send: %s", zmq_strerror (zmq_errno ()));
            goto done;
        }
        //  Late echoes of the probes are skipped: only ours counts.
        uint64_t deadline = 0;
        for (;;) {
            int size = zmq_recv (sub, in, arg->size, 0);
            if (size >= 8 && bench_get64 (in) == count)
                break;
            if (size < 0 && zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
                bench_fail (pair, "zmq_recv: %s", zmq_strerror (zmq_errno ()));
                goto done;
            }
            if (size < 0) {
                uint64_t now = bench_mono_ns ();
                if (!deadline)
                    deadline = now + BENCH_TIMEOUT_MS * 1000000ULL;
                else
                if (now > deadline) {
                    bench_fail (pair, "no echo of %" PRIu64, count);
                    goto done;
                }
            }
        }
        bench_lat_add (bench, &lat, begin, bench_stamp_end ());
    }
    rc = bench_lat_finish (bench, pair->row);
    bench_put64 (out, BENCH_QUIT);
    zmq_send (pub, out, arg->size, 0);
done:
    if (sub)
        zmq_close (sub);
    if (pub)
        zmq_close (pub);
    free (out);
    free (in);
    return rc;
}

//  zmq_recv and zmq_send as bench_echo wants them.
static int
s_zmq_recv_payload (void *socket, void *buf, size_t max)
{
    int size = zmq_recv (socket, buf, max, 0);
    return size < 0 ? -1 : (size_t) size < max ? size : (int) max;
}

static int
s_zmq_send_payload (void *socket, const void *data, size_t size)
{
    return zmq_send (socket, data, size, 0) < 0 ? -1 : 0;
}

static int
s_zmq_pong (bench_pair_t *pair)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    void *pub = NULL, *sub = NULL;
    int rc = -1;
    if (!(pub = s_zmq_pub (pair, "ba", arg->ep_ba, sizeof arg->ep_ba)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_bound, 1, memory_order_release);
    if (bench_wait (pair, &arg->a_bound, 1, "the ping side")
    ||  !(sub = s_zmq_sub (pair, arg->ep_ab)))
        goto done;
    rc = bench_echo (pair, sub, s_zmq_recv_payload, pub, s_zmq_send_payload, arg->size);
done:
    if (sub)
        zmq_close (sub);
    if (pub)
        zmq_close (pub);
    return rc;
}

static int
s_zmq_write (bench_pair_t *pair)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    void *pub = NULL;
    int rc = -1;
    unsigned char *out = (unsigned char *) calloc (1, arg->size);
    if (!out) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    memset (out, 0x5a, arg->size);
    if (!(pub = s_zmq_pub (pair, "ab", arg->ep_ab, sizeof arg->ep_ab)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->a_bound, 1, memory_order_release);
    if (bench_wait (pair, &arg->b_ready, 1, "the subscriber")
    ||  s_zmq_join (pair, pub, NULL))
        goto done;
    uint64_t seq = 0;
    arg->start = bench_now ();
    uint64_t deadline = arg->start + bench_ms_ticks (pair->bench->duration_ms);
    do {
        for (int index = 0; index < 64; index++, seq++) {
            bench_put64 (out, seq);
            if (zmq_send (pub, out, arg->size, 0) < 0) {
                bench_fail (pair, "zmq_send: %s", zmq_strerror (zmq_errno ()));
                goto done;
            }
        }
    } while (bench_now () < deadline);
    atomic_store_explicit (&arg->sent, seq, memory_order_relaxed);
    //  Release: `sent` above is final; the receiver's acquire of done
    //  below reads it (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->done, 1, memory_order_release);
    //  Closing the PUB now would throw away what is still queued for the
    //  SUB; keep it open until the SUB has counted everything.
    rc = bench_wait (pair, &arg->b_finished, 1, "the subscriber to finish");
done:
    if (pub)
        zmq_close (pub);
    free (out);
    return rc;
}

static int
s_zmq_read (bench_pair_t *pair)
{
    s_zmq_arg_t *arg = (s_zmq_arg_t *) pair->arg;
    void *sub = NULL;
    int rc = -1;
    unsigned char *buf = (unsigned char *) calloc (1, arg->size);
    if (!buf) {
        bench_fail (pair, "out of memory");
        goto done;
    }
    if (bench_wait (pair, &arg->a_bound, 1, "the publisher")
    ||  !(sub = s_zmq_sub (pair, arg->ep_ab)))
        goto done;
    //  Release, to the partner's bench_wait (handshake flags: zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_ready, 1, memory_order_release);
    uint64_t expected = 0, received = 0, lost = 0, disorder = 0, last = 0;
    for (;;) {
        int size = zmq_recv (sub, buf, arg->size, 0);
        if (size < 0) {
            if (zmq_errno () != EAGAIN && zmq_errno () != EINTR) {
                bench_fail (pair, "zmq_recv: %s", zmq_strerror (zmq_errno ()));
                goto done;
            }
            //  S_ZMQ_POLL_MS of silence after the writer stopped: the
            //  rest was dropped.
            if (atomic_load_explicit (&arg->done, memory_order_acquire))
                break;
            if (bench_stopping (pair)) {
                bench_fail (pair, "stopped before the publisher finished");
                goto done;
            }
            continue;
        }
        if (size < 8)
            continue;
        uint64_t seq = bench_get64 (buf);
        if (seq == S_ZMQ_PROBE) {
            //  Release, to the sender's acquire of joined.
            atomic_store_explicit (&arg->joined, 1, memory_order_release);
            continue;
        }
        last = bench_now ();
        received++;
        if (seq >= expected) {
            lost += seq - expected;
            expected = seq + 1;
        }
        else
            disorder++;
        //  Acquire, from the sender's release of done: `sent` is final.
        if (atomic_load_explicit (&arg->done, memory_order_acquire)
        &&  expected >= atomic_load_explicit (&arg->sent, memory_order_relaxed))
            break;
    }
    uint64_t sent = atomic_load_explicit (&arg->sent, memory_order_relaxed);
    if (expected < sent)
        lost += sent - expected;        //  the tail was dropped
    arg->end = last ? last : bench_now ();
    arg->received = received;
    arg->lost = lost;
    arg->disorder = disorder;
    rc = 0;
done:
    //  Release: the counts above are stored (handshake flags:
    //  zshm_bench_priv.h).
    atomic_store_explicit (&arg->b_finished, 1, memory_order_release);
    if (sub)
        zmq_close (sub);
    free (buf);
    return rc;
}

static void
s_zmq_arg_init (bench_t *bench, bench_row_t *row, const char *transport, s_zmq_arg_t *arg)
{
    memset (arg, 0, sizeof *arg);
    arg->size = row->size;
    arg->hwm = bench->zmq_hwm;
    arg->ctx = bench->zmq_ctx;
    snprintf (arg->transport, sizeof arg->transport, "%s", transport);
    unsigned serial = bench->serial++;
    if (strcmp (transport, "ipc") == 0) {
        const char *dir = getenv ("TMPDIR");
        snprintf (arg->stem, sizeof arg->stem, "%s/zshm-bench-%d-%u",
                  dir && *dir ? dir : "/tmp", (int) getpid (), serial);
        char path [256];
        snprintf (path, sizeof path, "%s-ab", arg->stem);
        bench_cleanup_file (0, path);
        snprintf (path, sizeof path, "%s-ba", arg->stem);
        bench_cleanup_file (1, path);
    }
    else
        snprintf (arg->stem, sizeof arg->stem, "zshm-bench-%d-%u", (int) getpid (), serial);
}

static void
s_zmq_arg_unlink (s_zmq_arg_t *arg)
{
    //  libzmq removes its ipc files on close; this covers a failed run.
    if (strcmp (arg->transport, "ipc") == 0)
        bench_cleanup_now ();
    bench_cleanup_forget ();
}

static int
s_zmq_row (bench_t *bench, bench_row_t *row, const char *transport)
{
    if (!bench->zmq_ctx)
        return bench_row_fail (row, "no zmq context");
    s_zmq_arg_t arg;
    s_zmq_arg_init (bench, row, transport, &arg);
    int rc = bench_pair_run (bench, row, BENCH_THREADS, s_zmq_ping, s_zmq_pong, &arg, sizeof arg);
    s_zmq_arg_unlink (&arg);
    if (rc == 0) {
        s_zmq_arg_init (bench, row, transport, &arg);
        rc = bench_pair_run (bench, row, BENCH_THREADS, s_zmq_write, s_zmq_read, &arg, sizeof arg);
        s_zmq_arg_unlink (&arg);
        if (rc == 0) {
            bench_throughput_set (row, arg.sent, arg.received, arg.lost, arg.end - arg.start,
                                  0);
            if (arg.disorder)
                rc = bench_row_fail (row, "%" PRIu64 " messages out of order", arg.disorder);
        }
    }
    return rc;
}

static int
s_zmq_inproc (bench_t *bench, bench_row_t *row)
{
    return s_zmq_row (bench, row, "inproc");
}

static int
s_zmq_ipc (bench_t *bench, bench_row_t *row)
{
    return s_zmq_row (bench, row, "ipc");
}

static int
s_zmq_tcp (bench_t *bench, bench_row_t *row)
{
    return s_zmq_row (bench, row, "tcp");
}

//  --------------------------------------------------------------------------
//  The scenarios, in table order.  The first is the limit every other row
//  is compared to; it always runs.

static const bench_scenario_t s_scenarios [] = {
    { BENCH_LIMIT_NAME, "two threads bounce a counter between two cache lines",
      false, s_limit },
    { "ring-thread",    "zshm ring on the heap, between two threads", true, s_ring_thread },
    { "ring-process",   "zshm ring in shared memory, between two processes", true,
      s_ring_process },
    { "pubsub-thread",  "zshm_pub/zshm_sub (shm://, idle=spin), between two threads", true,
      bench_pubsub_thread },
    { "pubsub-process", "zshm_pub/zshm_sub (shm://, idle=spin), between two processes", true,
      bench_pubsub_process },
    { "proto-raw",      "one-way, paced: zshm_pub_send of bytes sized as a packed Tick",
      false, bench_proto_raw },
    { "proto-zshm",     "one-way, paced: zshm_pub_send_proto + zshm_sub_recv_proto, Tick",
      false, bench_proto_zshm },
    { "proto-pbc",      "one-way, paced: protobuf-c pack + send, unpack (malloc) + free",
      false, bench_proto_pbc },
    { "zmq-inproc",     "libzmq PUB/SUB over inproc, between two threads", true, s_zmq_inproc },
    { "actor",          "zshm_publisher/zshm_subscriber actors (zactor pipes), threads", true,
      bench_actor },
    { BENCH_IPC_NAME,   "libzmq PUB/SUB over ipc, between two threads", true, s_zmq_ipc },
    { "block",          "one-way wake-up of an idle=block subscriber, 200-1000 us apart",
      false, bench_block },
    { "zmq-tcp",        "libzmq PUB/SUB over tcp 127.0.0.1, between two threads", true,
      s_zmq_tcp },
    { "zmq-tcp-oneway", "one-way, one in flight: libzmq PUB/SUB over tcp 127.0.0.1", true,
      bench_zmq_tcp_oneway },
    { "bridge",         "one-way, one in flight: ring, zshm_bridge, tcp, zshm_bridge, ring",
      true, bench_bridge },
};

#define S_SCENARIOS (sizeof s_scenarios / sizeof s_scenarios [0])

//  --------------------------------------------------------------------------
//  Command line

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: zshm bench [OPTIONS]\n"
"\n"
"Measure zshm against libzmq PUB/SUB on this machine, in one run, with side A\n"
"(pinger, writer, or the timing receiver) pinned to one CPU and side B to\n"
"another.  Rows:\n");
    for (size_t index = 0; index < S_SCENARIOS; index++)
        fprintf (out, "  %-15s %s\n", s_scenarios [index].name, s_scenarios [index].summary);
    fprintf (out,
"For each row (and payload size, for rows run per size):\n"
"  latency     ping-pong, A->B on one channel and B->A on another; one-way =\n"
"              round trip / 2, as p50/p90/p99/p99.9/max over every round trip\n"
"              after the warm-up; the timer's own cost is subtracted.  Rows\n"
"              marked one-way are timed from a stamp B takes before sending to\n"
"              one A takes after receiving, on one clock (TSC or monotonic)\n"
"  throughput  A sends back-to-back for --duration-ms, B receives: received\n"
"              msg/s (first send to B's last message) and lost %% (the ring\n"
"              reader's lost count, or gaps in sequence numbers); rings are\n"
"              --tput-ring-bytes large (the 'slots' column)\n"
"Ring readers and subscribers spin (idle=spin) and receive by copy, except\n"
"where a row says otherwise.  zmq rows use one context whose I/O thread is\n"
"not pinned; actors and bridges run in threads that are not pinned either.\n"
"Ratios: p50/lim and p99.9/lim divide by the limit's p50; 'vs ipc' is\n"
"zmq-ipc's p50 over this p50, and this msg/s over zmq-ipc's, at the same size\n"
"(higher is better).  After the table, the targets of the issues, each row\n"
"against its reference, are reported (never asserted).\n"
"\n"
"options:\n"
"  --cpus A,B        CPUs for side A and B (default: the first two allowed)\n"
"  --duration-ms N   throughput run per row, and cap on a latency run\n"
"                    (default %d; --quick: %d)\n"
"  --iterations N    latency samples recorded per row (default %d;\n"
"                    --quick: %d); at least %d even past the time cap\n"
"  --warmup N        samples not recorded, per row (default %d; --quick: %d)\n"
"  --sizes LIST      payload sizes in bytes, %d to %d (default 8,64,256,1024,4096)\n"
"  --capacity N      ring slots of the latency runs (default %d, as zshm_pub's)\n"
"  --tput-ring-bytes N\n"
"                    bytes of each throughput run's ring, K/M/G suffixes\n"
"                    allowed (default 64M; --quick: 4M): slots = N / slot\n"
"                    stride, rounded down to a power of two, at least %d.  A\n"
"                    small ring is bounded by cache-line transfers between the\n"
"                    writer and a reader close behind it\n"
"  --zmq-hwm N       SNDHWM of every PUB and RCVHWM of every SUB, and the\n"
"                    subscriber actors' HWM (default %d; libzmq's own default\n"
"                    is 1000); PUB drops beyond it\n"
"  --actor-idle NAME how the subscriber actors wait: spin, yield, backoff or\n"
"                    block.  Default: spin (as zshm_sub) with 6 CPUs or more\n"
"                    allowed, else yield: spinning actors compete for the CPUs\n"
"                    the other threads of the path need\n"
"  --bridge-idle NAME\n"
"                    how the serving bridge and the bridged subscriber wait:\n"
"                    block (default, as zshm-bridge), spin, yield or backoff\n"
"  --only LIST       rows to run, by name (the limit always runs)\n"
"  --clock NAME      auto (TSC if invariant, else CLOCK_MONOTONIC), tsc, monotonic\n"
"  --quick           a short run (a few seconds) for smoke tests\n"
"  --json FILE       also write every result as JSON to FILE ('-': stdout, and\n"
"                    the table goes to stderr); one object per row with its\n"
"                    latency (ns), throughput and ratios, null where not\n"
"                    measured, and the targets\n"
"  --csv FILE        also write one CSV line per row and size, after a header\n"
"                    line ('-': stdout, and the table goes to stderr)\n"
"  --plot FILE.svg   draw the latency percentile distribution (p50 to max, log\n"
"                    scales) of zshm's ring and pub/sub against zmq ipc and tcp,\n"
"                    at 64 B (or the first size), with the core-to-core limit\n"
"  --list            list the rows and exit\n"
"  --help            this help\n"
"\n"
"Exits 0 when every row was measured, 1 with a reason on stderr otherwise.\n",
        S_DURATION_MS, S_QUICK_DURATION_MS, S_ITERATIONS, S_QUICK_ITERATIONS,
        BENCH_MIN_SAMPLES, S_WARMUP, S_QUICK_WARMUP, BENCH_SIZE_MIN, BENCH_SIZE_MAX,
        S_CAPACITY, BENCH_TPUT_SLOTS_MIN, S_ZMQ_HWM);
}

//  Parse an unsigned decimal in [min, max].  Returns 0, or -1.
static int
s_parse_u64 (const char *text, uint64_t min, uint64_t max, uint64_t *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = value;
    return 0;
}

//  Parse a byte count: decimal digits and an optional binary suffix K, M
//  or G (KiB, MiB, GiB also), within [min, max].  Returns 0, or -1.
static int
s_parse_bytes (const char *text, uint64_t min, uint64_t max, uint64_t *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno)
        return -1;
    int shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else
    if (*end == 'M' || *end == 'm')
        shift = 20;
    else
    if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift) {
        end++;
        if (strcmp (end, "iB") == 0)
            end += 2;
    }
    if (*end || value > (max >> shift))
        return -1;
    value <<= shift;
    if (value < min)
        return -1;
    *value_p = value;
    return 0;
}

//  Parse a comma list of unsigned decimals in [min, max] into values[].
//  Returns how many, or -1.
static int
s_parse_list (const char *text, uint64_t min, uint64_t max, uint64_t *values, int most)
{
    char copy [512];
    if (!text || strlen (text) >= sizeof copy)
        return -1;
    strcpy (copy, text);
    int count = 0;
    char *saveptr = NULL;
    //  strtok_r would accept empty items silently; count commas ourselves.
    size_t commas = 0;
    for (const char *c = copy; *c; c++)
        commas += *c == ',';
    for (char *item = strtok_r (copy, ",", &saveptr); item; item = strtok_r (NULL, ",", &saveptr)) {
        if (count == most || s_parse_u64 (item, min, max, &values [count]))
            return -1;
        count++;
    }
    return count > 0 && (size_t) count == commas + 1 ? count : -1;
}

static const bench_scenario_t *
s_scenario_find (const char *name, size_t length)
{
    for (size_t index = 0; index < S_SCENARIOS; index++)
        if (strlen (s_scenarios [index].name) == length
        &&  strncmp (s_scenarios [index].name, name, length) == 0)
            return &s_scenarios [index];
    return NULL;
}

//  True if --only selects this scenario (the limit always runs).
static bool
s_selected (bench_t *bench, const bench_scenario_t *scenario)
{
    if (!bench->only || strcmp (scenario->name, BENCH_LIMIT_NAME) == 0)
        return true;
    for (const char *item = bench->only; *item; ) {
        size_t length = strcspn (item, ",");
        if (length == strlen (scenario->name) && strncmp (item, scenario->name, length) == 0)
            return true;
        item += length + (item [length] == ',');
    }
    return false;
}

//  True if a selected row uses CZMQ (actors, bridges).
static bool
s_wants_czmq (bench_t *bench)
{
    for (size_t index = 0; index < S_SCENARIOS; index++)
        if ((s_scenarios [index].run == bench_actor || s_scenarios [index].run == bench_bridge)
        &&  s_selected (bench, &s_scenarios [index]))
            return true;
    return false;
}

//  Check every name in the --only list.  Returns 0, or -1 with a reason.
static int
s_check_only (const char *only, char *reason, size_t size)
{
    if (!*only) {
        snprintf (reason, size, "--only needs a list of rows");
        return -1;
    }
    for (const char *item = only; *item; ) {
        size_t length = strcspn (item, ",");
        if (!s_scenario_find (item, length)) {
            snprintf (reason, size, "unknown row '%.*s' in --only (see --list)",
                      (int) (length > 40 ? 40 : length), item);
            return -1;
        }
        item += length + (item [length] == ',');
    }
    return 0;
}

//  Parse the command line into bench.  Returns 0 to run, 1 after --help or
//  --list, -1 with a reason.
static int
s_parse (bench_t *bench, int argc, char **argv, char *reason, size_t size)
{
    bool set_duration = false, set_iterations = false, set_warmup = false;
    bool set_cpus = false, set_tput = false;
    uint64_t value;
    for (int index = 1; index < argc; index++) {
        char *option = argv [index];
        char *text = NULL;
        char name [32];
        //  --opt=value or --opt value
        const char *equals = strchr (option, '=');
        if (strncmp (option, "--", 2) == 0 && equals && (size_t) (equals - option) < sizeof name) {
            snprintf (name, sizeof name, "%.*s", (int) (equals - option), option);
            text = (char *) equals + 1;
        }
        else
            snprintf (name, sizeof name, "%.31s", option);
        bool takes_value = strcmp (name, "--cpus") == 0 || strcmp (name, "--duration-ms") == 0
                        || strcmp (name, "--iterations") == 0 || strcmp (name, "--warmup") == 0
                        || strcmp (name, "--sizes") == 0 || strcmp (name, "--capacity") == 0
                        || strcmp (name, "--zmq-hwm") == 0 || strcmp (name, "--only") == 0
                        || strcmp (name, "--clock") == 0 || strcmp (name, "--json") == 0
                        || strcmp (name, "--csv") == 0 || strcmp (name, "--plot") == 0
                        || strcmp (name, "--tput-ring-bytes") == 0
                        || strcmp (name, "--actor-idle") == 0
                        || strcmp (name, "--bridge-idle") == 0;
        if (takes_value && !text) {
            if (index + 1 >= argc) {
                snprintf (reason, size, "%s needs a value", name);
                return -1;
            }
            text = argv [++index];
        }
        else
        if (!takes_value && text) {
            snprintf (reason, size, "%s takes no value", name);
            return -1;
        }
        if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0) {
            s_usage (stdout);
            return 1;
        }
        else
        if (strcmp (name, "--list") == 0) {
            for (size_t item = 0; item < S_SCENARIOS; item++)
                printf ("%-15s %s\n", s_scenarios [item].name, s_scenarios [item].summary);
            return 1;
        }
        else
        if (strcmp (name, "--quick") == 0)
            bench->quick = true;
        else
        if (strcmp (name, "--cpus") == 0) {
            uint64_t cpus [2];
            if (s_parse_list (text, 0, CPU_SETSIZE - 1, cpus, 2) != 2) {
                snprintf (reason, size, "--cpus wants two CPU numbers, like 0,1");
                return -1;
            }
            bench->cpu_a = (int) cpus [0];
            bench->cpu_b = (int) cpus [1];
            set_cpus = true;
        }
        else
        if (strcmp (name, "--duration-ms") == 0) {
            if (s_parse_u64 (text, 1, 3600000, &bench->duration_ms)) {
                snprintf (reason, size, "--duration-ms wants 1 to 3600000");
                return -1;
            }
            set_duration = true;
        }
        else
        if (strcmp (name, "--iterations") == 0) {
            if (s_parse_u64 (text, 1, 100000000, &bench->iterations)) {
                snprintf (reason, size, "--iterations wants 1 to 100000000");
                return -1;
            }
            set_iterations = true;
        }
        else
        if (strcmp (name, "--warmup") == 0) {
            if (s_parse_u64 (text, 0, 100000000, &bench->warmup)) {
                snprintf (reason, size, "--warmup wants 0 to 100000000");
                return -1;
            }
            set_warmup = true;
        }
        else
        if (strcmp (name, "--sizes") == 0) {
            uint64_t sizes [BENCH_SIZES_MAX];
            int count = s_parse_list (text, BENCH_SIZE_MIN, BENCH_SIZE_MAX, sizes, BENCH_SIZES_MAX);
            if (count < 0) {
                snprintf (reason, size, "--sizes wants up to %d sizes from %d to %d, like 8,64",
                          BENCH_SIZES_MAX, BENCH_SIZE_MIN, BENCH_SIZE_MAX);
                return -1;
            }
            for (int item = 0; item < count; item++)
                bench->sizes [item] = (size_t) sizes [item];
            bench->nsizes = count;
        }
        else
        if (strcmp (name, "--capacity") == 0) {
            if (s_parse_u64 (text, 2, 1 << 24, &value)) {
                snprintf (reason, size, "--capacity wants 2 to %d slots", 1 << 24);
                return -1;
            }
            bench->capacity = (size_t) value;
        }
        else
        if (strcmp (name, "--zmq-hwm") == 0) {
            if (s_parse_u64 (text, 0, INT_MAX, &value)) {
                snprintf (reason, size, "--zmq-hwm wants 0 (no limit) to %d", INT_MAX);
                return -1;
            }
            bench->zmq_hwm = (int) value;
        }
        else
        if (strcmp (name, "--only") == 0) {
            if (s_check_only (text, reason, size))
                return -1;
            bench->only = text;
        }
        else
        if (strcmp (name, "--clock") == 0) {
            if (strcmp (text, "auto") && strcmp (text, "tsc") && strcmp (text, "monotonic")) {
                snprintf (reason, size, "--clock wants auto, tsc or monotonic");
                return -1;
            }
            bench->clock_name = text;
        }
        else
        if (strcmp (name, "--json") == 0 || strcmp (name, "--csv") == 0) {
            if (!*text || (*text == '-' && text [1])) {
                snprintf (reason, size, "%s wants a file name, or - for stdout", name);
                return -1;
            }
            if (strcmp (name, "--json") == 0)
                bench->json_path = text;
            else
                bench->csv_path = text;
        }
        else
        if (strcmp (name, "--plot") == 0) {
            size_t length = strlen (text);
            if (length < 5 || *text == '-' || strcmp (text + length - 4, ".svg")) {
                snprintf (reason, size, "--plot wants a file name ending in .svg");
                return -1;
            }
            bench->plot_path = text;
        }
        else
        if (strcmp (name, "--actor-idle") == 0 || strcmp (name, "--bridge-idle") == 0) {
            if (zshm_idle_parse (text, NULL)) {
                snprintf (reason, size, "%s wants spin, yield, backoff or block", name);
                return -1;
            }
            if (strcmp (name, "--actor-idle") == 0)
                bench->actor_idle = text;
            else
                bench->bridge_idle = text;
        }
        else
        if (strcmp (name, "--tput-ring-bytes") == 0) {
            if (s_parse_bytes (text, S_TPUT_BYTES_MIN, S_TPUT_BYTES_MAX, &bench->tput_bytes)) {
                snprintf (reason, size, "--tput-ring-bytes wants 64K to 16G bytes, like 64M");
                return -1;
            }
            set_tput = true;
        }
        else {
            snprintf (reason, size, "unknown option '%.40s' (try 'zshm bench --help')", option);
            return -1;
        }
    }
    if (!set_duration)
        bench->duration_ms = bench->quick ? S_QUICK_DURATION_MS : S_DURATION_MS;
    if (!set_iterations)
        bench->iterations = bench->quick ? S_QUICK_ITERATIONS : S_ITERATIONS;
    if (!set_warmup)
        bench->warmup = bench->quick ? S_QUICK_WARMUP : S_WARMUP;
    if (!set_tput)
        bench->tput_bytes = bench->quick ? S_QUICK_TPUT_BYTES : S_TPUT_BYTES;
    if (bench->json_path && bench->csv_path && strcmp (bench->json_path, "-") == 0
    &&  strcmp (bench->csv_path, "-") == 0) {
        snprintf (reason, size, "--json and --csv cannot both go to stdout");
        return -1;
    }

    //  CPUs: two different ones we are allowed to run on.
    int allowed = CPU_COUNT (&bench->allowed);
    if (!set_cpus) {
        int found = 0;
        for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
            if (CPU_ISSET (cpu, &bench->allowed)) {
                if (found++ == 0)
                    bench->cpu_a = cpu;
                else
                    bench->cpu_b = cpu;
            }
        if (found < 2) {
            snprintf (reason, size, "needs two CPUs, this process may use %d", allowed);
            return -1;
        }
    }
    if (bench->cpu_a == bench->cpu_b) {
        snprintf (reason, size, "--cpus wants two different CPUs");
        return -1;
    }
    if (!CPU_ISSET (bench->cpu_a, &bench->allowed) || !CPU_ISSET (bench->cpu_b, &bench->allowed)) {
        snprintf (reason, size, "CPU %d or %d is not available to this process",
                  bench->cpu_a, bench->cpu_b);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Looking rows up

bench_row_t *
bench_row_find (bench_t *bench, const char *name, size_t size)
{
    for (int index = 0; index < bench->nrows; index++) {
        bench_row_t *row = &bench->rows [index];
        if (strcmp (row->scenario->name, name) == 0 && (!row->scenario->sized || row->size == size))
            return row;
    }
    return NULL;
}

double
bench_limit_ns (bench_t *bench)
{
    bench_row_t *limit = bench_row_find (bench, BENCH_LIMIT_NAME, 0);
    return limit && limit->has_latency ? limit->latency.p50 : 0;
}

//  Figures taken beside other busy processes are not the machine's; the
//  table says so.
double
bench_loadavg (void)
{
    double load = -1;
    FILE *file = fopen ("/proc/loadavg", "r");
    if (file) {
        if (fscanf (file, "%lf", &load) != 1)
            load = -1;
        fclose (file);
    }
    return load;
}

//  The slot stride of a ring, from the ring itself: the bytes two more
//  slots add to a heap ring (the layout stays the library's business).
static size_t
s_slot_stride (size_t slot_size)
{
    zshm_ring_t *small = zshm_ring_new (NULL, 2, slot_size);
    zshm_ring_t *large = zshm_ring_new (NULL, 4, slot_size);
    zshm_ring_info_t small_info, large_info;
    size_t stride = 0;
    if (small && large && zshm_ring_info (small, &small_info) == 0
    &&  zshm_ring_info (large, &large_info) == 0 && large_info.total_size > small_info.total_size)
        stride = (size_t) (large_info.total_size - small_info.total_size) / 2;
    zshm_ring_destroy (&small);
    zshm_ring_destroy (&large);
    return stride ? stride : slot_size + 64;
}

size_t
bench_tput_capacity (bench_t *bench, size_t slot_size)
{
    uint64_t slots = bench->tput_bytes / s_slot_stride (slot_size);
    size_t capacity = BENCH_TPUT_SLOTS_MIN;
    while (capacity * 2 <= slots && capacity < ((size_t) 1 << 30))
        capacity *= 2;
    return capacity;
}

//  --------------------------------------------------------------------------

//  The zmq context of the zmq rows.  A socket is made and closed at once
//  so that libzmq starts its I/O thread now, from this unpinned thread:
//  threads inherit the affinity of their creator, and an I/O thread pinned
//  to side A's CPU would measure contention, not libzmq.
static void *
s_zmq_context (void)
{
    void *ctx = zmq_ctx_new ();
    if (ctx) {
        void *socket = zmq_socket (ctx, ZMQ_PUB);
        if (socket)
            zmq_close (socket);
        else {
            zmq_ctx_term (ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

//  The limit's p50 now, from a short run (a few ms): this host's speed
//  drifts between rows, so each row carries the limit it ran beside.
//  Returns 0 if it could not be measured.
static double
s_limit_now (bench_t *bench)
{
    uint64_t iterations = bench->iterations, warmup = bench->warmup;
    uint64_t duration_ms = bench->duration_ms;
    bench->iterations = iterations < S_ROW_LIMIT_SAMPLES ? iterations : S_ROW_LIMIT_SAMPLES;
    bench->warmup = 100;
    bench->duration_ms = 5;
    bench_row_t row;
    memset (&row, 0, sizeof row);
    s_limit (bench, &row);
    bench->iterations = iterations;
    bench->warmup = warmup;
    bench->duration_ms = duration_ms;
    return row.has_latency ? row.latency.p50 : 0;
}

static void
s_run_row (bench_t *bench, const bench_scenario_t *scenario, size_t size)
{
    if (bench->nrows == BENCH_ROWS_MAX)
        return;
    bench_row_t *row = &bench->rows [bench->nrows++];
    memset (row, 0, sizeof *row);
    row->scenario = scenario;
    row->size = size;
    row->load = bench_loadavg ();
    if (strcmp (scenario->name, BENCH_LIMIT_NAME))
        row->limit_ns = s_limit_now (bench);
    if (bench->progress)
        fprintf (stderr, "\r\033[K  measuring %s %zu B...", scenario->name, size);
    scenario->run (bench, row);
    if (!row->failed && !row->has_latency && !row->has_throughput)
        bench_row_fail (row, "measured nothing");
}

//  The output files, opened before anything is measured so that a bad path
//  fails at once.  "-" is stdout (then the table goes to stderr).
typedef struct {
    FILE *json;                 //  --json, or NULL
    FILE *csv;                  //  --csv, or NULL
    FILE *plot;                 //  --plot, or NULL
    FILE *table;                //  stdout, or stderr
} s_outputs_t;

static int
s_output_open (const char *path, FILE **file_p)
{
    if (!path)
        return 0;
    if (strcmp (path, "-") == 0) {
        *file_p = stdout;
        return 0;
    }
    *file_p = fopen (path, "w");
    if (!*file_p) {
        fprintf (stderr, "zshm bench: cannot write %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

//  Close one output.  Returns 0, or -1 with a reason printed.
static int
s_output_close (const char *path, FILE **file_p)
{
    int rc = 0;
    if (*file_p && *file_p != stdout && fclose (*file_p)) {
        fprintf (stderr, "zshm bench: writing %s: %s\n", path, strerror (errno));
        rc = -1;
    }
    else
    if (*file_p == stdout && fflush (stdout)) {
        fprintf (stderr, "zshm bench: writing stdout: %s\n", strerror (errno));
        rc = -1;
    }
    *file_p = NULL;
    return rc;
}

static void
s_outputs_close (bench_t *bench, s_outputs_t *outputs)
{
    if (outputs->json)
        s_output_close (bench->json_path, &outputs->json);
    if (outputs->csv)
        s_output_close (bench->csv_path, &outputs->csv);
    if (outputs->plot) {
        s_output_close (bench->plot_path, &outputs->plot);
    }
}

int
zshm_bench_main (int argc, char **argv)
{
    bench_t *bench = (bench_t *) calloc (1, sizeof (bench_t));
    if (!bench) {
        fprintf (stderr, "zshm bench: out of memory\n");
        return 1;
    }
    static const size_t default_sizes [] = { 8, 64, 256, 1024, 4096 };
    memcpy (bench->sizes, default_sizes, sizeof default_sizes);
    bench->nsizes = sizeof default_sizes / sizeof default_sizes [0];
    bench->capacity = S_CAPACITY;
    bench->zmq_hwm = S_ZMQ_HWM;
    bench->clock_name = "auto";
    bench->actor_idle = NULL;           //  chosen after the options, below
    bench->bridge_idle = "block";
    if (sched_getaffinity (0, sizeof bench->allowed, &bench->allowed)) {
        fprintf (stderr, "zshm bench: sched_getaffinity: %s\n", strerror (errno));
        free (bench);
        return 1;
    }
    char reason [200];
    int parsed = s_parse (bench, argc, argv, reason, sizeof reason);
    if (parsed) {
        if (parsed < 0)
            fprintf (stderr, "zshm bench: %s\n", reason);
        free (bench);
        return parsed < 0 ? 1 : 0;
    }
    //  Subscriber actors spin where there are CPUs to spare for them, and
    //  yield where they would take the CPUs the rest of the path needs:
    //  with fewer than six, four actor threads and the two sides share
    //  them, and spinning ones stretch every wake-up to a time slice.
    if (!bench->actor_idle)
        bench->actor_idle = CPU_COUNT (&bench->allowed) >= S_ACTOR_SPIN_CPUS ? "spin" : "yield";
    s_outputs_t outputs = { NULL, NULL, NULL, stdout };
    if ((bench->json_path && strcmp (bench->json_path, "-") == 0)
    ||  (bench->csv_path && strcmp (bench->csv_path, "-") == 0))
        outputs.table = stderr;
    if (s_output_open (bench->json_path, &outputs.json)
    ||  s_output_open (bench->csv_path, &outputs.csv)
    ||  s_output_open (bench->plot_path, &outputs.plot)) {
        s_outputs_close (bench, &outputs);
        free (bench);
        return 1;
    }
    if (s_clock_init (bench->clock_name, bench->quick ? 20 : 100)) {
        fprintf (stderr, "zshm bench: no invariant TSC on this machine (try --clock monotonic)\n");
        s_outputs_close (bench, &outputs);
        free (bench);
        return 1;
    }
    bench->samples = (uint64_t *) malloc (bench->iterations * sizeof (uint64_t));
    bench->zmq_ctx = s_zmq_context ();
    if (!bench->samples || !bench->zmq_ctx) {
        fprintf (stderr, "zshm bench: %s\n", bench->samples ? "cannot make a zmq context"
                                                            : "out of memory for samples");
        if (bench->zmq_ctx)
            zmq_ctx_term (bench->zmq_ctx);
        s_outputs_close (bench, &outputs);
        free (bench->samples);
        free (bench);
        return 1;
    }
    bench->progress = isatty (STDERR_FILENO);
    bench->load [0] = bench_loadavg ();
    //  CZMQ (actors, bridges) is started before our handlers are set: it
    //  would otherwise take SIGINT and SIGTERM over.
    if (s_wants_czmq (bench))
        bench_czmq_init ();
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    for (size_t index = 0; index < S_SCENARIOS; index++) {
        const bench_scenario_t *scenario = &s_scenarios [index];
        if (!s_selected (bench, scenario))
            continue;
        if (scenario->sized)
            for (int size = 0; size < bench->nsizes; size++)
                s_run_row (bench, scenario, bench->sizes [size]);
        else
            s_run_row (bench, scenario, BENCH_LINE_SIZE);
    }
    //  This host's speed drifts, sometimes several-fold within minutes: the
    //  limit is measured again at the end, so a change shows.
    if (bench->nrows > 1) {
        bench_row_t *end = &bench->limit_end;
        end->scenario = s_scenario_find (BENCH_LIMIT_NAME, strlen (BENCH_LIMIT_NAME));
        end->size = BENCH_LINE_SIZE;
        end->scenario->run (bench, end);
    }
    if (bench->progress)
        fprintf (stderr, "\r\033[K");
    bench->load [1] = bench_loadavg ();
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);

    bench_print_table (bench, outputs.table);
    int rc = 0;
    if (outputs.json) {
        bench_print_json (bench, outputs.json);
        rc |= s_output_close (bench->json_path, &outputs.json);
    }
    if (outputs.csv) {
        bench_print_csv (bench, outputs.csv);
        rc |= s_output_close (bench->csv_path, &outputs.csv);
    }
    if (outputs.plot) {
        bench_print_svg (bench, outputs.plot);
        rc |= s_output_close (bench->plot_path, &outputs.plot);
    }
    int failed = 0;
    bench_row_t *first = NULL;
    for (int index = 0; index < bench->nrows; index++)
        if (bench->rows [index].failed && failed++ == 0)
            first = &bench->rows [index];
    if (first) {
        fprintf (stderr, "zshm bench: %d of %d rows failed (first: %s %zu B: %s)\n",
                 failed, bench->nrows, first->scenario->name, first->size, first->error);
        rc = 1;
    }
    zmq_ctx_term (bench->zmq_ctx);
    free (bench->samples);
    free (bench);
    return rc ? 1 : 0;
}
