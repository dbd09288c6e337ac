/*  =========================================================================
    tsan_zmq - show ThreadSanitizer the ordering ZeroMQ messages give

    Linked only into the ThreadSanitizer builds of the tests (make
    check-tsan).  libzmq and CZMQ are not built with -fsanitize=thread, so
    TSan cannot see that a message sent by one thread happens before its
    receipt by another: zsock_signal/zsock_wait handshakes, zmsg_send of a
    frame whose bytes the sender just wrote, an actor's start arguments on
    its creator's stack all look like races between our own threads.

    This file defines the libzmq send and receive functions in the test
    program itself, so that every caller (our code and CZMQ, whose calls go
    through the PLT) comes here first; each forwards to the real function
    (dlsym RTLD_NEXT) and adds a release before a send and an acquire after
    a successful receive, on one synchronisation object shared by all
    sockets.  That is coarser than the truth (a receive is ordered after
    every earlier send, not only the one it received), so it can hide a
    race between two threads that also talk through ZeroMQ; it cannot
    invent one.

    Accesses libzmq and CZMQ make inside themselves (their I/O threads'
    memcpy, malloc and free) are still seen by TSan's interceptors; the
    suppressions below ignore those, and nothing else.
    =========================================================================
*/

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <zmq.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);
const char *__tsan_default_suppressions (void);

//  The synchronisation object every send releases and every receive
//  acquires.
static char s_sync;

//  Look up the real function once per wrapper.  Relaxed atomics: two
//  threads racing here store the same pointer.
#define S_REAL(name) \
    static __typeof__ (name) *s_real_##name; \
    __typeof__ (name) *real = __atomic_load_n (&s_real_##name, __ATOMIC_RELAXED); \
    if (!real) { \
        real = (__typeof__ (name) *) dlsym (RTLD_NEXT, #name); \
        __atomic_store_n (&s_real_##name, real, __ATOMIC_RELAXED); \
    }

int
zmq_msg_send (zmq_msg_t *msg, void *socket, int flags)
{
    S_REAL (zmq_msg_send);
    __tsan_release (&s_sync);
    return real (msg, socket, flags);
}

int
zmq_msg_recv (zmq_msg_t *msg, void *socket, int flags)
{
    S_REAL (zmq_msg_recv);
    int rc = real (msg, socket, flags);
    if (rc >= 0)
        __tsan_acquire (&s_sync);
    return rc;
}

int
zmq_sendmsg (void *socket, zmq_msg_t *msg, int flags)
{
    S_REAL (zmq_sendmsg);
    __tsan_release (&s_sync);
    return real (socket, msg, flags);
}

int
zmq_recvmsg (void *socket, zmq_msg_t *msg, int flags)
{
    S_REAL (zmq_recvmsg);
    int rc = real (socket, msg, flags);
    if (rc >= 0)
        __tsan_acquire (&s_sync);
    return rc;
}

int
zmq_send (void *socket, const void *buf, size_t len, int flags)
{
    S_REAL (zmq_send);
    __tsan_release (&s_sync);
    return real (socket, buf, len, flags);
}

int
zmq_send_const (void *socket, const void *buf, size_t len, int flags)
{
    S_REAL (zmq_send_const);
    __tsan_release (&s_sync);
    return real (socket, buf, len, flags);
}

int
zmq_recv (void *socket, void *buf, size_t len, int flags)
{
    S_REAL (zmq_recv);
    int rc = real (socket, buf, len, flags);
    if (rc >= 0)
        __tsan_acquire (&s_sync);
    return rc;
}

//  TSan reads these at startup.  called_from_lib ignores the accesses an
//  uninstrumented library makes through TSan's interceptors (memcpy, free,
//  send...): libzmq's I/O threads copy and free message buffers that our
//  threads filled, ordered by libzmq's own lock-free queues, which TSan
//  cannot see; libzmq is C++ and does some of that through libstdc++
//  (nothing of ours is C++).
const char *
__tsan_default_suppressions (void)
{
    return "called_from_lib:libzmq.so\n"
           "called_from_lib:libczmq.so\n"
           "called_from_lib:libstdc++.so\n";
}
