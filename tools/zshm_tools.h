/*  =========================================================================
    zshm_tools - the subcommands of the `zshm` program

    Each subcommand is a main of its own: it parses its arguments, prints
    --help, exits 0 on success and 1 with a one-line reason on stderr.
    Tools use only libzshm's public API.
    =========================================================================
*/

#ifndef ZSHM_TOOLS_H_INCLUDED
#define ZSHM_TOOLS_H_INCLUDED

//  zshm bench: latency and throughput of zshm against ZeroMQ (zshm_bench.c)
int
    zshm_bench_main (int argc, char **argv);

#endif
