/*  =========================================================================
    proto_sub - a protobuf ticker subscriber

    Receives zshm.market.Tick messages from examples/proto_pub and prints
    them with their age:

        proto_sub [ENDPOINT] [--topic PREFIX] [--count N] [--quiet]

    ENDPOINT defaults to shm://ticks; --topic subscribes to a symbol prefix
    (default: everything); --count exits after N ticks (default: until
    Ctrl-C); --quiet prints only the summary.  Exits 0, or 1 if it could
    not subscribe or received nothing.

    zshm_sub_recv_proto returns a Tick that lives in the subscriber's own
    arena until the next receive: nothing to free, nothing allocated per
    message.  A message of another type fails with EPROTO and is skipped;
    a publisher that goes away is reported (EPIPE) and waited for.
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
#include "market.pb-c.h"

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
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

int
main (int argc, char **argv)
{
    const char *endpoint = "shm://ticks";
    const char *topic_prefix = "";
    long long count = -1;
    bool quiet = false;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--topic") == 0 && arg + 1 < argc)
            topic_prefix = argv [++arg];
        else
        if (strcmp (argv [arg], "--count") == 0 && arg + 1 < argc)
            count = atoll (argv [++arg]);
        else
        if (strcmp (argv [arg], "--quiet") == 0)
            quiet = true;
        else
        if (argv [arg][0] != '-')
            endpoint = argv [arg];
        else {
            fprintf (stderr, "usage: proto_sub [ENDPOINT] [--topic PREFIX] [--count N] [--quiet]\n");
            return 1;
        }
    }
    //  No SA_RESTART: Ctrl-C interrupts a waiting receive (EINTR).
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);

    zshm_sub_t *sub = zshm_sub_new (endpoint, topic_prefix);
    if (!sub) {
        fprintf (stderr, "proto_sub: cannot subscribe to %s: %s\n", endpoint, strerror (errno));
        return 1;
    }
    //  Wake up every 100 ms to notice Ctrl-C even with a spinning wait.
    zshm_sub_set_rcvtimeo (sub, 100);

    uint64_t received = 0, other_types = 0;
    while (!s_stop && (count < 0 || (long long) received < count)) {
        const char *topic;
        Zshm__Market__Tick *tick = (Zshm__Market__Tick *)
            zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, &topic);
        if (!tick) {
            if (errno == EPROTO) {
                //  Not a Tick: the raw message is still there to inspect.
                if (!quiet)
                    printf ("(skipped a %s)\n", *zshm_sub_type (sub) ? zshm_sub_type (sub)
                                                                     : "message of no type");
                other_types++;
            }
            else
            if (errno == EPIPE)
                fprintf (stderr, "proto_sub: the publisher went away; waiting for it\n");
            else
            if (errno != EAGAIN && errno != EINTR) {
                fprintf (stderr, "proto_sub: %s\n", strerror (errno));
                break;
            }
            continue;
        }
        received++;
        if (!quiet) {
            double age_us = (double) (int64_t) (s_now_ns () - tick->exchange_time_ns) / 1e3;
            printf ("%-6s #%-8" PRIu64 " bid %10.2f x %-5" PRIu64 " ask %10.2f x %-5" PRIu64
                    " last %10.2f  vol %-9" PRIu64 " %8.1f us old\n",
                    topic, tick->sequence, tick->bid, tick->bid_size, tick->ask,
                    tick->ask_size, tick->last, tick->volume, age_us);
        }
    }
    printf ("proto_sub: received %" PRIu64 " ticks, %" PRIu64 " other messages, %" PRIu64
            " lost\n", received, other_types, zshm_sub_lost (sub));
    zshm_sub_destroy (&sub);
    return received ? 0 : 1;
}
