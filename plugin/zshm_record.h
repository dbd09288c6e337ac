/*  =========================================================================
    zshm_record - how zshm_pub lays a message out on the ring (private)

    The ring carries opaque slot payloads; this header says what zshm_pub
    puts in them and zshm_sub takes out.  Every multi-byte field is
    little-endian, whatever the host, and is encoded and decoded byte by
    byte (zshm_record_get32 and friends), never by casting a pointer into
    the slot, so alignment and byte order never matter.

    A message is encoded once into a body, and the body is cut into
    fragments of at most (slot size - 16) bytes, one per slot, published
    in consecutive slots.  Each slot payload is a record header followed
    by that fragment:

       0   magic     u16  ZSHM_RECORD_MAGIC (0x5A53, "SZ" on the wire)
       2   flags     u16  ZSHM_RECORD_FIRST on the first fragment,
                          ZSHM_RECORD_LAST on the last (both when the
                          message fits one slot); no other bits
       4   total     u32  bytes of the whole body, <= the sender's maxmsg
       8   offset    u32  where this fragment starts within the body
       12  reserved  u32  0
       16  fragment  the body's bytes [offset, offset + slot length - 16)

    A message that fits one slot (its body at most slot size - 16) goes
    with the short header instead, 8 bytes, since its offset is 0:

       0   magic     u16  ZSHM_RECORD_MAGIC
       2   flags     u16  ZSHM_RECORD_FIRST | ZSHM_RECORD_LAST |
                          ZSHM_RECORD_SHORT
       4   total     u32  bytes of the body, == slot length - 8
       8   body

    Eight bytes less per message matter on the hot path: a protobuf Tick
    with its type name then fits two cache lines instead of three.  A
    reader takes either form of a whole message.

    The body, reassembled from its fragments in order:

       0   type_len     u16  bytes of the type name, <= 127 (0: none)
       2   reserved     u16  0
       4   frame_count  u32  frames, >= 1; frame 0 is the topic
       8   type name    type_len bytes, no NUL
           frames       frame_count times:  size u32, then size bytes

    so that total == 8 + type_len + sum (4 + size) exactly.

    Who writes what: the publisher writes everything, once, into a slot it
    has reserved; nothing is ever rewritten in place.  A subscriber decodes
    only its private copy, checks every field against `total` and its own
    maxmsg, and drops (and counts) anything that does not add up: the
    segment is input from another process and is never trusted.
    =========================================================================
*/

#ifndef ZSHM_RECORD_H_INCLUDED
#define ZSHM_RECORD_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define ZSHM_RECORD_MAGIC     0x5A53
#define ZSHM_RECORD_FIRST     1
#define ZSHM_RECORD_LAST      2
#define ZSHM_RECORD_SHORT     4
#define ZSHM_RECORD_FLAGS     (ZSHM_RECORD_FIRST | ZSHM_RECORD_LAST)
#define ZSHM_RECORD_HEADER    16        //  record header bytes in each slot
#define ZSHM_RECORD_SHORT_HEADER 8      //  the short header of a whole message
#define ZSHM_BODY_HEADER      8         //  type_len, reserved, frame_count
#define ZSHM_FRAME_HEADER     4         //  each frame's size
#define ZSHM_RECORD_TYPE_MAX  127       //  longest type name, bytes

//  Smallest slot zshm_pub accepts: the record header and a few body bytes.
#define ZSHM_RECORD_SLOT_MIN  32
//  Largest body: `total` is a u32.
#define ZSHM_RECORD_TOTAL_MAX 0xFFFFFFFFu
//  Smallest body: the body header and one (empty) topic frame.
#define ZSHM_RECORD_BODY_MIN  (ZSHM_BODY_HEADER + ZSHM_FRAME_HEADER)

//  The record header, decoded (host order).  Never overlaid on a slot.
typedef struct {
    uint16_t magic;             //  ZSHM_RECORD_MAGIC
    uint16_t flags;             //  ZSHM_RECORD_FIRST | ZSHM_RECORD_LAST
    uint32_t total;             //  bytes of the whole body
    uint32_t offset;            //  this fragment's place in the body
    uint32_t reserved;          //  0
} zshm_record_t;

