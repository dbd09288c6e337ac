/*  =========================================================================
    zshm_codec - zshm's own protobuf encoder and decoder for flat messages

    See zshm_codec.h.  A type's descriptor is compiled once into a plan: a
    step per field with its offsets, its kind (one of a dozen, folding
    protobuf's types by how they are stored and sent), how its presence is
    decided, and its key already encoded; and a table from small field
    numbers to steps for decoding.  Each pass is then one loop over the
    steps with one switch per field: varints sized with a count of leading
    zeros and written with a plain loop, no call per field, no second
    buffer.  Plans live in a fixed open-addressed table of atomic pointers,
    keyed by descriptor and checked against a fingerprint of it; they are
    never freed (a process has few message types).

    A plan may also hold code written for its type at build time
    (zshm_fastgen_register, from proto/zshm_fastgen.c's output).  Pack and
    unpack try it first; it says when it cannot decide, and the
    interpreter then runs as if it had not been there.

    What protobuf-c does, and so what we do:
      - proto3 fields (LABEL_NONE) are left out when "zeroish": a number
        equal to 0 (so -0.0 too), a NULL or empty string, bytes whose data
        is NULL;
      - optional fields go out when their has_ flag is set; an optional
        string when it is neither NULL nor the field's default;
      - int32 and enums are sign-extended to 64 bits (10 bytes when
        negative), bools are one byte, 0 or 1;
      - unpacking starts from message_init, takes the last of repeated
        occurrences, NUL-terminates strings, gives empty bytes a NULL data,
        and sets a has_ flag wherever a field has one.
    =========================================================================
*/

#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_codec.h"
#include "zshm_fastgen.h"

//  Wire types
enum { S_VARINT = 0, S_BIT64 = 1, S_LENGTH = 2, S_BIT32 = 5 };

//  Kinds of field, by how they are stored and sent
enum {
    K_INT32,        //  int32, enum: sign-extended varint
    K_SINT32,       //  zigzag varint of 32 bits
    K_UINT32,       //  varint of 32 bits
    K_UINT64,       //  int64, uint64: varint of 64 bits
    K_SINT64,       //  zigzag varint of 64 bits
    K_BOOL,         //  varint 0 or 1
    K_FIXED32,      //  fixed32, sfixed32: 4 bytes
    K_FLOAT,        //  4 bytes, zero compared as a float
    K_FIXED64,      //  fixed64, sfixed64: 8 bytes
    K_DOUBLE,       //  8 bytes, zero compared as a double
    K_STRING,       //  NUL-terminated, length-prefixed
    K_BYTES         //  ProtobufCBinaryData, length-prefixed
};

//  How a field's presence is decided when packing
enum {
    P_IMPLICIT,     //  proto3: left out when zeroish
    P_HAS,          //  optional: its has_ flag
    P_POINTER       //  optional string: neither NULL nor the default
};

typedef struct {
    uint32_t offset;            //  of the member in the message
    uint32_t quantifier;        //  of its has_ flag, or 0
    uint8_t kind;               //  K_*
    uint8_t presence;           //  P_*
    uint8_t wire;               //  wire type it travels as
    uint8_t key_size;           //  bytes of key
    uint8_t key [4];            //  its key, encoded (field numbers < 2^25)
    const void *default_value;  //  P_POINTER: the default's address
} s_step_t;

//  Field numbers below this are found by table when decoding
#define S_DIRECT 64

struct _zshm_codec_plan_t {
    const ProtobufCMessageDescriptor *descriptor;
    //  Fingerprint: a descriptor freed and another made at its address
    //  must not inherit the plan
    const ProtobufCFieldDescriptor *fields;
    const char *name;
    size_t name_len;            //  strlen (name)
    size_t sizeof_message;
    bool flat;                  //  false: a record that the type is not flat
    unsigned count;             //  steps, one per field, in field order
    uint8_t direct [S_DIRECT];  //  field number -> step + 1, 0 for none
    //  Code for the type, once registered (zshm_fastgen_register)
    _Atomic (const zshm_fastgen_t *) fast;
    s_step_t steps [];
};

//  zshm_codec_set_fast.  Relaxed everywhere: a switch for tests, set
//  before the work it affects, publishing no data with it.
static atomic_bool s_use_fast = true;

