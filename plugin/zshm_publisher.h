/*  =========================================================================
    zshm_publisher - a publisher actor, used where a zsock PUB socket was

    An actor (CZMQ zactor_t) whose thread owns a zshm_pub.  Whatever the
    application sends to it is published, so code written for a PUB socket
    keeps working when only the constructor changes:

        zactor_t *pub = zshm_publisher_new ("shm://ticks");
        //  was:  zsock_t *pub = zsock_new_pub ("ipc://ticks");

    Publish, exactly as on a PUB socket (frame 0 is the topic):

        zstr_sendx (pub, "ticks.AAPL", "182.50", NULL);
        zmsg_send (&msg, pub);
        zsock_send (pub, "sb", "ticks.AAPL", &tick, sizeof tick);

    Endpoints are those of zshm_pub_new: "shm://NAME[?options]", tcp://,
    or a comma list of both.  Messages go out in the order they were sent.
    The actor never waits for subscribers.  Sends to the actor can wait
    only when the application outpaces the actor's own thread by more than
    the pipe holds (about 2000 messages).  While idle, the actor's thread
    sleeps in its pipe.

    Commands and the '$' rule.  Data and commands share the actor's pipe,
    so a first frame that begins with '$' is reserved for the actor, as
    CZMQ reserves "$TERM":

        a first frame "$NAME..."  (one '$')   a command to the actor
        a first frame "$$..."                 data: the topic is the frame
                                              with its first '$' removed
        any other first frame                 data, published as is

    So a topic that itself begins with '$' is sent with the '$' doubled:

        zstr_sendx (pub, "$$SYS.uptime", "42", NULL);  //  topic "$SYS.uptime"

    The zshm_subscriber actor applies the same rule on its way out, so an
    application using both actors sees "$$SYS.uptime" at both ends, while
    a direct zshm_sub or a ZeroMQ SUB socket sees "$SYS.uptime".

    Commands (each a single-frame message):

        zstr_send (pub, "$VERBOSE");    //  log what the actor does (zsys)

        zstr_send (pub, "$STATS");      //  query; the reply comes after
                                        //  every message sent before it
                                        //  has been published:
        char *tag, *published, *failed;
        zstr_recvx (pub, &tag, &published, &failed, NULL);
        //  tag is "$STATS"; published and failed count messages, in
        //  decimal.  failed counts sends zshm_pub refused, e.g. EMSGSIZE
        //  past maxmsg (the first failure is also logged as a warning).

        zactor_destroy (&pub);          //  sends "$TERM": the actor
                                        //  publishes what it was sent
                                        //  before, then ends

    Any other '$' command is ignored with a warning.  The actor sends the
    application nothing unless asked.
    =========================================================================
*/

#ifndef ZSHM_PUBLISHER_H_INCLUDED
#define ZSHM_PUBLISHER_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Create a publisher actor on `endpoints` (as for zshm_pub_new).  Blocks
//  until the actor has made its publisher.  Returns a new actor owned by
//  the caller (destroy it with zactor_destroy), or NULL with errno as
//  zshm_pub_new sets it (EINVAL bad endpoint or option, EBUSY the channel
//  has a live writer...).
zactor_t *
    zshm_publisher_new (const char *endpoints);

//  Self test of this class.
void
    zshm_publisher_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
