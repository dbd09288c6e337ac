/*  =========================================================================
    zshm_bench_report - what `zshm bench` prints: the table, the targets,
    JSON (--json), CSV (--csv) and the SVG plot (--plot)

    The targets are those the issues set for this machine.  They are
    reported, never asserted: a figure taken on two shared cores says what
    it says, and the table prints the load and the core-to-core limit
    beside it.
    =========================================================================
*/

#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm.h"
#include "zshm_bench_priv.h"

//  --------------------------------------------------------------------------
//  Formatting

const char *
bench_fmt_ns (char *buf, size_t size, double ns)
{
    if (ns < 10000)
        snprintf (buf, size, "%.0f ns", ns);
    else
    if (ns < 10e6)
        snprintf (buf, size, "%.1f us", ns / 1e3);
    else
        snprintf (buf, size, "%.1f ms", ns / 1e6);
    return buf;
}

static const char *
s_fmt_rate (char *buf, size_t size, double rate)
{
    if (rate >= 1e6)
        snprintf (buf, size, "%.2fM", rate / 1e6);
    else
        snprintf (buf, size, "%.0fk", rate / 1e3);
    return buf;
}

//  A ratio in at most 9 characters.
static const char *
s_fmt_ratio (char *buf, size_t size, double ratio)
{
    if (ratio < 100)
        snprintf (buf, size, "%.2f", ratio);
    else
    if (ratio < 1e7)
        snprintf (buf, size, "%.0f", ratio);
    else
        snprintf (buf, size, ">1e7");
    return buf;
}

//  Ring slots in at most 6 characters (binary k and M).
static const char *
s_fmt_slots (char *buf, size_t size, size_t slots)
{
    if (slots >= (1u << 20) && slots % (1u << 20) == 0)
        snprintf (buf, size, "%zuM", slots >> 20);
    else
    if (slots >= 1024 && slots % 1024 == 0)
        snprintf (buf, size, "%zuk", slots >> 10);
    else
        snprintf (buf, size, "%zu", slots);
    return buf;
}

//  The size column: "line" for the limit, bytes otherwise.
static const char *
s_fmt_size (char *buf, size_t size, bench_row_t *row)
{
    if (strcmp (row->scenario->name, BENCH_LIMIT_NAME) == 0)
        snprintf (buf, size, "line");
    else
        snprintf (buf, size, "%zu", row->size);
    return buf;
}

//  --------------------------------------------------------------------------
//  Ratios of a row: to the limit, and to zmq ipc at the same size.  0 when
//  they cannot be computed.

typedef struct {
    double p50_limit;           //  p50 / limit p50
    double p999_limit;          //  p99.9 / limit p50
    double ipc_latency;         //  zmq-ipc p50 / p50
    double ipc_rate;            //  rate / zmq-ipc rate
} s_ratios_t;

static s_ratios_t
s_ratios (bench_t *bench, bench_row_t *row)
{
    s_ratios_t ratios = { 0, 0, 0, 0 };
    //  Over the limit measured beside the row, else the run's.
    double limit = row->limit_ns > 0 ? row->limit_ns : bench_limit_ns (bench);
    if (row->has_latency && limit > 0) {
        ratios.p50_limit = row->latency.p50 / limit;
        ratios.p999_limit = row->latency.p999 / limit;
    }
    bench_row_t *ipc = row->scenario->sized ? bench_row_find (bench, BENCH_IPC_NAME, row->size)
                                            : NULL;
    if (ipc && ipc->has_latency && row->has_latency && row->latency.p50 > 0)
        ratios.ipc_latency = ipc->latency.p50 / row->latency.p50;
    if (ipc && ipc->has_throughput && row->has_throughput && ipc->throughput.rate > 0)
        ratios.ipc_rate = row->throughput.rate / ipc->throughput.rate;
    return ratios;
}

//  --------------------------------------------------------------------------
//  Targets: a row against a reference row, at each size both were measured
//  (or at the row's one size, for rows not run per size).

typedef enum {
    S_P50_RATIO,                //  row p50 / reference p50 <= limit
    S_P50_BELOW,                //  row p50 / reference p50 < limit
    S_P50_ADDED,                //  row p50 - reference p50 <= limit (ns)
    S_RATE_RATIO,               //  row msg/s / reference msg/s >= limit
    S_P50_INFO                  //  row p50 / reference p50, no target
} s_measure_t;

typedef struct {
    const char *what;           //  the target, as the table states it
    const char *row;            //  the row measured
    const char *reference;      //  the row it is held against
    s_measure_t measure;        //  how
    double limit;               //  the target's number
    const char *key;            //  short name in JSON
} s_target_t;

