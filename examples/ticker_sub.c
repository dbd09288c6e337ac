/*  =========================================================================
    ticker_sub - a price ticker subscriber on zshm

        ticker_sub [--endpoint shm://ticks] [--subscribe ticks.]
                   [--idle spin|yield|backoff|block] [--count N] [--quiet]

    Prints every tick ticker_pub publishes under the subscribed prefix,
    with its one-way latency, until Ctrl-C or --count ticks.  It may start
    before the publisher (it waits for it), and it carries on when the
    publisher is restarted.

    --idle says how the subscriber waits for the next message: spin (the
    default: lowest latency, a whole core), yield, backoff, or block
    (sleeps in the kernel until the publisher wakes it: no CPU while idle).
    =========================================================================
*/

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zshm.h"

//  One tick; ticker_pub.c declares the same struct.
typedef struct {
    char symbol [8];            //  NUL-padded, e.g. "AAPL"
    double price;               //  last trade price
    uint32_t size;              //  last trade size, shares
    uint32_t reserved;          //  0; keeps the layout free of padding
    uint64_t sequence;          //  1, 2, 3... per publisher run
    uint64_t sent_ns;           //  CLOCK_MONOTONIC when published
} tick_t;

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    s_stop = 1;
}

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

int
main (int argc, char **argv)
{
    const char *endpoint = "shm://ticks";
    const char *subscribe = "ticks.";
    const char *idle = "spin";
    long long count = -1;
    bool quiet = false;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--endpoint") == 0 && arg + 1 < argc)
            endpoint = argv [++arg];
        else
        if (strcmp (argv [arg], "--subscribe") == 0 && arg + 1 < argc)
            subscribe = argv [++arg];
        else
        if (strcmp (argv [arg], "--idle") == 0 && arg + 1 < argc)
            idle = argv [++arg];
        else
        if (strcmp (argv [arg], "--count") == 0 && arg + 1 < argc)
            count = atoll (argv [++arg]);
        else
        if (strcmp (argv [arg], "--quiet") == 0)
            quiet = true;
        else {
            fprintf (stderr, "usage: ticker_sub [--endpoint E] [--subscribe PREFIX] "
                             "[--idle spin|yield|backoff|block] [--count N] [--quiet]\n");
            return 1;
        }
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);

    zshm_idle_t strategy;
    if (zshm_idle_parse (idle, &strategy)) {
        fprintf (stderr, "ticker_sub: unknown idle strategy '%s'\n", idle);
        return 1;
    }
    //  In place of zsock_new_sub: same shape, a shm:// endpoint
    zshm_sub_t *sub = zshm_sub_new (endpoint, subscribe);
    if (!sub) {
        fprintf (stderr, "ticker_sub: cannot subscribe to %s: %s\n", endpoint, strerror (errno));
        return 1;
    }
    zshm_sub_set_idle (sub, strategy);
    //  Wake up now and then to notice Ctrl-C
    zshm_sub_set_rcvtimeo (sub, 200);

    long long received = 0;
    while (!s_stop && (count < 0 || received < count)) {
        //  Receives into the subscriber's own buffer: no allocation
        if (zshm_sub_recv (sub) == -1) {
            if (errno == EPIPE)
                fprintf (stderr, "ticker_sub: publisher gone, waiting for it\n");
            else
            if (errno != EAGAIN && errno != EINTR) {
                fprintf (stderr, "ticker_sub: receive failed: %s\n", strerror (errno));
                break;
            }
            continue;
        }
        size_t topic_size, tick_size;
        const char *topic = (const char *) zshm_sub_frame (sub, 0, &topic_size);
        const void *data = zshm_sub_frame (sub, 1, &tick_size);
        //  Another process wrote this: check its shape before trusting it
        if (zshm_sub_frames (sub) != 2 || tick_size != sizeof (tick_t)) {
            fprintf (stderr, "ticker_sub: skipped a message that is not a tick\n");
            continue;
        }
        tick_t tick;
        memcpy (&tick, data, sizeof tick);
        received++;
        if (!quiet)
            printf ("%-12.*s %9.2f x %-5u seq %-8" PRIu64 " %6.1f us\n", (int) topic_size, topic,
                    tick.price, tick.size, tick.sequence, (s_now_ns () - tick.sent_ns) / 1e3);
    }
    printf ("ticker_sub: received %lld ticks, lost %" PRIu64 "\n", received,
            zshm_sub_lost (sub));
    zshm_sub_destroy (&sub);
    return 0;
}
