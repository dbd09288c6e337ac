/*  =========================================================================
    zshm_pbdecode - print protobuf bytes without generated code

    See zshm_pbdecode.h.  Two halves: a schema (messages, fields, enums)
    filled from protobuf-c descriptors or from a FileDescriptorSet parsed
    here by hand, and a printer that walks wire-format bytes.  Both parse
    with one bounded reader, s_next: every varint is at most ten bytes,
    every length is checked against what is left, groups nest at most
    ZSHM_PBDECODE_DEPTH_MAX deep, and any violation is EPROTO.

    The printer reads a message once to index its fields (s_index), sorts
    the index by field and wire order, then prints from it: scalars take
    their last value, sub-messages merge all their occurrences (protobuf's
    semantics, done by concatenating the occurrences, which is what
    parsing them in turn would do), repeated fields print every value,
    packed or not.  It writes into a memory stream and copies that out only
    when the whole message parsed, so a bad message prints nothing.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "zshm_pbdecode.h"
#include "zshm_fastgen.h"
#include "zshm_toolutil.h"

//  descriptor.proto's FieldDescriptorProto.Type
enum {
    T_NONE = 0, T_DOUBLE = 1, T_FLOAT = 2, T_INT64 = 3, T_UINT64 = 4, T_INT32 = 5,
    T_FIXED64 = 6, T_FIXED32 = 7, T_BOOL = 8, T_STRING = 9, T_GROUP = 10,
    T_MESSAGE = 11, T_BYTES = 12, T_UINT32 = 13, T_ENUM = 14, T_SFIXED32 = 15,
    T_SFIXED64 = 16, T_SINT32 = 17, T_SINT64 = 18
};

//  Wire types
enum { W_VARINT = 0, W_FIXED64 = 1, W_LEN = 2, W_START = 3, W_END = 4, W_FIXED32 = 5 };

//  How many levels of "is this string a message?" guesses unknown fields
//  get, as protoc's text printer allows.
#define S_GUESS_BUDGET 10

//  Most fields indexed in one message before we give up (ENOMEM): bounds
//  what a hostile message can make us allocate.
#define S_INDEX_MAX (4u * 1024 * 1024)

//  Largest field number (29 bits).
#define S_NUMBER_MAX 536870911u

typedef struct {
    char *name;                     //  value name, e.g. "VENUE_XNAS"
    int32_t number;                 //  its number
} s_enum_value_t;

typedef struct {
    char *full_name;                //  e.g. "zshm.market.Venue"
    s_enum_value_t *values;         //  in declaration order
    size_t count;                   //  entries in values
    uint64_t order;                 //  when it was added, for first-wins
} s_enum_t;

typedef struct _s_message_t s_message_t;

typedef struct {
    char *name;                     //  field name as in the .proto
    uint32_t number;                //  field number
    int type;                       //  T_* as printed (resolved, see s_finish)
    int declared_type;              //  T_* as declared; T_NONE for a bare type name
    size_t declared;                //  position in its message's declaration
    bool repeated;                  //  label repeated
    bool implicit;                  //  proto3 singular scalar: a zero is absent
    char *type_name;                //  message or enum type, full name, or NULL
    const s_message_t *message;     //  resolved message type, or NULL
    const s_enum_t *enumeration;    //  resolved enum type, or NULL
} s_field_t;

struct _s_message_t {
    char *full_name;                //  e.g. "zshm.market.Tick"
    const char *short_name;         //  last component (groups print under it)
    s_field_t *fields;              //  sorted by number, numbers unique
    size_t count;                   //  entries in fields
    bool map_entry;                 //  a map<K,V> field's entry type
    uint64_t order;                 //  when it was added, for first-wins
};

struct _zshm_pbdecode_t {
    s_message_t **messages;         //  sorted by name up to sorted_messages
    size_t message_count;           //  entries in messages
    size_t message_limit;           //  room in messages
    size_t sorted_messages;         //  prefix sorted and deduplicated
    s_enum_t **enums;               //  sorted by name up to sorted_enums
    size_t enum_count;              //  entries in enums
    size_t enum_limit;              //  room in enums
    size_t sorted_enums;            //  prefix sorted and deduplicated
    uint64_t order;                 //  next addition's order
};

//  --------------------------------------------------------------------------
//  Wire reading, shared by the descriptor parser and the printer

typedef struct {
    const uint8_t *data;            //  bytes being read
    size_t size;                    //  their length
    size_t offset;                  //  next byte to read
} s_wire_t;

//  One field as it appears on the wire.
typedef struct {
    uint32_t number;                //  field number
    int wire;                       //  wire type (W_END for an end-group tag)
    uint64_t value;                 //  varint, fixed32 or fixed64 value
    const uint8_t *data;            //  length-delimited or group contents
    size_t size;                    //  their length
} s_item_t;

//  A varint (zshm_fastgen.h: at most ten bytes, bits past the 64th dropped,
//  as protobuf's own parser does); -1 if cut short or longer.
static int
s_varint (s_wire_t *wire, uint64_t *value_p)
{
    if (wire->offset >= wire->size)
        return -1;
    const uint8_t *at = wire->data + wire->offset;
    if (!zshm_varint_get (&at, wire->data + wire->size, value_p))
        return -1;
    wire->offset = (size_t) (at - wire->data);
    return 0;
}

static uint64_t
s_little_endian (const uint8_t *bytes, int count)
{
    uint64_t value = 0;
    for (int index = count - 1; index >= 0; index--)
        value = value << 8 | bytes [index];
    return value;
}

static int s_skip_group (s_wire_t *wire, uint32_t number, int depth, size_t *end_p);

//  Read the next field.  Returns 1 with *item filled (an end-group tag is
//  returned as an item of wire type W_END), 0 at the end of the bytes, or
//  -1 if the bytes are not wire format.  A group is read whole: its
//  contents are item->data/size.
static int
s_next (s_wire_t *wire, s_item_t *item, int depth)
{
    if (wire->offset >= wire->size)
        return 0;
    //  A tag is the low 32 bits of its varint, as protobuf's parser reads it.
    uint64_t wide_tag;
    if (s_varint (wire, &wide_tag))
        return -1;
    uint32_t tag = (uint32_t) wide_tag;
    if ((tag >> 3) == 0)
        return -1;
    memset (item, 0, sizeof *item);
    item->number = (uint32_t) (tag >> 3);
    item->wire = (int) (tag & 7);
    size_t left = wire->size - wire->offset;
    switch (item->wire) {
        case W_VARINT:
            return s_varint (wire, &item->value) ? -1 : 1;
        case W_FIXED64:
            if (left < 8)
                return -1;
            item->value = s_little_endian (wire->data + wire->offset, 8);
            wire->offset += 8;
            return 1;
        case W_FIXED32:
            if (left < 4)
                return -1;
            item->value = s_little_endian (wire->data + wire->offset, 4);
            wire->offset += 4;
            return 1;
        case W_LEN: {
            //  Like the tag, a length is the low 32 bits of its varint.
            uint64_t wide_length;
            if (s_varint (wire, &wide_length))
                return -1;
            uint32_t length = (uint32_t) wide_length;
            if (length > wire->size - wire->offset)
                return -1;
            item->data = wire->data + wire->offset;
            item->size = (size_t) length;
            wire->offset += (size_t) length;
            return 1;
        }
        case W_START: {
            size_t start = wire->offset, end;
            if (s_skip_group (wire, item->number, depth + 1, &end))
                return -1;
            item->data = wire->data + start;
            item->size = end - start;
            return 1;
        }
        case W_END:
            return 1;
        default:
            return -1;
    }
}

//  Skip a group's contents up to its matching end tag, which must come.
static int
s_skip_group (s_wire_t *wire, uint32_t number, int depth, size_t *end_p)
{
    if (depth > ZSHM_PBDECODE_DEPTH_MAX)
        return -1;
    while (true) {
        size_t before = wire->offset;
        s_item_t item;
        if (s_next (wire, &item, depth) != 1)
            return -1;
        if (item.wire == W_END) {
            if (item.number != number)
                return -1;
            *end_p = before;
            return 0;
        }
    }
}

//  True if the bytes are a whole message in wire format (groups included;
//  the insides of length-delimited fields are not examined).
static bool
s_parses (const uint8_t *data, size_t size, int depth)
{
    if (depth > ZSHM_PBDECODE_DEPTH_MAX)
        return false;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while ((rc = s_next (&wire, &item, depth)) == 1)
        if (item.wire == W_END)
            return false;
    return rc == 0;
}

//  --------------------------------------------------------------------------
//  The schema

static void
s_message_free (s_message_t *message)
{
    if (!message)
        return;
    for (size_t index = 0; index < message->count; index++) {
        free (message->fields [index].name);
        free (message->fields [index].type_name);
    }
    free (message->fields);
    free (message->full_name);
    free (message);
}

static void
s_enum_free (s_enum_t *enumeration)
{
    if (!enumeration)
        return;
    for (size_t index = 0; index < enumeration->count; index++)
        free (enumeration->values [index].name);
    free (enumeration->values);
    free (enumeration->full_name);
    free (enumeration);
}

zshm_pbdecode_t *
zshm_pbdecode_new (void)
{
    zshm_pbdecode_t *self = (zshm_pbdecode_t *) calloc (1, sizeof (zshm_pbdecode_t));
    if (!self)
        errno = ENOMEM;
    return self;
}

void
zshm_pbdecode_destroy (zshm_pbdecode_t **self_p)
{
    assert (self_p);
    zshm_pbdecode_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->message_count; index++)
        s_message_free (self->messages [index]);
    for (size_t index = 0; index < self->enum_count; index++)
        s_enum_free (self->enums [index]);
    free (self->messages);
    free (self->enums);
    free (self);
    *self_p = NULL;
}

static int
s_add_message (zshm_pbdecode_t *self, s_message_t *message)
{
    if (self->message_count == self->message_limit) {
        size_t limit = self->message_limit ? self->message_limit * 2 : 32;
        s_message_t **grown = (s_message_t **) realloc (self->messages,
                                                        limit * sizeof *grown);
        if (!grown)
            return -1;
        self->messages = grown;
        self->message_limit = limit;
    }
    message->order = self->order++;
    const char *dot = strrchr (message->full_name, '.');
    message->short_name = dot ? dot + 1 : message->full_name;
    self->messages [self->message_count++] = message;
    return 0;
}

static int
s_add_enum (zshm_pbdecode_t *self, s_enum_t *enumeration)
{
    if (self->enum_count == self->enum_limit) {
        size_t limit = self->enum_limit ? self->enum_limit * 2 : 32;
        s_enum_t **grown = (s_enum_t **) realloc (self->enums, limit * sizeof *grown);
        if (!grown)
            return -1;
        self->enums = grown;
        self->enum_limit = limit;
    }
    enumeration->order = self->order++;
    self->enums [self->enum_count++] = enumeration;
    return 0;
}

static int
s_message_compare (const void *left, const void *right)
{
    const s_message_t *a = *(const s_message_t *const *) left;
    const s_message_t *b = *(const s_message_t *const *) right;
    int rc = strcmp (a->full_name, b->full_name);
    return rc ? rc : a->order < b->order ? -1 : a->order > b->order;
}

static int
s_enum_compare (const void *left, const void *right)
{
    const s_enum_t *a = *(const s_enum_t *const *) left;
    const s_enum_t *b = *(const s_enum_t *const *) right;
    int rc = strcmp (a->full_name, b->full_name);
    return rc ? rc : a->order < b->order ? -1 : a->order > b->order;
}

//  Find the item called `name` in items [0, count), of which the first
//  `sorted` are in name order (types added since the last s_finish are
//  not sorted yet).  Messages and enums both start with their full name,
//  so each item is read through a pointer to that first member.
_Static_assert (offsetof (s_message_t, full_name) == 0, "s_find_named reads the name first");
_Static_assert (offsetof (s_enum_t, full_name) == 0, "s_find_named reads the name first");

static const void *
s_find_named (void *const *items, size_t sorted, size_t count, const char *name)
{
    size_t low = 0, high = sorted;
    while (low < high) {
        size_t middle = (low + high) / 2;
        int rc = strcmp (*(const char *const *) items [middle], name);
        if (rc == 0)
            return items [middle];
        if (rc < 0)
            low = middle + 1;
        else
            high = middle;
    }
    for (size_t index = sorted; index < count; index++)
        if (strcmp (*(const char *const *) items [index], name) == 0)
            return items [index];
    return NULL;
}

static const s_message_t *
s_find_message (const zshm_pbdecode_t *self, const char *name)
{
    return (const s_message_t *) s_find_named ((void *const *) self->messages,
                                               self->sorted_messages, self->message_count, name);
}

static const s_enum_t *
s_find_enum (const zshm_pbdecode_t *self, const char *name)
{
    return (const s_enum_t *) s_find_named ((void *const *) self->enums, self->sorted_enums,
                                            self->enum_count, name);
}

//  Sort by name, drop later definitions of a name (first wins), and
//  resolve every field's type name.
static void
s_finish (zshm_pbdecode_t *self)
{
    if (self->message_count)
        qsort (self->messages, self->message_count, sizeof *self->messages, s_message_compare);
    size_t kept = 0;
    for (size_t index = 0; index < self->message_count; index++) {
        if (kept && strcmp (self->messages [kept - 1]->full_name,
                            self->messages [index]->full_name) == 0)
            s_message_free (self->messages [index]);
        else
            self->messages [kept++] = self->messages [index];
    }
    self->message_count = self->sorted_messages = kept;

    if (self->enum_count)
        qsort (self->enums, self->enum_count, sizeof *self->enums, s_enum_compare);
    kept = 0;
    for (size_t index = 0; index < self->enum_count; index++) {
        if (kept && strcmp (self->enums [kept - 1]->full_name,
                            self->enums [index]->full_name) == 0)
            s_enum_free (self->enums [index]);
        else
            self->enums [kept++] = self->enums [index];
    }
    self->enum_count = self->sorted_enums = kept;

    for (size_t index = 0; index < self->message_count; index++) {
        s_message_t *message = self->messages [index];
        for (size_t field_index = 0; field_index < message->count; field_index++) {
            s_field_t *field = &message->fields [field_index];
            if (!field->type_name)
                continue;
            //  Descriptor sets name types fully qualified, with a dot.
            const char *name = field->type_name [0] == '.' ? field->type_name + 1
                                                           : field->type_name;
            int declared = field->declared_type;
            field->message = NULL;
            field->enumeration = NULL;
            if (declared == T_MESSAGE || declared == T_GROUP || declared == T_NONE)
                field->message = s_find_message (self, name);
            if (!field->message && (declared == T_ENUM || declared == T_NONE))
                field->enumeration = s_find_enum (self, name);
            //  A message type we do not have prints as bytes (a group's
            //  contents print raw); an unknown enum prints numbers.
            field->type = declared;
            if (declared == T_NONE)
                field->type = field->message ? T_MESSAGE
                            : field->enumeration ? T_ENUM : T_BYTES;
            else
            if (declared == T_MESSAGE && !field->message)
                field->type = T_BYTES;
        }
    }
}

static int
s_field_compare (const void *left, const void *right)
{
    const s_field_t *a = (const s_field_t *) left;
    const s_field_t *b = (const s_field_t *) right;
    if (a->number != b->number)
        return a->number < b->number ? -1 : 1;
    return a->declared < b->declared ? -1 : a->declared > b->declared;
}

//  Sort a message's fields by number and drop repeated numbers (a hostile
//  descriptor could declare two; the first stays).
static void
s_sort_fields (s_message_t *message)
{
    if (message->count == 0)
        return;
    for (size_t index = 0; index < message->count; index++)
        message->fields [index].declared = index;
    qsort (message->fields, message->count, sizeof *message->fields, s_field_compare);
    size_t kept = 1;
    for (size_t index = 1; index < message->count; index++) {
        if (message->fields [index].number == message->fields [kept - 1].number) {
            free (message->fields [index].name);
            free (message->fields [index].type_name);
        }
        else
            message->fields [kept++] = message->fields [index];
    }
    message->count = kept;
}

//  protobuf-c's types to descriptor.proto's.
static int
s_type_of_protobuf_c (ProtobufCType type)
{
    switch (type) {
        case PROTOBUF_C_TYPE_INT32:    return T_INT32;
        case PROTOBUF_C_TYPE_SINT32:   return T_SINT32;
        case PROTOBUF_C_TYPE_SFIXED32: return T_SFIXED32;
        case PROTOBUF_C_TYPE_INT64:    return T_INT64;
        case PROTOBUF_C_TYPE_SINT64:   return T_SINT64;
        case PROTOBUF_C_TYPE_SFIXED64: return T_SFIXED64;
        case PROTOBUF_C_TYPE_UINT32:   return T_UINT32;
        case PROTOBUF_C_TYPE_FIXED32:  return T_FIXED32;
        case PROTOBUF_C_TYPE_UINT64:   return T_UINT64;
        case PROTOBUF_C_TYPE_FIXED64:  return T_FIXED64;
        case PROTOBUF_C_TYPE_FLOAT:    return T_FLOAT;
        case PROTOBUF_C_TYPE_DOUBLE:   return T_DOUBLE;
        case PROTOBUF_C_TYPE_BOOL:     return T_BOOL;
        case PROTOBUF_C_TYPE_ENUM:     return T_ENUM;
        case PROTOBUF_C_TYPE_STRING:   return T_STRING;
        case PROTOBUF_C_TYPE_BYTES:    return T_BYTES;
        case PROTOBUF_C_TYPE_MESSAGE:  return T_MESSAGE;
    }
    return T_BYTES;
}

static int
s_add_protobuf_c_enum (zshm_pbdecode_t *self, const ProtobufCEnumDescriptor *descriptor)
{
    if (s_find_enum (self, descriptor->name))
        return 0;
    s_enum_t *enumeration = (s_enum_t *) calloc (1, sizeof (s_enum_t));
    if (!enumeration)
        return -1;
    enumeration->full_name = strdup (descriptor->name);
    enumeration->values = (s_enum_value_t *)
        calloc (descriptor->n_values ? descriptor->n_values : 1, sizeof (s_enum_value_t));
    if (!enumeration->full_name || !enumeration->values)
        goto failed;
    for (unsigned index = 0; index < descriptor->n_values; index++) {
        s_enum_value_t *value = &enumeration->values [enumeration->count];
        value->name = strdup (descriptor->values [index].name);
        if (!value->name)
            goto failed;
        value->number = descriptor->values [index].value;
        enumeration->count++;
    }
    if (s_add_enum (self, enumeration))
        goto failed;
    return 0;
failed:
    s_enum_free (enumeration);
    return -1;
}

static int
s_add_protobuf_c (zshm_pbdecode_t *self, const ProtobufCMessageDescriptor *descriptor)
{
    if (s_find_message (self, descriptor->name))
        return 0;               //  known, or being added (recursive types)
    s_message_t *message = (s_message_t *) calloc (1, sizeof (s_message_t));
    if (!message)
        return -1;
    message->full_name = strdup (descriptor->name);
    message->fields = (s_field_t *)
        calloc (descriptor->n_fields ? descriptor->n_fields : 1, sizeof (s_field_t));
    if (!message->full_name || !message->fields) {
        s_message_free (message);
        return -1;
    }
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *source = &descriptor->fields [index];
        s_field_t *field = &message->fields [message->count];
        field->name = strdup (source->name);
        if (!field->name) {
            s_message_free (message);
            return -1;
        }
        message->count++;
        field->number = source->id;
        field->type = field->declared_type = s_type_of_protobuf_c (source->type);
        field->repeated = source->label == PROTOBUF_C_LABEL_REPEATED;
        field->implicit = source->label == PROTOBUF_C_LABEL_NONE
                       && !(source->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                       && field->type != T_MESSAGE;
        if (field->type == T_MESSAGE && source->descriptor)
            field->type_name = strdup (((const ProtobufCMessageDescriptor *)
                                        source->descriptor)->name);
        else
        if (field->type == T_ENUM && source->descriptor)
            field->type_name = strdup (((const ProtobufCEnumDescriptor *)
                                        source->descriptor)->name);
        if ((field->type == T_MESSAGE || field->type == T_ENUM) && !field->type_name) {
            s_message_free (message);
            return -1;
        }
    }
    s_sort_fields (message);
    //  Add before recursing, so that a type referring to itself stops here.
    if (s_add_message (self, message)) {
        s_message_free (message);
        return -1;
    }
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *source = &descriptor->fields [index];
        int rc = 0;
        if (source->type == PROTOBUF_C_TYPE_MESSAGE && source->descriptor)
            rc = s_add_protobuf_c (self, (const ProtobufCMessageDescriptor *) source->descriptor);
        else
        if (source->type == PROTOBUF_C_TYPE_ENUM && source->descriptor)
            rc = s_add_protobuf_c_enum (self, (const ProtobufCEnumDescriptor *) source->descriptor);
        if (rc)
            return -1;
    }
    return 0;
}

int
zshm_pbdecode_add_protobuf_c (zshm_pbdecode_t *self, const ProtobufCMessageDescriptor *descriptor)
{
    assert (self && descriptor);
    int rc = s_add_protobuf_c (self, descriptor);
    s_finish (self);
    if (rc)
        errno = ENOMEM;
    return rc;
}

//  --------------------------------------------------------------------------
//  FileDescriptorSet parsing (descriptor.proto, the parts a printer needs)

//  State of one descriptor set load.
typedef struct {
    zshm_pbdecode_t *self;          //  where types go
    char *error;                    //  reason buffer, or NULL
    size_t error_size;              //  its size
    int errno_value;                //  errno to fail with
} s_loader_t;

static int
s_load_fail (s_loader_t *loader, int error, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static int
s_load_fail (s_loader_t *loader, int error, const char *format, ...)
{
    if (loader->error && loader->error_size && !*loader->error) {
        va_list args;
        va_start (args, format);
        vsnprintf (loader->error, loader->error_size, format, args);
        va_end (args);
    }
    loader->errno_value = error;
    return -1;
}

//  A copy of a length-delimited string field; NULL on ENOMEM.
static char *
s_string (const s_item_t *item)
{
    return strndup ((const char *) item->data, item->size);
}

//  Join scope and name with a dot.
static char *
s_join (const char *scope, const char *name)
{
    char *joined = NULL;
    if (*scope ? asprintf (&joined, "%s.%s", scope, name) < 0
               : !(joined = strdup (name)))
        return NULL;
    return joined;
}

static int
s_load_enum (s_loader_t *loader, const uint8_t *data, size_t size, const char *scope)
{
    s_enum_t *enumeration = (s_enum_t *) calloc (1, sizeof (s_enum_t));
    if (!enumeration)
        return s_load_fail (loader, ENOMEM, "out of memory");
    char *name = NULL;
    size_t limit = 0;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.number == 1 && item.wire == W_LEN) {
            free (name);
            if (!(name = s_string (&item)))
                goto oom;
        }
        else
        if (item.number == 2 && item.wire == W_LEN) {
            //  EnumValueDescriptorProto: name 1, number 2.
            char *value_name = NULL;
            int32_t number = 0;
            s_wire_t inner = { item.data, item.size, 0 };
            s_item_t field;
            int inner_rc;
            while ((inner_rc = s_next (&inner, &field, 0)) == 1) {
                if (field.number == 1 && field.wire == W_LEN) {
                    free (value_name);
                    if (!(value_name = s_string (&field)))
                        goto oom;
                }
                else
                if (field.number == 2 && field.wire == W_VARINT)
                    number = (int32_t) (uint32_t) field.value;
            }
            if (inner_rc < 0 || !value_name) {
                free (value_name);
                free (name);
                s_enum_free (enumeration);
                return s_load_fail (loader, EPROTO, "malformed enum value");
            }
            if (enumeration->count == limit) {
                limit = limit ? limit * 2 : 8;
                s_enum_value_t *grown = (s_enum_value_t *)
                    realloc (enumeration->values, limit * sizeof *grown);
                if (!grown) {
                    free (value_name);
                    goto oom;
                }
                enumeration->values = grown;
            }
            enumeration->values [enumeration->count].name = value_name;
            enumeration->values [enumeration->count].number = number;
            enumeration->count++;
        }
    }
    if (rc < 0 || !name || !*name) {
        free (name);
        s_enum_free (enumeration);
        return s_load_fail (loader, EPROTO, "malformed enum");
    }
    enumeration->full_name = s_join (scope, name);
    free (name);
    if (!enumeration->full_name || s_add_enum (loader->self, enumeration)) {
        s_enum_free (enumeration);
        return s_load_fail (loader, ENOMEM, "out of memory");
    }
    return 0;
oom:
    free (name);
    s_enum_free (enumeration);
    return s_load_fail (loader, ENOMEM, "out of memory");
}

//  FieldDescriptorProto into *field.  Returns 0, or -1.
static int
s_load_field (s_loader_t *loader, const uint8_t *data, size_t size, bool proto3,
              s_field_t *field)
{
    memset (field, 0, sizeof *field);
    uint64_t number = 0, label = 1, type = 0;
    bool in_oneof = false;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.wire == W_LEN && (item.number == 1 || item.number == 6)) {
            char **target = item.number == 1 ? &field->name : &field->type_name;
            free (*target);
            if (!(*target = s_string (&item)))
                return s_load_fail (loader, ENOMEM, "out of memory");
        }
        else
        if (item.wire == W_VARINT && item.number == 3)
            number = item.value;
        else
        if (item.wire == W_VARINT && item.number == 4)
            label = item.value;
        else
        if (item.wire == W_VARINT && item.number == 5)
            type = item.value;
        else
        if (item.wire == W_VARINT && item.number == 9)
            in_oneof = true;        //  a real or proto3-optional oneof
    }
    if (rc < 0 || !field->name || !*field->name)
        return s_load_fail (loader, EPROTO, "malformed field");
    if (number < 1 || number > S_NUMBER_MAX)
        return s_load_fail (loader, EPROTO, "field %s has number %" PRIu64 " out of range",
                            field->name, number);
    if (type > T_SINT64 || ((type == T_NONE || type == T_MESSAGE || type == T_ENUM
                             || type == T_GROUP) && !field->type_name))
        return s_load_fail (loader, EPROTO, "field %s has a bad type", field->name);
    if (label < 1 || label > 3)
        return s_load_fail (loader, EPROTO, "field %s has a bad label", field->name);
    field->number = (uint32_t) number;
    field->type = field->declared_type = (int) type;
    field->repeated = label == 3;
    field->implicit = proto3 && !field->repeated && !in_oneof
                   && type != T_MESSAGE && type != T_GROUP && type != T_NONE;
    return 0;
}

static int
s_load_message (s_loader_t *loader, const uint8_t *data, size_t size, const char *scope,
                bool proto3, int depth)
{
    if (depth > 64)
        return s_load_fail (loader, EPROTO, "message types nest too deep");
    //  First pass: the name, the field count, and options.map_entry.
    char *name = NULL;
    size_t fields = 0;
    bool map_entry = false;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.number == 1 && item.wire == W_LEN) {
            free (name);
            if (!(name = s_string (&item)))
                return s_load_fail (loader, ENOMEM, "out of memory");
        }
        else
        if (item.number == 2 && item.wire == W_LEN)
            fields++;
        else
        if (item.number == 7 && item.wire == W_LEN) {
            //  MessageOptions: map_entry is field 7.
            s_wire_t options = { item.data, item.size, 0 };
            s_item_t option;
            while (s_next (&options, &option, 0) == 1)
                if (option.number == 7 && option.wire == W_VARINT)
                    map_entry = option.value != 0;
        }
    }
    if (rc < 0 || !name || !*name) {
        free (name);
        return s_load_fail (loader, EPROTO, "malformed message type");
    }
    s_message_t *message = (s_message_t *) calloc (1, sizeof (s_message_t));
    char *full_name = s_join (scope, name);
    free (name);
    if (!message || !full_name
    ||  !(message->fields = (s_field_t *) calloc (fields ? fields : 1, sizeof (s_field_t)))) {
        free (full_name);
        s_message_free (message);
        return s_load_fail (loader, ENOMEM, "out of memory");
    }
    message->full_name = full_name;
    message->map_entry = map_entry;

    //  Second pass: fields, nested messages and enums.
    wire.offset = 0;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.wire != W_LEN)
            continue;
        int failed = 0;
        if (item.number == 2 && message->count < fields) {
            failed = s_load_field (loader, item.data, item.size, proto3,
                                   &message->fields [message->count]);
            message->count++;       //  so that a failure frees its strings
        }
        else
        if (item.number == 3)
            failed = s_load_message (loader, item.data, item.size, full_name, proto3,
                                     depth + 1);
        else
        if (item.number == 4)
            failed = s_load_enum (loader, item.data, item.size, full_name);
        if (failed) {
            s_message_free (message);
            return -1;
        }
    }
    s_sort_fields (message);
    if (s_add_message (loader->self, message)) {
        s_message_free (message);
        return s_load_fail (loader, ENOMEM, "out of memory");
    }
    return 0;
}

static int
s_load_file_proto (s_loader_t *loader, const uint8_t *data, size_t size)
{
    //  The package and syntax may come after the types: read them first.
    char *package = NULL;
    bool proto3 = false;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.number == 2 && item.wire == W_LEN) {
            free (package);
            if (!(package = s_string (&item)))
                return s_load_fail (loader, ENOMEM, "out of memory");
        }
        else
        if (item.number == 12 && item.wire == W_LEN)
            proto3 = item.size == 6 && memcmp (item.data, "proto3", 6) == 0;
    }
    if (rc < 0) {
        free (package);
        return s_load_fail (loader, EPROTO, "malformed file descriptor");
    }
    wire.offset = 0;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        int failed = 0;
        if (item.number == 4 && item.wire == W_LEN)
            failed = s_load_message (loader, item.data, item.size, package ? package : "",
                                     proto3, 0);
        else
        if (item.number == 5 && item.wire == W_LEN)
            failed = s_load_enum (loader, item.data, item.size, package ? package : "");
        if (failed) {
            free (package);
            return -1;
        }
    }
    free (package);
    return 0;
}

int
zshm_pbdecode_load_set (zshm_pbdecode_t *self, const void *data, size_t size,
                        char *error, size_t error_size)
{
    assert (self);
    s_loader_t loader = { self, error, error_size, 0 };
    if (error && error_size)
        *error = 0;
    s_wire_t wire = { (const uint8_t *) data, size, 0 };
    s_item_t item;
    int rc, files = 0, result = 0;
    while ((rc = s_next (&wire, &item, 0)) == 1) {
        if (item.number != 1 || item.wire != W_LEN) {
            result = s_load_fail (&loader, EPROTO, "not a FileDescriptorSet (field %u)",
                                  item.number);
            break;
        }
        if (s_load_file_proto (&loader, item.data, item.size)) {
            result = -1;
            break;
        }
        files++;
    }
    if (!result && rc < 0)
        result = s_load_fail (&loader, EPROTO, "not a FileDescriptorSet (bad wire format)");
    if (!result && files == 0)
        result = s_load_fail (&loader, EPROTO, "empty FileDescriptorSet");
    s_finish (self);
    if (result)
        errno = loader.errno_value;
    return result;
}

int
zshm_pbdecode_load_file (zshm_pbdecode_t *self, const char *path, char *error,
                         size_t error_size)
{
    assert (self && path);
    if (error && error_size)
        *error = 0;
    FILE *file = fopen (path, "rb");
    if (!file) {
        int saved = errno;
        if (error)
            snprintf (error, error_size, "%s: %s", path, strerror (saved));
        errno = saved;
        return -1;
    }
    struct stat st;
    if (fstat (fileno (file), &st) || !S_ISREG (st.st_mode)
    ||  st.st_size > ZSHM_PBDECODE_FILE_MAX) {
        int saved = S_ISREG (st.st_mode) ? EFBIG : EINVAL;
        if (error)
            snprintf (error, error_size, "%s: %s", path,
                      saved == EFBIG ? "too large for a descriptor set" : "not a regular file");
        fclose (file);
        errno = saved;
        return -1;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *data = (uint8_t *) malloc (size ? size : 1);
    if (!data || fread (data, 1, size, file) != size) {
        int saved = data ? EIO : ENOMEM;
        if (error)
            snprintf (error, error_size, "%s: %s", path, strerror (saved));
        free (data);
        fclose (file);
        errno = saved;
        return -1;
    }
    fclose (file);
    char reason [200] = "";
    int rc = zshm_pbdecode_load_set (self, data, size, reason, sizeof reason);
    int saved = errno;
    free (data);
    if (rc && error)
        snprintf (error, error_size, "%s: %s", path, reason);
    errno = saved;
    return rc;
}

bool
zshm_pbdecode_knows (zshm_pbdecode_t *self, const char *type_name)
{
    assert (self);
    return type_name && s_find_message (self, type_name) != NULL;
}

size_t
zshm_pbdecode_size (zshm_pbdecode_t *self)
{
    assert (self);
    return self->message_count;
}

//  --------------------------------------------------------------------------
//  Printing

//  State of one print.
typedef struct {
    FILE *out;                      //  the memory stream we print into
    bool json;                      //  JSON rather than text
    int indent;                     //  text: current indentation, spaces
} s_printer_t;

//  One indexed field: its key (field position in the message, or the
//  field number for raw/unknown printing), and where it starts.
typedef struct {
    uint32_t key;                   //  what we group and sort by
    uint32_t wire;                  //  its wire type
    size_t offset;                  //  offset of its tag (wire order)
} s_ref_t;

static int
s_ref_compare (const void *left, const void *right)
{
    const s_ref_t *a = (const s_ref_t *) left;
    const s_ref_t *b = (const s_ref_t *) right;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

//  Re-read the field at a ref.
static void
s_ref_item (const uint8_t *data, size_t size, const s_ref_t *ref, s_item_t *item, int depth)
{
    s_wire_t wire = { data, size, ref->offset };
    int rc = s_next (&wire, item, depth);
    assert (rc == 1);               //  it parsed when it was indexed
    (void) rc;
}

static void
s_indent (s_printer_t *p)
{
    fprintf (p->out, "%*s", p->indent, "");
}

//  Shortest text that reads back as the same value, as protoc prints.
static void
s_format_double (char *buffer, size_t size, double value)
{
    if (isnan (value))
        snprintf (buffer, size, "nan");
    else
    if (isinf (value))
        snprintf (buffer, size, value < 0 ? "-inf" : "inf");
    else {
        snprintf (buffer, size, "%.*g", DBL_DIG, value);
        if (strtod (buffer, NULL) != value)
            snprintf (buffer, size, "%.*g", DBL_DIG + 2, value);
    }
}

static void
s_format_float (char *buffer, size_t size, float value)
{
    if (isnan (value))
        snprintf (buffer, size, "nan");
    else
    if (isinf (value))
        snprintf (buffer, size, value < 0 ? "-inf" : "inf");
    else {
        snprintf (buffer, size, "%.*g", FLT_DIG, (double) value);
        if (strtof (buffer, NULL) != value)
            snprintf (buffer, size, "%.*g", FLT_DIG + 3, (double) value);
    }
}

static void
s_json_real (s_printer_t *p, const char *text, double value)
{
    if (isnan (value))
        fputs ("\"NaN\"", p->out);
    else
    if (isinf (value))
        fputs (value < 0 ? "\"-Infinity\"" : "\"Infinity\"", p->out);
    else
        fputs (text, p->out);
}

static int s_wire_of (int type);
static int s_print_message (s_printer_t *p, const s_message_t *message,
                            const uint8_t *data, size_t size, int depth, bool defaults);
static int s_print_raw (s_printer_t *p, const uint8_t *data, size_t size, int budget,
                        int depth);
static bool s_looks_like_message (const s_item_t *item, int budget);

static const char *
s_enum_name (const s_enum_t *enumeration, int32_t number)
{
    for (size_t index = 0; enumeration && index < enumeration->count; index++)
        if (enumeration->values [index].number == number)
            return enumeration->values [index].name;
    return NULL;
}

//  Print one scalar value of `field`: raw is the varint or fixed value,
//  data/size the bytes of a string.
static void
s_print_scalar (s_printer_t *p, const s_field_t *field, uint64_t raw,
                const uint8_t *data, size_t size)
{
    FILE *out = p->out;
    char buffer [64];
    switch (field->type) {
        case T_INT32:
        case T_SFIXED32:
            fprintf (out, "%" PRId32, (int32_t) (uint32_t) raw);
            break;
        case T_SINT32: {
            uint32_t zigzag = (uint32_t) raw;
            fprintf (out, "%" PRId32, (int32_t) ((zigzag >> 1) ^ (~(zigzag & 1) + 1)));
            break;
        }
        case T_UINT32:
        case T_FIXED32:
            fprintf (out, "%" PRIu32, (uint32_t) raw);
            break;
        case T_INT64:
        case T_SFIXED64:
            fprintf (out, p->json ? "\"%" PRId64 "\"" : "%" PRId64, (int64_t) raw);
            break;
        case T_SINT64:
            fprintf (out, p->json ? "\"%" PRId64 "\"" : "%" PRId64,
                     (int64_t) ((raw >> 1) ^ (~(raw & 1) + 1)));
            break;
        case T_UINT64:
        case T_FIXED64:
            fprintf (out, p->json ? "\"%" PRIu64 "\"" : "%" PRIu64, raw);
            break;
        case T_BOOL:
            fputs (raw ? "true" : "false", out);
            break;
        case T_FLOAT: {
            uint32_t bits = (uint32_t) raw;
            float value;
            memcpy (&value, &bits, sizeof value);
            s_format_float (buffer, sizeof buffer, value);
            if (p->json)
                s_json_real (p, buffer, value);
            else
                fputs (buffer, out);
            break;
        }
        case T_DOUBLE: {
            double value;
            memcpy (&value, &raw, sizeof value);
            s_format_double (buffer, sizeof buffer, value);
            if (p->json)
                s_json_real (p, buffer, value);
            else
                fputs (buffer, out);
            break;
        }
        case T_ENUM: {
            const char *name = s_enum_name (field->enumeration, (int32_t) (uint32_t) raw);
            if (name && p->json)
                zshm_tool_json_string (out, name, strlen (name));
            else
            if (name)
                fputs (name, out);
            else
                fprintf (out, "%" PRId32, (int32_t) (uint32_t) raw);
            break;
        }
        case T_STRING:
            if (p->json)
                zshm_tool_json_string (out, data, size);
            else {
                fputc ('"', out);
                zshm_tool_c_escape (out, data, size);
                fputc ('"', out);
            }
            break;
        default:                    //  bytes, and message types we do not know
            if (p->json) {
                fputc ('"', out);
                zshm_tool_base64 (out, data, size);
                fputc ('"', out);
            }
            else {
                fputc ('"', out);
                zshm_tool_c_escape (out, data, size);
                fputc ('"', out);
            }
    }
}

//  True if a singular proto3 value is its type's zero (and so absent).
static bool
s_is_zero (const s_field_t *field, uint64_t raw, size_t size)
{
    switch (s_wire_of (field->type)) {
        case W_LEN:
            return size == 0;
        case W_FIXED32:
            return (uint32_t) raw == 0;     //  -0.0f is present: compare bits
        default:
            return raw == 0;
    }
}

static int
s_wire_of (int type)
{
    switch (type) {
        case T_DOUBLE: case T_FIXED64: case T_SFIXED64:
            return W_FIXED64;
        case T_FLOAT: case T_FIXED32: case T_SFIXED32:
            return W_FIXED32;
        case T_STRING: case T_BYTES: case T_MESSAGE:
            return W_LEN;
        case T_GROUP:
            return W_START;
        case T_NONE:
            return -1;
        default:
            return W_VARINT;
    }
}

//  Does a field with this wire type belong to `field`?  Repeated numeric
//  fields also come packed (length-delimited).
static bool
s_matches (const s_field_t *field, int wire)
{
    int native = s_wire_of (field->type);
    if (wire == native)
        return true;
    return field->repeated && wire == W_LEN && (native == W_VARINT || native == W_FIXED32
                                                || native == W_FIXED64);
}

static const s_field_t *
s_field_by_number (const s_message_t *message, uint32_t number, size_t *index_p)
{
    size_t low = 0, high = message->count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        uint32_t found = message->fields [middle].number;
        if (found == number) {
            *index_p = middle;
            return &message->fields [middle];
        }
        if (found < number)
            low = middle + 1;
        else
            high = middle;
    }
    return NULL;
}

//  Index a message's fields: for a schema, key is the field's position in
//  the message (count for unknown fields); without one, the field number.
//  Returns a new array (caller frees) and its length, or NULL with errno.
static s_ref_t *
s_index (const s_message_t *message, const uint8_t *data, size_t size, int depth,
         size_t *count_p)
{
    size_t count = 0, limit = 0;
    s_ref_t *refs = NULL;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    int rc;
    while (true) {
        size_t offset = wire.offset;
        rc = s_next (&wire, &item, depth);
        if (rc <= 0 || item.wire == W_END)
            break;
        if (count == limit) {
            if (limit >= S_INDEX_MAX) {
                free (refs);
                errno = ENOMEM;
                return NULL;
            }
            limit = limit ? limit * 2 : 16;
            s_ref_t *grown = (s_ref_t *) realloc (refs, limit * sizeof *grown);
            if (!grown) {
                free (refs);
                errno = ENOMEM;
                return NULL;
            }
            refs = grown;
        }
        uint32_t key = item.number;
        if (message) {
            size_t position;
            const s_field_t *field = s_field_by_number (message, item.number, &position);
            key = field && s_matches (field, item.wire) ? (uint32_t) position
                                                        : (uint32_t) message->count;
        }
        refs [count].key = key;
        refs [count].wire = (uint32_t) item.wire;
        refs [count].offset = offset;
        count++;
    }
    if (rc < 0 || (rc == 1 && item.wire == W_END)) {
        free (refs);
        errno = EPROTO;
        return NULL;
    }
    if (count)
        qsort (refs, count, sizeof *refs, s_ref_compare);
    *count_p = count;
    return refs ? refs : (s_ref_t *) calloc (1, sizeof (s_ref_t));
}

//  Print the packed values in data as elements of `field`: a line each in
//  text, comma-separated in JSON.  Returns 0, or -1 (EPROTO) if malformed.
static int
s_print_packed (s_printer_t *p, const s_field_t *field, const uint8_t *data, size_t size,
                bool *first)
{
    int native = s_wire_of (field->type);
    size_t width = native == W_FIXED32 ? 4 : native == W_FIXED64 ? 8 : 0;
    if (width && size % width) {
        errno = EPROTO;
        return -1;
    }
    s_wire_t wire = { data, size, 0 };
    while (wire.offset < size) {
        uint64_t raw;
        if (width) {
            raw = s_little_endian (data + wire.offset, (int) width);
            wire.offset += width;
        }
        else
        if (s_varint (&wire, &raw)) {
            errno = EPROTO;
            return -1;
        }
        if (p->json) {
            if (!*first)
                fputc (',', p->out);
        }
        else {
            s_indent (p);
            fprintf (p->out, "%s: ", field->name);
        }
        *first = false;
        s_print_scalar (p, field, raw, NULL, 0);
        if (!p->json)
            fputc ('\n', p->out);
    }
    return 0;
}

//  Concatenate the contents of refs [0, count) (occurrences of one
//  sub-message field): parsing the concatenation is protobuf's merge.
//  Returns a new buffer (caller frees; never NULL on success) or NULL.
static uint8_t *
s_concatenate (const uint8_t *data, size_t size, const s_ref_t *refs, size_t count,
               int depth, size_t *size_p)
{
    size_t total = 0;
    s_item_t item;
    for (size_t index = 0; index < count; index++) {
        s_ref_item (data, size, &refs [index], &item, depth);
        total += item.size;         //  each within `size`, so no overflow
    }
    uint8_t *merged = (uint8_t *) malloc (total ? total : 1);
    if (!merged) {
        errno = ENOMEM;
        return NULL;
    }
    size_t offset = 0;
    for (size_t index = 0; index < count; index++) {
        s_ref_item (data, size, &refs [index], &item, depth);
        if (item.size)
            memcpy (merged + offset, item.data, item.size);
        offset += item.size;
    }
    *size_p = total;
    return merged;
}

//  Print a nested message value (text: "name {" ... "}" lines; JSON: an
//  object).  `name` is NULL in JSON arrays.
static int
s_print_nested (s_printer_t *p, const s_field_t *field, const char *name,
                const uint8_t *data, size_t size, int depth, bool defaults)
{
    if (!p->json) {
        s_indent (p);
        fprintf (p->out, "%s {\n", name);
        p->indent += 2;
    }
    int rc = field->message
           ? s_print_message (p, field->message, data, size, depth + 1, defaults)
           : s_print_raw (p, data, size, S_GUESS_BUDGET, depth + 1);
    if (rc)
        return rc;
    if (!p->json) {
        p->indent -= 2;
        s_indent (p);
        fputs ("}\n", p->out);
    }
    return 0;
}

//  A map entry's key, for sorting entries as protoc does.
typedef struct {
    size_t ref;                     //  which ref (entry) this is
    uint64_t number;                //  integer or bool key, decoded for sorting
    uint64_t raw;                   //  its value as on the wire, for printing
    const uint8_t *text;            //  string key
    size_t size;                    //  its length
} s_map_key_t;

static int
s_map_key_compare (const void *left, const void *right, void *context)
{
    const s_map_key_t *a = (const s_map_key_t *) left;
    const s_map_key_t *b = (const s_map_key_t *) right;
    int s_key_type = *(const int *) context;
    int rc = 0;
    if (s_key_type == T_STRING) {
        size_t common = a->size < b->size ? a->size : b->size;
        rc = common ? memcmp (a->text, b->text, common) : 0;
        if (!rc)
            rc = a->size < b->size ? -1 : a->size > b->size;
    }
    else
    if (s_key_type == T_INT32 || s_key_type == T_SINT32 || s_key_type == T_SFIXED32
    ||  s_key_type == T_INT64 || s_key_type == T_SINT64 || s_key_type == T_SFIXED64) {
        int64_t x = (int64_t) a->number, y = (int64_t) b->number;
        rc = x < y ? -1 : x > y;
    }
    else
        rc = a->number < b->number ? -1 : a->number > b->number;
    return rc ? rc : a->ref < b->ref ? -1 : a->ref > b->ref;
}

//  The last occurrence of field number `number` with a matching wire type
//  in an entry; false if none.
static bool
s_last_value (const s_field_t *field, const uint8_t *data, size_t size, int depth,
              s_item_t *last)
{
    bool found = false;
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    while (s_next (&wire, &item, depth) == 1)
        if (item.wire != W_END && item.number == field->number
        &&  item.wire == s_wire_of (field->type)) {
            *last = item;
            found = true;
        }
    return found;
}

//  Decode a key value to a sortable form (sint zigzag, int sign).
static uint64_t
s_key_number (int type, uint64_t raw)
{
    switch (type) {
        case T_SINT32: {
            uint32_t zigzag = (uint32_t) raw;
            return (uint64_t) (int64_t) (int32_t) ((zigzag >> 1) ^ (~(zigzag & 1) + 1));
        }
        case T_SINT64:
            return (raw >> 1) ^ (~(raw & 1) + 1);
        case T_INT32: case T_SFIXED32:
            return (uint64_t) (int64_t) (int32_t) (uint32_t) raw;
        case T_UINT32: case T_FIXED32:
            return (uint32_t) raw;
        case T_BOOL:
            return raw != 0;
        default:
            return raw;
    }
}

//  Print the entries of a map field (refs [0, count)): in text, as protoc
//  does, sorted by key with key and value always shown; in JSON, as an
//  object from key (as a string) to value.
static int
s_print_map (s_printer_t *p, const s_field_t *field, const uint8_t *data, size_t size,
             const s_ref_t *refs, size_t count, int depth)
{
    const s_message_t *entry = field->message;
    size_t position;
    const s_field_t *key_field = s_field_by_number (entry, 1, &position);
    const s_field_t *value_field = s_field_by_number (entry, 2, &position);
    s_map_key_t *keys = (s_map_key_t *) calloc (count ? count : 1, sizeof *keys);
    if (!keys) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        s_item_t item, key;
        s_ref_item (data, size, &refs [index], &item, depth);
        keys [index].ref = index;
        if (!s_parses (item.data, item.size, depth + 1)) {
            free (keys);
            errno = EPROTO;
            return -1;
        }
        if (key_field && s_last_value (key_field, item.data, item.size, depth + 1, &key)) {
            keys [index].number = s_key_number (key_field->type, key.value);
            keys [index].raw = key.value;
            keys [index].text = key.data;
            keys [index].size = key.size;
        }
    }
    if (!p->json && key_field && count > 1) {
        int key_type = key_field->type;
        qsort_r (keys, count, sizeof *keys, s_map_key_compare, &key_type);
    }
    int rc = 0;
    for (size_t index = 0; index < count && rc == 0; index++) {
        s_item_t item;
        s_ref_item (data, size, &refs [keys [index].ref], &item, depth);
        if (!p->json) {
            rc = s_print_nested (p, field, field->name, item.data, item.size, depth, true);
            continue;
        }
        if (index)
            fputc (',', p->out);
        //  JSON object keys are strings: the key's text form.
        if (!key_field)
            fputs ("\"\"", p->out);
        else
        if (key_field->type == T_STRING)
            zshm_tool_json_string (p->out, keys [index].text, keys [index].size);
        else {
            s_printer_t quoted = *p;
            quoted.json = false;     //  the plain number, then quote it
            fputc ('"', p->out);
            s_print_scalar (&quoted, key_field, keys [index].raw, NULL, 0);
            fputc ('"', p->out);
        }
        fputc (':', p->out);
        s_item_t value;
        bool present = value_field
                    && s_last_value (value_field, item.data, item.size, depth + 1, &value);
        if (!value_field)
            fputs ("null", p->out);
        else
        if (value_field->type == T_MESSAGE || value_field->type == T_GROUP)
            rc = s_print_nested (p, value_field, NULL, present ? value.data : NULL,
                                 present ? value.size : 0, depth + 1, false);
        else
            s_print_scalar (p, value_field, present ? value.value : 0,
                            present ? value.data : NULL, present ? value.size : 0);
    }
    free (keys);
    return rc;
}

//  Print the unknown fields among refs [0, count) (all with one key) the
//  raw way: in text, each in wire order; in JSON, "number":[values] per
//  field number.
static int
s_print_unknown (s_printer_t *p, const uint8_t *data, size_t size, const s_ref_t *refs,
                 size_t count, int depth, int budget, bool *first)
{
    if (!p->json) {
        //  Wire order: the refs of one key are sorted by offset already.
        for (size_t index = 0; index < count; index++) {
            //  Print the one field, tag to end, as a raw message of its own.
            s_wire_t wire = { data, size, refs [index].offset };
            s_item_t item;
            s_next (&wire, &item, depth);
            if (s_print_raw (p, data + refs [index].offset, wire.offset - refs [index].offset,
                             budget, depth))
                return -1;
        }
        return 0;
    }
    //  JSON: re-index these by number so each number is one key.
    s_ref_t *numbered = (s_ref_t *) malloc ((count ? count : 1) * sizeof *numbered);
    if (!numbered) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t index = 0; index < count; index++) {
        s_item_t item;
        s_ref_item (data, size, &refs [index], &item, depth);
        numbered [index] = refs [index];
        numbered [index].key = item.number;
    }
    if (count)
        qsort (numbered, count, sizeof *numbered, s_ref_compare);
    int rc = 0;
    for (size_t index = 0; index < count && rc == 0; ) {
        size_t end = index;
        while (end < count && numbered [end].key == numbered [index].key)
            end++;
        fprintf (p->out, "%s\"%u\":[", *first ? "" : ",", numbered [index].key);
        *first = false;
        for (size_t value = index; value < end && rc == 0; value++) {
            s_item_t item;
            s_ref_item (data, size, &numbered [value], &item, depth);
            if (value > index)
                fputc (',', p->out);
            switch (item.wire) {
                case W_VARINT:
                    fprintf (p->out, "%" PRIu64, item.value);
                    break;
                case W_FIXED32:
                    fprintf (p->out, "\"0x%08" PRIx32 "\"", (uint32_t) item.value);
                    break;
                case W_FIXED64:
                    fprintf (p->out, "\"0x%016" PRIx64 "\"", item.value);
                    break;
                case W_START:
                    rc = s_print_raw (p, item.data, item.size, budget - 1, depth + 1);
                    break;
                default:
                    if (s_looks_like_message (&item, budget))
                        rc = s_print_raw (p, item.data, item.size, budget - 1, depth + 1);
                    else
                    if (zshm_tool_utf8_valid (item.data, item.size))
                        zshm_tool_json_string (p->out, item.data, item.size);
                    else {
                        fputs ("{\"base64\":\"", p->out);
                        zshm_tool_base64 (p->out, item.data, item.size);
                        fputs ("\"}", p->out);
                    }
            }
        }
        fputc (']', p->out);
        index = end;
    }
    free (numbered);
    return rc;
}

//  Print a message's fields with its schema.  `defaults`: print singular
//  fields that are absent with their default (map entries, as protoc).
static int
s_print_message (s_printer_t *p, const s_message_t *message, const uint8_t *data,
                 size_t size, int depth, bool defaults)
{
    if (depth > ZSHM_PBDECODE_DEPTH_MAX) {
        errno = EPROTO;
        return -1;
    }
    size_t count;
    s_ref_t *refs = s_index (message, data, size, depth, &count);
    if (!refs)
        return -1;
    int rc = 0;
    bool first = true;
    if (p->json)
        fputc ('{', p->out);
    size_t index = 0;
    for (size_t position = 0; position < message->count && rc == 0; position++) {
        const s_field_t *field = &message->fields [position];
        size_t start = index;
        while (index < count && refs [index].key == position)
            index++;
        size_t occurrences = index - start;
        const s_ref_t *mine = refs + start;
        bool nested = field->type == T_MESSAGE || field->type == T_GROUP;
        //  Groups print under their type's name in text format.
        const char *name = field->type == T_GROUP && field->message
                         ? field->message->short_name : field->name;
        if (occurrences == 0 && !(defaults && !field->repeated))
            continue;
        if (field->repeated) {
            if (p->json) {
                fprintf (p->out, "%s\"%s\":", first ? "" : ",", field->name);
                fputc (field->message && field->message->map_entry ? '{' : '[', p->out);
            }
            first = false;
            if (nested && field->message && field->message->map_entry)
                rc = s_print_map (p, field, data, size, mine, occurrences, depth);
            else {
                bool first_value = true;
                for (size_t one = 0; one < occurrences && rc == 0; one++) {
                    s_item_t item;
                    s_ref_item (data, size, &mine [one], &item, depth);
                    if (item.wire == W_LEN && !nested && s_wire_of (field->type) != W_LEN) {
                        rc = s_print_packed (p, field, item.data, item.size, &first_value);
                        continue;
                    }
                    if (p->json && !first_value)
                        fputc (',', p->out);
                    first_value = false;
                    if (nested)
                        rc = s_print_nested (p, field, name, item.data, item.size, depth,
                                             false);
                    else {
                        if (!p->json) {
                            s_indent (p);
                            fprintf (p->out, "%s: ", name);
                        }
                        s_print_scalar (p, field, item.value, item.data, item.size);
                        if (!p->json)
                            fputc ('\n', p->out);
                    }
                }
            }
            if (p->json)
                fputc (field->message && field->message->map_entry ? '}' : ']', p->out);
            continue;
        }
        if (nested) {
            size_t merged_size = 0;
            uint8_t *merged = s_concatenate (data, size, mine, occurrences, depth, &merged_size);
            if (!merged) {
                rc = -1;
                break;
            }
            if (p->json)
                fprintf (p->out, "%s\"%s\":", first ? "" : ",", field->name);
            first = false;
            rc = s_print_nested (p, field, name, merged, merged_size, depth, false);
            free (merged);
            continue;
        }
        //  A singular scalar: the last value wins.
        s_item_t item;
        memset (&item, 0, sizeof item);
        if (occurrences)
            s_ref_item (data, size, &mine [occurrences - 1], &item, depth);
        if (occurrences && field->implicit && !defaults
        &&  s_is_zero (field, item.value, item.size))
            continue;
        if (p->json)
            fprintf (p->out, "%s\"%s\":", first ? "" : ",", field->name);
        else {
            s_indent (p);
            fprintf (p->out, "%s: ", name);
        }
        first = false;
        s_print_scalar (p, field, item.value, item.data, item.size);
        if (!p->json)
            fputc ('\n', p->out);
    }
    //  Unknown fields come last, all under the key message->count.
    if (rc == 0 && index < count)
        rc = s_print_unknown (p, data, size, refs + index, count - index, depth,
                              S_GUESS_BUDGET, &first);
    if (p->json && rc == 0)
        fputc ('}', p->out);
    free (refs);
    return rc;
}

//  protoc's guess that a length-delimited field holds a message: it is not
//  empty, guesses remain, and it parses with groups nested no deeper than
//  the guesses left (protoc parses it with that recursion limit).
static bool
s_looks_like_message (const s_item_t *item, int budget)
{
    return item->size && budget > 0
        && s_parses (item->data, item->size, ZSHM_PBDECODE_DEPTH_MAX - budget);
}

//  Print without a schema, in wire order (text) or by field number (JSON).
//  `budget` is how many more levels of "does this string parse as a
//  message?" guesses are allowed.
static int
s_print_raw (s_printer_t *p, const uint8_t *data, size_t size, int budget, int depth)
{
    if (depth > ZSHM_PBDECODE_DEPTH_MAX || !s_parses (data, size, depth)) {
        errno = EPROTO;
        return -1;
    }
    if (p->json) {
        size_t count;
        s_ref_t *refs = s_index (NULL, data, size, depth, &count);
        if (!refs)
            return -1;
        fputc ('{', p->out);
        bool first = true;
        //  s_print_unknown regroups by number, as these refs already are.
        int rc = s_print_unknown (p, data, size, refs, count, depth, budget, &first);
        if (rc == 0)
            fputc ('}', p->out);
        free (refs);
        return rc;
    }
    s_wire_t wire = { data, size, 0 };
    s_item_t item;
    while (s_next (&wire, &item, depth) == 1) {
        s_indent (p);
        switch (item.wire) {
            case W_VARINT:
                fprintf (p->out, "%u: %" PRIu64 "\n", item.number, item.value);
                break;
            case W_FIXED32:
                fprintf (p->out, "%u: 0x%08" PRIx32 "\n", item.number, (uint32_t) item.value);
                break;
            case W_FIXED64:
                fprintf (p->out, "%u: 0x%016" PRIx64 "\n", item.number, item.value);
                break;
            case W_START:
                fprintf (p->out, "%u {\n", item.number);
                p->indent += 2;
                if (s_print_raw (p, item.data, item.size, budget - 1, depth + 1))
                    return -1;
                p->indent -= 2;
                s_indent (p);
                fputs ("}\n", p->out);
                break;
            default:
                //  protoc's guess: a non-empty string that parses as a
                //  message is printed as one.
                if (s_looks_like_message (&item, budget)) {
                    fprintf (p->out, "%u {\n", item.number);
                    p->indent += 2;
                    if (s_print_raw (p, item.data, item.size, budget - 1, depth + 1))
                        return -1;
                    p->indent -= 2;
                    s_indent (p);
                    fputs ("}\n", p->out);
                }
                else {
                    fprintf (p->out, "%u: \"", item.number);
                    zshm_tool_c_escape (p->out, item.data, item.size);
                    fputs ("\"\n", p->out);
                }
        }
    }
    return 0;
}

//  Run a print into a memory stream; copy it to `out` only on success.
static int
s_print_buffered (FILE *out, const s_message_t *message, const void *data, size_t size,
                  zshm_pbdecode_format_t format, int indent)
{
    char *text = NULL;
    size_t length = 0;
    FILE *buffer = open_memstream (&text, &length);
    if (!buffer) {
        errno = ENOMEM;
        return -1;
    }
    s_printer_t printer = { buffer, format == ZSHM_PBDECODE_JSON, indent };
    const uint8_t *bytes = size ? (const uint8_t *) data : (const uint8_t *) "";
    int rc = message ? s_print_message (&printer, message, bytes, size, 0, false)
                     : s_print_raw (&printer, bytes, size, S_GUESS_BUDGET, 0);
    int saved = errno;
    if (fclose (buffer)) {
        rc = -1;
        saved = ENOMEM;
    }
    if (rc == 0)
        fwrite (text, 1, length, out);
    free (text);
    errno = saved;
    return rc;
}

int
zshm_pbdecode_print (zshm_pbdecode_t *self, FILE *out, const char *type_name,
                     const void *data, size_t size, zshm_pbdecode_format_t format, int indent)
{
    assert (self && out && type_name);
    const s_message_t *message = s_find_message (self, type_name);
    if (!message) {
        errno = ENOENT;
        return -1;
    }
    return s_print_buffered (out, message, data, size, format, indent);
}

int
zshm_pbdecode_print_raw (FILE *out, const void *data, size_t size,
                         zshm_pbdecode_format_t format, int indent)
{
    assert (out);
    return s_print_buffered (out, NULL, data, size, format, indent);
}

//  --------------------------------------------------------------------------
//  Self test

//  Build wire format in a buffer.
typedef struct {
    uint8_t bytes [4096];           //  the message
    size_t size;                    //  bytes used
} s_builder_t;

static void
s_put_varint (s_builder_t *b, uint64_t value)
{
    assert (b->size + ZSHM_VARINT_MAX <= sizeof b->bytes);
    b->size = (size_t) (zshm_varint_put (b->bytes + b->size, value) - b->bytes);
}

static void
s_put_tag (s_builder_t *b, uint32_t number, int wire)
{
    s_put_varint (b, (uint64_t) number << 3 | (uint64_t) wire);
}

static void
s_put_bytes (s_builder_t *b, uint32_t number, const void *data, size_t size)
{
    s_put_tag (b, number, W_LEN);
    s_put_varint (b, size);
    memcpy (b->bytes + b->size, data, size);
    b->size += size;
}

static void
s_put_fixed (s_builder_t *b, uint32_t number, uint64_t value, int width)
{
    s_put_tag (b, number, width == 4 ? W_FIXED32 : W_FIXED64);
    for (int index = 0; index < width; index++)
        b->bytes [b->size++] = (uint8_t) (value >> (8 * index));
}

static char *
s_printed (zshm_pbdecode_t *self, const char *type, const void *data, size_t size,
           zshm_pbdecode_format_t format, int *rc_p)
{
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream (&text, &length);
    assert (out);
    *rc_p = type ? zshm_pbdecode_print (self, out, type, data, size, format, 0)
                 : zshm_pbdecode_print_raw (out, data, size, format, 0);
    fclose (out);
    return text;
}

static void
s_expect (zshm_pbdecode_t *self, const char *type, const void *data, size_t size,
          zshm_pbdecode_format_t format, const char *expected)
{
    int rc;
    char *text = s_printed (self, type, data, size, format, &rc);
    if (rc != 0 || strcmp (text, expected) != 0) {
        fprintf (stderr, "zshm_pbdecode: rc %d, expected:\n%s\ngot:\n%s\n", rc, expected, text);
        assert (false);
    }
    free (text);
}

//  A FileDescriptorSet for:
//    syntax = "proto3"; package t;
//    message M { int32 a = 1; string s = 2; repeated sint32 r = 3;
//                M child = 4; E e = 5; map<string,int64> m = 6;
//                enum E { ZERO = 0; ONE = 1; } }
static size_t
s_test_descriptor_set (uint8_t *out)
{
    s_builder_t field_a = { .size = 0 }, field_s = { .size = 0 }, field_r = { .size = 0 };
    s_builder_t field_child = { .size = 0 }, field_e = { .size = 0 }, field_m = { .size = 0 };
    s_builder_t *fields [] = { &field_a, &field_s, &field_r, &field_child, &field_e, &field_m };
    const char *names [] = { "a", "s", "r", "child", "e", "m" };
    int types [] = { T_INT32, T_STRING, T_SINT32, T_MESSAGE, T_ENUM, T_MESSAGE };
    int labels [] = { 1, 1, 3, 1, 1, 3 };
    const char *type_names [] = { NULL, NULL, NULL, ".t.M", ".t.M.E", ".t.M.MEntry" };
    for (int index = 0; index < 6; index++) {
        s_put_bytes (fields [index], 1, names [index], strlen (names [index]));
        s_put_tag (fields [index], 3, W_VARINT);
        s_put_varint (fields [index], (uint64_t) index + 1);
        s_put_tag (fields [index], 4, W_VARINT);
        s_put_varint (fields [index], (uint64_t) labels [index]);
        s_put_tag (fields [index], 5, W_VARINT);
        s_put_varint (fields [index], (uint64_t) types [index]);
        if (type_names [index])
            s_put_bytes (fields [index], 6, type_names [index], strlen (type_names [index]));
    }
    s_builder_t value0 = { .size = 0 }, value1 = { .size = 0 }, enumeration = { .size = 0 };
    s_put_bytes (&value0, 1, "ZERO", 4);
    s_put_tag (&value0, 2, W_VARINT);
    s_put_varint (&value0, 0);
    s_put_bytes (&value1, 1, "ONE", 3);
    s_put_tag (&value1, 2, W_VARINT);
    s_put_varint (&value1, 1);
    s_put_bytes (&enumeration, 1, "E", 1);
    s_put_bytes (&enumeration, 2, value0.bytes, value0.size);
    s_put_bytes (&enumeration, 2, value1.bytes, value1.size);

    s_builder_t key = { .size = 0 }, value = { .size = 0 }, options = { .size = 0 };
    s_builder_t entry = { .size = 0 };
    s_put_bytes (&key, 1, "key", 3);
    s_put_tag (&key, 3, W_VARINT);
    s_put_varint (&key, 1);
    s_put_tag (&key, 5, W_VARINT);
    s_put_varint (&key, T_STRING);
    s_put_bytes (&value, 1, "value", 5);
    s_put_tag (&value, 3, W_VARINT);
    s_put_varint (&value, 2);
    s_put_tag (&value, 5, W_VARINT);
    s_put_varint (&value, T_INT64);
    s_put_tag (&options, 7, W_VARINT);
    s_put_varint (&options, 1);
    s_put_bytes (&entry, 1, "MEntry", 6);
    s_put_bytes (&entry, 2, key.bytes, key.size);
    s_put_bytes (&entry, 2, value.bytes, value.size);
    s_put_bytes (&entry, 7, options.bytes, options.size);

    s_builder_t message = { .size = 0 };
    s_put_bytes (&message, 1, "M", 1);
    for (int index = 0; index < 6; index++)
        s_put_bytes (&message, 2, fields [index]->bytes, fields [index]->size);
    s_put_bytes (&message, 3, entry.bytes, entry.size);
    s_put_bytes (&message, 4, enumeration.bytes, enumeration.size);

    s_builder_t file = { .size = 0 }, set = { .size = 0 };
    s_put_bytes (&file, 1, "t.proto", 7);
    s_put_bytes (&file, 4, message.bytes, message.size);
    s_put_bytes (&file, 12, "proto3", 6);   //  after the types, on purpose
    s_put_bytes (&file, 2, "t", 1);
    s_put_bytes (&set, 1, file.bytes, file.size);
    memcpy (out, set.bytes, set.size);
    return set.size;
}

void
zshm_pbdecode_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_pbdecode: ");
    zshm_pbdecode_t *self = zshm_pbdecode_new ();
    assert (self);

    //  Raw decoding, as protoc --decode_raw prints.
    s_builder_t inner = { .size = 0 }, raw = { .size = 0 };
    s_put_tag (&inner, 1, W_VARINT);
    s_put_varint (&inner, 5);
    s_put_bytes (&inner, 2, "x", 1);
    s_put_tag (&raw, 1, W_VARINT);
    s_put_varint (&raw, 150);
    s_put_fixed (&raw, 2, 0x3ff0000000000000ULL, 8);
    s_put_fixed (&raw, 3, 0x3f800000, 4);
    s_put_bytes (&raw, 4, inner.bytes, inner.size);
    s_put_bytes (&raw, 5, "h\xc3\xa9\x01\"", 5);
    s_put_bytes (&raw, 6, "", 0);
    s_put_tag (&raw, 7, W_START);
    s_put_tag (&raw, 1, W_VARINT);
    s_put_varint (&raw, 1);
    s_put_tag (&raw, 7, W_END);
    s_put_tag (&raw, 1, W_VARINT);
    s_put_varint (&raw, UINT64_MAX);
    s_expect (self, NULL, raw.bytes, raw.size, ZSHM_PBDECODE_TEXT,
              "1: 150\n"
              "2: 0x3ff0000000000000\n"
              "3: 0x3f800000\n"
              "4 {\n  1: 5\n  2: \"x\"\n}\n"
              "5: \"h\\303\\251\\001\\\"\"\n"
              "6: \"\"\n"
              "7 {\n  1: 1\n}\n"
              "1: 18446744073709551615\n");
    s_expect (self, NULL, raw.bytes, raw.size, ZSHM_PBDECODE_JSON,
              "{\"1\":[150,18446744073709551615],\"2\":[\"0x3ff0000000000000\"],"
              "\"3\":[\"0x3f800000\"],\"4\":[{\"1\":[5],\"2\":[\"x\"]}],"
              "\"5\":[\"h\xc3\xa9\\u0001\\\"\"],\"6\":[\"\"],\"7\":[{\"1\":[1]}]}");
    s_expect (self, NULL, "", 0, ZSHM_PBDECODE_TEXT, "");

    //  Garbage fails, prints nothing, and never reads out of bounds.
    const char *bad [] = {
        "\x08",                         //  varint cut short
        "\x08\x80\x80",                 //  varint cut short
        "\x0a\x05\x61\x62",              //  length beyond the end
        "\x00\x01",                     //  field number 0
        "\x0e",                         //  wire type 6
        "\x0c",                         //  end group with no start
        "\x0b\x08\x01",                 //  group never ends
        "\x0b\x14",                     //  group ends with another number
        "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",    //  11-byte varint
        "\x11\x01\x02",                 //  fixed64 cut short
        "\x15\x01",                     //  fixed32 cut short
        "\xff\xff\xff\xff\x7f\x00",     //  wire type 7 (tag cut to 32 bits)
    };
    for (size_t index = 0; index < sizeof bad / sizeof bad [0]; index++) {
        int rc;
        size_t length = strlen (bad [index]) + (index == 3 ? 1 : 0);
        char *text = s_printed (self, NULL, bad [index], length, ZSHM_PBDECODE_TEXT, &rc);
        assert (rc == -1 && errno == EPROTO && *text == 0);
        free (text);
    }
    //  Deep nesting: groups past the limit fail; strings past the guess
    //  budget print as strings.
    static uint8_t deep [1024];
    size_t depth_size = 0;
    for (int level = 0; level < 300; level++)
        deep [depth_size++] = 0x0b;     //  start group 1
    for (int level = 0; level < 300; level++)
        deep [depth_size++] = 0x0c;
    int rc;
    char *text = s_printed (self, NULL, deep, depth_size, ZSHM_PBDECODE_TEXT, &rc);
    assert (rc == -1 && errno == EPROTO);
    free (text);
    s_builder_t nest = { .size = 0 };
    s_put_tag (&nest, 1, W_VARINT);
    s_put_varint (&nest, 1);
    for (int level = 0; level < 20; level++) {
        s_builder_t outer = { .size = 0 };
        s_put_bytes (&outer, 1, nest.bytes, nest.size);
        nest = outer;
    }
    text = s_printed (self, NULL, nest.bytes, nest.size, ZSHM_PBDECODE_TEXT, &rc);
    //  Ten levels are guessed to be messages, the eleventh prints as a
    //  string (protoc's budget).
    assert (rc == 0);
    int opened = 0;
    for (const char *at = text; (at = strstr (at, " {\n")); at++)
        opened++;
    assert (opened == 10);
    assert (strstr (text, "\n                    1: \"\\n"));
    free (text);

    //  A descriptor set, then typed decoding.
    uint8_t set [4096];
    size_t set_size = s_test_descriptor_set (set);
    char error [256];
    assert (zshm_pbdecode_load_set (self, set, set_size, error, sizeof error) == 0);
    assert (zshm_pbdecode_knows (self, "t.M"));
    assert (zshm_pbdecode_knows (self, "t.M.MEntry"));
    assert (!zshm_pbdecode_knows (self, "t.N"));
    assert (zshm_pbdecode_size (self) == 2);
    //  Loading it twice keeps one of each.
    assert (zshm_pbdecode_load_set (self, set, set_size, error, sizeof error) == 0);
    assert (zshm_pbdecode_size (self) == 2);

    s_builder_t child = { .size = 0 }, typed = { .size = 0 };
    s_put_tag (&child, 1, W_VARINT);
    s_put_varint (&child, 7);
    s_builder_t entry_b = { .size = 0 }, entry_a = { .size = 0 };
    s_put_bytes (&entry_b, 1, "b", 1);
    s_put_tag (&entry_b, 2, W_VARINT);
    s_put_varint (&entry_b, 2);
    s_put_bytes (&entry_a, 1, "a", 1);              //  value absent: default 0
    s_put_bytes (&typed, 6, entry_b.bytes, entry_b.size);
    s_put_bytes (&typed, 6, entry_a.bytes, entry_a.size);
    s_put_tag (&typed, 3, W_VARINT);                 //  r: -1 unpacked
    s_put_varint (&typed, 1);
    s_put_bytes (&typed, 3, "\x02\x03", 2);          //  r: 1, -2 packed
    s_put_tag (&typed, 1, W_VARINT);                 //  a: -1 ...
    s_put_varint (&typed, UINT64_MAX);
    s_put_tag (&typed, 1, W_VARINT);                 //  ... then 42 wins
    s_put_varint (&typed, 42);
    s_put_bytes (&typed, 2, "", 0);                  //  s: "" is proto3-absent
    s_put_bytes (&typed, 4, child.bytes, child.size);
    s_put_tag (&typed, 5, W_VARINT);
    s_put_varint (&typed, 1);
    s_put_tag (&typed, 99, W_VARINT);                //  unknown
    s_put_varint (&typed, 3);
    s_put_fixed (&typed, 1, 5, 4);                   //  a with the wrong wire type
    s_expect (self, "t.M", typed.bytes, typed.size, ZSHM_PBDECODE_TEXT,
              "a: 42\n"
              "r: -1\n"
              "r: 1\n"
              "r: -2\n"
              "child {\n  a: 7\n}\n"
              "e: ONE\n"
              "m {\n  key: \"a\"\n  value: 0\n}\n"
              "m {\n  key: \"b\"\n  value: 2\n}\n"
              "99: 3\n"
              "1: 0x00000005\n");
    s_expect (self, "t.M", typed.bytes, typed.size, ZSHM_PBDECODE_JSON,
              "{\"a\":42,\"r\":[-1,1,-2],\"child\":{\"a\":7},\"e\":\"ONE\","
              "\"m\":{\"b\":\"2\",\"a\":\"0\"},\"1\":[\"0x00000005\"],\"99\":[3]}");
    //  A sub-message that does not parse fails the whole message.
    s_builder_t broken = { .size = 0 };
    s_put_tag (&broken, 1, W_VARINT);
    s_put_varint (&broken, 1);
    s_put_bytes (&broken, 4, "\x08", 1);
    text = s_printed (self, "t.M", broken.bytes, broken.size, ZSHM_PBDECODE_TEXT, &rc);
    assert (rc == -1 && errno == EPROTO && *text == 0);
    free (text);
    text = s_printed (self, "t.Nope", "", 0, ZSHM_PBDECODE_TEXT, &rc);
    assert (rc == -1 && errno == ENOENT);
    free (text);
    //  A message type that contains itself, nested past the depth limit.
    s_builder_t self_nest = { .size = 0 };
    for (int level = 0; level < 150; level++) {
        s_builder_t outer = { .size = 0 };
        s_put_bytes (&outer, 4, self_nest.bytes, self_nest.size);
        self_nest = outer;
    }
    text = s_printed (self, "t.M", self_nest.bytes, self_nest.size, ZSHM_PBDECODE_TEXT, &rc);
    assert (rc == -1 && errno == EPROTO);
    free (text);

    //  Bad descriptor sets are refused with a reason.
    assert (zshm_pbdecode_load_set (self, "\x08\x01", 2, error, sizeof error) == -1);
    assert (errno == EPROTO && strstr (error, "FileDescriptorSet"));
    assert (zshm_pbdecode_load_set (self, "", 0, error, sizeof error) == -1);
    assert (errno == EPROTO && strstr (error, "empty"));
    //  Every truncation of the good set fails cleanly or loads a prefix.
    for (size_t cut = 0; cut < set_size; cut++) {
        zshm_pbdecode_t *other = zshm_pbdecode_new ();
        assert (other);
        zshm_pbdecode_load_set (other, set, cut, error, sizeof error);
        zshm_pbdecode_destroy (&other);
    }
    //  Every single-byte corruption of the set and the typed message
    //  decodes or fails, and never crashes (ASan checks the bounds).
    for (size_t at = 0; at < set_size; at++) {
        uint8_t copy [4096];
        memcpy (copy, set, set_size);
        copy [at] ^= 0xff;
        zshm_pbdecode_t *other = zshm_pbdecode_new ();
        assert (other);
        if (zshm_pbdecode_load_set (other, copy, set_size, error, sizeof error) == 0
        &&  zshm_pbdecode_knows (other, "t.M")) {
            text = s_printed (other, "t.M", typed.bytes, typed.size, ZSHM_PBDECODE_JSON, &rc);
            free (text);
        }
        zshm_pbdecode_destroy (&other);
    }
    for (size_t at = 0; at < typed.size; at++)
        for (int flip = 1; flip < 256; flip <<= 1) {
            uint8_t copy [4096];
            memcpy (copy, typed.bytes, typed.size);
            copy [at] ^= (uint8_t) flip;
            text = s_printed (self, "t.M", copy, typed.size, ZSHM_PBDECODE_TEXT, &rc);
            free (text);
            text = s_printed (self, "t.M", copy, typed.size, ZSHM_PBDECODE_JSON, &rc);
            free (text);
            text = s_printed (self, NULL, copy, typed.size, ZSHM_PBDECODE_JSON, &rc);
            free (text);
        }
    zshm_pbdecode_destroy (&self);
    zshm_pbdecode_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
