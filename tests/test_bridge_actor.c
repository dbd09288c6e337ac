/*  test_bridge_actor - the zshm_bridge class self test, in one process:
    metadata codec round trips and refusals, a serve -> feed route over
    inproc with a plain SUB beside it, and a fake upstream sending garbage,
    gaps and a restarted link.  test_bridge_actor [-v] */

#include <stdio.h>
#include <string.h>

#include "zshm_bridge.h"

int
main (int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp (argv [1], "-v") == 0;
    zshm_bridge_test (verbose);
    printf ("test_bridge_actor: passed\n");
    return 0;
}
