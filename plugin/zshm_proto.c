/*  =========================================================================
    zshm_proto - protobuf payloads on zshm publishers and subscribers

    Sending.  A flat message (singular scalars, enums, strings and bytes)
    is packed by zshm_codec (the same bytes as protobuf-c's, at a fraction
    of the cost) into an open message (zshm_pub_send_open: the publisher's
    stage, copied to the slot at the close), without being sized first:
    frame sizes are fixed-width, so the payload's place does not depend on
    its size, and send_close fills the sizes in.  One that does not fit the
    open message's room (a slot, and a few hundred bytes at most), or is
    not flat, is sized first; if it fits its slot it is packed straight
    into it (zshm_pub_send_direct), by the codec or protobuf-c's pack.  A larger one is packed by protobuf-c
    through a buffer whose append callback gets consecutive pieces (a tag,
    a varint, a string...) and hands each to zshm_pub_send_write, which
    copies it into the fragment, so the packed message is never assembled
    anywhere else.  The total must be announced up front (send_begin):
    zshm_codec_size or protobuf_c_message_get_packed_size gives it, one
    extra walk over the message, far cheaper than a malloc and a second
    copy.

    Receiving.  zshm_sub_recv copies the message into the subscriber's
    private buffer (the ring protocol forbids decoding shared bytes).  We
    unpack that copy with zshm_codec when it claims the input (a flat type,
    well-formed, nothing it would have to second-guess), else with
    protobuf-c; either way every allocation (the message struct, strings,
    repeated arrays, sub-messages) goes to an arena hung off the
    subscriber: a bump allocator whose free does nothing and which is reset
    before each unpack.  When a message needs more than the arena holds it
    grows by a chunk; at the next reset the chunks are merged into one, so
    after the largest message has been seen nothing is allocated any more.
    A long run of much smaller messages lets it shrink back, so one huge
    message does not pin memory for ever.

    Input is never trusted: the type name, the frame count and the bytes
    come from another process (or the network), so any mismatch is EPROTO
    and a counted error, never an assert and never a half-filled message.
    protobuf-c's unpack itself returns NULL on any malformed input and
    releases what it allocated through our no-op free.
    =========================================================================
*/

#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zshm_proto.h"
#include "zshm_codec.h"
#include "zshm_pub_priv.h"
#include "zshm_sub_priv.h"

//  Default size of an arena's first chunk.
#define ZSHM_PROTO_CHUNK_DEFAULT (64u * 1024)

//  Every allocation is aligned for any type, as malloc's are.
#define ZSHM_PROTO_ALIGN (alignof (max_align_t))

//  Shrinking: every ZSHM_PROTO_DECAY_ROUNDS resets, an arena that never
//  used more than a quarter of its capacity in that window halves.
#define ZSHM_PROTO_DECAY_ROUNDS 4096

//  One chunk of an arena; its bytes follow the header, suitably aligned.
typedef struct _s_chunk_t {
    struct _s_chunk_t *next;    //  next chunk of the arena, NULL at the end
    size_t size;                //  bytes of data after the header
    size_t used;                //  bytes handed out since the last reset
    alignas (max_align_t) unsigned char data [];    //  the chunk's memory
} s_chunk_t;

struct _zshm_proto_arena_t {
    ProtobufCAllocator allocator;   //  protobuf-c's view of this arena
    s_chunk_t *head;                //  first chunk, NULL when none is held
    s_chunk_t *tail;                //  chunk allocations come from now
    size_t chunk_size;              //  first chunk's size, least of any chunk
    size_t limit;                   //  most bytes all chunks may hold
    size_t capacity;                //  bytes all chunks hold
    size_t used;                    //  bytes handed out since the last reset
    size_t high_water;              //  most used in one round of this window
    unsigned rounds;                //  resets in the current decay window
    uint64_t mallocs;               //  chunks allocated from the system
    bool failed;                    //  an allocation hit the limit this round
};

//  What a subscriber carries for us (zshm_sub_priv.h's proto state).
typedef struct {
    zshm_proto_arena_t *arena;      //  where messages and topics unpack
    uint64_t errors;                //  messages that failed to unpack
    bool untyped;                   //  accept messages without a type name
    zshm_codec_cache_t codec_cache; //  the plan of the type last asked for
} s_sub_state_t;

