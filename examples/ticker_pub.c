/*  =========================================================================
    ticker_pub - a price ticker publisher on zshm

        ticker_pub [--endpoint shm://ticks] [--rate N] [--count N]

    Publishes a tick_t for a few symbols, round robin, on topics
    "ticks.SYMBOL", at N messages a second (default 10, 0 for as fast as
    it goes), until Ctrl-C or --count messages.  Run ticker_sub beside it:

        examples/ticker_pub &
        examples/ticker_sub --subscribe ticks.AAPL --idle block

    The payload is a plain C struct: both programs run on one host, so its
    layout is the same at both ends.  A tick carries the CLOCK_MONOTONIC
    time it was sent, which every process on the host shares, so the
    subscriber can print the one-way latency.
    =========================================================================
*/

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zshm.h"

//  One tick; ticker_sub.c declares the same struct.
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
    double rate = 10;
    long long count = -1;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--endpoint") == 0 && arg + 1 < argc)
            endpoint = argv [++arg];
        else
        if (strcmp (argv [arg], "--rate") == 0 && arg + 1 < argc)
            rate = atof (argv [++arg]);
        else
        if (strcmp (argv [arg], "--count") == 0 && arg + 1 < argc)
            count = atoll (argv [++arg]);
        else {
            fprintf (stderr, "usage: ticker_pub [--endpoint E] [--rate N] [--count N]\n");
            return 1;
        }
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);

    //  In place of zsock_new_pub: same shape, a shm:// endpoint
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    if (!pub) {
        fprintf (stderr, "ticker_pub: cannot publish on %s: %s\n", endpoint, strerror (errno));
        return 1;
    }
    const char *symbols [] = { "AAPL", "MSFT", "NVDA", "AMZN" };
    double prices [] = { 189.25, 415.50, 131.10, 186.40 };
    size_t symbol_count = sizeof symbols / sizeof symbols [0];
    unsigned seed = 42;

    uint64_t interval_ns = rate > 0 ? (uint64_t) (1e9 / rate) : 0;
    uint64_t next_ns = s_now_ns ();
    uint64_t sent = 0;
    while (!s_stop && (count < 0 || (long long) sent < count)) {
        size_t which = sent % symbol_count;
        prices [which] += ((int) (rand_r (&seed) % 3) - 1) * 0.01;

        tick_t tick;
        memset (&tick, 0, sizeof tick);
        strncpy (tick.symbol, symbols [which], sizeof tick.symbol - 1);
        tick.price = prices [which];
        tick.size = 100 * (1 + rand_r (&seed) % 10);
        tick.sequence = sent + 1;
        tick.sent_ns = s_now_ns ();

        char topic [32];
        snprintf (topic, sizeof topic, "ticks.%s", symbols [which]);
        //  [topic][tick]: a copy into the ring, never blocks
        if (zshm_pub_send (pub, topic, &tick, sizeof tick)) {
            fprintf (stderr, "ticker_pub: send failed: %s\n", strerror (errno));
            break;
        }
        sent++;
        if (interval_ns) {
            next_ns += interval_ns;
            uint64_t now = s_now_ns ();
            if (next_ns > now) {
                struct timespec pause = { (time_t) ((next_ns - now) / 1000000000ULL),
                                          (long) ((next_ns - now) % 1000000000ULL) };
                nanosleep (&pause, NULL);
            }
        }
    }
    printf ("ticker_pub: sent %llu ticks on %s\n", (unsigned long long) sent, endpoint);
    zshm_pub_destroy (&pub);
    return 0;
}
