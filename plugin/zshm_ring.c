/*  =========================================================================
    zshm_ring - single-producer / multi-consumer broadcast ring

    The protocol.  Each slot starts with a state word [dirty | seq].  At any
    time at least one slot is dirty: the one the writer fills next.  The
    writer publishes seq k into slot i = k & mask.

        Writer (zshm_ring_reserve/commit,       Reader (zshm_reader.c, s_read)
        inline in zshm_ring_priv.h)
        ---------------------------------       ------------------------------
        W1 i.state = DIRTY | k    (relaxed)     R1 s = i.state      (acquire)
        W2 fence (release)                         dirty, or seq < k: not ready
           ...                                     seq > k: lapped, resync
        W3 i.length, i.payload    (relaxed)     R2 n = i.length; n > slot: bad
        W4 i.state = k            (release)     R3 copy n bytes     (relaxed)
                                                R4 fence (acquire)
                                                R5 s2 = i.state     (relaxed)
                                                   s2 != s: torn, resync

    W1 and W2 for k happen early, before k is reserved: at the end of the
    commit of k-2 (or, on a 2-slot ring and after a takeover, in the
    reserve of k-1).  What matters is only that they come before any W3
    of k; doing them early keeps the ownership request for slot i, which a
    reader may hold, off the path between one publish and the next.  So
    one or two slots are dirty at any time.

    A: W4 pairs with R1.  If the reader sees slot i clean with seq k, the
       release/acquire pair makes W3 (the length and payload of k) visible
       to R2 and R3.  Without it the reader could copy the previous lap's
       bytes under the new sequence number.

    B: W2 pairs with R4.  The writer overwrites slot i only on its next lap,
       and before that it runs W1 on slot i (DIRTY | k+capacity) and W2.
       If R3 read even one word of that next lap's W3, the fences
       synchronise (W2 before W3 on the writer, R3 before R4 on the
       reader), so R5 sees W1's dirty state or something later, never s:
       the torn copy is detected and discarded.
       A release *store* in W1 would not do: it orders what comes before
       it, not the payload stores that come after.

    The reader decodes only its private copy, never the shared bytes, and
    never trusts the length before R5 confirms it (R2 clamps it anyway).

    All payload accesses are relaxed atomic word copies (zshm_atomics.h), so
    the race a lapped reader has with the writer is defined behaviour, and
    ThreadSanitizer sees no plain racing access.  TSan does not model the
    standalone fences W2/R4, and cannot judge two relaxed accesses against
    each other; what it checks is that no plain access races (ours and the
    caller's, e.g. a zero-copy fill) and the release/acquire pairs it sees.
    A and B are argued above, exercised by the multi-process stress tests,
    and model-checked under sequential consistency (tests/model/).

    Liveness.  The writer holds an exclusive flock on the segment for as
    long as it lives; the kernel drops it when the process dies, however it
    dies.  A reader probes with a non-blocking shared flock: if it gets it,
    the writer is dead.  A segment shrunk under its readers also counts as
    dead (zshm_guard.h keeps the SIGBUS that would follow from killing us).  Segments are created under a temporary name, fully
    initialised and locked, then linked into place, so a reader never sees
    a half-made segment.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zshm_guard.h"
#include "zshm_reader.h"
#include "zshm_ring_priv.h"

//  How long a new writer retries for the lock when readers' liveness probes
//  (brief shared locks) are in the way, before it reports EBUSY.
#define ZSHM_LOCK_RETRIES 50
//  A takeover refuses to continue a sequence past this: it would wrap the
//  63-bit sequence field within the lifetime of the channel.
#define ZSHM_SEQ_RESUME_MAX (1ULL << 62)
#define ZSHM_LOCK_RETRY_US 2000

static uint64_t
s_now_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static uint64_t
s_random64 (void)
{
    uint64_t value = 0;
    if (getrandom (&value, sizeof value, GRND_NONBLOCK) != sizeof value)
        value = s_now_ns (CLOCK_MONOTONIC) ^ ((uint64_t) getpid () << 32);
    return value ? value : 1;
}

const char *
zshm_ring_dir (void)
{
    const char *dir = getenv ("ZSHM_DIR");
    return dir && *dir ? dir : "/dev/shm";
}

bool
zshm_ring_name_valid (const char *name)
{
    if (!name || !*name || *name == '.')
        return false;
    size_t length = 0;
    for (const char *c = name; *c; c++, length++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
               || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.';
        if (!ok || length >= ZSHM_NAME_MAX)
            return false;
    }
    return true;
}

//  The segment's path for a valid name; 0 or -1 with errno.
static int
s_path (const char *name, char *path, size_t size)
{
    if (!zshm_ring_name_valid (name)) {
        errno = EINVAL;
        return -1;
    }
    int rc = snprintf (path, size, "%s/zshm.%s", zshm_ring_dir (), name);
    if (rc < 0 || (size_t) rc >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

//  Round a capacity up to a power of two, at least 2; 0 if too large.
static uint64_t
s_round_capacity (size_t capacity)
{
    if (capacity > ZSHM_CAPACITY_MAX)
        return 0;
    uint64_t rounded = 2;
    while (rounded < capacity)
        rounded <<= 1;
    return rounded;
}

//  Lay out a fresh ring in zeroed memory the caller provides.  No mmap
//  here: heap rings and shared rings run the same code.
static void
s_layout_init (uint8_t *base, uint64_t capacity, uint64_t slot_size)
{
    zshm_header_t *header = (zshm_header_t *) base;
    header->magic = ZSHM_MAGIC;
    header->version = ZSHM_LAYOUT_VERSION;
    header->header_size = sizeof (zshm_header_t);
    header->capacity = capacity;
    header->slot_size = slot_size;
    header->slot_stride = ZSHM_SLOT_STRIDE (slot_size);
    header->slots_offset = ZSHM_SLOTS_OFFSET;
    header->total_size = zshm_layout_total (capacity, slot_size);
    header->created_ns = s_now_ns (CLOCK_REALTIME);
    zshm_store_relaxed (&header->writer_pid, (uint32_t) getpid ());
    zshm_store_relaxed (&header->incarnation, s_random64 ());
    zshm_store_relaxed (&header->started_ns, header->created_ns);
    zshm_store_relaxed (&header->takeovers, 0);
    //  Sequences start at 1; slot 1 is the first the writer fills, so it
    //  starts dirty (the invariant: one slot always is).  The rest are
    //  clean with sequence 0, which no reader ever expects.
    zshm_slot_t *first = (zshm_slot_t *) (base + ZSHM_SLOTS_OFFSET + (1 & (capacity - 1))
                                          * ZSHM_SLOT_STRIDE (slot_size));
    zshm_store_relaxed (&first->state, ZSHM_DIRTY | 1);
    zshm_store_relaxed (&header->head, 1);
    //  Readers check `ready` (acquire) before anything else: every field
    //  above is visible to whoever sees it.
    zshm_store_release (&header->ready, ZSHM_READY);
}

//  Point the ring's fields at a mapping, trusting only validated sizes.
static void
s_attach (zshm_ring_t *self, uint8_t *base, size_t map_size, uint64_t capacity,
          uint64_t slot_size)
{
    self->base = base;
    self->map_size = map_size;
    self->header = (zshm_header_t *) base;
    self->control = (zshm_control_t *) (base + ZSHM_CONTROL_OFFSET);
    self->slots = base + ZSHM_SLOTS_OFFSET;
    self->capacity = capacity;
    self->mask = capacity - 1;
    self->slot_size = slot_size;
    self->stride = ZSHM_SLOT_STRIDE (slot_size);
}

//  Read the header of an open segment with pread (no mapping, so a file
//  shrunk under us cannot SIGBUS here) and check every field against the
//  file.  Returns 0 and the validated capacity and slot size, or -1 with
//  errno EPROTO (not a valid segment) or the error of fstat/pread.
static int
s_validate (int fd, uint64_t *capacity_p, uint64_t *slot_size_p)
{
    struct stat st;
    if (fstat (fd, &st))
        return -1;
    if (!S_ISREG (st.st_mode)) {
        errno = EPROTO;
        return -1;
    }
    zshm_header_t header;
    if (st.st_size < (off_t) ZSHM_SLOTS_OFFSET
    ||  pread (fd, &header, sizeof header, 0) != (ssize_t) sizeof header) {
        errno = EPROTO;
        return -1;
    }
    uint64_t capacity = header.capacity;
    uint64_t slot_size = header.slot_size;
    bool valid = header.magic == ZSHM_MAGIC
              && header.version == ZSHM_LAYOUT_VERSION
              && header.header_size == sizeof (zshm_header_t)
              && zshm_load_relaxed (&header.ready) == ZSHM_READY
              && capacity >= 2 && capacity <= ZSHM_CAPACITY_MAX
              && (capacity & (capacity - 1)) == 0
              && slot_size >= 1 && slot_size <= ZSHM_SLOT_SIZE_MAX
              && header.slot_stride == ZSHM_SLOT_STRIDE (slot_size)
              && header.slots_offset == ZSHM_SLOTS_OFFSET
              && zshm_layout_total (capacity, slot_size) <= ZSHM_TOTAL_MAX
              && header.total_size == zshm_layout_total (capacity, slot_size)
              && header.total_size <= (uint64_t) st.st_size;
    if (!valid) {
        errno = EPROTO;
        return -1;
    }
    //  pread is a plain copy; it is ordered after the creator's writes by
    //  the link() that published the file (a system call, a full barrier),
    //  and the fields validated here never change after creation.
    *capacity_p = capacity;
    *slot_size_p = slot_size;
    return 0;
}

//  Take the writer's lock, retrying while readers' probes hold it shared.
static int
s_lock_writer (int fd)
{
    for (int attempt = 0; attempt < ZSHM_LOCK_RETRIES; attempt++) {
        if (flock (fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        usleep (ZSHM_LOCK_RETRY_US);
    }
    errno = EBUSY;
    return -1;
}

//  Where a dead writer's sequence stopped: the next sequence to publish.
//  Every published slot is clean with its sequence; the dead writer's W1s
//  left the next one or two slots dirty, which is harmless (they are marked
//  again by our own W1s).
static uint64_t
s_resume_point (const uint8_t *slots, uint64_t capacity, uint64_t stride)
{
    uint64_t last = 0, lowest_dirty = UINT64_MAX;
    for (uint64_t index = 0; index < capacity; index++) {
        const zshm_slot_t *slot = (const zshm_slot_t *) (slots + index * stride);
        uint64_t state = zshm_load_relaxed (&slot->state);
        uint64_t seq = state & ZSHM_SEQ_MASK;
        if (state & ZSHM_DIRTY) {
            if (seq < lowest_dirty)
                lowest_dirty = seq;
        }
        else
        if (seq > last)
            last = seq;
    }
    uint64_t next = last + 1;
    //  A 2-slot ring whose writer died between reserve and commit has both
    //  slots dirty and no clean slot to say where it stopped; the lowest
    //  dirty mark is the sequence it had reserved.  In every other state
    //  lowest_dirty == last + 1.
    if (lowest_dirty != UINT64_MAX && lowest_dirty > next)
        next = lowest_dirty;
    return next;
}

//  A writer taking over a dead writer's segment carries on at `next`.
static void
s_take_over (zshm_ring_t *self, uint64_t next)
{
    self->next = next;
    //  Restore the invariant: the slot we fill next is dirty.  Readers
    //  waiting for it already see it dirty or clean with an older lap.
    zshm_store_relaxed (&zshm_ring_slot (self, self->next)->state, ZSHM_DIRTY | self->next);
    zshm_header_t *header = self->header;
    zshm_store_relaxed (&header->writer_pid, (uint32_t) getpid ());
    zshm_store_relaxed (&header->incarnation, s_random64 ());
    zshm_store_relaxed (&header->started_ns, s_now_ns (CLOCK_REALTIME));
    zshm_store_relaxed (&header->takeovers, zshm_load_relaxed (&header->takeovers) + 1);
    zshm_store_relaxed (&header->head, self->next);
}

//  A zeroed ring struct, aligned for its writer's cache line.
static zshm_ring_t *
s_ring_alloc (void)
{
    void *memory = NULL;
    if (posix_memalign (&memory, ZSHM_CACHE_LINE, sizeof (zshm_ring_t))) {
        errno = ENOMEM;
        return NULL;
    }
    return (zshm_ring_t *) memset (memory, 0, sizeof (zshm_ring_t));
}

static zshm_ring_t *
s_new_heap (uint64_t capacity, uint64_t slot_size)
{
    zshm_ring_t *self = s_ring_alloc ();
    if (!self)
        return NULL;
    size_t total = zshm_layout_total (capacity, slot_size);
    //  posix_memalign, not aligned_alloc: C11's aligned_alloc wants the
    //  size to be a multiple of the alignment, and a ring's total is not.
    void *memory = NULL;
    if (posix_memalign (&memory, 4096, total))
        memory = NULL;
    uint8_t *base = (uint8_t *) memory;
    if (!base) {
        free (self);
        errno = ENOMEM;
        return NULL;
    }
    memset (base, 0, total);
    s_layout_init (base, capacity, slot_size);
    s_attach (self, base, total, capacity, slot_size);
    self->fd = -1;
    self->guard = -1;
    self->writer = true;
    self->control_writable = true;
    self->next = 1;
    return self;
}

zshm_ring_t *
zshm_ring_new (const char *name, size_t capacity, size_t slot_size)
{
    return zshm_ring_new_ex (name, capacity, slot_size, 0, 0600);
}

//  The channel's file is there: take it over if its writer is dead and its
//  layout is ours.  Returns 1 when taken over (self is attached to it), 0
//  when there is nothing to take over (gone, replaced under us, or removed
//  by us for ZSHM_RING_REPLACE): create one; -1 with errno otherwise
//  (EBUSY a live writer, EEXIST another layout, EACCES another user's).
static int
s_take_existing (zshm_ring_t *self, const char *path, uint64_t capacity, uint64_t slot_size,
                 int flags)
{
    int fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ELOOP && (flags & ZSHM_RING_REPLACE))
            return unlink (path) && errno != ENOENT ? -1 : 0;
        return errno == ENOENT ? 0 : -1;
    }
    struct stat st, now;
    int error = 0;
    if (fstat (fd, &st))
        error = errno;
    else
    if (st.st_uid != geteuid ())
        error = EACCES;                 //  never take over another user's
    else
    if (s_lock_writer (fd))
        error = errno;
    if (error) {
        close (fd);
        errno = error;
        return -1;
    }
    //  While we waited for the lock, `zshm clean` or a replacing writer may
    //  have unlinked this file: taking it over would publish where no new
    //  reader looks.  Start again if the path no longer names what we hold.
    if (lstat (path, &now) || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
        close (fd);
        return 0;
    }
    uint64_t old_capacity, old_slot_size;
    size_t total = zshm_layout_total (capacity, slot_size);
    if (s_validate (fd, &old_capacity, &old_slot_size) == 0
    &&  old_capacity == capacity && old_slot_size == slot_size) {
        uint8_t *base = (uint8_t *) mmap (NULL, total, PROT_READ | PROT_WRITE,
                                          MAP_SHARED | MAP_POPULATE, fd, 0);
        if (base == MAP_FAILED) {
            error = errno;
            close (fd);
            errno = error;
            return -1;
        }
        uint64_t next = s_resume_point (base + ZSHM_SLOTS_OFFSET, capacity,
                                        ZSHM_SLOT_STRIDE (slot_size));
        if (next < ZSHM_SEQ_RESUME_MAX) {
            s_attach (self, base, total, capacity, slot_size);
            s_take_over (self, next);
            self->fd = fd;
            self->guard = zshm_guard_add (self->base, self->map_size);
            return 1;
        }
        //  A sequence no writer reaches (2^62 at 1 G msg/s is 146 years):
        //  planted, not a channel to continue.
        munmap (base, total);
    }
    if (!(flags & ZSHM_RING_REPLACE)) {
        close (fd);
        errno = EEXIST;
        return -1;
    }
    //  Replace: we hold the dead writer's lock; remove its file.  Readers of
    //  it see its writer die when we close it.
    if (unlink (path) && errno != ENOENT) {
        error = errno;
        close (fd);
        errno = error;
        return -1;
    }
    close (fd);
    return 0;
}

zshm_ring_t *
zshm_ring_new_ex (const char *name, size_t capacity_wanted, size_t slot_size_wanted,
                  int flags, mode_t mode)
{
    uint64_t capacity = s_round_capacity (capacity_wanted);
    uint64_t slot_size = slot_size_wanted;
    if (!capacity || slot_size < 1 || slot_size > ZSHM_SLOT_SIZE_MAX
    ||  zshm_layout_total (capacity, slot_size) > ZSHM_TOTAL_MAX
    ||  (mode & ~0777u)) {
        errno = EINVAL;
        return NULL;
    }
    if (!name)
        return s_new_heap (capacity, slot_size);

    char path [PATH_MAX], temp [PATH_MAX];
    if (s_path (name, path, sizeof path))
        return NULL;
    snprintf (temp, sizeof temp, "%s/zshm-new.%d.%016llx", zshm_ring_dir (), (int) getpid (),
              (unsigned long long) s_random64 ());

    zshm_ring_t *self = s_ring_alloc ();
    size_t total = zshm_layout_total (capacity, slot_size);
    int fd = -1, error = ENOMEM;
    uint8_t *base = MAP_FAILED;
    if (!self || !(self->name = strdup (name)))
        goto failed;
    self->writer = true;
    self->control_writable = true;

    //  A dead writer's segment first: restarting a publisher needs no new
    //  memory, even on a full /dev/shm.  Then a new segment, built whole
    //  under a temporary name, locked, and linked into place: link() fails
    //  with EEXIST atomically, like O_EXCL, and no reader can ever open a
    //  half-made segment.  Whoever links first wins; the loser looks again.
    for (int attempt = 0;; attempt++) {
        int taken = s_take_existing (self, path, capacity, slot_size, flags);
        if (taken < 0)
            goto failed_errno;
        if (taken > 0)
            break;
        if (attempt == 100) {           //  a name flipping under us for ever
            error = EAGAIN;
            goto failed;
        }
        if (fd < 0) {
            fd = open (temp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
            if (fd < 0)
                goto failed_errno;
            if (fchmod (fd, mode) || flock (fd, LOCK_EX | LOCK_NB))
                goto failed_errno;
            //  Allocate now, so a full /dev/shm is ENOSPC here rather than
            //  SIGBUS on some later publish.
            if ((error = posix_fallocate (fd, 0, (off_t) total)))
                goto failed;
            //  MAP_POPULATE: fault every page in now, not on the first lap.
            base = (uint8_t *) mmap (NULL, total, PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, fd, 0);
            if (base == MAP_FAILED)
                goto failed_errno;
            s_layout_init (base, capacity, slot_size);
        }
        if (link (temp, path) == 0) {
            s_attach (self, base, total, capacity, slot_size);
            self->next = 1;
            self->fd = fd;
            self->guard = zshm_guard_add (self->base, self->map_size);
            base = MAP_FAILED;          //  ours now
            fd = -1;
            break;
        }
        if (errno != EEXIST)
            goto failed_errno;
    }
    if (base != MAP_FAILED)             //  a fresh segment we did not need
        munmap (base, total);
    if (fd >= 0)
        close (fd);
    unlink (temp);
    return self;

failed_errno:
    error = errno;
failed:
    if (base != MAP_FAILED)
        munmap (base, total);
    if (fd >= 0) {
        close (fd);
        unlink (temp);
    }
    if (self)
        free (self->name);
    free (self);
    errno = error;
    return NULL;
}

zshm_ring_t *
zshm_ring_open (const char *name)
{
    char path [PATH_MAX];
    if (s_path (name, path, sizeof path))
        return NULL;
    //  O_NOFOLLOW: a planted symlink is refused (ELOOP); O_NONBLOCK: a
    //  planted FIFO cannot hang us.  Read-write when allowed, for the
    //  control region; the slots are mapped read-only either way.
    bool writable = true;
    int fd = open (path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == EACCES) {
        writable = false;
        fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    }
    if (fd < 0) {
        if (errno == ELOOP)
            errno = EPROTO;
        return NULL;
    }
    uint64_t capacity, slot_size;
    if (s_validate (fd, &capacity, &slot_size)) {
        int error = errno;
        close (fd);
        errno = error;
        return NULL;
    }
    size_t total = zshm_layout_total (capacity, slot_size);
    uint8_t *base = (uint8_t *) mmap (NULL, total, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    zshm_ring_t *self = base == MAP_FAILED ? NULL
                      : s_ring_alloc ();
    if (!self || !(self->name = strdup (name))) {
        int error = base == MAP_FAILED ? errno : ENOMEM;
        if (base != MAP_FAILED)
            munmap (base, total);
        free (self);
        close (fd);
        errno = error;
        return NULL;
    }
    s_attach (self, base, total, capacity, slot_size);
    self->fd = fd;
    self->guard = zshm_guard_add (base, total);
    self->writer = false;
    self->control_writable = writable
        && mprotect (base + ZSHM_CONTROL_OFFSET, ZSHM_CONTROL_REGION,
                     PROT_READ | PROT_WRITE) == 0;
    return self;
}

void
zshm_ring_destroy (zshm_ring_t **self_p)
{
    assert (self_p);
    zshm_ring_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0) {
        zshm_guard_remove (self->guard);
        munmap (self->base, self->map_size);
        close (self->fd);               //  drops the writer's lock
    }
    else
        free (self->base);
    free (self->name);
    free (self);
    *self_p = NULL;
}

int
zshm_ring_unlink (const char *name)
{
    char path [PATH_MAX];
    if (s_path (name, path, sizeof path))
        return -1;
    return unlink (path);
}

size_t
zshm_ring_capacity (zshm_ring_t *self)
{
    assert (self);
    return self->capacity;
}

size_t
zshm_ring_slot_size (zshm_ring_t *self)
{
    assert (self);
    return self->slot_size;
}

const char *
zshm_ring_name (zshm_ring_t *self)
{
    assert (self);
    return self->name;
}

bool
zshm_ring_is_writer (zshm_ring_t *self)
{
    assert (self);
    return self->writer;
}

void *
zshm_ring_reserve (zshm_ring_t *self, uint64_t *seq_p)
{
    assert (self && self->writer);
    return zshm_ring_reserve_fast (self, seq_p);
}

int
zshm_ring_commit (zshm_ring_t *self, size_t size)
{
    assert (self && self->writer);
    if (!self->reserved) {
        errno = EINVAL;
        return -1;
    }
    if (size > self->slot_size) {
        errno = EMSGSIZE;
        return -1;
    }
    zshm_ring_commit_fast (self, size);
    return 0;
}

uint64_t
zshm_ring_send (zshm_ring_t *self, const void *data, size_t size)
{
    assert (self && self->writer);
    if (size > self->slot_size) {
        errno = EMSGSIZE;
        return 0;
    }
    uint64_t seq;
    void *payload = zshm_ring_reserve_fast (self, &seq);
    zshm_copy_to_shared (payload, data, size);              //  W3
    zshm_ring_commit_fast (self, size);
    return seq;
}

uint64_t
zshm_ring_head (zshm_ring_t *self)
{
    assert (self);
    return self->writer ? self->next : zshm_load_relaxed (&self->header->head);
}

uint64_t
zshm_ring_incarnation (zshm_ring_t *self)
{
    assert (self);
    return zshm_load_relaxed (&self->header->incarnation);
}

pid_t
zshm_ring_writer_pid (zshm_ring_t *self)
{
    assert (self);
    return (pid_t) zshm_load_relaxed (&self->header->writer_pid);
}

bool
zshm_ring_writer_alive (zshm_ring_t *self)
{
    assert (self);
    if (self->writer || self->fd < 0)
        return true;
    //  A segment shrunk under us (see zshm_guard.h) is as good as dead:
    //  what it held is gone, and we must not wait on it for ever.
    struct stat st;
    if (zshm_guard_tripped (self->guard)
    ||  fstat (self->fd, &st) || (uint64_t) st.st_size < self->map_size)
        return false;
    //  If we can share the lock, nobody holds it exclusively: the writer
    //  is gone.  Give it straight back so a new writer can take it.
    if (flock (self->fd, LOCK_SH | LOCK_NB) == 0) {
        flock (self->fd, LOCK_UN);
        return false;
    }
    return true;
}

int
zshm_ring_set_type (zshm_ring_t *self, const char *type_name)
{
    assert (self && self->writer);
    char buffer [ZSHM_TYPE_NAME_MAX] = { 0 };
    size_t length = type_name ? strlen (type_name) : 0;
    if (length >= sizeof buffer) {
        errno = EINVAL;
        return -1;
    }
    if (length)
        memcpy (buffer, type_name, length);
    zshm_copy_to_shared (self->header->type_name, buffer, sizeof buffer);
    return 0;
}

size_t
zshm_ring_type (zshm_ring_t *self, char *buf, size_t size)
{
    assert (self && buf && size);
    char buffer [ZSHM_TYPE_NAME_MAX];
    zshm_copy_from_shared (buffer, self->header->type_name, sizeof buffer);
    buffer [sizeof buffer - 1] = 0;
    size_t length = strnlen (buffer, sizeof buffer);
    if (length >= size)
        length = size - 1;
    memcpy (buf, buffer, length);
    buf [length] = 0;
    return length;
}

int
zshm_ring_info (zshm_ring_t *self, zshm_ring_info_t *info)
{
    assert (self && info);
    zshm_header_t *header = self->header;
    memset (info, 0, sizeof *info);
    info->capacity = self->capacity;
    info->slot_size = self->slot_size;
    info->total_size = self->map_size;
    info->head = zshm_ring_head (self);
    info->incarnation = zshm_load_relaxed (&header->incarnation);
    info->created_ns = header->created_ns;
    info->started_ns = zshm_load_relaxed (&header->started_ns);
    info->takeovers = zshm_load_relaxed (&header->takeovers);
    info->writer_pid = (pid_t) zshm_load_relaxed (&header->writer_pid);
    info->writer_alive = zshm_ring_writer_alive (self);
    zshm_ring_type (self, info->type_name, sizeof info->type_name);
    return 0;
}

int
zshm_ring_readers (zshm_ring_t *self, zshm_reader_info_t *info, int max)
{
    assert (self);
    int count = 0;
    for (int index = 0; index < ZSHM_MAX_READERS; index++) {
        zshm_reader_entry_t *entry = &self->control->readers [index];
        //  Relaxed throughout: a sample for display, nothing more.
        uint32_t pid = zshm_load_relaxed (&entry->pid);
        if (!pid)
            continue;
        if (count < max) {
            zshm_reader_info_t *reader = &info [count];
            reader->pid = (pid_t) pid;
            reader->alive = !(kill ((pid_t) pid, 0) == -1 && errno == ESRCH);
            reader->id = zshm_load_relaxed (&entry->id);
            reader->position = zshm_load_relaxed (&entry->position);
            reader->delivered = zshm_load_relaxed (&entry->delivered);
            reader->lost = zshm_load_relaxed (&entry->lost);
        }
        count++;
    }
    return count;
}

int
zshm_ring_probe (const char *name)
{
    char path [PATH_MAX];
    if (s_path (name, path, sizeof path))
        return -1;
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    int alive = 1;
    if (flock (fd, LOCK_SH | LOCK_NB) == 0) {
        flock (fd, LOCK_UN);
        alive = 0;
    }
    close (fd);
    return alive;
}

//  Shared futexes for segments (other processes sleep on them), private
//  ones for heap rings (cheaper: no inode lookup in the kernel).
void
zshm_ring_wake (zshm_ring_t *self)
{
    //  Release: a reader that wakes and sees the new futex value also sees
    //  the commit (W4) that preceded this wake.
    atomic_fetch_add_explicit (&self->control->futex, 1, memory_order_release);
    syscall (SYS_futex, &self->control->futex,
             self->fd < 0 ? FUTEX_WAKE_PRIVATE : FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void
zshm_ring_sleep (zshm_ring_t *self, uint32_t seen, int64_t timeout_ns)
{
    struct timespec timeout = { (time_t) (timeout_ns / 1000000000),
                                (long) (timeout_ns % 1000000000) };
    syscall (SYS_futex, &self->control->futex,
             self->fd < 0 ? FUTEX_WAIT_PRIVATE : FUTEX_WAIT, seen, &timeout, NULL, 0);
}

//  --------------------------------------------------------------------------
//  Self test

void
zshm_ring_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_ring: ");

    //  Names
    assert (zshm_ring_name_valid ("ticks"));
    assert (zshm_ring_name_valid ("a-b_c.9"));
    assert (!zshm_ring_name_valid (""));
    assert (!zshm_ring_name_valid (NULL));
    assert (!zshm_ring_name_valid ("a/b"));
    assert (!zshm_ring_name_valid (".hidden"));
    assert (!zshm_ring_name_valid ("sp ace"));
    char long_name [ZSHM_NAME_MAX + 2];
    memset (long_name, 'x', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    assert (!zshm_ring_name_valid (long_name));
    long_name [ZSHM_NAME_MAX] = 0;
    assert (zshm_ring_name_valid (long_name));

    //  Capacity rounding on the heap
    zshm_ring_t *ring = zshm_ring_new (NULL, 3, 64);
    assert (ring && zshm_ring_capacity (ring) == 4 && zshm_ring_slot_size (ring) == 64);
    zshm_ring_destroy (&ring);
    zshm_ring_destroy (&ring);
    assert (ring == NULL);
    ring = zshm_ring_new (NULL, 0, 8);
    assert (ring && zshm_ring_capacity (ring) == 2);

    //  Send, reserve/commit, EMSGSIZE
    char payload [9] = "12345678";
    assert (zshm_ring_send (ring, payload, 8) == 1);
    errno = 0;
    assert (zshm_ring_send (ring, payload, 9) == 0 && errno == EMSGSIZE);
    uint64_t seq = 0;
    void *slot = zshm_ring_reserve (ring, &seq);
    assert (slot && seq == 2);
    assert (zshm_ring_reserve (ring, NULL) == slot);
    assert (zshm_ring_commit (ring, 9) == -1 && errno == EMSGSIZE);
    assert (zshm_ring_commit (ring, 8) == 0);
    assert (zshm_ring_commit (ring, 8) == -1 && errno == EINVAL);
    assert (zshm_ring_head (ring) == 3);
    zshm_ring_destroy (&ring);

    //  Bad arguments
    assert (zshm_ring_new (NULL, 4, 0) == NULL && errno == EINVAL);
    assert (zshm_ring_new ("a/b", 4, 8) == NULL && errno == EINVAL);
    assert (zshm_ring_open ("") == NULL && errno == EINVAL);

    //  A shared channel: create, second writer, reader, takeover
    char name [64];
    snprintf (name, sizeof name, "selftest-ring-%d", (int) getpid ());
    zshm_ring_unlink (name);
    assert (zshm_ring_open (name) == NULL && errno == ENOENT);
    ring = zshm_ring_new (name, 16, 100);
    assert (ring);
    assert (zshm_ring_set_type (ring, "zshm.test.Type") == 0);
    assert (zshm_ring_new (name, 16, 100) == NULL && errno == EBUSY);
    zshm_ring_t *reader = zshm_ring_open (name);
    assert (reader && !zshm_ring_is_writer (reader));
    assert (zshm_ring_capacity (reader) == 16 && zshm_ring_slot_size (reader) == 100);
    assert (zshm_ring_writer_alive (reader));
    assert (zshm_ring_writer_pid (reader) == getpid ());
    char type [64];
    assert (zshm_ring_type (reader, type, sizeof type) == 14 && strcmp (type, "zshm.test.Type") == 0);
    zshm_ring_info_t info;
    assert (zshm_ring_info (reader, &info) == 0);
    assert (info.capacity == 16 && info.slot_size == 100 && info.writer_alive);
    assert (info.writer_pid == getpid () && strcmp (info.type_name, "zshm.test.Type") == 0);
    assert (zshm_ring_probe (name) == 1);
    zshm_reader_t *cursor = zshm_reader_new (reader);
    zshm_reader_info_t readers [4];
    assert (zshm_ring_readers (reader, readers, 4) == 1);
    assert (readers [0].pid == getpid () && readers [0].alive && readers [0].position == 1);
    zshm_reader_destroy (&cursor);
    assert (zshm_ring_readers (reader, readers, 4) == 0);
    for (int count = 0; count < 5; count++)
        assert (zshm_ring_send (ring, payload, 8) == (uint64_t) count + 1);
    uint64_t incarnation = zshm_ring_incarnation (reader);
    zshm_ring_destroy (&ring);
    assert (!zshm_ring_writer_alive (reader));
    assert (zshm_ring_probe (name) == 0);
    //  Another layout is refused without REPLACE
    assert (zshm_ring_new (name, 32, 100) == NULL && errno == EEXIST);
    ring = zshm_ring_new (name, 16, 100);
    assert (ring && zshm_ring_head (ring) == 6);
    assert (zshm_ring_incarnation (reader) != incarnation);
    assert (zshm_ring_writer_alive (reader));
    assert (zshm_ring_send (ring, payload, 8) == 6);
    zshm_ring_destroy (&ring);
    ring = zshm_ring_new_ex (name, 32, 100, ZSHM_RING_REPLACE, 0600);
    assert (ring && zshm_ring_capacity (ring) == 32 && zshm_ring_head (ring) == 1);
    assert (!zshm_ring_writer_alive (reader));      //  old segment orphaned
    zshm_ring_destroy (&reader);
    reader = zshm_ring_open (name);
    assert (reader && zshm_ring_capacity (reader) == 32);
    zshm_ring_destroy (&reader);
    zshm_ring_destroy (&ring);
    assert (zshm_ring_unlink (name) == 0);
    assert (zshm_ring_unlink (name) == -1 && errno == ENOENT);

    //  A segment shrunk under a live writer and reader: nobody dies of
    //  SIGBUS, and the reader sees the channel as dead.
    ring = zshm_ring_new (name, 64, 4000);
    reader = zshm_ring_open (name);
    assert (ring && reader);
    for (int count = 0; count < 10; count++)
        assert (zshm_ring_send (ring, payload, 8));
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/zshm.%s", zshm_ring_dir (), name);
    int fd = open (path, O_RDWR);
    assert (fd >= 0 && ftruncate (fd, ZSHM_SLOTS_OFFSET + 4096) == 0);
    close (fd);
    uint64_t states = 0;
    for (uint64_t index = 0; index < zshm_ring_capacity (reader); index++)
        states += zshm_load_relaxed (&zshm_ring_slot (reader, index)->state);
    assert (states > 0);                            //  slot 0's page survived
    for (int count = 0; count < 200; count++)       //  the writer goes on
        assert (zshm_ring_send (ring, payload, 8));
    assert (!zshm_ring_writer_alive (reader));
    zshm_ring_destroy (&reader);
    zshm_ring_destroy (&ring);
    assert (zshm_ring_unlink (name) == 0);

    if (verbose)
        printf ("OK\n");
}
