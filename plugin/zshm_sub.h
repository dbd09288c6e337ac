/*  =========================================================================
    zshm_sub - a subscriber, in place of a ZeroMQ SUB socket

    Same shape as zsock_new_sub: an endpoint and an optional subscription.

        shm://NAME[?option=value&...]   read a zshm channel
        tcp://host:port                  a ZeroMQ SUB socket (connects;
                                         prefix '@' to bind), same API

    Any other ZeroMQ endpoint (ipc://, inproc://, or a comma list of them,
    as zsock_new_sub takes) is a SUB socket too.

    shm options:
        idle=spin|yield|backoff|block    how recv waits (default spin)
        from=latest|oldest               start at the next message published
                                         (default, like zmq) or replay the
                                         oldest the ring still holds
        maxmsg=N                         largest message reassembled; larger
                                         ones are dropped and counted lost
                                         (default 16 MiB)

    The publisher's options (capacity, slot, mode, replace) are accepted
    and ignored, so that one endpoint string serves both sides.

    ZeroMQ semantics: prefix subscriptions on frame 0, binary-safe, several
    at once; no subscription means no messages; multipart messages arrive
    all or nothing with empty frames preserved.  Unlike zmq, a subscriber
    knows what it lost (zshm_sub_lost) and can replay (from=oldest).

    Liveness.  A subscriber created before its publisher waits for it, as a
    zmq connect before bind does; a channel created after the subscriber
    holds only messages published since it subscribed, so it receives them
    all, from the first.  When the publisher dies, recv first returns
    everything it published and then fails once with EPIPE; later calls
    wait for a publisher to come back (the same channel restarted, or
    replaced) and carry on without a new subscriber.  A replaced channel is
    read from its oldest message.  A channel whose publisher is already dead
    when the subscriber finds it is waited on without EPIPE (unless
    from=oldest, which replays what it holds first).

    Joining.  A subscriber attaches to an existing channel at its first
    receive and starts at the next message published from then on, as a
    zmq SUB that has just connected.  To be sure of every message published
    after zshm_sub_new returns, receive once with rcvtimeo 0 right away
    (the zshm_subscriber actor does), or use from=oldest.

    Receiving.  zshm_sub_recv receives into the subscriber's own buffer and
    allocates nothing in steady state; the frames stay valid until the next
    receive.  zshm_sub_recv_msg returns a zmsg_t the caller owns.
    Both honour rcvtimeo: -1 wait for ever (default), 0 poll, N ms; on
    timeout they fail with EAGAIN.

    Every function returns -1 (or NULL) and sets errno on failure.
    =========================================================================
*/

#ifndef ZSHM_SUB_H_INCLUDED
#define ZSHM_SUB_H_INCLUDED

#include <czmq.h>

#include "zshm_reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zshm_sub_t zshm_sub_t;

//  Create a subscriber on one endpoint, subscribed to `subscribe` (a
//  prefix; "" for everything; NULL for nothing yet).  The channel need not
//  exist yet.  Returns a new subscriber owned by the caller, or NULL with
//  errno EINVAL (bad endpoint or option).
zshm_sub_t *
    zshm_sub_new (const char *endpoint, const char *subscribe);

//  Destroy a subscriber.  Safe to call twice; nulls the caller's pointer.
void
    zshm_sub_destroy (zshm_sub_t **self_p);

//  Receive the next message that matches a subscription into the
//  subscriber's buffer.  Returns its number of frames (>= 1), or -1 with
//  errno EAGAIN (rcvtimeo expired), EPIPE (publisher died, reported once),
//  EINTR.  Blocks according to rcvtimeo.  Allocates nothing in steady state.
int
    zshm_sub_recv (zshm_sub_t *self);

//  Frames of the message last received by zshm_sub_recv.
size_t
    zshm_sub_frames (zshm_sub_t *self);

//  Frame `index` of the last message (0 is the topic), its size in *size_p.
//  Owned by the subscriber, valid until its next receive.  NULL with errno
//  EINVAL past the last frame.
const void *
    zshm_sub_frame (zshm_sub_t *self, size_t index, size_t *size_p);

//  Type name recorded with the last message ("" for none).  Owned by the
//  subscriber, valid until its next receive.
const char *
    zshm_sub_type (zshm_sub_t *self);

//  Sequence number of the last message received on shm (its first
//  fragment's), 0 on tcp.
uint64_t
    zshm_sub_seq (zshm_sub_t *self);

//  Receive the next matching message as a new zmsg_t (frame 0 the topic),
//  owned by the caller.  NULL with errno as for zshm_sub_recv.
zmsg_t *
    zshm_sub_recv_msg (zshm_sub_t *self);

//  Add or remove a prefix subscription, as ZMQ_SUBSCRIBE/UNSUBSCRIBE do
//  (subscriptions are counted: subscribe twice, unsubscribe twice).  As
//  with zmq, a new subscription applies to messages published after it,
//  not to older ones still unread (a replay, from=oldest or
//  zshm_sub_seek_oldest, applies every subscription to all the ring
//  holds); an unsubscribe applies to everything not yet received.
//  Unsubscribing an unknown prefix does nothing, as in zmq.
//  Returns 0, or -1 with errno.
int
    zshm_sub_subscribe (zshm_sub_t *self, const char *prefix);
int
    zshm_sub_unsubscribe (zshm_sub_t *self, const char *prefix);

//  Binary-safe forms of the above.
int
    zshm_sub_subscribe_bytes (zshm_sub_t *self, const void *prefix, size_t size);
int
    zshm_sub_unsubscribe_bytes (zshm_sub_t *self, const void *prefix, size_t size);

//  Receive timeout in ms: -1 for ever (default), 0 poll, N.
void
    zshm_sub_set_rcvtimeo (zshm_sub_t *self, int timeout_ms);
int
    zshm_sub_rcvtimeo (zshm_sub_t *self);

//  How recv waits on shm (the endpoint's idle= option).
void
    zshm_sub_set_idle (zshm_sub_t *self, zshm_idle_t idle);

//  Replay: move to the oldest message the ring holds (shm only; -1 with
//  errno ENOTSUP on tcp, EAGAIN before the channel exists).
int
    zshm_sub_seek_oldest (zshm_sub_t *self);

//  Messages this subscriber lost: slots the writer overwrote before we read
//  them, plus messages dropped for a missing fragment or beyond maxmsg.
uint64_t
    zshm_sub_lost (zshm_sub_t *self);

//  Of zshm_sub_lost, the whole messages this subscriber dropped itself: a
//  fragment missing or out of order, larger than maxmsg, or malformed.
uint64_t
    zshm_sub_dropped (zshm_sub_t *self);

//  Times the publisher was seen to restart (a new writer incarnation).
uint64_t
    zshm_sub_restarts (zshm_sub_t *self);

//  True while a publisher is attached and alive (shm), or always (tcp).
bool
    zshm_sub_connected (zshm_sub_t *self);

//  The ZeroMQ SUB socket of a tcp:// subscriber, or NULL on shm (not
//  owned).  E.g. zsock_endpoint on it tells the port "@tcp://127.0.0.1:*"
//  bound.
zsock_t *
    zshm_sub_sock (zshm_sub_t *self);

//  Self test of this class.
void
    zshm_sub_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
