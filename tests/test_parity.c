/*  =========================================================================
    test_parity - one pub/sub scenario, run against CZMQ zsock PUB/SUB over
    ipc:// and against zshm (zshm_pub/zshm_sub directly, and the
    zshm_publisher/zshm_subscriber actors): all three must deliver exactly
    the same multipart messages, byte for byte, in the same order.

    Usage: test_parity [-v]

    The scenario: several prefix subscriptions at once, a binary topic
    with NUL bytes, an empty topic, an empty middle frame, a single-frame
    message, a 300 KiB message over 1 KiB slots, subscribing to everything,
    and unsubscribing (what is published afterwards must not arrive).
    The messages a correct SUB socket delivers are also computed from a
    small model of prefix matching, and ZeroMQ's list is checked against
    it, so a scenario that proved nothing would fail too.

    Phases are separated by a probe: subscribe to "sync.N", publish it
    until it arrives, unsubscribe.  Subscriptions take effect in order on
    every transport (on ZeroMQ they travel to the PUB socket in order), so
    once the probe arrives every change before it is in force, and every
    message published before it has arrived.  This is also how ZeroMQ's
    slow joiner is waited out: nothing of the scenario is lost to it.
    Probes are not part of the compared lists.  No topic starts with '$',
    which the actors reserve (see zshm_publisher.h).
    =========================================================================
*/

#define _GNU_SOURCE
#include <inttypes.h>

#include "testutil.h"
#include "zshm_pub.h"
#include "zshm_sub.h"
#include "zshm_publisher.h"
#include "zshm_subscriber.h"

static bool s_verbose = false;

#define BIG_SIZE (300 * 1024)

//  One transport under test.
typedef struct _transport_t transport_t;
struct _transport_t {
    const char *name;                           //  for messages
    void (*publish) (transport_t *, zmsg_t *);  //  publish a copy of msg
    void (*change) (transport_t *, const void *, size_t, bool);  //  (un)subscribe
    zmsg_t *(*recv) (transport_t *, int);       //  next message, or NULL
    zsock_t *pub_sock, *sub_sock;               //  zmq
    zshm_pub_t *pub;                            //  direct
    zshm_sub_t *sub;                            //  direct
    zactor_t *publisher, *subscriber;           //  actors
    zlist_t *received;                          //  zmsg_t, scenario only
};

//  --------------------------------------------------------------------------
//  ZeroMQ PUB/SUB over ipc://

static void
s_zmq_publish (transport_t *self, zmsg_t *msg)
{
    zmsg_t *copy = zmsg_dup (msg);
    CHECK (zmsg_send (&copy, self->pub_sock) == 0);
}

static void
s_zmq_change (transport_t *self, const void *prefix, size_t size, bool on)
{
    CHECK (zmq_setsockopt (zsock_resolve (self->sub_sock), on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE,
                           prefix, size) == 0);
}

static zmsg_t *
s_zmq_recv (transport_t *self, int timeout)
{
    zsock_set_rcvtimeo (self->sub_sock, timeout);
    return zmsg_recv (self->sub_sock);
}

//  --------------------------------------------------------------------------
//  zshm_pub / zshm_sub, called directly

static void
s_direct_publish (transport_t *self, zmsg_t *msg)
{
    zmsg_t *copy = zmsg_dup (msg);
    CHECKF (zshm_pub_send_msg (self->pub, &copy) == 0, "zshm_pub_send_msg");
    CHECK (copy == NULL);
}

static void
s_direct_change (transport_t *self, const void *prefix, size_t size, bool on)
{
    int rc = on ? zshm_sub_subscribe_bytes (self->sub, prefix, size)
                : zshm_sub_unsubscribe_bytes (self->sub, prefix, size);
    CHECK (rc == 0);
}

static zmsg_t *
s_direct_recv (transport_t *self, int timeout)
{
    zshm_sub_set_rcvtimeo (self->sub, timeout);
    zmsg_t *msg = zshm_sub_recv_msg (self->sub);
    CHECKF (msg || errno == EAGAIN, "zshm_sub_recv_msg");
    return msg;
}

//  --------------------------------------------------------------------------
//  zshm_publisher / zshm_subscriber actors

