/*  =========================================================================
    zshm_subscriber - a subscriber actor, used where a zsock SUB socket was

    The actor's thread alternates between the ring and its pipe.  A ring
    has no file descriptor to poll together with the pipe, so the actor
    receives with a short rcvtimeo (ZSHM_SUBSCRIBER_POLL_MS) and looks at
    the pipe whenever that expires, and at least once a millisecond while
    messages flow.  The ring's own idle strategy (idle=spin|...|block)
    decides how the actor waits in between.

    Forwarding copies each frame from the subscriber's buffer straight
    into a zmq message with zmq_send: no zmsg_t per message.  The pipe's
    end here has a send timeout of 0, so a full pipe makes the first frame
    fail with EAGAIN and the message is dropped and counted.  A libzmq pipe
    counts whole messages against its high-water mark, so once the first
    frame is in, the rest of the message goes in too: all or nothing.

    The command protocol is in the header.
    =========================================================================
*/

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_ring.h"
#include "zshm_pub.h"
#include "zshm_sub.h"
#include "zshm_subscriber.h"

//  Longest the actor waits on the ring before it looks at its pipe, ms.
//  This bounds how late an idle actor sees a command such as $TERM.
#define ZSHM_SUBSCRIBER_POLL_MS 10
//  Longest it goes without looking at its pipe while messages flow, usec.
#define ZSHM_SUBSCRIBER_CHECK_US 1000
//  Default high-water mark of the actor's end of the pipe, messages.
#define ZSHM_SUBSCRIBER_HWM 1000
//  Most events and replies kept while the pipe is full; more are dropped
//  with a warning (an application asking LOST in a loop without reading).
#define ZSHM_SUBSCRIBER_PENDING_MAX 1000

//  What the constructor hands the actor, on the constructor's stack: the
//  actor reads it and writes the result before its handshake signal, and
//  never touches it afterwards.
typedef struct {
    const char *endpoint;       //  as given to zshm_subscriber_new
    const char *subscribe;      //  ditto
    int error;                  //  0, or errno of a failed start
} s_start_t;

//  The actor's state.
typedef struct {
    zsock_t *pipe;              //  our end of the actor's pipe
    void *handle;               //  its libzmq socket
    zshm_sub_t *sub;            //  the subscriber we own
    zlist_t *pending;           //  events and replies waiting for room
    uint64_t dropped;           //  messages dropped at the pipe's HWM
    uint64_t forwarded;         //  messages forwarded
    uint64_t restarts;          //  zshm_sub_restarts when last looked
    int64_t checked;            //  zclock_usecs of the last pipe check
    int hwm;                    //  the pipe's high-water mark, 0 none
    bool sent;                  //  anything went into the pipe yet
    bool dead;                  //  publisher reported dead, not back yet
    bool events;                //  send $PUBLISHER_* events
    bool verbose;               //  log activity
    bool terminated;            //  $TERM received
} s_subscriber_t;

static void
s_subscriber_destroy (s_subscriber_t **self_p)
{
    s_subscriber_t *self = *self_p;
    if (self) {
        if (self->pending) {
            zmsg_t *msg;
            while ((msg = (zmsg_t *) zlist_pop (self->pending)))
                zmsg_destroy (&msg);
            zlist_destroy (&self->pending);
        }
        zshm_sub_destroy (&self->sub);
        free (self);
        *self_p = NULL;
    }
}

static s_subscriber_t *
s_subscriber_new (zsock_t *pipe, const char *endpoint, const char *subscribe)
{
    s_subscriber_t *self = (s_subscriber_t *) calloc (1, sizeof (s_subscriber_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->handle = zsock_resolve (pipe);
    self->events = true;
    self->pending = zlist_new ();
    self->sub = zshm_sub_new (endpoint, subscribe);
    if (!self->sub || !self->pending) {
        int error = self->pending ? errno : ENOMEM;
        s_subscriber_destroy (&self);
        errno = error;
        return NULL;
    }
    zshm_sub_set_rcvtimeo (self->sub, ZSHM_SUBSCRIBER_POLL_MS);
    self->restarts = zshm_sub_restarts (self->sub);
    //  Never wait on the application: a full pipe fails at once (EAGAIN)
    zsock_set_sndtimeo (pipe, 0);
    self->hwm = ZSHM_SUBSCRIBER_HWM;
    zsock_set_sndhwm (pipe, self->hwm);
    return self;
}

//  Send the events and replies that wait, in order, as far as the pipe
//  has room.  Returns true when none is left waiting.
static bool
s_flush (s_subscriber_t *self)
{
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_first (self->pending))) {
        //  zmsg_send leaves the message with us when the pipe is full
        if (zmsg_send (&msg, self->pipe) == -1)
            return false;
        zlist_pop (self->pending);
        self->sent = true;
    }
    return true;
}