static const s_target_t s_targets [] = {
    { "pub/sub one-way p50 within 1.5x the ring's (threads)",
      "pubsub-thread", "ring-thread", S_P50_RATIO, 1.5, "pubsub_thread_vs_ring" },
    { "pub/sub one-way p50 within 1.5x the ring's (processes)",
      "pubsub-process", "ring-process", S_P50_RATIO, 1.5, "pubsub_process_vs_ring" },
    { "actor p50 no worse than zmq inproc's",
      "actor", "zmq-inproc", S_P50_RATIO, 1.0, "actor_vs_zmq_inproc" },
    { "block wake-up p50 below zmq ipc's p50",
      "block", BENCH_IPC_NAME, S_P50_BELOW, 1.0, "block_vs_zmq_ipc" },
    { "protobuf Tick via zshm within 1.5x raw bytes (p50)",
      "proto-zshm", "proto-raw", S_P50_RATIO, 1.5, "proto_zshm_vs_raw" },
    { "protobuf-c's default path against raw bytes (p50, for reference)",
      "proto-pbc", "proto-raw", S_P50_INFO, 0, "proto_pbc_vs_raw" },
    { "bridge throughput at least 0.9x raw zmq tcp",
      "bridge", "zmq-tcp", S_RATE_RATIO, 0.9, "bridge_vs_zmq_tcp_rate" },
    { "bridge p50 at most 5 us over raw zmq tcp (both one-way)",
      "bridge", "zmq-tcp-oneway", S_P50_ADDED, 5000, "bridge_vs_zmq_tcp_p50" },
};

#define S_TARGETS (sizeof s_targets / sizeof s_targets [0])

//  One comparison.
typedef struct {
    size_t size;                //  the row's size
    double value;               //  ratio, or ns added
    bool met;                   //  the target holds
    double limits [2];          //  the limit beside the row and the reference
    bool drifted;               //  they differ by more than S_DRIFT
} s_result_t;

//  Limits beside two rows further apart than this: the machine's speed
//  changed between them, and their ratio says less.
#define S_DRIFT 1.5

//  Compare at every size.  Returns how many results went into results[].
static int
s_target_results (bench_t *bench, const s_target_t *target, s_result_t *results, int most)
{
    int count = 0;
    for (int index = 0; index < bench->nrows && count < most; index++) {
        bench_row_t *row = &bench->rows [index];
        if (strcmp (row->scenario->name, target->row) || row->failed)
            continue;
        //  A row not run per size is held against the reference at its size.
        bench_row_t *reference = bench_row_find (bench, target->reference, row->size);
        if (!reference || reference->failed)
            continue;
        s_result_t *result = &results [count];
        result->size = row->size;
        result->limits [0] = row->limit_ns;
        result->limits [1] = reference->limit_ns;
        result->drifted = row->limit_ns > 0 && reference->limit_ns > 0
                       && (row->limit_ns > S_DRIFT * reference->limit_ns
                       ||  reference->limit_ns > S_DRIFT * row->limit_ns);
        if (target->measure == S_RATE_RATIO) {
            if (!row->has_throughput || !reference->has_throughput
            ||  reference->throughput.rate <= 0)
                continue;
            result->value = row->throughput.rate / reference->throughput.rate;
            result->met = result->value >= target->limit;
        }
        else {
            if (!row->has_latency || !reference->has_latency || reference->latency.p50 <= 0)
                continue;
            if (target->measure == S_P50_ADDED) {
                result->value = row->latency.p50 - reference->latency.p50;
                result->met = result->value <= target->limit;
            }
            else {
                result->value = row->latency.p50 / reference->latency.p50;
                result->met = target->measure == S_P50_BELOW ? result->value < target->limit
                            : result->value <= target->limit;
            }
        }
        count++;
    }
    return count;
}

static void
s_print_targets (bench_t *bench, FILE *out)
{
    int drifted = 0;
    fprintf (out, "\ntargets (reported, not asserted; load %.2f before the run, limit p50 %.0f ns):\n",
             bench->load [0], bench_limit_ns (bench));
    for (size_t index = 0; index < S_TARGETS; index++) {
        const s_target_t *target = &s_targets [index];
        s_result_t results [BENCH_SIZES_MAX];
        int count = s_target_results (bench, target, results, BENCH_SIZES_MAX);
        fprintf (out, "  %s:", target->what);
        if (count == 0) {
            fprintf (out, " not measured\n");
            continue;
        }
        int met = 0;
        for (int item = 0; item < count; item++) {
            char value [32];
            if (target->measure == S_P50_ADDED)
                bench_fmt_ns (value, sizeof value, results [item].value);
            else
                snprintf (value, sizeof value, "%.2fx", results [item].value);
            fprintf (out, " %zu B %s%s%s", results [item].size,
                     target->measure == S_P50_ADDED && results [item].value >= 0 ? "+" : "",
                     value, results [item].drifted ? "*" : "");
            met += results [item].met;
            drifted += results [item].drifted;
        }
        if (target->measure == S_P50_INFO)
            fprintf (out, "\n");
        else
        if (met == count)
            fprintf (out, " -- met\n");
        else
            fprintf (out, " -- MISSED at %d of %d size%s\n", count - met, count,
                     count > 1 ? "s" : "");
    }
    if (drifted)
        fprintf (out, "  * the core-to-core limit beside the two rows differed by more than "
                 "%.1fx:\n    the machine's speed changed between them (see limit_ns in the "
                 "JSON or CSV)\n", S_DRIFT);
}

//  --------------------------------------------------------------------------
//  The table

