/*  Self tests of the tools' helpers (tools/zshm_toolutil.c):
    test_tool_util [-v] */

#include <stdio.h>
#include <string.h>

#include "zshm_toolutil.h"

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    zshm_toolutil_test (verbose);
    printf ("test_tool_util: passed\n");
    return 0;
}
