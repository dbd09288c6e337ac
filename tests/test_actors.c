/*  =========================================================================
    test_actors - the zshm_publisher and zshm_subscriber actors, used the
    way CZMQ programs use PUB and SUB sockets

    Usage: test_actors [-v]

    Sending with zstr_sendx and zmsg_send, receiving with zstr_recvx and
    zmsg_recv, zpoller over two actors, zloop_reader on an actor, the
    SUBSCRIBE/UNSUBSCRIBE/LOST/HWM/EVENTS commands, the '$' rule, failed
    starts, drops at the pipe's high-water mark (and a prompt $TERM with a
    full pipe), and the publisher-dead/back events, in-process and with a
    publisher process killed by SIGKILL.
    =========================================================================
*/

#define _GNU_SOURCE
#include <inttypes.h>
#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"
#include "zshm_pub.h"
#include "zshm_sub.h"
#include "zshm_publisher.h"
#include "zshm_subscriber.h"

static bool s_verbose = false;

//  How long any single receive may take before the test fails, ms.
#define RECV_TIMEOUT 10000

//  The whole program's deadline: a hang fails rather than stalls CI.
#define WATCHDOG_S 120

static void
s_watchdog (int signum)
{
    static const char text [] = "test_actors: FAIL, watchdog expired (a hang)\n";
    if (write (2, text, sizeof text - 1) < 0)
        _exit (TU_FAIL);
    _exit (TU_FAIL);
}

static zactor_t *
s_subscriber (const char *endpoint, const char *subscribe)
{
    zactor_t *sub = zshm_subscriber_new (endpoint, subscribe);
    CHECKF (sub, "zshm_subscriber_new (%s)", endpoint);
    zsock_set_rcvtimeo (sub, RECV_TIMEOUT);
    if (s_verbose)
        zstr_send (sub, "VERBOSE");
    return sub;
}

static zactor_t *
s_publisher (const char *endpoint)
{
    zactor_t *pub = zshm_publisher_new (endpoint);
    CHECKF (pub, "zshm_publisher_new (%s)", endpoint);
    return pub;
}

static bool
s_topic_is (zmsg_t *msg, const char *topic)
{
    return msg && zmsg_first (msg) && zframe_streq (zmsg_first (msg), topic);
}

static bool
s_topic_starts (zmsg_t *msg, const char *prefix)
{
    zframe_t *first = msg ? zmsg_first (msg) : NULL;
    size_t length = strlen (prefix);
    return first && zframe_size (first) >= length
        && memcmp (zframe_data (first), prefix, length) == 0;
}

static void
s_discard_first (zmsg_t *msg)
{
    zframe_t *frame = zmsg_pop (msg);
    zframe_destroy (&frame);
}

//  Next message from the actor that is not a synchronisation probe;
//  fails the test on timeout.
static zmsg_t *
s_recv (zactor_t *sub)
{
    while (true) {
        zmsg_t *msg = zmsg_recv (sub);
        CHECKF (msg, "no message from the subscriber actor within %d ms", RECV_TIMEOUT);
        if (!s_topic_starts (msg, "sync."))
            return msg;
        zmsg_destroy (&msg);
    }
}

//  Receive [topic][body] and check both.
static void
s_expect (zactor_t *sub, const char *topic, const char *body)
{
    zmsg_t *msg = s_recv (sub);
    char *got_topic = zmsg_popstr (msg);
    char *got_body = zmsg_popstr (msg);
    CHECKF (got_topic && streq (got_topic, topic) && got_body && streq (got_body, body)
            && zmsg_size (msg) == 0,
            "expected [%s][%s], got [%s][%s] and %zu more frames", topic, body,
            got_topic ? got_topic : "-", got_body ? got_body : "-", zmsg_size (msg));
    zstr_free (&got_topic);
    zstr_free (&got_body);
    zmsg_destroy (&msg);
}

//  Send a probe through `send` until the subscriber actor (subscribed to
//  "sync.") delivers one: it then follows the channel.
typedef void (s_send_fn) (void *pub, const char *topic);

static void
s_send_actor (void *pub, const char *topic)
{
    CHECK (zstr_sendx (pub, topic, "probe", NULL) == 0);
}

static void
s_send_direct (void *pub, const char *topic)
{
    CHECK (zshm_pub_send ((zshm_pub_t *) pub, topic, "probe", 5) == 0);
}