//  The plan's code, if it has code and code is in use.  Acquire: pairs
//  with the release in zshm_fastgen_register, so the code's tables are seen.
static inline const zshm_fastgen_t *
s_fast (const zshm_codec_plan_t *plan)
{
    const zshm_fastgen_t *fast = atomic_load_explicit (&plan->fast, memory_order_acquire);
    return fast && atomic_load_explicit (&s_use_fast, memory_order_relaxed) ? fast : NULL;
}

//  The table of plans
#define S_PLANS 1024
#define S_PROBES 32
static _Atomic (zshm_codec_plan_t *) s_plans [S_PLANS];

static inline uint32_t
s_zigzag32 (int32_t v)
{
    return ((uint32_t) v << 1) ^ (uint32_t) (v >> 31);
}

static inline uint64_t
s_zigzag64 (int64_t v)
{
    return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static inline int32_t
s_unzigzag32 (uint32_t v)
{
    return (int32_t) ((v >> 1) ^ (0u - (v & 1)));
}

static inline int64_t
s_unzigzag64 (uint64_t v)
{
    return (int64_t) ((v >> 1) ^ (0ull - (v & 1)));
}

//  The kind of a flat field's type; -1 for a type the codec leaves alone.
static int
s_kind (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:     return K_INT32;
        case PROTOBUF_C_TYPE_ENUM:      return K_INT32;
        case PROTOBUF_C_TYPE_SINT32:    return K_SINT32;
        case PROTOBUF_C_TYPE_UINT32:    return K_UINT32;
        case PROTOBUF_C_TYPE_INT64:     return K_UINT64;
        case PROTOBUF_C_TYPE_UINT64:    return K_UINT64;
        case PROTOBUF_C_TYPE_SINT64:    return K_SINT64;
        case PROTOBUF_C_TYPE_BOOL:      return K_BOOL;
        case PROTOBUF_C_TYPE_FIXED32:   return K_FIXED32;
        case PROTOBUF_C_TYPE_SFIXED32:  return K_FIXED32;
        case PROTOBUF_C_TYPE_FLOAT:     return K_FLOAT;
        case PROTOBUF_C_TYPE_FIXED64:   return K_FIXED64;
        case PROTOBUF_C_TYPE_SFIXED64:  return K_FIXED64;
        case PROTOBUF_C_TYPE_DOUBLE:    return K_DOUBLE;
        case PROTOBUF_C_TYPE_STRING:    return K_STRING;
        case PROTOBUF_C_TYPE_BYTES:     return K_BYTES;
        default:                        return -1;
    }
}

static unsigned
s_kind_wire (int kind)
{
    switch (kind) {
        case K_FIXED32: case K_FLOAT:   return S_BIT32;
        case K_FIXED64: case K_DOUBLE:  return S_BIT64;
        case K_STRING: case K_BYTES:    return S_LENGTH;
        default:                        return S_VARINT;
    }
}

//  A new plan for `descriptor`, or NULL if it is not flat (or no memory).
static zshm_codec_plan_t *
s_plan_new (const ProtobufCMessageDescriptor *descriptor)
{
    //  (Field numbers in order: the lookup needs them so; below 2^25: keys
    //  of at most 4 bytes.)
    if (!zshm_fastgen_flat (descriptor))
        return NULL;
    zshm_codec_plan_t *plan = (zshm_codec_plan_t *) calloc (
        1, sizeof (zshm_codec_plan_t) + descriptor->n_fields * sizeof (s_step_t));
    if (!plan)
        return NULL;
    plan->descriptor = descriptor;
    plan->fields = descriptor->fields;
    plan->name = descriptor->name;
    plan->name_len = descriptor->name ? strlen (descriptor->name) : 0;
    plan->sizeof_message = descriptor->sizeof_message;
    plan->flat = true;
    plan->count = descriptor->n_fields;
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        s_step_t *step = &plan->steps [index];
        int kind = s_kind (field->type);
        step->offset = field->offset;
        step->quantifier = field->quantifier_offset;
        step->kind = (uint8_t) kind;
        step->wire = (uint8_t) s_kind_wire (kind);
        step->presence = field->label == PROTOBUF_C_LABEL_NONE ? P_IMPLICIT
                       : kind == K_STRING ? P_POINTER : P_HAS;
        step->default_value = field->default_value;
        step->key_size = (uint8_t) (zshm_varint_put (step->key, (uint64_t) field->id << 3
                                                              | step->wire) - step->key);
        if (field->id < S_DIRECT)
            plan->direct [field->id] = (uint8_t) (index + 1);
    }
    return plan;
}

