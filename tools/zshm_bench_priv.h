/*  =========================================================================
    zshm_bench_priv - the core of `zshm bench`, shared by its files (private)

    zshm_bench.c        the clock, the pair runner, latency and throughput
                        bookkeeping, the limit, ring and zmq rows, the
                        command line and main
    zshm_bench_pubsub.c pub/sub, actor, block and proto rows
    zshm_bench_bridge.c bridge rows and the raw zmq tcp one-way row
    zshm_bench_report.c the table, JSON, CSV, targets and the SVG plot

    A scenario is one function of type bench_scenario_fn and one line in
    zshm_bench.c's scenario table; this header declares those of the other
    files.  Everything here is internal to the `zshm` program.
    =========================================================================
*/

#ifndef ZSHM_BENCH_PRIV_H_INCLUDED
#define ZSHM_BENCH_PRIV_H_INCLUDED

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#    include <x86intrin.h>
#    define BENCH_HAVE_TSC 1
#endif

#define BENCH_SIZES_MAX     16          //  payload sizes in one run
#define BENCH_ROWS_MAX      256         //  rows in one run
#define BENCH_SIZE_MIN      8           //  room for a sequence number
#define BENCH_SIZE_MAX      (1 << 20)   //  largest payload we measure
#define BENCH_LINE_SIZE     64          //  the size of rows not run per size
#define BENCH_MIN_SAMPLES   100         //  recorded even past the time cap
#define BENCH_TIMEOUT_MS    5000        //  longest wait for the other side
#define BENCH_ERROR_MAX     160         //  bytes of a failure's reason
#define BENCH_ARG_MAX       (64 * 1024) //  largest scenario argument
#define BENCH_TPUT_SLOTS_MIN 4096       //  fewest slots of a throughput ring

#define BENCH_LIMIT_NAME    "limit"
#define BENCH_IPC_NAME      "zmq-ipc"

//  --------------------------------------------------------------------------
//  Time.  On x86-64 with an invariant TSC we read the TSC (calibrated
//  against CLOCK_MONOTONIC at start-up); elsewhere, or with --clock
//  monotonic, clock_gettime.  What a pair of stamps costs with nothing
//  between them is measured and subtracted from every sample.  The TSC
//  is one clock for every core of the host, so a stamp taken by one side
//  and read by the other (one-way rows) is exact too.

typedef struct {
    bool tsc;                   //  true: TSC ticks; false: monotonic ns
    double ns_per_tick;         //  1 for the monotonic clock
    uint64_t overhead;          //  ticks of a back-to-back stamp pair
} bench_clock_t;

//  Set once before anything is measured; forked sides inherit it.
extern bench_clock_t bench_clock;

static inline uint64_t
bench_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

//  A stamp before the timed code.  The first lfence keeps rdtsc from
//  running ahead of earlier work, the second keeps the timed code from
//  starting before the stamp.
static inline uint64_t
bench_stamp_begin (void)
{
#ifdef BENCH_HAVE_TSC
    if (bench_clock.tsc) {
        _mm_lfence ();
        uint64_t ticks = __rdtsc ();
        _mm_lfence ();
        return ticks;
    }
#endif
    return bench_mono_ns ();
}

//  A stamp after the timed code: rdtscp waits until every earlier
//  instruction (the load that saw the reply) has completed; the lfence
//  keeps later work out of the interval.
static inline uint64_t
bench_stamp_end (void)
{
#ifdef BENCH_HAVE_TSC
    if (bench_clock.tsc) {
        unsigned aux;
        uint64_t ticks = __rdtscp (&aux);
        _mm_lfence ();
        return ticks;
    }
#endif
    return bench_mono_ns ();
}

//  A cheap unfenced stamp for deadlines and rates.
static inline uint64_t
bench_now (void)
{
#ifdef BENCH_HAVE_TSC
    if (bench_clock.tsc)
        return __rdtsc ();
#endif
    return bench_mono_ns ();
}

static inline double
bench_ticks_ns (uint64_t ticks)
{
    return (double) ticks * bench_clock.ns_per_tick;
}

static inline uint64_t
bench_ms_ticks (uint64_t ms)
{
    return (uint64_t) ((double) ms * 1e6 / bench_clock.ns_per_tick);
}

static inline uint64_t
bench_us_ticks (uint64_t us)
{
    return (uint64_t) ((double) us * 1e3 / bench_clock.ns_per_tick);
}

static inline void
bench_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause ();
#endif
}

