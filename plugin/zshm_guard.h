/*  =========================================================================
    zshm_guard - survive a segment that shrinks under its mappings

    Touching a shared mapping beyond the end of its file raises SIGBUS, so
    anyone able to ftruncate a channel could kill every process that maps
    it.  Rings register their mappings here; a SIGBUS handler (installed
    once, chaining to whatever handler was there before) recognises faults
    inside a registered mapping, puts a private zero page where the vanished
    page was, marks the mapping tripped and lets the access retry.  Zeroed
    slots read as "nothing published yet", and the ring's liveness probe
    reports a tripped (or shrunk) segment as a dead writer, so readers get
    EPIPE instead of dying.  Faults anywhere else go to the previous handler
    (or the default action) exactly as before.

    Private to the library.
    =========================================================================
*/

#ifndef ZSHM_GUARD_H_INCLUDED
#define ZSHM_GUARD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Guard a mapping.  Returns a handle >= 0, or -1 if the table is full (the
//  mapping then works unguarded).
int
    zshm_guard_add (void *base, size_t size);

//  Stop guarding; call before unmapping.  Ignores -1.
void
    zshm_guard_remove (int handle);

//  True if a fault was caught in this mapping.
bool
    zshm_guard_tripped (int handle);

#endif