//  Queue an event or a reply (a zmsg of string frames) and send what fits.
static void
s_control (s_subscriber_t *self, const char *first, ...)
{
    if (zlist_size (self->pending) >= ZSHM_SUBSCRIBER_PENDING_MAX) {
        zsys_warning ("zshm_subscriber: pipe full, dropped %s", first);
        return;
    }
    zmsg_t *msg = zmsg_new ();
    va_list args;
    va_start (args, first);
    for (const char *frame = first; frame; frame = va_arg (args, const char *))
        zmsg_addstr (msg, frame);
    va_end (args);
    if (self->verbose)
        zsys_debug ("zshm_subscriber: to application: %s", first);
    zlist_append (self->pending, msg);
    s_flush (self);
}

//  Forward the message zshm_sub_recv just received, or drop it if the
//  pipe is full (or events and replies still wait for room).
static void
s_forward (s_subscriber_t *self)
{
    if (!s_flush (self)) {
        self->dropped++;
        return;
    }
    size_t frames = zshm_sub_frames (self->sub);
    for (size_t index = 0; index < frames; index++) {
        size_t size = 0;
        const char *data = (const char *) zshm_sub_frame (self->sub, index, &size);
        int flags = ZMQ_DONTWAIT | (index + 1 < frames ? ZMQ_SNDMORE : 0);
        int rc;
        if (index == 0 && size > 0 && data [0] == '$') {
            //  A '$' topic goes out with the '$' doubled (see the header)
            zmq_msg_t topic;
            rc = zmq_msg_init_size (&topic, size + 1);
            if (rc == 0) {
                char *bytes = (char *) zmq_msg_data (&topic);
                bytes [0] = '$';
                memcpy (bytes + 1, data, size);
                rc = zmq_msg_send (&topic, self->handle, flags);
                if (rc == -1)
                    zmq_msg_close (&topic);
            }
        }
        else
            rc = zmq_send (self->handle, size ? data : "", size, flags);
        if (rc == -1) {
            //  Only the first frame can meet a full pipe; a later frame
            //  fails only when the application's end is gone.
            if (index == 0)
                self->dropped++;
            return;
        }
    }
    self->forwarded++;
    self->sent = true;
}

//  Set the pipe's high-water mark.  A libzmq pipe cannot lower its limit
//  once messages have passed: the writer learns what the reader took only
//  every so many messages (the reader's low-water mark), so a limit below
//  what the writer still counts as unread would read as full for ever.
//  Raising is safe at any time; lowering (and leaving "no limit", whose
//  reader never reports back) only before anything was sent.
static void
s_set_hwm (s_subscriber_t *self, int hwm)
{
    bool raises = self->hwm != 0 && (hwm == 0 || hwm >= self->hwm);
    if (self->sent && !raises) {
        zsys_warning ("zshm_subscriber: HWM %d refused: it can only rise once "
                      "messages have passed (now %d)", hwm, self->hwm);
        return;
    }
    self->hwm = hwm;
    zsock_set_sndhwm (self->pipe, hwm);
}

//  Obey one command from the application.
static void
s_command (s_subscriber_t *self, zmsg_t *msg)
{
    char *name = zmsg_popstr (msg);
    if (!name)
        return;
    if (self->verbose)
        zsys_debug ("zshm_subscriber: command %s, %zu arguments", name, zmsg_size (msg));
    if (streq (name, "$TERM"))
        self->terminated = true;
    else
    if (streq (name, "SUBSCRIBE") || streq (name, "UNSUBSCRIBE")) {
        bool subscribe = name [0] == 'S';
        if (zmsg_size (msg) == 0)
            zmsg_addmem (msg, NULL, 0);
        zframe_t *prefix;
        while ((prefix = zmsg_pop (msg))) {
            const void *data = zframe_data (prefix);
            size_t size = zframe_size (prefix);
            int rc = subscribe ? zshm_sub_subscribe_bytes (self->sub, data, size)
                               : zshm_sub_unsubscribe_bytes (self->sub, data, size);
            if (rc == -1)
                zsys_warning ("zshm_subscriber: %s failed: %s", name, strerror (errno));
            zframe_destroy (&prefix);
        }
    }
    else
    if (streq (name, "LOST")) {
        char lost [24], dropped [24];
        snprintf (lost, sizeof lost, "%" PRIu64, zshm_sub_lost (self->sub));
        snprintf (dropped, sizeof dropped, "%" PRIu64, self->dropped);
        s_control (self, "$LOST", lost, dropped, NULL);
    }
    else
    if (streq (name, "HWM")) {
        char *value = zmsg_popstr (msg);
        char *end = NULL;
        long hwm = value ? strtol (value, &end, 10) : -1;
        if (value && *value && *end == '\0' && hwm >= 0 && hwm <= INT32_MAX)
            s_set_hwm (self, (int) hwm);
        else
            zsys_warning ("zshm_subscriber: HWM needs a count, got '%s'", value ? value : "");
        zstr_free (&value);
    }
    else
    if (streq (name, "EVENTS")) {
        char *value = zmsg_popstr (msg);
        if (value && (streq (value, "0") || streq (value, "1")))
            self->events = streq (value, "1");
        else
            zsys_warning ("zshm_subscriber: EVENTS needs 0 or 1, got '%s'", value ? value : "");
        zstr_free (&value);
    }
    else
    if (streq (name, "VERBOSE"))
        self->verbose = true;
    else
        zsys_warning ("zshm_subscriber: ignored unknown command '%.64s'", name);
    zstr_free (&name);
}

