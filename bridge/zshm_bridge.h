/*  =========================================================================
    zshm_bridge - carry a zshm channel over ZeroMQ (shm <-> tcp)

    One bridge actor runs one route, in one of two directions:

        serve:  shm://CHANNEL  ->  tcp://...   read the ring, publish on
                                               ZeroMQ XPUB sockets
        feed:   tcp://...      ->  shm://CHANNEL  subscribe over ZeroMQ,
                                               publish into a local ring

    The wire (see README "The bridge wire").  A serving bridge binds two
    XPUB sockets:

      * the DATA endpoint (DEST, e.g. tcp://STAR:5556).  Plain ZeroMQ SUB
        clients in any language connect here and receive [topic][frames...]
        exactly as a zmq PUB would send it, nothing more, whatever they
        subscribe to (including "").
      * the LINK endpoint (by default the same address with port + 1), for
        other bridges.  A feeding bridge subscribes there to "streams", one
        per topic prefix P it wants: the subscription is [len(P)][P], one
        length byte then the prefix.  For every message whose topic T
        starts with P the serving bridge sends, on that stream,

            frame 0    [len(P)][T]       the length byte, then the topic
            frame 1    zshm.Meta         packed protobuf (proto/zshm_meta.proto)
            frame 2..  the message's frames after the topic, unchanged

        and, when a stream has been idle for the heartbeat interval,

            frame 0    [len(P)][P]
            frame 1    empty             (a Meta is never empty: version=1)
            frame 2    zshm.Heartbeat    packed protobuf

        and, when several messages for a stream wait in the ring, one
        ZeroMQ message for all of them (a batch, Meta.batch = N >= 2):
            frame 0    [len(P)][P]
            frame 1    zshm.Meta of the first, with batch = N
            frame 2    the N messages, each as varints: source_sequence
                       increase, frame count, then each frame's size and
                       bytes (zshm_bridge_batch_add and _next)
        Meta.link_sequence counts 1, 2, 3... per stream and
        Meta.link_incarnation is drawn at random when the stream starts,
        so the feeding bridge counts messages lost between the bridges
        (a gap in link_sequence), tells a restarted serving bridge (a new
        link_incarnation) and a restarted publisher (a new
        source_incarnation) apart from loss, and adds up what the serving
        bridge lost at the source (source_lost).  The length byte makes a
        subscription match exactly one stream, so each stream's numbering
        is complete for its subscribers and filtered topics never cross
        the network: ZeroMQ XPUB filtering happens at the sender.

    Subscriptions.  The data endpoint honours whatever plain clients
    subscribe to (XPUB filtering; the bridge also skips copying a message
    nobody matches).  A feeding bridge subscribes to its configured prefixes
    (SUBSCRIBE command, default everything) because local shm subscribers
    do not announce subscriptions.

    Commands on the actor pipe (all strings unless noted), sent before
    START unless said otherwise:

        VERBOSE                       log every event (zsys_info)
        SET NAME VALUE                an option, see below; replies nothing
        SUBSCRIBE PREFIX              feed: add a prefix (binary-safe frame)
        CURVE-SERVER SECRET-CERT      serve: CURVE server with this
                                      certificate (zcert_load); a zauth
                                      actor in the process decides who may
                                      connect
        CURVE-CLIENT SECRET-CERT PUBLIC-CERT
                                      feed: CURVE client with our
                                      certificate and the server's public
                                      certificate
        START                         open everything; replies "OK" or
                                      "ERROR" + a one-line reason
        ENDPOINTS                     replies the bound or connected data
                                      and link endpoints ("" when none)
        STATS                         replies one line of name=value pairs
                                      (any time after START)
        $TERM                         stop and destroy the actor

    Options (SET NAME VALUE, or zshm_bridge_set):

        link      ENDPOINT|none   bridge link endpoint (see above)
        plain     0|1             feed: connect SOURCE as a plain SUB (no
                                  metadata; for a non-zshm PUB upstream)
        sndhwm    N               serve: messages queued per peer before
                                  ZeroMQ drops (default 10000)
        linkhwm   N               serve: the same for bridges on the link,
                                  in ZeroMQ messages, which may be batches
                                  (default: sndhwm)
        rcvhwm    N               feed: messages queued (default 10000)
        maxmsg    BYTES           largest frame accepted from the network
                                  (ZMQ_MAXMSGSIZE) and largest message
                                  carried (default 16 MiB)
        maxframes N               most frames a message may have (256)
        heartbeat MS              ZMTP and stream heartbeat interval (1000)
        idle      spin|yield|backoff|block   serve: ring wait (block)
        maxhops   N               drop messages that crossed more bridges

    High-water marks.  A serving bridge never blocks on a slow peer
    (ZMQ_XPUB_NODROP off): once a peer's queue holds sndhwm ZeroMQ messages
    (a batch is one), ZeroMQ drops further ones for that peer only.  The
    feeding bridge sees the drop as a link_sequence gap and counts it
    (missing=).
    =========================================================================
*/

