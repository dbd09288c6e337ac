/*  =========================================================================
    gen_segment_corpus - seeds for fuzz_segment, and a test of them

        tests/fuzz/gen_segment_corpus [DIR]

    Makes channel segments with the real writer (zshm_ring_new, send,
    reserve) in a private ZSHM_DIR, normalises the fields that change from
    run to run (times, incarnation, pids), and derives variants from them:
    truncated files, each header field broken in turn, and hostile contents
    behind a valid header (wild lengths, states, head hints, type names,
    reader registries).  With DIR, writes them there as fuzz_segment's seed
    corpus (`make fuzz-corpus` regenerates tests/fuzz/corpus/fuzz_segment).

    Either way it then checks every seed against zshm_ring_open: the valid
    and hostile ones open, the broken ones are refused with EPROTO, and the
    untouched ones deliver exactly what was published.  So it is also a
    test in `make check`: exit 0 pass, 1 fail.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zshm_atomics.h"
#include "zshm_layout.h"
#include "zshm_reader.h"
#include "zshm_ring.h"

#define S_NAME "gen"
#define S_SEEDS_MAX 64

//  What zshm_ring_open must do with a seed.
typedef enum { S_OPENS, S_REFUSED } s_expect_t;

typedef struct {
    char name [64];             //  file name in the corpus
    uint8_t *data;              //  content, owned
    size_t size;                //  bytes
    s_expect_t expect;          //  zshm_ring_open's verdict
    int capacity;               //  slots, for the content check
    int last;                   //  last message published (1..last), 0 to skip the check
} s_seed_t;

static s_seed_t s_seeds [S_SEEDS_MAX];
static int s_count;
static char s_dir [PATH_MAX - 64];
static int s_failures;

#define S_FAIL(...) \
    do { \
        fprintf (stderr, "gen_segment_corpus: " __VA_ARGS__); \
        fprintf (stderr, "\n"); \
        s_failures++; \
    } while (0)

//  The payload of message k of a seed: k bytes... at most slot_size, each
//  derived from k, so the check can tell them apart.
static size_t
s_payload (int k, size_t slot_size, uint8_t *buffer)
{
    size_t size = (size_t) (k * 5) % (slot_size + 1);
    for (size_t index = 0; index < size; index++)
        buffer [index] = (uint8_t) (k * 31 + index);
    return size;
}

static s_seed_t *
s_add (const char *name, const uint8_t *data, size_t size, s_expect_t expect)
{
    if (s_count == S_SEEDS_MAX) {
        fprintf (stderr, "gen_segment_corpus: too many seeds\n");
        exit (1);
    }
    s_seed_t *seed = &s_seeds [s_count++];
    snprintf (seed->name, sizeof seed->name, "%s", name);
    seed->data = (uint8_t *) malloc (size ? size : 1);
    if (!seed->data)
        exit (1);
    memcpy (seed->data, data, size);
    seed->size = size;
    seed->expect = expect;
    return seed;
}

//  Copy of the channel's file as it stands, with the fields that differ
//  from run to run set to fixed values.
static uint8_t *
s_capture (size_t *size_p)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/zshm.%s", s_dir, S_NAME);
    int fd = open (path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat (fd, &st)) {
        perror ("gen_segment_corpus: capture");
        exit (1);
    }
    uint8_t *data = (uint8_t *) malloc ((size_t) st.st_size);
    if (!data || pread (fd, data, (size_t) st.st_size, 0) != st.st_size) {
        perror ("gen_segment_corpus: capture");
        exit (1);
    }
    close (fd);
    zshm_header_t *header = (zshm_header_t *) data;
    header->created_ns = 1700000000000000000ULL;
    zshm_store_relaxed (&header->started_ns, 1700000000000000000ULL);
    zshm_store_relaxed (&header->incarnation, 0x1122334455667788ULL);
    zshm_store_relaxed (&header->writer_pid, 1);
    zshm_control_t *control = (zshm_control_t *) (data + ZSHM_CONTROL_OFFSET);
    for (int index = 0; index < ZSHM_MAX_READERS; index++) {
        zshm_reader_entry_t *entry = &control->readers [index];
        if (zshm_load_relaxed (&entry->pid)) {
            zshm_store_relaxed (&entry->pid, 1);
            zshm_store_relaxed (&entry->id, 42 + (uint64_t) index);
        }
    }
    *size_p = (size_t) st.st_size;
    return data;
}

//  A segment from the real writer: capacity, slot size, `messages` sent,
//  then optionally a reserve left open (a writer dead before its commit).
static s_seed_t *
s_make (const char *name, size_t capacity, size_t slot_size, int messages, bool reserved,
        bool with_reader)
{
    zshm_ring_unlink (S_NAME);
    zshm_ring_t *ring = zshm_ring_new (S_NAME, capacity, slot_size);
    if (!ring) {
        perror ("gen_segment_corpus: zshm_ring_new");
        exit (1);
    }
    zshm_ring_set_type (ring, "zshm.fuzz.Seed");
    uint8_t buffer [4096];
    for (int k = 1; k <= messages; k++) {
        size_t size = s_payload (k, slot_size, buffer);
        if (zshm_ring_send (ring, buffer, size) != (uint64_t) k) {
            perror ("gen_segment_corpus: zshm_ring_send");
            exit (1);
        }
    }
    if (reserved)
        zshm_ring_reserve (ring, NULL);
    zshm_ring_t *handle = NULL;
    zshm_reader_t *reader = NULL;
    if (with_reader) {
        handle = zshm_ring_open (S_NAME);
        reader = handle ? zshm_reader_new (handle) : NULL;
    }
    size_t size;
    uint8_t *data = s_capture (&size);
    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&handle);
    zshm_ring_destroy (&ring);
    zshm_ring_unlink (S_NAME);
    s_seed_t *seed = s_add (name, data, size, S_OPENS);
    //  With a reserve left open what the ring still holds is the writer's
    //  business; otherwise its last messages come back intact.
    seed->capacity = (int) capacity;
    seed->last = reserved ? 0 : messages;
    free (data);
    return seed;
}

//  A variant of `base`, changed by `edit` (which may shrink *size_p).
typedef void (s_edit_fn) (uint8_t *data, size_t *size_p, uint64_t arg);

static void
s_variant (const s_seed_t *base, const char *name, s_expect_t expect, s_edit_fn *edit,
           uint64_t arg)
{
    uint8_t *data = (uint8_t *) malloc (base->size + 4096);
    if (!data)
        exit (1);
    memcpy (data, base->data, base->size);
    size_t size = base->size;
    edit (data, &size, arg);
    s_add (name, data, size, expect);
    free (data);
}

static zshm_header_t *
s_header (uint8_t *data)
{
    return (zshm_header_t *) data;
}

static zshm_slot_t *
s_slot (uint8_t *data, uint64_t index)
{
    zshm_header_t *header = s_header (data);
    return (zshm_slot_t *) (data + ZSHM_SLOTS_OFFSET + index * header->slot_stride);
}

//  Edits.  Each names what it breaks; arg is its parameter.
static void
s_truncate (uint8_t *data, size_t *size_p, uint64_t arg)
{
    *size_p = arg < *size_p ? arg : *size_p;
}

static void
s_shorten (uint8_t *data, size_t *size_p, uint64_t arg)
{
    *size_p -= arg;
}

static void
s_grow (uint8_t *data, size_t *size_p, uint64_t arg)
{
    for (uint64_t index = 0; index < arg; index++)
        data [*size_p + index] = (uint8_t) (index * 13);
    *size_p += arg;
}

static void
s_magic (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->magic ^= arg;
}

static void
s_version (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->version = (uint32_t) arg;
}

static void
s_header_size (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->header_size = (uint32_t) arg;
}

static void
s_ready (uint8_t *data, size_t *size_p, uint64_t arg)
{
    zshm_store_relaxed (&s_header (data)->ready, arg);
}

//  A capacity, with stride and total kept consistent so that only the
//  capacity (or the file size) is wrong.
static void
s_capacity (uint8_t *data, size_t *size_p, uint64_t arg)
{
    zshm_header_t *header = s_header (data);
    header->capacity = arg;
    header->total_size = ZSHM_SLOTS_OFFSET + arg * header->slot_stride;
}

static void
s_slot_size (uint8_t *data, size_t *size_p, uint64_t arg)
{
    zshm_header_t *header = s_header (data);
    header->slot_size = arg;
    header->slot_stride = ZSHM_SLOT_STRIDE (arg);
    header->total_size = ZSHM_SLOTS_OFFSET + header->capacity * header->slot_stride;
}

static void
s_stride (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->slot_stride = arg;
}

static void
s_slots_offset (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->slots_offset = arg;
}

static void
s_total (uint8_t *data, size_t *size_p, uint64_t arg)
{
    s_header (data)->total_size += arg;
}

static void
s_head (uint8_t *data, size_t *size_p, uint64_t arg)
{
    zshm_store_relaxed (&s_header (data)->head, arg);
}

static void
s_type_unterminated (uint8_t *data, size_t *size_p, uint64_t arg)
{
    memset (data + offsetof (zshm_header_t, type_name), (int) arg, ZSHM_TYPE_NAME_MAX);
}

//  Every slot's length set to arg.
static void
s_lengths (uint8_t *data, size_t *size_p, uint64_t arg)
{
    for (uint64_t index = 0; index < s_header (data)->capacity; index++)
        zshm_store_relaxed (&s_slot (data, index)->length, (uint32_t) arg);
}

//  Every slot's state or'ed with arg (e.g. the dirty bit).
static void
s_states_or (uint8_t *data, size_t *size_p, uint64_t arg)
{
    for (uint64_t index = 0; index < s_header (data)->capacity; index++) {
        zshm_slot_t *slot = s_slot (data, index);
        zshm_store_relaxed (&slot->state, zshm_load_relaxed (&slot->state) | arg);
    }
}

//  Slot i's state set to arg - i (clean): sequences that run backwards.
static void
s_states_descending (uint8_t *data, size_t *size_p, uint64_t arg)
{
    for (uint64_t index = 0; index < s_header (data)->capacity; index++)
        zshm_store_relaxed (&s_slot (data, index)->state, (arg - index) & ZSHM_SEQ_MASK);
}

//  xorshift64: deterministic noise.
static uint64_t
s_next (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

//  Noise over the slots region (after the header: the layout stays valid).
static void
s_noise_slots (uint8_t *data, size_t *size_p, uint64_t arg)
{
    uint64_t state = arg;
    for (size_t offset = ZSHM_SLOTS_OFFSET; offset < *size_p; offset++)
        data [offset] = (uint8_t) s_next (&state);
}

//  States only: random sequences near the head and dirty bits, lengths
//  within and beyond the slot.
static void
s_noise_states (uint8_t *data, size_t *size_p, uint64_t arg)
{
    uint64_t state = arg;
    zshm_header_t *header = s_header (data);
    uint64_t head = zshm_load_relaxed (&header->head);
    for (uint64_t index = 0; index < header->capacity; index++) {
        zshm_slot_t *slot = s_slot (data, index);
        uint64_t noise = s_next (&state);
        uint64_t seq = head + (noise % 9) - 4;
        zshm_store_relaxed (&slot->state, (seq & ZSHM_SEQ_MASK) | ((noise & 16) ? ZSHM_DIRTY : 0));
        zshm_store_relaxed (&slot->length, (uint32_t) ((noise >> 8) % (header->slot_size + 3)));
    }
}

//  The reader registry full of pids: arg for all, or garbage.
static void
s_registry (uint8_t *data, size_t *size_p, uint64_t arg)
{
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    zshm_control_t *control = (zshm_control_t *) (data + ZSHM_CONTROL_OFFSET);
    for (int index = 0; index < ZSHM_MAX_READERS; index++) {
        zshm_reader_entry_t *entry = &control->readers [index];
        uint32_t pid = arg ? (uint32_t) arg : (uint32_t) s_next (&state);
        zshm_store_relaxed (&entry->pid, pid);
        zshm_store_relaxed (&entry->position, s_next (&state));
        zshm_store_relaxed (&entry->lost, s_next (&state));
        zshm_store_relaxed (&entry->delivered, s_next (&state));
    }
}

static void
s_generate (void)
{
    s_seed_t *fresh = s_make ("valid-c2-s8-fresh", 2, 8, 0, false, false);
    s_seed_t *wrapped = s_make ("valid-c2-s8-wrapped", 2, 8, 5, false, false);
    s_seed_t *lapped = s_make ("valid-c4-s48-lapped", 4, 48, 11, false, false);
    s_make ("valid-c8-s100-reader", 8, 100, 3, false, true);
    s_make ("valid-c2-s8-reserved", 2, 8, 2, true, false);
    s_make ("valid-c128-s8-many", 128, 8, 300, false, false);
    (void) fresh;

    //  Truncated files.
    s_variant (wrapped, "trunc-empty", S_REFUSED, s_truncate, 0);
    s_variant (wrapped, "trunc-100", S_REFUSED, s_truncate, 100);
    s_variant (wrapped, "trunc-header-region", S_REFUSED, s_truncate, ZSHM_HEADER_REGION);
    s_variant (wrapped, "trunc-before-slots", S_REFUSED, s_truncate, ZSHM_SLOTS_OFFSET - 1);
    s_variant (wrapped, "trunc-one-slot", S_REFUSED, s_truncate, ZSHM_SLOTS_OFFSET + 64);
    s_variant (wrapped, "trunc-last-byte", S_REFUSED, s_shorten, 1);
    s_variant (wrapped, "longer-file", S_OPENS, s_grow, 1000);

    //  Each header field broken in turn.
    s_variant (wrapped, "bad-magic", S_REFUSED, s_magic, 1);
    s_variant (wrapped, "bad-version", S_REFUSED, s_version, ZSHM_LAYOUT_VERSION + 1);
    s_variant (wrapped, "bad-header-size", S_REFUSED, s_header_size, sizeof (zshm_header_t) - 1);
    s_variant (wrapped, "not-ready", S_REFUSED, s_ready, 0);
    s_variant (wrapped, "capacity-0", S_REFUSED, s_capacity, 0);
    s_variant (wrapped, "capacity-1", S_REFUSED, s_capacity, 1);
    s_variant (lapped, "capacity-3", S_REFUSED, s_capacity, 3);
    s_variant (wrapped, "capacity-beyond-file", S_REFUSED, s_capacity, 4);
    s_variant (wrapped, "capacity-huge", S_REFUSED, s_capacity, ZSHM_CAPACITY_MAX * 2);
    s_variant (wrapped, "capacity-wraps", S_REFUSED, s_capacity, 1ULL << 58);
    s_variant (wrapped, "slot-size-0", S_REFUSED, s_slot_size, 0);
    s_variant (wrapped, "slot-size-huge", S_REFUSED, s_slot_size, ZSHM_SLOT_SIZE_MAX + 1);
    s_variant (wrapped, "slot-size-beyond-file", S_REFUSED, s_slot_size, 49);
    s_variant (wrapped, "bad-stride", S_REFUSED, s_stride, 128);
    s_variant (wrapped, "bad-slots-offset", S_REFUSED, s_slots_offset, ZSHM_HEADER_REGION);
    s_variant (wrapped, "bad-total", S_REFUSED, s_total, 64);

    //  A valid header over hostile contents.
    s_variant (wrapped, "length-huge", S_OPENS, s_lengths, UINT32_MAX);
    s_variant (wrapped, "length-slot-plus-1", S_OPENS, s_lengths, 9);
    s_variant (lapped, "length-slot-plus-8", S_OPENS, s_lengths, 56);
    s_variant (wrapped, "states-all-dirty", S_OPENS, s_states_or, ZSHM_DIRTY);
    s_variant (lapped, "states-descending", S_OPENS, s_states_descending, 9);
    s_variant (wrapped, "states-seq-max", S_OPENS, s_states_descending, ZSHM_SEQ_MASK);
    s_variant (wrapped, "head-huge", S_OPENS, s_head, UINT64_MAX);
    s_variant (wrapped, "head-zero", S_OPENS, s_head, 0);
    s_variant (lapped, "head-far-behind", S_OPENS, s_head, 2);
    s_variant (wrapped, "type-unterminated", S_OPENS, s_type_unterminated, 'A');
    s_variant (wrapped, "registry-full", S_OPENS, s_registry, 1);
    s_variant (wrapped, "registry-garbage", S_OPENS, s_registry, 0);
    s_variant (wrapped, "noise-slots", S_OPENS, s_noise_slots, 0x2545f4914f6cdd1dULL);
    s_variant (lapped, "noise-states", S_OPENS, s_noise_states, 0x853c49e6748fea9bULL);
}

//  Does the seed behave as expected?
static void
s_check (const s_seed_t *seed)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/zshm.check", s_dir);
    unlink (path);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write (fd, seed->data, seed->size) != (ssize_t) seed->size) {
        perror ("gen_segment_corpus: write");
        exit (1);
    }
    close (fd);
    errno = 0;
    zshm_ring_t *ring = zshm_ring_open ("check");
    if (seed->expect == S_REFUSED) {
        if (ring)
            S_FAIL ("%s: opened, should be refused", seed->name);
        else
        if (errno != EPROTO)
            S_FAIL ("%s: refused with %s, not EPROTO", seed->name, strerror (errno));
    }
    else
    if (!ring)
        S_FAIL ("%s: refused (%s), should open", seed->name, strerror (errno));
    else
    if (seed->last) {
        //  An untouched segment gives back exactly what was published,
        //  from the oldest message it still holds (how many the ring keeps
        //  is its business: at most a ring's worth, at least the last).
        zshm_reader_t *reader = zshm_reader_new (ring);
        zshm_reader_seek_oldest (reader);
        int first = (int) zshm_reader_position (reader);
        if (first > seed->last || first < seed->last + 1 - seed->capacity || first < 1)
            S_FAIL ("%s: the oldest message held is %d, of 1..%d", seed->name, first,
                    seed->last);
        size_t slot_size = zshm_ring_slot_size (ring);
        uint8_t expected [4096], got [4096];
        for (int k = first; k <= seed->last; k++) {
            uint64_t seq = 0;
            ssize_t size = zshm_reader_try_recv (reader, got, sizeof got, &seq);
            size_t wanted = s_payload (k, slot_size, expected);
            if (size != (ssize_t) wanted || seq != (uint64_t) k || memcmp (got, expected, wanted)) {
                S_FAIL ("%s: message %d: got size %zd seq %llu", seed->name, k, size,
                        (unsigned long long) seq);
                break;
            }
        }
        if (zshm_reader_try_recv (reader, got, sizeof got, NULL) != -1 || errno != EPIPE)
            S_FAIL ("%s: more than published, or no EPIPE at the end", seed->name);
        zshm_reader_destroy (&reader);
    }
    zshm_ring_destroy (&ring);
    unlink (path);
}

static void
s_write (const char *dir, const s_seed_t *seed)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", dir, seed->name);
    FILE *file = fopen (path, "wb");
    if (!file || fwrite (seed->data, 1, seed->size, file) != seed->size || fclose (file)) {
        fprintf (stderr, "gen_segment_corpus: %s: %s\n", path, strerror (errno));
        exit (1);
    }
}

int
main (int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv [1][0] == '-')) {
        fprintf (stderr, "usage: gen_segment_corpus [DIR]\n");
        return 1;
    }
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/zshm-gen.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (s_dir)) {
        perror ("gen_segment_corpus: mkdtemp");
        return 1;
    }
    setenv ("ZSHM_DIR", s_dir, 1);
    s_generate ();
    for (int index = 0; index < s_count; index++) {
        if (argc == 2)
            s_write (argv [1], &s_seeds [index]);
        s_check (&s_seeds [index]);
        free (s_seeds [index].data);
    }
    rmdir (s_dir);
    printf ("gen_segment_corpus: %d seeds%s, %d failures\n", s_count,
            argc == 2 ? " written" : " checked", s_failures);
    return s_failures ? 1 : 0;
}
