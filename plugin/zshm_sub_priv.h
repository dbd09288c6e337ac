/*  =========================================================================
    zshm_sub_priv - hooks of zshm_sub for other parts of libzshm (private,
    never installed)

    The protobuf helpers (zshm_proto.c) keep a decoding arena per
    subscriber.  The subscriber holds it for them and frees it with itself,
    so that zshm_sub_recv_proto needs no table of its own.
    =========================================================================
*/

#ifndef ZSHM_SUB_PRIV_H_INCLUDED
#define ZSHM_SUB_PRIV_H_INCLUDED

#include "zshm_sub.h"

//  The state stored by zshm_sub_set_proto_state, or NULL.  Not owned by
//  the caller.
void *
    zshm_sub_proto_state (zshm_sub_t *self);

//  Store `state` with the subscriber; zshm_sub_destroy calls
//  destroy (&state) (if destroy is not NULL).  Replacing a state destroys
//  the previous one first.
void
    zshm_sub_set_proto_state (zshm_sub_t *self, void *state, void (*destroy) (void **state_p));

//  The last message received, as zshm_proto.c reads it: its type name and
//  its two frames, a topic and a payload (pointers into the subscriber,
//  valid until its next receive).
typedef struct {
    const char *type;           //  "" if none
    size_t type_len;            //  strlen (type)
    const uint8_t *topic;       //  never NULL
    size_t topic_size;
    const uint8_t *payload;     //  never NULL
    size_t size;
} zshm_sub_view_t;

//  Fill *view and return true if the last message has two frames; false
//  otherwise.
bool
    zshm_sub_view (zshm_sub_t *self, zshm_sub_view_t *view);

#endif