//  A protobuf-c output buffer that writes into a publisher's open message.
typedef struct {
    ProtobufCBuffer base;           //  protobuf-c's view: append
    zshm_pub_t *pub;                //  where appended bytes go
    int error;                      //  errno of the first failed write, or 0
} s_pub_buffer_t;


//  --------------------------------------------------------------------------
//  Arena

static s_chunk_t *
s_chunk_new (size_t size)
{
    s_chunk_t *chunk = (s_chunk_t *) malloc (sizeof (s_chunk_t) + size);
    if (chunk) {
        chunk->next = NULL;
        chunk->size = size;
        chunk->used = 0;
    }
    return chunk;
}

static void
s_chunks_free (s_chunk_t *chunk)
{
    while (chunk) {
        s_chunk_t *next = chunk->next;
        free (chunk);
        chunk = next;
    }
}

static void *
s_allocator_alloc (void *data, size_t size)
{
    return zshm_proto_arena_alloc ((zshm_proto_arena_t *) data, size);
}

//  Memory is given back all at once, at reset: freeing one piece is a no-op.
static void
s_allocator_free (void *data, void *pointer)
{
}

zshm_proto_arena_t *
zshm_proto_arena_new (size_t chunk_size, size_t limit)
{
    zshm_proto_arena_t *self = (zshm_proto_arena_t *) calloc (1, sizeof (zshm_proto_arena_t));
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->allocator.alloc = s_allocator_alloc;
    self->allocator.free = s_allocator_free;
    self->allocator.allocator_data = self;
    self->limit = limit ? limit : ZSHM_PROTO_ARENA_LIMIT_DEFAULT;
    self->chunk_size = chunk_size ? chunk_size : ZSHM_PROTO_CHUNK_DEFAULT;
    if (self->chunk_size > self->limit)
        self->chunk_size = self->limit;
    //  Round up so every chunk keeps allocations aligned.
    self->chunk_size = (self->chunk_size + ZSHM_PROTO_ALIGN - 1) & ~(ZSHM_PROTO_ALIGN - 1);
    //  The first chunk is made eagerly, so the first message does not pay.
    self->head = s_chunk_new (self->chunk_size);
    if (!self->head) {
        free (self);
        errno = ENOMEM;
        return NULL;
    }
    self->tail = self->head;
    self->capacity = self->chunk_size;
    self->mallocs = 1;
    return self;
}

void
zshm_proto_arena_destroy (zshm_proto_arena_t **self_p)
{
    assert (self_p);
    zshm_proto_arena_t *self = *self_p;
    if (self) {
        s_chunks_free (self->head);
        free (self);
        *self_p = NULL;
    }
}

//  Replace all chunks with one of `size` bytes.  If that malloc fails the
//  arena holds nothing and allocates on demand again.
static void
s_arena_rechunk (zshm_proto_arena_t *self, size_t size)
{
    s_chunks_free (self->head);
    self->head = s_chunk_new (size);
    self->tail = self->head;
    self->capacity = self->head ? size : 0;
    if (self->head)
        self->mallocs++;
}

void
zshm_proto_arena_reset (zshm_proto_arena_t *self)
{
    assert (self);
    if (self->used > self->high_water)
        self->high_water = self->used;
    if (self->head && self->head->next)
        //  The last round needed more than one chunk: merge them, so the
        //  same round again allocates nothing.
        s_arena_rechunk (self, self->capacity);
    else
    if (++self->rounds >= ZSHM_PROTO_DECAY_ROUNDS) {
        //  Give back memory that a window of rounds never needed.
        if (self->capacity > self->chunk_size && self->high_water * 4 < self->capacity) {
            size_t size = self->capacity / 2;
            if (size < self->chunk_size)
                size = self->chunk_size;
            size = (size + ZSHM_PROTO_ALIGN - 1) & ~(ZSHM_PROTO_ALIGN - 1);
            s_arena_rechunk (self, size);
        }
        self->rounds = 0;
        self->high_water = 0;
    }
    if (self->head)
        self->head->used = 0;
    self->tail = self->head;
    self->used = 0;
    self->failed = false;
}

