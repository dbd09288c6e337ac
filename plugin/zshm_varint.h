/*  =========================================================================
    zshm_varint - protobuf's base-128 varints (private, never installed)

    One reading of the wire format for every part of zshm that speaks it:
    the protobuf codec (zshm_codec.c), the bridge's batch frames
    (zshm_bridge.c) and the tools' schema-less decoder (zshm_pbdecode.c).
    The rule is protobuf's own: at most ten bytes, and bits past the 64th
    (in the tenth byte) are dropped.
    =========================================================================
*/

#ifndef ZSHM_VARINT_H_INCLUDED
#define ZSHM_VARINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Longest varint, bytes.
#define ZSHM_VARINT_MAX 10

//  Bytes of v as a varint: 1 to 10.
static inline size_t
zshm_varint_size (uint64_t v)
{
    unsigned bits = 64 - (unsigned) __builtin_clzll (v | 1);
    return (bits * 9 + 64) / 64;
}

//  Write v at out (room for zshm_varint_size (v) bytes); returns the byte
//  after it.
static inline uint8_t *
zshm_varint_put (uint8_t *out, uint64_t v)
{
    while (v >= 0x80) {
        *out++ = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    *out++ = (uint8_t) v;
    return out;
}

//  Read a varint from [*at_p, end) into *value_p and move *at_p past it;
//  false (nothing moved) if it runs past end or past ten bytes.
static inline bool
zshm_varint_get (const uint8_t **at_p, const uint8_t *end, uint64_t *value_p)
{
    const uint8_t *at = *at_p;
    if (at < end && *at < 0x80) {
        *value_p = *at;
        *at_p = at + 1;
        return true;
    }
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 7 * ZSHM_VARINT_MAX; shift += 7) {
        if (at == end)
            return false;
        uint8_t byte = *at++;
        value |= (uint64_t) (byte & 0x7f) << shift;
        if (byte < 0x80) {
            *at_p = at;
            *value_p = value;
            return true;
        }
    }
    return false;
}

#endif
