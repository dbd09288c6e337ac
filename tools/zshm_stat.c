/*  =========================================================================
    zshm stat - what every zshm channel on this host is doing

    zshm stat [CHANNEL] [--json] [--watch SECONDS]

    Reads the segments directly (zshm_ring_open maps them read-only and
    validates every header field first), so it needs no cooperation from
    the publisher.  For each channel: layout, payload type, writer pid and
    liveness, head sequence and publish rate, and the registered readers
    with their lag.  Files that are not valid segments are listed with the
    reason and never stop the others from being shown.

    The publish rate is the head's progress between two samples: ~150 ms
    apart in a one-shot run, between refreshes with --watch.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zshm.h"
#include "zshm_tools.h"
#include "zshm_toolutil.h"

//  Gap between the two head samples of a one-shot run.
#define S_SAMPLE_MS 150

//  What we learned about one channel file.
typedef struct {
    char *file;                     //  file name in the channel directory
    char *name;                     //  channel name, NULL for a temporary
    bool temp;                      //  a creator's temporary
    pid_t temp_pid;                 //  its creator, 0 if unknown
    bool valid;                     //  opened as a zshm segment
    int error;                      //  why not, when !valid
    const char *kind;               //  not a regular file: what it is, or NULL
    int probe;                      //  zshm_ring_probe: 1 alive, 0 dead, -1 unknown
    zshm_ring_t *ring;              //  open while sampling
    zshm_ring_info_t info;          //  the last sample
    uint64_t head0;                 //  head at the first sample
    uint64_t incarnation0;          //  incarnation at the first sample
    uint64_t time0_ns;              //  monotonic time of the first sample
    bool have_rate;                 //  rate is meaningful
    double rate;                    //  messages per second between samples
    zshm_reader_info_t *readers;    //  registered readers, sampled
    int reader_count;               //  entries in readers
} s_channel_t;

//  What one refresh shows.
typedef struct {
    s_channel_t *channels;          //  sorted by file name
    size_t count;                   //  entries in channels
} s_snapshot_t;

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

static uint64_t
s_monotonic_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zshm stat [CHANNEL] [--json] [--watch SECONDS]\n"
        "\n"
        "Show every zshm channel in %s (or only CHANNEL, given as NAME or\n"
        "shm://NAME): layout, payload type, writer pid and liveness, head\n"
        "sequence, publish rate, and each registered reader's position, lag\n"
        "(head - position), delivered and lost counts.  Files that are not\n"
        "valid segments are listed with the reason; creators' leftover\n"
        "temporaries are listed too.\n"
        "\n"
        "  --json             print one JSON document on one line (a line per\n"
        "                     refresh with --watch)\n"
        "  --watch SECONDS    refresh every SECONDS (> 0, fractions allowed) until\n"
        "                     interrupted; the rate is measured between refreshes\n"
        "  --help             show this help\n"
        "\n"
        "The directory is $ZSHM_DIR when set.  Exit status 0, or 1 with a reason.\n",
        zshm_ring_dir ());
}

static void
s_channel_close (s_channel_t *channel)
{
    if (channel->ring)
        zshm_ring_destroy (&channel->ring);
}

static void
s_snapshot_free (s_snapshot_t *snapshot)
{
    for (size_t index = 0; index < snapshot->count; index++) {
        s_channel_t *channel = &snapshot->channels [index];
        s_channel_close (channel);
        free (channel->file);
        free (channel->name);
        free (channel->readers);
    }
    free (snapshot->channels);
    snapshot->channels = NULL;
    snapshot->count = 0;
}

//  Open a channel and take its first sample.
static void
s_channel_open (s_channel_t *channel)
{
    if (channel->temp)
        return;
    if (!zshm_ring_name_valid (channel->name)) {
        channel->error = EINVAL;
        channel->probe = -1;
        return;
    }
    channel->ring = zshm_ring_open (channel->name);
    if (!channel->ring) {
        channel->error = errno;
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", zshm_ring_dir (), channel->file);
        channel->kind = zshm_tool_file_kind (path);
        //  Whoever holds the lock of an invalid file is alive (a writer of
        //  a newer layout, say); clean uses the same test.
        channel->probe = zshm_ring_probe (channel->name);
        return;
    }
    channel->valid = true;
    zshm_ring_info (channel->ring, &channel->info);
    channel->head0 = channel->info.head;
    channel->incarnation0 = channel->info.incarnation;
    channel->time0_ns = s_monotonic_ns ();
}

//  Second sample: head for the rate, readers.  Closes the ring.
static void
s_channel_sample (s_channel_t *channel, const s_channel_t *previous, bool sampled_twice)
{
    if (!channel->ring)
        return;
    zshm_ring_info (channel->ring, &channel->info);
    uint64_t now_ns = s_monotonic_ns ();
    uint64_t head0 = channel->head0, incarnation0 = channel->incarnation0;
    uint64_t time0_ns = channel->time0_ns;
    if (previous && previous->valid) {
        //  --watch: measure over the whole refresh interval.
        head0 = previous->info.head;
        incarnation0 = previous->info.incarnation;
        time0_ns = previous->time0_ns;
    }
    //  A restarted or replaced writer makes the difference meaningless, and
    //  a channel new to a --watch refresh has had no interval yet.
    if ((sampled_twice || (previous && previous->valid)) && now_ns > time0_ns
    &&  incarnation0 == channel->info.incarnation
    &&  channel->info.head >= head0) {
        channel->have_rate = true;
        channel->rate = (double) (channel->info.head - head0) * 1e9
                      / (double) (now_ns - time0_ns);
    }
    channel->time0_ns = now_ns;

    int registered = zshm_ring_readers (channel->ring, NULL, 0);
    for (int attempt = 0; attempt < 4 && registered > 0; attempt++) {
        int room = registered + 8;      //  readers may join meanwhile
        zshm_reader_info_t *readers = (zshm_reader_info_t *)
            calloc ((size_t) room, sizeof *readers);
        if (!readers)
            break;
        int found = zshm_ring_readers (channel->ring, readers, room);
        if (found <= room) {
            free (channel->readers);
            channel->readers = readers;
            channel->reader_count = found;
            break;
        }
        free (readers);
        registered = found;
    }
    s_channel_close (channel);
}

//  Scan the directory (or take the one channel asked for).  Returns 0, or
//  -1 with a message printed.
static int
s_snapshot_take (s_snapshot_t *snapshot, const char *only, const s_snapshot_t *previous,
                 bool sample_twice)
{
    zshm_scan_entry_t *entries = NULL;
    size_t count = 0;
    if (zshm_scan (&entries, &count)) {
        fprintf (stderr, "zshm stat: cannot read %s: %s\n", zshm_ring_dir (), strerror (errno));
        return -1;
    }
    snapshot->channels = (s_channel_t *) calloc (count ? count : 1, sizeof (s_channel_t));
    snapshot->count = 0;
    if (!snapshot->channels) {
        zshm_scan_free (&entries, count);
        fprintf (stderr, "zshm stat: out of memory\n");
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        zshm_scan_entry_t *entry = &entries [index];
        if (only && (entry->temp || strcmp (entry->name, only) != 0))
            continue;
        s_channel_t *channel = &snapshot->channels [snapshot->count++];
        //  Take the strings over from the scan.
        channel->file = entry->file;
        channel->name = entry->name;
        channel->temp = entry->temp;
        channel->temp_pid = entry->temp_pid;
        entry->file = NULL;
        entry->name = NULL;
        s_channel_open (channel);
    }
    zshm_scan_free (&entries, count);

    if (sample_twice) {
        bool any_open = false;
        for (size_t index = 0; index < snapshot->count; index++)
            any_open |= snapshot->channels [index].ring != NULL;
        if (any_open)
            usleep (S_SAMPLE_MS * 1000);
    }
    for (size_t index = 0; index < snapshot->count; index++) {
        s_channel_t *channel = &snapshot->channels [index];
        const s_channel_t *before = NULL;
        for (size_t other = 0; previous && other < previous->count; other++)
            if (previous->channels [other].name && channel->name
            &&  strcmp (previous->channels [other].name, channel->name) == 0)
                before = &previous->channels [other];
        s_channel_sample (channel, sample_twice ? NULL : before, sample_twice);
    }
    return 0;
}

//  Bytes as a short human figure.
static void
s_human_bytes (char *buffer, size_t size, uint64_t bytes)
{
    const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double value = (double) bytes;
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf (buffer, size, "%llu B", (unsigned long long) bytes);
    else
        snprintf (buffer, size, "%.1f %s", value, units [unit]);
}

static void
s_print_time (FILE *out, uint64_t realtime_ns)
{
    time_t seconds = (time_t) (realtime_ns / 1000000000ULL);
    struct tm tm;
    char buffer [64];
    if (realtime_ns && localtime_r (&seconds, &tm)
    &&  strftime (buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm))
        fputs (buffer, out);
    else
        fputs ("?", out);
}

static const char *
s_probe_text (int probe)
{
    return probe == 1 ? "held by a live process" : probe == 0 ? "no live writer" : "unknown";
}

//  Why a channel file is not a valid segment, in a few words.
static const char *
s_invalid_reason (const s_channel_t *channel)
{
    if (channel->error == EINVAL)
        return "not a valid channel name";
    if (channel->kind && strcmp (channel->kind, "symbolic link") == 0)
        return "symbolic link (refused)";
    if (channel->kind && strcmp (channel->kind, "directory") == 0)
        return "directory";
    if (channel->kind)
        return "not a regular file";
    return strerror (channel->error);
}

static void
s_print_text (FILE *out, const s_snapshot_t *snapshot)
{
    if (snapshot->count == 0) {
        fprintf (out, "no zshm channels in %s\n", zshm_ring_dir ());
        return;
    }
    for (size_t index = 0; index < snapshot->count; index++) {
        const s_channel_t *channel = &snapshot->channels [index];
        if (channel->temp) {
            fputs ("temporary ", out);
            zshm_tool_c_escape (out, channel->file, strlen (channel->file));
            if (channel->temp_pid)
                fprintf (out, ": being created by pid %d (%s)\n", (int) channel->temp_pid,
                         zshm_tool_pid_alive (channel->temp_pid) ? "alive" : "dead, leftover");
            else
                fputs (": unrecognised temporary name\n", out);
            continue;
        }
        //  Names of invalid files can hold anything, escape sequences too.
        zshm_tool_c_escape (out, channel->name, strlen (channel->name));
        fputc ('\n', out);
        if (!channel->valid) {
            if (channel->error == EACCES || channel->error == EPERM)
                fprintf (out, "  unreadable: %s\n", strerror (channel->error));
            else
            if (channel->error == EINVAL || channel->kind)
                fprintf (out, "  invalid: %s\n", s_invalid_reason (channel));
            else
                fprintf (out, "  invalid: %s (writer lock: %s)\n", s_invalid_reason (channel),
                         s_probe_text (channel->probe));
            continue;
        }
        const zshm_ring_info_t *info = &channel->info;
        char total [32], slot [32];
        s_human_bytes (total, sizeof total, info->total_size);
        s_human_bytes (slot, sizeof slot, info->slot_size);
        fprintf (out, "  layout    %llu slots of %s, %s in all\n",
                 (unsigned long long) info->capacity, slot, total);
        fprintf (out, "  type      %s\n", *info->type_name ? info->type_name : "(none recorded)");
        fprintf (out, "  writer    pid %d, %s, incarnation %016llx, %llu takeover%s\n",
                 (int) info->writer_pid, info->writer_alive ? "alive" : "dead",
                 (unsigned long long) info->incarnation, (unsigned long long) info->takeovers,
                 info->takeovers == 1 ? "" : "s");
        fputs ("  created   ", out);
        s_print_time (out, info->created_ns);
        fputs (", writer started ", out);
        s_print_time (out, info->started_ns);
        fputc ('\n', out);
        fprintf (out, "  head      %llu (%llu published)",
                 (unsigned long long) info->head,
                 (unsigned long long) (info->head ? info->head - 1 : 0));
        if (channel->have_rate)
            fprintf (out, ", %.1f msg/s\n", channel->rate);
        else
            fputs (", rate unknown (writer changed or new)\n", out);
        if (channel->reader_count == 0) {
            fputs ("  readers   none registered\n", out);
            continue;
        }
        fprintf (out, "  readers   %d registered\n", channel->reader_count);
        fprintf (out, "    %-8s %-5s %20s %12s %12s %12s\n",
                 "PID", "STATE", "POSITION", "LAG", "DELIVERED", "LOST");
        for (int reader = 0; reader < channel->reader_count; reader++) {
            const zshm_reader_info_t *entry = &channel->readers [reader];
            uint64_t lag = info->head > entry->position ? info->head - entry->position : 0;
            fprintf (out, "    %-8d %-5s %20llu %12llu %12llu %12llu\n",
                     (int) entry->pid, entry->alive ? "alive" : "dead",
                     (unsigned long long) entry->position, (unsigned long long) lag,
                     (unsigned long long) entry->delivered, (unsigned long long) entry->lost);
        }
    }
}

static void
s_print_json (FILE *out, const s_snapshot_t *snapshot)
{
    const char *dir = zshm_ring_dir ();
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    fputs ("{\"dir\":", out);
    zshm_tool_json_string (out, dir, strlen (dir));
    fprintf (out, ",\"time_ns\":%llu,\"channels\":[",
             (unsigned long long) now.tv_sec * 1000000000ULL + (unsigned long long) now.tv_nsec);
    bool first = true;
    for (size_t index = 0; index < snapshot->count; index++) {
        const s_channel_t *channel = &snapshot->channels [index];
        if (channel->temp)
            continue;
        fputs (first ? "{" : ",{", out);
        first = false;
        fputs ("\"name\":", out);
        zshm_tool_json_string (out, channel->name, strlen (channel->name));
        fputs (",\"file\":", out);
        zshm_tool_json_string (out, channel->file, strlen (channel->file));
        if (!channel->valid) {
            const char *reason = s_invalid_reason (channel);
            fputs (",\"valid\":false,\"error\":", out);
            zshm_tool_json_string (out, reason, strlen (reason));
            fprintf (out, ",\"writer_alive\":%s}",
                     channel->probe == 1 ? "true" : channel->probe == 0 ? "false" : "null");
            continue;
        }
        const zshm_ring_info_t *info = &channel->info;
        fprintf (out, ",\"valid\":true,\"capacity\":%llu,\"slot_size\":%llu,\"bytes\":%llu",
                 (unsigned long long) info->capacity, (unsigned long long) info->slot_size,
                 (unsigned long long) info->total_size);
        fputs (",\"type\":", out);
        zshm_tool_json_string (out, info->type_name, strlen (info->type_name));
        fprintf (out, ",\"writer\":{\"pid\":%d,\"alive\":%s,\"incarnation\":\"%016llx\","
                      "\"created_ns\":%llu,\"started_ns\":%llu,\"takeovers\":%llu}",
                 (int) info->writer_pid, info->writer_alive ? "true" : "false",
                 (unsigned long long) info->incarnation, (unsigned long long) info->created_ns,
                 (unsigned long long) info->started_ns, (unsigned long long) info->takeovers);
        fprintf (out, ",\"head\":%llu", (unsigned long long) info->head);
        if (channel->have_rate)
            fprintf (out, ",\"rate\":%.3f", channel->rate);
        else
            fputs (",\"rate\":null", out);
        fputs (",\"readers\":[", out);
        for (int reader = 0; reader < channel->reader_count; reader++) {
            const zshm_reader_info_t *entry = &channel->readers [reader];
            uint64_t lag = info->head > entry->position ? info->head - entry->position : 0;
            fprintf (out, "%s{\"pid\":%d,\"alive\":%s,\"id\":\"%016llx\",\"position\":%llu,"
                          "\"lag\":%llu,\"delivered\":%llu,\"lost\":%llu}",
                     reader ? "," : "", (int) entry->pid, entry->alive ? "true" : "false",
                     (unsigned long long) entry->id, (unsigned long long) entry->position,
                     (unsigned long long) lag, (unsigned long long) entry->delivered,
                     (unsigned long long) entry->lost);
        }
        fputs ("]}", out);
    }
    fputs ("],\"temporaries\":[", out);
    first = true;
    for (size_t index = 0; index < snapshot->count; index++) {
        const s_channel_t *channel = &snapshot->channels [index];
        if (!channel->temp)
            continue;
        fputs (first ? "{\"file\":" : ",{\"file\":", out);
        first = false;
        zshm_tool_json_string (out, channel->file, strlen (channel->file));
        if (channel->temp_pid)
            fprintf (out, ",\"pid\":%d,\"alive\":%s}", (int) channel->temp_pid,
                     zshm_tool_pid_alive (channel->temp_pid) ? "true" : "false");
        else
            fputs (",\"pid\":null,\"alive\":null}", out);
    }
    fputs ("]}\n", out);
}

int
zshm_stat_main (int argc, char **argv)
{
    bool json = false;
    double watch = 0;
    const char *only = NULL;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        const char *value = NULL;
        int matched;
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (arg, "--json") == 0)
            json = true;
        else
        if ((matched = zshm_tool_option (argc, argv, &index, "--watch", &value))) {
            if (matched < 0) {
                fprintf (stderr, "zshm stat: --watch needs a number of seconds\n");
                return 1;
            }
            if (zshm_tool_parse_seconds (value, 86400, &watch)) {
                fprintf (stderr, "zshm stat: --watch wants seconds > 0 (up to 86400), "
                                 "not '%s'\n", value);
                return 1;
            }
        }
        else
        if (*arg == '-' && arg [1]) {
            fprintf (stderr, "zshm stat: unknown option '%s' (try 'zshm stat --help')\n", arg);
            return 1;
        }
        else
        if (only) {
            fprintf (stderr, "zshm stat: one channel at most ('%s' and '%s')\n", only, arg);
            return 1;
        }
        else {
            only = zshm_tool_channel_arg (arg);
            if (!zshm_ring_name_valid (only)) {
                fprintf (stderr, "zshm stat: invalid channel name '%s'\n", arg);
                return 1;
            }
        }
    }
    if (only && zshm_ring_probe (only) == -1 && errno == ENOENT) {
        fprintf (stderr, "zshm stat: no channel '%s' in %s\n", only, zshm_ring_dir ());
        return 1;
    }

    if (watch > 0) {
        struct sigaction action;
        memset (&action, 0, sizeof action);
        action.sa_handler = s_on_signal;
        sigaction (SIGINT, &action, NULL);
        sigaction (SIGTERM, &action, NULL);
    }
    bool tty = isatty (STDOUT_FILENO) && !json;
    s_snapshot_t previous = { NULL, 0 };
    int rc = 0;
    for (bool first = true; !s_interrupted; first = false) {
        s_snapshot_t snapshot = { NULL, 0 };
        if (s_snapshot_take (&snapshot, only, &previous, first)) {
            rc = 1;
            break;
        }
        if (tty && watch > 0)
            fputs ("\033[H\033[2J", stdout);    //  redraw in place, like top
        if (json)
            s_print_json (stdout, &snapshot);
        else {
            if (watch > 0) {
                struct timespec now;
                clock_gettime (CLOCK_REALTIME, &now);
                fputs ("--- ", stdout);
                s_print_time (stdout, (uint64_t) now.tv_sec * 1000000000ULL);
                fputc ('\n', stdout);
            }
            s_print_text (stdout, &snapshot);
        }
        fflush (stdout);
        s_snapshot_free (&previous);
        previous = snapshot;
        if (watch <= 0)
            break;
        //  Sleep in small steps so that an interrupt ends us promptly.
        uint64_t until = s_monotonic_ns () + (uint64_t) (watch * 1e9);
        while (!s_interrupted && s_monotonic_ns () < until)
            usleep (20000);
    }
    s_snapshot_free (&previous);
    if (ferror (stdout)) {
        fprintf (stderr, "zshm stat: cannot write output\n");
        rc = 1;
    }
    return rc;
}
