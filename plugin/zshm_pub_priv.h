/*  =========================================================================
    zshm_pub_priv - hooks of zshm_pub for other parts of libzshm (private,
    never installed)

    An open one-slot message, for the protobuf packer (zshm_proto.c): the
    record is laid out up to its payload, whose place does not depend on
    its size (frame sizes are fixed-width), so a packer can write the
    payload without sizing it first; closing fills in the two sizes and
    publishes.  This saves the codec's sizing pass on every small message.
    The record is built in the publisher's stage, not in the slot, and
    goes to the slot in one burst at the close (zshm_pub.c says why).
    =========================================================================
*/

#ifndef ZSHM_PUB_PRIV_H_INCLUDED
#define ZSHM_PUB_PRIV_H_INCLUDED

#include "zshm_pub.h"
#include "zshm_codec.h"

//  Open a message [topic][payload] in one slot, with `type_name` (may be
//  NULL; type_len bytes of it) recorded: returns where the payload goes,
//  and in *room_p how many
//  bytes fit there (the slot's room, the stage's and maxmsg, whichever is
//  least: a few hundred bytes at most).  NULL
//  (nothing opened, errno untouched) when the publisher has other than one
//  shm endpoint and no ZeroMQ one, or when the topic and type leave no
//  room.  Any other send, or zshm_pub_send_abort, abandons an open message.
void *
    zshm_pub_send_open (zshm_pub_t *self, const void *topic, size_t topic_size,
                        const char *type_name, size_t type_len, size_t *room_p);

//  Publish the open message with a payload of `size` bytes (at most the
//  room).  Returns 0, or -1 with errno EINVAL (nothing open; or a size
//  past the room, and then the message is abandoned).
int
    zshm_pub_send_close (zshm_pub_t *self, size_t size);

//  The publisher's cache of codec plans (for zshm_pub_send_proto).
zshm_codec_cache_t *
    zshm_pub_codec_cache (zshm_pub_t *self);

#endif
