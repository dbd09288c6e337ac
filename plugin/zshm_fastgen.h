/*  =========================================================================
    zshm_fastgen - what the code zshm_fastgen writes for a schema needs

    zshm packs and unpacks "flat" protobuf messages (every field a singular
    number, enum, string or bytes) with its own codec.  For types known at
    build time it goes faster still: zshm_fastgen, a small program run by
    the build, reads the descriptors protoc-c generated for a schema and
    writes NAME.zshm.c, straight-line C for each flat type, which includes
    NAME.pb-c.c and is compiled in its place.  A constructor in it
    registers each type's code here, and zshm_pub_send_proto and
    zshm_sub_recv_proto use it from then on.  zshm.mk does all of this:
    link NAME.zshm.o where you linked NAME.pb-c.o (see the README).

    This header is for that generated code, and for the question a program
    may ask of it (zshm_fastgen_active).  Nothing here needs calling by
    hand.  The code only ever takes the common case (room to spare, fields
    in order, each once); it hands everything else to zshm's interpreter,
    which decides exactly as protobuf-c would.

    Also here, because the generated code uses them: protobuf's base-128
    varints, as every part of zshm reads and writes them.  The rule is
    protobuf's own: at most ten bytes, and bits past the 64th (in the tenth
    byte) are dropped.
    =========================================================================
*/

#ifndef ZSHM_FASTGEN_H_INCLUDED
#define ZSHM_FASTGEN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

//  --------------------------------------------------------------------------
//  Varints

//  Longest varint, bytes.
#define ZSHM_VARINT_MAX 10

//  Bytes of v as a varint: 1 to 10.
static inline size_t
zshm_varint_size (uint64_t v)
{
    unsigned bits = 64 - (unsigned) __builtin_clzll (v | 1);
    return (bits * 9 + 64) / 64;
}

//  Write v at out (room for zshm_varint_size (v) bytes); returns the byte
//  after it.
static inline uint8_t *
zshm_varint_put (uint8_t *out, uint64_t v)
{
    while (v >= 0x80) {
        *out++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *out++ = (uint8_t) v;
    return out;
}

//  Read a varint from [*at_p, end) into *value_p and move *at_p past it;
//  false (nothing moved) if it runs past end or past ten bytes.
static inline bool
zshm_varint_get (const uint8_t **at_p, const uint8_t *end, uint64_t *value_p)
{
    const uint8_t *at = *at_p;
    if (at < end && *at < 0x80) {
        *value_p = *at;
        *at_p = at + 1;
        return true;
    }
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 7 * ZSHM_VARINT_MAX; shift += 7) {
        if (at == end)
            return false;
        uint8_t byte = *at++;
        value |= (uint64_t) (byte & 0x7f) << shift;
        if (byte < 0x80) {
            *at_p = at;
            *value_p = value;
            return true;
        }
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Flat types

//  True if zshm's codec takes `descriptor`'s type: every field singular
//  (proto3 implicit presence, or optional) and a number, enum, bool,
//  string or bytes, none in a oneof, in increasing order of field number
//  below 2^25; on a little-endian host (the codec copies fixed-width
//  members to the wire as they lie in memory).  Anything else is
//  protobuf-c's whole.
static inline bool
zshm_fastgen_flat (const ProtobufCMessageDescriptor *descriptor)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    return false;
#endif
    if (!descriptor || !descriptor->message_init)
        return false;
    uint32_t previous = 0;
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        if ((field->label != PROTOBUF_C_LABEL_NONE && field->label != PROTOBUF_C_LABEL_OPTIONAL)
        ||  (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        ||  field->id <= previous
        ||  field->id >= (1u << 25))
            return false;
        switch (field->type) {
            case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32:
            case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
            case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
            case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
            case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE:
            case PROTOBUF_C_TYPE_BOOL: case PROTOBUF_C_TYPE_ENUM:
            case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES:
                break;
            default:
                return false;
        }
        previous = field->id;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Registering generated code

//  What a generated pack returns when it cannot say (not enough room for
//  its bound, or bytes without data): the interpreter then packs, and
//  decides.
#define ZSHM_FASTGEN_NOROOM ((size_t) -1)

//  One field, as the code was written for it (a copy of the descriptor's).
typedef struct {
    uint32_t id;
    int label;                  //  ProtobufCLabel
    int type;                   //  ProtobufCType
    unsigned offset;
    unsigned quantifier_offset;
    uint32_t flags;
} zshm_fastgen_field_t;

//  The code of one type.
typedef struct {
    const ProtobufCMessageDescriptor *descriptor;
    unsigned n_fields;          //  the layout the code was written for
    size_t sizeof_message;
    const zshm_fastgen_field_t *fields;
    //  Pack msg into out (max bytes): the bytes written, or
    //  ZSHM_FASTGEN_NOROOM.  Never writes past max.
    size_t (*pack) (const ProtobufCMessage *msg, uint8_t *out, size_t max);
    //  Decode `size` bytes into msg (fresh from message_init), its strings
    //  into heap (`size` bytes): true when done; false when the input is not
    //  what the code takes (msg is then half-written, and the interpreter
    //  starts again from message_init).
    bool (*unpack) (ProtobufCMessage *msg, char *heap, const uint8_t *data, size_t size);
} zshm_fastgen_t;

//  Use `fast` for its descriptor's type from now on, in every thread (the
//  generated constructors call this).  Returns 0, or -1 with EINVAL when
//  its layout is not the descriptor's, or the type is not flat: the code is
//  then never used.  `fast` must outlive every use of the type.
int
    zshm_fastgen_register (const zshm_fastgen_t *fast);

//  True if generated code is registered for `descriptor`'s type and in use.
bool
    zshm_fastgen_active (const ProtobufCMessageDescriptor *descriptor);

#ifdef __cplusplus
}
#endif

#endif
