/*  =========================================================================
    bridge_embed - run a zshm bridge inside your own program

        bridge_embed SOURCE DEST [--subscribe PREFIX]

    The zshm-bridge program is a thin shell around the zshm_bridge actor;
    a program can run the actor itself, e.g. to serve its own channel over
    TCP without a second process:

        bridge_embed shm://ticks tcp://0.0.0.0:5556    serve ticks
        bridge_embed tcp://hosta:5556 shm://ticks      feed ticks from hosta

    It prints the bridge's statistics every second until Ctrl-C.
    =========================================================================
*/

#include <czmq.h>
#include <stdio.h>
#include <string.h>

#include "zshm_bridge.h"

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: bridge_embed SOURCE DEST [--subscribe PREFIX]\n");
        return 1;
    }
    zactor_t *bridge = zshm_bridge_new (argv [1], argv [2]);
    if (!bridge) {
        fprintf (stderr, "bridge_embed: bad route\n");
        return 1;
    }
    //  Options before START: a feeding bridge takes only some topics, and
    //  every bridge checks its peers' liveness twice a second.
    if (argc == 5 && strcmp (argv [3], "--subscribe") == 0)
        zstr_sendx (bridge, "SUBSCRIBE", argv [4], NULL);
    zshm_bridge_set (bridge, "heartbeat", "500");
    char reason [256];
    if (zshm_bridge_start (bridge, reason, sizeof reason)) {
        fprintf (stderr, "bridge_embed: %s\n", reason);
        zactor_destroy (&bridge);
        return 1;
    }
    //  The bound endpoints (useful with a "*" port).
    zstr_send (bridge, "ENDPOINTS");
    char *data = NULL, *link = NULL;
    zstr_recvx (bridge, &data, &link, NULL);
    printf ("bridge_embed: %s -> %s (data %s, link %s)\n", argv [1], argv [2],
            data && *data ? data : "-", link && *link ? link : "-");
    zstr_free (&data);
    zstr_free (&link);
    while (!zsys_interrupted) {
        zclock_sleep (1000);
        char *stats = zshm_bridge_stats (bridge);
        if (stats)
            printf ("%s\n", stats);
        zstr_free (&stats);
    }
    zactor_destroy (&bridge);
    return 0;
}
