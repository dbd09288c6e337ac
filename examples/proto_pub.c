/*  =========================================================================
    proto_pub - a protobuf ticker publisher

    Publishes zshm.market.Tick messages (proto/market.proto) for a few
    symbols, topic = symbol, with prices on a random walk:

        proto_pub [ENDPOINT] [--rate N] [--count N]

    ENDPOINT defaults to shm://ticks; --rate is messages per second
    (default 1000, 0 for as fast as possible); --count stops after N
    messages (default: until Ctrl-C).  Run examples/proto_sub beside it.

    The whole protobuf part is one call, zshm_pub_send_proto: it packs the
    Tick straight into the ring and records its type name, so subscribers
    and `zshm stat` know what the channel carries.
    =========================================================================
*/

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zshm.h"
#include "market.pb-c.h"

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal (int signum)
{
    s_stop = 1;
}

static uint64_t
s_now_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

typedef struct {
    const char *symbol;         //  instrument, also the topic
    Zshm__Market__Venue venue;  //  where it trades
    double mid;                 //  current mid price
    double tick_size;           //  price increment
    uint64_t volume;            //  session volume so far
} instrument_t;

int
main (int argc, char **argv)
{
    const char *endpoint = "shm://ticks";
    double rate = 1000;
    long long count = -1;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--rate") == 0 && arg + 1 < argc)
            rate = atof (argv [++arg]);
        else
        if (strcmp (argv [arg], "--count") == 0 && arg + 1 < argc)
            count = atoll (argv [++arg]);
        else
        if (argv [arg][0] != '-')
            endpoint = argv [arg];
        else {
            fprintf (stderr, "usage: proto_pub [ENDPOINT] [--rate N] [--count N]\n");
            return 1;
        }
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);

    zshm_pub_t *pub = zshm_pub_new (endpoint);
    if (!pub) {
        fprintf (stderr, "proto_pub: cannot publish on %s: %s\n", endpoint, strerror (errno));
        return 1;
    }
    instrument_t instruments [] = {
        { "AAPL", ZSHM__MARKET__VENUE__VENUE_XNAS, 189.25, 0.01, 0 },
        { "MSFT", ZSHM__MARKET__VENUE__VENUE_XNAS, 415.50, 0.01, 0 },
        { "ESZ5", ZSHM__MARKET__VENUE__VENUE_XCME, 6050.25, 0.25, 0 },
        { "VOD.L", ZSHM__MARKET__VENUE__VENUE_XLON, 72.55, 0.02, 0 },
    };
    size_t instrument_count = sizeof instruments / sizeof instruments [0];
    unsigned seed = 12345;

    //  One Tick, refilled for every message: nothing is allocated per send.
    Zshm__Market__Tick tick = ZSHM__MARKET__TICK__INIT;
    uint64_t interval_ns = rate > 0 ? (uint64_t) (1e9 / rate) : 0;
    uint64_t next_ns = s_now_ns (CLOCK_MONOTONIC);
    uint64_t sent = 0;
    while (!s_stop && (count < 0 || (long long) sent < count)) {
        instrument_t *instrument = &instruments [sent % instrument_count];
        int step = (int) (rand_r (&seed) % 3) - 1;
        instrument->mid += step * instrument->tick_size;
        uint64_t size = 100 * (1 + rand_r (&seed) % 10);
        instrument->volume += size;

        tick.symbol = (char *) instrument->symbol;
        tick.venue = instrument->venue;
        tick.exchange_time_ns = s_now_ns (CLOCK_REALTIME);
        tick.receive_time_ns = tick.exchange_time_ns;
        tick.sequence = sent + 1;
        tick.bid = instrument->mid - instrument->tick_size / 2;
        tick.ask = instrument->mid + instrument->tick_size / 2;
        tick.last = step > 0 ? tick.ask : tick.bid;
        tick.bid_size = 100 * (1 + rand_r (&seed) % 50);
        tick.ask_size = 100 * (1 + rand_r (&seed) % 50);
        tick.last_size = size;
        tick.volume = instrument->volume;
        if (zshm_pub_send_proto (pub, instrument->symbol, &tick.base)) {
            fprintf (stderr, "proto_pub: send failed: %s\n", strerror (errno));
            break;
        }
        sent++;
        if (interval_ns) {
            next_ns += interval_ns;
            uint64_t now = s_now_ns (CLOCK_MONOTONIC);
            if (next_ns > now) {
                struct timespec pause = { (time_t) ((next_ns - now) / 1000000000ULL),
                                          (long) ((next_ns - now) % 1000000000ULL) };
                nanosleep (&pause, NULL);
            }
        }
    }
    printf ("proto_pub: sent %llu ticks on %s\n", (unsigned long long) sent, endpoint);
    zshm_pub_destroy (&pub);
    return 0;
}