static void
s_actor_publish (transport_t *self, zmsg_t *msg)
{
    zmsg_t *copy = zmsg_dup (msg);
    CHECK (zmsg_send (&copy, self->publisher) == 0);
}

static void
s_actor_change (transport_t *self, const void *prefix, size_t size, bool on)
{
    CHECK (zsock_send (self->subscriber, "sb", on ? "SUBSCRIBE" : "UNSUBSCRIBE",
                       prefix, size) == 0);
}

static zmsg_t *
s_actor_recv (transport_t *self, int timeout)
{
    zsock_set_rcvtimeo (self->subscriber, timeout);
    zmsg_t *msg = zmsg_recv (self->subscriber);
    CHECKF (!msg || !zshm_subscriber_is_event (msg), "an event from the subscriber actor");
    return msg;
}

//  --------------------------------------------------------------------------
//  The scenario

//  Wait for phase `phase`'s probe, recording whatever else arrives first.
//
//  A probe can also pass through a subscription that matches it and is
//  being removed, i.e. "": then its arrival proves nothing.  So while ""
//  should be off (`everything` false), each probe "sync.N.K" follows a
//  canary "sync-canary.N.K" that only "" matches.  Messages arrive in the
//  order published, so a probe that comes without its canary right before
//  it was filtered after "" went, and after "sync.N" came: every change
//  before them is in force.
static void
s_sync (transport_t *self, int phase, bool everything)
{
    char prefix [32], probe [48], canary [48];
    snprintf (prefix, sizeof prefix, "sync.%d.", phase);
    self->change (self, prefix, strlen (prefix), true);
    bool arrived = false;
    int last_canary = -1;
    for (int attempt = 0; attempt < 1000 && !arrived; attempt++) {
        snprintf (probe, sizeof probe, "sync.%d.%d", phase, attempt);
        snprintf (canary, sizeof canary, "sync-canary.%d.%d", phase, attempt);
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, canary);
        if (!everything)
            self->publish (self, msg);
        zframe_reset (zmsg_first (msg), probe, strlen (probe));
        self->publish (self, msg);
        zmsg_destroy (&msg);
        zmsg_t *got;
        while (!arrived && (got = self->recv (self, 10))) {
            //  A copy for sscanf; the message itself stays untouched
            char *topic = zframe_strdup (zmsg_first (got));
            int got_phase, got_attempt;
            if (sscanf (topic, "sync-canary.%d.%d", &got_phase, &got_attempt) == 2) {
                if (got_phase == phase)
                    last_canary = got_attempt;
            }
            else
            if (sscanf (topic, "sync.%d.%d", &got_phase, &got_attempt) == 2) {
                if (got_phase == phase)
                    arrived = everything || last_canary != got_attempt;
            }
            else {
                zlist_append (self->received, got);
                got = NULL;
            }
            zstr_free (&topic);
            zmsg_destroy (&got);
        }
    }
    CHECKF (arrived, "%s: probe of phase %d never arrived", self->name, phase);
    self->change (self, prefix, strlen (prefix), false);
}

static void
s_add (zlist_t *batch, size_t frames, ...)
{
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, frames);
    for (size_t index = 0; index < frames; index++) {
        const void *data = va_arg (args, const void *);
        size_t size = va_arg (args, size_t);
        zmsg_addmem (msg, data, size);
    }
    va_end (args);
    zlist_append (batch, msg);
}

#define STR(text) (text), strlen (text)

//  A subscription change at a point in the scenario.
typedef struct {
    const void *prefix;         //  bytes
    size_t size;                //  their count
    bool on;                    //  subscribe, or unsubscribe
} change_t;

//  One step: subscription changes, then a batch of messages.
typedef struct {
    change_t changes [4];       //  applied first, in order
    size_t change_count;        //  how many
    zlist_t *batch;             //  zmsg_t to publish, owned here
} step_t;

#define STEPS 3
static step_t s_steps [STEPS];
static unsigned char *s_big;

static const char s_bin_prefix [] = { 'b', 0 };
static const char s_bin_topic [] = { 'b', 0, 1, 0 };
static const char s_bin_topic2 [] = { 'b', 0, 9 };
static const char s_nul_topic [] = { 0 };

