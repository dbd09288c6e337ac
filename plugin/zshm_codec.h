/*  =========================================================================
    zshm_codec - zshm's own protobuf encoder and decoder for flat messages

    protobuf-c's pack and unpack are generic and walk every field through
    several calls; on a 12-field market tick they cost about 80 ns (sizing),
    80 ns (packing) and 130 ns (unpacking) here, several times the cost of
    moving the bytes through the ring.  This is a tight interpreter of the
    same ProtobufCMessageDescriptor, for the messages that dominate hot
    paths: "flat" ones, whose fields are all singular scalars, enums,
    strings and bytes (proto3 implicit presence, or optional with has_).

    It is a fast path, never a second opinion:
      - it packs byte for byte what protobuf_c_message_pack packs, and the
        test suite checks that over random messages (test_proto_codec);
      - it unpacks only input it fully understands (known fields, matching
        wire types, varints of at most 10 bytes, lengths that fit); on
        anything else it says so and the caller hands the same bytes to
        protobuf-c, which decides.  Where it does decode, it produces what
        protobuf-c's unpack produces (checked over random and mutated
        buffers, in make check and in the fuzz_proto target).
    Messages with repeated, required, oneof or sub-message fields are left
    to protobuf-c whole.

    Faster still, for types known at build time: proto/zshm_fastgen.c
    writes C for each flat type of a schema, which registers itself
    (zshm_fastgen_register, zshm_fastgen.h) and then packs and unpacks the
    common case in place of the interpreter, handing it everything else.

    Internal: not installed.
    =========================================================================
*/

#ifndef ZSHM_CODEC_H_INCLUDED
#define ZSHM_CODEC_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "zshm_fastgen.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What the codec knows of one message type: built on first use and kept
//  for the life of the process (types are few; a full table just means
//  protobuf-c for the types that did not fit).  Thread-safe.
typedef struct _zshm_codec_plan_t zshm_codec_plan_t;

//  The plan of a flat type, or NULL when the type is not flat (or no plan
//  could be kept: protobuf-c handles it).
const zshm_codec_plan_t *
    zshm_codec_plan (const ProtobufCMessageDescriptor *descriptor);

//  A one-entry cache of zshm_codec_plan for one owner at a time (a
//  publisher, a subscriber: handles are not shared between threads).  The
//  table's lookup hashes and probes; this compares a few words.  The same
//  fingerprint as the table's guards against a descriptor freed and
//  another made at its address.  Zero it to start.
typedef struct {
    const ProtobufCMessageDescriptor *descriptor;
    const ProtobufCFieldDescriptor *fields;
    const char *name;
    size_t sizeof_message;
    unsigned n_fields;
    const zshm_codec_plan_t *plan;  //  NULL: not flat (or no plan kept)
} zshm_codec_cache_t;

//  zshm_codec_plan through `cache`.
static inline const zshm_codec_plan_t *
zshm_codec_plan_cached (zshm_codec_cache_t *cache, const ProtobufCMessageDescriptor *descriptor)
{
    if (cache->descriptor != descriptor || cache->fields != descriptor->fields
    ||  cache->name != descriptor->name || cache->sizeof_message != descriptor->sizeof_message
    ||  cache->n_fields != descriptor->n_fields) {
        cache->plan = zshm_codec_plan (descriptor);
        cache->descriptor = descriptor;
        cache->fields = descriptor->fields;
        cache->name = descriptor->name;
        cache->sizeof_message = descriptor->sizeof_message;
        cache->n_fields = descriptor->n_fields;
    }
    return cache->plan;
}

//  Length of the plan's full type name (descriptor->name), kept so that
//  senders need not measure it on every message.
size_t
    zshm_codec_name_len (const zshm_codec_plan_t *plan);

//  Packed size of `msg` (of the plan's type), as
//  protobuf_c_message_get_packed_size gives it, into *size_p and true;
//  false (nothing stored) when the message carries unknown fields or bytes
//  without data: protobuf-c's to pack.
bool
    zshm_codec_size (const zshm_codec_plan_t *plan, const ProtobufCMessage *msg,
                     size_t *size_p);

//  What zshm_codec_pack returns for a message that does not fit.
#define ZSHM_CODEC_NOROOM ZSHM_FASTGEN_NOROOM

//  Pack `msg` (of the plan's type, without unknown fields) into out: at
//  most `max` bytes.  Returns the bytes written, or ZSHM_CODEC_NOROOM when
//  the message needs more than max, or has bytes without data (which
//  protobuf-c is left to judge).  No sizing pass is needed first.
size_t
    zshm_codec_pack (const zshm_codec_plan_t *plan, const ProtobufCMessage *msg,
                     uint8_t *out, size_t max);

//  What zshm_codec_unpack concluded.
typedef enum {
    ZSHM_CODEC_DONE,        //  decoded: *msg_p is the message
    ZSHM_CODEC_NOMEM,       //  the allocator failed
    ZSHM_CODEC_PASS         //  input it leaves to protobuf-c
} zshm_codec_result_t;

//  Decode `size` bytes at `data` as the plan's type into memory from
//  `allocator`, which must be an arena: nothing is ever freed through it,
//  and a PASS or NOMEM may leave allocations behind until its reset.
zshm_codec_result_t
    zshm_codec_unpack (const zshm_codec_plan_t *plan, ProtobufCAllocator *allocator,
                       const uint8_t *data, size_t size, ProtobufCMessage **msg_p);

//  The code registered for the plan's type (zshm_fastgen_register), while
//  code is in use; NULL if none.
const zshm_fastgen_t *
    zshm_codec_fast (const zshm_codec_plan_t *plan);

//  For tests: false makes every pack and unpack interpret (process-wide,
//  default true).
void
    zshm_codec_set_fast (bool on);

#ifdef __cplusplus
}
#endif

#endif