static void
s_sync (s_send_fn *send, void *pub, zactor_t *sub)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    for (int attempt = 0; attempt < 2000; attempt++) {
        send (pub, "sync.probe");
        if (zpoller_wait (poller, 5)) {
            zmsg_t *msg = zmsg_recv (sub);
            bool probe = s_topic_starts (msg, "sync.");
            zmsg_destroy (&msg);
            CHECKF (probe, "a message other than a probe while synchronising");
            zpoller_destroy (&poller);
            return;
        }
    }
    FAIL ("the subscriber actor never received a probe");
}

//  Send LOST and read up to its reply, skipping probes; anything else
//  before the reply fails.  Returns lost and dropped.  Once the reply is
//  in, every command sent before LOST is in force.
static void
s_lost_ex (zactor_t *sub, uint64_t *lost_p, uint64_t *dropped_p, bool skip_probes)
{
    CHECK (zstr_send (sub, "LOST") == 0);
    zmsg_t *msg = skip_probes ? s_recv (sub) : zmsg_recv (sub);
    CHECKF (s_topic_is (msg, "$LOST") && zmsg_size (msg) == 3, "expected the $LOST reply");
    CHECK (zshm_subscriber_is_event (msg));
    s_discard_first (msg);
    char *lost = zmsg_popstr (msg);
    char *dropped = zmsg_popstr (msg);
    if (lost_p)
        *lost_p = strtoull (lost, NULL, 10);
    if (dropped_p)
        *dropped_p = strtoull (dropped, NULL, 10);
    zstr_free (&lost);
    zstr_free (&dropped);
    zmsg_destroy (&msg);
}

static void
s_lost (zactor_t *sub, uint64_t *lost_p, uint64_t *dropped_p)
{
    s_lost_ex (sub, lost_p, dropped_p, true);
}

//  --------------------------------------------------------------------------
//  Strings and multipart messages, actor to actor

static void
s_test_send_recv (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "actors");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *pub = s_publisher (endpoint);
    zactor_t *sub = s_subscriber (endpoint, "ticks.");
    zstr_sendx (sub, "SUBSCRIBE", "sync.", NULL);
    s_sync (s_send_actor, pub, sub);

    //  zstr_sendx in, zstr_recvx out
    CHECK (zstr_sendx (pub, "ticks.AAPL", "182.50", NULL) == 0);
    CHECK (zstr_sendx (pub, "other", "filtered", NULL) == 0);
    char *topic = NULL, *price = NULL;
    CHECK (zstr_recvx (sub, &topic, &price, NULL) == 2);
    CHECKF (streq (topic, "ticks.AAPL") && streq (price, "182.50"), "got %s %s", topic, price);
    zstr_free (&topic);
    zstr_free (&price);

    //  zmsg_send in, zmsg_recv out: empty frames survive, binary bytes too
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "ticks.MSFT");
    zmsg_addmem (msg, NULL, 0);
    unsigned char binary [256];
    for (size_t index = 0; index < sizeof binary; index++)
        binary [index] = (unsigned char) index;
    zmsg_addmem (msg, binary, sizeof binary);
    zmsg_addmem (msg, NULL, 0);
    CHECK (zmsg_send (&msg, pub) == 0 && msg == NULL);
    msg = s_recv (sub);
    CHECK (zmsg_size (msg) == 4);
    CHECK (zframe_streq (zmsg_first (msg), "ticks.MSFT"));
    CHECK (zframe_size (zmsg_next (msg)) == 0);
    zframe_t *frame = zmsg_next (msg);
    CHECK (zframe_size (frame) == sizeof binary
           && memcmp (zframe_data (frame), binary, sizeof binary) == 0);
    CHECK (zframe_size (zmsg_next (msg)) == 0);
    zmsg_destroy (&msg);

    //  zsock_send pictures work on the actor too
    uint32_t tick = 0xCAFE;
    CHECK (zsock_send (pub, "sb", "ticks.BIN", &tick, sizeof tick) == 0);
    msg = s_recv (sub);
    CHECK (zmsg_size (msg) == 2 && zframe_streq (zmsg_first (msg), "ticks.BIN"));
    frame = zmsg_next (msg);
    CHECK (zframe_size (frame) == sizeof tick && memcmp (zframe_data (frame), &tick, 4) == 0);
    zmsg_destroy (&msg);

    //  The publisher's $STATS counts, after everything sent before it:
    //  the probes, four messages, and nothing failed
    CHECK (zstr_send (pub, "$STATS") == 0);
    char *tag = NULL, *published = NULL, *failed = NULL;
    CHECK (zstr_recvx (pub, &tag, &published, &failed, NULL) == 3);
    CHECK (streq (tag, "$STATS") && streq (failed, "0"));
    CHECKF (strtoull (published, NULL, 10) >= 5, "published %s", published);
    zstr_free (&tag);
    zstr_free (&published);
    zstr_free (&failed);

    zactor_destroy (&sub);
    zactor_destroy (&pub);
    CHECK (sub == NULL && pub == NULL);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  send/recv: ok\n");
}

