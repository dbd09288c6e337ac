/*  =========================================================================
    zshm_pbdecode - print protobuf bytes without generated code

    A set of message types known by name, loaded from protobuf-c
    descriptors (the bundled types) or from a FileDescriptorSet (what
    `protoc --descriptor_set_out` writes, for a user's own types), and a
    printer that walks wire-format bytes with those types:

        zshm_pbdecode_t *types = zshm_pbdecode_new ();
        zshm_pbdecode_load_file (types, "mine.desc", error, sizeof error);
        zshm_pbdecode_add_protobuf_c (types, &zshm__market__tick__descriptor);
        zshm_pbdecode_print (types, stdout, "zshm.market.Tick", data, size,
                             ZSHM_PBDECODE_TEXT, 0);
        zshm_pbdecode_destroy (&types);

    Text output is protoc's text format, as `protoc --decode=TYPE` prints
    it (fields in number order, unknown fields last, map entries sorted by
    key); zshm_pbdecode_print_raw prints like `protoc --decode_raw`.  JSON
    output is one line: proto3's JSON mapping with the .proto field names
    (64-bit integers as strings, bytes as base64, enums by name), plus
    unknown fields under their numbers.

    Everything it reads is treated as hostile: the payload bytes and the
    descriptor set alike.  Varints, lengths and nesting are bounded; bytes
    that do not parse give -1 with errno EPROTO and print nothing.
    =========================================================================
*/

#ifndef ZSHM_PBDECODE_H_INCLUDED
#define ZSHM_PBDECODE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

typedef struct _zshm_pbdecode_t zshm_pbdecode_t;

//  Output formats.
typedef enum {
    ZSHM_PBDECODE_TEXT,         //  protoc's text format, several lines
    ZSHM_PBDECODE_JSON          //  one JSON value on one line, no newline
} zshm_pbdecode_format_t;

//  Deepest nesting of messages and groups followed (protobuf's own
//  default recursion limit).
#define ZSHM_PBDECODE_DEPTH_MAX 100

//  Largest descriptor set file read, bytes.
#define ZSHM_PBDECODE_FILE_MAX (64 * 1024 * 1024)

//  Create an empty set of types.  Returns a new set owned by the caller,
//  or NULL with errno ENOMEM.
zshm_pbdecode_t *
    zshm_pbdecode_new (void);

//  Destroy a set of types.  Safe to call twice; nulls the caller's pointer.
void
    zshm_pbdecode_destroy (zshm_pbdecode_t **self_p);

//  Add the messages and enums of a serialized FileDescriptorSet.  Types
//  already known keep their first definition.  Returns 0, or -1 with errno
//  EPROTO (not a valid descriptor set) or ENOMEM, and a one-line reason in
//  error[] when error is not NULL.  On failure the set may hold some of
//  the file's types.
int
    zshm_pbdecode_load_set (zshm_pbdecode_t *self, const void *data, size_t size,
                            char *error, size_t error_size);

//  Read a FileDescriptorSet file (at most ZSHM_PBDECODE_FILE_MAX bytes) and
//  add it as zshm_pbdecode_load_set does.  Returns 0 or -1 with errno (the
//  file's errors too, EFBIG if too large) and a reason in error[].
int
    zshm_pbdecode_load_file (zshm_pbdecode_t *self, const char *path,
                             char *error, size_t error_size);

//  Add a protobuf-c message type and every type it refers to.  Returns 0,
//  or -1 with errno ENOMEM.
int
    zshm_pbdecode_add_protobuf_c (zshm_pbdecode_t *self,
                                  const ProtobufCMessageDescriptor *descriptor);

//  True if a message type of this full name ("pkg.Message") is known.
bool
    zshm_pbdecode_knows (zshm_pbdecode_t *self, const char *type_name);

//  Number of message types known.
size_t
    zshm_pbdecode_size (zshm_pbdecode_t *self);

//  Print `size` bytes at `data` decoded as message type `type_name`.  Text
//  lines are indented by `indent` spaces and each ends with a newline; JSON
//  is one object with no newline.  Prints only if the whole message
//  parses.  Returns 0, or -1 with errno ENOENT (unknown type), EPROTO
//  (bytes do not parse as that type) or ENOMEM.
int
    zshm_pbdecode_print (zshm_pbdecode_t *self, FILE *out, const char *type_name,
                         const void *data, size_t size, zshm_pbdecode_format_t format,
                         int indent);

//  Print bytes without a schema, as `protoc --decode_raw` does: field
//  numbers, varints in decimal, fixed32/fixed64 in hex, length-delimited
//  fields as nested messages when they parse as one, else as strings.  In
//  JSON, an object from field numbers to arrays of values.  Prints only if
//  the bytes parse as a message.  Returns 0, or -1 with errno EPROTO or
//  ENOMEM.
int
    zshm_pbdecode_print_raw (FILE *out, const void *data, size_t size,
                             zshm_pbdecode_format_t format, int indent);

//  Self test of this class.
void
    zshm_pbdecode_test (bool verbose);

#endif
