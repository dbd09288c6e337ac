/*  =========================================================================
    zshm_fastgen - writes straight-line C that packs and unpacks the flat
    message types of one .proto file, for zshm's codec to use

    zshm's codec interprets a type's descriptor: one loop over its fields,
    one decision per field on how it travels.  On a 12-field market tick
    that costs about 35 ns to pack and 45 ns to unpack, where code written
    for the type takes a fraction of it: the field sequence, the keys and
    the widths become constants, and the processor predicts every branch.
    This program writes that code, at build time, from the descriptors
    protoc-c generated:

        cc -DZSHM_FASTGEN_HEADER='"market.pb-c.h"' \
           -DZSHM_FASTGEN_LIST='"market.fastgen.h"' \
           zshm_fastgen.c market.pb-c.c -lprotobuf-c
        ./a.out market.pb-c.c > market.zshm.c

    where market.fastgen.h lists the file's message descriptors, one
    `ZSHM_FASTGEN (symbol)` line each (the Makefile takes them from the
    header with sed).  The output includes market.pb-c.c and replaces it in
    the build, so whatever links a descriptor links its fast code too; a
    constructor registers each type with zshm_fastgen_register, which
    checks the code's record of the layout against the descriptor.  The
    generator needs only zshm_fastgen.h and protobuf-c, not libzshm: zshm's
    build runs it for its own schemas, and zshm.mk (installed with this
    file) for a user's.

    Only the types zshm's codec calls flat get code (zshm_fastgen_flat
    decides).  The code never decides anything hard on its own:
      - pack returns ZSHM_FASTGEN_NOROOM when the room might not do (checked
        with a bound per field) or a bytes field has no data: the
        interpreter then packs, or finds there is no room;
      - unpack takes only fields in order, each once, with the keys the
        type's own packer writes; anything else (and truncation, a varint
        too long, a string past the end) is handed to the interpreter,
        which decides from scratch, or to protobuf-c after it.
    So the output is byte for byte the interpreter's, which is protobuf-c's
    (test_proto_codec checks both on types generated this way).
    =========================================================================
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_fastgen.h"
#include ZSHM_FASTGEN_HEADER

typedef struct {
    const ProtobufCMessageDescriptor *descriptor;
    const char *symbol;         //  the descriptor's C name
} s_message_t;

static const s_message_t s_messages [] = {
#define ZSHM_FASTGEN(symbol) { &symbol, #symbol },
#include ZSHM_FASTGEN_LIST
#undef ZSHM_FASTGEN
    { NULL, NULL }
};

//  Bytes of the key of a field, encoded into key [4]
static size_t
s_key (const ProtobufCFieldDescriptor *field, uint8_t key [ZSHM_VARINT_MAX])
{
    unsigned wire;
    switch (field->type) {
        case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
            wire = 5;
            break;
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
            wire = 1;
            break;
        case PROTOBUF_C_TYPE_STRING: case PROTOBUF_C_TYPE_BYTES:
            wire = 2;
            break;
        default:
            wire = 0;
    }
    return (size_t) (zshm_varint_put (key, (uint64_t) field->id << 3 | wire) - key);
}

static bool
s_is_blob (const ProtobufCFieldDescriptor *field)
{
    return field->type == PROTOBUF_C_TYPE_STRING || field->type == PROTOBUF_C_TYPE_BYTES;
}

static bool
s_is_fixed (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_FIXED32: case PROTOBUF_C_TYPE_SFIXED32: case PROTOBUF_C_TYPE_FLOAT:
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
            return true;
        default:
            return false;
    }
}

//  Bytes of a number member
static unsigned
s_width (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_FIXED64: case PROTOBUF_C_TYPE_SFIXED64: case PROTOBUF_C_TYPE_DOUBLE:
            return 8;
        default:
            return 4;
    }
}

//  Most bytes a number field takes: key and value
static size_t
s_number_max (const ProtobufCFieldDescriptor *field)
{
    uint8_t key [ZSHM_VARINT_MAX];
    return s_key (field, key) + (s_is_fixed (field) ? s_width (field) : ZSHM_VARINT_MAX);
}

//  The C expression of the varint a number `v` (the member, zero-extended)
//  goes out as
static const char *
s_varint_expr (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_ENUM:   return "(uint64_t) (int64_t) (int32_t) (uint32_t) v";
        case PROTOBUF_C_TYPE_SINT32: return "(uint64_t) (((uint32_t) v << 1) ^ (uint32_t) ((int32_t) (uint32_t) v >> 31))";
        case PROTOBUF_C_TYPE_SINT64: return "(v << 1) ^ (uint64_t) ((int64_t) v >> 63)";
        case PROTOBUF_C_TYPE_BOOL:   return "(uint64_t) (v != 0)";
        default:                     return "v";
    }
}

//  The bits of a floating-point number that make it not zero (all but the
//  sign: -0 is zero too); NULL for the others, where any bit does
static const char *
s_nonzero (const ProtobufCFieldDescriptor *field)
{
    switch (field->type) {
        case PROTOBUF_C_TYPE_FLOAT:  return "0x7fffffffu";
        case PROTOBUF_C_TYPE_DOUBLE: return "0x7fffffffffffffffu";
        default:                     return NULL;
    }
}

static void
s_put_key (FILE *out, const ProtobufCFieldDescriptor *field, const char *indent)
{
    uint8_t key [ZSHM_VARINT_MAX];
    size_t size = s_key (field, key);
    for (size_t index = 0; index < size; index++)
        fprintf (out, "%s*at++ = 0x%02x;\n", indent, key [index]);
}

static void
s_emit_pack (FILE *out, const s_message_t *message)
{
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    //  rest [i]: the most the number fields from i on can take
    size_t *rest = (size_t *) calloc (descriptor->n_fields + 1, sizeof (size_t));
    if (!rest) {
        perror ("zshm_fastgen");
        exit (1);
    }
    for (unsigned index = descriptor->n_fields; index-- > 0;) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        rest [index] = rest [index + 1] + (s_is_blob (field) ? 0 : s_number_max (field));
    }
    fprintf (out, "static size_t\n%s_pack (const ProtobufCMessage *msg, uint8_t *out, size_t max)\n{\n",
             message->symbol);
    fprintf (out, "    const char *base = (const char *) msg;\n"
                  "    uint8_t *at = out;\n"
                  "    const uint8_t *end = out + max;\n"
                  "    (void) base;\n"
                  "    (void) end;\n");
    //  Room is kept for the worst case of the numbers not yet written: all
    //  of them here, and after each string those after it
    fprintf (out, "    if (max < %zu)\n        return ZSHM_FASTGEN_NOROOM;\n", rest [0]);
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        bool implicit = field->label == PROTOBUF_C_LABEL_NONE;
        fprintf (out, "    {   //  %s\n", field->name);
        if (!implicit && field->type != PROTOBUF_C_TYPE_STRING)
            fprintf (out, "        protobuf_c_boolean has = 0;\n"
                          "        memcpy (&has, base + %u, sizeof has);\n",
                     field->quantifier_offset);
        if (field->type == PROTOBUF_C_TYPE_STRING) {
            fprintf (out, "        const char *v;\n"
                          "        memcpy (&v, base + %u, sizeof v);\n", field->offset);
            if (implicit)
                fprintf (out, "        if (v && *v) {\n");
            else
                fprintf (out, "        if (v && v != (const char *) %s.fields [%u].default_value) {\n",
                         message->symbol, index);
            fprintf (out, "            size_t length = strlen (v);\n"
                          "            const void *data = v;\n");
        }
        else
        if (field->type == PROTOBUF_C_TYPE_BYTES) {
            fprintf (out, "        ProtobufCBinaryData v;\n"
                          "        memcpy (&v, base + %u, sizeof v);\n"
                          "        if (%s) {\n"
                          "            size_t length = v.len;\n"
                          "            const void *data = v.data;\n"
                          "            if (length && !data)\n"
                          "                return ZSHM_FASTGEN_NOROOM;\n",
                     field->offset, implicit ? "v.len" : "has");
        }
        else {
            fprintf (out, "        uint64_t v = 0;\n"
                          "        memcpy (&v, base + %u, %u);\n", field->offset, s_width (field));
            if (!implicit)
                fprintf (out, "        if (has) {\n");
            else
            if (s_nonzero (field))
                fprintf (out, "        if (v & %s) {\n", s_nonzero (field));
            else
                fprintf (out, "        if (v) {\n");
        }
        if (s_is_blob (field)) {
            uint8_t key [ZSHM_VARINT_MAX];
            size_t need = s_key (field, key) + 5 + rest [index + 1];
            fprintf (out, "            if (length > UINT32_MAX || (size_t) (end - at) < %zu\n"
                          "            ||  (size_t) (end - at) - %zu < length)\n"
                          "                return ZSHM_FASTGEN_NOROOM;\n", need, need);
            s_put_key (out, field, "            ");
            fprintf (out, "            at = zshm_varint_put (at, length);\n"
                          "            if (length)\n"
                          "                memcpy (at, data, length);\n"
                          "            at += length;\n");
        }
        else {
            s_put_key (out, field, "            ");
            if (s_is_fixed (field))
                fprintf (out, "            memcpy (at, &v, %u);\n"
                              "            at += %u;\n", s_width (field), s_width (field));
            else
                fprintf (out, "            at = zshm_varint_put (at, %s);\n", s_varint_expr (field));
        }
        fprintf (out, "        }\n    }\n");
    }
    fprintf (out, "    return (size_t) (at - out);\n}\n\n");
    free (rest);
}

//  The condition that the next key is this field's
static void
s_key_matches (FILE *out, const ProtobufCFieldDescriptor *field)
{
    uint8_t key [ZSHM_VARINT_MAX];
    size_t size = s_key (field, key);
    fprintf (out, "    if (end - at >= %zu", size);
    for (size_t index = 0; index < size; index++)
        fprintf (out, " && at [%zu] == 0x%02x", index, key [index]);
    fprintf (out, ") {\n        at += %zu;\n", size);
}

static void
s_emit_unpack (FILE *out, const s_message_t *message)
{
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    //  The message comes initialized, with `size` bytes of heap for its
    //  strings (zshm_codec.c says why they suffice)
    fprintf (out, "static bool\n%s_unpack (ProtobufCMessage *msg, char *heap, const uint8_t *data, "
                  "size_t size)\n{\n", message->symbol);
    fprintf (out, "    char *base = (char *) msg, *heap_end = heap + size;\n"
                  "    const uint8_t *at = data, *end = data + size;\n"
                  "    (void) heap_end;\n");
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        fprintf (out, "    //  %s\n", field->name);
        s_key_matches (out, field);
        if (s_is_fixed (field))
            fprintf (out, "        if (end - at < %u)\n"
                          "            goto other;\n"
                          "        memcpy (base + %u, at, %u);\n"
                          "        at += %u;\n",
                     s_width (field), field->offset, s_width (field), s_width (field));
        else
        if (s_is_blob (field)) {
            fprintf (out, "        const uint8_t *start = at;\n"
                          "        uint64_t value;\n"
                          "        if (!zshm_varint_get (&at, end, &value) || at - start > 4\n"
                          "        ||  value > (uint64_t) (end - at)\n"
                          "        ||  (size_t) (heap_end - heap) < (size_t) value + 1)\n"
                          "            goto other;\n"
                          "        size_t length = (size_t) value;\n");
            if (field->type == PROTOBUF_C_TYPE_STRING)
                fprintf (out, "        char *string = heap;\n"
                              "        memcpy (string, at, length);\n"
                              "        string [length] = '\\0';\n"
                              "        heap += length + 1;\n"
                              "        memcpy (base + %u, &string, sizeof string);\n",
                         field->offset);
            else
                fprintf (out, "        ProtobufCBinaryData bytes = { length, NULL };\n"
                              "        if (length) {\n"
                              "            bytes.data = (uint8_t *) heap;\n"
                              "            memcpy (bytes.data, at, length);\n"
                              "            heap += length;\n"
                              "        }\n"
                              "        memcpy (base + %u, &bytes, sizeof bytes);\n",
                         field->offset);
            fprintf (out, "        at += length;\n");
        }
        else {
            fprintf (out, "        const uint8_t *start = at;\n"
                          "        uint64_t v;\n"
                          "        if (!zshm_varint_get (&at, end, &v))\n"
                          "            goto other;\n"
                          "        (void) start;\n");
            switch (field->type) {
                case PROTOBUF_C_TYPE_SINT32:
                    fprintf (out, "        v = (uint32_t) (((uint32_t) v >> 1) ^ (0u - ((uint32_t) v & 1)));\n");
                    break;
                case PROTOBUF_C_TYPE_SINT64:
                    fprintf (out, "        v = (v >> 1) ^ (0ull - (v & 1));\n");
                    break;
                case PROTOBUF_C_TYPE_BOOL:
                    //  True if any bit is set, even one past the 64th
                    fprintf (out, "        bool set = v != 0;\n"
                                  "        for (const uint8_t *byte = start; byte < at; byte++)\n"
                                  "            set |= (*byte & 0x7f) != 0;\n"
                                  "        v = set;\n");
                    break;
                default:
                    break;
            }
            if (s_width (field) == 8)
                fprintf (out, "        memcpy (base + %u, &v, 8);\n", field->offset);
            else
                fprintf (out, "        uint32_t low = (uint32_t) v;\n"
                              "        memcpy (base + %u, &low, 4);\n", field->offset);
        }
        if (field->quantifier_offset)
            fprintf (out, "        protobuf_c_boolean has = 1;\n"
                          "        memcpy (base + %u, &has, sizeof has);\n",
                     field->quantifier_offset);
        fprintf (out, "    }\n");
    }
    //  Anything left (out of order, repeated, unknown) and anything
    //  malformed is the interpreter's
    if (descriptor->n_fields)
        fprintf (out, "    return at == end;\nother:\n    return false;\n}\n\n");
    else
        fprintf (out, "    (void) base;\n    return at == end;\n}\n\n");
}

static void
s_emit_layout (FILE *out, const s_message_t *message)
{
    const ProtobufCMessageDescriptor *descriptor = message->descriptor;
    fprintf (out, "static const zshm_fastgen_field_t %s_fields [] = {\n", message->symbol);
    for (unsigned index = 0; index < descriptor->n_fields; index++) {
        const ProtobufCFieldDescriptor *field = &descriptor->fields [index];
        fprintf (out, "    { %u, %d, %d, %u, %u, %u },\n", field->id, (int) field->label,
                 (int) field->type, field->offset, field->quantifier_offset, field->flags);
    }
    fprintf (out, "};\n\n"
                  "static const zshm_fastgen_t %s_fast = {\n"
                  "    &%s, %u, %zu, %s_fields, %s_pack, %s_unpack\n"
                  "};\n\n",
             message->symbol, message->symbol, descriptor->n_fields, descriptor->sizeof_message,
             message->symbol, message->symbol, message->symbol);
}

int
main (int argc, char *argv [])
{
    if (argc != 2) {
        fprintf (stderr, "usage: %s FILE.pb-c.c > FILE.zshm.c\n", argv [0]);
        return 2;
    }
    FILE *out = stdout;
    fprintf (out, "/*  Generated by zshm_fastgen from %s: do not edit.  */\n\n"
                  "#include \"%s\"\n\n"
                  "#include <stdbool.h>\n"
                  "#include <stdint.h>\n"
                  "#include <string.h>\n"
                  "#include \"zshm_fastgen.h\"\n\n", argv [1], argv [1]);
    size_t count = 0;
    for (const s_message_t *message = s_messages; message->descriptor; message++) {
        if (!zshm_fastgen_flat (message->descriptor))
            continue;                   //  not flat: the codec leaves it alone
        s_emit_pack (out, message);
        s_emit_unpack (out, message);
        s_emit_layout (out, message);
        count++;
    }
    fprintf (out, "__attribute__ ((constructor)) static void\ns_register_fast_types (void)\n{\n");
    for (const s_message_t *message = s_messages; message->descriptor; message++)
        if (zshm_fastgen_flat (message->descriptor))
            fprintf (out, "    zshm_fastgen_register (&%s_fast);\n", message->symbol);
    if (count == 0)
        fprintf (out, "    //  No flat message types here\n");
    fprintf (out, "}\n");
    if (fflush (out) || ferror (out)) {
        perror ("zshm_fastgen");
        return 1;
    }
    return 0;
}
