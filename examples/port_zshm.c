/*  =========================================================================
    port_zshm - port_zsock.c, ported to zshm

    Publishes ten price updates (and some news nobody subscribed to) and
    receives them with a poller.  port_zsock.c is the same program on
    ZeroMQ: `diff examples/port_zsock.c examples/port_zshm.c` shows every
    line that changes, and examples/PORTING.md explains them.
    =========================================================================
*/

#include <czmq.h>
#include <zshm.h>

int
main (void)
{
    zactor_t *pub = zshm_publisher_new ("shm://port-demo");
    zactor_t *sub = zshm_subscriber_new ("shm://port-demo", "ticks.");
    if (!pub || !sub)
        return 1;

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
    zactor_destroy (&sub);
    zactor_destroy (&pub);
    zshm_ring_unlink ("port-demo");     //  a channel outlives its publisher
    printf ("received %d of 10\n", received);
    return received == 10 ? 0 : 1;
}