static void
s_scenario_new (void)
{
    s_big = (unsigned char *) malloc (BIG_SIZE);
    CHECK (s_big);
    for (size_t index = 0; index < BIG_SIZE; index++)
        s_big [index] = (unsigned char) (index * 7 + index / 251);

    //  Step 0: three prefixes, one binary; a mix that matches and not
    step_t *step = &s_steps [0];
    step->changes [0] = (change_t) { "a.", 2, true };
    step->changes [1] = (change_t) { s_bin_prefix, sizeof s_bin_prefix, true };
    step->changes [2] = (change_t) { "zz", 2, true };
    step->change_count = 3;
    step->batch = zlist_new ();
    s_add (step->batch, 2, STR ("a.one"), STR ("1"));
    s_add (step->batch, 2, STR ("b.no"), STR ("x"));
    s_add (step->batch, 2, s_bin_topic, sizeof s_bin_topic, STR ("binary topic"));
    s_add (step->batch, 3, STR ("zz"), "", (size_t) 0, STR ("after an empty frame"));
    s_add (step->batch, 2, STR ("a.big"), s_big, (size_t) BIG_SIZE);
    s_add (step->batch, 2, "", (size_t) 0, STR ("empty topic, not subscribed"));
    s_add (step->batch, 2, STR ("a"), STR ("shorter than the prefix"));
    s_add (step->batch, 2, STR ("a."), "", (size_t) 0);
    s_add (step->batch, 1, STR ("zzz"));
    s_add (step->batch, 3, STR ("zz.multi"), STR ("one"), STR ("two"));

    //  Step 1: everything, so the empty topic arrives
    step = &s_steps [1];
    step->changes [0] = (change_t) { "", 0, true };
    step->change_count = 1;
    step->batch = zlist_new ();
    s_add (step->batch, 2, "", (size_t) 0, STR ("empty topic"));
    s_add (step->batch, 2, STR ("q"), STR ("anything"));
    s_add (step->batch, 2, s_nul_topic, sizeof s_nul_topic, STR ("a NUL topic"));
    s_add (step->batch, 3, "", (size_t) 0, "", (size_t) 0, "", (size_t) 0);

    //  Step 2: unsubscribe everything and "a."; those no longer arrive
    step = &s_steps [2];
    step->changes [0] = (change_t) { "", 0, false };
    step->changes [1] = (change_t) { "a.", 2, false };
    step->change_count = 2;
    step->batch = zlist_new ();
    s_add (step->batch, 2, STR ("a.after"), STR ("unsubscribed"));
    s_add (step->batch, 2, STR ("q"), STR ("unsubscribed"));
    s_add (step->batch, 2, "", (size_t) 0, STR ("unsubscribed"));
    s_add (step->batch, 2, STR ("zz.still"), STR ("subscribed"));
    s_add (step->batch, 2, s_bin_topic2, sizeof s_bin_topic2, STR ("binary again"));
    s_add (step->batch, 2, STR ("a.big.after"), s_big, (size_t) BIG_SIZE);
    s_add (step->batch, 1, STR ("zz"));
}

static void
s_scenario_destroy (void)
{
    for (int index = 0; index < STEPS; index++) {
        zmsg_t *msg;
        while ((msg = (zmsg_t *) zlist_pop (s_steps [index].batch)))
            zmsg_destroy (&msg);
        zlist_destroy (&s_steps [index].batch);
    }
    free (s_big);
}

static void
s_run (transport_t *self)
{
    self->received = zlist_new ();
    s_sync (self, 0, false);    //  the subscriber follows the publisher
    int phase = 1;
    int everything = 0;         //  "" subscriptions in force
    for (int index = 0; index < STEPS; index++) {
        step_t *step = &s_steps [index];
        for (size_t change = 0; change < step->change_count; change++) {
            change_t *item = &step->changes [change];
            self->change (self, item->prefix, item->size, item->on);
            if (item->size == 0)
                everything += item->on ? 1 : -1;
        }
        s_sync (self, phase++, everything > 0);
        for (zmsg_t *msg = (zmsg_t *) zlist_first (step->batch); msg;
             msg = (zmsg_t *) zlist_next (step->batch))
            self->publish (self, msg);
        s_sync (self, phase++, everything > 0);
    }
    if (s_verbose)
        printf ("  %s: %zu messages\n", self->name, zlist_size (self->received));
}

