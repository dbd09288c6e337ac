/*  =========================================================================
    soak_pub - the soak's publisher: paced, self-proving messages (soak.h)

    Usage: soak_pub ENDPOINTS [--rate N]

    Publishes messages 1, 2, 3... on ENDPOINTS (as zshm_pub_new takes them)
    at N messages a second (default 20000), until SIGINT or SIGTERM; then
    prints "soak_pub sent=N last=SEQ late=K" and exits 0.  `late` counts
    the seconds in which it could not keep its rate (the machine was busy),
    so that a soak's figures say whether the rate was really offered.
    =========================================================================
*/

#define _GNU_SOURCE
#include "soak.h"

int
main (int argc, char *argv [])
{
    const char *endpoints = NULL;
    uint64_t rate = 20000;
    for (int index = 1; index < argc; index++) {
        if (streq (argv [index], "--rate") && index + 1 < argc)
            rate = strtoull (argv [++index], NULL, 10);
        else
        if (!endpoints && argv [index][0] != '-')
            endpoints = argv [index];
        else {
            fprintf (stderr, "usage: soak_pub ENDPOINTS [--rate N]\n");
            return 1;
        }
    }
    if (!endpoints || rate == 0) {
        fprintf (stderr, "usage: soak_pub ENDPOINTS [--rate N]\n");
        return 1;
    }
    soak_catch_signals ();
    zshm_pub_t *pub = zshm_pub_new (endpoints);
    if (!pub) {
        fprintf (stderr, "soak_pub: zshm_pub_new (%s): %s\n", endpoints, strerror (errno));
        return 1;
    }
    static unsigned char data [SOAK_SIZE_MAX];
    uint64_t seq = 0, late = 0, late_second = 0;
    int64_t start = tu_now_ns ();
    while (!soak_stop) {
        //  Send what is due by now: rate * elapsed, in bursts of at most
        //  1000 so that a stall is not followed by a flood
        int64_t now = tu_now_ns ();
        uint64_t due = (uint64_t) ((__int128) (now - start) * rate / 1000000000LL);
        if (due > seq + 1000) {
            uint64_t second = (uint64_t) ((now - start) / 1000000000LL);
            if (second != late_second) {
                late++;
                late_second = second;
            }
            due = seq + 1000;
        }
        if (seq >= due) {
            tu_sleep_ns (100000);
            continue;
        }
        while (seq < due && !soak_stop) {
            seq++;
            size_t size = soak_size (seq);
            tu_msg_fill (data, seq, size);
            if (zshm_pub_send (pub, SOAK_TOPIC, data, size)) {
                fprintf (stderr, "soak_pub: send %llu: %s\n", (unsigned long long) seq,
                         strerror (errno));
                return 1;
            }
        }
    }
    printf ("soak_pub sent=%llu last=%llu late=%llu\n", (unsigned long long) seq,
            (unsigned long long) seq, (unsigned long long) late);
    fflush (stdout);
    zshm_pub_destroy (&pub);
    return 0;
}
