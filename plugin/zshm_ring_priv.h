/*  =========================================================================
    zshm_ring_priv - the ring's private state, shared by zshm_ring.c and
    zshm_reader.c only (never installed)
    =========================================================================
*/

#ifndef ZSHM_RING_PRIV_H_INCLUDED
#define ZSHM_RING_PRIV_H_INCLUDED

#include "zshm_atomics.h"
#include "zshm_layout.h"
#include "zshm_ring.h"

struct _zshm_ring_t {
    char *name;                 //  channel name, NULL for a heap ring
    int fd;                     //  the segment, -1 for a heap ring
    bool writer;                //  true on the writer side
    bool control_writable;      //  reader could map the control region
    uint8_t *base;              //  start of the mapping (or heap block)
    size_t map_size;            //  bytes mapped (or allocated)
    zshm_header_t *header;      //  at base
    zshm_control_t *control;    //  at base + ZSHM_CONTROL_OFFSET
    uint8_t *slots;             //  at base + ZSHM_SLOTS_OFFSET
    uint64_t capacity;          //  validated private copy, power of two
    uint64_t mask;              //  capacity - 1
    uint64_t slot_size;         //  validated private copy
    uint64_t stride;            //  validated private copy
    int guard;                  //  SIGBUS guard of the mapping, -1 if none
    //  The writer's own fields, on a line of their own: a heap ring's
    //  readers share this struct and load the fields above on every
    //  message, so these must not drag that line back and forth.
    _Alignas (ZSHM_CACHE_LINE)
    uint64_t next;              //  writer: sequence it publishes next
    uint64_t marked;            //  writer: highest sequence marked dirty
    bool reserved;              //  writer: a reserve awaits its commit
};

static inline zshm_slot_t *
zshm_ring_slot (zshm_ring_t *self, uint64_t seq)
{
    return (zshm_slot_t *) (self->slots + (seq & self->mask) * self->stride);
}

//  Wake readers sleeping with ZSHM_IDLE_BLOCK.  In zshm_ring.c.
void
    zshm_ring_wake (zshm_ring_t *self);

//  Sleep until the writer wakes us, the futex word moves past `seen`, or
//  timeout_ns passes.  In zshm_ring.c.
void
    zshm_ring_sleep (zshm_ring_t *self, uint32_t seen, int64_t timeout_ns);

#endif
