/*  =========================================================================
    zshm_guard - survive a segment that shrinks under its mappings

    See zshm_guard.h.  The table is a fixed array of atomics so that the
    signal handler reads it without locks: a slot is claimed by CAS on its
    base, filled, then published by storing its size (release); the handler
    loads size first (acquire) and ignores slots whose size is 0.
    =========================================================================
*/

#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zshm_guard.h"

#define ZSHM_GUARDS 256

typedef struct {
    _Atomic uintptr_t base;     //  start of the mapping, 0 when free
    _Atomic size_t size;        //  bytes; 0 while being claimed or freed
    _Atomic bool tripped;       //  a fault was caught in it
} s_guard_t;

static s_guard_t s_guards [ZSHM_GUARDS];
static struct sigaction s_previous;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_on_sigbus (int signum, siginfo_t *info, void *context)
{
    uintptr_t address = (uintptr_t) info->si_addr;
    for (int index = 0; index < ZSHM_GUARDS; index++) {
        s_guard_t *guard = &s_guards [index];
        //  Acquire: pairs with the release in zshm_guard_add, so base is
        //  the one that belongs with this size.
        size_t size = atomic_load_explicit (&guard->size, memory_order_acquire);
        uintptr_t base = atomic_load_explicit (&guard->base, memory_order_relaxed);
        if (size && address >= base && address - base < size) {
            uintptr_t page = address & ~((uintptr_t) sysconf (_SC_PAGESIZE) - 1);
            void *zero = mmap ((void *) page, (size_t) sysconf (_SC_PAGESIZE),
                               PROT_READ | PROT_WRITE,
                               MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (zero != MAP_FAILED) {
                atomic_store_explicit (&guard->tripped, true, memory_order_relaxed);
                return;         //  the access retries on the zero page
            }
        }
    }
    //  Not ours: behave as if we were never here.
    if (s_previous.sa_flags & SA_SIGINFO)
        s_previous.sa_sigaction (signum, info, context);
    else
    if (s_previous.sa_handler != SIG_DFL && s_previous.sa_handler != SIG_IGN)
        s_previous.sa_handler (signum);
    else {
        //  Restore the default action; returning re-executes the faulting
        //  access, which then takes the default (fatal) path.
        struct sigaction fallback;
        memset (&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        sigaction (SIGBUS, &fallback, NULL);
    }
}

static void
s_install (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_sigaction = s_on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
    sigemptyset (&action.sa_mask);
    sigaction (SIGBUS, &action, &s_previous);
}

int
zshm_guard_add (void *base, size_t size)
{
    pthread_once (&s_once, s_install);
    for (int index = 0; index < ZSHM_GUARDS; index++) {
        s_guard_t *guard = &s_guards [index];
        uintptr_t expected = 0;
        if (atomic_compare_exchange_strong (&guard->base, &expected, (uintptr_t) base)) {
            atomic_store_explicit (&guard->tripped, false, memory_order_relaxed);
            //  Release: the handler that sees this size sees our base.
            atomic_store_explicit (&guard->size, size, memory_order_release);
            return index;
        }
    }
    return -1;
}

void
zshm_guard_remove (int handle)
{
    if (handle < 0 || handle >= ZSHM_GUARDS)
        return;
    s_guard_t *guard = &s_guards [handle];
    atomic_store_explicit (&guard->size, 0, memory_order_release);
    atomic_store_explicit (&guard->base, 0, memory_order_release);
}

bool
zshm_guard_tripped (int handle)
{
    if (handle < 0 || handle >= ZSHM_GUARDS)
        return false;
    return atomic_load_explicit (&s_guards [handle].tripped, memory_order_relaxed);
}
