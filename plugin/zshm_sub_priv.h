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

#endif