void
bench_print_table (bench_t *bench, FILE *out)
{
    char a [32], b [32], c [48], d [48], e [32], f [16];
    fprintf (out, "zshm bench %d.%d.%d: cpus %d,%d; clock %s",
             ZSHM_VERSION_MAJOR, ZSHM_VERSION_MINOR, ZSHM_VERSION_PATCH,
             bench->cpu_a, bench->cpu_b, bench_clock.tsc ? "tsc" : "monotonic");
    if (bench_clock.tsc)
        fprintf (out, " %.0f MHz", 1e3 / bench_clock.ns_per_tick);
    fprintf (out, " (timer pair %.0f ns, subtracted)%s\n", bench_ticks_ns (bench_clock.overhead),
             bench->quick ? "; QUICK run" : "");
    //  The bench's own two busy sides raise the load by up to 2 while it
    //  runs, so only the load before says whether others were busy.
    fprintf (out, "load average %.2f before, %.2f after (ours included), on %d CPUs%s\n",
             bench->load [0], bench->load [1], CPU_COUNT (&bench->allowed),
             bench->load [0] >= 1 ? ": other work shared the CPUs, figures are disturbed" : "");
    fprintf (out, "latency: up to %" PRIu64 " samples or %" PRIu64 " ms per row after %"
             PRIu64 " warm-up, rings of %zu slots; throughput: %" PRIu64 " ms per row, rings of "
             "%" PRIu64 " MiB (slots: the column); zmq hwm %d\n",
             bench->iterations, bench->duration_ms, bench->warmup, bench->capacity,
             bench->duration_ms, bench->tput_bytes >> 20, bench->zmq_hwm);
    fprintf (out, "waits: ring and pub/sub rows spin; subscriber actors %s; serving bridge "
             "and bridged subscriber %s\n", bench->actor_idle, bench->bridge_idle);
    bench_row_t *limit = bench_row_find (bench, BENCH_LIMIT_NAME, 0);
    if (limit && limit->has_latency)
        fprintf (out, "core-to-core limit (one-way, cpu %d <-> %d): p50 %s, p99.9 %s\n",
                 bench->cpu_a, bench->cpu_b,
                 bench_fmt_ns (a, sizeof a, limit->latency.p50),
                 bench_fmt_ns (b, sizeof b, limit->latency.p999));
    else
        fprintf (out, "core-to-core limit: not measured\n");
    bench_row_t *end = &bench->limit_end;
    if (limit && limit->has_latency && end->has_latency) {
        double change = end->latency.p50 / limit->latency.p50;
        fprintf (out, "measured again after the rows: p50 %s, p99.9 %s%s\n",
                 bench_fmt_ns (a, sizeof a, end->latency.p50),
                 bench_fmt_ns (b, sizeof b, end->latency.p999),
                 change > 1.25 || change < 0.8
                 ? " -- the machine's speed changed during the run; ratios use the first" : "");
    }

    fprintf (out, "\n%-14s %5s %8s %8s %8s %8s %8s %9s %6s %5s %7s %9s %7s %7s\n",
             "row", "size", "p50", "p90", "p99", "p99.9", "max", "msg/s", "lost%", "slots",
             "p50/lim", "p99.9/lim", "vs ipc", "vs ipc");
    fprintf (out, "%-14s %5s %8s %8s %8s %8s %8s %9s %6s %5s %7s %9s %7s %7s\n",
             "", "bytes", "one-way", "", "", "", "", "received", "", "", "", "", "latency",
             "msg/s");
    for (int index = 0; index < bench->nrows; index++) {
        bench_row_t *row = &bench->rows [index];
        fprintf (out, "%-14s %5s", row->scenario->name, s_fmt_size (f, sizeof f, row));
        if (row->has_latency)
            fprintf (out, " %8s %8s %8s %8s %8s",
                     bench_fmt_ns (a, sizeof a, row->latency.p50),
                     bench_fmt_ns (b, sizeof b, row->latency.p90),
                     bench_fmt_ns (c, sizeof c, row->latency.p99),
                     bench_fmt_ns (d, sizeof d, row->latency.p999),
                     bench_fmt_ns (e, sizeof e, row->latency.max));
        else
            fprintf (out, " %8s %8s %8s %8s %8s", "-", "-", "-", "-", "-");
        if (row->has_throughput) {
            fprintf (out, " %9s %6.2f", s_fmt_rate (a, sizeof a, row->throughput.rate),
                     row->throughput.lost_pct);
            if (row->throughput.capacity)
                fprintf (out, " %5s", s_fmt_slots (b, sizeof b, row->throughput.capacity));
            else
                fprintf (out, " %5s", "-");
        }
        else
            fprintf (out, " %9s %6s %5s", "-", "-", "-");
        s_ratios_t ratios = s_ratios (bench, row);
        if (ratios.p50_limit > 0)
            fprintf (out, " %7s %9s", s_fmt_ratio (a, sizeof a, ratios.p50_limit),
                     s_fmt_ratio (b, sizeof b, ratios.p999_limit));
        else
            fprintf (out, " %7s %9s", "-", "-");
        if (ratios.ipc_latency > 0)
            snprintf (c, sizeof c, "%sx", s_fmt_ratio (a, sizeof a, ratios.ipc_latency));
        else
            snprintf (c, sizeof c, "-");
        if (ratios.ipc_rate > 0)
            snprintf (d, sizeof d, "%sx", s_fmt_ratio (b, sizeof b, ratios.ipc_rate));
        else
            snprintf (d, sizeof d, "-");
        fprintf (out, " %7s %7s", c, d);
        if (row->failed)
            fprintf (out, "  FAILED: %s", row->error);
        fprintf (out, "\n");
    }
    fprintf (out, "\none-way = round trip / 2, except rows timed one way (block, proto-*, "
             "zmq-tcp-oneway, bridge): a stamp\nbefore the send to one after the receive, on "
             "one clock; p50/lim, p99.9/lim: over the limit's p50\nmeasured just before the "
             "row (2000 round trips; this host's speed drifts); slots: ring slots of the\n"
             "throughput run; vs ipc: how many times better than zmq-ipc at the same size\n");
    s_print_targets (bench, out);
}

