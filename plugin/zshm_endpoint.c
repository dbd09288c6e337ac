/*  =========================================================================
    zshm_endpoint - parse shm://NAME?option=value&... (private)
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_endpoint.h"
#include "zshm_record.h"

//  A decimal size within [low, high] into *value_p; 0, or -1 if it is not.
static int
s_parse_size (const char *text, size_t low, size_t high, size_t *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno || *end || value < low || value > high)
        return -1;
    *value_p = (size_t) value;
    return 0;
}

//  One option=value; 0, or -1 if it is unknown or its value is bad.
static int
s_parse_option (zshm_endpoint_t *self, const char *option, const char *value)
{
    size_t number;
    if (strcmp (option, "capacity") == 0)
        return s_parse_size (value, 2, 1u << 30, &self->capacity);
    if (strcmp (option, "slot") == 0)
        return s_parse_size (value, ZSHM_RECORD_SLOT_MIN, 1u << 30, &self->slot);
    if (strcmp (option, "maxmsg") == 0)
        return s_parse_size (value, ZSHM_RECORD_BODY_MIN, ZSHM_RECORD_TOTAL_MAX, &self->maxmsg);
    if (strcmp (option, "replace") == 0) {
        if (s_parse_size (value, 0, 1, &number))
            return -1;
        self->replace = number == 1;
        return 0;
    }
    if (strcmp (option, "mode") == 0) {
        if (!value || *value < '0' || *value > '7')
            return -1;
        char *end;
        errno = 0;
        unsigned long mode = strtoul (value, &end, 8);
        if (errno || *end || mode > 0777)
            return -1;
        self->mode = (unsigned) mode;
        return 0;
    }
    if (strcmp (option, "idle") == 0)
        return zshm_idle_parse (value, &self->idle);
    if (strcmp (option, "from") == 0 && value
    &&  (strcmp (value, "latest") == 0 || strcmp (value, "oldest") == 0)) {
        self->from_oldest = strcmp (value, "oldest") == 0;
        return 0;
    }
    return -1;
}

int
zshm_endpoint_parse (char *spec, zshm_endpoint_t *self)
{
    memset (self, 0, sizeof *self);
    self->capacity = ZSHM_ENDPOINT_CAPACITY;
    self->slot = ZSHM_ENDPOINT_SLOT;
    self->maxmsg = ZSHM_ENDPOINT_MAXMSG;
    self->mode = ZSHM_ENDPOINT_MODE;
    self->idle = ZSHM_IDLE_SPIN;
    if (strncmp (spec, "shm://", 6)) {
        errno = EINVAL;
        return -1;
    }
    char *name = spec + 6;
    char *options = strchr (name, '?');
    if (options)
        *options++ = 0;
    if (!zshm_ring_name_valid (name)) {
        errno = EINVAL;
        return -1;
    }
    self->name = name;
    char *saveptr = NULL;
    for (char *option = options ? strtok_r (options, "&", &saveptr) : NULL; option;
         option = strtok_r (NULL, "&", &saveptr)) {
        char *value = strchr (option, '=');
        if (value)
            *value++ = 0;
        if (s_parse_option (self, option, value)) {
            errno = EINVAL;
            return -1;
        }
    }
    return 0;
}