#ifndef ZSHM_BRIDGE_H_INCLUDED
#define ZSHM_BRIDGE_H_INCLUDED

#include <czmq.h>

#include "zshm_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Longest type name, channel name and host name a Meta may carry, bytes.
#define ZSHM_BRIDGE_TYPE_MAX 127
#define ZSHM_BRIDGE_HOST_MAX 255

//  Largest packed Meta or Heartbeat frame accepted, bytes.
#define ZSHM_BRIDGE_META_MAX 1024

//  Longest stream prefix: its length must fit the stream's length byte.
#define ZSHM_BRIDGE_PREFIX_MAX 255

//  Version of the metadata's meaning (Meta.version, Heartbeat.version).
#define ZSHM_BRIDGE_META_VERSION 1

//  Decoded zshm.Meta, as plain C (the bridge's view of it).
typedef struct {
    uint32_t version;                   //  ZSHM_BRIDGE_META_VERSION
    uint64_t source_sequence;           //  ring sequence at the source
    uint64_t publish_time_ns;           //  CLOCK_REALTIME, ns
    uint64_t source_incarnation;        //  source writer's incarnation
    char type_name [ZSHM_BRIDGE_TYPE_MAX + 1];      //  payload type, "" none
    char channel [ZSHM_NAME_MAX + 1];   //  source channel name
    uint64_t source_lost;               //  lost at the source, cumulative
    uint64_t source_restarts;           //  publisher restarts, cumulative
    uint64_t link_sequence;             //  1, 2, 3... per stream
    uint64_t link_incarnation;          //  random per stream start, not 0
    uint32_t hops;                      //  bridges crossed before this one
    char origin_host [ZSHM_BRIDGE_HOST_MAX + 1];    //  where it was published
    uint32_t frames;                    //  frames of the message, topic included;
                                        //  0 in a batch
    uint32_t batch;                     //  messages in the batch it heads (>= 2),
                                        //  or 0: one message
} zshm_bridge_meta_t;

//  One message of a batch (see zshm_meta.proto, Meta.batch), as
//  zshm_bridge_batch_next reads it: pointers into the batch frame.
typedef struct {
    uint64_t source_sequence;           //  the batch's first, plus the increases
    size_t frames;                      //  frames, topic included, >= 1
    const void **data;                  //  frame bytes (caller's array)
    size_t *sizes;                      //  frame sizes (caller's array)
} zshm_bridge_entry_t;

//  A reader of a batch frame.
typedef struct {
    const uint8_t *at;                  //  next entry
    const uint8_t *end;                 //  end of the frame
    uint64_t source_sequence;           //  of the last entry read
    uint32_t left;                      //  entries still to read
} zshm_bridge_batch_t;

//  Decoded zshm.Heartbeat.
typedef struct {
    uint32_t version;                   //  ZSHM_BRIDGE_META_VERSION
    uint64_t link_sequence;             //  last link_sequence sent, 0 none
    uint64_t link_incarnation;          //  as in Meta, not 0
    uint64_t time_ns;                   //  when sent, CLOCK_REALTIME
    uint64_t source_incarnation;        //  as in Meta
    uint64_t source_lost;               //  as in Meta
    uint64_t source_restarts;           //  as in Meta
    char channel [ZSHM_NAME_MAX + 1];   //  as in Meta
    char origin_host [ZSHM_BRIDGE_HOST_MAX + 1];    //  as in Meta
    uint32_t interval_ms;               //  promised heartbeat interval
} zshm_bridge_heartbeat_t;

