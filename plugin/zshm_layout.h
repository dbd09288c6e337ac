/*  =========================================================================
    zshm_layout - the shared-memory layout of one channel, and nothing else

    A channel is one POSIX shared-memory object, /dev/shm/zshm.NAME, made of
    three regions.  Every offset below is in bytes from the start of the
    object; the object is exactly ZSHM_LAYOUT_TOTAL (capacity, slot_size)
    bytes long.

       0                    4096                   12288
       +--------------------+----------------------+-----------------------+
       | header (4 KiB)     | control (8 KiB)      | slots                 |
       | writer writes,     | readers write:       | writer writes,        |
       | readers map it     | wait word, reader    | readers map them      |
       | read-only          | registry             | read-only             |
       +--------------------+----------------------+-----------------------+

    Header (zshm_header_t), written by the writer at creation; `ready` is
    written last with release, after every other field.  A writer taking
    over a dead writer's segment rewrites only the atomic identity fields
    (writer_pid, incarnation, started_ns, takeovers), which readers load
    relaxed and only report:

       0   magic        u64  "ZSHMRNG1"
       8   version      u32  ZSHM_LAYOUT_VERSION
       12  header_size  u32  sizeof (zshm_header_t)
       16  capacity     u64  slots, a power of two >= 2
       24  slot_size    u64  largest payload of one slot, bytes
       32  slot_stride  u64  bytes from one slot to the next
       40  slots_offset u64  ZSHM_SLOTS_OFFSET
       48  total_size   u64  bytes in the object
       56  writer_pid   u32  pid of the writer that created or took over
       60  flags        u32  reserved, 0
       64  incarnation  u64  random, new at every creation and takeover
       72  created_ns   u64  CLOCK_REALTIME when the segment was created
       80  started_ns   u64  CLOCK_REALTIME when this incarnation started
       88  takeovers    u64  how many writers took this segment over
       96  type_name    char[128]  payload type, NUL-terminated, may be ""
       224 ready        u64  ZSHM_READY once the above is valid
       256 head         u64  next sequence the writer publishes (own line;
                             relaxed, for observers: stat, late readers)

    Control (zshm_control_t), shared read-write by all processes:

       4096  wait line: futex word and waiter count for the `block` strategy
       4160  reserved line
       4224  ZSHM_MAX_READERS reader entries of 64 bytes each

    Slot (zshm_slot_t) i, at slots_offset + i * slot_stride, 64-byte aligned:

       0   state   u64  [ dirty (bit 63) | sequence (bits 0-62) ]
       8   length  u32  payload bytes, <= slot_size
       12  flags   u32  reserved for the layer above (0 on the ring)
       16  payload slot_size bytes, padded to the stride

    The state word protocol is described at the top of zshm_ring.c.
    =========================================================================
*/

#ifndef ZSHM_LAYOUT_H_INCLUDED
#define ZSHM_LAYOUT_H_INCLUDED

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ZSHM_MAGIC          0x31474e524d48535aULL   //  "ZSHMRNG1" little-endian
#define ZSHM_LAYOUT_VERSION 1
#define ZSHM_READY          0x5245414459212121ULL   //  "!!!YDAER"

#define ZSHM_CACHE_LINE     64
#define ZSHM_HEADER_REGION  4096
#define ZSHM_CONTROL_REGION 8192
#define ZSHM_CONTROL_OFFSET ZSHM_HEADER_REGION
#define ZSHM_SLOTS_OFFSET   (ZSHM_HEADER_REGION + ZSHM_CONTROL_REGION)
#define ZSHM_MAX_READERS    126
#define ZSHM_TYPE_NAME_MAX  128

//  A reader entry's flag: the reader is counted in the control's waiters
//  (it sleeps, or is about to).  Whoever reclaims the entry of a reader
//  that died so uncounts it, or the writer would wake nobody for ever.
#define ZSHM_READER_SLEEPING 1

#define ZSHM_DIRTY          (1ULL << 63)
#define ZSHM_SEQ_MASK       (ZSHM_DIRTY - 1)
#define ZSHM_SLOT_HEADER    16

//  Limits a reader enforces on any segment before it maps the slots.
#define ZSHM_CAPACITY_MAX   (1ULL << 30)
#define ZSHM_SLOT_SIZE_MAX  (1ULL << 30)
#define ZSHM_TOTAL_MAX      (1ULL << 40)

