/*  =========================================================================
    zshm_testpub - a scriptable writer or reader for the tools' tests

    zshm_testpub write NAME [--count N] [--capacity C] [--slot S] [--type T]
                            [--rate R] [--hold SECONDS] [--unlink]
        Create channel NAME, record type T, publish N messages "message I",
        print "ready" on stdout, then keep publishing R messages a second
        (0: none) for SECONDS (-1: until killed), and exit.

    zshm_testpub read NAME [--count N] [--hold SECONDS]
        Open channel NAME, register a reader at the oldest message, receive
        N messages, print "ready", then sleep for SECONDS (-1: until killed).

    zshm_testpub send ENDPOINT [--interval MS] [--hold SECONDS] MESSAGE...
        Publish each MESSAGE with zshm_pub, --interval ms apart, print
        "ready", then hold for SECONDS (-1: until killed).  MESSAGE is
        TOPIC|TYPE|HEX[|HEX...]: TYPE is recorded when not empty (one data
        frame only); several HEX make several frames; a TOPIC written
        hex:HEX is binary.  TOPIC|@tick sends a zshm.market.Tick with fixed
        values through zshm_pub_send_proto.

    Exits 0, or 1 with a reason on stderr.  Used by tests/test_tool_*.sh.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zshm.h"
#include "zshm_proto.h"
#include "market.pb-c.h"

static int
s_fail (const char *what)
{
    fprintf (stderr, "zshm_testpub: %s: %s\n", what, strerror (errno));
    return 1;
}

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
s_ready (void)
{
    printf ("ready\n");
    fflush (stdout);
}

//  Decode hex into a new buffer; NULL if it is not hex.
static uint8_t *
s_unhex (const char *hex, size_t length, size_t *size_p)
{
    if (length % 2)
        return NULL;
    uint8_t *bytes = (uint8_t *) malloc (length / 2 + 1);
    for (size_t index = 0; bytes && index < length / 2; index++) {
        unsigned value;
        char pair [3] = { hex [2 * index], hex [2 * index + 1], 0 };
        if (sscanf (pair, "%2x", &value) != 1 || !pair [1] || pair [1] == ' ') {
            free (bytes);
            return NULL;
        }
        bytes [index] = (uint8_t) value;
    }
    *size_p = length / 2;
    return bytes;
}

//  Send one MESSAGE spec (see the top of the file).  Returns 0 or -1.
static int
s_send (zshm_pub_t *pub, const char *spec)
{
    const char *bar = strchr (spec, '|');
    if (!bar) {
        fprintf (stderr, "zshm_testpub: bad message '%s'\n", spec);
        return -1;
    }
    char *topic = NULL;
    size_t topic_size = (size_t) (bar - spec);
    if (strncmp (spec, "hex:", 4) == 0)
        topic = (char *) s_unhex (spec + 4, topic_size - 4, &topic_size);
    else
        topic = strndup (spec, topic_size);
    if (!topic) {
        fprintf (stderr, "zshm_testpub: bad topic in '%s'\n", spec);
        return -1;
    }
    const char *rest = bar + 1;
    if (strcmp (rest, "@tick") == 0) {
        Zshm__Market__Tick tick = ZSHM__MARKET__TICK__INIT;
        tick.symbol = "AAPL";
        tick.venue = ZSHM__MARKET__VENUE__VENUE_XNAS;
        tick.exchange_time_ns = 1700000000123456789ULL;
        tick.sequence = 42;
        tick.bid = 189.25;
        tick.ask = 189.5;
        tick.last = 189.3;
        tick.bid_size = 100;
        tick.ask_size = 200;
        tick.volume = 123456;
        int rc = zshm_pub_send_proto (pub, topic, &tick.base);
        free (topic);
        return rc;
    }
    const char *type_end = strchr (rest, '|');
    if (!type_end) {
        fprintf (stderr, "zshm_testpub: bad message '%s'\n", spec);
        free (topic);
        return -1;
    }
    char *type = strndup (rest, (size_t) (type_end - rest));
    const void *frames [17] = { topic };
    size_t sizes [17] = { topic_size };
    size_t count = 1;
    const char *hex = type_end + 1;
    int rc = 0;
    while (count < 17) {
        size_t length = strcspn (hex, "|");
        frames [count] = s_unhex (hex, length, &sizes [count]);
        if (!frames [count]) {
            fprintf (stderr, "zshm_testpub: bad hex in '%s'\n", spec);
            rc = -1;
            break;
        }
        count++;
        if (!hex [length])
            break;
        hex += length + 1;
    }
    if (rc == 0 && count == 2 && *type) {
        rc = zshm_pub_send_begin (pub, topic, topic_size, sizes [1], type);
        if (rc == 0)
            rc = zshm_pub_send_write (pub, frames [1], sizes [1]);
        if (rc == 0)
            rc = zshm_pub_send_end (pub);
    }
    else
    if (rc == 0)
        rc = zshm_pub_send_frames (pub, frames, sizes, count);
    for (size_t index = 0; index < count; index++)
        free ((void *) frames [index]);
    free (type);
    return rc;
}

static int
s_send_main (int argc, char **argv)
{
    long interval = 0;
    double hold = 0;
    int first = 3;
    while (first + 1 < argc && strncmp (argv [first], "--", 2) == 0) {
        if (strcmp (argv [first], "--interval") == 0)
            interval = atol (argv [first + 1]);
        else
        if (strcmp (argv [first], "--hold") == 0)
            hold = atof (argv [first + 1]);
        else
            break;
        first += 2;
    }
    zshm_pub_t *pub = zshm_pub_new (argv [2]);
    if (!pub)
        return s_fail ("zshm_pub_new");
    for (int index = first; index < argc; index++) {
        if (index > first && interval > 0)
            usleep ((useconds_t) interval * 1000);
        if (s_send (pub, argv [index]))
            return s_fail ("send");
    }
    s_ready ();
    uint64_t until = hold < 0 ? UINT64_MAX : s_now_ns () + (uint64_t) (hold * 1e9);
    while (s_now_ns () < until)
        usleep (10000);
    zshm_pub_destroy (&pub);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc >= 3 && strcmp (argv [1], "send") == 0)
        return s_send_main (argc, argv);
    if (argc < 3 || (strcmp (argv [1], "write") && strcmp (argv [1], "read"))) {
        fprintf (stderr, "usage: zshm_testpub write|read|send NAME [options]\n");
        return 1;
    }
    bool writing = strcmp (argv [1], "write") == 0;
    const char *name = argv [2];
    long count = 0, capacity = 64, slot = 64, rate = 0;
    double hold = 0;
    const char *type = NULL;
    bool remove = false;
    for (int index = 3; index < argc; index++) {
        const char *arg = argv [index];
        const char *value = index + 1 < argc ? argv [index + 1] : NULL;
        if (strcmp (arg, "--unlink") == 0) {
            remove = true;
            continue;
        }
        if (!value) {
            fprintf (stderr, "zshm_testpub: %s needs a value\n", arg);
            return 1;
        }
        index++;
        if (strcmp (arg, "--count") == 0)
            count = atol (value);
        else
        if (strcmp (arg, "--capacity") == 0)
            capacity = atol (value);
        else
        if (strcmp (arg, "--slot") == 0)
            slot = atol (value);
        else
        if (strcmp (arg, "--rate") == 0)
            rate = atol (value);
        else
        if (strcmp (arg, "--hold") == 0)
            hold = atof (value);
        else
        if (strcmp (arg, "--type") == 0)
            type = value;
        else {
            fprintf (stderr, "zshm_testpub: unknown option %s\n", arg);
            return 1;
        }
    }
    uint64_t until = hold < 0 ? UINT64_MAX : s_now_ns () + (uint64_t) (hold * 1e9);

    if (writing) {
        zshm_ring_t *ring = zshm_ring_new (name, (size_t) capacity, (size_t) slot);
        if (!ring)
            return s_fail ("zshm_ring_new");
        if (type && zshm_ring_set_type (ring, type))
            return s_fail ("zshm_ring_set_type");
        char message [64];
        long sent = 0;
        for (; sent < count; sent++) {
            int length = snprintf (message, sizeof message, "message %ld", sent);
            if (!zshm_ring_send (ring, message, (size_t) length))
                return s_fail ("zshm_ring_send");
        }
        s_ready ();
        uint64_t interval = rate > 0 ? 1000000000ULL / (uint64_t) rate : 0;
        uint64_t next = s_now_ns ();
        while (s_now_ns () < until) {
            if (interval && s_now_ns () >= next) {
                int length = snprintf (message, sizeof message, "message %ld", sent++);
                zshm_ring_send (ring, message, (size_t) length);
                next += interval;
            }
            usleep (interval && interval < 10000000 ? (useconds_t) (interval / 1000) : 10000);
        }
        zshm_ring_destroy (&ring);
        if (remove)
            zshm_ring_unlink (name);
        return 0;
    }

    zshm_ring_t *ring = zshm_ring_open (name);
    if (!ring)
        return s_fail ("zshm_ring_open");
    zshm_reader_t *reader = zshm_reader_new (ring);
    if (!reader)
        return s_fail ("zshm_reader_new");
    zshm_reader_seek_oldest (reader);
    char buffer [4096];
    for (long received = 0; received < count; received++)
        if (zshm_reader_recv_timeout (reader, buffer, sizeof buffer, NULL, 5000) < 0)
            return s_fail ("zshm_reader_recv");
    s_ready ();
    while (s_now_ns () < until)
        usleep (10000);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);
    return 0;
}