//  The body header, decoded (host order).
typedef struct {
    uint16_t type_len;          //  bytes of type name after the header
    uint16_t reserved;          //  0
    uint32_t frame_count;       //  frames, >= 1
} zshm_body_t;

//  The decoded structs mirror the wire sizes, for readers of this file;
//  the code below never relies on their memory layout.
_Static_assert (sizeof (zshm_record_t) == ZSHM_RECORD_HEADER, "record header is 16 bytes");
_Static_assert (sizeof (zshm_body_t) == ZSHM_BODY_HEADER, "body header is 8 bytes");
_Static_assert (ZSHM_RECORD_HEADER % 8 == 0, "fragments start word-aligned in the slot");
_Static_assert (ZSHM_RECORD_SLOT_MIN > ZSHM_RECORD_HEADER, "a slot carries some body");
_Static_assert (ZSHM_RECORD_TYPE_MAX < 128, "type names fit the ring header's type field");

static inline void
zshm_record_put16 (uint8_t *out, uint16_t value)
{
    out [0] = (uint8_t) value;
    out [1] = (uint8_t) (value >> 8);
}

static inline void
zshm_record_put32 (uint8_t *out, uint32_t value)
{
    out [0] = (uint8_t) value;
    out [1] = (uint8_t) (value >> 8);
    out [2] = (uint8_t) (value >> 16);
    out [3] = (uint8_t) (value >> 24);
}

static inline uint16_t
zshm_record_get16 (const uint8_t *in)
{
    return (uint16_t) (in [0] | (in [1] << 8));
}

static inline uint32_t
zshm_record_get32 (const uint8_t *in)
{
    return (uint32_t) in [0] | ((uint32_t) in [1] << 8)
         | ((uint32_t) in [2] << 16) | ((uint32_t) in [3] << 24);
}

//  Encode a record header into 16 bytes.
static inline void
zshm_record_encode (uint8_t *out, uint16_t flags, uint32_t total, uint32_t offset)
{
    zshm_record_put16 (out, ZSHM_RECORD_MAGIC);
    zshm_record_put16 (out + 2, flags);
    zshm_record_put32 (out + 4, total);
    zshm_record_put32 (out + 8, offset);
    zshm_record_put32 (out + 12, 0);
}

//  Encode a short record header (a whole message) into 8 bytes.
static inline void
zshm_record_encode_short (uint8_t *out, uint32_t total)
{
    zshm_record_put16 (out, ZSHM_RECORD_MAGIC);
    zshm_record_put16 (out + 2, ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT);
    zshm_record_put32 (out + 4, total);
}

//  Decode 16 bytes of a private copy into *record.
static inline void
zshm_record_decode (const uint8_t *in, zshm_record_t *record)
{
    record->magic = zshm_record_get16 (in);
    record->flags = zshm_record_get16 (in + 2);
    record->total = zshm_record_get32 (in + 4);
    record->offset = zshm_record_get32 (in + 8);
    record->reserved = zshm_record_get32 (in + 12);
}

//  Decode the header of a slot of `size` bytes, of either form, from a
//  private copy of its first min (size, 16) bytes.  Returns the header's
//  size (8 or 16), or 0 when the slot is too short for the form its flags
//  claim.  A short header decodes with offset and reserved 0.
static inline size_t
zshm_record_decode_any (const uint8_t *in, size_t size, zshm_record_t *record)
{
    if (size < ZSHM_RECORD_SHORT_HEADER)
        return 0;
    if (zshm_record_get16 (in + 2) & ZSHM_RECORD_SHORT) {
        record->magic = zshm_record_get16 (in);
        record->flags = zshm_record_get16 (in + 2);
        record->total = zshm_record_get32 (in + 4);
        record->offset = 0;
        record->reserved = 0;
        return ZSHM_RECORD_SHORT_HEADER;
    }
    if (size < ZSHM_RECORD_HEADER)
        return 0;
    zshm_record_decode (in, record);
    return ZSHM_RECORD_HEADER;
}

//  Encode a body header into 8 bytes.
static inline void
zshm_body_encode (uint8_t *out, uint16_t type_len, uint32_t frame_count)
{
    zshm_record_put16 (out, type_len);
    zshm_record_put16 (out + 2, 0);
    zshm_record_put32 (out + 4, frame_count);
}

#endif
