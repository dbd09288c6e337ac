/*  zshm_bridge_pub - publish numbered, checksummed messages for the bridge
    tests.

    zshm_bridge_pub ENDPOINT --count N [--start SEQ] [--size BYTES]
                    [--topics a.,b.] [--rate PER_SECOND]
    zshm_bridge_pub ENDPOINT --stdin 1 [--topics a.,b.]

    With --stdin, one publisher stays up (one writer incarnation) and reads
    lines "COUNT [SIZE [RATE]]" from standard input, publishing each batch
    after the previous one's sequence numbers and printing a line for each.

    Message SEQ is [topic][payload] with topic = topics[SEQ % ntopics] and
    payload (BYTES >= 16, little-endian):
        0   seq       u64
        8   size      u32  payload size
        12  checksum  u32  FNV-1a of the payload with this field zeroed
        16  filler    (seq * 31 + i) & 0xff
    The same format is checked by zshm_bridge_sub and test_bridge_sub.py.
    Prints "published N (SEQ..SEQ)" and exits 0; 1 on a bad argument or a
    failed send. */

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_pub.h"

static uint32_t
s_fnv (const unsigned char *data, size_t size)
{
    uint32_t hash = 2166136261u;
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ data [index]) * 16777619u;
    return hash;
}

static void
s_fill (unsigned char *payload, uint64_t seq, uint32_t size)
{
    memcpy (payload, &seq, 8);
    memcpy (payload + 8, &size, 4);
    memset (payload + 12, 0, 4);
    for (uint32_t index = 16; index < size; index++)
        payload [index] = (unsigned char) ((seq * 31 + index) & 0xff);
    uint32_t checksum = s_fnv (payload, size);
    memcpy (payload + 12, &checksum, 4);
}

//  Publish messages start .. start + count - 1.  0, or 1 on a failed send.
static int
s_publish (zshm_pub_t *pub, char **topic_list, int ntopics, unsigned char *payload,
           long long start, long long count, long long size, long long rate)
{
    int64_t began = zclock_usecs ();
    for (long long index = 0; index < count; index++) {
        uint64_t seq = (uint64_t) (start + index);
        s_fill (payload, seq, (uint32_t) size);
        if (zshm_pub_send (pub, topic_list [seq % (uint64_t) ntopics], payload, (size_t) size)) {
            fprintf (stderr, "zshm_bridge_pub: send %llu: %s\n", (unsigned long long) seq,
                     strerror (errno));
            return 1;
        }
        if (rate > 0) {
            //  Pace: message i is due at began + i / rate seconds.
            int64_t due = began + (int64_t) ((index + 1) * 1000000LL / rate);
            int64_t now = zclock_usecs ();
            if (due > now + 1000)
                zclock_sleep ((int) ((due - now) / 1000));
        }
    }
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: zshm_bridge_pub ENDPOINT --count N [--start SEQ] [--size B] "
                         "[--topics a.,b.] [--rate N]\n");
        return 1;
    }
    const char *endpoint = argv [1];
    long long count = 0, start = 1, size = 64, rate = 0, from_stdin = 0;
    char *topics = strdup ("t.");
    for (int arg = 2; arg + 1 < argc; arg += 2) {
        const char *name = argv [arg], *value = argv [arg + 1];
        if (streq (name, "--count"))
            count = atoll (value);
        else
        if (streq (name, "--start"))
            start = atoll (value);
        else
        if (streq (name, "--size"))
            size = atoll (value);
        else
        if (streq (name, "--rate"))
            rate = atoll (value);
        else
        if (streq (name, "--stdin"))
            from_stdin = atoll (value);
        else
        if (streq (name, "--topics")) {
            free (topics);
            topics = strdup (value);
        }
        else {
            fprintf (stderr, "zshm_bridge_pub: unknown option %s\n", name);
            return 1;
        }
    }
    if ((count <= 0 && !from_stdin) || start <= 0 || size < 16 || size > 1000000) {
        fprintf (stderr, "zshm_bridge_pub: bad --count, --start or --size\n");
        return 1;
    }
    char *topic_list [64];
    int ntopics = 0;
    for (char *save = NULL, *word = strtok_r (topics, ",", &save); word && ntopics < 64;
         word = strtok_r (NULL, ",", &save))
        topic_list [ntopics++] = word;
    if (ntopics == 0) {
        fprintf (stderr, "zshm_bridge_pub: no topics\n");
        return 1;
    }
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    if (!pub) {
        fprintf (stderr, "zshm_bridge_pub: cannot publish on %s: %s\n", endpoint,
                 strerror (errno));
        return 1;
    }
    unsigned char *payload = (unsigned char *) malloc (1000000);
    int status = 0;
    char line [256];
    while (status == 0) {
        if (from_stdin) {
            if (!fgets (line, sizeof line, stdin))
                break;
            count = 0;
            size = 64;
            rate = 0;
            if (sscanf (line, "%lld %lld %lld", &count, &size, &rate) < 1 || count <= 0
            ||  size < 16 || size > 1000000) {
                fprintf (stderr, "zshm_bridge_pub: bad line: %s", line);
                status = 1;
                break;
            }
        }
        status = s_publish (pub, topic_list, ntopics, payload, start, count, size, rate);
        if (status == 0)
            printf ("published %lld (%lld..%lld)\n", count, start, start + count - 1);
        fflush (stdout);
        start += count;
        if (!from_stdin)
            break;
    }
    free (payload);
    free (topics);
    zshm_pub_destroy (&pub);
    return status;
}
