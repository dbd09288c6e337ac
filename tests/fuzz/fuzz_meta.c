/*  =========================================================================
    fuzz_meta - libFuzzer target for the bridge's metadata decoder

    Each input is one frame as a hostile peer would put it on a bridge
    link: it goes through zshm_bridge_meta_decode (frame 1 of a message)
    and zshm_bridge_heartbeat_decode (frame 2 of a heartbeat).  The target
    checks that:

      - nothing crashes, reads out of bounds or leaks (the sanitizers);
        the decoders allocate nothing on the heap, so a leak is a bug too;
      - read as a batch frame (Meta.batch), the input is either refused
        (EPROTO, EMSGSIZE) or read back within its bounds, message for
        message, and built again to the same messages;
      - a failure is EMSGSIZE for frames over ZSHM_BRIDGE_META_MAX and
        EPROTO otherwise, and leaves the output zeroed;
      - whatever decodes honours what the bridge relies on (version, link
        identity, frame count, NUL-terminated strings) and survives a
        round trip: encoded again and decoded, it is the same.

    Build: clang -fsanitize=fuzzer,address,undefined with the bridge's
    convenience library (bridge/libzshm_bridge.la), libzshm_types, libzshm
    and the generated headers (-I build/proto -I bridge); the wiring lives
    with the other fuzz targets in tests/fuzz.
    =========================================================================
*/

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_bridge.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A zeroed buffer of `size` bytes?
static bool
s_zeroed (const void *buffer, size_t size)
{
    const unsigned char *bytes = (const unsigned char *) buffer;
    for (size_t index = 0; index < size; index++)
        if (bytes [index])
            return false;
    return true;
}

static void
s_check_failure (size_t size, const void *output, size_t output_size)
{
    if (size > ZSHM_BRIDGE_META_MAX ? errno != EMSGSIZE : errno != EPROTO)
        abort ();
    if (!s_zeroed (output, output_size))
        abort ();
}

static bool
s_terminated (const char *text, size_t size)
{
    return memchr (text, 0, size) != NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    unsigned char packed [ZSHM_BRIDGE_META_MAX];

    zshm_bridge_meta_t meta, again;
    errno = 0;
    if (zshm_bridge_meta_decode (data, size, &meta) == 0) {
        if (meta.version != ZSHM_BRIDGE_META_VERSION || meta.link_sequence == 0
        ||  meta.link_incarnation == 0
        ||  (meta.batch == 0 ? meta.frames == 0 : meta.batch < 2 || meta.frames != 0)
        ||  !s_terminated (meta.type_name, sizeof meta.type_name)
        ||  !s_terminated (meta.channel, sizeof meta.channel)
        ||  !s_terminated (meta.origin_host, sizeof meta.origin_host))
            abort ();
        ssize_t packed_size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
        //  A decoded Meta holds nothing longer than its input had, so it
        //  always fits again.
        if (packed_size < 0)
            abort ();
        if (zshm_bridge_meta_decode (packed, (size_t) packed_size, &again) != 0
        ||  memcmp (&meta, &again, sizeof meta) != 0)
            abort ();
    }
    else
        s_check_failure (size, &meta, sizeof meta);

    zshm_bridge_heartbeat_t heartbeat, heartbeat_again;
    errno = 0;
    if (zshm_bridge_heartbeat_decode (data, size, &heartbeat) == 0) {
        if (heartbeat.version != ZSHM_BRIDGE_META_VERSION || heartbeat.link_incarnation == 0
        ||  !s_terminated (heartbeat.channel, sizeof heartbeat.channel)
        ||  !s_terminated (heartbeat.origin_host, sizeof heartbeat.origin_host))
            abort ();
        ssize_t packed_size = zshm_bridge_heartbeat_encode (&heartbeat, packed, sizeof packed);
        if (packed_size < 0)
            abort ();
        if (zshm_bridge_heartbeat_decode (packed, (size_t) packed_size, &heartbeat_again) != 0
        ||  memcmp (&heartbeat, &heartbeat_again, sizeof heartbeat) != 0)
            abort ();
    }
    else
        s_check_failure (size, &heartbeat, sizeof heartbeat);

    //  The same bytes as a batch frame (Meta.batch) after a count byte:
    //  checked, then read back whole and built again to the same messages.
    if (size >= 1) {
        uint32_t count = 1 + data [0] % 8;
        const uint8_t *frame = data + 1;
        size_t frame_size = size - 1;
        errno = 0;
        if (zshm_bridge_batch_check (frame, frame_size, count, 16, 1 << 20) == 0) {
            const void *entry_data [16], *again_data [16];
            size_t entry_sizes [16], again_sizes [16];
            zshm_bridge_entry_t entry = { 0, 0, entry_data, entry_sizes };
            zshm_bridge_entry_t again_entry = { 0, 0, again_data, again_sizes };
            zshm_bridge_batch_t batch, rebuilt;
            uint8_t *built = NULL;
            size_t built_size = 0, built_max = 0;
            uint64_t previous = 7;
            zshm_bridge_batch_start (&batch, frame, frame_size, count, 7);
            uint32_t read = 0;
            while (zshm_bridge_batch_next (&batch, &entry)) {
                if (entry.frames < 1 || entry.frames > 16)
                    abort ();
                for (size_t index = 0; index < entry.frames; index++)
                    if ((const uint8_t *) entry_data [index] < frame
                    ||  (const uint8_t *) entry_data [index] + entry_sizes [index]
                        > frame + frame_size)
                        abort ();
                if (zshm_bridge_batch_add (&built, &built_size, &built_max,
                                           read ? entry.source_sequence - previous : 0,
                                           entry_data, entry_sizes, entry.frames))
                    abort ();
                previous = entry.source_sequence;
                read++;
            }
            if (read != count || zshm_bridge_batch_check (built, built_size, count, 16,
                                                          1 << 20) != 0)
                abort ();
            zshm_bridge_batch_start (&batch, frame, frame_size, count, 7);
            zshm_bridge_batch_start (&rebuilt, built, built_size, count, 7);
            while (zshm_bridge_batch_next (&batch, &entry)) {
                if (!zshm_bridge_batch_next (&rebuilt, &again_entry)
                ||  again_entry.frames != entry.frames)
                    abort ();
                //  The first message's increase is not carried over (0)
                for (size_t index = 0; index < entry.frames; index++)
                    if (again_sizes [index] != entry_sizes [index]
                    ||  memcmp (again_data [index], entry_data [index], entry_sizes [index]))
                        abort ();
            }
            free (built);
        }
        else
        if (errno != EPROTO && errno != EMSGSIZE)
            abort ();
    }
    return 0;
}
