/*  =========================================================================
    zshm_ring - single-producer / multi-consumer broadcast ring

    A ring is a fixed number of fixed-size slots.  One writer publishes
    messages into consecutive slots and never waits for anyone; any number
    of readers (zshm_reader) follow it, each at its own pace.  A reader that
    falls a whole ring behind loses the oldest messages, learns exactly how
    many, and carries on: like a ZeroMQ PUB socket, the writer never blocks
    on a slow subscriber.

    A ring lives either in POSIX shared memory (a channel name, shared by
    processes on one host) or on the heap (name NULL, shared by threads of
    one process).  Shared-memory channels appear as /dev/shm/zshm.NAME (or
    under $ZSHM_DIR when that is set).

    Every function returns -1 or NULL and sets errno on failure, like libzmq.
    No function allocates on the send path.
    =========================================================================
*/

#ifndef ZSHM_RING_H_INCLUDED
#define ZSHM_RING_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zshm_ring_t zshm_ring_t;

//  Longest channel name, in bytes.  Names are 1 to ZSHM_NAME_MAX characters
//  from [A-Za-z0-9._-] and may not start with a dot.
#define ZSHM_NAME_MAX 128

//  Flags for zshm_ring_new_ex.
//  ZSHM_RING_REPLACE: if the channel exists with another layout and its
//  writer is dead, remove it and create a fresh one (readers of the old
//  segment see its writer as dead).  Without it such a channel is refused
//  with EEXIST.
#define ZSHM_RING_REPLACE 1

//  Create the writer side of a ring.  `name` is a channel name, or NULL for
//  a heap ring shared by threads.  `capacity` is rounded up to a power of
//  two, at least 2; `slot_size` is the largest payload one slot holds, in
//  bytes (at least 1).  The segment is created with mode 0600.
//  A ring of capacity C holds its last C - 2 messages for readers (C - 1
//  when C is 2): the writer keeps the slots it fills next marked dirty.
//  If the channel exists and its writer is alive: NULL, errno EBUSY.
//  If its writer is dead and the layout matches: this writer takes it over
//  and continues its sequence; readers keep reading.
//  Returns a new ring, owned by the caller, or NULL with errno set
//  (EINVAL bad name or size, EBUSY, EEXIST, ENOSPC, EACCES...).
//  The writer's lock belongs to its open file: children forked after this
//  call share it, and readers see the writer alive while any of them lives.
//  Create the ring in the process that publishes, after forking workers.
zshm_ring_t *
    zshm_ring_new (const char *name, size_t capacity, size_t slot_size);

//  Like zshm_ring_new, with ZSHM_RING_* flags and an explicit file mode
//  (e.g. 0640 to let a group read the channel).
zshm_ring_t *
    zshm_ring_new_ex (const char *name, size_t capacity, size_t slot_size,
                      int flags, mode_t mode);

//  Open the reader side of an existing shared-memory ring.  Every header
//  field is checked against the object before a slot is touched, and the
//  slots are mapped read-only.  Returns a new ring owned by the caller, or
//  NULL with errno ENOENT (no such channel), EAGAIN (being created),
//  EPROTO (not a valid zshm segment), EINVAL (bad name), EACCES.
zshm_ring_t *
    zshm_ring_open (const char *name);

//  Destroy a ring, unmapping it; readers made on it must be destroyed
//  first.  The channel stays in /dev/shm (see zshm_ring_unlink).  Safe to
//  call twice; nulls the caller's pointer.
void
    zshm_ring_destroy (zshm_ring_t **self_p);

//  Remove a channel from /dev/shm.  Processes that have it mapped keep
//  their mapping.  Returns 0, or -1 with errno ENOENT or EINVAL.
int
    zshm_ring_unlink (const char *name);

//  True if `name` is a valid channel name.
bool
    zshm_ring_name_valid (const char *name);

//  Number of slots (a power of two).
size_t
    zshm_ring_capacity (zshm_ring_t *self);

//  Largest payload of one slot, in bytes.
size_t
    zshm_ring_slot_size (zshm_ring_t *self);

//  Channel name, or NULL for a heap ring.  Owned by the ring.
const char *
    zshm_ring_name (zshm_ring_t *self);

//  True if this handle is the writer side.
bool
    zshm_ring_is_writer (zshm_ring_t *self);

