/*  =========================================================================
    zshm_endpoint - parse shm://NAME?option=value&... (private)

    One endpoint string serves both sides of a channel, so the publisher
    and the subscriber share this parser: every option is checked here,
    and each side uses the ones that concern it.
    =========================================================================
*/

#ifndef ZSHM_ENDPOINT_H_INCLUDED
#define ZSHM_ENDPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "zshm_reader.h"

//  Defaults (documented in zshm_pub.h and zshm_sub.h).
#define ZSHM_ENDPOINT_CAPACITY 4096
#define ZSHM_ENDPOINT_SLOT     1024
#define ZSHM_ENDPOINT_MAXMSG   (16u * 1024 * 1024)
#define ZSHM_ENDPOINT_MODE     0600

typedef struct {
    const char *name;           //  channel name, inside the parsed spec
    size_t capacity;            //  publisher: slots
    size_t slot;                //  publisher: bytes per slot, record included
    size_t maxmsg;              //  both: largest message body
    unsigned mode;              //  publisher: file mode
    bool replace;               //  publisher: replace another layout
    zshm_idle_t idle;           //  subscriber: how recv waits
    bool from_oldest;           //  subscriber: replay what the ring holds
} zshm_endpoint_t;

//  Parse `spec`, a writable "shm://NAME[?options]" (it is cut up in place),
//  into *endpoint, starting from the defaults.  Returns 0, or -1 with errno
//  EINVAL for a bad name, an unknown option or a value out of range.
int
    zshm_endpoint_parse (char *spec, zshm_endpoint_t *endpoint);

#endif
