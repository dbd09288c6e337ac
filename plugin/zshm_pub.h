/*  =========================================================================
    zshm_pub - a publisher, in place of a ZeroMQ PUB socket

    Called in the caller's thread: a send is a copy into the ring and a
    release store, with no hop through a pipe and no system call.

    Endpoints, like zsock_new_pub's, are a comma-separated list:

        shm://NAME[?option=value&...]   a zshm channel in /dev/shm
        tcp://...                        a ZeroMQ PUB socket (binds; prefix
                                         '>' to connect, '@' to bind)

    Any other ZeroMQ endpoint (ipc://, inproc://) goes to the same PUB
    socket; all ZeroMQ endpoints of a list share that one socket.

    shm options:
        capacity=N   slots in the ring, rounded up to a power of two
                     (default 4096)
        slot=N       largest bytes one slot carries, including zshm's 16-byte
                     record header (default 1024, at least 32)
        mode=0NNN    file mode of the segment (default 0600)
        maxmsg=N     largest message accepted, in bytes of encoded frames;
                     larger sends fail with EMSGSIZE (default 16 MiB).
                     Encoded: 8 + type name + for each frame 4 + its size.
                     With several endpoints the smallest applies, to
                     every endpoint (tcp:// too).
        replace=1    replace a dead writer's segment of another layout

    The subscriber's options (idle, from) are accepted and ignored, so that
    one endpoint string serves both sides.

    A message is one or more frames; frame 0 is the topic, exactly as on a
    ZeroMQ PUB socket.  Messages larger than a slot are split over
    consecutive slots and reassembled by subscribers, all or nothing.
    A publisher never blocks on slow subscribers; they lose the oldest
    messages and count them.

    Every function returns -1 (or NULL) and sets errno on failure.
    =========================================================================
*/

#ifndef ZSHM_PUB_H_INCLUDED
#define ZSHM_PUB_H_INCLUDED

#include <czmq.h>

#include "zshm_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zshm_pub_t zshm_pub_t;

//  Create a publisher on a list of endpoints.  Returns a new publisher
//  owned by the caller, or NULL with errno (EINVAL bad endpoint or option,
//  EBUSY channel has a live writer, EEXIST other layout, EADDRINUSE...).
zshm_pub_t *
    zshm_pub_new (const char *endpoints);

//  Destroy a publisher.  Safe to call twice; nulls the caller's pointer.
//  The channel stays in /dev/shm so that subscribers read what is left and
//  a restarted publisher continues its sequence.
void
    zshm_pub_destroy (zshm_pub_t **self_p);

//  Send a two-frame message [topic][data].  `topic` is a C string (use
//  zshm_pub_send_frames for binary topics); data may be NULL when size is
//  0.  Never blocks, never allocates on shm endpoints.  Returns 0, or -1
//  with errno EMSGSIZE when larger than maxmsg.
int
    zshm_pub_send (zshm_pub_t *self, const char *topic, const void *data, size_t size);

//  Send a message of `count` frames (frame 0 is the topic).  Returns 0 or
//  -1 with errno.
int
    zshm_pub_send_frames (zshm_pub_t *self, const void *const *data, const size_t *sizes,
                          size_t count);

//  Send a zmsg (frame 0 is the topic) and destroy it, like zmsg_send.
//  Returns 0, or -1 with errno (the message is destroyed either way).
int
    zshm_pub_send_msg (zshm_pub_t *self, zmsg_t **msg_p);

//  Streaming send of [topic][payload] where the payload is produced piece
//  by piece straight into the ring (the protobuf packer uses this).  The
//  payload's total size must be known up front.  `type_name` (may be NULL)
//  is recorded with the message, e.g. a protobuf full type name.  Between
//  begin and end, write must be given exactly payload_size bytes in all.
//  Returns 0 or -1 with errno (EMSGSIZE, EINVAL for a wrong total).
//  On shm the message becomes visible at send_end, all of it; a stream
//  given too many or too few bytes fails with EINVAL and is abandoned, and
//  readers never see it as a message.  A new send_begin, or any other
//  send, abandons an unfinished stream the same way.  type_name is at most
//  127 bytes (EINVAL).
int
    zshm_pub_send_begin (zshm_pub_t *self, const void *topic, size_t topic_size,
                         size_t payload_size, const char *type_name);
int
    zshm_pub_send_write (zshm_pub_t *self, const void *data, size_t size);
int
    zshm_pub_send_end (zshm_pub_t *self);

//  Abandon an unfinished streaming send: readers never see the message.
//  Does nothing when no stream is open.
void
    zshm_pub_send_abort (zshm_pub_t *self);

//  Zero-copy end of a streaming send: after send_begin (and any writes),
//  a pointer to where all `size` remaining payload bytes go, straight in
//  the ring slot, when they fit the message's last slot and the publisher
//  has one shm endpoint and no ZeroMQ one.  The bytes count as written:
//  fill them, then call send_end.  NULL when that does not hold (use
//  send_write).  Like zshm_ring_reserve, plain stores into the slot race a
//  lapped reader's copy in C11's terms (the reader detects and discards
//  it).  zshm_pub_send_proto packs small messages this way.
void *
    zshm_pub_send_direct (zshm_pub_t *self, size_t size);

//  Sequence number of the last message published on the shm channel (of
//  its first fragment), 0 if none or no shm endpoint.
uint64_t
    zshm_pub_seq (zshm_pub_t *self);

//  Largest message accepted, bytes.
size_t
    zshm_pub_maxmsg (zshm_pub_t *self);

//  The underlying ring of the first shm endpoint, or NULL (not owned).
zshm_ring_t *
    zshm_pub_ring (zshm_pub_t *self);

//  The ZeroMQ PUB socket behind the list's tcp:// (and other ZeroMQ)
//  endpoints, or NULL if none (not owned).  E.g. zsock_endpoint on it tells
//  the port a "tcp://127.0.0.1:*" endpoint bound.
zsock_t *
    zshm_pub_sock (zshm_pub_t *self);

//  Self test of this class.
void
    zshm_pub_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
