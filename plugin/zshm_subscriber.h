/*  =========================================================================
    zshm_subscriber - a subscriber actor, used where a zsock SUB socket was

    An actor (CZMQ zactor_t) whose thread owns a zshm_sub and forwards each
    message it receives to the application, as a SUB socket would deliver
    it, so code written for a SUB socket keeps working when only the
    constructor changes:

        zactor_t *sub = zshm_subscriber_new ("shm://ticks", "ticks.");
        //  was:  zsock_t *sub = zsock_new_sub ("ipc://ticks", "ticks.");

    Receive, exactly as from a SUB socket:

        zmsg_t *msg = zmsg_recv (sub);              //  [topic][frames...]
        char *topic, *price;
        zstr_recvx (sub, &topic, &price, NULL);
        zpoller_t *poller = zpoller_new (sub, other, NULL);
        zloop_reader (loop, zactor_sock (sub), s_handler, NULL);

    The endpoint is that of zshm_sub_new: "shm://NAME[?options]" (with
    idle=, from=, maxmsg=) or tcp://.  The channel need not exist yet.
    On an existing shm channel, every message published after
    zshm_subscriber_new returns is delivered (no slow joiner); on tcp://
    ZeroMQ's subscription delay applies as usual.

    Never blocked by the application.  Between the actor and the
    application the pipe holds up to HWM messages (1000 by default; the
    application's end of the pipe buffers up to 1000 more).  When it is
    full the actor drops the message, counts it and reads on, exactly as a
    zmq PUB socket drops for a slow subscriber.  Messages are delivered
    whole or not at all.

    Messages from the actor itself.  Besides published messages the actor
    sends events and replies.  Their first frame begins with a single '$';
    a published topic that begins with '$' arrives with its '$' doubled
    ("$SYS.uptime" arrives as "$$SYS.uptime"), the same rule as the
    zshm_publisher actor's.  zshm_subscriber_is_event tells them apart.

        ["$PUBLISHER_DEAD"]     (shm:// only, as is the next one)
            The publisher died (or destroyed its zshm_pub).  Everything it
            published before has already been forwarded.  The actor keeps
            waiting for a publisher on the same channel.
        ["$PUBLISHER_BACK"]
            A publisher writes the channel again, after $PUBLISHER_DEAD;
            its messages follow.  A publisher that restarted before the
            actor noticed gives $PUBLISHER_DEAD then $PUBLISHER_BACK.
        ["$LOST", "<lost>", "<dropped>"]
            (any endpoint) The reply to LOST, decimal counts since the actor started:
            lost = messages the subscriber lost on the ring (overwritten
            before it read them, a missing fragment, past maxmsg);
            dropped = messages the actor dropped at the pipe's HWM.

    Events and replies are not dropped with data: when the pipe is full
    they wait inside the actor (up to 1000 of them) and go out, in order,
    as soon as there is room.

    Commands (the first frame names the command):

        zstr_sendx (sub, "SUBSCRIBE", "ticks.MSFT", NULL);
        zsock_send (sub, "sb", "SUBSCRIBE", prefix, size);  //  binary
        zstr_sendx (sub, "UNSUBSCRIBE", "ticks.", NULL);
            Prefixes on the topic as published (no '$' doubling), any
            number after the command; none means "" (everything).
            Subscriptions are counted, as on a SUB socket.

        zstr_send (sub, "LOST");            //  reply ["$LOST", lost, dropped]
            Commands are taken in order, so the reply also tells that every
            command sent before it is in force.

        zstr_sendx (sub, "HWM", "5000", NULL);
            Messages waiting in the pipe before drops begin; 0 for no
            limit (the actor then never drops, and memory grows instead).
            It may rise at any time, but only go down (or leave 0) before
            the actor has sent anything: a libzmq pipe cannot lower its
            limit under traffic.  To start with a low one, subscribe after:
                sub = zshm_subscriber_new ("shm://ticks", NULL);
                zstr_sendx (sub, "HWM", "100", NULL);
                zstr_sendx (sub, "SUBSCRIBE", "ticks.", NULL);
            A refused HWM is ignored with a warning.

        zstr_sendx (sub, "EVENTS", "0", NULL);
            "0" stops the $PUBLISHER_DEAD/_BACK events, "1" (the default)
            restores them; for applications that must see data only.

        zstr_send (sub, "VERBOSE");         //  log what the actor does

        zactor_destroy (&sub);              //  sends "$TERM"; prompt even
                                            //  when the pipe is full

    The actor takes commands in order, between messages (at least once a
    millisecond while they flow) and within about 10 ms when the channel
    is idle.  Unknown commands are ignored with a warning.

    CPU.  The actor's thread waits for messages with the endpoint's idle
    strategy: spin (the default) costs it a whole core, for the lowest
    latency; "shm://ticks?idle=block" costs nothing while idle (it wakes
    every 10 ms to look at its pipe) and adds microseconds per message.
    Where the actors and the application's threads share a few cores,
    "idle=yield" keeps the core but lets the other threads run at once:
    spinning actors there delay them by whole time slices.
    =========================================================================
*/

#ifndef ZSHM_SUBSCRIBER_H_INCLUDED
#define ZSHM_SUBSCRIBER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Create a subscriber actor on `endpoint`, subscribed to `subscribe` (a
//  prefix; "" for everything, NULL for nothing yet), as zsock_new_sub
//  takes them.  Blocks until the actor has made its subscriber.  Returns a
//  new actor owned by the caller (destroy it with zactor_destroy), or NULL
//  with errno as zshm_sub_new sets it (EINVAL bad endpoint or option).
zactor_t *
    zshm_subscriber_new (const char *endpoint, const char *subscribe);

//  True if `msg`, received from a subscriber actor, is an event or a reply
//  from the actor itself (its first frame begins with a single '$'), false
//  for a published message.  Does not take ownership.
bool
    zshm_subscriber_is_event (zmsg_t *msg);

//  Self test of this class.
void
    zshm_subscriber_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
