/*  =========================================================================
    port_zsock - a small CZMQ PUB/SUB program, before porting to zshm

    Publishes ten price updates (and some news nobody subscribed to) and
    receives them with a poller.  port_zshm.c is the same program on zshm:
    `diff examples/port_zsock.c examples/port_zshm.c` shows every line
    that changes, and examples/PORTING.md explains them.
    =========================================================================
*/

#include <czmq.h>

int
main (void)
{
    zsock_t *pub = zsock_new_pub ("ipc:///tmp/port-demo.ipc");
    zsock_t *sub = zsock_new_sub ("ipc:///tmp/port-demo.ipc", "ticks.");
    if (!pub || !sub)
        return 1;
    zclock_sleep (200);                 //  let the subscription reach the PUB

    for (int index = 0; index < 10; index++) {
        char price [32];
        snprintf (price, sizeof price, "%.2f", 189.25 + index * 0.01);
        zstr_sendx (pub, "ticks.AAPL", price, NULL);
        zstr_sendx (pub, "news.AAPL", "not subscribed", NULL);
    }
    zstr_sendx (pub, "ticks.END", "", NULL);

    zpoller_t *poller = zpoller_new (sub, NULL);
    int received = 0;
    while (zpoller_wait (poller, 5000) == sub) {
        char *topic, *price;
        if (zstr_recvx (sub, &topic, &price, NULL) != 2)
            break;
        bool end = streq (topic, "ticks.END");
        if (!end) {
            printf ("%s %s\n", topic, price);
            received++;
        }
        zstr_free (&topic);
        zstr_free (&price);
        if (end)
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    printf ("received %d of 10\n", received);
    return received == 10 ? 0 : 1;
}