//  Zero-copy write.  Returns a pointer to the next slot's payload
//  (zshm_ring_slot_size bytes, 8-byte aligned) and its sequence number in
//  *seq_p (if seq_p is not NULL).  Fill it, then call zshm_ring_commit.
//  Calling reserve again before commit returns the same slot.  Writer only.
//  A reader lapped by the writer may be copying the slot's previous lap
//  while you fill it; the protocol detects that and discards its copy, but
//  plain stores racing that copy are still a data race in C11's terms (and
//  ThreadSanitizer says so).  zshm_ring_send stores word by word with
//  relaxed atomics and has no such race; fill the slot the same way when
//  that matters to you.
void *
    zshm_ring_reserve (zshm_ring_t *self, uint64_t *seq_p);

//  Publish the reserved slot with `size` payload bytes.  Returns 0, or -1
//  with errno EMSGSIZE if size exceeds the slot (nothing is published and
//  the reservation stays open), or EINVAL if nothing was reserved.
int
    zshm_ring_commit (zshm_ring_t *self, size_t size);

//  Copy `size` bytes into the next slot and publish them.  Never blocks.
//  Returns the message's sequence number (sequences start at 1), or 0 with
//  errno EMSGSIZE when it does not fit a slot.
uint64_t
    zshm_ring_send (zshm_ring_t *self, const void *data, size_t size);

//  The sequence number the writer will publish next (sampled: exact on the
//  writer side, possibly a message behind on a reader's handle).
uint64_t
    zshm_ring_head (zshm_ring_t *self);

//  The writer's incarnation: a random number, new every time a writer
//  creates or takes over the channel.  Readers use it to tell a restarted
//  publisher from loss.
uint64_t
    zshm_ring_incarnation (zshm_ring_t *self);

//  Pid of the writer that created or last took over the channel.
pid_t
    zshm_ring_writer_pid (zshm_ring_t *self);

//  True if the writer is alive: it still holds the channel's lock, which
//  the kernel drops when its process dies, and the segment has not been
//  shrunk under us.  Heap rings are always alive.  Costs three system
//  calls on a shared-memory reader.
bool
    zshm_ring_writer_alive (zshm_ring_t *self);

//  Record the payload type name (e.g. "zshm.market.Tick") in the header
//  for tools.  Longer names are refused with EINVAL.  Writer only.
int
    zshm_ring_set_type (zshm_ring_t *self, const char *type_name);

//  Copy the recorded payload type name into buf (always NUL-terminated).
//  Returns its length, 0 if none was recorded.
size_t
    zshm_ring_type (zshm_ring_t *self, char *buf, size_t size);

//  --------------------------------------------------------------------------
//  Observing channels (for tools such as `zshm stat` and `zshm clean`)

//  What a ring's header says, sampled.
typedef struct {
    uint64_t capacity;          //  slots
    uint64_t slot_size;         //  largest payload of a slot, bytes
    uint64_t total_size;        //  bytes in the segment
    uint64_t head;              //  next sequence the writer publishes
    uint64_t incarnation;       //  writer's random incarnation
    uint64_t created_ns;        //  CLOCK_REALTIME of creation
    uint64_t started_ns;        //  CLOCK_REALTIME the writer started
    uint64_t takeovers;         //  writers that took the channel over
    pid_t writer_pid;           //  writer's pid
    bool writer_alive;          //  writer holds its lock
    char type_name [128];       //  payload type, "" if none recorded
} zshm_ring_info_t;

//  One registered reader, sampled.
typedef struct {
    pid_t pid;                  //  reader's process
    bool alive;                 //  that process exists
    uint64_t id;                //  random, tells readers of one pid apart
    uint64_t position;          //  next sequence it expects
    uint64_t delivered;         //  messages it received
    uint64_t lost;              //  messages it lost to laps
} zshm_reader_info_t;

//  Fill *info from the ring's header.  Returns 0.
int
    zshm_ring_info (zshm_ring_t *self, zshm_ring_info_t *info);

//  Copy up to `max` registered readers into info[].  Returns how many
//  readers are registered (may exceed max).
int
    zshm_ring_readers (zshm_ring_t *self, zshm_reader_info_t *info, int max);

//  The directory channels live in: $ZSHM_DIR, or /dev/shm.
const char *
    zshm_ring_dir (void);

//  Is the named channel's writer alive?  Works on any file named like a
//  channel, valid segment or not (it only probes the writer's lock).
//  Returns 1 alive, 0 dead, -1 with errno (ENOENT, EINVAL, ELOOP...).
int
    zshm_ring_probe (const char *name);

//  Self test of this class.
void
    zshm_ring_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
