/*  Runs every class's self test (CZMQ style): zshm_selftest [-v] [CLASS] */

#include <stdio.h>
#include <string.h>

#include "zshm.h"

typedef struct {
    const char *name;           //  class name
    void (*test) (bool);        //  its self test
} test_item_t;

static test_item_t s_tests [] = {
    { "zshm_ring", zshm_ring_test },
    { "zshm_reader", zshm_reader_test },
    { "zshm_pub", zshm_pub_test },
    { "zshm_sub", zshm_sub_test },
    { "zshm_proto", zshm_proto_test },
    { "zshm_publisher", zshm_publisher_test },
    { "zshm_subscriber", zshm_subscriber_test },
};

int
main (int argc, char **argv)
{
    bool verbose = false;
    const char *only = NULL;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "-v") == 0)
            verbose = true;
        else
            only = argv [arg];
    }
    int ran = 0;
    for (size_t index = 0; index < sizeof s_tests / sizeof s_tests [0]; index++)
        if (!only || strcmp (only, s_tests [index].name) == 0) {
            s_tests [index].test (verbose);
            ran++;
        }
    if (!ran) {
        fprintf (stderr, "zshm_selftest: no class named %s\n", only);
        return 1;
    }
    printf ("zshm_selftest: %d classes passed\n", ran);
    return 0;
}
