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

int
main (int argc, char **argv)
{
    if (argc < 3 || (strcmp (argv [1], "write") && strcmp (argv [1], "read"))) {
        fprintf (stderr, "usage: zshm_testpub write|read NAME [options]\n");
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