void *
zshm_proto_arena_alloc (zshm_proto_arena_t *self, size_t size)
{
    assert (self);
    //  A size near SIZE_MAX would wrap when rounded: refuse it up front.
    if (size > self->limit) {
        self->failed = true;
        errno = ENOMEM;
        return NULL;
    }
    size_t need = size ? (size + ZSHM_PROTO_ALIGN - 1) & ~(ZSHM_PROTO_ALIGN - 1)
                       : ZSHM_PROTO_ALIGN;
    s_chunk_t *chunk = self->tail;
    if (!chunk || chunk->size - chunk->used < need) {
        //  Grow by a chunk at least as large as all the others together
        //  (capacity doubles), within the limit.
        if (self->capacity > self->limit || need > self->limit - self->capacity) {
            self->failed = true;
            errno = ENOMEM;
            return NULL;
        }
        size_t size_new = self->capacity > need ? self->capacity : need;
        if (size_new < self->chunk_size)
            size_new = self->chunk_size;
        if (size_new > self->limit - self->capacity)
            size_new = self->limit - self->capacity;
        chunk = s_chunk_new (size_new);
        if (!chunk) {
            self->failed = true;
            errno = ENOMEM;
            return NULL;
        }
        self->mallocs++;
        if (self->tail)
            self->tail->next = chunk;
        else
            self->head = chunk;
        self->tail = chunk;
        self->capacity += size_new;
    }
    void *pointer = chunk->data + chunk->used;
    chunk->used += need;
    self->used += need;
    return pointer;
}

ProtobufCAllocator *
zshm_proto_arena_allocator (zshm_proto_arena_t *self)
{
    assert (self);
    return &self->allocator;
}

size_t
zshm_proto_arena_used (zshm_proto_arena_t *self)
{
    assert (self);
    return self->used;
}

size_t
zshm_proto_arena_capacity (zshm_proto_arena_t *self)
{
    assert (self);
    return self->capacity;
}

uint64_t
zshm_proto_arena_mallocs (zshm_proto_arena_t *self)
{
    assert (self);
    return self->mallocs;
}

//  Unpack into the arena (not reset here): zshm_codec for what it claims,
//  protobuf-c for the rest.  NULL with errno ENOMEM or EPROTO.
static ProtobufCMessage *
s_unpack (zshm_proto_arena_t *self, const ProtobufCMessageDescriptor *descriptor,
          const zshm_codec_plan_t *plan, const void *data, size_t size)
{
    //  protobuf-c reads nothing when size is 0, but wants a pointer.
    static const uint8_t empty [1] = { 0 };
    if (!data)
        data = empty;
    ProtobufCMessage *msg = NULL;
    switch (plan ? zshm_codec_unpack (plan, &self->allocator, (const uint8_t *) data, size, &msg)
                 : ZSHM_CODEC_PASS) {
        case ZSHM_CODEC_DONE:
            return msg;
        case ZSHM_CODEC_NOMEM:
            //  The codec asks for the message and room for all its bytes
            //  at once; protobuf-c may need less, so it has its turn, and
            //  only its own failure to allocate is ENOMEM.
            self->failed = false;
            break;
        case ZSHM_CODEC_PASS:
            break;
    }
    //  What the codec began stays in the arena until its next reset.
    msg = protobuf_c_message_unpack (descriptor, &self->allocator, size,
                                     (const uint8_t *) data);
    if (!msg) {
        errno = self->failed ? ENOMEM : EPROTO;
        return NULL;
    }
    return msg;
}