//  What a SUB socket must deliver: a model of counted prefix subscriptions.
static zlist_t *
s_model (void)
{
    zlist_t *expected = zlist_new ();
    change_t active [16];
    size_t count = 0;
    for (int index = 0; index < STEPS; index++) {
        step_t *step = &s_steps [index];
        for (size_t change = 0; change < step->change_count; change++) {
            change_t *item = &step->changes [change];
            if (item->on)
                active [count++] = *item;
            else
                for (size_t which = 0; which < count; which++)
                    if (active [which].size == item->size
                        && memcmp (active [which].prefix, item->prefix, item->size) == 0) {
                        active [which] = active [--count];
                        break;
                    }
        }
        for (zmsg_t *msg = (zmsg_t *) zlist_first (step->batch); msg;
             msg = (zmsg_t *) zlist_next (step->batch)) {
            zframe_t *topic = zmsg_first (msg);
            for (size_t which = 0; which < count; which++)
                if (zframe_size (topic) >= active [which].size
                    && memcmp (zframe_data (topic), active [which].prefix,
                               active [which].size) == 0) {
                    zlist_append (expected, zmsg_dup (msg));
                    break;
                }
        }
    }
    return expected;
}

//  Compare two lists of messages byte for byte; fail naming the first
//  difference.
static void
s_dump (zlist_t *list, const char *name)
{
    printf ("  %s:\n", name);
    for (zmsg_t *msg = (zmsg_t *) zlist_first (list); msg; msg = (zmsg_t *) zlist_next (list)) {
        printf ("   ");
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
            size_t size = zframe_size (frame);
            const unsigned char *data = zframe_data (frame);
            printf (" [");
            for (size_t index = 0; index < size && index < 24; index++)
                printf (data [index] >= 32 && data [index] < 127 ? "%c" : "\\x%02x", data [index]);
            printf (size > 24 ? "...%zu bytes]" : "]", size);
        }
        printf ("\n");
    }
}

static void
s_compare (zlist_t *left, const char *left_name, zlist_t *right, const char *right_name)
{
    if (zlist_size (left) != zlist_size (right) || s_verbose) {
        s_dump (left, left_name);
        s_dump (right, right_name);
    }
    CHECKF (zlist_size (left) == zlist_size (right), "%s delivered %zu messages, %s %zu",
            left_name, zlist_size (left), right_name, zlist_size (right));
    zmsg_t *one = (zmsg_t *) zlist_first (left);
    zmsg_t *two = (zmsg_t *) zlist_first (right);
    for (size_t index = 0; one && two; index++) {
        CHECKF (zmsg_size (one) == zmsg_size (two),
                "message %zu: %s has %zu frames, %s %zu", index, left_name, zmsg_size (one),
                right_name, zmsg_size (two));
        zframe_t *frame_one = zmsg_first (one);
        zframe_t *frame_two = zmsg_first (two);
        for (size_t frame = 0; frame_one; frame++) {
            CHECKF (zframe_eq (frame_one, frame_two),
                    "message %zu frame %zu differs: %s %zu bytes, %s %zu", index, frame,
                    left_name, zframe_size (frame_one), right_name, zframe_size (frame_two));
            frame_one = zmsg_next (one);
            frame_two = zmsg_next (two);
        }
        one = (zmsg_t *) zlist_next (left);
        two = (zmsg_t *) zlist_next (right);
    }
}