//  --------------------------------------------------------------------------
//  No slow joiner: on an existing channel, what is published once the
//  constructor has returned arrives, without probing first

static void
s_test_joiner (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "joiner");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    CHECK (zshm_pub_send (pub, "before", "x", 1) == 0);
    for (int round = 0; round < 20; round++) {
        zactor_t *sub = s_subscriber (endpoint, "");
        char body [16];
        snprintf (body, sizeof body, "%d", round);
        CHECK (zshm_pub_send (pub, "first", body, strlen (body)) == 0);
        s_expect (sub, "first", body);
        zactor_destroy (&sub);
    }
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  no slow joiner: ok\n");
}

//  --------------------------------------------------------------------------
//  The subscriber actor on tcp://, fed by a plain zsock PUB socket

static void
s_send_zsock (void *pub, const char *topic)
{
    CHECK (zstr_sendx (pub, topic, "probe", NULL) == 0);
}

static void
s_test_tcp (void)
{
    zsock_t *pub = zsock_new_pub ("tcp://127.0.0.1:*");
    CHECK (pub);
    const char *endpoint = zsock_endpoint (pub);
    CHECK (endpoint);
    zactor_t *sub = s_subscriber (endpoint, "sync.");
    s_sync (s_send_zsock, pub, sub);

    //  The subscription travels to the PUB socket: probe under it until
    //  one arrives, then skip the late probes
    zstr_sendx (sub, "SUBSCRIBE", "tcp.", NULL);
    zpoller_t *poller = zpoller_new (sub, NULL);
    zmsg_t *msg = NULL;
    for (int attempt = 0; attempt < 2000 && !s_topic_is (msg, "tcp.probe"); attempt++) {
        zmsg_destroy (&msg);
        zstr_sendx (pub, "tcp.probe", "", NULL);
        if (zpoller_wait (poller, 5))
            msg = zmsg_recv (sub);
    }
    CHECKF (s_topic_is (msg, "tcp.probe"), "the tcp. subscription never took");
    zmsg_destroy (&msg);
    zpoller_destroy (&poller);
    zstr_sendx (pub, "tcp.sync", "", NULL);
    while (!s_topic_is ((msg = s_recv (sub)), "tcp.sync"))
        zmsg_destroy (&msg);
    zmsg_destroy (&msg);

    msg = zmsg_new ();
    zmsg_addstr (msg, "tcp.one");
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "end");
    CHECK (zmsg_send (&msg, pub) == 0);
    zstr_sendx (pub, "other", "no", NULL);
    zstr_sendx (pub, "tcp.two", "2", NULL);
    msg = s_recv (sub);
    CHECK (zmsg_size (msg) == 3 && s_topic_is (msg, "tcp.one"));
    zmsg_destroy (&msg);
    s_expect (sub, "tcp.two", "2");
    uint64_t lost = 99, dropped = 99;
    s_lost (sub, &lost, &dropped);
    CHECK (lost == 0 && dropped == 0);

    zactor_destroy (&sub);
    zsock_destroy (&pub);
    if (s_verbose)
        printf ("  tcp:// subscriber actor: ok\n");
}

//  --------------------------------------------------------------------------
//  The '$' rule, and publisher commands