//  --------------------------------------------------------------------------
//  JSON

static void
s_json_string (FILE *out, const char *text)
{
    fputc ('"', out);
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf (out, "\\%c", *c);
        else
        if (*c < 0x20)
            fprintf (out, "\\u%04x", *c);
        else
            fputc (*c, out);
    }
    fputc ('"', out);
}

//  A number, or null when it is 0 (not computed).
static void
s_json_ratio (FILE *out, const char *name, double value, bool last)
{
    if (value > 0)
        fprintf (out, "\"%s\": %.4f%s", name, value, last ? "" : ", ");
    else
        fprintf (out, "\"%s\": null%s", name, last ? "" : ", ");
}

static void
s_json_targets (bench_t *bench, FILE *out)
{
    static const char *measures [] = { "p50_ratio_max", "p50_ratio_below", "p50_added_ns_max",
                                       "rate_ratio_min", "p50_ratio" };
    fprintf (out, "  \"targets\": [\n");
    for (size_t index = 0; index < S_TARGETS; index++) {
        const s_target_t *target = &s_targets [index];
        s_result_t results [BENCH_SIZES_MAX];
        int count = s_target_results (bench, target, results, BENCH_SIZES_MAX);
        fprintf (out, "    {\"name\": \"%s\", \"target\": ", target->key);
        s_json_string (out, target->what);
        fprintf (out, ", \"row\": \"%s\", \"reference\": \"%s\", \"measure\": \"%s\", ",
                 target->row, target->reference, measures [target->measure]);
        if (target->measure == S_P50_INFO)
            fprintf (out, "\"limit\": null, ");
        else
            fprintf (out, "\"limit\": %g, ", target->limit);
        fprintf (out, "\"results\": [");
        int met = 0;
        for (int item = 0; item < count; item++) {
            fprintf (out, "%s{\"size\": %zu, \"value\": %.4f, \"met\": %s, "
                     "\"limits_ns\": [%.2f, %.2f], \"limit_drifted\": %s}",
                     item ? ", " : "", results [item].size, results [item].value,
                     target->measure == S_P50_INFO ? "null"
                     : results [item].met ? "true" : "false",
                     results [item].limits [0], results [item].limits [1],
                     results [item].drifted ? "true" : "false");
            met += results [item].met;
        }
        fprintf (out, "], \"met\": %s}%s\n",
                 count == 0 || target->measure == S_P50_INFO ? "null"
                 : met == count ? "true" : "false",
                 index + 1 < S_TARGETS ? "," : "");
    }
    fprintf (out, "  ],\n");
}

