/*  =========================================================================
    soak - what the soak's publisher sends and its subscribers check

    Every message is [SOAK_TOPIC][data], the data a self-proving test
    message (tests/testutil.h): its sequence number, size and checksum in a
    16-byte header, then bytes derived from the sequence number.  The size
    too derives from the sequence number, so a subscriber knows what to
    expect of every message without any shared state:

        70 %  16 - 256 bytes       (one slot)
        25 %  257 - 2048 bytes     (one to three 1 KiB slots)
         5 %  2049 - 16384 bytes   (up to 17 slots: fragmented)
    =========================================================================
*/

#ifndef SOAK_H_INCLUDED
#define SOAK_H_INCLUDED

#include "../testutil.h"

#define SOAK_TOPIC "soak"

//  Size of message `seq`, bytes.
static inline size_t
soak_size (uint64_t seq)
{
    uint64_t pick = tu_mix64 (seq ^ 0x50a4) % 100;
    if (pick < 70)
        return tu_msg_size (seq, TU_MSG_MIN, 256);
    if (pick < 95)
        return tu_msg_size (seq, 257, 2048);
    return tu_msg_size (seq, 2049, 16384);
}

#define SOAK_SIZE_MAX 16384

//  A flag for SIGINT/SIGTERM, so that programs print their totals.
static volatile sig_atomic_t soak_stop = 0;

static void
soak_on_signal (int signum)
{
    soak_stop = 1;
}

//  Catch SIGINT and SIGTERM ourselves (CZMQ's handler would turn them into
//  zsys_interrupted and EINTR everywhere), without SA_RESTART so that a
//  blocked call returns.
static inline void
soak_catch_signals (void)
{
    zsys_handler_set (NULL);
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = soak_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
}

#endif