static void
s_test_dollar (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "dollar");
    snprintf (endpoint, sizeof endpoint, "shm://%s?maxmsg=1024", name);
    zactor_t *pub = s_publisher (endpoint);
    zactor_t *sub = s_subscriber (endpoint, "");
    zshm_sub_t *direct = zshm_sub_new (endpoint, "");
    CHECK (direct);
    zshm_sub_set_rcvtimeo (direct, RECV_TIMEOUT);
    s_sync (s_send_actor, pub, sub);
    //  Probe the direct subscriber too, until it follows the channel
    zshm_sub_set_rcvtimeo (direct, 5);
    bool synced = false;
    for (int attempt = 0; attempt < 2000 && !synced; attempt++) {
        s_send_actor (pub, "sync.probe");
        synced = zshm_sub_recv (direct) >= 1;
    }
    CHECK (synced);
    zshm_sub_set_rcvtimeo (direct, RECV_TIMEOUT);

    //  Unknown commands are not published; "$$" topics are, unescaped
    CHECK (zstr_sendx (pub, "$BOGUS", "x", NULL) == 0);
    CHECK (zstr_sendx (pub, "$$SYS.uptime", "42", NULL) == 0);
    CHECK (zstr_sendx (pub, "$$", "dollar", NULL) == 0);
    //  Larger than maxmsg: refused, counted, the actor carries on
    char big [2048];
    memset (big, 'b', sizeof big);
    CHECK (zsock_send (pub, "sb", "big", big, sizeof big) == 0);
    CHECK (zstr_sendx (pub, "after", "big", NULL) == 0);

    //  The subscriber actor doubles a leading '$' again
    s_expect (sub, "$$SYS.uptime", "42");
    s_expect (sub, "$$", "dollar");
    s_expect (sub, "after", "big");
    //  A direct subscriber sees the topic as published
    const char *expected [] = { "$SYS.uptime", "$", "after" };
    for (size_t index = 0; index < 3; index++) {
        size_t size = 0;
        const char *topic;
        do {
            CHECK (zshm_sub_recv (direct) >= 1);
            topic = (const char *) zshm_sub_frame (direct, 0, &size);
            CHECK (topic);
        } while (size >= 5 && memcmp (topic, "sync.", 5) == 0);
        CHECKF (size == strlen (expected [index]) && memcmp (topic, expected [index], size) == 0,
                "direct subscriber: topic %zu is '%.*s'", index, (int) size, topic);
    }

    CHECK (zstr_send (pub, "$STATS") == 0);
    char *tag = NULL, *published = NULL, *failed = NULL;
    CHECK (zstr_recvx (pub, &tag, &published, &failed, NULL) == 3);
    CHECKF (streq (failed, "1"), "failed %s", failed);
    zstr_free (&tag);
    zstr_free (&published);
    zstr_free (&failed);

    zshm_sub_destroy (&direct);
    zactor_destroy (&sub);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  '$' rule: ok\n");
}

//  --------------------------------------------------------------------------
//  zpoller over two subscriber actors

static void
s_test_poller (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "poller");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *pub = s_publisher (endpoint);
    zactor_t *sub_a = s_subscriber (endpoint, "a.");
    zactor_t *sub_b = s_subscriber (endpoint, "b.");
    zstr_sendx (sub_a, "SUBSCRIBE", "sync.", NULL);
    zstr_sendx (sub_b, "SUBSCRIBE", "sync.", NULL);
    s_sync (s_send_actor, pub, sub_a);
    s_sync (s_send_actor, pub, sub_b);

    zpoller_t *poller = zpoller_new (sub_a, sub_b, NULL);
    CHECK (poller);
    CHECK (zstr_sendx (pub, "a.1", "x", NULL) == 0);
    CHECK (zstr_sendx (pub, "b.1", "y", NULL) == 0);
    CHECK (zstr_sendx (pub, "c.1", "z", NULL) == 0);
    CHECK (zstr_sendx (pub, "a.2", "x", NULL) == 0);
    int from_a = 0, from_b = 0;
    while (from_a < 2 || from_b < 1) {
        void *which = zpoller_wait (poller, RECV_TIMEOUT);
        CHECKF (which == sub_a || which == sub_b, "zpoller_wait timed out");
        zmsg_t *msg = zmsg_recv (which);
        CHECK (msg);
        if (s_topic_starts (msg, "sync."))
            ;
        else
        if (which == sub_a) {
            CHECK (s_topic_starts (msg, "a."));
            from_a++;
        }
        else {
            CHECK (s_topic_is (msg, "b.1"));
            from_b++;
        }
        zmsg_destroy (&msg);
    }
    //  Nothing else is delivered: c.1 matched neither.  End with a marker
    //  both take, and check it comes next on each.
    CHECK (zstr_sendx (pub, "a.end", "", NULL) == 0);
    CHECK (zstr_sendx (pub, "b.end", "", NULL) == 0);
    zmsg_t *msg = s_recv (sub_a);
    CHECK (s_topic_is (msg, "a.end"));
    zmsg_destroy (&msg);
    msg = s_recv (sub_b);
    CHECK (s_topic_is (msg, "b.end"));
    zmsg_destroy (&msg);
    CHECK (from_a == 2 && from_b == 1);

    zpoller_destroy (&poller);
    zactor_destroy (&sub_a);
    zactor_destroy (&sub_b);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  zpoller: ok\n");
}

