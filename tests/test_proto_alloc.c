/*  =========================================================================
    test_proto_alloc - steady-state protobuf receiving allocates nothing

    This program defines malloc, calloc, realloc, free and the aligned
    allocators itself, forwarding to glibc's (__libc_malloc...), so every
    allocation in the process, libzshm's and libprotobuf-c's included,
    passes through here.  Calls made by the main thread while counting is
    on are counted.

    After a warm-up that shows the subscriber every message shape once,
    100,000 zshm_sub_recv_proto calls (mostly Ticks of varying content,
    every 100th a 70 KiB multi-slot Telemetry) must allocate nothing.  The
    publisher's send_proto must not either.  Two controls prove the
    counter sees what it should: a direct malloc, and protobuf-c's default
    (malloc) unpack of the same Tick, which allocates on every call.

    Under AddressSanitizer (which owns malloc) the test skips.
    =========================================================================
*/

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#   define S_SANITIZED 1
#elif defined(__has_feature)
#   if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) \
    || __has_feature(memory_sanitizer)
#       define S_SANITIZED 1
#   endif
#endif

#include <inttypes.h>

#include "testutil.h"
#include "zshm_proto.h"
#include "proto_samples.h"

#ifdef S_SANITIZED

int
main (void)
{
    printf ("test_proto_alloc: skipped: a sanitizer owns malloc in this build\n");
    return TU_SKIP;
}

#else

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t count, size_t size);
extern void *__libc_realloc (void *pointer, size_t size);
extern void __libc_free (void *pointer);
extern void *__libc_memalign (size_t alignment, size_t size);

//  Thread-local, so allocations of other threads (none are expected, but
//  libraries may start some) never disturb the count.  Volatile, because
//  the compiler knows what malloc does and would otherwise drop a store to
//  s_counting around a malloc call, or cache s_allocations across one.
static __thread volatile bool s_counting;
static __thread volatile uint64_t s_allocations;

//  These replace the C library's for the whole process; the prototypes
//  come from <stdlib.h> and <malloc.h>'s declarations.
void *malloc (size_t size);
void *calloc (size_t count, size_t size);
void *realloc (void *pointer, size_t size);
void free (void *pointer);
int posix_memalign (void **pointer_p, size_t alignment, size_t size);
void *aligned_alloc (size_t alignment, size_t size);
void *memalign (size_t alignment, size_t size);

void *
malloc (size_t size)
{
    if (s_counting)
        s_allocations++;
    return __libc_malloc (size);
}

void *
calloc (size_t count, size_t size)
{
    if (s_counting)
        s_allocations++;
    return __libc_calloc (count, size);
}

void *
realloc (void *pointer, size_t size)
{
    if (s_counting)
        s_allocations++;
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
    if (s_counting)
        s_allocations++;
    void *pointer = __libc_memalign (alignment, size);
    if (!pointer)
        return ENOMEM;
    *pointer_p = pointer;
    return 0;
}

void *
aligned_alloc (size_t alignment, size_t size)
{
    if (s_counting)
        s_allocations++;
    return __libc_memalign (alignment, size);
}

void *
memalign (size_t alignment, size_t size)
{
    if (s_counting)
        s_allocations++;
    return __libc_memalign (alignment, size);
}

#define S_MESSAGES 100000

//  Volatile, so the compiler cannot elide the control's malloc/free pair.
static void *volatile s_probe;

static const char *s_symbols [] = { "AAPL", "MSFT", "ESZ5", "VOD.L", "SAP.DE", "BRK.A" };

int
main (void)
{
    char channel [64], endpoint [128];
    snprintf (channel, sizeof channel, "test_proto_alloc.%d", (int) getpid ());
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=1024&capacity=1024", channel);
    zshm_ring_unlink (channel);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", channel);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 5000);
    proto_samples_t *samples = (proto_samples_t *) malloc (sizeof (proto_samples_t));
    CHECK (samples);
    proto_samples_init (samples);

    //  Control 1: the counter counts.
    s_counting = true;
    s_probe = malloc (16);
    s_counting = false;
    free (s_probe);
    CHECKF (s_allocations == 1, "control counted %" PRIu64, s_allocations);
    s_allocations = 0;

    //  Warm-up: every sample once, the big ones twice (the second time
    //  merges the arena's chunks into one).
    for (int round = 0; round < 2; round++)
        for (size_t index = 0; index < samples->count; index++) {
            const ProtobufCMessage *msg = samples->items [index].msg;
            CHECK (zshm_pub_send_proto (pub, samples->items [index].name, msg) == 0);
            ProtobufCMessage *got = zshm_sub_recv_proto (sub, msg->descriptor, NULL);
            CHECKF (got && proto_samples_equal (got, msg), "warm-up %s",
                    samples->items [index].name);
        }

    //  Control 2: protobuf-c's default allocator mallocs on every unpack,
    //  and the counter sees it (the library's calls come here too).
    size_t size = 0;
    uint8_t *packed = proto_samples_pack (&samples->tick.base, &size);
    CHECK (packed);
    s_counting = true;
    for (int index = 0; index < 100; index++) {
        ProtobufCMessage *msg = protobuf_c_message_unpack (&zshm__market__tick__descriptor,
                                                           NULL, size, packed);
        CHECK (msg);
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    s_counting = false;
    uint64_t default_allocations = s_allocations;
    CHECK (default_allocations >= 100);
    s_allocations = 0;
    free (packed);

    //  Steady state.
    uint64_t send_allocations = 0, recv_allocations = 0, received = 0;
    Zshm__Market__Tick tick = samples->tick;
    for (int index = 0; index < S_MESSAGES; index++) {
        const ProtobufCMessage *msg;
        if (index % 100 == 99)
            msg = &samples->telemetry.base;
        else {
            tick.symbol = (char *) s_symbols [index % 6];
            tick.sequence = (uint64_t) index;
            tick.bid = 100.0 + index % 1000 / 100.0;
            tick.bid_size = (uint64_t) index * 7;
            msg = &tick.base;
        }
        s_counting = true;
        int rc = zshm_pub_send_proto (pub, "steady", msg);
        s_counting = false;
        send_allocations += s_allocations;
        s_allocations = 0;
        CHECK (rc == 0);

        const char *topic = NULL;
        s_counting = true;
        ProtobufCMessage *got = zshm_sub_recv_proto (sub, msg->descriptor, &topic);
        s_counting = false;
        recv_allocations += s_allocations;
        s_allocations = 0;
        CHECKF (got, "message %d", index);
        CHECK (streq (topic, "steady"));
        if (msg == &tick.base) {
            Zshm__Market__Tick *got_tick = (Zshm__Market__Tick *) got;
            CHECK (got_tick->sequence == (uint64_t) index);
            CHECK (streq (got_tick->symbol, s_symbols [index % 6]));
        }
        else
            CHECK (((Zshm__Telemetry__Telemetry *) got)->scan->n_ranges == PROTO_SAMPLES_BEAMS);
        received++;
    }
    printf ("test_proto_alloc: %" PRIu64 " messages; allocations: recv_proto %" PRIu64
            ", send_proto %" PRIu64 "; protobuf-c default unpack: %.1f per Tick\n",
            received, recv_allocations, send_allocations, default_allocations / 100.0);
    CHECKF (recv_allocations == 0, "recv_proto allocated %" PRIu64 " times", recv_allocations);
    CHECKF (send_allocations == 0, "send_proto allocated %" PRIu64 " times", send_allocations);
    CHECK (zshm_sub_proto_errors (sub) == 0);

    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (channel);
    free (samples);
    return TU_PASS;
}

#endif