//  Bytes from one slot to the next: header plus payload rounded up to a
//  whole word (so word copies never leave the slot) and then to a cache
//  line (so no two slots share one).
#define ZSHM_SLOT_STRIDE(slot_size) \
    ((((uint64_t) (slot_size) + 7) / 8 * 8 + ZSHM_SLOT_HEADER + ZSHM_CACHE_LINE - 1) \
     / ZSHM_CACHE_LINE * ZSHM_CACHE_LINE)

typedef struct {
    uint64_t magic;                       //  ZSHM_MAGIC
    uint32_t version;                     //  ZSHM_LAYOUT_VERSION
    uint32_t header_size;                 //  sizeof (zshm_header_t)
    uint64_t capacity;                    //  number of slots, power of two
    uint64_t slot_size;                   //  largest payload, bytes
    uint64_t slot_stride;                 //  ZSHM_SLOT_STRIDE (slot_size)
    uint64_t slots_offset;                //  ZSHM_SLOTS_OFFSET
    uint64_t total_size;                  //  bytes in the whole object
    _Atomic uint32_t writer_pid;          //  pid of the current writer
    uint32_t flags;                       //  reserved, 0
    _Atomic uint64_t incarnation;         //  random, new per writer
    uint64_t created_ns;                  //  realtime of creation
    _Atomic uint64_t started_ns;          //  realtime of this incarnation
    _Atomic uint64_t takeovers;           //  writers that took it over
    _Atomic uint64_t type_name [ZSHM_TYPE_NAME_MAX / 8];
                                          //  payload type, word-copied
    _Atomic uint64_t ready;               //  ZSHM_READY, stored last
    uint64_t pad_ [3];                    //  to the end of the line
    _Atomic uint64_t head;                //  next seq to publish (relaxed)
    uint64_t pad2_ [7];                   //  head has its line to itself
} zshm_header_t;

typedef struct {
    _Atomic uint32_t pid;                 //  0 when free; claimed by CAS
    _Atomic uint32_t flags;               //  ZSHM_READER_SLEEPING or 0
    _Atomic uint64_t position;            //  next sequence it expects
    _Atomic uint64_t lost;                //  messages it lost to laps
    _Atomic uint64_t delivered;           //  messages it received
    _Atomic uint64_t id;                  //  random, tells readers apart
    uint64_t pad_ [3];                    //  one line per reader
} zshm_reader_entry_t;

typedef struct {
    _Atomic uint32_t futex;               //  bumped by the writer on wake
    _Atomic uint32_t waiters;             //  readers sleeping or about to
    uint64_t pad_ [7];                    //  wait line to itself
    uint64_t reserved_ [8];               //  a second line, unused
    zshm_reader_entry_t readers [ZSHM_MAX_READERS];
} zshm_control_t;

typedef struct {
    _Atomic uint64_t state;               //  dirty bit | sequence
    _Atomic uint32_t length;              //  payload bytes
    uint32_t flags;                       //  reserved for the layer above
    uint64_t payload [];                  //  slot_size bytes, word-aligned
} zshm_slot_t;

_Static_assert (sizeof (zshm_header_t) == 320, "header layout is ABI");
_Static_assert (offsetof (zshm_header_t, type_name) == 96, "header layout is ABI");
_Static_assert (offsetof (zshm_header_t, ready) == 224, "header layout is ABI");
_Static_assert (offsetof (zshm_header_t, head) == 256, "head has a line of its own");
_Static_assert (sizeof (zshm_header_t) <= ZSHM_HEADER_REGION, "header fits its region");
_Static_assert (sizeof (zshm_reader_entry_t) == ZSHM_CACHE_LINE, "one line per reader");
_Static_assert (sizeof (zshm_control_t) <= ZSHM_CONTROL_REGION, "control fits its region");
_Static_assert (offsetof (zshm_slot_t, payload) == ZSHM_SLOT_HEADER, "slot header is 16 bytes");
_Static_assert (ZSHM_SLOTS_OFFSET % 4096 == 0, "slots start on a page");
_Static_assert (ZSHM_SLOT_STRIDE (1) == 64 && ZSHM_SLOT_STRIDE (48) == 64
                && ZSHM_SLOT_STRIDE (49) == 128 && ZSHM_SLOT_STRIDE (64) == 128,
                "slot stride rounding");

static inline uint64_t
zshm_layout_total (uint64_t capacity, uint64_t slot_size)
{
    return ZSHM_SLOTS_OFFSET + capacity * ZSHM_SLOT_STRIDE (slot_size);
}

#endif