//  --------------------------------------------------------------------------
//  zloop_reader on an actor

typedef struct {
    int received;               //  data messages the handler took
    bool timed_out;             //  the timer fired first
} s_loop_state_t;

static int
s_on_message (zloop_t *loop, zsock_t *reader, void *arg)
{
    s_loop_state_t *state = (s_loop_state_t *) arg;
    zmsg_t *msg = zmsg_recv (reader);
    if (!msg)
        return -1;
    if (!s_topic_starts (msg, "sync.")) {
        CHECK (s_topic_starts (msg, "loop."));
        state->received++;
    }
    zmsg_destroy (&msg);
    return state->received == 3 ? -1 : 0;
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    ((s_loop_state_t *) arg)->timed_out = true;
    return -1;
}

static void
s_test_zloop (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "zloop");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    zactor_t *sub = s_subscriber (endpoint, "loop.");
    zstr_sendx (sub, "SUBSCRIBE", "sync.", NULL);
    s_sync (s_send_direct, pub, sub);
    for (int index = 0; index < 3; index++)
        CHECK (zshm_pub_send (pub, "loop.tick", "x", 1) == 0);

    s_loop_state_t state = { 0, false };
    zloop_t *loop = zloop_new ();
    CHECK (zloop_reader (loop, zactor_sock (sub), s_on_message, &state) == 0);
    CHECK (zloop_timer (loop, RECV_TIMEOUT, 1, s_on_timeout, &state) >= 0);
    zloop_start (loop);
    zloop_destroy (&loop);
    CHECKF (!state.timed_out && state.received == 3, "zloop got %d of 3", state.received);

    zactor_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  zloop_reader: ok\n");
}

//  --------------------------------------------------------------------------
//  SUBSCRIBE and UNSUBSCRIBE commands