//  Take every command waiting in the pipe.
static void
s_check_pipe (s_subscriber_t *self)
{
    self->checked = zclock_usecs ();
    while (!self->terminated && (zsock_events (self->pipe) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv (self->pipe);
        if (!msg)
            break;
        s_command (self, msg);
        zmsg_destroy (&msg);
    }
}

//  Tell the application the publisher died, once.
static void
s_dead (s_subscriber_t *self)
{
    if (!self->dead) {
        self->dead = true;
        if (self->verbose)
            zsys_info ("zshm_subscriber: publisher dead");
        if (self->events)
            s_control (self, "$PUBLISHER_DEAD", NULL);
    }
}

//  Tell the application a publisher writes again.  A restart the actor
//  never saw as a death (quick, between two looks) counts as both.
static void
s_check_back (s_subscriber_t *self, bool received)
{
    uint64_t restarts = zshm_sub_restarts (self->sub);
    if (restarts != self->restarts) {
        self->restarts = restarts;
        s_dead (self);
    }
    if (self->dead && (received || zshm_sub_connected (self->sub))) {
        self->dead = false;
        if (self->verbose)
            zsys_info ("zshm_subscriber: publisher back");
        if (self->events)
            s_control (self, "$PUBLISHER_BACK", NULL);
    }
}

//  The actor's thread.
static void
s_subscriber_actor (zsock_t *pipe, void *args)
{
    s_start_t *start = (s_start_t *) args;
    s_subscriber_t *self = s_subscriber_new (pipe, start->endpoint, start->subscribe);
    start->error = self ? 0 : errno;
    //  Attach to the channel now, if it exists (zshm_sub does at its first
    //  receive), so that everything published once the constructor has
    //  returned reaches the application.  What this receive finds is
    //  handled after the handshake, which would swallow a message.
    int frames = -1;
    int error = EAGAIN;
    if (self) {
        zshm_sub_set_rcvtimeo (self->sub, 0);
        frames = zshm_sub_recv (self->sub);
        error = errno;
        zshm_sub_set_rcvtimeo (self->sub, ZSHM_SUBSCRIBER_POLL_MS);
    }
    zsock_signal (pipe, 0);
    if (!self) {
        //  Stay until zshm_subscriber_new destroys us: returning now would
        //  race zactor_destroy's $TERM against the pipe's closing.
        while (true) {
            char *command = zstr_recv (pipe);
            bool term = command ? streq (command, "$TERM") : errno == ETERM;
            zstr_free (&command);
            if (term)
                return;
        }
    }
    bool fresh = true;          //  frames and error hold a result to handle
    while (!self->terminated) {
        if (!fresh) {
            frames = zshm_sub_recv (self->sub);
            error = errno;
        }
        fresh = false;
        if (frames > 0) {
            if (self->dead || zshm_sub_restarts (self->sub) != self->restarts)
                s_check_back (self, true);
            s_forward (self);
            if (zclock_usecs () - self->checked >= ZSHM_SUBSCRIBER_CHECK_US)
                s_check_pipe (self);
        }
        else {
            if (error == EPIPE)
                s_dead (self);
            else
            if (error == EAGAIN && self->dead)
                s_check_back (self, false);
            else
            if (error == ETERM)
                break;          //  the context is going away under us
            else
            if (error != EAGAIN && error != EINTR) {
                //  Not expected from zshm_sub; say so and do not spin
                zsys_warning ("zshm_subscriber: receive failed: %s", strerror (error));
                zclock_sleep (ZSHM_SUBSCRIBER_POLL_MS);
            }
            s_flush (self);
            s_check_pipe (self);
        }
    }
    //  zactor's shim signals our end with a send timeout of 0 once we
    //  return; with the pipe full that signal would be lost and
    //  zactor_destroy would wait for ever.  With no high-water mark it
    //  always goes in (the application's zsock_wait discards the rest).
    zsock_set_sndhwm (pipe, 0);
    s_subscriber_destroy (&self);
}

zactor_t *
zshm_subscriber_new (const char *endpoint, const char *subscribe)
{
    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    s_start_t start = { endpoint, subscribe, 0 };
    zactor_t *actor = zactor_new (s_subscriber_actor, &start);
    if (actor && start.error) {
        zactor_destroy (&actor);
        errno = start.error;
        return NULL;
    }
    return actor;
}

bool
zshm_subscriber_is_event (zmsg_t *msg)
{
    zframe_t *first = msg ? zmsg_first (msg) : NULL;
    if (!first)
        return false;
    const char *data = (const char *) zframe_data (first);
    size_t size = zframe_size (first);
    return size > 1 && data [0] == '$' && data [1] != '$';
}

//  --------------------------------------------------------------------------
//  Self test

//  Next message from the actor whose first frame is not `skip`.
static zmsg_t *
s_recv_skip (zactor_t *actor, const char *skip)
{
    zmsg_t *msg;
    while ((msg = zmsg_recv (actor))) {
        zframe_t *first = zmsg_first (msg);
        if (!zframe_streq (first, skip))
            break;
        zmsg_destroy (&msg);
    }
    return msg;
}

void
zshm_subscriber_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_subscriber: ");

    char name [64];
    snprintf (name, sizeof name, "zshm-subscriber-test-%d", (int) getpid ());
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);

    //  A failed start returns NULL with the subscriber's errno
    errno = 0;
    assert (zshm_subscriber_new ("shm://no good name", "") == NULL && errno == EINVAL);
    errno = 0;
    assert (zshm_subscriber_new ("nowhere://x", "") == NULL && errno != 0);

    //  The subscriber may come before its publisher
    zactor_t *sub = zshm_subscriber_new (endpoint, "a.");
    assert (sub);
    if (verbose)
        zstr_send (sub, "VERBOSE");
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    assert (pub);
    zsock_set_rcvtimeo (sub, 5000);

    //  Wait until the actor reads the channel: it then follows every
    //  message, so probe until one arrives.
    zmsg_t *msg = NULL;
    for (int attempt = 0; attempt < 500 && !msg; attempt++) {
        assert (zshm_pub_send (pub, "a.probe", "", 0) == 0);
        zpoller_t *poller = zpoller_new (sub, NULL);
        if (zpoller_wait (poller, 10))
            msg = zmsg_recv (sub);
        zpoller_destroy (&poller);
    }
    assert (msg);
    zmsg_destroy (&msg);

    //  LOST is a barrier: once its reply is in, SUBSCRIBE is in force
    zstr_sendx (sub, "SUBSCRIBE", "$", NULL);
    zstr_send (sub, "LOST");
    msg = s_recv_skip (sub, "a.probe");
    assert (msg && zshm_subscriber_is_event (msg));
    char *tag = zmsg_popstr (msg);
    char *lost = zmsg_popstr (msg);
    char *dropped = zmsg_popstr (msg);
    assert (streq (tag, "$LOST") && streq (lost, "0") && streq (dropped, "0"));
    zstr_free (&tag);
    zstr_free (&lost);
    zstr_free (&dropped);
    zmsg_destroy (&msg);

    assert (zshm_pub_send (pub, "b.skip", "x", 1) == 0);
    assert (zshm_pub_send (pub, "a.one", "1", 1) == 0);
    assert (zshm_pub_send (pub, "$SYS", "2", 1) == 0);
    msg = s_recv_skip (sub, "a.probe");
    assert (msg && !zshm_subscriber_is_event (msg) && zmsg_size (msg) == 2);
    char *topic = zmsg_popstr (msg);
    char *body = zmsg_popstr (msg);
    assert (streq (topic, "a.one") && streq (body, "1"));
    zstr_free (&topic);
    zstr_free (&body);
    zmsg_destroy (&msg);
    //  A '$' topic arrives with its '$' doubled, and is not an event
    msg = zmsg_recv (sub);
    assert (msg && !zshm_subscriber_is_event (msg));
    topic = zmsg_popstr (msg);
    assert (streq (topic, "$$SYS"));
    zstr_free (&topic);
    zmsg_destroy (&msg);

    //  The publisher goes away: an event, then another comes back
    zshm_pub_destroy (&pub);
    msg = zmsg_recv (sub);
    assert (msg && zshm_subscriber_is_event (msg));
    topic = zmsg_popstr (msg);
    assert (streq (topic, "$PUBLISHER_DEAD"));
    zstr_free (&topic);
    zmsg_destroy (&msg);
    pub = zshm_pub_new (endpoint);
    assert (pub);
    msg = zmsg_recv (sub);
    assert (msg);
    topic = zmsg_popstr (msg);
    assert (streq (topic, "$PUBLISHER_BACK"));
    zstr_free (&topic);
    zmsg_destroy (&msg);

    zactor_destroy (&sub);
    zactor_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);

    if (verbose)
        printf ("OK\n");
}
