/*  =========================================================================
    zshm_reader - one reader's cursor on a zshm_ring

    A reader follows the ring's writer.  It starts at the next message to be
    published, like a new ZeroMQ subscriber, or at the oldest message the
    ring still holds (zshm_reader_seek_oldest).  It never slows the writer
    down: when it falls a whole ring behind it loses the oldest messages,
    counts them (zshm_reader_lost) and resumes at a message still held.

    A reader is used by one thread at a time.  Any number of readers, in any
    number of threads and processes, may follow one ring.
    =========================================================================
*/

#ifndef ZSHM_READER_H_INCLUDED
#define ZSHM_READER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zshm_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zshm_reader_t zshm_reader_t;

//  How a reader waits for the next message (Aeron's idle strategies).
typedef enum {
    ZSHM_IDLE_SPIN = 0,     //  busy-poll: lowest latency, a whole core
    ZSHM_IDLE_YIELD,        //  poll, sched_yield between polls
    ZSHM_IDLE_BACKOFF,      //  spin, then yield, then sleep up to 1 ms
    ZSHM_IDLE_BLOCK         //  sleep on a futex the writer wakes
} zshm_idle_t;

//  Create a reader on `ring` (a writer or reader handle; it must outlive the
//  reader).  It starts at the next message to be published.  On a shared-
//  memory ring it registers in the segment's reader registry so that
//  `zshm stat` can show it (a full registry is not an error).
//  Returns a new reader owned by the caller, or NULL with errno.
zshm_reader_t *
    zshm_reader_new (zshm_ring_t *ring);

//  Destroy a reader.  Safe to call twice; nulls the caller's pointer.
void
    zshm_reader_destroy (zshm_reader_t **self_p);

//  Receive the next message into buf, waiting for it with the reader's
//  idle strategy.  Copies at most `max` bytes (never more) and returns the
//  message's whole size, like zmq_recv: a result larger than max means the
//  copy was truncated.  Stores the sequence number in *seq_p if not NULL.
//  Returns -1 with errno EPIPE if the writer died and everything it
//  published has been read.  Blocks; with a dead writer, at most about
//  a second.
ssize_t
    zshm_reader_recv (zshm_reader_t *self, void *buf, size_t max, uint64_t *seq_p);

//  As zshm_reader_recv, but never waits: -1 with errno EAGAIN when no
//  message is ready (EPIPE if also the writer is dead).
ssize_t
    zshm_reader_try_recv (zshm_reader_t *self, void *buf, size_t max, uint64_t *seq_p);

//  As zshm_reader_recv, waiting at most timeout_ms milliseconds (-1 for
//  ever, 0 not at all): -1 with errno EAGAIN on timeout.
ssize_t
    zshm_reader_recv_timeout (zshm_reader_t *self, void *buf, size_t max,
                              uint64_t *seq_p, int timeout_ms);

//  Wait until a message is ready, for at most timeout_ms milliseconds (-1
//  for ever, 0 not at all).  Returns 0 when one is ready, -1 with errno
//  EAGAIN on timeout or EPIPE when the writer is dead.
int
    zshm_reader_wait (zshm_reader_t *self, int timeout_ms);

//  Zero-copy read: a pointer to the next message's bytes in the ring, its
//  size in *size_p and sequence in *seq_p (either may be NULL).  Never
//  waits: NULL with errno EAGAIN (or EPIPE) when none is ready.  The bytes
//  may be overwritten by the writer at any moment; zshm_reader_advance
//  says afterwards whether they were.  Peeking again without advancing
//  returns the same message.  (Plain loads of the bytes race the writer in
//  C11's terms; zshm_reader_recv copies them with relaxed atomics.)
const void *
    zshm_reader_peek (zshm_reader_t *self, size_t *size_p, uint64_t *seq_p);

//  Finish a peek and move to the next message.  Returns true if the peeked
//  bytes were intact; false if the writer overwrote them meanwhile (the
//  message counts as lost and the reader resumes at a message still held).
bool
    zshm_reader_advance (zshm_reader_t *self);

//  Messages overwritten before this reader got them.
uint64_t
    zshm_reader_lost (zshm_reader_t *self);

//  Messages this reader has received.
uint64_t
    zshm_reader_delivered (zshm_reader_t *self);

//  Sequence number of the next message this reader expects.
uint64_t
    zshm_reader_position (zshm_reader_t *self);

//  Move to the oldest message the ring still holds (replay); a reader made
//  before anything was published already stands there.
void
    zshm_reader_seek_oldest (zshm_reader_t *self);

//  Move to the next message to be published (the default start).
void
    zshm_reader_seek_latest (zshm_reader_t *self);

//  Set how the reader waits.  The default is ZSHM_IDLE_SPIN.
void
    zshm_reader_set_idle (zshm_reader_t *self, zshm_idle_t idle);

//  The reader's idle strategy.
zshm_idle_t
    zshm_reader_idle (zshm_reader_t *self);

//  Parse "spin", "yield", "backoff" or "block".  Returns 0 and stores the
//  strategy, or -1 with errno EINVAL.
int
    zshm_idle_parse (const char *text, zshm_idle_t *idle_p);

//  Name of an idle strategy ("spin"...).
const char *
    zshm_idle_name (zshm_idle_t idle);

//  Self test of this class.
void
    zshm_reader_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