static void
s_test_subscribe (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "subscribe");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *pub = s_publisher (endpoint);
    zactor_t *sub = s_subscriber (endpoint, "sync.");
    s_sync (s_send_actor, pub, sub);

    zstr_sendx (sub, "SUBSCRIBE", "x.", NULL);
    s_lost (sub, NULL, NULL);
    zstr_sendx (pub, "y.1", "no", NULL);
    zstr_sendx (pub, "x.1", "yes", NULL);
    s_expect (sub, "x.1", "yes");

    //  Several prefixes in one command; counted subscriptions
    zstr_sendx (sub, "SUBSCRIBE", "y.", "y.", NULL);
    s_lost (sub, NULL, NULL);
    zstr_sendx (pub, "y.2", "yes", NULL);
    zstr_sendx (pub, "x.2", "yes", NULL);
    s_expect (sub, "y.2", "yes");
    s_expect (sub, "x.2", "yes");

    zstr_sendx (sub, "UNSUBSCRIBE", "x.", "y.", NULL);
    s_lost (sub, NULL, NULL);
    zstr_sendx (pub, "x.3", "no", NULL);
    zstr_sendx (pub, "y.3", "yes", NULL);       //  y. was subscribed twice
    s_expect (sub, "y.3", "yes");

    //  A binary prefix with NUL bytes, through zsock_send's "b"
    const char prefix [] = { 'z', 0, 1 };
    CHECK (zsock_send (sub, "sb", "SUBSCRIBE", prefix, sizeof prefix) == 0);
    zstr_sendx (sub, "UNSUBSCRIBE", "y.", NULL);
    s_lost (sub, NULL, NULL);
    const char topic_no [] = { 'z', 0, 2 };
    const char topic_yes [] = { 'z', 0, 1, 0 };
    zsock_send (pub, "bs", topic_no, sizeof topic_no, "no");
    zstr_sendx (pub, "y.4", "no", NULL);
    zsock_send (pub, "bs", topic_yes, sizeof topic_yes, "yes");
    zmsg_t *msg = s_recv (sub);
    zframe_t *first = zmsg_first (msg);
    CHECK (zframe_size (first) == sizeof topic_yes
           && memcmp (zframe_data (first), topic_yes, sizeof topic_yes) == 0);
    zmsg_destroy (&msg);

    //  Everything ("" with no argument), then nothing at all
    zstr_send (sub, "SUBSCRIBE");
    s_lost (sub, NULL, NULL);
    zstr_sendx (pub, "any", "yes", NULL);
    s_expect (sub, "any", "yes");
    zstr_sendx (sub, "UNSUBSCRIBE", "", "sync.", NULL);
    zsock_send (sub, "sb", "UNSUBSCRIBE", prefix, sizeof prefix);
    s_lost (sub, NULL, NULL);
    zstr_sendx (pub, "any", "no", NULL);
    zstr_sendx (pub, "sync.x", "no", NULL);
    //  Re-subscribe to one marker: it must be the next thing delivered,
    //  and nothing may come before the barrier's reply (not even sync.x)
    zstr_sendx (sub, "SUBSCRIBE", "mark", NULL);
    s_lost_ex (sub, NULL, NULL, false);
    zstr_sendx (pub, "mark", "yes", NULL);
    msg = zmsg_recv (sub);
    CHECKF (s_topic_is (msg, "mark"), "a message after UNSUBSCRIBE leaked through");
    zmsg_destroy (&msg);

    //  Unknown commands are ignored: the actor still answers
    zstr_send (sub, "BOGUS");
    zstr_sendx (sub, "HWM", "many", NULL);
    uint64_t lost = 99, dropped = 99;
    s_lost (sub, &lost, &dropped);
    CHECK (lost == 0 && dropped == 0);

    zactor_destroy (&sub);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  SUBSCRIBE/UNSUBSCRIBE: ok\n");
}

//  --------------------------------------------------------------------------
//  A failed start returns NULL

static void
s_test_failed_start (void)
{
    errno = 0;
    CHECK (zshm_subscriber_new ("bogus", "") == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_subscriber_new ("nowhere://x", "") == NULL && errno != 0);
    errno = 0;
    CHECK (zshm_subscriber_new ("shm://bad name", "") == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_subscriber_new (NULL, "") == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_publisher_new ("shm://bad name") == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_publisher_new ("shm://x?capacity=zebra") == NULL && errno == EINVAL);
    errno = 0;
    CHECK (zshm_publisher_new (NULL) == NULL && errno == EINVAL);

    //  A channel with a live writer refuses a second one
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "busy");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *pub = s_publisher (endpoint);
    errno = 0;
    CHECK (zshm_publisher_new (endpoint) == NULL && errno == EBUSY);
    zshm_pub_t *direct = zshm_pub_new (endpoint);
    CHECK (direct == NULL && errno == EBUSY);
    zactor_destroy (&pub);
    //  ... and takes one once it has gone
    pub = s_publisher (endpoint);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  failed starts: ok\n");
}

//  --------------------------------------------------------------------------
//  The pipe's high-water mark: drops when the application does not read

//  Wait until this process's reader of the channel has read up to the
//  writer's head: the actor has then handled every message published.
static void
s_wait_read (zshm_pub_t *pub)
{
    zshm_ring_t *ring = zshm_pub_ring (pub);
    CHECK (ring);
    for (int attempt = 0; attempt < 20000; attempt++) {
        zshm_reader_info_t readers [8];
        int count = zshm_ring_readers (ring, readers, 8);
        uint64_t head = zshm_ring_head (ring);
        for (int index = 0; index < count && index < 8; index++)
            if (readers [index].pid == getpid () && readers [index].position >= head)
                return;
        zclock_sleep (1);
    }
    FAIL ("the subscriber actor did not read the channel to its head");
}

#define HWM_MESSAGES 6000

static void
s_publish_many (zshm_pub_t *pub, const char *topic, int count)
{
    for (int index = 0; index < count; index++) {
        char body [16];
        snprintf (body, sizeof body, "%d", index);
        CHECK (zshm_pub_send (pub, topic, body, strlen (body)) == 0);
    }
}

