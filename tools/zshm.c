/*  =========================================================================
    zshm - operator tools for zshm channels

    zshm COMMAND [ARGS...]; `zshm --help` lists the commands and
    `zshm COMMAND --help` explains one.
    =========================================================================
*/

#include <stdio.h>
#include <string.h>

#include "zshm_tools.h"

typedef struct {
    const char *name;                   //  subcommand
    int (*main) (int, char **);         //  its entry point
    const char *summary;                //  one line for --help
} s_command_t;

static const s_command_t s_commands [] = {
    { "stat", zshm_stat_main, "show channels, writers, rates and readers' lag" },
    { "cat", zshm_cat_main, "print a channel's messages, decoding protobuf" },
    { "clean", zshm_clean_main, "remove channels whose writer is dead" },
    { "bench", zshm_bench_main, "measure zshm against ZeroMQ on this machine" },
};

#define S_COMMANDS (sizeof s_commands / sizeof s_commands [0])

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: zshm COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t index = 0; index < S_COMMANDS; index++)
        fprintf (out, "  %-8s %s\n", s_commands [index].name, s_commands [index].summary);
    fprintf (out, "\n'zshm COMMAND --help' describes a command.\n");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "zshm: missing command (try 'zshm --help')\n");
        return 1;
    }
    if (strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0
    ||  strcmp (argv [1], "help") == 0) {
        s_usage (stdout);
        return 0;
    }
    for (size_t index = 0; index < S_COMMANDS; index++)
        if (strcmp (argv [1], s_commands [index].name) == 0)
            return s_commands [index].main (argc - 1, argv + 1);
    fprintf (stderr, "zshm: unknown command '%s' (try 'zshm --help')\n", argv [1]);
    return 1;
}
