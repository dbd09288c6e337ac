/*  =========================================================================
    zshm cat - print a channel's messages

    zshm cat shm://CHANNEL [--topic PREFIX]... [--count N] [--follow]
             [--from oldest|latest] [--format text|hex|json] [--decode-raw]
             [--descriptor-set FILE] [--type NAME] [--timeout MS]

    A subscriber like any other (zshm_sub), so it registers as a reader and
    shows up in `zshm stat`.  Payloads whose recorded type name (set by
    zshm_pub_send_proto) is a bundled type or one from --descriptor-set
    print decoded; --decode-raw decodes any protobuf without a schema.
    Everything else prints as text when it is text, and as a hex dump when
    it is not.  Payload bytes are never trusted: a payload that does not
    parse as its recorded type is shown raw with a note.

    Without --follow, cat prints what the channel holds (from the oldest
    message by default) and stops when it has caught up with the head it
    saw at start, when the writer is gone and all is read, after --count
    messages, or when nothing arrives for --timeout ms.  With --from latest
    (or on tcp://) and no --follow, it shows what arrives within --timeout
    ms.  With --follow it starts at the latest message by default and waits
    for more until interrupted (or --count, or --timeout if given).
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zshm.h"
#include "zshm_tools.h"
#include "zshm_toolutil.h"
#include "zshm_pbdecode.h"

#include "market.pb-c.h"
#include "telemetry.pb-c.h"
#include "zshm_meta.pb-c.h"

//  Default --timeout without --follow, ms.
#define S_IDLE_DEFAULT_MS 500

//  How long one receive waits before we look at signals and timeouts, ms.
#define S_POLL_MS 100

//  Most --topic options.
#define S_TOPICS_MAX 64

typedef enum {
    S_FORMAT_TEXT,              //  a header line, then the decoded body
    S_FORMAT_HEX,               //  a header line, then a hex dump of each frame
    S_FORMAT_JSON               //  one JSON object per message, per line
} s_format_t;

//  What the command line asked for.
typedef struct {
    const char *endpoint;       //  as given
    char channel [ZSHM_NAME_MAX + 1];   //  shm channel name, "" for tcp
    const char *topics [S_TOPICS_MAX];  //  --topic prefixes
    int topic_count;            //  entries in topics
    long long count;            //  --count, 0 for no limit
    bool follow;                //  --follow
    int from;                   //  -1 unset, 0 latest, 1 oldest
    s_format_t format;          //  --format
    bool decode_raw;            //  --decode-raw
    const char *descriptor_set; //  --descriptor-set FILE, or NULL
    const char *type;           //  --type NAME, or NULL
    long long timeout;          //  --timeout ms, -1 unset
} s_options_t;

//  The bundled payload types, decoded by their recorded names.
static const ProtobufCMessageDescriptor *s_bundled [] = {
    &zshm__market__tick__descriptor,
    &zshm__market__quote__descriptor,
    &zshm__market__trade__descriptor,
    &zshm__telemetry__vector3__descriptor,
    &zshm__telemetry__quaternion__descriptor,
    &zshm__telemetry__pose__descriptor,
    &zshm__telemetry__imu__descriptor,
    &zshm__telemetry__laser_scan__descriptor,
    &zshm__telemetry__battery__descriptor,
    &zshm__telemetry__telemetry__descriptor,
    &zshm__meta__descriptor,
    &zshm__heartbeat__descriptor,
};

static volatile sig_atomic_t s_interrupted = 0;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_interrupted = 1;
}

static uint64_t
s_monotonic_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: zshm cat shm://CHANNEL [options]\n"
        "\n"
        "Print the messages of a zshm channel (CHANNEL may also be given bare, or\n"
        "a tcp:// endpoint of a bridge or ZeroMQ publisher).\n"
        "\n"
        "  --topic PREFIX         only messages whose topic starts with PREFIX\n"
        "                         (repeatable; default: every message)\n"
        "  --count N              stop after N messages\n"
        "  --follow               keep waiting for new messages until interrupted\n"
        "  --from oldest|latest   start at the oldest message the ring holds or at\n"
        "                         the next one published (default: oldest, or\n"
        "                         latest with --follow)\n"
        "  --format text|hex|json text (default): a header line per message and its\n"
        "                         payload decoded; hex: hex dumps; json: one JSON\n"
        "                         object per message and line\n"
        "  --decode-raw           decode payloads as protobuf without a schema, as\n"
        "                         protoc --decode_raw does\n"
        "  --descriptor-set FILE  decode the types in FILE (protoc\n"
        "                         --descriptor_set_out) by their recorded names\n"
        "  --type NAME            decode every payload as message type NAME\n"
        "  --timeout MS           stop when nothing arrives for MS ms (default %d\n"
        "                         without --follow, never with it)\n"
        "  --help                 show this help\n"
        "\n"
        "Payloads recorded with a bundled type (zshm.market.Tick, ...) or one from\n"
        "--descriptor-set print decoded.  Without --follow, cat stops once it has\n"
        "printed what the channel held when it started (with --from latest: what\n"
        "arrives within --timeout).  Exit status 0, or 1 with a reason.\n",
        S_IDLE_DEFAULT_MS);
}

//  Parse the command line.  Returns 0, 1 for --help, or -1 with a reason
//  printed.
static int
s_parse (int argc, char **argv, s_options_t *options)
{
    memset (options, 0, sizeof *options);
    options->from = -1;
    options->timeout = -1;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv [index];
        const char *value = NULL;
        int matched;
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
            return 1;
        if (strcmp (arg, "--follow") == 0 || strcmp (arg, "-f") == 0) {
            options->follow = true;
            continue;
        }
        if (strcmp (arg, "--decode-raw") == 0) {
            options->decode_raw = true;
            continue;
        }
        const char *names [] = { "--topic", "--count", "--from", "--format",
                                 "--descriptor-set", "--type", "--timeout" };
        int which = -1;
        for (int name = 0; name < 7 && which < 0; name++) {
            matched = zshm_tool_option (argc, argv, &index, names [name], &value);
            if (matched < 0) {
                fprintf (stderr, "zshm cat: %s needs a value\n", names [name]);
                return -1;
            }
            if (matched)
                which = name;
        }
        switch (which) {
            case 0:
                if (options->topic_count == S_TOPICS_MAX) {
                    fprintf (stderr, "zshm cat: at most %d --topic options\n", S_TOPICS_MAX);
                    return -1;
                }
                options->topics [options->topic_count++] = value;
                break;
            case 1:
                if (zshm_tool_parse_int (value, 1, LLONG_MAX, &options->count)) {
                    fprintf (stderr, "zshm cat: --count wants a positive whole number, "
                                     "not '%s'\n", value);
                    return -1;
                }
                break;
            case 2:
                if (strcmp (value, "oldest") == 0)
                    options->from = 1;
                else
                if (strcmp (value, "latest") == 0)
                    options->from = 0;
                else {
                    fprintf (stderr, "zshm cat: --from wants oldest or latest, not '%s'\n",
                             value);
                    return -1;
                }
                break;
            case 3:
                if (strcmp (value, "text") == 0)
                    options->format = S_FORMAT_TEXT;
                else
                if (strcmp (value, "hex") == 0)
                    options->format = S_FORMAT_HEX;
                else
                if (strcmp (value, "json") == 0)
                    options->format = S_FORMAT_JSON;
                else {
                    fprintf (stderr, "zshm cat: --format wants text, hex or json, not '%s'\n",
                             value);
                    return -1;
                }
                break;
            case 4:
                options->descriptor_set = value;
                break;
            case 5:
                if (!*value) {
                    fprintf (stderr, "zshm cat: --type wants a message type name\n");
                    return -1;
                }
                options->type = value;
                break;
            case 6:
                if (zshm_tool_parse_int (value, 0, 86400000, &options->timeout)) {
                    fprintf (stderr, "zshm cat: --timeout wants milliseconds from 0 to "
                                     "86400000, not '%s'\n", value);
                    return -1;
                }
                break;
            default:
                if (*arg == '-' && arg [1]) {
                    fprintf (stderr, "zshm cat: unknown option '%s' (try 'zshm cat --help')\n",
                             arg);
                    return -1;
                }
                if (options->endpoint) {
                    fprintf (stderr, "zshm cat: one channel at a time ('%s' and '%s')\n",
                             options->endpoint, arg);
                    return -1;
                }
                options->endpoint = arg;
        }
    }
    if (!options->endpoint) {
        fprintf (stderr, "zshm cat: which channel? (zshm cat shm://NAME)\n");
        return -1;
    }
    if (options->decode_raw && options->type) {
        fprintf (stderr, "zshm cat: --decode-raw and --type exclude each other\n");
        return -1;
    }
    const char *endpoint = options->endpoint;
    if (strncmp (endpoint, "tcp://", 6) == 0) {
        if (options->from == 1) {
            fprintf (stderr, "zshm cat: --from oldest needs a shm:// channel\n");
            return -1;
        }
        return 0;
    }
    if (strstr (endpoint, "://") && strncmp (endpoint, "shm://", 6) != 0) {
        fprintf (stderr, "zshm cat: '%s' is neither shm:// nor tcp://\n", endpoint);
        return -1;
    }
    //  The channel name, without the scheme and any ?options.
    const char *name = zshm_tool_channel_arg (endpoint);
    size_t length = strcspn (name, "?");
    if (length == 0 || length > ZSHM_NAME_MAX) {
        fprintf (stderr, "zshm cat: invalid channel name in '%s'\n", endpoint);
        return -1;
    }
    memcpy (options->channel, name, length);
    options->channel [length] = 0;
    if (!zshm_ring_name_valid (options->channel)) {
        fprintf (stderr, "zshm cat: invalid channel name in '%s'\n", endpoint);
        return -1;
    }
    return 0;
}

//  Print the topic in a header: quoted and C-escaped.
static void
s_print_topic (FILE *out, const void *topic, size_t size)
{
    fputc ('"', out);
    zshm_tool_c_escape (out, topic, size);
    fputc ('"', out);
}

//  Print one data frame in text format, decoded if we can.
static void
s_print_frame_text (FILE *out, zshm_pbdecode_t *types, const s_options_t *options,
                    const char *type, const void *data, size_t size, int indent)
{
    if (options->decode_raw) {
        if (zshm_pbdecode_print_raw (out, data, size, ZSHM_PBDECODE_TEXT, indent) == 0)
            return;
        fprintf (out, "%*s(not a protobuf message: %s)\n", indent, "", strerror (errno));
    }
    else
    if (*type && zshm_pbdecode_knows (types, type)) {
        if (zshm_pbdecode_print (types, out, type, data, size, ZSHM_PBDECODE_TEXT, indent) == 0)
            return;
        fprintf (out, "%*s(does not parse as %s)\n", indent, "", type);
    }
    if (zshm_tool_is_text (data, size)) {
        fprintf (out, "%*s\"", indent, "");
        zshm_tool_c_escape (out, data, size);
        fputs ("\"\n", out);
    }
    else
        zshm_tool_hexdump (out, data, size, indent);
}

//  Print one data frame as a JSON object.
static void
s_print_frame_json (FILE *out, zshm_pbdecode_t *types, const s_options_t *options,
                    const char *type, const void *data, size_t size)
{
    fprintf (out, "{\"size\":%zu", size);
    bool decoded = false;
    if (options->decode_raw || (*type && zshm_pbdecode_knows (types, type))) {
        //  Decode into a buffer first: the key goes before the value.
        char *text = NULL;
        size_t length = 0;
        FILE *buffer = open_memstream (&text, &length);
        if (buffer) {
            int rc = options->decode_raw
                   ? zshm_pbdecode_print_raw (buffer, data, size, ZSHM_PBDECODE_JSON, 0)
                   : zshm_pbdecode_print (types, buffer, type, data, size,
                                          ZSHM_PBDECODE_JSON, 0);
            if (fclose (buffer) == 0 && rc == 0) {
                fputs (",\"message\":", out);
                fwrite (text, 1, length, out);
                decoded = true;
            }
            free (text);
        }
        if (!decoded)
            fputs (",\"decode_error\":true", out);
    }
    if (!decoded) {
        if (zshm_tool_utf8_valid (data, size)) {
            fputs (",\"text\":", out);
            zshm_tool_json_string (out, data, size);
        }
        else {
            fputs (",\"base64\":\"", out);
            zshm_tool_base64 (out, data, size);
            fputc ('"', out);
        }
    }
    fputc ('}', out);
}

//  Print the message the subscriber holds.
static void
s_print_message (FILE *out, zshm_sub_t *sub, zshm_pbdecode_t *types,
                 const s_options_t *options, bool tcp)
{
    size_t frames = zshm_sub_frames (sub);
    size_t topic_size = 0;
    const void *topic = zshm_sub_frame (sub, 0, &topic_size);
    const char *recorded = zshm_sub_type (sub);
    const char *type = options->type ? options->type : recorded;
    uint64_t seq = zshm_sub_seq (sub);
    size_t bytes = 0;
    for (size_t index = 1; index < frames; index++) {
        size_t size = 0;
        zshm_sub_frame (sub, index, &size);
        bytes += size;
    }

    if (options->format == S_FORMAT_JSON) {
        fputs ("{", out);
        if (!tcp)
            fprintf (out, "\"seq\":%llu,", (unsigned long long) seq);
        if (zshm_tool_utf8_valid (topic, topic_size)) {
            fputs ("\"topic\":", out);
            zshm_tool_json_string (out, topic, topic_size);
        }
        else {
            fputs ("\"topic_base64\":\"", out);
            zshm_tool_base64 (out, topic, topic_size);
            fputc ('"', out);
        }
        fputs (",\"type\":", out);
        zshm_tool_json_string (out, recorded, strlen (recorded));
        fputs (",\"frames\":[", out);
        for (size_t index = 1; index < frames; index++) {
            size_t size = 0;
            const void *data = zshm_sub_frame (sub, index, &size);
            if (index > 1)
                fputc (',', out);
            s_print_frame_json (out, types, options, type, data, size);
        }
        fputs ("]}\n", out);
        return;
    }
    //  Header: --- SEQ "TOPIC" TYPE (N bytes[, F frames])
    fputs ("---", out);
    if (!tcp)
        fprintf (out, " %llu", (unsigned long long) seq);
    fputc (' ', out);
    s_print_topic (out, topic, topic_size);
    if (*recorded)
        fprintf (out, " %s", recorded);
    fprintf (out, " (%zu byte%s", bytes, bytes == 1 ? "" : "s");
    if (frames != 2)
        fprintf (out, ", %zu data frame%s", frames - 1, frames == 2 ? "" : "s");
    fputs (")\n", out);
    for (size_t index = 1; index < frames; index++) {
        size_t size = 0;
        const void *data = zshm_sub_frame (sub, index, &size);
        int indent = 0;
        if (frames > 2) {
            fprintf (out, "frame %zu (%zu byte%s):\n", index, size, size == 1 ? "" : "s");
            indent = 2;
        }
        if (options->format == S_FORMAT_HEX)
            zshm_tool_hexdump (out, data, size, indent);
        else
            s_print_frame_text (out, types, options, type, data, size, indent);
    }
}

//  Say on stderr how many messages were lost since we last said, and how
//  many of those were dropped as malformed or incomplete.
static void
s_report_lost (zshm_sub_t *sub, uint64_t *lost_seen, uint64_t *dropped_seen)
{
    uint64_t lost = zshm_sub_lost (sub);
    uint64_t dropped = zshm_sub_dropped (sub);
    if (lost <= *lost_seen)
        return;
    fflush (stdout);
    fprintf (stderr, "zshm cat: %llu message%s lost", (unsigned long long) (lost - *lost_seen),
             lost - *lost_seen == 1 ? "" : "s");
    if (dropped > *dropped_seen)
        fprintf (stderr, " (%llu malformed, incomplete or too large)",
                 (unsigned long long) (dropped - *dropped_seen));
    else
        fputs (" (overwritten before they were read)", stderr);
    fputc ('\n', stderr);
    *lost_seen = lost;
    *dropped_seen = dropped;
}

//  Build the subscriber's endpoint: the user's, plus from=oldest if asked.
static char *
s_endpoint (const s_options_t *options, bool oldest)
{
    char *endpoint = NULL;
    if (strncmp (options->endpoint, "tcp://", 6) == 0)
        endpoint = strdup (options->endpoint);
    else {
        const char *rest = zshm_tool_channel_arg (options->endpoint) + strlen (options->channel);
        //  rest is "" or "?options" the user gave.
        if (asprintf (&endpoint, "shm://%s%s%s%s", options->channel, rest,
                      oldest ? (*rest ? "&" : "?") : "", oldest ? "from=oldest" : "") < 0)
            endpoint = NULL;
    }
    return endpoint;
}

int
zshm_cat_main (int argc, char **argv)
{
    s_options_t options;
    int parsed = s_parse (argc, argv, &options);
    if (parsed == 1) {
        s_usage (stdout);
        return 0;
    }
    if (parsed < 0)
        return 1;
    bool tcp = options.channel [0] == 0;
    bool oldest = options.from == 1 || (options.from < 0 && !options.follow && !tcp);
    long long idle_ms = options.timeout >= 0 ? options.timeout
                      : options.follow ? -1 : S_IDLE_DEFAULT_MS;

    //  Without --follow, the channel must be there, and be a channel; and
    //  what it holds now is what we print.
    uint64_t stop_after = 0;
    if (!tcp && !options.follow) {
        zshm_ring_t *ring = zshm_ring_open (options.channel);
        if (!ring) {
            if (errno == ENOENT)
                fprintf (stderr, "zshm cat: no channel '%s' in %s\n", options.channel,
                         zshm_ring_dir ());
            else
                fprintf (stderr, "zshm cat: cannot read channel '%s': %s\n", options.channel,
                         errno == EPROTO ? "not a valid zshm segment" : strerror (errno));
            return 1;
        }
        if (oldest)
            stop_after = zshm_ring_head (ring) - 1;     //  the last message published
        zshm_ring_destroy (&ring);
    }

    zshm_pbdecode_t *types = zshm_pbdecode_new ();
    if (!types) {
        fprintf (stderr, "zshm cat: out of memory\n");
        return 1;
    }
    char error [300];
    //  The user's types first: where a name is defined twice, theirs wins.
    if (options.descriptor_set
    &&  zshm_pbdecode_load_file (types, options.descriptor_set, error, sizeof error)) {
        fprintf (stderr, "zshm cat: --descriptor-set %s\n", error);
        zshm_pbdecode_destroy (&types);
        return 1;
    }
    for (size_t index = 0; index < sizeof s_bundled / sizeof s_bundled [0]; index++)
        if (zshm_pbdecode_add_protobuf_c (types, s_bundled [index])) {
            fprintf (stderr, "zshm cat: out of memory\n");
            zshm_pbdecode_destroy (&types);
            return 1;
        }
    if (options.type && !zshm_pbdecode_knows (types, options.type)) {
        fprintf (stderr, "zshm cat: --type %s: no such message type%s\n", options.type,
                 options.descriptor_set ? "" : " (is it in a --descriptor-set?)");
        zshm_pbdecode_destroy (&types);
        return 1;
    }

    char *endpoint = s_endpoint (&options, oldest);
    zshm_sub_t *sub = endpoint ? zshm_sub_new (endpoint, NULL) : NULL;
    if (!sub) {
        fprintf (stderr, "zshm cat: cannot subscribe to '%s': %s\n", options.endpoint,
                 strerror (errno ? errno : ENOMEM));
        free (endpoint);
        zshm_pbdecode_destroy (&types);
        return 1;
    }
    free (endpoint);
    //  A tool may wait for hours: sleep on the futex rather than spin a
    //  core, unless the endpoint says otherwise.
    if (!tcp && !strstr (options.endpoint, "idle="))
        zshm_sub_set_idle (sub, ZSHM_IDLE_BLOCK);
    if (options.topic_count == 0)
        zshm_sub_subscribe (sub, "");
    for (int index = 0; index < options.topic_count; index++)
        zshm_sub_subscribe (sub, options.topics [index]);
    //  Short waits, so that signals and timeouts are seen promptly.
    zshm_sub_set_rcvtimeo (sub, idle_ms >= 0 && idle_ms < S_POLL_MS ? (int) idle_ms : S_POLL_MS);

    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;    //  no SA_RESTART: waits end with EINTR
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    int rc = 0;
    long long printed = 0;
    uint64_t last_ms = s_monotonic_ms ();
    //  Without --follow and without replay nothing is "there" to print:
    //  show what arrives within the timeout, however busy the channel.
    uint64_t window_end = !options.follow && !oldest && idle_ms >= 0
                        ? last_ms + (uint64_t) idle_ms : UINT64_MAX;
    uint64_t lost_seen = 0, dropped_seen = 0;
    bool said_gone = false;
    while (!s_interrupted) {
        if (zshm_sub_recv (sub) < 0) {
            if (errno == EPIPE) {
                if (!options.follow)
                    break;          //  the writer is gone and all is read
                if (!said_gone)
                    fprintf (stderr, "zshm cat: the publisher is gone; waiting for it\n");
                said_gone = true;
                continue;
            }
            if (errno != EAGAIN && errno != EINTR) {
                fprintf (stderr, "zshm cat: receive failed: %s\n", strerror (errno));
                rc = 1;
                break;
            }
            uint64_t now_ms = s_monotonic_ms ();
            if ((idle_ms >= 0 && now_ms - last_ms >= (uint64_t) idle_ms) || now_ms >= window_end)
                break;
            continue;
        }
        said_gone = false;
        last_ms = s_monotonic_ms ();
        s_report_lost (sub, &lost_seen, &dropped_seen);
        s_print_message (stdout, sub, types, &options, tcp);
        if (options.follow)
            fflush (stdout);
        printed++;
        if (options.count && printed >= options.count)
            break;
        if (stop_after && zshm_sub_seq (sub) >= stop_after)
            break;          //  caught up with what was there at the start
        if (s_monotonic_ms () >= window_end)
            break;
    }
    s_report_lost (sub, &lost_seen, &dropped_seen);
    zshm_sub_destroy (&sub);
    zshm_pbdecode_destroy (&types);
    if (fflush (stdout) || ferror (stdout)) {
        fprintf (stderr, "zshm cat: cannot write output\n");
        rc = 1;
    }
    return rc;
}
