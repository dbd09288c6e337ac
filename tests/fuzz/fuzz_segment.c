/*  =========================================================================
    fuzz_segment - libFuzzer target for segment validation, open and reads

    Each input is the whole content of a channel's shared-memory object, as
    a hostile or broken process could leave it.  It is written to a file in
    a private directory (ZSHM_DIR points there; nothing touches /dev/shm)
    and goes through what subscribers, tools and a restarted publisher do
    with a channel:

      - zshm_ring_open validates the header against the file;
      - zshm_ring_info, zshm_ring_type, zshm_ring_readers, zshm_ring_probe
        read the header and the reader registry;
      - a reader receives with try_recv (whole and truncated copies),
        recv_timeout and wait (0 ms), then peek/advance from the oldest
        message, a bounded number of times;
      - a writer takes the channel over (zshm_ring_new with its layout),
        publishes, and the reader must receive exactly that.

    The target checks that:

      - nothing crashes, reads out of bounds or leaks (the sanitizers; fuzz
        builds also put guard pages around shared mappings, see
        fuzz_mmap_guard.c);
      - zshm_ring_open accepts exactly the inputs that zshm_layout.h calls
        valid (an independent check of every header field against the file
        size here), and refuses the rest with EPROTO;
      - what opened reports the layout it was validated with;
      - a received or peeked message fits its slot and the caller's
        buffer, and a peeked one lies inside the mapping;
      - the reader's accounting holds after every call: the distance it
        moved is what it delivered plus what it counted lost.
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
#include <unistd.h>

#include "zshm_layout.h"
#include "zshm_reader.h"
#include "zshm_ring.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  From fuzz_mmap_guard.c, linked in fuzz builds only.
bool zshm_fuzz_mapped (const void *pointer, size_t size) __attribute__ ((weak));

//  Inputs beyond this are ignored: a valid segment of that size already has
//  hundreds of slots, and the target stays fast.
#define S_INPUT_MAX (1 << 20)
//  Name of the channel the input becomes.
#define S_NAME "fuzz-segment"

static char s_dir [PATH_MAX - 64];      //  private ZSHM_DIR
static char s_path [PATH_MAX];          //  the channel's file in it

//  Fail loudly: libFuzzer (or the replay driver) reports the abort with the
//  input that caused it.
#define S_CHECK(condition) \
    do { \
        if (!(condition)) { \
            fprintf (stderr, "fuzz_segment: check failed at line %d: %s\n", \
                     __LINE__, #condition); \
            abort (); \
        } \
    } while (0)

static void
s_cleanup (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

static void
s_setup (void)
{
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/zshm-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp (s_dir)) {
        perror ("fuzz_segment: mkdtemp");
        abort ();
    }
    setenv ("ZSHM_DIR", s_dir, 1);
    snprintf (s_path, sizeof s_path, "%s/zshm.%s", s_dir, S_NAME);
    atexit (s_cleanup);
}

static bool
s_write_file (const uint8_t *data, size_t size)
{
    unlink (s_path);
    int fd = open (s_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    size_t done = 0;
    while (done < size) {
        ssize_t rc = write (fd, data + done, size - done);
        if (rc <= 0)
            break;
        done += (size_t) rc;
    }
    close (fd);
    return done == size;
}

//  What zshm_layout.h promises a reader checks, written out independently
//  of zshm_ring.c: the input is a segment zshm_ring_open must accept.
static bool
s_layout_valid (const uint8_t *data, size_t size)
{
    zshm_header_t header;
    if (size < ZSHM_SLOTS_OFFSET)
        return false;
    memcpy (&header, data, sizeof header);
    uint64_t capacity = header.capacity;
    uint64_t slot_size = header.slot_size;
    uint64_t ready;
    memcpy (&ready, data + offsetof (zshm_header_t, ready), sizeof ready);
    if (header.magic != ZSHM_MAGIC || header.version != ZSHM_LAYOUT_VERSION
    ||  header.header_size != sizeof (zshm_header_t) || ready != ZSHM_READY)
        return false;
    if (capacity < 2 || capacity > ZSHM_CAPACITY_MAX || (capacity & (capacity - 1)))
        return false;
    if (slot_size < 1 || slot_size > ZSHM_SLOT_SIZE_MAX)
        return false;
    uint64_t total = ZSHM_SLOTS_OFFSET + capacity * ZSHM_SLOT_STRIDE (slot_size);
    return header.slot_stride == ZSHM_SLOT_STRIDE (slot_size)
        && header.slots_offset == ZSHM_SLOTS_OFFSET
        && total <= ZSHM_TOTAL_MAX
        && header.total_size == total
        && total <= size;
}

//  The reader's accounting since the last mark.
typedef struct {
    uint64_t position;          //  position at the mark
    uint64_t delivered;         //  delivered at the mark
    uint64_t lost;              //  lost at the mark
} s_mark_t;

static s_mark_t
s_mark (zshm_reader_t *reader)
{
    s_mark_t mark = { zshm_reader_position (reader), zshm_reader_delivered (reader),
                      zshm_reader_lost (reader) };
    return mark;
}

static void
s_check_accounts (zshm_reader_t *reader, s_mark_t *mark)
{
    //  Unsigned arithmetic: a hostile head may carry positions round 2^64,
    //  and the identity still holds modulo 2^64.
    uint64_t moved = zshm_reader_position (reader) - mark->position;
    uint64_t counted = (zshm_reader_delivered (reader) - mark->delivered)
                     + (zshm_reader_lost (reader) - mark->lost);
    S_CHECK (moved == counted);
}

//  Receive whole and truncated copies until nothing is ready, at most
//  `rounds` times.  Returns how many messages arrived.
static int
s_drain (zshm_reader_t *reader, size_t slot_size, int rounds)
{
    s_mark_t mark = s_mark (reader);
    uint8_t *whole = (uint8_t *) malloc (slot_size);
    uint8_t small [5];
    S_CHECK (whole);
    int received = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t seq = 0;
        uint64_t before = zshm_reader_position (reader);
        ssize_t rc = round & 1
                   ? zshm_reader_try_recv (reader, small, sizeof small, &seq)
                   : zshm_reader_try_recv (reader, whole, slot_size, &seq);
        s_check_accounts (reader, &mark);
        if (rc < 0) {
            S_CHECK (errno == EAGAIN || errno == EPIPE);
            break;
        }
        S_CHECK ((uint64_t) rc <= slot_size);
        S_CHECK (seq >= before && seq + 1 == zshm_reader_position (reader));
        received++;
    }
    free (whole);
    return received;
}

//  Peek and advance from the oldest message held, at most `rounds` times.
static void
s_peek_all (zshm_reader_t *reader, size_t slot_size, int rounds)
{
    zshm_reader_seek_oldest (reader);
    s_mark_t mark = s_mark (reader);
    for (int round = 0; round < rounds; round++) {
        size_t size = 0;
        uint64_t seq = 0;
        const uint8_t *bytes = (const uint8_t *) zshm_reader_peek (reader, &size, &seq);
        s_check_accounts (reader, &mark);
        if (!bytes) {
            S_CHECK (errno == EAGAIN || errno == EPIPE);
            break;
        }
        S_CHECK (size <= slot_size && seq == zshm_reader_position (reader));
        if (zshm_fuzz_mapped)
            S_CHECK (zshm_fuzz_mapped (bytes, size));
        //  Touch every byte, as a zero-copy caller would.
        volatile uint8_t sum = 0;
        for (size_t index = 0; index < size; index++)
            sum = (uint8_t) (sum + bytes [index]);
        (void) sum;
        zshm_reader_advance (reader);
        s_check_accounts (reader, &mark);
    }
}

//  The sequence a takeover resumes at, read from the file as the reader
//  mapped it: after the highest clean sequence, or at the lowest dirty
//  mark if that is higher (see s_resume_point in zshm_ring.c).
static uint64_t
s_resume_point (const zshm_ring_info_t *info)
{
    FILE *file = fopen (s_path, "rb");
    S_CHECK (file);
    uint64_t last = 0, lowest_dirty = UINT64_MAX;
    uint64_t stride = ZSHM_SLOT_STRIDE (info->slot_size);
    for (uint64_t index = 0; index < info->capacity; index++) {
        uint64_t state = 0;
        S_CHECK (fseek (file, (long) (ZSHM_SLOTS_OFFSET + index * stride), SEEK_SET) == 0);
        S_CHECK (fread (&state, sizeof state, 1, file) == 1);
        uint64_t seq = state & ZSHM_SEQ_MASK;
        if (state & ZSHM_DIRTY)
            lowest_dirty = seq < lowest_dirty ? seq : lowest_dirty;
        else
            last = seq > last ? seq : last;
    }
    fclose (file);
    return lowest_dirty != UINT64_MAX && lowest_dirty > last + 1 ? lowest_dirty : last + 1;
}

//  A restarted publisher takes the channel over: it must accept the layout
//  (the reader did) unless the sequence is beyond what it may continue
//  (2^62), publish, and a reader at the head must get exactly what it
//  published.
static void
s_take_over (zshm_ring_t *ring, zshm_reader_t *reader, const zshm_ring_info_t *info)
{
    bool resumable = s_resume_point (info) < (1ULL << 62);
    //  Another layout is refused while the old segment is there.
    size_t other = info->capacity == 2 ? 4 : info->capacity / 2;
    zshm_ring_t *writer = zshm_ring_new (S_NAME, other, info->slot_size);
    S_CHECK (writer == NULL && errno == EEXIST);

    writer = zshm_ring_new (S_NAME, info->capacity, info->slot_size);
    if (!writer) {
        //  A sequence it may not continue: EEXIST.  Otherwise resources,
        //  never validation: the reader opened this segment.
        if (!resumable)
            S_CHECK (errno == EEXIST);
        else
            S_CHECK (errno != EPROTO && errno != EEXIST && errno != EINVAL);
        return;
    }
    S_CHECK (resumable);
    S_CHECK (zshm_ring_probe (S_NAME) == 1);
    S_CHECK (zshm_ring_writer_alive (ring));
    uint8_t payload [24];
    size_t size = info->slot_size < sizeof payload ? info->slot_size : sizeof payload;
    for (size_t index = 0; index < size; index++)
        payload [index] = (uint8_t) (index * 7 + 1);
    //  What the hostile segment left is read on; then from the head, the
    //  next message must come through intact.  A sequence near 2^63 (a
    //  hostile segment can claim one) wraps the 63-bit state word, so the
    //  exact check stops short of it.
    zshm_ring_send (writer, payload, size);
    s_drain (reader, info->slot_size, 2 * (int) info->capacity + 4);
    uint64_t head = zshm_ring_head (writer);
    zshm_reader_seek_latest (reader);
    uint64_t seq = zshm_ring_send (writer, payload, size);
    S_CHECK (seq == head);
    if (seq < (1ULL << 62)) {
        uint8_t *buffer = (uint8_t *) malloc (info->slot_size);
        S_CHECK (buffer);
        uint64_t got = 0;
        ssize_t rc = zshm_reader_try_recv (reader, buffer, info->slot_size, &got);
        S_CHECK (rc == (ssize_t) size && got == seq && memcmp (buffer, payload, size) == 0);
        free (buffer);
    }
    zshm_ring_destroy (&writer);
    S_CHECK (zshm_ring_probe (S_NAME) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!*s_dir)
        s_setup ();
    if (size > S_INPUT_MAX || !s_write_file (data, size))
        return 0;

    bool valid = s_layout_valid (data, size);
    errno = 0;
    zshm_ring_t *ring = zshm_ring_open (S_NAME);
    if (!ring) {
        S_CHECK (!valid || errno == ENOMEM);
        S_CHECK (errno == EPROTO || errno == ENOMEM);
        unlink (s_path);
        return 0;
    }
    S_CHECK (valid);

    //  The header, as tools see it.
    zshm_ring_info_t info;
    S_CHECK (zshm_ring_info (ring, &info) == 0);
    zshm_header_t header;
    memcpy (&header, data, sizeof header);
    S_CHECK (info.capacity == header.capacity && info.slot_size == header.slot_size);
    S_CHECK (info.capacity == zshm_ring_capacity (ring));
    S_CHECK (info.slot_size == zshm_ring_slot_size (ring));
    S_CHECK (info.total_size == header.total_size);
    S_CHECK (memchr (info.type_name, 0, sizeof info.type_name));
    S_CHECK (!info.writer_alive && zshm_ring_probe (S_NAME) == 0);
    char type [8];
    size_t length = zshm_ring_type (ring, type, sizeof type);
    S_CHECK (length < sizeof type && strlen (type) == length);
    zshm_reader_info_t readers [ZSHM_MAX_READERS];
    int count = zshm_ring_readers (ring, readers, 2);
    S_CHECK (count >= 0 && count <= ZSHM_MAX_READERS);
    S_CHECK (zshm_ring_readers (ring, readers, ZSHM_MAX_READERS) == count);

    //  A subscriber: from the head hint (wherever a hostile one points),
    //  then from the oldest message.
    zshm_reader_t *reader = zshm_reader_new (ring);
    S_CHECK (reader);
    int rounds = 2 * (int) info.capacity + 8;
    s_drain (reader, info.slot_size, rounds);
    uint8_t buffer [16];
    zshm_reader_seek_oldest (reader);
    s_mark_t mark = s_mark (reader);
    ssize_t rc = zshm_reader_recv_timeout (reader, buffer, sizeof buffer, NULL, 0);
    S_CHECK (rc >= 0 ? (uint64_t) rc <= info.slot_size : errno == EAGAIN || errno == EPIPE);
    s_check_accounts (reader, &mark);
    rc = zshm_reader_wait (reader, 0);
    S_CHECK (rc == 0 || errno == EAGAIN || errno == EPIPE);
    s_peek_all (reader, info.slot_size, rounds);

    s_take_over (ring, reader, &info);

    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&ring);
    unlink (s_path);
    return 0;
}