static inline bool
s_plan_matches (const zshm_codec_plan_t *plan, const ProtobufCMessageDescriptor *descriptor)
{
    return plan->descriptor == descriptor && plan->fields == descriptor->fields
        && plan->name == descriptor->name && plan->sizeof_message == descriptor->sizeof_message
        && plan->count == descriptor->n_fields;
}

const zshm_codec_plan_t *
zshm_codec_plan (const ProtobufCMessageDescriptor *descriptor)
{
    assert (descriptor);
    uintptr_t hash = ((uintptr_t) descriptor >> 4) * 0x9e3779b97f4a7c15ULL;
    size_t start = (size_t) (hash >> 40) % S_PLANS;
    zshm_codec_plan_t *made = NULL;
    for (size_t probe = 0; probe < S_PROBES; probe++) {
        _Atomic (zshm_codec_plan_t *) *slot = &s_plans [(start + probe) % S_PLANS];
        //  Acquire: pairs with the release below, so the plan's contents
        //  are visible.
        zshm_codec_plan_t *plan = atomic_load_explicit (slot, memory_order_acquire);
        while (!plan) {
            if (!made) {
                made = s_plan_new (descriptor);
                if (!made) {
                    //  Not flat: a plan with no steps says so, and
                    //  spares the next call the verdict
                    made = (zshm_codec_plan_t *) calloc (1, sizeof (zshm_codec_plan_t));
                    if (!made)
                        return NULL;
                    made->descriptor = descriptor;
                    made->fields = descriptor->fields;
                    made->name = descriptor->name;
                    made->sizeof_message = descriptor->sizeof_message;
                    made->count = descriptor->n_fields;
                }
            }
            zshm_codec_plan_t *expected = NULL;
            if (atomic_compare_exchange_strong_explicit (slot, &expected, made,
                    memory_order_release, memory_order_acquire))
                return made->flat ? made : NULL;
            plan = expected;                        //  another thread's
        }
        if (s_plan_matches (plan, descriptor)) {
            free (made);
            return plan->flat ? plan : NULL;
        }
    }
    //  The table is full along this path: protobuf-c does the work
    free (made);
    return NULL;
}

int
zshm_fastgen_register (const zshm_fastgen_t *fast)
{
    assert (fast && fast->descriptor && fast->pack && fast->unpack);
    const ProtobufCMessageDescriptor *descriptor = fast->descriptor;
    bool same = fast->n_fields == descriptor->n_fields
             && fast->sizeof_message == descriptor->sizeof_message;
    for (unsigned index = 0; same && index < fast->n_fields; index++) {
        const zshm_fastgen_field_t *ours = &fast->fields [index];
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        same = ours->id == field->id && ours->label == (int) field->label
            && ours->type == (int) field->type && ours->offset == field->offset
            && ours->quantifier_offset == field->quantifier_offset
            && ours->flags == field->flags;
    }
    zshm_codec_plan_t *plan = same ? (zshm_codec_plan_t *) zshm_codec_plan (descriptor) : NULL;
    if (!plan) {
        errno = EINVAL;
        return -1;
    }
    //  Release: the code's tables before the pointer (see s_fast)
    atomic_store_explicit (&plan->fast, fast, memory_order_release);
    return 0;
}

const zshm_fastgen_t *
zshm_codec_fast (const zshm_codec_plan_t *plan)
{
    assert (plan);
    return s_fast (plan);
}

bool
zshm_fastgen_active (const ProtobufCMessageDescriptor *descriptor)
{
    const zshm_codec_plan_t *plan = descriptor ? zshm_codec_plan (descriptor) : NULL;
    return plan && s_fast (plan);
}

void
zshm_codec_set_fast (bool on)
{
    atomic_store_explicit (&s_use_fast, on, memory_order_relaxed);
}

size_t
zshm_codec_name_len (const zshm_codec_plan_t *plan)
{
    assert (plan);
    return plan->name_len;
}

//  Loads of members (memcpy compiles to one load, and says nothing of
//  alignment or aliasing)
#define S_LOADER(name, T) \
    static inline T name (const char *at) { T value; memcpy (&value, at, sizeof value); return value; }
S_LOADER (s_i32, int32_t)
S_LOADER (s_u32, uint32_t)
S_LOADER (s_i64, int64_t)
S_LOADER (s_u64, uint64_t)
S_LOADER (s_bool, protobuf_c_boolean)
S_LOADER (s_f32, float)
S_LOADER (s_f64, double)
S_LOADER (s_str, const char *)
S_LOADER (s_bin, ProtobufCBinaryData)

