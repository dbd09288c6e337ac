/*  =========================================================================
    zshm_publisher - a publisher actor, used where a zsock PUB socket was

    The actor reads whole messages from its pipe into an array of zmq_msg_t
    and hands pointers to their bytes to zshm_pub_send_frames: no zmsg_t,
    no copy beyond the one into the ring.  The command protocol is in the
    header.
    =========================================================================
*/

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_ring.h"
#include "zshm_pub.h"
#include "zshm_publisher.h"
#include "zshm_sub.h"

//  What the constructor hands the actor, on the constructor's stack: the
//  actor reads it and writes the result before its handshake signal, and
//  never touches it afterwards.
typedef struct {
    const char *endpoints;      //  as given to zshm_publisher_new
    int error;                  //  0, or errno of a failed start
} s_start_t;

//  The actor's state.
typedef struct {
    zsock_t *pipe;              //  our end of the actor's pipe
    zshm_pub_t *pub;            //  the publisher we own
    zmq_msg_t *parts;           //  frames of the message being read
    const void **data;          //  their bytes, for zshm_pub_send_frames
    size_t *sizes;              //  their sizes
    size_t limit;               //  room in parts, data and sizes
    uint64_t published;         //  messages published
    uint64_t failed;            //  messages zshm_pub refused
    bool verbose;               //  log activity
    bool terminated;            //  $TERM received
} s_publisher_t;

static void
s_publisher_destroy (s_publisher_t **self_p)
{
    s_publisher_t *self = *self_p;
    if (self) {
        zshm_pub_destroy (&self->pub);
        free (self->parts);
        free (self->data);
        free (self->sizes);
        free (self);
        *self_p = NULL;
    }
}