void
bench_print_json (bench_t *bench, FILE *out)
{
    fprintf (out, "{\n  \"tool\": \"zshm bench\",\n  \"version\": \"%d.%d.%d\",\n",
             ZSHM_VERSION_MAJOR, ZSHM_VERSION_MINOR, ZSHM_VERSION_PATCH);
    fprintf (out, "  \"cpus\": [%d, %d],\n", bench->cpu_a, bench->cpu_b);
    fprintf (out, "  \"clock\": \"%s\",\n  \"ns_per_tick\": %.6f,\n",
             bench_clock.tsc ? "tsc" : "monotonic", bench_clock.ns_per_tick);
    fprintf (out, "  \"timer_overhead_ns\": %.2f,\n", bench_ticks_ns (bench_clock.overhead));
    fprintf (out, "  \"load_before\": %.2f,\n  \"load_after\": %.2f,\n",
             bench->load [0], bench->load [1]);
    fprintf (out, "  \"quick\": %s,\n  \"duration_ms\": %" PRIu64 ",\n  \"iterations\": %" PRIu64
             ",\n  \"warmup\": %" PRIu64 ",\n  \"ring_capacity\": %zu,\n"
             "  \"tput_ring_bytes\": %" PRIu64 ",\n  \"zmq_hwm\": %d,\n",
             bench->quick ? "true" : "false", bench->duration_ms, bench->iterations,
             bench->warmup, bench->capacity, bench->tput_bytes, bench->zmq_hwm);
    fprintf (out, "  \"actor_idle\": \"%s\",\n  \"bridge_idle\": \"%s\",\n",
             bench->actor_idle, bench->bridge_idle);
    double limit = bench_limit_ns (bench);
    if (limit > 0)
        fprintf (out, "  \"limit_ns\": %.2f,\n", limit);
    else
        fprintf (out, "  \"limit_ns\": null,\n");
    if (bench->limit_end.has_latency)
        fprintf (out, "  \"limit_end_ns\": %.2f,\n", bench->limit_end.latency.p50);
    else
        fprintf (out, "  \"limit_end_ns\": null,\n");
    s_json_targets (bench, out);
    fprintf (out, "  \"rows\": [\n");
    for (int index = 0; index < bench->nrows; index++) {
        bench_row_t *row = &bench->rows [index];
        fprintf (out, "    {\"name\": \"%s\", \"size\": %zu, \"ok\": %s, \"load\": %.2f, "
                 "\"limit_ns\": ", row->scenario->name, row->size,
                 row->failed ? "false" : "true", row->load);
        if (row->limit_ns > 0)
            fprintf (out, "%.2f, \"error\": ", row->limit_ns);
        else
            fprintf (out, "null, \"error\": ");
        if (row->failed)
            s_json_string (out, row->error);
        else
            fprintf (out, "null");
        fprintf (out, ",\n     \"latency\": ");
        if (row->has_latency) {
            bench_latency_t *latency = &row->latency;
            fprintf (out, "{\"samples\": %" PRIu64 ", \"timed\": \"%s\", \"p50_ns\": %.2f, "
                     "\"p90_ns\": %.2f, \"p99_ns\": %.2f, \"p99_9_ns\": %.2f, \"max_ns\": %.2f, "
                     "\"min_ns\": %.2f, \"mean_ns\": %.2f}",
                     latency->samples, row->one_way ? "one-way" : "round-trip/2",
                     latency->p50, latency->p90, latency->p99,
                     latency->p999, latency->max, latency->min, latency->mean);
        }
        else
            fprintf (out, "null");
        fprintf (out, ",\n     \"throughput\": ");
        if (row->has_throughput) {
            bench_throughput_t *throughput = &row->throughput;
            fprintf (out, "{\"sent\": %" PRIu64 ", \"received\": %" PRIu64 ", \"lost\": %"
                     PRIu64 ", \"seconds\": %.6f, \"msgs_per_sec\": %.1f, \"lost_pct\": %.4f, "
                     "\"ring_slots\": ",
                     throughput->sent, throughput->received, throughput->lost,
                     throughput->seconds, throughput->rate, throughput->lost_pct);
            if (throughput->capacity)
                fprintf (out, "%zu}", throughput->capacity);
            else
                fprintf (out, "null}");
        }
        else
            fprintf (out, "null");
        s_ratios_t ratios = s_ratios (bench, row);
        fprintf (out, ",\n     ");
        s_json_ratio (out, "p50_vs_limit", ratios.p50_limit, false);
        s_json_ratio (out, "p99_9_vs_limit", ratios.p999_limit, false);
        s_json_ratio (out, "latency_vs_zmq_ipc", ratios.ipc_latency, false);
        s_json_ratio (out, "throughput_vs_zmq_ipc", ratios.ipc_rate, true);
        fprintf (out, "}%s\n", index + 1 < bench->nrows ? "," : "");
    }
    fprintf (out, "  ]\n}\n");
}

//  --------------------------------------------------------------------------
//  CSV: a header, then one line per row and size.  Empty fields were not
//  measured.  The error is quoted, with its quotes doubled (RFC 4180).

void
bench_print_csv (bench_t *bench, FILE *out)
{
    fprintf (out, "name,size,ok,timed,samples,p50_ns,p90_ns,p99_ns,p99_9_ns,max_ns,min_ns,"
             "mean_ns,sent,received,lost,msgs_per_sec,lost_pct,ring_slots,p50_vs_limit,"
             "latency_vs_zmq_ipc,throughput_vs_zmq_ipc,limit_ns,load,error\n");
    for (int index = 0; index < bench->nrows; index++) {
        bench_row_t *row = &bench->rows [index];
        double limit = row->limit_ns > 0 ? row->limit_ns : bench_limit_ns (bench);
        fprintf (out, "%s,%zu,%s,", row->scenario->name, row->size, row->failed ? "0" : "1");
        if (row->has_latency) {
            bench_latency_t *latency = &row->latency;
            fprintf (out, "%s,%" PRIu64 ",%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,%.2f,",
                     row->one_way ? "one-way" : "round-trip/2", latency->samples,
                     latency->p50, latency->p90, latency->p99, latency->p999, latency->max,
                     latency->min, latency->mean);
        }
        else
            fprintf (out, ",,,,,,,,,");
        if (row->has_throughput) {
            bench_throughput_t *throughput = &row->throughput;
            fprintf (out, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%.4f,",
                     throughput->sent, throughput->received, throughput->lost,
                     throughput->rate, throughput->lost_pct);
            if (throughput->capacity)
                fprintf (out, "%zu,", throughput->capacity);
            else
                fprintf (out, ",");
        }
        else
            fprintf (out, ",,,,,,");
        s_ratios_t ratios = s_ratios (bench, row);
        double values [] = { ratios.p50_limit, ratios.ipc_latency, ratios.ipc_rate, limit };
        for (size_t item = 0; item < sizeof values / sizeof values [0]; item++)
            if (values [item] > 0)
                fprintf (out, "%.4f,", values [item]);
            else
                fprintf (out, ",");
        fprintf (out, "%.2f,", row->load);
        if (row->failed) {
            fputc ('"', out);
            for (const char *c = row->error; *c; c++) {
                if (*c == '"')
                    fputc ('"', out);
                fputc (*c, out);
            }
            fputc ('"', out);
        }
        fprintf (out, "\n");
    }
}