//  The key of a step.  With room to spare (roomy) one 4-byte copy; else
//  just its bytes, the caller having checked there is room for them.
static inline uint8_t *
s_put_key (uint8_t *at, const s_step_t *step, bool roomy)
{
    if (roomy)
        memcpy (at, step->key, 4);
    else
        memcpy (at, step->key, step->key_size);
    return at + step->key_size;
}

bool
zshm_codec_size (const zshm_codec_plan_t *plan, const ProtobufCMessage *msg, size_t *size_p)
{
    assert (plan && msg && size_p);
    if (msg->n_unknown_fields)
        return false;
    const char *base = (const char *) msg;
    size_t size = 0;
    for (const s_step_t *step = plan->steps; step < plan->steps + plan->count; step++) {
        const char *member = base + step->offset;
        bool implicit = step->presence == P_IMPLICIT;
        if (step->presence == P_HAS && !s_bool (base + step->quantifier))
            continue;
        size_t field;
        switch (step->kind) {
            case K_INT32: {
                int32_t v = s_i32 (member);
                if (implicit && !v)
                    continue;
                field = v < 0 ? 10 : zshm_varint_size ((uint32_t) v);
                break;
            }
            case K_SINT32: {
                int32_t v = s_i32 (member);
                if (implicit && !v)
                    continue;
                field = zshm_varint_size (s_zigzag32 (v));
                break;
            }
            case K_UINT32: {
                uint32_t v = s_u32 (member);
                if (implicit && !v)
                    continue;
                field = zshm_varint_size (v);
                break;
            }
            case K_UINT64: {
                uint64_t v = s_u64 (member);
                if (implicit && !v)
                    continue;
                field = zshm_varint_size (v);
                break;
            }
            case K_SINT64: {
                int64_t v = s_i64 (member);
                if (implicit && !v)
                    continue;
                field = zshm_varint_size (s_zigzag64 (v));
                break;
            }
            case K_BOOL:
                if (implicit && !s_bool (member))
                    continue;
                field = 1;
                break;
            case K_FIXED32:
                if (implicit && !s_u32 (member))
                    continue;
                field = 4;
                break;
            case K_FLOAT:
                if (implicit && s_f32 (member) == 0)
                    continue;
                field = 4;
                break;
            case K_FIXED64:
                if (implicit && !s_u64 (member))
                    continue;
                field = 8;
                break;
            case K_DOUBLE:
                if (implicit && s_f64 (member) == 0)
                    continue;
                field = 8;
                break;
            case K_STRING: {
                const char *v = s_str (member);
                if (implicit ? !v || !*v : !v || v == step->default_value)
                    continue;
                size_t length = strlen (v);
                if (length > UINT32_MAX)
                    return false;
                field = zshm_varint_size (length) + length;
                break;
            }
            default: {                  //  K_BYTES
                ProtobufCBinaryData v = s_bin (member);
                if (implicit && !v.len)
                    continue;
                if ((v.len && !v.data) || v.len > UINT32_MAX)
                    return false;       //  protobuf-c's to judge
                field = zshm_varint_size (v.len) + v.len;
            }
        }
        size += step->key_size + field;
    }
    *size_p = size;
    return true;
}