static s_publisher_t *
s_publisher_new (zsock_t *pipe, const char *endpoints)
{
    s_publisher_t *self = (s_publisher_t *) calloc (1, sizeof (s_publisher_t));
    if (!self)
        return NULL;
    self->pipe = pipe;
    self->limit = 8;
    self->parts = (zmq_msg_t *) calloc (self->limit, sizeof (zmq_msg_t));
    self->data = (const void **) calloc (self->limit, sizeof (void *));
    self->sizes = (size_t *) calloc (self->limit, sizeof (size_t));
    if (!self->parts || !self->data || !self->sizes) {
        s_publisher_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zsock_set_sndtimeo (pipe, 0);
    self->pub = zshm_pub_new (endpoints);
    if (!self->pub) {
        int error = errno;
        s_publisher_destroy (&self);
        errno = error;
        return NULL;
    }
    return self;
}

//  Make room for one more frame.  Returns 0, or -1 when out of memory.
static int
s_grow (s_publisher_t *self)
{
    size_t limit = self->limit * 2;
    zmq_msg_t *parts = (zmq_msg_t *) realloc (self->parts, limit * sizeof (zmq_msg_t));
    if (!parts)
        return -1;
    self->parts = parts;
    const void **data = (const void **) realloc (self->data, limit * sizeof (void *));
    if (!data)
        return -1;
    self->data = data;
    size_t *sizes = (size_t *) realloc (self->sizes, limit * sizeof (size_t));
    if (!sizes)
        return -1;
    self->sizes = sizes;
    self->limit = limit;
    return 0;
}

static bool
s_is_command (const void *data, size_t size)
{
    const char *bytes = (const char *) data;
    return size > 0 && bytes [0] == '$' && !(size > 1 && bytes [1] == '$');
}

static void
s_command (s_publisher_t *self, const char *name, size_t size, size_t frames)
{
    if (size == 5 && memcmp (name, "$TERM", 5) == 0)
        self->terminated = true;
    else
    if (size == 8 && memcmp (name, "$VERBOSE", 8) == 0)
        self->verbose = true;
    else
    if (size == 6 && memcmp (name, "$STATS", 6) == 0) {
        char published [24], failed [24];
        snprintf (published, sizeof published, "%" PRIu64, self->published);
        snprintf (failed, sizeof failed, "%" PRIu64, self->failed);
        //  Never wait: an application that asks without ever reading the
        //  replies gets a warning, not a publisher stuck for good
        if (zstr_sendx (self->pipe, "$STATS", published, failed, NULL) == -1)
            zsys_warning ("zshm_publisher: $STATS reply dropped: replies are not read");
    }
    else
        zsys_warning ("zshm_publisher: ignored unknown command '%.*s' (%zu frames)",
                      (int) (size > 64 ? 64 : size), name, frames);
    if (self->verbose)
        zsys_debug ("zshm_publisher: command %.*s", (int) (size > 64 ? 64 : size), name);
}

//  Read one whole message from the pipe and publish it or obey it.
//  Returns 0, or -1 when the pipe was interrupted or closed.
static int
s_handle_pipe (s_publisher_t *self)
{
    void *handle = zsock_resolve (self->pipe);
    size_t frames = 0;
    int more = 1;
    int rc = 0;
    while (more) {
        if (frames == self->limit && s_grow (self) == -1) {
            //  Out of memory mid-message: read the rest and drop it all
            zmq_msg_t rest;
            zmq_msg_init (&rest);
            while (zmq_msg_recv (&rest, handle, 0) != -1 && zmq_msg_more (&rest))
                ;
            zmq_msg_close (&rest);
            self->failed++;
            break;
        }
        zmq_msg_t *part = &self->parts [frames];
        zmq_msg_init (part);
        if (zmq_msg_recv (part, handle, 0) == -1) {
            zmq_msg_close (part);
            rc = -1;
            break;
        }
        self->data [frames] = zmq_msg_data (part);
        self->sizes [frames] = zmq_msg_size (part);
        more = zmq_msg_more (part);
        frames++;
    }
    if (rc == 0 && frames > 0 && !more) {
        if (s_is_command (self->data [0], self->sizes [0]))
            s_command (self, (const char *) self->data [0], self->sizes [0], frames);
        else {
            //  "$$..." publishes "$...": drop the escaping '$'
            if (self->sizes [0] > 1 && ((const char *) self->data [0]) [0] == '$') {
                self->data [0] = (const char *) self->data [0] + 1;
                self->sizes [0]--;
            }
            if (zshm_pub_send_frames (self->pub, self->data, self->sizes, frames) == 0) {
                self->published++;
                if (self->verbose)
                    zsys_debug ("zshm_publisher: published %zu frames, topic %zu bytes",
                                frames, self->sizes [0]);
            }
            else {
                if (self->failed++ == 0 || self->verbose)
                    zsys_warning ("zshm_publisher: could not publish a message of %zu frames: %s",
                                  frames, strerror (errno));
            }
        }
    }
    for (size_t index = 0; index < frames; index++)
        zmq_msg_close (&self->parts [index]);
    return rc;
}

//  The actor's thread.
static void
s_publisher_actor (zsock_t *pipe, void *args)
{
    s_start_t *start = (s_start_t *) args;
    s_publisher_t *self = s_publisher_new (pipe, start->endpoints);
    start->error = self ? 0 : errno;
    zsock_signal (pipe, 0);
    if (!self) {
        //  Stay until zshm_publisher_new destroys us: returning now would
        //  race zactor_destroy's $TERM against the pipe's closing.
        while (true) {
            char *command = zstr_recv (pipe);
            bool term = command ? streq (command, "$TERM") : errno == ETERM;
            zstr_free (&command);
            if (term)
                return;
        }
    }
    //  Only $TERM, or the context ending under us (ETERM), ends the actor:
    //  a signal (EINTR) is the application's to act on, by destroying us.
    while (!self->terminated)
        if (s_handle_pipe (self) == -1 && (errno == ETERM || errno == ENOTSOCK))
            break;
    s_publisher_destroy (&self);
}

zactor_t *
zshm_publisher_new (const char *endpoints)
{
    if (!endpoints) {
        errno = EINVAL;
        return NULL;
    }
    s_start_t start = { endpoints, 0 };
    zactor_t *actor = zactor_new (s_publisher_actor, &start);
    if (actor && start.error) {
        zactor_destroy (&actor);
        errno = start.error;
        return NULL;
    }
    return actor;
}

//  --------------------------------------------------------------------------
//  Self test

void
zshm_publisher_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_publisher: ");

    char name [64];
    snprintf (name, sizeof name, "zshm-publisher-test-%d", (int) getpid ());
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "shm://%s", name);

    //  A failed start returns NULL with the publisher's errno
    errno = 0;
    assert (zshm_publisher_new ("shm://no good name") == NULL && errno == EINVAL);

    zactor_t *pub = zshm_publisher_new (endpoint);
    assert (pub);
    if (verbose)
        zstr_send (pub, "$VERBOSE");
    //  A second writer on the same channel fails like zshm_pub_new
    errno = 0;
    assert (zshm_publisher_new (endpoint) == NULL && errno == EBUSY);

    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    assert (sub);
    //  A first receive attaches the subscriber to the channel: it then
    //  gets everything published from here on
    zshm_sub_set_rcvtimeo (sub, 0);
    assert (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    zshm_sub_set_rcvtimeo (sub, 5000);

    zstr_sendx (pub, "hello", "world", NULL);
    zstr_sendx (pub, "$$SYS", "escaped", NULL);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "multi");
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "end");
    zmsg_send (&msg, pub);

    assert (zshm_sub_recv (sub) == 2);
    size_t size;
    const char *frame = (const char *) zshm_sub_frame (sub, 0, &size);
    assert (size == 5 && memcmp (frame, "hello", 5) == 0);
    frame = (const char *) zshm_sub_frame (sub, 1, &size);
    assert (size == 5 && memcmp (frame, "world", 5) == 0);
    //  "$$SYS" was published as "$SYS"
    assert (zshm_sub_recv (sub) == 2);
    frame = (const char *) zshm_sub_frame (sub, 0, &size);
    assert (size == 4 && memcmp (frame, "$SYS", 4) == 0);
    assert (zshm_sub_recv (sub) == 3);
    assert (zshm_sub_frame (sub, 1, &size) && size == 0);

    //  $STATS comes back after everything sent before it
    zstr_send (pub, "$STATS");
    char *tag = NULL, *published = NULL, *failed = NULL;
    assert (zstr_recvx (pub, &tag, &published, &failed, NULL) == 3);
    assert (streq (tag, "$STATS") && streq (published, "3") && streq (failed, "0"));
    zstr_free (&tag);
    zstr_free (&published);
    zstr_free (&failed);

    zshm_sub_destroy (&sub);
    zactor_destroy (&pub);
    zactor_destroy (&pub);
    zshm_ring_unlink (name);

    if (verbose)
        printf ("OK\n");
}
