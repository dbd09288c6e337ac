/*  =========================================================================
    test_pubsub_alloc - the direct shm path allocates nothing per message

    Every heap allocation in the process is counted:
    - in a plain build this program defines malloc, calloc, realloc, free
      and the aligned allocators itself, forwarding to glibc's
      (__libc_malloc...), so libzshm's calls land here;
    - under AddressSanitizer or ThreadSanitizer, which own malloc, it
      installs the sanitizer's allocation hook instead.

    After a warm-up that shows publisher and subscriber every message shape
    once (single-slot, multipart, fragmented over several slots, streamed,
    filtered out, and an empty poll), 100,000 rounds of the same must not
    allocate at all.  A control proves the counter counts: zshm_sub_recv_msg,
    which builds a zmsg_t, must be seen allocating.

    Usage: test_pubsub_alloc [-v]
    =========================================================================
*/

#define _GNU_SOURCE
#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#   define S_SANITIZED 1
#elif defined(__has_feature)
#   if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#       define S_SANITIZED 1
#   endif
#endif

#include "testutil.h"

#define ROUNDS 100000

//  Allocations seen in any thread.  Atomic: the compiler may not drop or
//  cache it across calls it knows to be malloc.
static _Atomic uint64_t s_allocations;

#ifdef S_SANITIZED

//  sanitizer/allocator_interface.h, which not every compiler ships.
int __sanitizer_install_malloc_and_free_hooks (void (*malloc_hook) (const volatile void *, size_t),
                                               void (*free_hook) (const volatile void *));

static void
s_malloc_hook (const volatile void *pointer, size_t size)
{
    atomic_fetch_add_explicit (&s_allocations, 1, memory_order_relaxed);
}

static void
s_free_hook (const volatile void *pointer)
{
}

static void
s_count_start (void)
{
    __sanitizer_install_malloc_and_free_hooks (s_malloc_hook, s_free_hook);
}

#else

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t count, size_t size);
extern void *__libc_realloc (void *pointer, size_t size);
extern void __libc_free (void *pointer);
extern void *__libc_memalign (size_t alignment, size_t size);

//  These replace the C library's for the whole process.
void *malloc (size_t size);
void *calloc (size_t count, size_t size);
void *realloc (void *pointer, size_t size);
void free (void *pointer);
int posix_memalign (void **pointer_p, size_t alignment, size_t size);
void *aligned_alloc (size_t alignment, size_t size);
void *memalign (size_t alignment, size_t size);

static inline void
s_count (void)
{
    atomic_fetch_add_explicit (&s_allocations, 1, memory_order_relaxed);
}

void *
malloc (size_t size)
{
    s_count ();
    return __libc_malloc (size);
}

void *
calloc (size_t count, size_t size)
{
    s_count ();
    return __libc_calloc (count, size);
}

void *
realloc (void *pointer, size_t size)
{
    s_count ();
    return __libc_realloc (pointer, size);
}

void
free (void *pointer)
{
    __libc_free (pointer);
}

int
posix_memalign (void **pointer_p, size_t alignment, size_t size)
{
    s_count ();
    void *pointer = __libc_memalign (alignment, size);
    if (!pointer)
        return ENOMEM;
    *pointer_p = pointer;
    return 0;
}

void *
aligned_alloc (size_t alignment, size_t size)
{
    s_count ();
    return __libc_memalign (alignment, size);
}

void *
memalign (size_t alignment, size_t size)
{
    s_count ();
    return __libc_memalign (alignment, size);
}

static void
s_count_start (void)
{
}

#endif

static uint64_t
s_allocated (void)
{
    return atomic_load (&s_allocations);
}

static bool s_verbose = false;

//  One round: every shape of message through publisher and subscriber.
//  `round` varies the content (and the sizes of the big ones).
static void
s_round (zshm_pub_t *pub, zshm_sub_t *sub, uint64_t round, unsigned char *big)
{
    //  Single slot, two frames
    CHECK (zshm_pub_send (pub, "tick", &round, sizeof round) == 0);
    CHECK (zshm_sub_recv (sub) == 2);
    size_t size;
    const void *data = zshm_sub_frame (sub, 1, &size);
    CHECK (size == sizeof round && memcmp (data, &round, size) == 0);

    //  Filtered out, then multipart with an empty frame
    CHECK (zshm_pub_send (pub, "other", "x", 1) == 0);
    const void *frames [4] = { "tick.multi", "", &round, "end" };
    size_t sizes [4] = { 10, 0, sizeof round, 3 };
    CHECK (zshm_pub_send_frames (pub, frames, sizes, 4) == 0);
    CHECK (zshm_sub_recv (sub) == 4);

    //  Fragmented over several slots, sizes varying
    size_t big_size = 1000 + (size_t) (round % 3000);
    memcpy (big, &round, sizeof round);
    CHECK (zshm_pub_send (pub, "tick.big", big, big_size) == 0);
    CHECK (zshm_sub_recv (sub) == 2);
    data = zshm_sub_frame (sub, 1, &size);
    CHECK (size == big_size && memcmp (data, &round, sizeof round) == 0);

    //  Streamed and typed, in pieces, over slots
    CHECK (zshm_pub_send_begin (pub, "tick.stream", 11, 600, "zshm.test.Stream") == 0);
    for (int piece = 0; piece < 6; piece++)
        CHECK (zshm_pub_send_write (pub, big, 100) == 0);
    CHECK (zshm_pub_send_end (pub) == 0);
    CHECK (zshm_sub_recv (sub) == 2 && streq (zshm_sub_type (sub), "zshm.test.Stream"));

    //  A fragmented message filtered out, then an empty poll
    CHECK (zshm_pub_send (pub, "skip.big", big, big_size) == 0);
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
}

int
main (int argc, char **argv)
{
    s_verbose = argc > 1 && streq (argv [1], "-v");
    tu_require_shm ("test_pubsub_alloc");
    s_count_start ();

    char name [64], endpoint [256];
    tu_channel (name, sizeof name, "alloc");
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=1024&slot=256", name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "tick");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    unsigned char *big = (unsigned char *) calloc (1, 4096);
    CHECK (big);

    //  Warm-up: buffers grow to the largest message once
    CHECK (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    for (uint64_t round = 0; round < 3000; round++)
        s_round (pub, sub, round, big);

    uint64_t before = s_allocated ();
    for (uint64_t round = 0; round < ROUNDS; round++)
        s_round (pub, sub, round, big);
    uint64_t during = s_allocated () - before;
    printf ("test_pubsub_alloc: %llu allocations in %d rounds (%d messages)\n",
            (unsigned long long) during, ROUNDS, ROUNDS * 6);
    CHECKF (during == 0, "the direct path allocated %llu times", (unsigned long long) during);
    CHECK (zshm_sub_lost (sub) == 0);

    //  Control: the counter sees allocations made through libzshm
    CHECK (zshm_pub_send (pub, "tick", "control", 7) == 0);
    before = s_allocated ();
    zmsg_t *msg = zshm_sub_recv_msg (sub);
    CHECK (msg && zmsg_size (msg) == 2);
    CHECKF (s_allocated () > before, "the counter missed zshm_sub_recv_msg's allocations");
    zmsg_destroy (&msg);

    free (big);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    CHECK (zshm_ring_unlink (name) == 0);
    printf ("test_pubsub_alloc: OK\n");
    return TU_PASS;
}