//  --------------------------------------------------------------------------
//  SVG: one-way latency against percentile, both on log scales, zshm's
//  ring and pub/sub against zmq's ipc and tcp at one size (64 B if it was
//  measured).  x is log10 of 1/(1-p): p50 at 0.3, p90 at 1, p99 at 2,
//  p99.9 at 3, and max a decade further, at 4.  y is log10 of ns, over
//  whole decades.  Hand-written, well-formed XML: each series is a
//  <polyline> with id "series-ROW" and class "series zshm" or "series zmq",
//  its points are <circle>/<rect> markers with <title>s, and the legend
//  names every series.

#define S_SVG_WIDTH     830
#define S_SVG_HEIGHT    500
#define S_SVG_LEFT      90              //  plot area
#define S_SVG_RIGHT     560
#define S_SVG_TOP       78
#define S_SVG_BOTTOM    430
#define S_SVG_X_MIN     0.15            //  log10 (1/(1-p)) at the left edge
#define S_SVG_X_MAX     4.2             //  ... at the right edge
#define S_SVG_POINTS    5

typedef struct {
    const char *name;           //  the row
    const char *family;         //  "zshm" or "zmq"
    const char *colour;         //  stroke and fill
    bench_row_t *row;           //  the row plotted, or NULL
} s_series_t;

static const double s_svg_x [S_SVG_POINTS] = { 0.30103, 1, 2, 3, 4 };
static const char *s_svg_x_label [S_SVG_POINTS] = { "p50", "p90", "p99", "p99.9", "max" };

static void
s_svg_values (bench_row_t *row, double *values)
{
    values [0] = row->latency.p50;
    values [1] = row->latency.p90;
    values [2] = row->latency.p99;
    values [3] = row->latency.p999;
    values [4] = row->latency.max;
    for (int index = 0; index < S_SVG_POINTS; index++)
        if (values [index] < 1)
            values [index] = 1;         //  log scale: 1 ns is the floor
}

static double
s_svg_px (double x)
{
    return S_SVG_LEFT + (x - S_SVG_X_MIN) / (S_SVG_X_MAX - S_SVG_X_MIN)
                      * (S_SVG_RIGHT - S_SVG_LEFT);
}

static double
s_svg_py (double ns, int decade_min, int decade_max)
{
    double y = log10 (ns);
    return S_SVG_BOTTOM - (y - decade_min) / (double) (decade_max - decade_min)
                        * (S_SVG_BOTTOM - S_SVG_TOP);
}

//  "10 ns", "1 µs"... for 10^decade ns.
static const char *
s_svg_decade (char *buf, size_t size, int decade)
{
    static const char *units [] = { "ns", "\xc2\xb5s", "ms", "s" };
    int unit = decade / 3;
    if (unit > 3)
        unit = 3;
    double value = pow (10, decade - unit * 3);
    snprintf (buf, size, "%.0f %s", value, units [unit]);
    return buf;
}

//  A latency for a legend or a title, with µ.
static const char *
s_svg_ns (char *buf, size_t size, double ns)
{
    if (ns < 10000)
        snprintf (buf, size, "%.0f ns", ns);
    else
    if (ns < 10e6)
        snprintf (buf, size, "%.1f \xc2\xb5s", ns / 1e3);
    else
        snprintf (buf, size, "%.1f ms", ns / 1e6);
    return buf;
}

