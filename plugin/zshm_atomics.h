/*  =========================================================================
    zshm_atomics - the only place in zshm that touches atomics

    Every acquire, release and fence in the ring goes through these helpers,
    so that each can carry a comment naming what it orders and its partner
    (see the diagram at the top of zshm_ring.c).  Like liburing's barrier.h.

    The ring crosses processes, so every atomic it uses must be lock-free;
    a lock inside a libatomic fallback would live in one process's memory
    and order nothing for another.  The _Static_asserts below refuse to
    build on a platform where that does not hold.
    =========================================================================
*/

#ifndef ZSHM_ATOMICS_H_INCLUDED
#define ZSHM_ATOMICS_H_INCLUDED

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

_Static_assert (ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free: they cross processes");
_Static_assert (ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free: they cross processes");
_Static_assert (sizeof (_Atomic uint64_t) == 8, "an atomic state word is exactly 8 bytes");

//  Thread sanitizer does not model standalone fences (atomic_thread_fence);
//  zshm_ring.c explains why the protocol stays race-free for TSan anyway.
#if defined(__SANITIZE_THREAD__)
#    define ZSHM_TSAN 1
#elif defined(__has_feature)
#    if __has_feature(thread_sanitizer)
#        define ZSHM_TSAN 1
#    endif
#endif

#define zshm_load_relaxed(p)      atomic_load_explicit ((p), memory_order_relaxed)
#define zshm_load_acquire(p)      atomic_load_explicit ((p), memory_order_acquire)
#define zshm_store_relaxed(p, v)  atomic_store_explicit ((p), (v), memory_order_relaxed)
#define zshm_store_release(p, v)  atomic_store_explicit ((p), (v), memory_order_release)
#define zshm_fence_acquire()      atomic_thread_fence (memory_order_acquire)
#define zshm_fence_release()      atomic_thread_fence (memory_order_release)
#define zshm_fence_seq_cst()      atomic_thread_fence (memory_order_seq_cst)

//  Politely tell the core we are spinning (frees the sibling hyperthread,
//  saves power, avoids a memory-order pipeline flush on exit from the loop).
static inline void
zshm_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause ();
#elif defined(__aarch64__)
    __asm__ __volatile__ ("yield" ::: "memory");
#else
    atomic_signal_fence (memory_order_seq_cst);
#endif
}

//  Payload copies.  The payload of a slot is read by readers while the
//  writer may already be overwriting it (a lapped reader); the protocol
//  detects that afterwards and throws the copy away.  With plain memcpy
//  that concurrent access is formally a data race (undefined behaviour in
//  C11) even though the result is discarded.  We copy word by word with
//  relaxed atomic accesses instead: racing relaxed atomics are defined,
//  they compile to the same plain moves on x86-64 and AArch64, and TSan
//  sees atomics rather than a race.  The price is that the compiler cannot
//  use vector moves for large payloads; at 64 B this costs nothing
//  measurable and at 4 KiB about the same as one cache miss.
//
//  The slot side must be 8-byte aligned (slots are 64-byte aligned and the
//  payload starts 16 bytes in); the private side may be anything.

static inline void
zshm_copy_from_shared (void *dest, const void *src, size_t size)
{
    const _Atomic uint64_t *word = (const _Atomic uint64_t *) src;
    unsigned char *out = (unsigned char *) dest;
    while (size >= 8) {
        uint64_t value = zshm_load_relaxed (word++);
        memcpy (out, &value, 8);
        out += 8;
        size -= 8;
    }
    if (size) {
        //  The slot is padded to whole words, so the last word is ours to
        //  load even when only part of it is payload.
        uint64_t value = zshm_load_relaxed (word);
        memcpy (out, &value, size);
    }
}

static inline void
zshm_copy_to_shared (void *dest, const void *src, size_t size)
{
    _Atomic uint64_t *word = (_Atomic uint64_t *) dest;
    const unsigned char *in = (const unsigned char *) src;
    while (size >= 8) {
        uint64_t value;
        memcpy (&value, in, 8);
        zshm_store_relaxed (word++, value);
        in += 8;
        size -= 8;
    }
    if (size) {
        uint64_t value = 0;
        memcpy (&value, in, size);
        zshm_store_relaxed (word, value);
    }
}

#endif
