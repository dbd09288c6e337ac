/*  =========================================================================
    test_tool_pbdecode - the self test of tools/zshm_pbdecode.c, and a
    small driver for tests/test_tool_pbdecode.sh

    test_tool_pbdecode [-v]                     run the self test
    test_tool_pbdecode --raw [--json]           decode stdin without a schema
    test_tool_pbdecode --type SET TYPE [--json] decode stdin as TYPE from the
                                                FileDescriptorSet file SET

    The driver prints what zshm cat would print for a payload and exits 0,
    or 1 with a reason on stderr (EPROTO: does not parse).
    =========================================================================
*/

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_pbdecode.h"

//  Largest input the driver reads.
#define S_INPUT_MAX (16 * 1024 * 1024)

int
main (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv [1], "-v") == 0) {
        zshm_pbdecode_test (argc > 1);
        printf ("test_tool_pbdecode: passed\n");
        return 0;
    }
    bool json = strcmp (argv [argc - 1], "--json") == 0;
    zshm_pbdecode_format_t format = json ? ZSHM_PBDECODE_JSON : ZSHM_PBDECODE_TEXT;
    char *input = (char *) malloc (S_INPUT_MAX);
    if (!input)
        return 1;
    size_t size = fread (input, 1, S_INPUT_MAX, stdin);
    int rc = -1;
    if (strcmp (argv [1], "--raw") == 0)
        rc = zshm_pbdecode_print_raw (stdout, input, size, format, 0);
    else
    if (strcmp (argv [1], "--type") == 0 && argc >= 4) {
        zshm_pbdecode_t *types = zshm_pbdecode_new ();
        char error [256];
        if (!types || zshm_pbdecode_load_file (types, argv [2], error, sizeof error)) {
            fprintf (stderr, "test_tool_pbdecode: %s\n", error);
            free (input);
            zshm_pbdecode_destroy (&types);
            return 1;
        }
        rc = zshm_pbdecode_print (types, stdout, argv [3], input, size, format, 0);
        zshm_pbdecode_destroy (&types);
    }
    else {
        fprintf (stderr, "usage: test_tool_pbdecode [-v | --raw | --type SET TYPE] [--json]\n");
        free (input);
        return 1;
    }
    if (rc)
        fprintf (stderr, "test_tool_pbdecode: %s\n", strerror (errno));
    free (input);
    return rc ? 1 : 0;
}