void
bench_print_svg (bench_t *bench, FILE *out)
{
    size_t size = bench->nsizes > 0 ? bench->sizes [0] : 64;
    for (int index = 0; index < bench->nsizes; index++)
        if (bench->sizes [index] == 64)
            size = 64;
    s_series_t series [] = {
        { "ring-process",   "zshm", "#1f5fbf", NULL },
        { "pubsub-process", "zshm", "#2a9d3c", NULL },
        { "zmq-ipc",        "zmq",  "#d62728", NULL },
        { "zmq-tcp",        "zmq",  "#e07b00", NULL },
    };
    //  Threads when the processes were not measured (--only).
    static const char *fallback [] = { "ring-thread", "pubsub-thread", NULL, NULL };
    size_t nseries = sizeof series / sizeof series [0];
    double low = 1e300, high = 0;
    double limit = bench_limit_ns (bench);
    for (size_t index = 0; index < nseries; index++) {
        bench_row_t *row = bench_row_find (bench, series [index].name, size);
        if ((!row || !row->has_latency) && fallback [index]) {
            row = bench_row_find (bench, fallback [index], size);
            if (row)
                series [index].name = fallback [index];
        }
        if (!row || !row->has_latency)
            continue;
        series [index].row = row;
        double values [S_SVG_POINTS];
        s_svg_values (row, values);
        for (int point = 0; point < S_SVG_POINTS; point++) {
            low = values [point] < low ? values [point] : low;
            high = values [point] > high ? values [point] : high;
        }
    }
    if (limit > 0) {
        low = limit < low ? limit : low;
        high = limit > high ? limit : high;
    }
    if (high == 0) {
        low = 10;
        high = 1e6;
    }
    int decade_min = (int) floor (log10 (low < 1 ? 1 : low));
    int decade_max = (int) ceil (log10 (high));
    if (decade_max - decade_min < 2)
        decade_max = decade_min + 2;

    char a [48], b [48], c [48];
    fprintf (out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf (out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
             "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
             S_SVG_WIDTH, S_SVG_HEIGHT, S_SVG_WIDTH, S_SVG_HEIGHT);
    fprintf (out, "<title>zshm vs ZeroMQ: one-way latency by percentile, %zu B messages</title>\n",
             size);
    fprintf (out, "<style>\n"
             "  .title { font-size: 17px; font-weight: bold; }\n"
             "  .subtitle { font-size: 12px; fill: #444; }\n"
             "  .tick { font-size: 12px; fill: #222; }\n"
             "  .axis-label { font-size: 13px; fill: #222; }\n"
             "  .grid { stroke: #ddd; stroke-width: 1; }\n"
             "  .grid-minor { stroke: #f0f0f0; stroke-width: 1; }\n"
             "  .axis { stroke: #222; stroke-width: 1.2; }\n"
             "  .series { fill: none; stroke-width: 2.5; }\n"
             "  .zmq.series { stroke-dasharray: 7 3; }\n"
             "  .limit { stroke: #777; stroke-width: 1.5; stroke-dasharray: 3 3; }\n"
             "  .legend-text { font-size: 12px; fill: #222; }\n"
             "  .legend-head { font-size: 13px; font-weight: bold; fill: #222; }\n"
             "</style>\n");
    fprintf (out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
             S_SVG_WIDTH, S_SVG_HEIGHT);
    fprintf (out, "<text class=\"title\" x=\"%d\" y=\"24\">One-way latency by percentile, "
             "%zu-byte messages: zshm vs ZeroMQ</text>\n", S_SVG_LEFT - 60, size);
    //  The limit measured again after the rows, drawn too when the machine's
    //  speed changed during the run (rows in between ran at either).
    double limit_end = bench->limit_end.has_latency ? bench->limit_end.latency.p50 : 0;
    if (limit > 0 && limit_end > 0 && limit_end / limit < 1.25 && limit_end / limit > 0.8)
        limit_end = 0;
    if (limit_end > 0) {
        low = limit_end < low ? limit_end : low;
        high = limit_end > high ? limit_end : high;
        decade_min = (int) floor (log10 (low < 1 ? 1 : low));
        if (decade_max - decade_min < 2)
            decade_max = decade_min + 2;
    }
    if (limit_end > 0)
        snprintf (b, sizeof b, " at the start, %s at the end", s_svg_ns (c, sizeof c, limit_end));
    else
        b [0] = 0;
    fprintf (out, "<text class=\"subtitle\" x=\"%d\" y=\"46\">core-to-core limit p50 %s%s "
             "(dashed grey line%s)</text>\n", S_SVG_LEFT - 60,
             limit > 0 ? s_svg_ns (a, sizeof a, limit) : "not measured", b, limit_end > 0 ? "s" : "");
    fprintf (out, "<text class=\"subtitle\" x=\"%d\" y=\"63\">cpus %d,%d; load %.2f before "
             "the run%s; lower is better</text>\n", S_SVG_LEFT - 60, bench->cpu_a, bench->cpu_b,
             bench->load [0], bench->quick ? "; QUICK run" : "");

    //  Grid and axes.
    fprintf (out, "<g id=\"grid\">\n");
    for (int decade = decade_min; decade <= decade_max; decade++) {
        double y = s_svg_py (pow (10, decade), decade_min, decade_max);
        fprintf (out, "  <line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
                 S_SVG_LEFT, y, S_SVG_RIGHT, y);
        for (int step = 2; step <= 5 && decade < decade_max; step += 3) {
            double minor = s_svg_py (step * pow (10, decade), decade_min, decade_max);
            fprintf (out, "  <line class=\"grid-minor\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
                     "y2=\"%.1f\"/>\n", S_SVG_LEFT, minor, S_SVG_RIGHT, minor);
        }
    }
    for (int point = 0; point < S_SVG_POINTS; point++) {
        double x = s_svg_px (s_svg_x [point]);
        fprintf (out, "  <line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
                 x, S_SVG_TOP, x, S_SVG_BOTTOM);
    }
    fprintf (out, "</g>\n<g id=\"axes\">\n");
    fprintf (out, "  <line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
             S_SVG_LEFT, S_SVG_BOTTOM, S_SVG_RIGHT, S_SVG_BOTTOM);
    fprintf (out, "  <line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
             S_SVG_LEFT, S_SVG_TOP, S_SVG_LEFT, S_SVG_BOTTOM);
    for (int decade = decade_min; decade <= decade_max; decade++) {
        double y = s_svg_py (pow (10, decade), decade_min, decade_max);
        fprintf (out, "  <text class=\"tick y-tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s"
                 "</text>\n", S_SVG_LEFT - 8, y + 4, s_svg_decade (a, sizeof a, decade));
    }
    for (int point = 0; point < S_SVG_POINTS; point++)
        fprintf (out, "  <text class=\"tick x-tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
                 "%s</text>\n", s_svg_px (s_svg_x [point]), S_SVG_BOTTOM + 20,
                 s_svg_x_label [point]);
    fprintf (out, "  <text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
             "percentile (log scale of 1/(1-p))</text>\n",
             (S_SVG_LEFT + S_SVG_RIGHT) / 2, S_SVG_BOTTOM + 48);
    fprintf (out, "  <text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
             "transform=\"rotate(-90 %d %d)\">one-way latency (log scale)</text>\n",
             24, (S_SVG_TOP + S_SVG_BOTTOM) / 2, 24, (S_SVG_TOP + S_SVG_BOTTOM) / 2);
    fprintf (out, "</g>\n");
    if (limit > 0) {
        //  Each line's label on its outer side, so two lines never cross
        //  each other's labels.
        double y = s_svg_py (limit, decade_min, decade_max);
        double y_end = limit_end > 0 ? s_svg_py (limit_end, decade_min, decade_max) : y;
        fprintf (out, "<g id=\"limit\">\n  <line class=\"limit\" x1=\"%d\" y1=\"%.1f\" "
                 "x2=\"%d\" y2=\"%.1f\"/>\n", S_SVG_LEFT, y, S_SVG_RIGHT, y);
        fprintf (out, "  <text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                 "core-to-core limit%s</text>\n", S_SVG_RIGHT - 4, y_end < y ? y + 15 : y - 5,
                 limit_end > 0 ? " (start)" : "");
        if (limit_end > 0) {
            fprintf (out, "  <line class=\"limit\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
                     "y2=\"%.1f\"/>\n", S_SVG_LEFT, y_end, S_SVG_RIGHT, y_end);
            fprintf (out, "  <text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
                     "core-to-core limit (end)</text>\n", S_SVG_RIGHT - 4,
                     y_end < y ? y_end - 5 : y_end + 15);
        }
        fprintf (out, "</g>\n");
    }

    //  The series.
    for (size_t index = 0; index < nseries; index++) {
        s_series_t *line = &series [index];
        if (!line->row)
            continue;
        double values [S_SVG_POINTS];
        s_svg_values (line->row, values);
        fprintf (out, "<g id=\"group-%s\" class=\"%s\">\n", line->name, line->family);
        fprintf (out, "  <polyline id=\"series-%s\" class=\"series %s\" stroke=\"%s\" points=\"",
                 line->name, line->family, line->colour);
        for (int point = 0; point < S_SVG_POINTS; point++)
            fprintf (out, "%s%.1f,%.1f", point ? " " : "", s_svg_px (s_svg_x [point]),
                     s_svg_py (values [point], decade_min, decade_max));
        fprintf (out, "\"/>\n");
        for (int point = 0; point < S_SVG_POINTS; point++) {
            double x = s_svg_px (s_svg_x [point]);
            double y = s_svg_py (values [point], decade_min, decade_max);
            //  zshm: circles; zmq: squares, so the families differ in grey too.
            if (strcmp (line->family, "zshm") == 0)
                fprintf (out, "  <circle class=\"marker %s\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
                         "fill=\"%s\">", line->family, x, y, line->colour);
            else
                fprintf (out, "  <rect class=\"marker %s\" x=\"%.1f\" y=\"%.1f\" width=\"8\" "
                         "height=\"8\" fill=\"%s\">", line->family, x - 4, y - 4, line->colour);
            fprintf (out, "<title>%s %s: %s</title>", line->name, s_svg_x_label [point],
                     s_svg_ns (a, sizeof a, values [point]));
            fputs (strcmp (line->family, "zshm") == 0 ? "</circle>\n" : "</rect>\n", out);
        }
        fprintf (out, "</g>\n");
    }

    //  The legend, by family.
    fprintf (out, "<g id=\"legend\">\n");
    int y = S_SVG_TOP + 6;
    const char *families [] = { "zshm", "zmq" };
    const char *headings [] = { "zshm (shared memory)", "ZeroMQ (zmq) PUB/SUB" };
    for (int family = 0; family < 2; family++) {
        fprintf (out, "  <text class=\"legend-head\" x=\"%d\" y=\"%d\">%s</text>\n",
                 S_SVG_RIGHT + 24, y, headings [family]);
        y += 22;
        for (size_t index = 0; index < nseries; index++) {
            s_series_t *line = &series [index];
            if (strcmp (line->family, families [family]))
                continue;
            fprintf (out, "  <line class=\"series %s\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                     "stroke=\"%s\"/>\n", line->family, S_SVG_RIGHT + 24, y - 4,
                     S_SVG_RIGHT + 54, y - 4, line->colour);
            if (line->row)
                fprintf (out, "  <text class=\"legend-text %s\" x=\"%d\" y=\"%d\">%s, "
                         "p50 %s</text>\n", line->family, S_SVG_RIGHT + 62, y,
                         line->name, s_svg_ns (b, sizeof b, line->row->latency.p50));
            else
                fprintf (out, "  <text class=\"legend-text %s\" x=\"%d\" y=\"%d\">%s: "
                         "not measured</text>\n", line->family, S_SVG_RIGHT + 62, y,
                         line->name);
            y += 20;
        }
        y += 14;
    }
    //  How far apart the families are at p50, in words a reader keeps.
    bench_row_t *ours = series [0].row ? series [0].row : series [1].row;
    bench_row_t *theirs = series [2].row ? series [2].row : series [3].row;
    if (ours && theirs && ours->latency.p50 > 0)
        fprintf (out, "  <text class=\"legend-text\" x=\"%d\" y=\"%d\">at p50, %s is "
                 "%.0fx faster</text>\n  <text class=\"legend-text\" x=\"%d\" y=\"%d\">"
                 "than %s</text>\n", S_SVG_RIGHT + 24, y, ours->scenario->name,
                 theirs->latency.p50 / ours->latency.p50, S_SVG_RIGHT + 24, y + 18,
                 theirs->scenario->name);
    fprintf (out, "</g>\n</svg>\n");
}
