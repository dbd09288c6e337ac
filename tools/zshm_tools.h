/*  =========================================================================
    zshm_tools - the subcommands of the `zshm` program

    Each subcommand is a main of its own: it parses its arguments, prints
    --help, exits 0 on success and 1 with a one-line reason on stderr.
    Tools use only libzshm's public API.
    =========================================================================
*/

#ifndef ZSHM_TOOLS_H_INCLUDED
#define ZSHM_TOOLS_H_INCLUDED

//  zshm stat: channels, writers, rates and readers' lag (zshm_stat.c)
int
    zshm_stat_main (int argc, char **argv);

//  zshm cat: print a channel's messages, decoding protobuf (zshm_cat.c)
int
    zshm_cat_main (int argc, char **argv);

//  zshm clean: remove channels whose writer is dead (zshm_clean.c)
int
    zshm_clean_main (int argc, char **argv);

//  zshm bench: latency and throughput of zshm against ZeroMQ (zshm_bench.c)
int
    zshm_bench_main (int argc, char **argv);

#endif