//  --------------------------------------------------------------------------
//  Rows, scenarios, the bench

typedef struct _bench_t bench_t;
typedef struct _bench_row_t bench_row_t;
typedef int (bench_scenario_fn) (bench_t *bench, bench_row_t *row);

typedef struct {
    const char *name;           //  row name, as --only selects it
    const char *summary;        //  one line for --list
    bool sized;                 //  a row per payload size (else one row)
    bench_scenario_fn *run;     //  measures one row
} bench_scenario_t;

typedef struct {
    uint64_t samples;           //  samples recorded, warm-up excluded
    double p50;                 //  one-way ns
    double p90;                 //  one-way ns
    double p99;                 //  one-way ns
    double p999;                //  one-way ns
    double max;                 //  one-way ns
    double min;                 //  one-way ns
    double mean;                //  one-way ns
} bench_latency_t;

typedef struct {
    uint64_t sent;              //  messages the writer sent
    uint64_t received;          //  messages the reader got
    uint64_t lost;              //  messages the reader missed
    double seconds;             //  from the first send to the reader's end
    double rate;                //  received per second
    double lost_pct;            //  lost / sent, percent
    size_t capacity;            //  slots of the ring(s) carrying it, 0 none
} bench_throughput_t;

struct _bench_row_t {
    const bench_scenario_t *scenario;   //  what is measured
    size_t size;                //  payload bytes
    bool one_way;               //  samples are one-way stamps, not round trips
    bool has_latency;           //  latency was measured
    bool has_throughput;        //  throughput was measured
    bench_latency_t latency;    //  one-way latency
    bench_throughput_t throughput;  //  back-to-back throughput
    double load;                //  1-minute load average as the row began
    double limit_ns;            //  the limit's p50 just before the row, 0 none
    bool failed;                //  a measurement failed
    char error [BENCH_ERROR_MAX];   //  why it failed
};

struct _bench_t {
    int cpu_a;                  //  side A's CPU (pinger, writer)
    int cpu_b;                  //  side B's CPU (echoer, reader)
    cpu_set_t allowed;          //  CPUs we may use, restored after a run
    uint64_t duration_ms;       //  throughput run; cap on a latency run
    uint64_t iterations;        //  latency samples wanted per row
    uint64_t warmup;            //  round trips not recorded per row
    size_t sizes [BENCH_SIZES_MAX]; //  payload sizes, bytes
    int nsizes;                 //  how many
    size_t capacity;            //  ring slots of latency runs
    uint64_t tput_bytes;        //  bytes of a throughput run's ring
    int zmq_hwm;                //  PUB SNDHWM and SUB RCVHWM
    const char *actor_idle;     //  --actor-idle: the subscriber actors' wait
    const char *bridge_idle;    //  --bridge-idle: serving bridge's and far subscriber's
    bool quick;                 //  --quick
    const char *json_path;      //  --json FILE; "-" stdout; NULL none
    const char *csv_path;       //  --csv FILE; "-" stdout; NULL none
    const char *plot_path;      //  --plot FILE.svg; NULL none
    const char *only;           //  --only list; NULL runs everything
    const char *clock_name;     //  --clock: auto, tsc, monotonic
    void *zmq_ctx;              //  libzmq context of the zmq rows
    uint64_t *samples;          //  preallocated samples, ticks
    uint64_t nsamples;          //  recorded in the current row
    unsigned serial;            //  makes channel and endpoint names unique
    bool progress;              //  stderr is a terminal: show progress
    double load [2];            //  1-minute load average before and after
    bench_row_t limit_end;      //  the limit measured again after the rows
    int nrows;                  //  rows measured
    bench_row_t rows [BENCH_ROWS_MAX];  //  results, in table order
};

