/*  =========================================================================
    soak_sub - a soak subscriber: checks every message (soak.h)

    Usage: soak_sub LABEL ENDPOINT [--actor]

    Subscribes to everything on ENDPOINT, with zshm_sub (shm:// with its
    idle= option, or tcp://) or, with --actor, through the zshm_subscriber
    actor used as a SUB socket.  Every message must be [SOAK_TOPIC][data]
    with data exactly the message its sequence number says, and sequence
    numbers must rise; gaps are counted as loss.  Prints a progress line a
    minute and, on SIGINT or SIGTERM, a final line

        soak_sub LABEL received=N first=F last=L gaps=G bad=B disorder=D
                 sublost=S dropped=X events=E

    (sublost and dropped: what zshm_sub_lost/_dropped or the actor's LOST
    reply say; events: the actor's $ events) and exits 0.
    =========================================================================
*/

#define _GNU_SOURCE
#include "soak.h"

typedef struct {
    uint64_t received;          //  messages that passed
    uint64_t first;             //  first sequence number, 0 before any
    uint64_t last;              //  last sequence number
    uint64_t gaps;              //  sequence numbers skipped
    uint64_t bad;               //  messages failing the check
    uint64_t disorder;          //  sequence not above the previous one
    uint64_t events;            //  actor events and replies
} s_stats_t;

static void
s_check (s_stats_t *stats, const char *label, const void *topic, size_t topic_size,
         const void *data, size_t size, size_t frames)
{
    uint64_t seq = 0;
    int verdict = TU_MSG_SHORT;
    if (frames == 2 && topic_size == strlen (SOAK_TOPIC)
    &&  memcmp (topic, SOAK_TOPIC, topic_size) == 0 && size >= TU_MSG_MIN) {
        memcpy (&seq, data, sizeof seq);
        verdict = tu_msg_verify (data, size, seq, soak_size (seq));
    }
    if (verdict != TU_MSG_OK) {
        if (stats->bad++ < 10)
            fprintf (stderr, "soak_sub %s: bad message after %llu: %zu frames, %zu bytes, "
                     "verdict %d\n", label, (unsigned long long) stats->last, frames, size,
                     verdict);
        return;
    }
    if (stats->received && seq <= stats->last) {
        if (stats->disorder++ < 10)
            fprintf (stderr, "soak_sub %s: %llu after %llu\n", label, (unsigned long long) seq,
                     (unsigned long long) stats->last);
        return;
    }
    if (!stats->received)
        stats->first = seq;
    else
        stats->gaps += seq - stats->last - 1;
    stats->last = seq;
    stats->received++;
}

int
main (int argc, char *argv [])
{
    if (argc < 3 || argc > 4 || (argc == 4 && !streq (argv [3], "--actor"))) {
        fprintf (stderr, "usage: soak_sub LABEL ENDPOINT [--actor]\n");
        return 1;
    }
    const char *label = argv [1], *endpoint = argv [2];
    bool actor_mode = argc == 4;
    setvbuf (stdout, NULL, _IOLBF, 0);
    soak_catch_signals ();
    s_stats_t stats = { 0 };
    uint64_t sublost = 0, dropped = 0;
    int64_t start = tu_now_ns (), next_progress = start + 60 * 1000000000LL;

    zshm_sub_t *sub = NULL;
    zactor_t *actor = NULL;
    zpoller_t *poller = NULL;
    if (actor_mode) {
        actor = zshm_subscriber_new (endpoint, "");
        poller = actor ? zpoller_new (actor, NULL) : NULL;
    }
    else {
        sub = zshm_sub_new (endpoint, "");
        if (sub)
            zshm_sub_set_rcvtimeo (sub, 1000);
    }
    if (!sub && !poller) {
        fprintf (stderr, "soak_sub %s: cannot subscribe to %s: %s\n", label, endpoint,
                 strerror (errno));
        return 1;
    }
    while (!soak_stop) {
        int64_t now = tu_now_ns ();
        if (now >= next_progress) {
            printf ("soak_sub %s t=%llds received=%llu gaps=%llu bad=%llu\n", label,
                    (long long) ((now - start) / 1000000000LL),
                    (unsigned long long) stats.received, (unsigned long long) stats.gaps,
                    (unsigned long long) stats.bad);
            next_progress += 60 * 1000000000LL;
        }
        if (sub) {
            if (zshm_sub_recv (sub) < 0)
                continue;           //  EAGAIN, EPIPE, EINTR: look at the flag
            size_t topic_size, size;
            const void *topic = zshm_sub_frame (sub, 0, &topic_size);
            const void *data = zshm_sub_frame (sub, 1, &size);
            s_check (&stats, label, topic, topic_size, data, data ? size : 0,
                     zshm_sub_frames (sub));
            continue;
        }
        if (!zpoller_wait (poller, 1000))
            continue;
        zmsg_t *msg = zmsg_recv (actor);
        if (!msg)
            continue;
        if (zshm_subscriber_is_event (msg))
            stats.events++;
        else {
            zframe_t *topic = zmsg_first (msg);
            zframe_t *data = zmsg_next (msg);
            s_check (&stats, label, zframe_data (topic), zframe_size (topic),
                     data ? zframe_data (data) : NULL, data ? zframe_size (data) : 0,
                     zmsg_size (msg));
        }
        zmsg_destroy (&msg);
    }
    if (sub) {
        sublost = zshm_sub_lost (sub);
        dropped = zshm_sub_dropped (sub);
        zshm_sub_destroy (&sub);
    }
    else {
        //  Messages still queued in the pipe count as received if they
        //  come before the reply; the reply has the actor's counts.
        zstr_send (actor, "LOST");
        int64_t deadline = tu_now_ns () + 5000000000LL;
        while (tu_now_ns () < deadline) {
            if (!zpoller_wait (poller, 1000))
                continue;
            zmsg_t *msg = zmsg_recv (actor);
            if (!msg)
                break;
            bool done = false;
            if (zshm_subscriber_is_event (msg)) {
                char *name = zmsg_popstr (msg);
                if (name && streq (name, "$LOST")) {
                    char *lost = zmsg_popstr (msg), *drops = zmsg_popstr (msg);
                    sublost = lost ? strtoull (lost, NULL, 10) : 0;
                    dropped = drops ? strtoull (drops, NULL, 10) : 0;
                    free (lost);
                    free (drops);
                    done = true;
                }
                else
                    stats.events++;
                free (name);
            }
            else {
                zframe_t *topic = zmsg_first (msg);
                zframe_t *data = zmsg_next (msg);
                s_check (&stats, label, zframe_data (topic), zframe_size (topic),
                         data ? zframe_data (data) : NULL, data ? zframe_size (data) : 0,
                         zmsg_size (msg));
            }
            zmsg_destroy (&msg);
            if (done)
                break;
        }
        zpoller_destroy (&poller);
        zactor_destroy (&actor);
    }
    printf ("soak_sub %s received=%llu first=%llu last=%llu gaps=%llu bad=%llu disorder=%llu "
            "sublost=%llu dropped=%llu events=%llu\n", label,
            (unsigned long long) stats.received, (unsigned long long) stats.first,
            (unsigned long long) stats.last, (unsigned long long) stats.gaps,
            (unsigned long long) stats.bad, (unsigned long long) stats.disorder,
            (unsigned long long) sublost, (unsigned long long) dropped,
            (unsigned long long) stats.events);
    return 0;
}