//  Create a bridge actor for one route.  One of source and dest is a
//  shm:// endpoint (zshm_sub / zshm_pub syntax, options allowed) and the
//  other a ZeroMQ endpoint (tcp://, ipc://, inproc://; a leading '@'
//  binds, '>' connects; by default the serving side binds and the feeding
//  side connects).  Configure with commands, then START.  Returns a new
//  actor owned by the caller, or NULL with errno EINVAL (bad route).
zactor_t *
    zshm_bridge_new (const char *source, const char *dest);

//  The actor function, for zactor_new (zshm_bridge_actor, "SOURCE DEST"):
//  args is the source and dest separated by one space.
void
    zshm_bridge_actor (zsock_t *pipe, void *args);

//  Convenience: SET name value.  Returns 0 (the actor checks the value at
//  START).
int
    zshm_bridge_set (zactor_t *self, const char *name, const char *value);

//  Convenience: START and wait for the reply.  Returns 0, or -1 with the
//  reason copied into `reason` (may be NULL).  Blocks until the actor
//  answers.
int
    zshm_bridge_start (zactor_t *self, char *reason, size_t size);

//  Convenience: STATS.  Returns a fresh string the caller frees, or NULL.
//  Blocks until the actor answers.
char *
    zshm_bridge_stats (zactor_t *self);

//  The value of counter `name` in a STATS line (e.g. "missing"), or -1 if
//  absent.
int64_t
    zshm_bridge_stat (const char *stats, const char *name);

//  Decode a packed zshm.Meta frame into *meta.  Checks everything the
//  bridge relies on (size, version, string lengths, link identity, frame
//  count); never trusts, never asserts.  Returns 0, or -1 with errno
//  EPROTO (malformed) or EMSGSIZE (larger than ZSHM_BRIDGE_META_MAX).
//  Allocates nothing on the heap.
int
    zshm_bridge_meta_decode (const void *data, size_t size, zshm_bridge_meta_t *meta);

//  Encode *meta into buf.  Returns the packed size, or -1 with errno
//  EMSGSIZE when it does not fit `size` bytes.
ssize_t
    zshm_bridge_meta_encode (const zshm_bridge_meta_t *meta, void *buf, size_t size);

//  Decode a packed zshm.Heartbeat; as zshm_bridge_meta_decode.
int
    zshm_bridge_heartbeat_decode (const void *data, size_t size,
                                  zshm_bridge_heartbeat_t *heartbeat);

//  Encode a heartbeat; as zshm_bridge_meta_encode.
ssize_t
    zshm_bridge_heartbeat_encode (const zshm_bridge_heartbeat_t *heartbeat, void *buf,
                                  size_t size);

//  Check a batch frame of `size` bytes holding `count` messages, each of
//  at most `maxframes` frames and `maxmsg` bytes in all, with nothing after
//  the last; 0 if so, -1 with errno EPROTO (malformed) or EMSGSIZE (a
//  message over the limits).  Never reads outside the frame.
int
    zshm_bridge_batch_check (const void *data, size_t size, uint32_t count, size_t maxframes,
                             uint64_t maxmsg);

//  Start reading a batch frame that zshm_bridge_batch_check accepted; the
//  first message's source_sequence is the Meta's.
void
    zshm_bridge_batch_start (zshm_bridge_batch_t *batch, const void *data, size_t size,
                             uint32_t count, uint64_t source_sequence);

//  The next message of a checked batch into *entry, whose data and sizes
//  arrays hold at least maxframes entries; true, or false after the last.
bool
    zshm_bridge_batch_next (zshm_bridge_batch_t *batch, zshm_bridge_entry_t *entry);

//  Append one message to a batch frame being built in *buf (grown with
//  realloc; *max its allocated size, *size its used size): the increase
//  of its source_sequence, then its frames.  Returns 0, or -1 with errno
//  ENOMEM (the frame is unchanged).
int
    zshm_bridge_batch_add (uint8_t **buf, size_t *size, size_t *max, uint64_t increase,
                           const void *const *data, const size_t *sizes, size_t frames);

//  The default link endpoint for a data endpoint: tcp port + 1 ('*' stays
//  '*'), ".link" appended to ipc and inproc names; the '@'/'>' prefix is
//  kept.  Returns a fresh string the caller frees, or NULL with errno
//  EINVAL.
char *
    zshm_bridge_link_endpoint (const char *endpoint);

//  Self test of this class.
void
    zshm_bridge_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
