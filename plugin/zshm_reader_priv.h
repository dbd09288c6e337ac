/*  =========================================================================
    zshm_reader_priv - a reader's private state, shared by zshm_reader.c
    and the subscriber's fast path in zshm_sub.c (never installed)

    zshm_reader_peek_fast and zshm_reader_advance_fast are the ring
    protocol's common case inline: a slot that holds the message we expect,
    and that was not overwritten while we copied it.  Anything else goes
    to zshm_reader_peek and zshm_reader_advance, which do the same steps
    and every other one (waiting, laps, corrupt slots).
    =========================================================================
*/

#ifndef ZSHM_READER_PRIV_H_INCLUDED
#define ZSHM_READER_PRIV_H_INCLUDED

#include "zshm_reader.h"
#include "zshm_ring_priv.h"

struct _zshm_reader_t {
    zshm_ring_t *ring;              //  the ring we follow (not owned)
    uint64_t position;              //  sequence we expect next
    uint64_t lost;                  //  messages lapped before we got them
    uint64_t delivered;             //  messages received
    zshm_idle_t idle;               //  how we wait
    zshm_reader_entry_t *entry;     //  our registry entry, or NULL
    bool peeked;                    //  a peek awaits its advance
    uint64_t peek_state;            //  the state word the peek saw (R1)
    uint32_t empty_polls;           //  empty try_recv calls since clock look
    int64_t next_liveness_ns;       //  when we next probe the writer's life
};

//  Publish our counters for observers (relaxed: nothing is read on the
//  strength of them, and the line is ours alone).
static inline void
zshm_reader_publish (zshm_reader_t *self)
{
    zshm_reader_entry_t *entry = self->entry;
    if (entry) {
        zshm_store_relaxed (&entry->position, self->position);
        zshm_store_relaxed (&entry->delivered, self->delivered);
        zshm_store_relaxed (&entry->lost, self->lost);
    }
}

//  zshm_reader_peek: R1 and R2, when the slot holds the message we expect
//  (its state is exactly our position: published, clean, this lap) with a
//  length that fits.  Otherwise the general peek decides.
static inline const void *
zshm_reader_peek_fast (zshm_reader_t *self, size_t *size_p, uint64_t *seq_p)
{
    zshm_ring_t *ring = self->ring;
    uint64_t expected = self->position;
    zshm_slot_t *slot = zshm_ring_slot (ring, expected);
    //  R1: pairs with the writer's W4 release; makes the length and the
    //  payload of `expected` visible to what follows
    uint64_t state = zshm_load_acquire (&slot->state);
    if (state != (expected & ZSHM_SEQ_MASK))
        return zshm_reader_peek (self, size_p, seq_p);
    size_t size = zshm_load_relaxed (&slot->length);                //  R2, after R1
    if (size > ring->slot_size)
        return zshm_reader_peek (self, size_p, seq_p);
    self->peeked = true;
    self->peek_state = state;
    *size_p = size;
    *seq_p = expected;
    return slot->payload;
}

//  zshm_reader_advance: R4 and R5 after a peek, when the slot still holds
//  what the peek saw.  Otherwise the general advance decides.
static inline bool
zshm_reader_advance_fast (zshm_reader_t *self)
{
    zshm_slot_t *slot = zshm_ring_slot (self->ring, self->position);
    //  R4: pairs with W2: if the caller's reads saw any of a later lap, R5
    //  sees its dirty mark.
    zshm_fence_acquire ();
    uint64_t again = zshm_load_relaxed (&slot->state);              //  R5
    if (!self->peeked || again != self->peek_state)
        return zshm_reader_advance (self);
    self->peeked = false;
    self->position++;
    self->delivered++;
    zshm_reader_publish (self);
    return true;
}

#endif