static void
s_free_list (zlist_t **list_p)
{
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (*list_p)))
        zmsg_destroy (&msg);
    zlist_destroy (list_p);
}

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && streq (argv [1], "-v");
    tu_require_shm ("test_parity");
    s_scenario_new ();
    zlist_t *expected = s_model ();

    //  ZeroMQ over ipc://, a path in /tmp
    char path [128], endpoint [160];
    snprintf (path, sizeof path, "/tmp/zshm-parity-%d.ipc", (int) getpid ());
    snprintf (endpoint, sizeof endpoint, "ipc://%s", path);
    transport_t zmq = { .name = "zsock ipc", .publish = s_zmq_publish,
                         .change = s_zmq_change, .recv = s_zmq_recv };
    zmq.pub_sock = zsock_new_pub (endpoint);
    CHECKF (zmq.pub_sock, "zsock_new_pub (%s)", endpoint);
    zmq.sub_sock = zsock_new_sub (endpoint, NULL);
    CHECKF (zmq.sub_sock, "zsock_new_sub (%s)", endpoint);
    s_run (&zmq);
    zsock_destroy (&zmq.sub_sock);
    zsock_destroy (&zmq.pub_sock);
    unlink (path);

    //  zshm_pub / zshm_sub, 1 KiB slots: the 300 KiB message is fragmented
    char name [64], pub_endpoint [160], sub_endpoint [160];
    tu_channel (name, sizeof name, "parity");
    snprintf (pub_endpoint, sizeof pub_endpoint, "shm://%s?slot=1024&capacity=1024", name);
    snprintf (sub_endpoint, sizeof sub_endpoint, "shm://%s?idle=yield", name);
    transport_t direct = { .name = "zshm direct", .publish = s_direct_publish,
                            .change = s_direct_change, .recv = s_direct_recv };
    direct.pub = zshm_pub_new (pub_endpoint);
    CHECKF (direct.pub, "zshm_pub_new (%s)", pub_endpoint);
    direct.sub = zshm_sub_new (sub_endpoint, NULL);
    CHECKF (direct.sub, "zshm_sub_new (%s)", sub_endpoint);
    s_run (&direct);
    CHECKF (zshm_sub_lost (direct.sub) == 0, "direct subscriber lost %" PRIu64,
            zshm_sub_lost (direct.sub));
    zshm_sub_destroy (&direct.sub);
    zshm_pub_destroy (&direct.pub);
    zshm_ring_unlink (name);

    //  The actors, on another channel with the same layout
    tu_channel (name, sizeof name, "parity");
    snprintf (pub_endpoint, sizeof pub_endpoint, "shm://%s?slot=1024&capacity=1024", name);
    snprintf (sub_endpoint, sizeof sub_endpoint, "shm://%s?idle=yield", name);
    transport_t actors = { .name = "zshm actors", .publish = s_actor_publish,
                            .change = s_actor_change, .recv = s_actor_recv };
    actors.publisher = zshm_publisher_new (pub_endpoint);
    CHECKF (actors.publisher, "zshm_publisher_new (%s)", pub_endpoint);
    actors.subscriber = zshm_subscriber_new (sub_endpoint, NULL);
    CHECKF (actors.subscriber, "zshm_subscriber_new (%s)", sub_endpoint);
    s_run (&actors);
    zstr_send (actors.subscriber, "LOST");
    char *tag = NULL, *lost = NULL, *dropped = NULL;
    zsock_set_rcvtimeo (actors.subscriber, 10000);
    CHECK (zstr_recvx (actors.subscriber, &tag, &lost, &dropped, NULL) == 3);
    CHECKF (streq (tag, "$LOST") && streq (lost, "0") && streq (dropped, "0"),
            "subscriber actor: %s lost %s dropped %s", tag, lost, dropped);
    zstr_free (&tag);
    zstr_free (&lost);
    zstr_free (&dropped);
    zactor_destroy (&actors.subscriber);
    zactor_destroy (&actors.publisher);
    zshm_ring_unlink (name);

    //  ZeroMQ against the model, then zshm against ZeroMQ
    s_compare (zmq.received, "zsock", expected, "the model");
    s_compare (direct.received, "zshm direct", zmq.received, "zsock");
    s_compare (actors.received, "zshm actors", zmq.received, "zsock");
    if (s_verbose)
        printf ("  all three delivered the same %zu messages\n", zlist_size (expected));

    s_free_list (&zmq.received);
    s_free_list (&direct.received);
    s_free_list (&actors.received);
    s_free_list (&expected);
    s_scenario_destroy ();
    printf ("test_parity: OK\n");
    return TU_PASS;
}