//  Publish HWM_MESSAGES on `topic` while the application reads nothing,
//  wait until the actor has handled them all, then read everything up to
//  a LOST reply.  Checks order and accounting; returns how many arrived.
static int
s_flood (zshm_pub_t *pub, zactor_t *sub, const char *topic)
{
    uint64_t before = 0;
    s_lost (sub, NULL, &before);
    s_publish_many (pub, topic, HWM_MESSAGES);
    s_wait_read (pub);
    CHECK (zstr_send (sub, "LOST") == 0);
    int received = 0;
    int last = -1;
    zmsg_t *msg;
    while (!s_topic_is ((msg = s_recv (sub)), "$LOST")) {
        CHECK (s_topic_is (msg, topic) && zmsg_size (msg) == 2);
        s_discard_first (msg);
        char *body = zmsg_popstr (msg);
        int index = atoi (body);
        zstr_free (&body);
        //  In order, no duplicates; gaps are the drops
        CHECKF (index > last && index < HWM_MESSAGES, "message %d after %d", index, last);
        last = index;
        received++;
        zmsg_destroy (&msg);
    }
    s_discard_first (msg);
    char *text = zmsg_popstr (msg);
    uint64_t lost = strtoull (text, NULL, 10);
    zstr_free (&text);
    text = zmsg_popstr (msg);
    uint64_t dropped = strtoull (text, NULL, 10) - before;
    zstr_free (&text);
    zmsg_destroy (&msg);
    if (s_verbose)
        printf ("  flood '%s': received %d, dropped %" PRIu64 ", lost %" PRIu64 "\n",
                topic, received, dropped, lost);
    CHECK (lost == 0);
    CHECKF ((uint64_t) received + dropped == HWM_MESSAGES,
            "received %d + dropped %" PRIu64 " != %d", received, dropped, HWM_MESSAGES);
    return received;
}

static void
s_test_hwm (void)
{
    char name [64], endpoint [96], options [128];
    tu_channel (name, sizeof name, "hwm");
    //  The ring holds everything: any loss is the pipe's
    snprintf (options, sizeof options, "shm://%s?capacity=16384&slot=64", name);
    snprintf (endpoint, sizeof endpoint, "shm://%s?idle=yield", name);
    zshm_pub_t *pub = zshm_pub_new (options);
    CHECK (pub);
    zactor_t *sub = s_subscriber (endpoint, "");
    s_sync (s_send_direct, pub, sub);

    //  The default HWM drops when the application reads nothing
    int received_default = s_flood (pub, sub, "d");
    CHECKF (received_default < HWM_MESSAGES, "nothing dropped at the default HWM");

    //  A higher HWM lets more through
    zstr_sendx (sub, "HWM", "3000", NULL);
    int received_raised = s_flood (pub, sub, "r");
    CHECKF (received_raised > received_default && received_raised < HWM_MESSAGES,
            "HWM 3000 let %d through, the default %d", received_raised, received_default);

    //  HWM 0: no limit, nothing dropped
    zstr_sendx (sub, "HWM", "0", NULL);
    CHECK (s_flood (pub, sub, "u") == HWM_MESSAGES);

    //  Lowering under traffic is refused: still no limit
    zstr_sendx (sub, "HWM", "10", NULL);
    CHECK (s_flood (pub, sub, "l") == HWM_MESSAGES);
    zactor_destroy (&sub);

    //  Lowered before anything passed: fewer get through than by default
    sub = zshm_subscriber_new (endpoint, NULL);
    CHECK (sub);
    zsock_set_rcvtimeo (sub, RECV_TIMEOUT);
    zstr_sendx (sub, "HWM", "10", NULL);
    zstr_sendx (sub, "SUBSCRIBE", "", NULL);
    s_sync (s_send_direct, pub, sub);
    int received_low = s_flood (pub, sub, "s");
    CHECKF (received_low < received_default, "HWM 10 let %d through, the default %d",
            received_low, received_default);

    //  $TERM is answered promptly with the pipe full: fill it and destroy
    //  the actor without reading (the watchdog catches a hang; the time
    //  is reported, never judged)
    s_publish_many (pub, "f", HWM_MESSAGES);
    s_wait_read (pub);
    int64_t start = tu_now_ns ();
    zactor_destroy (&sub);
    if (s_verbose)
        printf ("  $TERM with a full pipe took %.1f ms\n", (tu_now_ns () - start) / 1e6);
    CHECK (sub == NULL);

    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  HWM: ok\n");
}

