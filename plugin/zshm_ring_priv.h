/*  =========================================================================
    zshm_ring_priv - the ring's private state, shared by zshm_ring.c,
    zshm_reader.c and the publisher's fast path in zshm_pub.c (never
    installed)
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

//  The writer's half of the protocol drawn at the top of zshm_ring.c,
//  inline so that publishers (zshm_pub.c) pay no call for it:
//  zshm_ring_reserve and _commit without their argument checks.

//  W1 and W2 for `seq`: mark its slot dirty, so that a reader still copying
//  the slot's previous lap learns that it is going away, then fence so that
//  the mark is ordered before every payload store (W3) of `seq`.  The fence
//  pairs with the reader's R4.
static inline void
zshm_ring_mark (zshm_ring_t *self, uint64_t seq)
{
    zshm_store_relaxed (&zshm_ring_slot (self, seq)->state, ZSHM_DIRTY | (seq & ZSHM_SEQ_MASK));
    zshm_fence_release ();
    self->marked = seq;
}

//  zshm_ring_reserve, on a writer.
static inline void *
zshm_ring_reserve_fast (zshm_ring_t *self, uint64_t *seq_p)
{
    uint64_t seq = self->next;
    if (!self->reserved) {
        if (self->marked < seq + 1)
            zshm_ring_mark (self, seq + 1);
        self->reserved = true;
    }
    if (seq_p)
        *seq_p = seq;
    return zshm_ring_slot (self, seq)->payload;
}

//  zshm_ring_commit, on a writer that reserved, of a size that fits.
static inline void
zshm_ring_commit_fast (zshm_ring_t *self, size_t size)
{
    uint64_t seq = self->next;
    zshm_slot_t *slot = zshm_ring_slot (self, seq);
    //  W3 (the length; the payload is already in place).
    zshm_store_relaxed (&slot->length, (uint32_t) size);
    //  W4: publish; pairs with the reader's R1 acquire.
    zshm_store_release (&slot->state, seq & ZSHM_SEQ_MASK);
    self->next = seq + 1;
    self->reserved = false;
    //  W1/W2 for the message after next, now rather than in its reserve:
    //  taking that line from a reader costs a round trip between cores,
    //  and on x86 the next W4 would wait behind it in the store buffer.
    //  Here it overlaps the time until the next send.  Two slots are
    //  then dirty, so a 2-slot ring marks in reserve instead.
    if (self->capacity > 2)
        zshm_ring_mark (self, seq + 2);
    //  For observers only (stat, new readers): relaxed is enough, nobody
    //  reads payload on the strength of it.
    zshm_store_relaxed (&self->header->head, seq + 1);
    //  The `block` strategy's only cost to the writer: one load of a line
    //  that stays shared in our cache while nobody sleeps.
    if (zshm_load_relaxed (&self->control->waiters))
        zshm_ring_wake (self);
}

#endif