size_t
zshm_codec_pack (const zshm_codec_plan_t *plan, const ProtobufCMessage *msg, uint8_t *out,
                 size_t max)
{
    assert (plan && msg && out);
    const zshm_fastgen_t *fast = s_fast (plan);
    if (fast) {
        size_t size = fast->pack (msg, out, max);
        if (size != ZSHM_CODEC_NOROOM)
            return size;
    }
    const char *base = (const char *) msg;
    uint8_t *at = out;
    const uint8_t *end = out + max;
    for (const s_step_t *step = plan->steps; step < plan->steps + plan->count; step++) {
        const char *member = base + step->offset;
        bool implicit = step->presence == P_IMPLICIT;
        if (step->presence == P_HAS && !s_bool (base + step->quantifier))
            continue;
        //  Numbers need at most the key and 10 bytes; strings check again.
        bool roomy = (size_t) (end - at) >= 16;
        uint64_t value;
        switch (step->kind) {
            case K_INT32: {
                int32_t v = s_i32 (member);
                if (implicit && !v)
                    continue;
                value = (uint64_t) (int64_t) v;
                goto varint;
            }
            case K_SINT32: {
                int32_t v = s_i32 (member);
                if (implicit && !v)
                    continue;
                value = s_zigzag32 (v);
                goto varint;
            }
            case K_UINT32:
                value = s_u32 (member);
                if (implicit && !value)
                    continue;
                goto varint;
            case K_UINT64:
                value = s_u64 (member);
                if (implicit && !value)
                    continue;
                goto varint;
            case K_SINT64:
                value = s_zigzag64 (s_i64 (member));
                if (implicit && !value)
                    continue;
                goto varint;
            case K_BOOL: {
                protobuf_c_boolean v = s_bool (member);
                if (implicit && !v)
                    continue;
                value = v ? 1 : 0;
            varint:
                if (!roomy && (size_t) (end - at) < step->key_size + zshm_varint_size (value))
                    return ZSHM_CODEC_NOROOM;
                at = s_put_key (at, step, roomy);
                at = zshm_varint_put (at, value);
                break;
            }
            case K_FIXED32:
            case K_FLOAT: {
                uint32_t v = s_u32 (member);
                if (implicit && (step->kind == K_FLOAT ? s_f32 (member) == 0 : !v))
                    continue;
                if (!roomy && (size_t) (end - at) < step->key_size + 4u)
                    return ZSHM_CODEC_NOROOM;
                at = s_put_key (at, step, roomy);
                memcpy (at, &v, 4);
                at += 4;
                break;
            }
            case K_FIXED64:
            case K_DOUBLE: {
                uint64_t v = s_u64 (member);
                if (implicit && (step->kind == K_DOUBLE ? s_f64 (member) == 0 : !v))
                    continue;
                if (!roomy && (size_t) (end - at) < step->key_size + 8u)
                    return ZSHM_CODEC_NOROOM;
                at = s_put_key (at, step, roomy);
                memcpy (at, &v, 8);
                at += 8;
                break;
            }
            default: {                  //  K_STRING, K_BYTES
                const void *data;
                size_t length;
                if (step->kind == K_STRING) {
                    const char *v = s_str (member);
                    if (implicit ? !v || !*v : !v || v == step->default_value)
                        continue;
                    data = v;
                    length = strlen (v);
                }
                else {
                    ProtobufCBinaryData v = s_bin (member);
                    if (implicit && !v.len)
                        continue;
                    data = v.data;
                    length = v.len;
                }
                size_t need = step->key_size + zshm_varint_size (length);
                if ((size_t) (end - at) < need || (size_t) (end - at) - need < length
                ||  (length && !data))
                    return ZSHM_CODEC_NOROOM;
                at = s_put_key (at, step, false);
                at = zshm_varint_put (at, length);
                if (length)
                    memcpy (at, data, length);
                at += length;
            }
        }
    }
    return (size_t) (at - out);
}

//  The step of field number id; NULL if none.
static inline const s_step_t *
s_find (const zshm_codec_plan_t *plan, uint32_t id)
{
    if (id < S_DIRECT) {
        unsigned index = plan->direct [id];
        return index ? &plan->steps [index - 1] : NULL;
    }
    const ProtobufCFieldDescriptor *fields = plan->descriptor->fields;
    unsigned low = 0, high = plan->count;
    while (low < high) {
        unsigned middle = low + (high - low) / 2;
        if (fields [middle].id < id)
            low = middle + 1;
        else
            high = middle;
    }
    return low < plan->count && fields [low].id == id ? &plan->steps [low] : NULL;
}