//  Mark a row failed with a reason (the first reason wins).  Returns -1.
int
    bench_row_fail (bench_row_t *row, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  The row `name` at `size` (any size for rows not run per size), or NULL.
bench_row_t *
    bench_row_find (bench_t *bench, const char *name, size_t size);

//  The limit's p50 in ns, or 0 if it was not measured.
double
    bench_limit_ns (bench_t *bench);

//  The 1-minute load average, -1 if unknown.
double
    bench_loadavg (void);

//  Slots of a throughput run's ring of `slot_size`-byte slots:
//  --tput-ring-bytes over the slot stride, rounded down to a power of two,
//  at least BENCH_TPUT_SLOTS_MIN.
size_t
    bench_tput_capacity (bench_t *bench, size_t slot_size);

//  --------------------------------------------------------------------------
//  Latency: side A times samples into the preallocated array and turns them
//  into percentiles at the end (sorting happens after timing).  A sample is
//  a round trip (halved at the end) unless the row is one_way: then it is
//  the time from a stamp the other side took before sending to one taken
//  after receiving.

typedef struct {
    uint64_t done;              //  samples so far, warm-up included
    uint64_t warmup;            //  samples not recorded (may be changed)
    uint64_t deadline;          //  stamp past which we stop (time cap)
    uint64_t last;              //  end stamp of the last sample
} bench_lat_t;

void
    bench_lat_start (bench_t *bench, bench_lat_t *lat);

//  True while more samples are wanted: until --iterations are recorded or
//  the time is up, and in any case BENCH_MIN_SAMPLES of them.
static inline bool
bench_lat_more (bench_t *bench, bench_lat_t *lat)
{
    if (bench->nsamples >= bench->iterations)
        return false;
    return lat->last < lat->deadline || bench->nsamples < BENCH_MIN_SAMPLES;
}

//  Record one sample, unless it is a warm-up.
static inline void
bench_lat_add (bench_t *bench, bench_lat_t *lat, uint64_t begin, uint64_t end)
{
    lat->last = end;
    if (lat->done++ >= lat->warmup && bench->nsamples < bench->iterations)
        bench->samples [bench->nsamples++] = end > begin ? end - begin : 0;
}

//  Turn the recorded samples into the row's latency.  Returns 0, or -1 if
//  nothing was recorded.
int
    bench_lat_finish (bench_t *bench, bench_row_t *row);

//  Store a throughput run: `ticks` from the first send to the reader's
//  end, over rings of `capacity` slots (0: no ring).
void
    bench_throughput_set (bench_row_t *row, uint64_t sent, uint64_t received, uint64_t lost,
                          uint64_t ticks, size_t capacity);

//  Counting what a throughput reader receives by the gaps in the sequence
//  numbers the writer puts first in each payload (where, as in ZeroMQ,
//  nothing else says what was lost).
typedef struct {
    uint64_t expected;          //  next sequence number
    uint64_t received;          //  messages counted
    uint64_t lost;              //  gaps
    uint64_t disorder;          //  sequence went backwards
    uint64_t last;              //  stamp of the last message
} bench_counter_t;

static inline void
bench_count (bench_counter_t *counter, uint64_t seq)
{
    counter->last = bench_now ();
    counter->received++;
    if (seq >= counter->expected) {
        counter->lost += seq - counter->expected;
        counter->expected = seq + 1;
    }
    else
        counter->disorder++;
}

//  --------------------------------------------------------------------------
//  Pairs: side A in the calling thread on the first CPU, side B on the
//  second, in a thread or a forked process.  Both see one argument struct
//  in a MAP_SHARED mapping.  Side B reports only through that struct (in a
//  forked process nothing else reaches the parent).

typedef enum { BENCH_THREADS, BENCH_PROCESSES } bench_mode_t;

typedef struct {
    _Atomic int stop;           //  side A returned: B must leave
    _Atomic int b_state;        //  0 running, 1 returned 0, -1 failed
    char a_error [BENCH_ERROR_MAX]; //  side A's reason, if it failed
    char b_error [BENCH_ERROR_MAX]; //  side B's reason, if it failed
} bench_control_t;

typedef struct _bench_pair_t bench_pair_t;
typedef int (bench_side_fn) (bench_pair_t *pair);

struct _bench_pair_t {
    bench_t *bench;             //  options; samples (side A only)
    bench_row_t *row;           //  the row measured (side A only)
    bench_mode_t mode;          //  threads or processes
    bench_control_t *control;   //  shared flags and reasons
    void *arg;                  //  the shared argument
    char side;                  //  'A' or 'B'
    bench_side_fn *run;         //  this side's function
};

//  Record this side's failure (the first reason wins).  Returns -1.
int
    bench_fail (bench_pair_t *pair, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  True when side B should give up: side A is done (or gone).
static inline bool
bench_stopping (bench_pair_t *pair)
{
    return pair->side == 'B'
        && atomic_load_explicit (&pair->control->stop, memory_order_relaxed);
}

//  Wait until *flag >= value: a setup handshake.  Returns 0, or -1 with
//  the reason recorded (timeout, partner failed, told to stop).
//
//  Handshake flags in a row's shared argument (..._ready, ..._bound,
//  joined, done, b_finished) are stored with release once the work they
//  announce is done: a ring or socket made, an endpoint written beside
//  the flag, a count (`sent`) stored.  bench_wait, or the partner's own
//  loop, loads them with acquire, so it sees that work too.  Nothing else
//  in the argument is written by both sides at once.
int
    bench_wait (bench_pair_t *pair, _Atomic int *flag, int value, const char *what);

//  Run side_a here and side_b on the other CPU, each with the shared copy
//  of `arg` (arg_size bytes), which is copied back afterwards: that is how
//  results return.  Returns 0, or -1 with the row marked failed.
int
    bench_pair_run (bench_t *bench, bench_row_t *row, bench_mode_t mode,
                    bench_side_fn *side_a, bench_side_fn *side_b, void *arg, size_t arg_size);

//  --------------------------------------------------------------------------
//  Payloads: rows carry a sequence number or a stamp in their first 8
//  bytes, and BENCH_QUIT there tells an echo side to leave.

#define BENCH_QUIT (UINT64_MAX - 1)

static inline uint64_t
bench_get64 (const void *data)
{
    uint64_t value;
    memcpy (&value, data, sizeof value);
    return value;
}

static inline void
bench_put64 (void *data, uint64_t value)
{
    memcpy (data, &value, sizeof value);
}

//  Receive one payload (at most max bytes) from `socket`: its size, or -1
//  with zmq_errno () EAGAIN/EINTR (nothing yet) or another error.
typedef int (bench_recv_fn) (void *socket, void *buf, size_t max);
//  Send one payload to `socket`: 0, or -1.
typedef int (bench_send_fn) (void *socket, const void *data, size_t size);

//  The echo side of a ping-pong: receive each payload from `in` and send it
//  back on `out`, until BENCH_QUIT comes or side A is done.  Returns 0, or
//  -1 with the failure recorded.
int
    bench_echo (bench_pair_t *pair, void *in, bench_recv_fn *recv, void *out,
                bench_send_fn *send, size_t size);

//  --------------------------------------------------------------------------
//  Cleaning up after an interrupted run: channels and ipc files of the row
//  in progress are removed on SIGINT/SIGTERM.  Slots 0 to
//  BENCH_CLEANUP_MAX - 1 each hold one channel and one file.

#define BENCH_CLEANUP_MAX 4

void
    bench_cleanup_channel (int index, const char *name);
void
    bench_cleanup_file (int index, const char *path);
//  Remove what is registered now (channels and files).
void
    bench_cleanup_now (void);
//  Forget what is registered (the row cleaned up itself).
void
    bench_cleanup_forget (void);

//  A channel name unique to this run and row: "bench-PID-SERIAL-SUFFIX".
void
    bench_channel_name (bench_t *bench, char *name, size_t size, const char *suffix);

//  --------------------------------------------------------------------------
//  Scenarios of the other files

//  zshm_bench_pubsub.c
int bench_pubsub_thread (bench_t *bench, bench_row_t *row);
int bench_pubsub_process (bench_t *bench, bench_row_t *row);
int bench_actor (bench_t *bench, bench_row_t *row);
int bench_block (bench_t *bench, bench_row_t *row);
int bench_proto_raw (bench_t *bench, bench_row_t *row);
int bench_proto_zshm (bench_t *bench, bench_row_t *row);
int bench_proto_pbc (bench_t *bench, bench_row_t *row);

//  Start CZMQ from this (unpinned) thread, so that its I/O thread is not
//  pinned, without its signal handlers and with its log silenced (the
//  bench reports failures itself).  Returns 0, or -1.
int
    bench_czmq_init (void);

//  zshm_bench_bridge.c
int bench_zmq_tcp_oneway (bench_t *bench, bench_row_t *row);
int bench_bridge (bench_t *bench, bench_row_t *row);

//  --------------------------------------------------------------------------
//  Output (zshm_bench_report.c)

//  A duration in ns, at a readable scale, into buf.  Returns buf.
const char *
    bench_fmt_ns (char *buf, size_t size, double ns);

//  The table, the targets and the notes.
void
    bench_print_table (bench_t *bench, FILE *out);

//  Every result as one JSON document.
void
    bench_print_json (bench_t *bench, FILE *out);

//  One CSV line per row and size, after a header line.
void
    bench_print_csv (bench_t *bench, FILE *out);

//  The latency percentile distribution of zshm against zmq as SVG.
void
    bench_print_svg (bench_t *bench, FILE *out);

#endif
