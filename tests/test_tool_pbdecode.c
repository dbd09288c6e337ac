/*  =========================================================================
    test_tool_pbdecode - the self test of tools/zshm_pbdecode.c, and a
    small driver for tests/test_tool_pbdecode.sh

    test_tool_pbdecode [-v]                     run the self test
    test_tool_pbdecode --raw [--json]           decode stdin without a schema
    test_tool_pbdecode --type SET TYPE [--json] decode stdin as TYPE from the
                                                FileDescriptorSet file SET

    The driver prints what zshm cat would print for a payload and exits 0,
    or 1 with a reason on stderr (EPROTO: does not parse).  With --batch
    first (test_tool_pbdecode --batch --raw ...), stdin is a sequence of
    cases, each a 4-byte little-endian length and that many bytes, and
    stdout a sequence of results, each a 4-byte status (0 or errno), a
    4-byte length and the output: one process for many cases.
    =========================================================================
*/

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_pbdecode.h"

//  Largest input the driver reads.
#define S_INPUT_MAX (16 * 1024 * 1024)

static void
s_put_u32 (FILE *out, uint32_t value)
{
    for (int index = 0; index < 4; index++)
        fputc ((int) ((value >> (8 * index)) & 0xff), out);
}

static bool
s_get_u32 (FILE *in, uint32_t *value_p)
{
    uint8_t bytes [4];
    if (fread (bytes, 1, 4, in) != 4)
        return false;
    *value_p = (uint32_t) bytes [0] | (uint32_t) bytes [1] << 8
             | (uint32_t) bytes [2] << 16 | (uint32_t) bytes [3] << 24;
    return true;
}

//  Decode one input: raw when types is NULL.  Returns 0 or errno.
static int
s_decode (FILE *out, zshm_pbdecode_t *types, const char *type, const void *data,
          size_t size, zshm_pbdecode_format_t format)
{
    int rc = types ? zshm_pbdecode_print (types, out, type, data, size, format, 0)
                   : zshm_pbdecode_print_raw (out, data, size, format, 0);
    return rc ? errno : 0;
}

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv [1], "-v") == 0) {
        zshm_pbdecode_test (argc > 1);
        printf ("test_tool_pbdecode: passed\n");
        return 0;
    }
    bool batch = strcmp (argv [1], "--batch") == 0;
    if (batch) {
        argv++;
        argc--;
    }
    bool json = strcmp (argv [argc - 1], "--json") == 0;
    zshm_pbdecode_format_t format = json ? ZSHM_PBDECODE_JSON : ZSHM_PBDECODE_TEXT;
    zshm_pbdecode_t *types = NULL;
    const char *type = NULL;
    if (argc >= 2 && strcmp (argv [1], "--type") == 0 && argc >= 4) {
        types = zshm_pbdecode_new ();
        type = argv [3];
        char error [256];
        if (!types || zshm_pbdecode_load_file (types, argv [2], error, sizeof error)) {
            fprintf (stderr, "test_tool_pbdecode: %s\n", error);
            zshm_pbdecode_destroy (&types);
            return 1;
        }
    }
    else
    if (argc < 2 || strcmp (argv [1], "--raw") != 0) {
        fprintf (stderr, "usage: test_tool_pbdecode [-v | [--batch] --raw | [--batch] "
                         "--type SET TYPE] [--json]\n");
        return 1;
    }
    int rc = 0;
    uint32_t size;
    if (batch) {
        while (rc == 0 && s_get_u32 (stdin, &size)) {
            char *input = (char *) malloc (size ? size : 1);
            if (!input || fread (input, 1, size, stdin) != size) {
                free (input);
                rc = 1;
                break;
            }
            char *text = NULL;
            size_t length = 0;
            FILE *out = open_memstream (&text, &length);
            int status = out ? s_decode (out, types, type, input, size, format) : ENOMEM;
            if (out)
                fclose (out);
            s_put_u32 (stdout, (uint32_t) status);
            s_put_u32 (stdout, (uint32_t) length);
            fwrite (text, 1, length, stdout);
            free (text);
            free (input);
        }
    }
    else {
        //  Grow the buffer as input comes: a 16 MiB block up front is
        //  slow under AddressSanitizer.
        size_t used = 0, limit = 4096;
        char *input = (char *) malloc (limit);
        while (input) {
            used += fread (input + used, 1, limit - used, stdin);
            if (used < limit || limit >= S_INPUT_MAX)
                break;
            char *grown = (char *) realloc (input, limit * 2);
            if (!grown) {
                free (input);
                input = NULL;
                break;
            }
            input = grown;
            limit *= 2;
        }
        int status = input ? s_decode (stdout, types, type, input, used, format) : ENOMEM;
        if (status) {
            fprintf (stderr, "test_tool_pbdecode: %s\n", strerror (status));
            rc = 1;
        }
        free (input);
    }
    zshm_pbdecode_destroy (&types);
    return rc;
}
