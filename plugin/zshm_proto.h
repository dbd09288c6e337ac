/*  =========================================================================
    zshm_proto - protobuf payloads on zshm publishers and subscribers

    Types come from .proto files through protoc-c.  A publisher packs a
    message straight into the ring (no intermediate buffer) and records its
    full type name ("zshm.market.Tick") with it; a subscriber checks that
    name, then unpacks its private copy of the bytes into an arena it owns,
    so steady-state receiving does no malloc at all:

        zshm_pub_t *pub = zshm_pub_new ("shm://ticks");
        Zshm__Market__Tick tick = ZSHM__MARKET__TICK__INIT;
        tick.symbol = "AAPL";
        tick.bid = 189.25;
        zshm_pub_send_proto (pub, "AAPL", &tick.base);

        zshm_sub_t *sub = zshm_sub_new ("shm://ticks", "");
        const char *topic;
        Zshm__Market__Tick *got = (Zshm__Market__Tick *)
            zshm_sub_recv_proto (sub, &zshm__market__tick__descriptor, &topic);
        if (got)
            printf ("%s %f\n", topic, got->bid);
        //  `got` and `topic` stay valid until the next receive on `sub`
        //  (or its destruction); the caller frees neither.

    A message that is not of the expected type, not [topic][payload], or
    whose bytes do not parse fails with EPROTO and is counted
    (zshm_sub_proto_errors); no partial or garbage message is ever returned.
    The failed message stays readable through zshm_sub_frame and
    zshm_sub_type until the next receive, e.g. to dispatch on its type.

    The arena (zshm_proto_arena) is also usable on its own, to unpack bytes
    that came from elsewhere without malloc per message.
    =========================================================================
*/

#ifndef ZSHM_PROTO_H_INCLUDED
#define ZSHM_PROTO_H_INCLUDED

#include <protobuf-c/protobuf-c.h>

#include "zshm_pub.h"
#include "zshm_sub.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zshm_proto_arena_t zshm_proto_arena_t;

//  Largest total a subscriber's arena may hold by default (bytes).  A
//  protobuf message can unpack to many times its packed size (each empty
//  sub-message costs a struct), so hostile bytes could otherwise make a
//  subscriber allocate without bound.
#define ZSHM_PROTO_ARENA_LIMIT_DEFAULT (256u * 1024 * 1024)

//  Publish `msg` as the two-frame message [topic][packed msg], with the
//  message's full type name recorded for subscribers and tools.  Packs
//  directly into the ring's slots (or fragments), with no intermediate
//  buffer.  `topic` is a C string (NULL is taken as "").  Never blocks,
//  allocates nothing on shm endpoints.  Returns 0, or -1 with errno
//  (EMSGSIZE larger than the publisher's maxmsg, or an error of the
//  publisher).
int
    zshm_pub_send_proto (zshm_pub_t *self, const char *topic, const ProtobufCMessage *msg);

//  Receive the next message matching the subscriber's subscriptions and
//  unpack it as a `descriptor` message.  Returns the message, and its topic
//  as a NUL-terminated string in *topic_p if topic_p is not NULL.  Both
//  live in the subscriber's arena until its next receive (of any kind) or
//  its destruction; the caller frees nothing.  Blocks according to the
//  subscriber's rcvtimeo.  Returns NULL with errno EPROTO when the message
//  has another type, is not [topic][payload] or does not parse (counted in
//  zshm_sub_proto_errors; the message is consumed), ENOMEM when it would
//  need more than the arena limit (also counted), or as zshm_sub_recv
//  (EAGAIN, EPIPE, EINTR).  Allocates nothing in steady state.
ProtobufCMessage *
    zshm_sub_recv_proto (zshm_sub_t *self, const ProtobufCMessageDescriptor *descriptor,
                         const char **topic_p);

//  Unpack the message last received on this subscriber (by zshm_sub_recv,
//  after looking at zshm_sub_type for instance) as a `descriptor` message,
//  with the same checks, results and lifetime as zshm_sub_recv_proto.
//  Never blocks.  Unpacking the same message again resets the arena, so
//  only the most recent result stays valid.
ProtobufCMessage *
    zshm_sub_decode_proto (zshm_sub_t *self, const ProtobufCMessageDescriptor *descriptor,
                           const char **topic_p);

//  Messages this subscriber failed to unpack (wrong type, wrong frame
//  count, bytes that do not parse, arena limit), since it was created.
uint64_t
    zshm_sub_proto_errors (zshm_sub_t *self);

//  Set the largest total this subscriber's arena may hold, bytes (default
//  ZSHM_PROTO_ARENA_LIMIT_DEFAULT).  Returns 0, or -1 with errno ENOMEM if
//  the arena cannot be created.
int
    zshm_sub_set_proto_limit (zshm_sub_t *self, size_t limit);

//  Also accept messages that carry no type name (zshm_sub_type is ""), as
//  from a tcp:// endpoint fed by a plain ZeroMQ publisher or from raw
//  zshm_pub_send, and unpack them as whatever type is asked for.  Off by
//  default: protobuf cannot tell one type's bytes from another's, so only
//  turn it on where the topic says what the type is.  Messages that carry
//  another type's name are refused either way.  Returns 0, or -1 with
//  errno ENOMEM.
int
    zshm_sub_set_proto_untyped (zshm_sub_t *self, bool untyped);

//  Create an arena: a bump allocator for protobuf-c that hands out memory
//  from chunks and frees nothing until it is reset.  `chunk_size` is the
//  first chunk's size (0 for a default of 64 KiB); `limit` the largest
//  total it may hold (0 for ZSHM_PROTO_ARENA_LIMIT_DEFAULT).  Returns a
//  new arena owned by the caller, or NULL with errno ENOMEM.
zshm_proto_arena_t *
    zshm_proto_arena_new (size_t chunk_size, size_t limit);

//  Destroy an arena and everything allocated from it.  Safe to call twice;
//  nulls the caller's pointer.
void
    zshm_proto_arena_destroy (zshm_proto_arena_t **self_p);

//  Forget everything allocated since the last reset.  If that took more
//  than one chunk, the chunks are merged into one big enough for it, so a
//  steady stream of messages no larger than those seen before allocates
//  nothing.
void
    zshm_proto_arena_reset (zshm_proto_arena_t *self);

//  Allocate `size` bytes, aligned for any type, valid until the next
//  reset.  Returns NULL (errno ENOMEM) beyond the limit.
void *
    zshm_proto_arena_alloc (zshm_proto_arena_t *self, size_t size);

//  The arena as a protobuf-c allocator (owned by the arena), for
//  protobuf_c_message_unpack and friends.
ProtobufCAllocator *
    zshm_proto_arena_allocator (zshm_proto_arena_t *self);

//  Bytes handed out since the last reset.
size_t
    zshm_proto_arena_used (zshm_proto_arena_t *self);

//  Bytes the arena holds in chunks (what it costs in memory).
size_t
    zshm_proto_arena_capacity (zshm_proto_arena_t *self);

//  Chunks the arena has allocated from the system since it was created.
uint64_t
    zshm_proto_arena_mallocs (zshm_proto_arena_t *self);

//  Reset the arena and unpack `size` bytes at `data` as a `descriptor`
//  message into it.  Returns the message, valid until the next reset, or
//  NULL with errno EPROTO (bytes do not parse) or ENOMEM (arena limit).
ProtobufCMessage *
    zshm_proto_arena_unpack (zshm_proto_arena_t *self,
                             const ProtobufCMessageDescriptor *descriptor,
                             const void *data, size_t size);

//  Self test of this class.
void
    zshm_proto_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