//  --------------------------------------------------------------------------
//  Publisher dead and back, in-process

static void
s_expect_event (zactor_t *sub, const char *event)
{
    zmsg_t *msg = s_recv (sub);
    CHECKF (s_topic_is (msg, event) && zmsg_size (msg) == 1 && zshm_subscriber_is_event (msg),
            "expected %s", event);
    zmsg_destroy (&msg);
}

static void
s_test_dead (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "dead");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *pub = s_publisher (endpoint);
    zactor_t *sub = s_subscriber (endpoint, "");
    s_sync (s_send_actor, pub, sub);
    zstr_sendx (pub, "last", "words", NULL);
    zactor_destroy (&pub);
    //  Everything published first, then the event
    s_expect (sub, "last", "words");
    s_expect_event (sub, "$PUBLISHER_DEAD");

    pub = s_publisher (endpoint);
    s_expect_event (sub, "$PUBLISHER_BACK");
    zstr_sendx (pub, "again", "1", NULL);
    s_expect (sub, "again", "1");

    //  EVENTS 0: the next publisher's death and return go unsaid
    zstr_sendx (sub, "EVENTS", "0", NULL);
    s_lost (sub, NULL, NULL);
    zactor_destroy (&pub);
    pub = s_publisher (endpoint);
    zstr_sendx (pub, "quiet", "1", NULL);
    zmsg_t *msg = zmsg_recv (sub);
    CHECKF (s_topic_is (msg, "quiet"), "an event with EVENTS 0");
    zmsg_destroy (&msg);

    zactor_destroy (&sub);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  dead/back events: ok\n");
}

//  --------------------------------------------------------------------------
//  Publisher process killed with SIGKILL, then restarted

//  A child publishing "beat" every millisecond until killed.  It uses only
//  zshm_pub on shm, and leaves with _exit.
static pid_t
s_spawn_publisher (const char *endpoint)
{
    fflush (stdout);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        zshm_pub_t *pub = NULL;
        for (int attempt = 0; attempt < 1000 && !pub; attempt++)
            if (!(pub = zshm_pub_new (endpoint)))
                tu_sleep_ns (1000000);
        if (!pub)
            _exit (TU_FAIL);
        for (uint64_t beat = 0; ; beat++) {
            zshm_pub_send (pub, "beat", &beat, sizeof beat);
            tu_sleep_ns (1000000);
        }
    }
    return pid;
}

static void
s_test_killed (void)
{
    char name [64], endpoint [96];
    tu_channel (name, sizeof name, "killed");
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);
    zactor_t *sub = s_subscriber (endpoint, "beat");
    pid_t child = s_spawn_publisher (endpoint);
    zmsg_t *msg = s_recv (sub);
    CHECK (s_topic_is (msg, "beat"));
    zmsg_destroy (&msg);

    CHECK (kill (child, SIGKILL) == 0);
    CHECK (waitpid (child, NULL, 0) == child);
    //  Beats already published, then the event
    while (true) {
        msg = s_recv (sub);
        if (!s_topic_is (msg, "beat"))
            break;
        zmsg_destroy (&msg);
    }
    CHECKF (s_topic_is (msg, "$PUBLISHER_DEAD"), "expected $PUBLISHER_DEAD");
    zmsg_destroy (&msg);

    child = s_spawn_publisher (endpoint);
    s_expect_event (sub, "$PUBLISHER_BACK");
    msg = s_recv (sub);
    CHECK (s_topic_is (msg, "beat"));
    zmsg_destroy (&msg);
    CHECK (kill (child, SIGKILL) == 0);
    CHECK (waitpid (child, NULL, 0) == child);

    zactor_destroy (&sub);
    zshm_ring_unlink (name);
    if (s_verbose)
        printf ("  killed publisher: ok\n");
}

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && streq (argv [1], "-v");
    tu_require_shm ("test_actors");
    signal (SIGALRM, s_watchdog);
    alarm (WATCHDOG_S);

    s_test_failed_start ();
    s_test_send_recv ();
    s_test_joiner ();
    s_test_tcp ();
    s_test_dollar ();
    s_test_poller ();
    s_test_zloop ();
    s_test_subscribe ();
    s_test_dead ();
    s_test_killed ();
    s_test_hwm ();

    printf ("test_actors: OK\n");
    return TU_PASS;
}
