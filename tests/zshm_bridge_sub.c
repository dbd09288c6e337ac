/*  zshm_bridge_sub - receive and check zshm_bridge_pub's messages.

    zshm_bridge_sub ENDPOINT --count N --timeout-ms T [--idle-ms Q]
                    [--subscribe PREFIX] [--topics a.,b.] [--ready-file F]

    Receives (shm:// or tcp:// through zshm_sub) until N messages came, T ms
    passed, or nothing came for Q ms after the first message.  Every message
    is checked: two frames, the topic zshm_bridge_pub gives its sequence,
    size and checksum.  Prints one line

        received=R bad=B first=F last=L missing=M duplicates=D

    (missing: sequence numbers skipped between first and last) and exits 0
    if B is 0, 1 otherwise.  --ready-file is created once attached. */

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zshm_sub.h"

static uint32_t
s_fnv (const unsigned char *data, size_t size)
{
    uint32_t hash = 2166136261u;
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ data [index]) * 16777619u;
    return hash;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: zshm_bridge_sub ENDPOINT --count N --timeout-ms T ...\n");
        return 1;
    }
    const char *endpoint = argv [1];
    long long count = 0, timeout = 10000, idle = 0;
    const char *subscribe = "";
    const char *ready = NULL;
    char *topics = strdup ("t.");
    for (int arg = 2; arg + 1 < argc; arg += 2) {
        const char *name = argv [arg], *value = argv [arg + 1];
        if (streq (name, "--count"))
            count = atoll (value);
        else
        if (streq (name, "--timeout-ms"))
            timeout = atoll (value);
        else
        if (streq (name, "--idle-ms"))
            idle = atoll (value);
        else
        if (streq (name, "--subscribe"))
            subscribe = value;
        else
        if (streq (name, "--ready-file"))
            ready = value;
        else
        if (streq (name, "--topics")) {
            free (topics);
            topics = strdup (value);
        }
        else {
            fprintf (stderr, "zshm_bridge_sub: unknown option %s\n", name);
            return 1;
        }
    }
    char *topic_list [64];
    int ntopics = 0;
    for (char *save = NULL, *word = strtok_r (topics, ",", &save); word && ntopics < 64;
         word = strtok_r (NULL, ",", &save))
        topic_list [ntopics++] = word;
    zshm_sub_t *sub = zshm_sub_new (endpoint, subscribe);
    if (!sub || ntopics == 0) {
        fprintf (stderr, "zshm_bridge_sub: cannot subscribe to %s: %s\n", endpoint,
                 strerror (errno));
        return 1;
    }
    //  zshm_sub attaches to an existing channel at its first receive.
    zshm_sub_set_rcvtimeo (sub, 0);
    zshm_sub_recv (sub);
    if (ready) {
        FILE *file = fopen (ready, "w");
        if (file)
            fclose (file);
    }
    long long received = 0, bad = 0, missing = 0, duplicates = 0;
    uint64_t first = 0, last = 0;
    int64_t deadline = zclock_mono () + timeout;
    int64_t last_time = 0;
    while (count == 0 || received < count) {
        int64_t now = zclock_mono ();
        if (now >= deadline || (idle && received && now - last_time >= idle))
            break;
        zshm_sub_set_rcvtimeo (sub, 50);
        int frames = zshm_sub_recv (sub);
        if (frames < 0)
            continue;           //  EAGAIN, or EPIPE while a publisher restarts
        last_time = zclock_mono ();
        size_t topic_size = 0, size = 0;
        const unsigned char *topic = (const unsigned char *) zshm_sub_frame (sub, 0, &topic_size);
        const unsigned char *payload = frames == 2
            ? (const unsigned char *) zshm_sub_frame (sub, 1, &size) : NULL;
        uint64_t seq = 0;
        uint32_t claimed = 0, checksum = 0;
        bool valid = payload && size >= 16;
        if (valid) {
            memcpy (&seq, payload, 8);
            memcpy (&claimed, payload + 8, 4);
            memcpy (&checksum, payload + 12, 4);
            unsigned char *copy = (unsigned char *) malloc (size);
            memcpy (copy, payload, size);
            memset (copy + 12, 0, 4);
            const char *want = topic_list [seq % (uint64_t) ntopics];
            valid = claimed == size && checksum == s_fnv (copy, size)
                 && topic_size == strlen (want) && memcmp (topic, want, topic_size) == 0;
            free (copy);
        }
        if (!valid) {
            bad++;
            continue;
        }
        received++;
        if (!first)
            first = seq;
        else
        if (seq > last + 1)
            missing += (long long) (seq - last - 1);
        else
        if (seq <= last)
            duplicates++;
        if (seq > last)
            last = seq;
    }
    printf ("received=%lld bad=%lld first=%llu last=%llu missing=%lld duplicates=%lld\n",
            received, bad, (unsigned long long) first, (unsigned long long) last, missing,
            duplicates);
    zshm_sub_destroy (&sub);
    free (topics);
    return bad ? 1 : 0;
}