ProtobufCMessage *
zshm_proto_arena_unpack (zshm_proto_arena_t *self, const ProtobufCMessageDescriptor *descriptor,
                         const void *data, size_t size)
{
    assert (self);
    assert (descriptor && descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    zshm_proto_arena_reset (self);
    return s_unpack (self, descriptor, zshm_codec_plan (descriptor), data, size);
}


//  --------------------------------------------------------------------------
//  Publisher

static void
s_pub_buffer_append (ProtobufCBuffer *buffer, size_t size, const uint8_t *data)
{
    s_pub_buffer_t *self = (s_pub_buffer_t *) buffer;
    //  After a failed write the message is lost anyway; stop copying.
    if (!self->error && zshm_pub_send_write (self->pub, data, size))
        self->error = errno ? errno : EIO;
}

int
zshm_pub_send_proto (zshm_pub_t *self, const char *topic, const ProtobufCMessage *msg)
{
    assert (self);
    assert (msg);
    assert (msg->descriptor && msg->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    if (!topic)
        topic = "";
    size_t topic_size = strlen (topic);
    //  Flat messages are packed by zshm_codec, the same bytes as
    //  protobuf-c's in a fraction of the time; others by protobuf-c.
    const zshm_codec_plan_t *plan = zshm_codec_plan_cached (zshm_pub_codec_cache (self),
                                                            msg->descriptor);
    if (plan && !msg->n_unknown_fields) {
        //  Into an open message, unsized: its room bounds it
        size_t room;
        uint8_t *out = (uint8_t *) zshm_pub_send_open (self, topic, topic_size,
                                                       msg->descriptor->name,
                                                       zshm_codec_name_len (plan), &room);
        if (out) {
            size_t packed = zshm_codec_pack (plan, msg, out, room);
            if (packed != ZSHM_CODEC_NOROOM)
                return zshm_pub_send_close (self, packed);
            zshm_pub_send_abort (self);     //  larger than the room: below
        }
    }
    size_t size;
    bool flat = plan && zshm_codec_size (plan, msg, &size);
    if (!flat)
        size = protobuf_c_message_get_packed_size (msg);
    if (zshm_pub_send_begin (self, topic, topic_size, size, msg->descriptor->name))
        return -1;
    //  Fits the slot: a flat pack, straight into it.
    uint8_t *direct = (uint8_t *) zshm_pub_send_direct (self, size);
    if (direct) {
        if (!flat)
            protobuf_c_message_pack (msg, direct);
        else
        if (zshm_codec_pack (plan, msg, direct, size) != size) {
            //  Changed by another thread since it was sized: abandon it
            zshm_pub_send_abort (self);
            errno = EINVAL;
            return -1;
        }
        return zshm_pub_send_end (self);
    }
    s_pub_buffer_t buffer = { { s_pub_buffer_append }, self, 0 };
    size_t packed = protobuf_c_message_pack_to_buffer (msg, &buffer.base);
    if (buffer.error || packed != size) {
        //  A failed write, or a message changed by another thread between
        //  sizing and packing: abandon the message and report the first
        //  cause.
        int error = buffer.error ? buffer.error : EINVAL;
        zshm_pub_send_abort (self);
        errno = error;
        return -1;
    }
    return zshm_pub_send_end (self);
}


//  --------------------------------------------------------------------------
//  Subscriber

static void
s_sub_state_destroy (void **state_p)
{
    s_sub_state_t *state = (s_sub_state_t *) *state_p;
    if (state) {
        zshm_proto_arena_destroy (&state->arena);
        free (state);
        *state_p = NULL;
    }
}

//  The subscriber's proto state, made on first use; NULL with errno ENOMEM.
static s_sub_state_t *
s_sub_state (zshm_sub_t *self)
{
    s_sub_state_t *state = (s_sub_state_t *) zshm_sub_proto_state (self);
    if (!state) {
        state = (s_sub_state_t *) calloc (1, sizeof (s_sub_state_t));
        if (state)
            state->arena = zshm_proto_arena_new (0, 0);
        if (!state || !state->arena) {
            free (state);
            errno = ENOMEM;
            return NULL;
        }
        zshm_sub_set_proto_state (self, state, s_sub_state_destroy);
    }
    return state;
}

//  Count a failed unpack and fail with `error`.
static ProtobufCMessage *
s_sub_fail (s_sub_state_t *state, int error)
{
    state->errors++;
    errno = error;
    return NULL;
}

//  Unpack the last message received into the arena, which the caller has
//  reset.
static ProtobufCMessage *
s_sub_decode (zshm_sub_t *self, s_sub_state_t *state,
              const ProtobufCMessageDescriptor *descriptor, const char **topic_p)
{
    zshm_sub_view_t view;
    if (!zshm_sub_view (self, &view))
        return s_sub_fail (state, EPROTO);
    //  The type: the descriptor's name (measured once, by the plan), or
    //  none if untyped messages are accepted
    const zshm_codec_plan_t *plan = zshm_codec_plan_cached (&state->codec_cache, descriptor);
    size_t name_len = plan ? zshm_codec_name_len (plan) : strlen (descriptor->name);
    if ((view.type_len != name_len || memcmp (view.type, descriptor->name, name_len) != 0)
    &&  !(state->untyped && view.type_len == 0))
        return s_sub_fail (state, EPROTO);
    const uint8_t *topic = view.topic, *payload = view.payload;
    size_t topic_size = view.topic_size, size = view.size;
    //  The topic's copy goes first in the arena, the message after it; both
    //  stay until the next reset.
    char *topic_copy = NULL;
    if (topic_p) {
        topic_copy = (char *) zshm_proto_arena_alloc (state->arena, topic_size + 1);
        if (!topic_copy)
            return s_sub_fail (state, ENOMEM);
        memcpy (topic_copy, topic, topic_size);
        topic_copy [topic_size] = '\0';
    }
    ProtobufCMessage *msg = s_unpack (state->arena, descriptor, plan, payload, size);
    if (!msg)
        return s_sub_fail (state, errno);
    if (topic_p)
        *topic_p = topic_copy;
    return msg;
}

ProtobufCMessage *
zshm_sub_recv_proto (zshm_sub_t *self, const ProtobufCMessageDescriptor *descriptor,
                     const char **topic_p)
{
    assert (self);
    assert (descriptor && descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    s_sub_state_t *state = s_sub_state (self);
    if (!state)
        return NULL;
    //  What the last receive unpacked is released now, before the wait,
    //  not after it, on the way to the next message
    zshm_proto_arena_reset (state->arena);
    if (zshm_sub_recv (self) == -1)
        return NULL;
    return s_sub_decode (self, state, descriptor, topic_p);
}

ProtobufCMessage *
zshm_sub_decode_proto (zshm_sub_t *self, const ProtobufCMessageDescriptor *descriptor,
                       const char **topic_p)
{
    assert (self);
    assert (descriptor && descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC);
    s_sub_state_t *state = s_sub_state (self);
    if (!state)
        return NULL;
    zshm_proto_arena_reset (state->arena);
    return s_sub_decode (self, state, descriptor, topic_p);
}

uint64_t
zshm_sub_proto_errors (zshm_sub_t *self)
{
    assert (self);
    s_sub_state_t *state = (s_sub_state_t *) zshm_sub_proto_state (self);
    return state ? state->errors : 0;
}

int
zshm_sub_set_proto_limit (zshm_sub_t *self, size_t limit)
{
    assert (self);
    s_sub_state_t *state = s_sub_state (self);
    if (!state)
        return -1;
    zshm_proto_arena_t *arena = state->arena;
    arena->limit = limit ? limit : ZSHM_PROTO_ARENA_LIMIT_DEFAULT;
    //  Drop what the new limit no longer allows; the next unpack grows
    //  again as far as it may.
    if (arena->capacity > arena->limit) {
        if (arena->chunk_size > arena->limit)
            arena->chunk_size = arena->limit & ~(ZSHM_PROTO_ALIGN - 1);
        s_arena_rechunk (arena, arena->chunk_size);
        zshm_proto_arena_reset (arena);
    }
    return 0;
}

int
zshm_sub_set_proto_untyped (zshm_sub_t *self, bool untyped)
{
    assert (self);
    s_sub_state_t *state = s_sub_state (self);
    if (!state)
        return -1;
    state->untyped = untyped;
    return 0;
}


//  --------------------------------------------------------------------------
//  Self test.  The library carries no generated types, so the test
//  describes its message by hand, as protoc-c would for:
//
//      syntax = "proto3";
//      package zshm.test;
//      message Sample {
//          string name = 1;
//          uint64 count = 2;
//          bytes blob = 3;
//          repeated fixed32 values = 4;
//      }
//
//  and the same fields once more as zshm.test.Other, for type mismatches.

typedef struct {
    ProtobufCMessage base;      //  protobuf-c's header
    char *name;                 //  field 1
    uint64_t count;             //  field 2
    ProtobufCBinaryData blob;   //  field 3
    size_t n_values;            //  field 4's count
    uint32_t *values;           //  field 4
} s_sample_t;

static const ProtobufCFieldDescriptor s_sample_fields [4] = {
    { "name", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0,
      offsetof (s_sample_t, name), NULL, &protobuf_c_empty_string, 0, 0, NULL, NULL },
    { "count", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT64, 0,
      offsetof (s_sample_t, count), NULL, NULL, 0, 0, NULL, NULL },
    { "blob", 3, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES, 0,
      offsetof (s_sample_t, blob), NULL, NULL, 0, 0, NULL, NULL },
    { "values", 4, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_FIXED32,
      offsetof (s_sample_t, n_values), offsetof (s_sample_t, values), NULL, NULL,
      PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL },
};
//  Field indices sorted by name: blob, count, name, values.
static const unsigned s_sample_by_name [4] = { 2, 1, 0, 3 };
//  One range of consecutive field numbers, 1..4, then its end marker.
static const ProtobufCIntRange s_sample_ranges [2] = { { 1, 0 }, { 0, 4 } };

static void s_sample_init (s_sample_t *sample);

static const ProtobufCMessageDescriptor s_sample_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "zshm.test.Sample", "Sample", "Zshm__Test__Sample",
    "zshm.test", sizeof (s_sample_t), 4, s_sample_fields, s_sample_by_name, 1, s_sample_ranges,
    (ProtobufCMessageInit) s_sample_init, NULL, NULL, NULL
};

static const ProtobufCMessageDescriptor s_other_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "zshm.test.Other", "Other", "Zshm__Test__Other",
    "zshm.test", sizeof (s_sample_t), 4, s_sample_fields, s_sample_by_name, 1, s_sample_ranges,
    (ProtobufCMessageInit) s_sample_init, NULL, NULL, NULL
};

static void
s_sample_init (s_sample_t *sample)
{
    memset (sample, 0, sizeof *sample);
    sample->base.descriptor = &s_sample_descriptor;
    sample->name = (char *) protobuf_c_empty_string;
}

static void
s_test_arena (bool verbose)
{
    zshm_proto_arena_t *arena = zshm_proto_arena_new (1000, 1 << 20);
    assert (arena);
    //  The chunk size is rounded up to the alignment.
    assert (zshm_proto_arena_capacity (arena) % ZSHM_PROTO_ALIGN == 0);
    assert (zshm_proto_arena_capacity (arena) >= 1000);
    assert (zshm_proto_arena_mallocs (arena) == 1);

    //  Allocations are aligned, distinct and within one chunk while they fit.
    char *first = (char *) zshm_proto_arena_alloc (arena, 1);
    char *second = (char *) zshm_proto_arena_alloc (arena, 0);
    char *third = (char *) zshm_proto_arena_alloc (arena, 33);
    assert (first && second && third);
    assert ((uintptr_t) first % ZSHM_PROTO_ALIGN == 0);
    assert ((uintptr_t) second % ZSHM_PROTO_ALIGN == 0);
    assert ((uintptr_t) third % ZSHM_PROTO_ALIGN == 0);
    assert (first != second && second != third);
    memset (third, 0xAA, 33);
    assert (zshm_proto_arena_mallocs (arena) == 1);

    //  Past the chunk it grows; the reset after merges into one chunk, and
    //  the same round again mallocs nothing.
    void *big = zshm_proto_arena_alloc (arena, 5000);
    assert (big);
    memset (big, 0x55, 5000);
    assert (zshm_proto_arena_mallocs (arena) == 2);
    size_t capacity = zshm_proto_arena_capacity (arena);
    assert (capacity >= 6000);
    zshm_proto_arena_reset (arena);
    assert (zshm_proto_arena_used (arena) == 0);
    assert (zshm_proto_arena_mallocs (arena) == 3);
    assert (zshm_proto_arena_capacity (arena) == capacity);
    for (int round = 0; round < 100; round++) {
        assert (zshm_proto_arena_alloc (arena, 1));
        assert (zshm_proto_arena_alloc (arena, 33));
        assert (zshm_proto_arena_alloc (arena, 5000));
        zshm_proto_arena_reset (arena);
    }
    assert (zshm_proto_arena_mallocs (arena) == 3);

    //  The limit holds, whatever is asked, and the arena still works after.
    errno = 0;
    assert (zshm_proto_arena_alloc (arena, (size_t) -1) == NULL && errno == ENOMEM);
    assert (zshm_proto_arena_alloc (arena, 2 << 20) == NULL && errno == ENOMEM);
    size_t total = 0;
    while (zshm_proto_arena_alloc (arena, 100000))
        total += 100000;
    assert (errno == ENOMEM);
    assert (total <= (1 << 20) && total >= (1 << 19));
    assert (zshm_proto_arena_capacity (arena) <= (1 << 20));
    zshm_proto_arena_reset (arena);
    assert (zshm_proto_arena_alloc (arena, 100));

    //  Long runs of small rounds give memory back.
    size_t held = zshm_proto_arena_capacity (arena);
    for (int round = 0; round < 4 * ZSHM_PROTO_DECAY_ROUNDS; round++) {
        assert (zshm_proto_arena_alloc (arena, 100));
        zshm_proto_arena_reset (arena);
    }
    assert (zshm_proto_arena_capacity (arena) < held);
    zshm_proto_arena_destroy (&arena);
    zshm_proto_arena_destroy (&arena);
    assert (arena == NULL);
}

static void
s_test_unpack (bool verbose)
{
    zshm_proto_arena_t *arena = zshm_proto_arena_new (0, 0);
    assert (arena);
    uint32_t values [300];
    for (int index = 0; index < 300; index++)
        values [index] = (uint32_t) index * 2654435761u;
    s_sample_t sample;
    s_sample_init (&sample);
    sample.name = (char *) "sample";
    sample.count = UINT64_MAX;
    sample.blob.data = (uint8_t *) "\x00\x01\x02";
    sample.blob.len = 3;
    sample.n_values = 300;
    sample.values = values;
    uint8_t packed [2048];
    size_t size = protobuf_c_message_pack (&sample.base, packed);
    assert (size == protobuf_c_message_get_packed_size (&sample.base));

    s_sample_t *copy = (s_sample_t *) zshm_proto_arena_unpack (arena, &s_sample_descriptor,
                                                              packed, size);
    assert (copy);
    assert (streq (copy->name, "sample"));
    assert (copy->count == UINT64_MAX);
    assert (copy->blob.len == 3 && memcmp (copy->blob.data, "\x00\x01\x02", 3) == 0);
    assert (copy->n_values == 300 && memcmp (copy->values, values, sizeof values) == 0);
    assert (zshm_proto_arena_used (arena) > 0);

    //  Empty input is a valid, empty message.
    copy = (s_sample_t *) zshm_proto_arena_unpack (arena, &s_sample_descriptor, NULL, 0);
    assert (copy && streq (copy->name, "") && copy->count == 0 && copy->n_values == 0);

    //  Every truncation of a valid message either fails with EPROTO or is
    //  a shorter valid message (cut at a field boundary); never a crash.
    int failures = 0;
    for (size_t cut = 1; cut < size; cut++) {
        errno = 0;
        copy = (s_sample_t *) zshm_proto_arena_unpack (arena, &s_sample_descriptor, packed, cut);
        if (!copy) {
            assert (errno == EPROTO);
            failures++;
        }
    }
    assert (failures > 0);
    //  A tag with wire type 7 does not exist.
    uint8_t bad [] = { 0x0F, 0x01 };
    assert (!zshm_proto_arena_unpack (arena, &s_sample_descriptor, bad, sizeof bad));
    assert (errno == EPROTO);
    //  A length that runs past the end.
    uint8_t overlong [] = { 0x0A, 0x7F, 'a' };
    assert (!zshm_proto_arena_unpack (arena, &s_sample_descriptor, overlong, sizeof overlong));
    assert (errno == EPROTO);

    //  Beyond the arena's limit: ENOMEM, not EPROTO.
    zshm_proto_arena_t *small = zshm_proto_arena_new (256, 512);
    assert (small);
    assert (!zshm_proto_arena_unpack (small, &s_sample_descriptor, packed, size));
    assert (errno == ENOMEM);
    zshm_proto_arena_destroy (&small);
    zshm_proto_arena_destroy (&arena);
    if (verbose)
        printf (" * zshm_proto: packed sample is %zu bytes\n", size);
}

static void
s_test_pubsub (bool verbose)
{
    char name [64];
    snprintf (name, sizeof name, "zshm_proto_test.%d", (int) getpid ());
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=256", name);
    char sub_endpoint [128];
    //  from=oldest: the subscriber is made after the channel, and must
    //  see everything published on it.
    snprintf (sub_endpoint, sizeof sub_endpoint, "shm://%s?from=oldest", name);
    zshm_ring_unlink (name);

    zshm_pub_t *pub = zshm_pub_new (endpoint);
    assert (pub);
    zshm_sub_t *sub = zshm_sub_new (sub_endpoint, "");
    assert (sub);
    zshm_sub_set_rcvtimeo (sub, 5000);
    assert (zshm_sub_proto_errors (sub) == 0);

    //  A round trip, larger than a slot (fragmented).
    uint32_t values [200];
    for (int index = 0; index < 200; index++)
        values [index] = (uint32_t) index * 7919u;
    s_sample_t sample;
    s_sample_init (&sample);
    sample.name = (char *) "fragmented";
    sample.count = 42;
    sample.n_values = 200;
    sample.values = values;
    assert (protobuf_c_message_get_packed_size (&sample.base) > 256);
    assert (zshm_pub_send_proto (pub, "alpha", &sample.base) == 0);
    const char *topic = NULL;
    s_sample_t *got = (s_sample_t *) zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic);
    assert (got);
    assert (topic && streq (topic, "alpha"));
    assert (streq (got->name, "fragmented") && got->count == 42);
    assert (got->n_values == 200 && memcmp (got->values, values, sizeof values) == 0);
    assert (streq (zshm_sub_type (sub), "zshm.test.Sample"));

    //  Another type: EPROTO, counted, and the message stays inspectable.
    assert (zshm_pub_send_proto (pub, "beta", &sample.base) == 0);
    assert (zshm_sub_recv_proto (sub, &s_other_descriptor, &topic) == NULL);
    assert (errno == EPROTO);
    assert (zshm_sub_proto_errors (sub) == 1);
    assert (streq (zshm_sub_type (sub), "zshm.test.Sample"));
    //  ...and decoding it with the right descriptor works.
    got = (s_sample_t *) zshm_sub_decode_proto (sub, &s_sample_descriptor, NULL);
    assert (got && got->count == 42);

    //  Bytes that do not parse, with the right type name: EPROTO.
    uint8_t bad [] = { 0x0A, 0x7F, 'a' };
    assert (zshm_pub_send_begin (pub, "gamma", 5, sizeof bad, "zshm.test.Sample") == 0);
    assert (zshm_pub_send_write (pub, bad, sizeof bad) == 0);
    assert (zshm_pub_send_end (pub) == 0);
    assert (zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic) == NULL);
    assert (errno == EPROTO);
    assert (zshm_sub_proto_errors (sub) == 2);

    //  Raw bytes without a type name: EPROTO, unless untyped is allowed.
    s_sample_t small;
    s_sample_init (&small);
    small.count = 7;
    uint8_t packed [16];
    size_t size = protobuf_c_message_pack (&small.base, packed);
    assert (zshm_pub_send (pub, "delta", packed, size) == 0);
    assert (zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic) == NULL);
    assert (errno == EPROTO);
    assert (zshm_sub_proto_errors (sub) == 3);
    assert (zshm_sub_set_proto_untyped (sub, true) == 0);
    assert (zshm_pub_send (pub, "delta", packed, size) == 0);
    got = (s_sample_t *) zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic);
    assert (got && got->count == 7 && streq (topic, "delta"));
    assert (zshm_sub_set_proto_untyped (sub, false) == 0);

    //  Three frames is not [topic][payload].
    const void *frames [3] = { "eps", packed, packed };
    size_t sizes [3] = { 3, size, size };
    assert (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
    assert (zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic) == NULL);
    assert (errno == EPROTO);
    assert (zshm_sub_proto_errors (sub) == 4);

    //  Nothing more: the timeout is reported as zshm_sub_recv reports it.
    zshm_sub_set_rcvtimeo (sub, 0);
    assert (zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic) == NULL);
    assert (errno == EAGAIN);
    assert (zshm_sub_proto_errors (sub) == 4);

    //  A limit too small for the message: ENOMEM, counted; then fine again.
    zshm_sub_set_rcvtimeo (sub, 5000);
    assert (zshm_sub_set_proto_limit (sub, 256) == 0);
    assert (zshm_pub_send_proto (pub, "zeta", &sample.base) == 0);
    assert (zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic) == NULL);
    assert (errno == ENOMEM);
    assert (zshm_sub_proto_errors (sub) == 5);
    assert (zshm_sub_set_proto_limit (sub, 0) == 0);
    assert (zshm_pub_send_proto (pub, "zeta", &sample.base) == 0);
    got = (s_sample_t *) zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic);
    assert (got && got->n_values == 200 && streq (topic, "zeta"));

    //  NULL topic is "".
    assert (zshm_pub_send_proto (pub, NULL, &small.base) == 0);
    got = (s_sample_t *) zshm_sub_recv_proto (sub, &s_sample_descriptor, &topic);
    assert (got && got->count == 7 && streq (topic, ""));

    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);
}

void
zshm_proto_test (bool verbose)
{
    printf (" * zshm_proto: ");
    if (verbose)
        printf ("\n");
    s_test_arena (verbose);
    s_test_unpack (verbose);
    s_test_pubsub (verbose);
    printf ("OK\n");
}
