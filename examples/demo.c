/*  =========================================================================
    demo - zshm in one screen

    A publisher sends timestamped ticks into a shared-memory channel.  Two
    subscriber processes read it straight from the ring, one polling with
    the `backoff` idle strategy, one sleeping with `block`.  A zshm-bridge
    process serves the channel over ZeroMQ TCP, and a fourth process reads
    it there as any ZeroMQ SUB would.  Every second each subscriber reports
    its receive rate, one-way latency percentiles and losses.

        demo [--seconds N] [--rate MSGS_PER_SEC] [--no-bridge]

    Exits 0 when every subscriber received messages and the shm subscribers
    lost none.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zshm.h"

#define MAX_SAMPLES 1000000

typedef struct {
    uint64_t sent_ns;           //  CLOCK_MONOTONIC at publish
    uint64_t number;            //  1, 2, 3... per publisher
} tick_t;

//  One line a subscriber sends the parent every second.
typedef struct {
    int who;                    //  subscriber index
    int second;                 //  1, 2, 3... since start; 0 in the final one
    uint64_t received;          //  messages in the last second
    uint64_t total;             //  messages since start
    uint64_t lost;              //  messages lost since start
    double p50_us;              //  one-way latency percentiles, last second
    double p99_us;
    double max_us;
} report_t;

static volatile sig_atomic_t s_stop = 0;
//  Set by the demo, in memory shared with its subscriber processes, when
//  publishing is over: each sends a final report and exits.
static volatile int *s_done;

static void
s_on_signal (int signum)
{
    (void) signum;
    s_stop = 1;
}

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int
s_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

//  A subscriber process: read ticks, measure, report every second.
static void
s_subscriber (int who, const char *endpoint, int report_fd)
{
    //  Die with the demo, whatever happens to it.
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "tick");
    if (!sub) {
        fprintf (stderr, "demo: subscriber %s: %s\n", endpoint, strerror (errno));
        _exit (1);
    }
    zshm_sub_set_rcvtimeo (sub, 100);
    uint64_t *samples = (uint64_t *) malloc (MAX_SAMPLES * sizeof (uint64_t));
    size_t count = 0;
    uint64_t total = 0, gaps = 0, last_number = 0;
    uint64_t next_report = s_now_ns () + 1000000000ULL;
    int second = 0;
    while (!*s_done && !zsys_interrupted) {
        if (zshm_sub_recv (sub) > 1) {
            size_t size;
            const void *payload = zshm_sub_frame (sub, 1, &size);
            tick_t tick;
            if (size == sizeof tick) {
                memcpy (&tick, payload, sizeof tick);
                if (count < MAX_SAMPLES)
                    samples [count++] = s_now_ns () - tick.sent_ns;
                if (last_number && tick.number > last_number + 1)
                    gaps += tick.number - last_number - 1;
                last_number = tick.number;
                total++;
            }
        }
        uint64_t now = s_now_ns ();
        if (now >= next_report) {
            report_t report = { who, ++second, count, total, zshm_sub_lost (sub) + gaps, 0, 0, 0 };
            if (count) {
                qsort (samples, count, sizeof samples [0], s_compare);
                report.p50_us = samples [count / 2] / 1000.0;
                report.p99_us = samples [count * 99 / 100] / 1000.0;
                report.max_us = samples [count - 1] / 1000.0;
            }
            if (write (report_fd, &report, sizeof report) != sizeof report)
                break;
            count = 0;
            next_report += 1000000000ULL;
        }
    }
    //  The totals, for the summary.
    report_t last = { who, 0, 0, total, zshm_sub_lost (sub) + gaps, 0, 0, 0 };
    if (write (report_fd, &last, sizeof last) != sizeof last)
        perror ("demo: report");
    free (samples);
    zshm_sub_destroy (&sub);
    _exit (0);
}

//  The bridge serves plain clients on a port and other bridges on the next
//  one: find two free neighbours on loopback.
static int
s_free_port_pair (void)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        int port = 20000 + (int) ((getpid () + attempt * 7919) % 30000);
        int sockets [2] = { -1, -1 }, bound = 0;
        for (int index = 0; index < 2; index++) {
            struct sockaddr_in address = { 0 };
            address.sin_family = AF_INET;
            address.sin_port = htons ((uint16_t) (port + index));
            address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
            sockets [index] = socket (AF_INET, SOCK_STREAM, 0);
            if (sockets [index] >= 0
            &&  bind (sockets [index], (struct sockaddr *) &address, sizeof address) == 0)
                bound++;
        }
        for (int index = 0; index < 2; index++)
            if (sockets [index] >= 0)
                close (sockets [index]);
        if (bound == 2)
            return port;
    }
    return -1;
}

static pid_t
s_spawn_subscriber (int who, const char *endpoint, int report_fd)
{
    pid_t pid = fork ();
    if (pid == 0)
        s_subscriber (who, endpoint, report_fd);
    return pid;
}

int
main (int argc, char **argv)
{
    int seconds = 10, rate = 100000;
    bool bridge = true;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--seconds") == 0 && arg + 1 < argc)
            seconds = atoi (argv [++arg]);
        else
        if (strcmp (argv [arg], "--rate") == 0 && arg + 1 < argc)
            rate = atoi (argv [++arg]);
        else
        if (strcmp (argv [arg], "--no-bridge") == 0)
            bridge = false;
        else {
            fprintf (stderr, "usage: demo [--seconds N] [--rate MSGS_PER_SEC] [--no-bridge]\n");
            return strcmp (argv [arg], "--help") == 0 ? 0 : 1;
        }
    }
    if (seconds < 1 || seconds > 3600 || rate < 10000 || rate > 10000000) {
        fprintf (stderr, "demo: --seconds 1..3600, --rate 10000..10000000\n");
        return 1;
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    setvbuf (stdout, NULL, _IOLBF, 0);

    char channel [64], shm_endpoint [160], tcp_endpoint [64];
    snprintf (channel, sizeof channel, "demo-%d", (int) getpid ());
    snprintf (shm_endpoint, sizeof shm_endpoint, "shm://%s?capacity=65536&slot=128", channel);
    int port = s_free_port_pair ();
    if (port < 0) {
        fprintf (stderr, "demo: no two free TCP ports on 127.0.0.1\n");
        return 1;
    }
    snprintf (tcp_endpoint, sizeof tcp_endpoint, "tcp://127.0.0.1:%d", port);

    zshm_pub_t *pub = zshm_pub_new (shm_endpoint);
    if (!pub) {
        fprintf (stderr, "demo: cannot publish on %s: %s\n", shm_endpoint, strerror (errno));
        return 1;
    }
    s_done = (volatile int *) mmap (NULL, sizeof (int), PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int reports [2];
    if (s_done == MAP_FAILED || pipe (reports)) {
        perror ("demo: pipe");
        return 1;
    }
    const char *names [3] = { "shm sub, backoff", "shm sub, block", "tcp sub via bridge" };
    char endpoint_a [200], endpoint_b [200];
    snprintf (endpoint_a, sizeof endpoint_a, "shm://%s?idle=backoff", channel);
    snprintf (endpoint_b, sizeof endpoint_b, "shm://%s?idle=block", channel);
    pid_t children [4] = { 0 };
    int subscribers = bridge ? 3 : 2;
    children [0] = s_spawn_subscriber (0, endpoint_a, reports [1]);
    children [1] = s_spawn_subscriber (1, endpoint_b, reports [1]);
    if (bridge) {
        char source [80], bind [64];
        snprintf (source, sizeof source, "shm://%s", channel);
        snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", port);
        children [3] = fork ();
        if (children [3] == 0) {
            prctl (PR_SET_PDEATHSIG, SIGTERM);
            execl (ZSHM_BRIDGE_PATH, "zshm-bridge", source, bind, (char *) NULL);
            fprintf (stderr, "demo: cannot run %s: %s\n", ZSHM_BRIDGE_PATH, strerror (errno));
            _exit (1);
        }
        children [2] = s_spawn_subscriber (2, tcp_endpoint, reports [1]);
    }
    close (reports [1]);

    printf ("zshm demo: channel %s, %d msg/s for %d s%s\n", channel, rate, seconds,
            bridge ? ", bridged to " : "");
    if (bridge)
        printf ("           %s\n", tcp_endpoint);
    printf ("%4s  %-20s %10s %10s %10s %10s %10s\n", "sec", "subscriber", "msg/s", "p50 us",
            "p99 us", "max us", "lost");
    usleep (300000);            //  let subscribers and the bridge connect

    //  Publish a small burst every 100 us, at `rate` messages a second.
    tick_t tick = { 0, 0 };
    uint64_t start = s_now_ns ();
    uint64_t end = start + (uint64_t) seconds * 1000000000ULL;
    int per_tick = rate / 10000;
    uint64_t totals [3] = { 0 }, losts [3] = { 0 };
    struct timespec next;
    clock_gettime (CLOCK_MONOTONIC, &next);
    while (!s_stop && s_now_ns () < end) {
        for (int burst = 0; burst < per_tick; burst++) {
            tick.number++;
            tick.sent_ns = s_now_ns ();
            zshm_pub_send (pub, "tick", &tick, sizeof tick);
        }
        next.tv_nsec += 100000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
        //  Print whatever the subscribers reported, without waiting.
        report_t report;
        while (true) {
            struct timeval none = { 0, 0 };
            fd_set set;
            FD_ZERO (&set);
            FD_SET (reports [0], &set);
            if (select (reports [0] + 1, &set, NULL, NULL, &none) <= 0
            ||  read (reports [0], &report, sizeof report) != sizeof report)
                break;
            if (report.second == 0)
                continue;           //  a final report comes after the loop
            printf ("%4d  %-20s %10llu %10.1f %10.1f %10.1f %10llu\n", report.second,
                    names [report.who], (unsigned long long) report.received, report.p50_us,
                    report.p99_us, report.max_us, (unsigned long long) report.lost);
            fflush (stdout);
        }
    }
    usleep (300000);            //  let the last messages arrive
    //  Ask the subscribers for their totals and wait for them (2 s at most:
    //  a subscriber that does not answer is a failure, not a hang).
    *s_done = 1;
    int finals = 0;
    uint64_t deadline = s_now_ns () + 2000000000ULL;
    while (finals < subscribers && s_now_ns () < deadline) {
        struct timeval wait = { 0, 100000 };
        fd_set set;
        FD_ZERO (&set);
        FD_SET (reports [0], &set);
        report_t report;
        if (select (reports [0] + 1, &set, NULL, NULL, &wait) > 0
        &&  read (reports [0], &report, sizeof report) == sizeof report
        &&  report.second == 0) {
            totals [report.who] = report.total;
            losts [report.who] = report.lost;
            finals++;
        }
    }
    //  The bridge exits cleanly on SIGTERM and prints its statistics.
    for (int index = 0; index < 4; index++)
        if (children [index] > 0)
            kill (children [index], index == 3 ? SIGTERM : SIGKILL);
    for (int index = 0; index < 4; index++)
        if (children [index] > 0)
            waitpid (children [index], NULL, 0);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (channel);

    printf ("\npublished %llu messages\n", (unsigned long long) tick.number);
    int rc = 0;
    for (int index = 0; index < subscribers; index++) {
        printf ("%-20s received %llu, lost %llu\n", names [index],
                (unsigned long long) totals [index], (unsigned long long) losts [index]);
        if (totals [index] == 0 || (index < 2 && losts [index] > 0))
            rc = 1;
    }
    return rc;
}