zshm_codec_result_t
zshm_codec_unpack (const zshm_codec_plan_t *plan, ProtobufCAllocator *allocator,
                   const uint8_t *data, size_t size, ProtobufCMessage **msg_p)
{
    assert (plan && allocator && msg_p);
    assert (data || size == 0);
    const ProtobufCMessageDescriptor *descriptor = plan->descriptor;
    //  One allocation for the message and every string and bytes field of
    //  it: each occurrence of one takes at least two bytes of input (key
    //  and length) beyond its own bytes and needs at most one more (the
    //  NUL), so `size` bytes after the message always suffice.
    size_t head = (descriptor->sizeof_message + 15) & ~(size_t) 15;
    if (size > SIZE_MAX - head)
        return ZSHM_CODEC_NOMEM;
    ProtobufCMessage *msg = (ProtobufCMessage *) allocator->alloc (
        allocator->allocator_data, head + size);
    if (!msg)
        return ZSHM_CODEC_NOMEM;
    char *heap = (char *) msg + head, *heap_end = heap + size;
    descriptor->message_init (msg);
    const zshm_fastgen_t *fast = s_fast (plan);
    if (fast) {
        if (fast->unpack (msg, heap, data, size)) {
            *msg_p = msg;
            return ZSHM_CODEC_DONE;
        }
        descriptor->message_init (msg);     //  from scratch
    }
    char *base = (char *) msg;
    const uint8_t *at = data, *end = data + size;
    //  Fields mostly come in order: the step after the last one is tried
    //  first, by its encoded key, which also settles the wire type.
    const s_step_t *next = plan->steps, *last = plan->steps + plan->count;
    while (at < end) {
        const s_step_t *step;
        if (next < last && next->key_size == 1 && *at == next->key [0]) {
            step = next;
            at++;
        }
        else {
            //  The key: field numbers up to 2047 (one or two bytes)
            uint32_t key = *at;
            if (key < 0x80)
                at++;
            else
            if (end - at >= 2 && at [1] < 0x80) {
                key = (key & 0x7f) | (uint32_t) at [1] << 7;
                at += 2;
            }
            else
                return ZSHM_CODEC_PASS;
            step = s_find (plan, key >> 3);
            if (!step || (key & 7) != step->wire)
                return ZSHM_CODEC_PASS; //  unknown, or not what protobuf-c accepts as is
        }
        next = step + 1;
        char *member = base + step->offset;
        uint64_t value;
        switch (step->kind) {
            case K_FIXED32:
            case K_FLOAT:
                if (end - at < 4)
                    return ZSHM_CODEC_PASS;
                memcpy (member, at, 4);
                at += 4;
                break;
            case K_FIXED64:
            case K_DOUBLE:
                if (end - at < 8)
                    return ZSHM_CODEC_PASS;
                memcpy (member, at, 8);
                at += 8;
                break;
            case K_STRING:
            case K_BYTES: {
                //  protobuf-c reads at most 5 bytes of length: take 4
                const uint8_t *start = at;
                if (!zshm_varint_get (&at, end, &value) || at - start > 4
                ||  value > (uint64_t) (end - at))
                    return ZSHM_CODEC_PASS;
                size_t length = (size_t) value;
                //  Room by the argument above; checked all the same
                if ((size_t) (heap_end - heap) < length + 1)
                    return ZSHM_CODEC_PASS;
                if (step->kind == K_STRING) {
                    char *string = heap;
                    memcpy (string, at, length);
                    string [length] = '\0';
                    heap += length + 1;
                    memcpy (member, &string, sizeof string);
                }
                else {
                    ProtobufCBinaryData bytes = { length, NULL };
                    if (length) {
                        bytes.data = (uint8_t *) heap;
                        memcpy (bytes.data, at, length);
                        heap += length;
                    }
                    memcpy (member, &bytes, sizeof bytes);
                }
                at += length;
                break;
            }
            default: {
                const uint8_t *start = at;
                if (!zshm_varint_get (&at, end, &value))
                    return ZSHM_CODEC_PASS;
                switch (step->kind) {
                    case K_INT32:
                    case K_UINT32: {
                        uint32_t v = (uint32_t) value;
                        memcpy (member, &v, sizeof v);
                        break;
                    }
                    case K_SINT32: {
                        int32_t v = s_unzigzag32 ((uint32_t) value);
                        memcpy (member, &v, sizeof v);
                        break;
                    }
                    case K_SINT64: {
                        int64_t v = s_unzigzag64 (value);
                        memcpy (member, &v, sizeof v);
                        break;
                    }
                    case K_BOOL: {
                        //  True if any bit is set, even one past the 64th
                        protobuf_c_boolean v = value != 0;
                        for (const uint8_t *byte = start; byte < at; byte++)
                            v |= (*byte & 0x7f) != 0;
                        memcpy (member, &v, sizeof v);
                        break;
                    }
                    default:            //  K_UINT64
                        memcpy (member, &value, sizeof value);
                        break;
                }
            }
        }
        if (step->quantifier) {
            protobuf_c_boolean has = 1;
            memcpy (base + step->quantifier, &has, sizeof has);
        }
    }
    *msg_p = msg;
    return ZSHM_CODEC_DONE;
}
