/*  =========================================================================
    zshm_bridge - carry a zshm channel over ZeroMQ (shm <-> tcp)

    The wire is described in zshm_bridge.h.  This file has five parts: the
    metadata codec (protobuf-c with an arena, so decoding allocates nothing
    and garbage costs nothing but a counter), batch frames, the serving
    side, the feeding side, and the actor shell that runs either.

    Batches.  A serving bridge adds each message it reads to the batch of
    every stream that wants it, and sends the batches when its ring has
    nothing more for now (or after S_BATCH messages, or when a batch is
    full or the next message differs in what a batch shares).  Under load
    ZeroMQ then carries tens of messages per message; at a trickle every
    batch holds one message and goes out at once, in the one-message form.
    Each stream keeps its batch buffer once it has grown (under 128 KiB:
    S_BATCH_FRAME_MAX), freed with the stream.

    Threads.  Each bridge is one actor thread.  A serving bridge waits on
    the ring (zshm_sub has no file descriptor to poll), so it alternates:
    drain up to a batch of ring messages, poll its sockets without waiting,
    and when the ring is empty wait on it for at most S_WAIT_MS before
    looking at the sockets again.  Commands and subscriptions are therefore
    seen within S_WAIT_MS even on an idle channel.  A feeding bridge is an
    ordinary zmq_poll loop.
    =========================================================================
*/

#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <protobuf-c/protobuf-c.h>

#include "zshm_ring.h"
#include "zshm_reader.h"
#include "zshm_pub.h"
#include "zshm_sub.h"
#include "zshm_meta.pb-c.h"
#include "zshm_bridge.h"
#include "zshm_fastgen.h"

//  Longest a serving bridge waits on an idle ring before it looks at its
//  sockets (commands, subscriptions, heartbeats), ms.
#define S_WAIT_MS 20

//  Ring messages a serving bridge forwards between two looks at its
//  sockets, and network messages a feeding bridge takes before it looks at
//  its pipe: large enough to amortise the poll, small enough to stay
//  responsive under a flood.
#define S_BATCH 256

//  Most streams (distinct link prefixes) a serving bridge keeps; more
//  subscriptions are refused and counted, so peers cannot exhaust memory.
//  A stream whose last subscriber left is kept (retired) and goes on
//  numbering the messages it would have carried, so that a bridge that
//  reconnects sees exactly what it missed as a link_sequence gap; retired
//  streams are the first evicted when the table is full.
#define S_STREAMS_MAX 1024

//  Most distinct prefixes plain clients may subscribe to that we track.
//  Past this the bridge stops filtering locally and lets XPUB filter.
#define S_PLAIN_SUBS_MAX 4096

//  Inbound frame limit on XPUB sockets (subscriptions), bytes.
#define S_XPUB_MAXMSG 65536

//  A batch is sent once it holds this many messages or bytes; a message
//  larger than S_BATCH_ALONE goes on its own.  The bytes stay well under
//  any sane maxmsg of the receiving bridge (a frame of the batch is the
//  messages it holds, plus their sizes).
#define S_BATCH_MESSAGES 1024
#define S_BATCH_BYTES (64 * 1024)
#define S_BATCH_ALONE (16 * 1024)
//  So a batch frame never exceeds this (64 KiB less a byte, then one
//  message of at most 16 KiB with at most maxframes sizes), which a
//  feeding bridge always accepts whatever its maxmsg.
#define S_BATCH_FRAME_MAX (128 * 1024)

//  Heap-free protobuf-c decoding: an arena on the decoder's stack.  A Meta
//  of at most ZSHM_BRIDGE_META_MAX bytes needs far less (the worst case is
//  ~512 one-byte unknown fields: 512 * (24 + 16) bytes plus protobuf-c's
//  scan slabs); when it runs out, protobuf-c fails cleanly.
#define S_ARENA_SIZE 65536

typedef struct {
    size_t used;                //  bytes handed out
    _Alignas (16) unsigned char bytes [S_ARENA_SIZE];   //  the arena
} s_arena_t;

static void *
s_arena_alloc (void *data, size_t size)
{
    s_arena_t *arena = (s_arena_t *) data;
    size = (size + 15) & ~(size_t) 15;
    if (size > sizeof arena->bytes - arena->used)
        return NULL;
    void *block = arena->bytes + arena->used;
    arena->used += size;
    return block;
}

static void
s_arena_free (void *data, void *block)
{
    //  Everything goes at once when the arena leaves scope.
}

//  Copy a protobuf string into a fixed field; false if it does not fit.
static bool
s_copy_string (char *dest, size_t size, const char *source)
{
    if (!source)
        source = "";
    size_t length = strlen (source);
    if (length >= size)
        return false;
    memcpy (dest, source, length + 1);
    return true;
}

int
zshm_bridge_meta_decode (const void *data, size_t size, zshm_bridge_meta_t *meta)
{
    assert (meta);
    memset (meta, 0, sizeof *meta);
    if (size > ZSHM_BRIDGE_META_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (!data || size == 0) {
        errno = EPROTO;
        return -1;
    }
    s_arena_t arena;
    arena.used = 0;
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, &arena };
    Zshm__Meta *packed = zshm__meta__unpack (&allocator, size, (const uint8_t *) data);
    if (!packed) {
        errno = EPROTO;
        return -1;
    }
    meta->version = packed->version;
    meta->source_sequence = packed->source_sequence;
    meta->publish_time_ns = packed->publish_time_ns;
    meta->source_incarnation = packed->source_incarnation;
    meta->source_lost = packed->source_lost;
    meta->source_restarts = packed->source_restarts;
    meta->link_sequence = packed->link_sequence;
    meta->link_incarnation = packed->link_incarnation;
    meta->hops = packed->hops;
    meta->frames = packed->frames;
    meta->batch = packed->batch;
    //  One message with its frame count, or a batch of two or more (whose
    //  entries give theirs) with none, numbered without wrapping.
    bool counted = meta->batch == 0 ? meta->frames >= 1
                 : meta->batch >= 2 && meta->frames == 0
                   && meta->link_sequence <= UINT64_MAX - meta->batch;
    bool valid = s_copy_string (meta->type_name, sizeof meta->type_name, packed->type_name)
              && s_copy_string (meta->channel, sizeof meta->channel, packed->channel)
              && s_copy_string (meta->origin_host, sizeof meta->origin_host,
                                packed->origin_host)
              && meta->version == ZSHM_BRIDGE_META_VERSION
              && meta->link_sequence != 0
              && meta->link_incarnation != 0
              && counted;
    if (!valid) {
        memset (meta, 0, sizeof *meta);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

//  Pack a Meta already filled in; the common tail of the encoders.
static ssize_t
s_pack_meta (const Zshm__Meta *packed, void *buf, size_t size)
{
    size_t needed = zshm__meta__get_packed_size (packed);
    if (needed > size || needed > ZSHM_BRIDGE_META_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    return (ssize_t) zshm__meta__pack (packed, (uint8_t *) buf);
}

ssize_t
zshm_bridge_meta_encode (const zshm_bridge_meta_t *meta, void *buf, size_t size)
{
    assert (meta);
    Zshm__Meta packed = ZSHM__META__INIT;
    packed.version = meta->version;
    packed.source_sequence = meta->source_sequence;
    packed.publish_time_ns = meta->publish_time_ns;
    packed.source_incarnation = meta->source_incarnation;
    packed.type_name = (char *) meta->type_name;
    packed.channel = (char *) meta->channel;
    packed.source_lost = meta->source_lost;
    packed.source_restarts = meta->source_restarts;
    packed.link_sequence = meta->link_sequence;
    packed.link_incarnation = meta->link_incarnation;
    packed.hops = meta->hops;
    packed.origin_host = (char *) meta->origin_host;
    packed.frames = meta->frames;
    packed.batch = meta->batch;
    return s_pack_meta (&packed, buf, size);
}

//  --------------------------------------------------------------------------
//  Batch frames (Meta.batch): varints, as protobuf writes them (zshm_fastgen.h)

int
zshm_bridge_batch_check (const void *data, size_t size, uint32_t count, size_t maxframes,
                         uint64_t maxmsg)
{
    const uint8_t *at = (const uint8_t *) data, *end = at + size;
    if (!data && size) {
        errno = EPROTO;
        return -1;
    }
    for (uint32_t entry = 0; entry < count; entry++) {
        uint64_t increase, frames;
        if (!zshm_varint_get (&at, end, &increase) || !zshm_varint_get (&at, end, &frames)
        ||  frames == 0) {
            errno = EPROTO;
            return -1;
        }
        if (frames > maxframes) {
            errno = EMSGSIZE;
            return -1;
        }
        uint64_t total = 0;
        for (uint64_t frame = 0; frame < frames; frame++) {
            uint64_t length;
            if (!zshm_varint_get (&at, end, &length) || length > (uint64_t) (end - at)) {
                errno = EPROTO;
                return -1;
            }
            at += length;
            total += length;
        }
        if (total > maxmsg) {
            errno = EMSGSIZE;
            return -1;
        }
    }
    if (at != end) {
        errno = EPROTO;                 //  bytes after the last message
        return -1;
    }
    return 0;
}

void
zshm_bridge_batch_start (zshm_bridge_batch_t *batch, const void *data, size_t size,
                         uint32_t count, uint64_t source_sequence)
{
    assert (batch);
    batch->at = (const uint8_t *) data;
    batch->end = batch->at + size;
    batch->source_sequence = source_sequence;
    batch->left = count;
}

bool
zshm_bridge_batch_next (zshm_bridge_batch_t *batch, zshm_bridge_entry_t *entry)
{
    assert (batch && entry);
    if (batch->left == 0)
        return false;
    uint64_t increase, frames, length;
    //  Checked by zshm_bridge_batch_check: these cannot fail
    bool ok = zshm_varint_get (&batch->at, batch->end, &increase)
           && zshm_varint_get (&batch->at, batch->end, &frames);
    assert (ok);
    batch->source_sequence += increase;
    entry->source_sequence = batch->source_sequence;
    entry->frames = (size_t) frames;
    for (size_t frame = 0; frame < entry->frames; frame++) {
        ok = zshm_varint_get (&batch->at, batch->end, &length);
        assert (ok);
        entry->data [frame] = batch->at;
        entry->sizes [frame] = (size_t) length;
        batch->at += length;
    }
    (void) ok;
    batch->left--;
    return true;
}

int
zshm_bridge_batch_add (uint8_t **buf, size_t *size, size_t *max, uint64_t increase,
                       const void *const *data, const size_t *sizes, size_t frames)
{
    assert (buf && size && max);
    size_t need = ZSHM_VARINT_MAX * (2 + frames);
    for (size_t frame = 0; frame < frames; frame++)
        need += sizes [frame];
    if (need > *max - *size) {
        size_t grown = *max ? *max : 4096;
        while (grown - *size < need)
            grown *= 2;
        uint8_t *bigger = (uint8_t *) realloc (*buf, grown);
        if (!bigger) {
            errno = ENOMEM;
            return -1;
        }
        *buf = bigger;
        *max = grown;
    }
    uint8_t *at = *buf + *size;
    at = zshm_varint_put (at, increase);
    at = zshm_varint_put (at, frames);
    for (size_t frame = 0; frame < frames; frame++) {
        at = zshm_varint_put (at, sizes [frame]);
        if (sizes [frame])
            memcpy (at, data [frame], sizes [frame]);
        at += sizes [frame];
    }
    *size = (size_t) (at - *buf);
    return 0;
}

int
zshm_bridge_heartbeat_decode (const void *data, size_t size, zshm_bridge_heartbeat_t *heartbeat)
{
    assert (heartbeat);
    memset (heartbeat, 0, sizeof *heartbeat);
    if (size > ZSHM_BRIDGE_META_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    if (!data || size == 0) {
        errno = EPROTO;
        return -1;
    }
    s_arena_t arena;
    arena.used = 0;
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, &arena };
    Zshm__Heartbeat *packed
        = zshm__heartbeat__unpack (&allocator, size, (const uint8_t *) data);
    if (!packed) {
        errno = EPROTO;
        return -1;
    }
    heartbeat->version = packed->version;
    heartbeat->link_sequence = packed->link_sequence;
    heartbeat->link_incarnation = packed->link_incarnation;
    heartbeat->time_ns = packed->time_ns;
    heartbeat->source_incarnation = packed->source_incarnation;
    heartbeat->source_lost = packed->source_lost;
    heartbeat->source_restarts = packed->source_restarts;
    heartbeat->interval_ms = packed->interval_ms;
    bool valid = s_copy_string (heartbeat->channel, sizeof heartbeat->channel, packed->channel)
              && s_copy_string (heartbeat->origin_host, sizeof heartbeat->origin_host,
                                packed->origin_host)
              && heartbeat->version == ZSHM_BRIDGE_META_VERSION
              && heartbeat->link_incarnation != 0;
    if (!valid) {
        memset (heartbeat, 0, sizeof *heartbeat);
        errno = EPROTO;
        return -1;
    }
    return 0;
}

ssize_t
zshm_bridge_heartbeat_encode (const zshm_bridge_heartbeat_t *heartbeat, void *buf, size_t size)
{
    assert (heartbeat);
    Zshm__Heartbeat packed = ZSHM__HEARTBEAT__INIT;
    packed.version = heartbeat->version;
    packed.link_sequence = heartbeat->link_sequence;
    packed.link_incarnation = heartbeat->link_incarnation;
    packed.time_ns = heartbeat->time_ns;
    packed.source_incarnation = heartbeat->source_incarnation;
    packed.source_lost = heartbeat->source_lost;
    packed.source_restarts = heartbeat->source_restarts;
    packed.channel = (char *) heartbeat->channel;
    packed.origin_host = (char *) heartbeat->origin_host;
    packed.interval_ms = heartbeat->interval_ms;
    size_t needed = zshm__heartbeat__get_packed_size (&packed);
    if (needed > size || needed > ZSHM_BRIDGE_META_MAX) {
        errno = EMSGSIZE;
        return -1;
    }
    return (ssize_t) zshm__heartbeat__pack (&packed, (uint8_t *) buf);
}

char *
zshm_bridge_link_endpoint (const char *endpoint)
{
    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    const char *mode = "";
    if (*endpoint == '@' || *endpoint == '>') {
        mode = *endpoint == '@' ? "@" : ">";
        endpoint++;
    }
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return zsys_sprintf ("%s%s.link", mode, endpoint);
    if (strncmp (endpoint, "tcp://", 6) != 0) {
        errno = EINVAL;
        return NULL;
    }
    const char *colon = strrchr (endpoint + 6, ':');
    if (!colon || colon [1] == 0) {
        errno = EINVAL;
        return NULL;
    }
    const char *port = colon + 1;
    int host_size = (int) (colon - endpoint);
    if (strcmp (port, "*") == 0 || strcmp (port, "0") == 0)
        return zsys_sprintf ("%s%.*s:%s", mode, host_size, endpoint, port);
    char *end = NULL;
    errno = 0;
    unsigned long number = strtoul (port, &end, 10);
    if (errno || *end || *port < '0' || *port > '9' || number == 0 || number >= 65535) {
        errno = EINVAL;
        return NULL;
    }
    return zsys_sprintf ("%s%.*s:%lu", mode, host_size, endpoint, number + 1);
}

//  --------------------------------------------------------------------------
//  The actor's state

typedef enum {
    S_SERVE,                    //  shm -> network
    S_FEED                      //  network -> shm
} s_direction_t;

//  A serving bridge's stream: the messages for one link prefix.
typedef struct {
    unsigned char tag [1 + ZSHM_BRIDGE_PREFIX_MAX];     //  [length][prefix], as subscribed
    size_t tag_size;            //  1 + prefix length
    uint64_t sequence;          //  last link_sequence sent on it
    uint64_t incarnation;       //  its link_incarnation, random, not 0
    int64_t last_send;          //  zclock_mono of its last message or heartbeat
    bool active;                //  some bridge subscribes to it now
    //  The batch being gathered (Meta.batch), sent when the ring has no
    //  more for now, or it is full, or the next message differs in what a
    //  batch shares
    uint8_t *batch;             //  its frame: the messages, encoded
    size_t batch_size;          //  bytes used
    size_t batch_max;           //  bytes allocated
    uint32_t batch_count;       //  messages in it
    uint64_t batch_first;       //  link_sequence of its first message
    uint64_t batch_last_source; //  source_sequence of its last message
    zshm_bridge_meta_t batch_meta;  //  what its messages share, and the first's
} s_out_stream_t;

//  A feeding bridge's stream: what it knows of one prefix it subscribes to.
typedef struct {
    unsigned char prefix [ZSHM_BRIDGE_PREFIX_MAX];      //  the prefix
    size_t size;                //  its length
    uint64_t incarnation;       //  link_incarnation last seen, 0 before any
    uint64_t sequence;          //  link_sequence last seen
    uint64_t source_incarnation;    //  source writer's, last seen
    uint64_t source_sequence;   //  source ring sequence, last seen
    uint64_t source_lost;       //  source_lost, last seen
    uint64_t source_restarts;   //  source_restarts, last seen
    int64_t last_heard;         //  zclock_mono of its last message or heartbeat
    uint32_t interval_ms;       //  heartbeat interval the sender promised
    bool silent;                //  reported silent and not heard since
} s_in_stream_t;

//  Counters; every one is reported by STATS.
typedef struct {
    uint64_t read;              //  serve: messages read from the ring
    uint64_t sent_plain;        //  serve: messages sent to plain clients
    uint64_t sent_link;         //  serve: messages sent on link streams
    uint64_t batches;           //  batches of two or more sent (serve) or received (feed)
    uint64_t heartbeats;        //  heartbeats sent (serve) or received (feed)
    uint64_t send_errors;       //  serve: sends ZeroMQ refused
    uint64_t refused;           //  serve: subscriptions refused (malformed or too many)
    uint64_t received;          //  feed: messages received from the network
    uint64_t published;         //  feed: messages published into the ring
    uint64_t bytes;             //  payload bytes forwarded
    uint64_t malformed;         //  input dropped: bad frames or metadata
    uint64_t oversized;         //  input dropped: too large or too many frames
    uint64_t gaps;              //  feed: link_sequence gaps seen
    uint64_t missing;           //  feed: messages lost between the bridges
    uint64_t duplicates;        //  feed: link_sequence not after the last
    uint64_t link_restarts;     //  feed: serving bridge restarts seen
    uint64_t away;              //  feed: source messages passed while it was away
    uint64_t source_restarts;   //  publisher restarts (at the source)
    uint64_t source_lost;       //  messages lost at the source reader
    uint64_t hops_dropped;      //  feed: dropped for too many hops
    uint64_t publish_errors;    //  feed: the ring refused a message
    uint64_t silent;            //  feed: streams that fell silent
} s_stats_t;

typedef struct {
    zsock_t *pipe;              //  actor pipe
    bool verbose;               //  log every event
    bool terminated;            //  $TERM received
    bool started;               //  START succeeded
    s_direction_t direction;    //  serve or feed
    char *source;               //  SOURCE as given
    char *dest;                 //  DEST as given
    char *name;                 //  "SOURCE -> DEST", for logs

    //  Options
    char *link;                 //  link endpoint; NULL default, "none"
    bool plain;                 //  feed: plain SUB on SOURCE, no metadata
    int sndhwm;                 //  ZMQ_SNDHWM
    int linkhwm;                //  serve: ZMQ_SNDHWM of the link socket, -1: sndhwm
    int rcvhwm;                 //  ZMQ_RCVHWM
    int64_t maxmsg;             //  largest frame/message, bytes
    int maxframes;              //  most frames per message
    int heartbeat;              //  heartbeat interval, ms
    zshm_idle_t idle;           //  serve: how the ring reader waits
    bool idle_set;              //  idle given as an option
    uint32_t maxhops;           //  feed: most hops accepted
    zcert_t *cert;              //  our CURVE certificate, or NULL
    char *server_key;           //  feed: server's public key (Z85), or NULL
    zlistx_t *prefixes;         //  feed: prefixes (zchunk_t *) to subscribe to
    char *error;                //  first bad option, reported at START
    char data_endpoint [256];   //  resolved data endpoint, "" none
    char link_endpoint [256];   //  resolved link endpoint, "" none
    char host [ZSHM_BRIDGE_HOST_MAX + 1];   //  our host name, for Meta

    //  Serving side
    zshm_sub_t *sub;            //  reads the source ring
    char channel [ZSHM_NAME_MAX + 1];   //  source channel name
    zshm_ring_t *ring;          //  our own handle on the source, for its incarnation
    uint64_t ring_restarts;     //  zshm_sub_restarts when `ring` was opened
    zsock_t *data;              //  XPUB for plain clients, or NULL
    zsock_t *linksock;          //  XPUB for bridges, or NULL
    zlistx_t *plain_subs;       //  zchunk_t: prefixes plain clients want
    bool plain_overflow;        //  too many to track: send everything
    s_out_stream_t *out;        //  streams, S_STREAMS_MAX of them
    size_t out_count;           //  streams in use
    unsigned char *frame0;      //  scratch for [length][topic]
    size_t frame0_size;         //  its size
    int64_t last_heartbeat_check;   //  zclock_mono of the last look at idle streams
    bool source_gone;           //  the source publisher was reported dead

    //  Feeding side
    zshm_pub_t *pub;            //  publishes into the local ring
    zsock_t *input;             //  SUB on the serving bridge
    s_in_stream_t *in;          //  one per prefix
    size_t in_count;            //  prefixes
    zmq_msg_t *parts;           //  frames of the message being received
    const void **part_data;     //  frame pointers (zshm_pub_send_frames, batches)
    size_t *part_sizes;         //  frame sizes, as many
    size_t part_max;            //  entries of part_data and part_sizes

    s_stats_t stats;            //  counters
} self_t;

static uint64_t
s_random64 (void)
{
    uint64_t value = 0;
    if (getrandom (&value, sizeof value, GRND_NONBLOCK) != sizeof value)
        value = (uint64_t) zclock_usecs () ^ ((uint64_t) getpid () << 32);
    return value ? value : 1;
}

static uint64_t
s_realtime_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

//  A printable form of bytes for logs (at most ~64 shown), in buf.
static const char *
s_printable (const void *data, size_t size, char *buf, size_t buf_size)
{
    const unsigned char *bytes = (const unsigned char *) data;
    size_t used = 0;
    buf [0] = 0;
    for (size_t index = 0; index < size && used + 8 < buf_size; index++) {
        if (index == 64) {
            snprintf (buf + used, buf_size - used, "...");
            break;
        }
        unsigned char c = bytes [index];
        if (c >= 32 && c < 127 && c != '"' && c != '\\')
            used += (size_t) snprintf (buf + used, buf_size - used, "%c", c);
        else
            used += (size_t) snprintf (buf + used, buf_size - used, "\\x%02x", c);
    }
    return buf;
}

//  Complain about bad input: always the first few times, then at powers of
//  two (and always when verbose), so a flood of garbage cannot flood the log.
static bool
s_should_log (self_t *self, uint64_t count)
{
    return self->verbose || count <= 4 || (count & (count - 1)) == 0;
}

static void
s_set_error (self_t *self, const char *format, ...)
{
    if (self->error)
        return;
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    self->error = text;
}

static self_t *
s_self_new (zsock_t *pipe, const char *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->sndhwm = 10000;
    self->linkhwm = -1;
    self->rcvhwm = 10000;
    self->maxmsg = 16 * 1024 * 1024;
    self->maxframes = 256;
    self->heartbeat = 1000;
    self->idle = ZSHM_IDLE_BLOCK;
    self->maxhops = 8;
    self->prefixes = zlistx_new ();
    zlistx_set_destructor (self->prefixes, (zlistx_destructor_fn *) zchunk_destroy);
    self->plain_subs = zlistx_new ();
    zlistx_set_destructor (self->plain_subs, (zlistx_destructor_fn *) zchunk_destroy);
    if (gethostname (self->host, sizeof self->host - 1))
        strcpy (self->host, "unknown");
    self->host [sizeof self->host - 1] = 0;

    const char *space = args ? strchr (args, ' ') : NULL;
    if (!space) {
        s_set_error (self, "need SOURCE and DEST");
        self->source = strdup ("");
        self->dest = strdup ("");
    }
    else {
        self->source = strndup (args, (size_t) (space - args));
        self->dest = strdup (space + 1);
    }
    self->name = zsys_sprintf ("%s -> %s", self->source, self->dest);
    bool source_shm = strncmp (self->source, "shm://", 6) == 0;
    bool dest_shm = strncmp (self->dest, "shm://", 6) == 0;
    if (source_shm && !dest_shm)
        self->direction = S_SERVE;
    else
    if (dest_shm && !source_shm)
        self->direction = S_FEED;
    else
        s_set_error (self, "one of SOURCE and DEST must be shm:// and the other a ZeroMQ endpoint");
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    assert (self_p);
    self_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->data);
    zsock_destroy (&self->linksock);
    zsock_destroy (&self->input);
    zshm_sub_destroy (&self->sub);
    zshm_ring_destroy (&self->ring);
    zshm_pub_destroy (&self->pub);
    zcert_destroy (&self->cert);
    zlistx_destroy (&self->prefixes);
    zlistx_destroy (&self->plain_subs);
    if (self->parts)
        for (int index = 0; index < self->maxframes + 2; index++)
            zmq_msg_close (&self->parts [index]);
    free (self->parts);
    free (self->part_data);
    free (self->part_sizes);
    for (size_t index = 0; index < self->out_count; index++)
        free (self->out [index].batch);
    free (self->out);
    free (self->in);
    free (self->frame0);
    free (self->server_key);
    free (self->link);
    free (self->error);
    free (self->name);
    free (self->source);
    free (self->dest);
    free (self);
    *self_p = NULL;
}

//  Parse a whole non-negative decimal number in [low, high].
static bool
s_parse_number (const char *text, int64_t low, int64_t high, int64_t *value_p)
{
    if (!text || *text < '0' || *text > '9')
        return false;
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || *end || value < low || value > high)
        return false;
    *value_p = value;
    return true;
}

static void
s_set_option (self_t *self, const char *name, const char *value)
{
    int64_t number = 0;
    if (!name || !value)
        s_set_error (self, "SET needs a name and a value");
    else
    if (streq (name, "link")) {
        free (self->link);
        self->link = strdup (value);
    }
    else
    if (streq (name, "plain")) {
        if (s_parse_number (value, 0, 1, &number))
            self->plain = number == 1;
        else
            s_set_error (self, "plain must be 0 or 1, not '%s'", value);
    }
    else
    if (streq (name, "sndhwm") || streq (name, "rcvhwm") || streq (name, "linkhwm")) {
        if (!s_parse_number (value, 0, INT32_MAX, &number))
            s_set_error (self, "%s must be a number of messages, not '%s'", name, value);
        else
        if (streq (name, "sndhwm"))
            self->sndhwm = (int) number;
        else
        if (streq (name, "linkhwm"))
            self->linkhwm = (int) number;
        else
            self->rcvhwm = (int) number;
    }
    else
    if (streq (name, "maxmsg")) {
        if (s_parse_number (value, 64, INT64_MAX / 2, &number))
            self->maxmsg = number;
        else
            s_set_error (self, "maxmsg must be a number of bytes >= 64, not '%s'", value);
    }
    else
    if (streq (name, "maxframes")) {
        if (s_parse_number (value, 1, 65536, &number))
            self->maxframes = (int) number;
        else
            s_set_error (self, "maxframes must be 1..65536, not '%s'", value);
    }
    else
    if (streq (name, "heartbeat")) {
        if (s_parse_number (value, 10, 3600000, &number))
            self->heartbeat = (int) number;
        else
            s_set_error (self, "heartbeat must be 10..3600000 ms, not '%s'", value);
    }
    else
    if (streq (name, "idle")) {
        if (zshm_idle_parse (value, &self->idle) == 0)
            self->idle_set = true;
        else
            s_set_error (self, "idle must be spin, yield, backoff or block, not '%s'", value);
    }
    else
    if (streq (name, "maxhops")) {
        if (s_parse_number (value, 0, 1000, &number))
            self->maxhops = (uint32_t) number;
        else
            s_set_error (self, "maxhops must be 0..1000, not '%s'", value);
    }
    else
        s_set_error (self, "unknown option '%s'", name);
}

//  Options every network socket of the bridge gets.
static void
s_socket_options (self_t *self, zsock_t *sock, int64_t maxmsgsize)
{
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, self->sndhwm);
    zsock_set_rcvhwm (sock, self->rcvhwm);
    zsock_set_maxmsgsize (sock, (int) (maxmsgsize > INT32_MAX ? -1 : maxmsgsize));
    //  ZMTP heartbeats: a silent or half-dead peer is dropped after three
    //  intervals, and the connecting side reconnects on its own.
    zsock_set_heartbeat_ivl (sock, self->heartbeat);
    zsock_set_heartbeat_timeout (sock, 3 * self->heartbeat);
    zsock_set_heartbeat_ttl (sock, 3 * self->heartbeat);
    zsock_set_reconnect_ivl (sock, 100);
    zsock_set_reconnect_ivl_max (sock, 2000);
}

//  Bind or connect one endpoint ('@' binds, '>' connects, otherwise the
//  default); store what it resolved to.  Returns 0 or -1.
static int
s_attach (zsock_t *sock, const char *endpoint, bool serverish, char *resolved, size_t size)
{
    bool bind = serverish;
    if (*endpoint == '@' || *endpoint == '>') {
        bind = *endpoint == '@';
        endpoint++;
    }
    if (bind) {
        if (zsock_bind (sock, "%s", endpoint) == -1)
            return -1;
        char *last = zsock_last_endpoint (sock);
        snprintf (resolved, size, "%s", last ? last : endpoint);
        free (last);
    }
    else {
        if (zsock_connect (sock, "%s", endpoint) == -1)
            return -1;
        snprintf (resolved, size, "%s", endpoint);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Serving side: ring -> XPUB

//  The source writer's incarnation.  zshm_sub does not expose it, so we
//  keep our own read handle on the channel, reopened whenever the
//  subscriber has seen the publisher restart (it may be a new segment).
static uint64_t
s_source_incarnation (self_t *self)
{
    uint64_t restarts = zshm_sub_restarts (self->sub);
    if (!self->ring || restarts != self->ring_restarts) {
        zshm_ring_destroy (&self->ring);
        self->ring = zshm_ring_open (self->channel);
        self->ring_restarts = restarts;
    }
    return self->ring ? zshm_ring_incarnation (self->ring) : 0;
}

static int
s_start_serve (self_t *self)
{
    //  shm://NAME[?options]: the channel name, then the subscriber endpoint
    //  with our idle strategy unless the user chose one in the URL.
    const char *name = self->source + 6;
    size_t name_size = strcspn (name, "?");
    if (name_size == 0 || name_size > ZSHM_NAME_MAX) {
        s_set_error (self, "bad channel name in %s", self->source);
        return -1;
    }
    memcpy (self->channel, name, name_size);
    self->channel [name_size] = 0;
    if (!zshm_ring_name_valid (self->channel)) {
        s_set_error (self, "bad channel name in %s", self->source);
        return -1;
    }
    char *endpoint = NULL;
    if (strstr (self->source, "idle=") && !self->idle_set)
        endpoint = strdup (self->source);
    else
        endpoint = zsys_sprintf ("%s%cidle=%s", self->source,
                                 strchr (self->source, '?') ? '&' : '?',
                                 zshm_idle_name (self->idle));
    self->sub = zshm_sub_new (endpoint, "");
    int error = errno;
    free (endpoint);
    if (!self->sub) {
        s_set_error (self, "cannot read %s: %s", self->source, strerror (error));
        return -1;
    }
    self->data = zsock_new (ZMQ_XPUB);
    assert (self->data);
    s_socket_options (self, self->data, S_XPUB_MAXMSG);
    if (self->cert) {
        zcert_apply (self->cert, zsock_resolve (self->data));
        zsock_set_curve_server (self->data, 1);
        zsock_set_zap_domain (self->data, "zshm");
    }
    if (s_attach (self->data, self->dest, true, self->data_endpoint,
                  sizeof self->data_endpoint)) {
        s_set_error (self, "cannot bind %s: %s", self->dest, zmq_strerror (zmq_errno ()));
        return -1;
    }
    char *link = self->link ? strdup (self->link) : zshm_bridge_link_endpoint (self->dest);
    if (!link) {
        s_set_error (self, "no default link endpoint for %s: give one (link)", self->dest);
        return -1;
    }
    if (!streq (link, "none")) {
        self->linksock = zsock_new (ZMQ_XPUB);
        assert (self->linksock);
        s_socket_options (self, self->linksock, S_XPUB_MAXMSG);
        if (self->linkhwm >= 0)
            zsock_set_sndhwm (self->linksock, self->linkhwm);
        if (self->cert) {
            zcert_apply (self->cert, zsock_resolve (self->linksock));
            zsock_set_curve_server (self->linksock, 1);
            zsock_set_zap_domain (self->linksock, "zshm");
        }
        if (s_attach (self->linksock, link, true, self->link_endpoint,
                      sizeof self->link_endpoint)) {
            s_set_error (self, "cannot bind %s: %s", link, zmq_strerror (zmq_errno ()));
            free (link);
            return -1;
        }
    }
    free (link);
    self->out = (s_out_stream_t *) zmalloc (S_STREAMS_MAX * sizeof (s_out_stream_t));
    self->frame0_size = 1024;
    self->frame0 = (unsigned char *) malloc (self->frame0_size);
    assert (self->frame0);
    zsys_info ("zshm-bridge: serving %s on %s (bridges: %s)", self->source, self->data_endpoint,
               *self->link_endpoint ? self->link_endpoint : "none");
    return 0;
}

//  Does any plain client want this topic?
static bool
s_plain_wanted (self_t *self, const void *topic, size_t topic_size)
{
    if (self->plain_overflow)
        return true;
    zchunk_t *prefix = (zchunk_t *) zlistx_first (self->plain_subs);
    while (prefix) {
        size_t size = zchunk_size (prefix);
        if (size <= topic_size && memcmp (zchunk_data (prefix), topic, size) == 0)
            return true;
        prefix = (zchunk_t *) zlistx_next (self->plain_subs);
    }
    return false;
}

//  Receive a whole message from a socket into a zmsg without waiting.
static zmsg_t *
s_recv_nowait (zsock_t *sock)
{
    if (!(zsock_events (sock) & ZMQ_POLLIN))
        return NULL;
    return zmsg_recv (sock);
}

//  Subscriptions from plain clients.  XPUB without VERBOSE reports each
//  distinct prefix once when first subscribed and once when its last
//  subscriber leaves, so our list mirrors XPUB's own set.
static void
s_serve_data_input (self_t *self)
{
    zmsg_t *msg;
    int budget = S_BATCH;
    while (budget-- > 0 && (msg = s_recv_nowait (self->data))) {
        zframe_t *frame = zmsg_first (msg);
        size_t size = frame ? zframe_size (frame) : 0;
        const unsigned char *data = frame ? zframe_data (frame) : NULL;
        char text [300];
        if (zmsg_size (msg) != 1 || size == 0 || (data [0] != 0 && data [0] != 1)) {
            self->stats.malformed++;
            if (s_should_log (self, self->stats.malformed))
                zsys_warning ("zshm-bridge: %s: dropped a message from a plain client "
                              "(%zu frames; malformed=%" PRIu64 ")",
                              self->name, zmsg_size (msg), self->stats.malformed);
        }
        else
        if (data [0] == 1) {
            if (zlistx_size (self->plain_subs) >= S_PLAIN_SUBS_MAX)
                self->plain_overflow = true;
            else
                zlistx_add_end (self->plain_subs, zchunk_new (data + 1, size - 1));
            if (self->verbose)
                zsys_info ("zshm-bridge: %s: plain client subscribed to \"%s\"", self->name,
                           s_printable (data + 1, size - 1, text, sizeof text));
        }
        else {
            zchunk_t *prefix = (zchunk_t *) zlistx_first (self->plain_subs);
            while (prefix) {
                if (zchunk_size (prefix) == size - 1
                &&  memcmp (zchunk_data (prefix), data + 1, size - 1) == 0) {
                    zlistx_delete (self->plain_subs, zlistx_cursor (self->plain_subs));
                    break;
                }
                prefix = (zchunk_t *) zlistx_next (self->plain_subs);
            }
            if (self->verbose)
                zsys_info ("zshm-bridge: %s: plain clients left \"%s\"", self->name,
                           s_printable (data + 1, size - 1, text, sizeof text));
        }
        zmsg_destroy (&msg);
    }
}

static s_out_stream_t *
s_out_stream_find (self_t *self, const unsigned char *tag, size_t tag_size)
{
    for (size_t index = 0; index < self->out_count; index++)
        if (self->out [index].tag_size == tag_size
        &&  memcmp (self->out [index].tag, tag, tag_size) == 0)
            return &self->out [index];
    return NULL;
}

//  Subscriptions from bridges: [1][length][prefix] starts a stream,
//  [0][length][prefix] ends it (its last subscriber left).
static void
s_serve_link_input (self_t *self)
{
    zmsg_t *msg;
    int budget = S_BATCH;
    while (budget-- > 0 && (msg = s_recv_nowait (self->linksock))) {
        zframe_t *frame = zmsg_first (msg);
        size_t size = frame ? zframe_size (frame) : 0;
        const unsigned char *data = frame ? zframe_data (frame) : NULL;
        char text [300];
        bool valid = zmsg_size (msg) == 1 && size >= 2 && (data [0] == 0 || data [0] == 1)
                  && (size_t) data [1] == size - 2;
        if (!valid) {
            self->stats.refused++;
            if (s_should_log (self, self->stats.refused))
                zsys_warning ("zshm-bridge: %s: refused a malformed link subscription or "
                              "message (%zu frames, %zu bytes; refused=%" PRIu64 ")",
                              self->name, zmsg_size (msg), size, self->stats.refused);
        }
        else
        if (data [0] == 1) {
            s_out_stream_t *stream = s_out_stream_find (self, data + 1, size - 1);
            if (!stream && self->out_count == S_STREAMS_MAX)
                for (size_t index = 0; index < self->out_count; index++)
                    if (!self->out [index].active) {
                        free (self->out [index].batch);     //  nothing pending: inactive
                        self->out [index] = self->out [--self->out_count];
                        break;
                    }
            if (stream) {
                stream->active = true;
                zsys_info ("zshm-bridge: %s: bridge subscribed to \"%s\" (link %016" PRIx64
                           " resumes after %" PRIu64 ")", self->name,
                           s_printable (data + 2, size - 2, text, sizeof text),
                           stream->incarnation, stream->sequence);
            }
            else
            if (self->out_count == S_STREAMS_MAX) {
                self->stats.refused++;
                if (s_should_log (self, self->stats.refused))
                    zsys_warning ("zshm-bridge: %s: too many link streams (%d); refused \"%s\"",
                                  self->name, S_STREAMS_MAX,
                                  s_printable (data + 2, size - 2, text, sizeof text));
            }
            else {
                stream = &self->out [self->out_count++];
                memset (stream, 0, sizeof *stream);
                memcpy (stream->tag, data + 1, size - 1);
                stream->tag_size = size - 1;
                stream->sequence = 0;
                stream->incarnation = s_random64 ();
                stream->last_send = zclock_mono ();
                stream->active = true;
                zsys_info ("zshm-bridge: %s: bridge subscribed to \"%s\" (link %016" PRIx64 ")",
                           self->name, s_printable (data + 2, size - 2, text, sizeof text),
                           stream->incarnation);
            }
        }
        else {
            s_out_stream_t *stream = s_out_stream_find (self, data + 1, size - 1);
            if (stream) {
                zsys_info ("zshm-bridge: %s: bridges left \"%s\" after %" PRIu64 " messages",
                           self->name, s_printable (data + 2, size - 2, text, sizeof text),
                           stream->sequence);
                stream->active = false;
            }
        }
        zmsg_destroy (&msg);
    }
}

//  Send the message the subscriber holds: frames from `first` on, the
//  last one without SNDMORE.  Returns 0 or -1.
static int
s_send_sub_frames (self_t *self, void *handle, size_t frames, size_t first)
{
    for (size_t index = first; index < frames; index++) {
        size_t size = 0;
        const void *data = zshm_sub_frame (self->sub, index, &size);
        int flags = ZMQ_DONTWAIT | (index + 1 < frames ? ZMQ_SNDMORE : 0);
        if (zmq_send (handle, data, size, flags) == -1)
            return -1;
    }
    return 0;
}

//  Room for `count` frame pointers and sizes; 0, or -1 (no memory).
static int
s_parts_reserve (self_t *self, size_t count)
{
    if (count <= self->part_max)
        return 0;
    size_t grown = self->part_max ? self->part_max : 16;
    while (grown < count)
        grown *= 2;
    const void **data = (const void **) realloc (self->part_data, grown * sizeof (void *));
    if (data)
        self->part_data = data;
    size_t *sizes = (size_t *) realloc (self->part_sizes, grown * sizeof (size_t));
    if (sizes)
        self->part_sizes = sizes;
    if (!data || !sizes)
        return -1;
    self->part_max = grown;
    return 0;
}

//  Add the message the subscriber holds to a stream's batch (whose shared
//  Meta the caller has set), numbered with the stream's next
//  link_sequence (used whether or not the batch reaches the peer: the
//  feeding bridge counts what does not).  Returns 0, or -1 if there is no
//  memory for it (then it is not numbered).
static int
s_batch_append (self_t *self, s_out_stream_t *stream, uint64_t source_sequence, size_t frames)
{
    for (size_t index = 0; index < frames; index++)
        self->part_data [index] = zshm_sub_frame (self->sub, index, &self->part_sizes [index]);
    uint64_t increase = stream->batch_count ? source_sequence - stream->batch_last_source : 0;
    if (zshm_bridge_batch_add (&stream->batch, &stream->batch_size, &stream->batch_max,
                               increase, self->part_data, self->part_sizes, frames))
        return -1;
    if (stream->batch_count == 0)
        stream->batch_first = stream->sequence + 1;
    stream->batch_count++;
    stream->batch_last_source = source_sequence;
    stream->sequence++;
    return 0;
}

//  Send a stream's batch: one message alone as [length][topic], Meta and
//  its frames, as before batches; two or more as [length][prefix], a Meta
//  with batch = N, and the batch frame.  An XPUB never blocks; at a peer's
//  high-water mark it drops the whole ZeroMQ message for that peer, and the
//  feeding bridge counts the hole in link_sequence.
static void
s_serve_flush (self_t *self, s_out_stream_t *stream)
{
    if (stream->batch_count == 0)
        return;
    void *handle = zsock_resolve (self->linksock);
    zshm_bridge_meta_t *meta = &stream->batch_meta;
    meta->publish_time_ns = s_realtime_ns ();
    snprintf (meta->channel, sizeof meta->channel, "%s", self->channel);
    snprintf (meta->origin_host, sizeof meta->origin_host, "%s", self->host);
    meta->link_sequence = stream->batch_first;
    meta->link_incarnation = stream->incarnation;
    meta->hops = 0;
    unsigned char packed [ZSHM_BRIDGE_META_MAX];
    int rc = -1;
    if (stream->batch_count == 1) {
        zshm_bridge_batch_t batch;
        zshm_bridge_entry_t entry = { 0, 0, self->part_data, self->part_sizes };
        zshm_bridge_batch_start (&batch, stream->batch, stream->batch_size, 1, 0);
        zshm_bridge_batch_next (&batch, &entry);
        meta->frames = (uint32_t) entry.frames;
        meta->batch = 0;
        ssize_t packed_size = zshm_bridge_meta_encode (meta, packed, sizeof packed);
        size_t topic_size = entry.sizes [0];
        if (1 + topic_size > self->frame0_size) {
            size_t size = self->frame0_size;
            while (size < 1 + topic_size)
                size *= 2;
            unsigned char *bigger = (unsigned char *) realloc (self->frame0, size);
            if (bigger) {
                self->frame0 = bigger;
                self->frame0_size = size;
            }
        }
        if (packed_size >= 0 && 1 + topic_size <= self->frame0_size) {
            self->frame0 [0] = stream->tag [0];
            if (topic_size)
                memcpy (self->frame0 + 1, entry.data [0], topic_size);
            rc = zmq_send (handle, self->frame0, 1 + topic_size, ZMQ_DONTWAIT | ZMQ_SNDMORE)
                 == -1 ? -1 : 0;
            if (rc == 0)
                rc = zmq_send (handle, packed, (size_t) packed_size,
                               ZMQ_DONTWAIT | (entry.frames > 1 ? ZMQ_SNDMORE : 0))
                     == -1 ? -1 : 0;
            for (size_t index = 1; rc == 0 && index < entry.frames; index++) {
                rc = zmq_send (handle, entry.data [index], entry.sizes [index],
                               ZMQ_DONTWAIT | (index + 1 < entry.frames ? ZMQ_SNDMORE : 0))
                     == -1 ? -1 : 0;
            }
        }
    }
    else {
        meta->frames = 0;
        meta->batch = stream->batch_count;
        ssize_t packed_size = zshm_bridge_meta_encode (meta, packed, sizeof packed);
        if (packed_size >= 0
        &&  zmq_send (handle, stream->tag, stream->tag_size, ZMQ_DONTWAIT | ZMQ_SNDMORE) != -1
        &&  zmq_send (handle, packed, (size_t) packed_size, ZMQ_DONTWAIT | ZMQ_SNDMORE) != -1
        &&  zmq_send (handle, stream->batch, stream->batch_size, ZMQ_DONTWAIT) != -1)
            rc = 0;
    }
    if (rc == 0) {
        self->stats.sent_link += stream->batch_count;
        if (stream->batch_count > 1)
            self->stats.batches++;
    }
    else
        self->stats.send_errors++;
    stream->last_send = zclock_mono ();
    stream->batch_count = 0;
    stream->batch_size = 0;
}

//  Send every stream's pending batch.
static void
s_serve_flush_all (self_t *self)
{
    for (size_t index = 0; index < self->out_count; index++)
        s_serve_flush (self, &self->out [index]);
}

static void
s_serve_message (self_t *self, size_t frames)
{
    if (s_parts_reserve (self, frames)) {
        self->stats.send_errors++;
        return;
    }
    size_t topic_size = 0;
    const void *topic = zshm_sub_frame (self->sub, 0, &topic_size);
    self->stats.read++;
    if (!topic)
        return;
    size_t payload = 0;
    for (size_t index = 1; index < frames; index++) {
        size_t size = 0;
        zshm_sub_frame (self->sub, index, &size);
        payload += size;
    }
    bool sent = false;
    if (s_plain_wanted (self, topic, topic_size)) {
        if (s_send_sub_frames (self, zsock_resolve (self->data), frames, 0) == 0) {
            self->stats.sent_plain++;
            sent = true;
        }
        else
            self->stats.send_errors++;
    }
    if (self->out_count == 0) {
        if (sent)
            self->stats.bytes += payload;
        return;
    }
    //  The link streams whose prefix the topic starts with get it, each
    //  with its own link_sequence, in their batches.
    bool known = false;
    uint64_t incarnation = 0, lost = 0, restarts = 0;
    const char *type = NULL;
    for (size_t index = 0; index < self->out_count; index++) {
        s_out_stream_t *stream = &self->out [index];
        size_t prefix_size = stream->tag_size - 1;
        if (prefix_size > topic_size || memcmp (stream->tag + 1, topic, prefix_size) != 0)
            continue;
        if (!stream->active) {
            stream->sequence++;     //  counted, not sent: see S_STREAMS_MAX
            continue;
        }
        if (!known) {
            //  What a batch's messages must share
            incarnation = s_source_incarnation (self);
            lost = zshm_sub_lost (self->sub);
            restarts = zshm_sub_restarts (self->sub);
            type = zshm_sub_type (self->sub);
            if (!type)
                type = "";
            known = true;
        }
        zshm_bridge_meta_t *shared = &stream->batch_meta;
        bool alone = payload + topic_size > S_BATCH_ALONE;
        if (stream->batch_count
        &&  (shared->source_incarnation != incarnation || shared->source_lost != lost
          || shared->source_restarts != restarts || strcmp (shared->type_name, type) != 0
          || stream->batch_count >= S_BATCH_MESSAGES || stream->batch_size >= S_BATCH_BYTES
          || alone))
            s_serve_flush (self, stream);
        if (stream->batch_count == 0) {
            memset (shared, 0, sizeof *shared);
            shared->version = ZSHM_BRIDGE_META_VERSION;
            shared->source_sequence = zshm_sub_seq (self->sub);
            shared->source_incarnation = incarnation;
            shared->source_lost = lost;
            shared->source_restarts = restarts;
            snprintf (shared->type_name, sizeof shared->type_name, "%s", type);
        }
        if (s_batch_append (self, stream, zshm_sub_seq (self->sub), frames))
            self->stats.send_errors++;
        else {
            sent = true;
            if (alone)
                s_serve_flush (self, stream);
        }
    }
    if (sent)
        self->stats.bytes += payload;
}

//  Heartbeats on streams idle for an interval: the far side learns the
//  last link_sequence (a gap at the tail of a burst) and that we live.
static void
s_serve_heartbeats (self_t *self)
{
    int64_t now = zclock_mono ();
    if (now - self->last_heartbeat_check < self->heartbeat / 4)
        return;
    self->last_heartbeat_check = now;
    void *handle = self->linksock ? zsock_resolve (self->linksock) : NULL;
    for (size_t index = 0; index < self->out_count; index++) {
        s_out_stream_t *stream = &self->out [index];
        if (!stream->active || now - stream->last_send < self->heartbeat)
            continue;
        zshm_bridge_heartbeat_t heartbeat;
        memset (&heartbeat, 0, sizeof heartbeat);
        heartbeat.version = ZSHM_BRIDGE_META_VERSION;
        heartbeat.link_sequence = stream->sequence;
        heartbeat.link_incarnation = stream->incarnation;
        heartbeat.time_ns = s_realtime_ns ();
        heartbeat.source_incarnation = s_source_incarnation (self);
        heartbeat.source_lost = zshm_sub_lost (self->sub);
        heartbeat.source_restarts = zshm_sub_restarts (self->sub);
        snprintf (heartbeat.channel, sizeof heartbeat.channel, "%s", self->channel);
        snprintf (heartbeat.origin_host, sizeof heartbeat.origin_host, "%s", self->host);
        heartbeat.interval_ms = (uint32_t) self->heartbeat;
        unsigned char packed [ZSHM_BRIDGE_META_MAX];
        ssize_t packed_size = zshm_bridge_heartbeat_encode (&heartbeat, packed, sizeof packed);
        stream->last_send = now;
        if (packed_size < 0
        ||  zmq_send (handle, stream->tag, stream->tag_size, ZMQ_DONTWAIT | ZMQ_SNDMORE) == -1
        ||  zmq_send (handle, "", 0, ZMQ_DONTWAIT | ZMQ_SNDMORE) == -1
        ||  zmq_send (handle, packed, (size_t) packed_size, ZMQ_DONTWAIT) == -1)
            self->stats.send_errors++;
        else
            self->stats.heartbeats++;
    }
}

//  --------------------------------------------------------------------------
//  Feeding side: SUB -> ring

static int
s_start_feed (self_t *self)
{
    self->pub = zshm_pub_new (self->dest);
    if (!self->pub) {
        s_set_error (self, "cannot publish on %s: %s", self->dest, strerror (errno));
        return -1;
    }
    //  One stream per prefix; a prefix covered by a shorter one is dropped,
    //  so that every topic matches at most one stream (exact gap counts).
    if (zlistx_size (self->prefixes) == 0)
        zlistx_add_end (self->prefixes, zchunk_new ("", 0));
    size_t given = zlistx_size (self->prefixes);
    self->in = (s_in_stream_t *) zmalloc (given * sizeof (s_in_stream_t));
    zchunk_t **list = (zchunk_t **) zmalloc (given * sizeof (zchunk_t *));
    size_t listed = 0;
    for (zchunk_t *prefix = (zchunk_t *) zlistx_first (self->prefixes); prefix;
         prefix = (zchunk_t *) zlistx_next (self->prefixes))
        list [listed++] = prefix;
    for (size_t index = 0; index < listed; index++) {
        size_t size = zchunk_size (list [index]);
        bool keep = size <= ZSHM_BRIDGE_PREFIX_MAX;
        for (size_t other = 0; other < listed && keep; other++) {
            size_t other_size = zchunk_size (list [other]);
            bool same_start = other_size <= size
                           && memcmp (zchunk_data (list [other]), zchunk_data (list [index]),
                                      other_size) == 0;
            //  Covered by a shorter prefix, or a duplicate of an earlier one.
            if (same_start && (other_size < size || other < index))
                keep = false;
        }
        if (keep) {
            s_in_stream_t *stream = &self->in [self->in_count++];
            memcpy (stream->prefix, zchunk_data (list [index]), size);
            stream->size = size;
        }
    }
    free (list);
    self->input = zsock_new (ZMQ_SUB);
    assert (self->input);
    //  A frame may be the largest message plus the link's length byte, a
    //  Meta, or a batch; ZeroMQ drops the connection on anything larger.
    s_socket_options (self, self->input, (self->maxmsg > S_BATCH_FRAME_MAX
                                          ? self->maxmsg : S_BATCH_FRAME_MAX)
                                         + ZSHM_BRIDGE_META_MAX);
    if (self->cert) {
        zcert_apply (self->cert, zsock_resolve (self->input));
        zsock_set_curve_serverkey (self->input, self->server_key);
    }
    void *handle = zsock_resolve (self->input);
    for (size_t index = 0; index < self->in_count; index++) {
        s_in_stream_t *stream = &self->in [index];
        unsigned char tag [1 + ZSHM_BRIDGE_PREFIX_MAX];
        tag [0] = (unsigned char) stream->size;
        memcpy (tag + 1, stream->prefix, stream->size);
        if (self->plain)
            zmq_setsockopt (handle, ZMQ_SUBSCRIBE, stream->prefix, stream->size);
        else
            zmq_setsockopt (handle, ZMQ_SUBSCRIBE, tag, 1 + stream->size);
    }
    char *endpoint = NULL;
    if (self->plain)
        endpoint = strdup (self->source);
    else
    if (self->link)
        endpoint = strdup (self->link);
    else
        endpoint = zshm_bridge_link_endpoint (self->source);
    if (!endpoint || streq (endpoint, "none")) {
        s_set_error (self, "no link endpoint for %s: give one (link), or use plain",
                     self->source);
        free (endpoint);
        return -1;
    }
    char *resolved = self->plain ? self->data_endpoint : self->link_endpoint;
    if (s_attach (self->input, endpoint, false, resolved, 256)) {
        s_set_error (self, "cannot connect %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        free (endpoint);
        return -1;
    }
    free (endpoint);
    size_t parts = (size_t) self->maxframes + 2;
    self->parts = (zmq_msg_t *) zmalloc (parts * sizeof (zmq_msg_t));
    if (s_parts_reserve (self, parts)) {
        s_set_error (self, "out of memory");
        return -1;
    }
    for (size_t index = 0; index < parts; index++)
        zmq_msg_init (&self->parts [index]);
    zsys_info ("zshm-bridge: feeding %s from %s%s", self->dest, resolved,
               self->plain ? " (plain, no metadata)" : "");
    return 0;
}

static s_in_stream_t *
s_in_stream_find (self_t *self, const unsigned char *prefix, size_t size)
{
    for (size_t index = 0; index < self->in_count; index++)
        if (self->in [index].size == size && memcmp (self->in [index].prefix, prefix, size) == 0)
            return &self->in [index];
    return NULL;
}

static void
s_malformed (self_t *self, const char *why)
{
    self->stats.malformed++;
    if (s_should_log (self, self->stats.malformed))
        zsys_warning ("zshm-bridge: %s: dropped malformed input: %s (malformed=%" PRIu64 ")",
                      self->name, why, self->stats.malformed);
}

//  What a Meta or Heartbeat says about the link and the source, checked
//  against what we knew.  Returns false if the message is a duplicate.
static bool
s_note_link (self_t *self, s_in_stream_t *stream, uint64_t incarnation, uint64_t sequence,
             bool heartbeat, uint64_t source_incarnation, uint64_t source_sequence,
             uint64_t source_lost, uint64_t source_restarts, const char *channel,
             int64_t now)
{
    //  The prefix made printable, only when something is logged
    char text [300];
#   define S_PREFIX s_printable (stream->prefix, stream->size, text, sizeof text)
    bool same_link = stream->incarnation == incarnation;
    if (stream->incarnation == 0)
        zsys_info ("zshm-bridge: %s: stream \"%s\": joined link %016" PRIx64 " after link "
                   "sequence %" PRIu64 " (source %s)", self->name, S_PREFIX, incarnation,
                   heartbeat ? sequence : sequence - 1, channel);
    else
    if (!same_link) {
        //  The serving bridge restarted (or the stream was started anew):
        //  not loss on the link.  If the source is the same publisher, its
        //  ring sequence tells how far it went meanwhile (all topics).
        self->stats.link_restarts++;
        uint64_t away = 0;
        if (!heartbeat && source_incarnation == stream->source_incarnation
        &&  source_sequence > stream->source_sequence + 1)
            away = source_sequence - stream->source_sequence - 1;
        self->stats.away += away;
        zsys_warning ("zshm-bridge: %s: stream \"%s\": upstream bridge restarted (link %016"
                      PRIx64 " -> %016" PRIx64 ") after link sequence %" PRIu64
                      "; source %s moved %" PRIu64 " -> %" PRIu64 ", %" PRIu64
                      " messages not carried while it was away (away=%" PRIu64 ")",
                      self->name, S_PREFIX, stream->incarnation, incarnation, stream->sequence,
                      channel, stream->source_sequence, source_sequence, away,
                      self->stats.away);
    }
    else
    if (sequence > stream->sequence + (heartbeat ? 0 : 1)) {
        //  Lost between the bridges: a high-water mark dropped them.
        uint64_t missing = sequence - stream->sequence - (heartbeat ? 0 : 1);
        self->stats.gaps++;
        self->stats.missing += missing;
        zsys_warning ("zshm-bridge: %s: stream \"%s\": gap: link sequence %" PRIu64 " -> %"
                      PRIu64 ", %" PRIu64 " messages lost between bridges (missing=%" PRIu64 ")",
                      self->name, S_PREFIX, stream->sequence, sequence, missing,
                      self->stats.missing);
    }
    else
    if (!heartbeat && sequence <= stream->sequence) {
        self->stats.duplicates++;
        if (s_should_log (self, self->stats.duplicates))
            zsys_warning ("zshm-bridge: %s: stream \"%s\": link sequence %" PRIu64
                          " after %" PRIu64 ": dropped (duplicates=%" PRIu64 ")",
                          self->name, S_PREFIX, sequence, stream->sequence,
                          self->stats.duplicates);
        return false;
    }
    if (stream->source_incarnation && source_incarnation
    &&  source_incarnation != stream->source_incarnation) {
        self->stats.source_restarts++;
        zsys_warning ("zshm-bridge: %s: stream \"%s\": publisher of %s restarted "
                      "(incarnation %016" PRIx64 " -> %016" PRIx64 "; source_restarts=%" PRIu64 ")",
                      self->name, S_PREFIX, channel, stream->source_incarnation,
                      source_incarnation, self->stats.source_restarts);
    }
    if (same_link && source_lost > stream->source_lost) {
        uint64_t lost = source_lost - stream->source_lost;
        self->stats.source_lost += lost;
        zsys_warning ("zshm-bridge: %s: the upstream bridge lost %" PRIu64 " messages "
                      "reading %s (source_lost=%" PRIu64 ")",
                      self->name, lost, channel, self->stats.source_lost);
    }
    stream->incarnation = incarnation;
    if (sequence > stream->sequence || !same_link)
        stream->sequence = sequence;
    if (source_incarnation)
        stream->source_incarnation = source_incarnation;
    if (!heartbeat)
        stream->source_sequence = source_sequence;
    stream->source_lost = source_lost;
    stream->source_restarts = source_restarts;
    stream->last_heard = now;
    if (stream->silent) {
        stream->silent = false;
        zsys_info ("zshm-bridge: %s: stream \"%s\": heard again", self->name, S_PREFIX);
    }
    return true;
#   undef S_PREFIX
}

static void
    s_feed_publish_frames (self_t *self, size_t frames, const char *type_name);

//  Publish [topic][parts first .. count-1] into the ring.
static void
s_feed_publish (self_t *self, const void *topic, size_t topic_size, size_t first, size_t count,
                const char *type_name)
{
    size_t frames = 1;
    self->part_data [0] = topic;
    self->part_sizes [0] = topic_size;
    for (size_t index = first; index < count; index++) {
        self->part_data [frames] = zmq_msg_data (&self->parts [index]);
        self->part_sizes [frames] = zmq_msg_size (&self->parts [index]);
        frames++;
    }
    s_feed_publish_frames (self, frames, type_name);
}

//  Publish the frames in part_data and part_sizes into the ring.
static void
s_feed_publish_frames (self_t *self, size_t frames, const char *type_name)
{
    size_t total = 0;
    for (size_t index = 1; index < frames; index++)
        total += self->part_sizes [index];
    if ((int64_t) total > self->maxmsg) {
        self->stats.oversized++;
        if (s_should_log (self, self->stats.oversized))
            zsys_warning ("zshm-bridge: %s: dropped a %zu-byte message (maxmsg %" PRId64 ")",
                          self->name, total, self->maxmsg);
        return;
    }
    int rc;
    if (frames == 2 && type_name && *type_name) {
        rc = zshm_pub_send_begin (self->pub, self->part_data [0], self->part_sizes [0],
                                  self->part_sizes [1], type_name);
        if (rc == 0)
            rc = zshm_pub_send_write (self->pub, self->part_data [1], self->part_sizes [1]);
        if (rc == 0)
            rc = zshm_pub_send_end (self->pub);
    }
    else
        rc = zshm_pub_send_frames (self->pub, self->part_data, self->part_sizes, frames);
    if (rc == 0) {
        self->stats.published++;
        self->stats.bytes += total;
    }
    else
    if (errno == EMSGSIZE) {
        self->stats.oversized++;
        if (s_should_log (self, self->stats.oversized))
            zsys_warning ("zshm-bridge: %s: %s refused a %zu-byte message as too large",
                          self->name, self->dest, total);
    }
    else {
        self->stats.publish_errors++;
        if (s_should_log (self, self->stats.publish_errors))
            zsys_warning ("zshm-bridge: %s: cannot publish: %s", self->name, strerror (errno));
    }
}

//  A batch off the link (Meta.batch >= 2): [length][prefix], the Meta,
//  the batch frame.  Checked whole before any of it is published; then
//  each message is accounted for and published as if it had come alone.
static void
s_feed_batch (self_t *self, s_in_stream_t *stream, const zshm_bridge_meta_t *meta,
              size_t count)
{
    //  Frame 0 is the stream's tag alone: [length][prefix]
    if (count != 3 || zmq_msg_size (&self->parts [0]) != 1 + stream->size) {
        s_malformed (self, "bad batch frames");
        return;
    }
    const void *data = zmq_msg_data (&self->parts [2]);
    size_t size = zmq_msg_size (&self->parts [2]);
    if (zshm_bridge_batch_check (data, size, meta->batch, (size_t) self->maxframes,
                                 (uint64_t) self->maxmsg)) {
        if (errno == EMSGSIZE) {
            self->stats.oversized++;
            if (s_should_log (self, self->stats.oversized))
                zsys_warning ("zshm-bridge: %s: dropped a batch with a message over maxmsg "
                              "or maxframes", self->name);
        }
        else
            s_malformed (self, "bad batch");
        return;
    }
    if (meta->hops >= self->maxhops) {
        self->stats.hops_dropped += meta->batch;
        if (s_should_log (self, self->stats.hops_dropped))
            zsys_warning ("zshm-bridge: %s: dropped %u messages that crossed %u bridges "
                          "(a loop?)", self->name, meta->batch, meta->hops + 1);
        return;
    }
    self->stats.batches++;
    zshm_bridge_batch_t batch;
    zshm_bridge_batch_start (&batch, data, size, meta->batch, meta->source_sequence);
    zshm_bridge_entry_t entry = { 0, 0, self->part_data, self->part_sizes };
    int64_t now = zclock_mono ();
    for (uint64_t index = 0; zshm_bridge_batch_next (&batch, &entry); index++) {
        self->stats.received++;
        if (!s_note_link (self, stream, meta->link_incarnation, meta->link_sequence + index,
                          false, meta->source_incarnation, entry.source_sequence,
                          meta->source_lost, meta->source_restarts, meta->channel, now))
            continue;
        //  Every topic of a stream starts with its prefix
        if (entry.sizes [0] < stream->size
        ||  memcmp (entry.data [0], stream->prefix, stream->size) != 0) {
            s_malformed (self, "a batched topic outside its stream");
            continue;
        }
        s_feed_publish_frames (self, entry.frames, meta->type_name);
    }
}

//  One message off the link: check it, account for it, publish it.
static void
s_feed_link_message (self_t *self, size_t count)
{
    if (count < 2) {
        s_malformed (self, "fewer than 2 frames");
        return;
    }
    const unsigned char *frame0 = (const unsigned char *) zmq_msg_data (&self->parts [0]);
    size_t frame0_size = zmq_msg_size (&self->parts [0]);
    if (frame0_size < 1 || (size_t) frame0 [0] > frame0_size - 1) {
        s_malformed (self, "bad stream tag in frame 0");
        return;
    }
    s_in_stream_t *stream = s_in_stream_find (self, frame0 + 1, frame0 [0]);
    if (!stream) {
        s_malformed (self, "a stream we did not subscribe to");
        return;
    }
    const void *frame1 = zmq_msg_data (&self->parts [1]);
    size_t frame1_size = zmq_msg_size (&self->parts [1]);
    if (frame1_size == 0) {
        zshm_bridge_heartbeat_t heartbeat;
        if (count != 3 || frame0_size != 1 + stream->size) {
            s_malformed (self, "bad heartbeat frames");
            return;
        }
        if (zshm_bridge_heartbeat_decode (zmq_msg_data (&self->parts [2]),
                                          zmq_msg_size (&self->parts [2]), &heartbeat)) {
            s_malformed (self, "bad heartbeat");
            return;
        }
        self->stats.heartbeats++;
        stream->interval_ms = heartbeat.interval_ms;
        s_note_link (self, stream, heartbeat.link_incarnation, heartbeat.link_sequence, true,
                     heartbeat.source_incarnation, 0, heartbeat.source_lost,
                     heartbeat.source_restarts, heartbeat.channel, zclock_mono ());
        return;
    }
    zshm_bridge_meta_t meta;
    if (zshm_bridge_meta_decode (frame1, frame1_size, &meta)) {
        s_malformed (self, "bad metadata");
        return;
    }
    if (meta.batch) {
        s_feed_batch (self, stream, &meta, count);
        return;
    }
    if ((size_t) meta.frames != count - 1) {
        s_malformed (self, "frame count differs from the metadata's");
        return;
    }
    if (meta.hops >= self->maxhops) {
        self->stats.hops_dropped++;
        if (s_should_log (self, self->stats.hops_dropped))
            zsys_warning ("zshm-bridge: %s: dropped a message that crossed %u bridges "
                          "(a loop?)", self->name, meta.hops + 1);
        return;
    }
    self->stats.received++;
    if (!s_note_link (self, stream, meta.link_incarnation, meta.link_sequence, false,
                      meta.source_incarnation, meta.source_sequence, meta.source_lost,
                      meta.source_restarts, meta.channel, zclock_mono ()))
        return;
    //  The topic after the length byte, then the frames after the Meta.
    s_feed_publish (self, frame0 + 1, frame0_size - 1, 2, count, meta.type_name);
}

//  Take one whole message from the input without waiting.  Returns its
//  frame count (parts[] hold the first maxframes + 2), 0 if none ready.
static size_t
s_feed_recv (self_t *self, bool *too_many_p)
{
    void *handle = zsock_resolve (self->input);
    size_t limit = (size_t) self->maxframes + 2;
    size_t count = 0;
    *too_many_p = false;
    while (true) {
        zmq_msg_t scratch;
        zmq_msg_t *part = count < limit ? &self->parts [count] : &scratch;
        if (part == &scratch)
            zmq_msg_init (&scratch);
        if (zmq_msg_recv (part, handle, count == 0 ? ZMQ_DONTWAIT : 0) == -1) {
            if (part == &scratch)
                zmq_msg_close (&scratch);
            return count;
        }
        bool more = zmq_msg_more (part);
        if (part == &scratch) {
            zmq_msg_close (&scratch);
            *too_many_p = true;
        }
        else
            count++;
        if (!more)
            return count;
    }
}

static void
s_feed_input (self_t *self)
{
    for (int budget = 0; budget < S_BATCH; budget++) {
        bool too_many = false;
        size_t count = s_feed_recv (self, &too_many);
        if (count == 0)
            return;
        if (too_many) {
            self->stats.oversized++;
            if (s_should_log (self, self->stats.oversized))
                zsys_warning ("zshm-bridge: %s: dropped a message of more than %d frames",
                              self->name, self->maxframes);
        }
        else
        if (self->plain) {
            self->stats.received++;
            s_feed_publish (self, zmq_msg_data (&self->parts [0]),
                            zmq_msg_size (&self->parts [0]), 1, count, NULL);
        }
        else
            s_feed_link_message (self, count);
        //  Give the frames back; zmq_msg_recv wants initialised messages.
        for (size_t index = 0; index < count; index++) {
            zmq_msg_close (&self->parts [index]);
            zmq_msg_init (&self->parts [index]);
        }
    }
}

//  Streams that promised heartbeats and fell silent for three intervals.
static void
s_feed_check_silence (self_t *self)
{
    int64_t now = zclock_mono ();
    for (size_t index = 0; index < self->in_count; index++) {
        s_in_stream_t *stream = &self->in [index];
        if (stream->silent || !stream->interval_ms || !stream->last_heard)
            continue;
        if (now - stream->last_heard > 3 * (int64_t) stream->interval_ms) {
            char text [300];
            stream->silent = true;
            self->stats.silent++;
            zsys_warning ("zshm-bridge: %s: stream \"%s\": nothing heard for %" PRId64
                          " ms (link down or upstream gone)", self->name,
                          s_printable (stream->prefix, stream->size, text, sizeof text),
                          now - stream->last_heard);
        }
    }
}

//  --------------------------------------------------------------------------
//  The actor shell

static size_t
s_active_streams (self_t *self)
{
    size_t active = 0;
    for (size_t index = 0; index < self->out_count; index++)
        active += self->out [index].active;
    return active;
}

static char *
s_stats_line (self_t *self)
{
    s_stats_t *s = &self->stats;
    if (self->direction == S_SERVE)
        return zsys_sprintf (
            "read=%" PRIu64 " plain=%" PRIu64 " link=%" PRIu64 " batches=%" PRIu64
            " bytes=%" PRIu64
            " heartbeats=%" PRIu64 " send_errors=%" PRIu64 " source_lost=%" PRIu64
            " source_restarts=%" PRIu64 " plain_subscriptions=%zu streams=%zu"
            " malformed=%" PRIu64 " refused=%" PRIu64,
            s->read, s->sent_plain, s->sent_link, s->batches, s->bytes, s->heartbeats,
            s->send_errors,
            self->sub ? zshm_sub_lost (self->sub) : 0,
            self->sub ? zshm_sub_restarts (self->sub) : 0,
            zlistx_size (self->plain_subs), s_active_streams (self), s->malformed, s->refused);
    return zsys_sprintf (
        "received=%" PRIu64 " batches=%" PRIu64 " published=%" PRIu64 " bytes=%" PRIu64
        " heartbeats=%" PRIu64
        " gaps=%" PRIu64 " missing=%" PRIu64 " duplicates=%" PRIu64 " link_restarts=%" PRIu64
        " away=%" PRIu64 " source_restarts=%" PRIu64 " source_lost=%" PRIu64
        " malformed=%" PRIu64 " oversized=%" PRIu64 " hops_dropped=%" PRIu64
        " publish_errors=%" PRIu64 " silent=%" PRIu64,
        s->received, s->batches, s->published, s->bytes, s->heartbeats, s->gaps, s->missing,
        s->duplicates, s->link_restarts, s->away, s->source_restarts, s->source_lost,
        s->malformed, s->oversized, s->hops_dropped, s->publish_errors, s->silent);
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *request = zmsg_recv (self->pipe);
    if (!request)
        return;             //  interrupted; the next poll tries again
    char *command = zmsg_popstr (request);
    if (!command)
        ;
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "VERBOSE"))
        self->verbose = true;
    else
    if (streq (command, "SET")) {
        char *name = zmsg_popstr (request);
        char *value = zmsg_popstr (request);
        s_set_option (self, name, value);
        free (name);
        free (value);
    }
    else
    if (streq (command, "SUBSCRIBE")) {
        zframe_t *prefix = zmsg_pop (request);
        if (prefix && zframe_size (prefix) <= ZSHM_BRIDGE_PREFIX_MAX)
            zlistx_add_end (self->prefixes, zchunk_new (zframe_data (prefix), zframe_size (prefix)));
        else
            s_set_error (self, "a subscription prefix is longer than %d bytes",
                         ZSHM_BRIDGE_PREFIX_MAX);
        zframe_destroy (&prefix);
    }
    else
    if (streq (command, "CURVE-SERVER") || streq (command, "CURVE-CLIENT")) {
        bool server = streq (command, "CURVE-SERVER");
        char *path = zmsg_popstr (request);
        char *public_path = server ? NULL : zmsg_popstr (request);
        zcert_destroy (&self->cert);
        self->cert = path ? zcert_load (path) : NULL;
        if (!self->cert)
            s_set_error (self, "cannot load certificate %s", path ? path : "(none)");
        else
        if (server && self->direction != S_SERVE)
            s_set_error (self, "CURVE server applies to a serving bridge (shm:// -> tcp://)");
        else
        if (!server && self->direction != S_FEED)
            s_set_error (self, "CURVE client applies to a feeding bridge (tcp:// -> shm://)");
        else
        if (!server) {
            zcert_t *remote = public_path ? zcert_load (public_path) : NULL;
            if (remote) {
                free (self->server_key);
                self->server_key = strdup (zcert_public_txt (remote));
            }
            else
                s_set_error (self, "cannot load the server's certificate %s",
                             public_path ? public_path : "(none)");
            zcert_destroy (&remote);
        }
        free (path);
        free (public_path);
    }
    else
    if (streq (command, "START")) {
        int rc = -1;
        if (self->started)
            s_set_error (self, "already started");
        else
        if (!self->error)
            rc = self->direction == S_SERVE ? s_start_serve (self) : s_start_feed (self);
        if (rc == 0 && !self->error) {
            self->started = true;
            zstr_sendx (self->pipe, "OK", NULL);
        }
        else
            zstr_sendx (self->pipe, "ERROR", self->error ? self->error : "cannot start", NULL);
    }
    else
    if (streq (command, "ENDPOINTS"))
        zstr_sendx (self->pipe, self->data_endpoint, self->link_endpoint, NULL);
    else
    if (streq (command, "STATS")) {
        char *line = s_stats_line (self);
        zstr_send (self->pipe, line);
        free (line);
    }
    else
        zsys_error ("zshm-bridge: invalid command '%s'", command);
    free (command);
    zmsg_destroy (&request);
}

//  Until started the actor only listens to its pipe.
static void
s_wait_pipe (self_t *self, int timeout)
{
    zmq_pollitem_t item = { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout) > 0)
        s_handle_pipe (self);
}

static void
s_serve_poll (self_t *self)
{
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->data), 0, ZMQ_POLLIN, 0 },
        { self->linksock ? zsock_resolve (self->linksock) : NULL, 0, ZMQ_POLLIN, 0 }
    };
    if (zmq_poll (items, self->linksock ? 3 : 2, 0) <= 0)
        return;
    if (items [0].revents & ZMQ_POLLIN)
        s_handle_pipe (self);
    if (items [1].revents & ZMQ_POLLIN)
        s_serve_data_input (self);
    if (self->linksock && (items [2].revents & ZMQ_POLLIN))
        s_serve_link_input (self);
}

//  Report a receive error from the ring once per episode.
static void
s_serve_ring_error (self_t *self)
{
    if (errno == EPIPE) {
        if (!self->source_gone)
            zsys_warning ("zshm-bridge: %s: the publisher of %s is gone; waiting for it",
                          self->name, self->channel);
        self->source_gone = true;
    }
    else
    if (errno != EAGAIN && errno != EINTR)
        zsys_error ("zshm-bridge: %s: reading %s: %s", self->name, self->channel,
                    strerror (errno));
}

static void
s_serve_run (self_t *self)
{
    while (!self->terminated) {
        s_serve_poll (self);
        if (self->terminated)
            break;
        //  Drain what the ring holds, a batch at a time.
        zshm_sub_set_rcvtimeo (self->sub, 0);
        int got = 0;
        while (got < S_BATCH) {
            int frames = zshm_sub_recv (self->sub);
            if (frames < 0) {
                s_serve_ring_error (self);
                break;
            }
            if (self->source_gone) {
                zsys_info ("zshm-bridge: %s: the publisher of %s is back", self->name,
                           self->channel);
                self->source_gone = false;
            }
            s_serve_message (self, (size_t) frames);
            got++;
        }
        //  The ring has no more for now (or a batch's worth came): what
        //  was gathered goes out.
        s_serve_flush_all (self);
        s_serve_heartbeats (self);
        if (got == 0) {
            //  Idle: wait on the ring itself (a futex with idle=block), but
            //  not so long that commands and subscriptions wait.
            zshm_sub_set_rcvtimeo (self->sub, S_WAIT_MS);
            int frames = zshm_sub_recv (self->sub);
            if (frames >= 0) {
                self->source_gone = false;
                s_serve_message (self, (size_t) frames);
                s_serve_flush_all (self);
            }
            else {
                s_serve_ring_error (self);
                if (errno == EPIPE)
                    zclock_sleep (S_WAIT_MS);   //  the EPIPE came at once
            }
        }
    }
}

static void
s_feed_run (self_t *self)
{
    zmq_pollitem_t items [] = {
        { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->input), 0, ZMQ_POLLIN, 0 }
    };
    int timeout = self->heartbeat / 2 > 10 ? self->heartbeat / 2 : 10;
    while (!self->terminated) {
        int rc = zmq_poll (items, 2, timeout);
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
            s_handle_pipe (self);
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN))
            s_feed_input (self);
        s_feed_check_silence (self);
    }
}

void
zshm_bridge_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const char *) args);
    free (args);
    zsock_signal (pipe, 0);
    while (!self->terminated && !self->started)
        s_wait_pipe (self, -1);
    if (self->started && !self->terminated) {
        if (self->direction == S_SERVE)
            s_serve_run (self);
        else
            s_feed_run (self);
    }
    s_self_destroy (&self);
}

zactor_t *
zshm_bridge_new (const char *source, const char *dest)
{
    if (!source || !dest || !*source || !*dest || strchr (source, ' ') || strchr (dest, ' ')) {
        errno = EINVAL;
        return NULL;
    }
    return zactor_new (zshm_bridge_actor, zsys_sprintf ("%s %s", source, dest));
}

int
zshm_bridge_set (zactor_t *self, const char *name, const char *value)
{
    assert (self);
    return zstr_sendx (self, "SET", name, value, NULL);
}

int
zshm_bridge_start (zactor_t *self, char *reason, size_t size)
{
    assert (self);
    if (zstr_send (self, "START"))
        return -1;
    char *status = NULL;
    char *text = NULL;
    if (zstr_recvx (self, &status, &text, NULL) < 1 || !status) {
        if (reason && size)
            snprintf (reason, size, "no answer from the bridge");
        errno = EINTR;
        return -1;
    }
    int rc = streq (status, "OK") ? 0 : -1;
    if (rc && reason && size)
        snprintf (reason, size, "%s", text ? text : "cannot start");
    free (status);
    free (text);
    if (rc)
        errno = EINVAL;
    return rc;
}

char *
zshm_bridge_stats (zactor_t *self)
{
    assert (self);
    if (zstr_send (self, "STATS"))
        return NULL;
    return zstr_recv (self);
}

int64_t
zshm_bridge_stat (const char *stats, const char *name)
{
    if (!stats || !name)
        return -1;
    size_t length = strlen (name);
    const char *at = stats;
    while ((at = strstr (at, name))) {
        if ((at == stats || at [-1] == ' ') && at [length] == '=')
            return strtoll (at + length + 1, NULL, 10);
        at += length;
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Self test

//  Receive from a zshm subscriber with a timeout; NULL if nothing came.
static zmsg_t *
s_test_recv (zshm_sub_t *sub, int timeout)
{
    zshm_sub_set_rcvtimeo (sub, timeout);
    return zshm_sub_recv_msg (sub);
}

//  Send `count` binary frames given as (data, size) pairs.
static void
s_test_send (zsock_t *sock, int count, ...)
{
    va_list args;
    va_start (args, count);
    zmsg_t *msg = zmsg_new ();
    for (int index = 0; index < count; index++) {
        const void *data = va_arg (args, const void *);
        size_t size = va_arg (args, size_t);
        zmsg_addmem (msg, data, size);
    }
    va_end (args);
    int rc = zmsg_send (&msg, sock);
    assert (rc == 0);
}

//  Wait until a stats counter reaches `value`, up to 5 s.
static int64_t
s_test_wait_stat (zactor_t *bridge, const char *name, int64_t value)
{
    int64_t seen = -1;
    for (int attempt = 0; attempt < 500; attempt++) {
        char *stats = zshm_bridge_stats (bridge);
        seen = zshm_bridge_stat (stats, name);
        free (stats);
        if (seen >= value)
            break;
        zclock_sleep (10);
    }
    return seen;
}

void
zshm_bridge_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_bridge: ");

    //  Link endpoints
    char *endpoint = zshm_bridge_link_endpoint ("tcp://*:5556");
    assert (endpoint && streq (endpoint, "tcp://*:5557"));
    free (endpoint);
    endpoint = zshm_bridge_link_endpoint ("@tcp://127.0.0.1:*");
    assert (endpoint && streq (endpoint, "@tcp://127.0.0.1:*"));
    free (endpoint);
    endpoint = zshm_bridge_link_endpoint (">tcp://host:1");
    assert (endpoint && streq (endpoint, ">tcp://host:2"));
    free (endpoint);
    endpoint = zshm_bridge_link_endpoint ("inproc://x");
    assert (endpoint && streq (endpoint, "inproc://x.link"));
    free (endpoint);
    assert (zshm_bridge_link_endpoint ("tcp://host:65535") == NULL && errno == EINVAL);
    assert (zshm_bridge_link_endpoint ("tcp://host") == NULL);
    assert (zshm_bridge_link_endpoint ("tcp://host:12x") == NULL);
    assert (zshm_bridge_link_endpoint ("udp://host:1") == NULL);

    //  Metadata round trip
    zshm_bridge_meta_t meta, decoded;
    memset (&meta, 0, sizeof meta);
    meta.version = ZSHM_BRIDGE_META_VERSION;
    meta.source_sequence = 42;
    meta.publish_time_ns = 1700000000000000000ULL;
    meta.source_incarnation = 0x1234567890abcdefULL;
    strcpy (meta.type_name, "zshm.market.Tick");
    strcpy (meta.channel, "ticks");
    meta.source_lost = 3;
    meta.source_restarts = 1;
    meta.link_sequence = 7;
    meta.link_incarnation = 0xfedcba0987654321ULL;
    meta.hops = 2;
    strcpy (meta.origin_host, "hosta");
    meta.frames = 2;
    unsigned char packed [ZSHM_BRIDGE_META_MAX];
    ssize_t size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
    assert (size > 0);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == 0);
    assert (memcmp (&meta, &decoded, sizeof meta) == 0);
    assert (zshm_bridge_meta_encode (&meta, packed, 8) == -1 && errno == EMSGSIZE);
    //  Garbage, truncation, missing identity, wrong version: refused.
    for (ssize_t cut = 0; cut < size; cut++)
        assert (zshm_bridge_meta_decode (packed, (size_t) cut, &decoded) == -1);
    unsigned char garbage [64];
    memset (garbage, 0xff, sizeof garbage);
    assert (zshm_bridge_meta_decode (garbage, sizeof garbage, &decoded) == -1
            && errno == EPROTO);
    assert (zshm_bridge_meta_decode (garbage, ZSHM_BRIDGE_META_MAX + 1, &decoded) == -1
            && errno == EMSGSIZE);
    zshm_bridge_meta_t bad = meta;
    bad.version = 2;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);
    bad = meta;
    bad.link_incarnation = 0;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);
    bad = meta;
    bad.frames = 0;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);
    //  A batch's Meta: two or more messages and no frame count
    bad.batch = 3;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == 0);
    assert (decoded.batch == 3 && decoded.frames == 0);
    bad.batch = 1;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);
    bad.batch = 2;
    bad.frames = 2;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);
    bad.frames = 0;
    bad.link_sequence = UINT64_MAX;
    size = zshm_bridge_meta_encode (&bad, packed, sizeof packed);
    assert (zshm_bridge_meta_decode (packed, (size_t) size, &decoded) == -1);

    //  Batch frames: built, checked, read back; every cut refused
    uint8_t *frame = NULL;
    size_t frame_size = 0, frame_max = 0;
    const void *batch_parts [3] = { "t.a", "", "payload" };
    size_t batch_part_sizes [3] = { 3, 0, 7 };
    assert (zshm_bridge_batch_add (&frame, &frame_size, &frame_max, 0, batch_parts, batch_part_sizes, 3) == 0);
    assert (zshm_bridge_batch_add (&frame, &frame_size, &frame_max, 5, batch_parts, batch_part_sizes, 1) == 0);
    assert (zshm_bridge_batch_check (frame, frame_size, 2, 3, 100) == 0);
    assert (zshm_bridge_batch_check (frame, frame_size, 3, 3, 100) == -1 && errno == EPROTO);
    assert (zshm_bridge_batch_check (frame, frame_size, 1, 3, 100) == -1 && errno == EPROTO);
    assert (zshm_bridge_batch_check (frame, frame_size, 2, 2, 100) == -1 && errno == EMSGSIZE);
    assert (zshm_bridge_batch_check (frame, frame_size, 2, 3, 9) == -1 && errno == EMSGSIZE);
    for (size_t cut = 0; cut < frame_size; cut++)
        assert (zshm_bridge_batch_check (frame, cut, 2, 3, 100) == -1);
    zshm_bridge_batch_t batch;
    const void *entry_data [3];
    size_t entry_sizes [3];
    zshm_bridge_entry_t entry = { 0, 0, entry_data, entry_sizes };
    zshm_bridge_batch_start (&batch, frame, frame_size, 2, 40);
    assert (zshm_bridge_batch_next (&batch, &entry));
    assert (entry.source_sequence == 40 && entry.frames == 3);
    assert (entry_sizes [0] == 3 && memcmp (entry_data [0], "t.a", 3) == 0);
    assert (entry_sizes [1] == 0 && entry_sizes [2] == 7
            && memcmp (entry_data [2], "payload", 7) == 0);
    assert (zshm_bridge_batch_next (&batch, &entry));
    assert (entry.source_sequence == 45 && entry.frames == 1 && entry_sizes [0] == 3);
    assert (!zshm_bridge_batch_next (&batch, &entry));
    free (frame);

    //  Heartbeat round trip
    zshm_bridge_heartbeat_t heartbeat, heartbeat2;
    memset (&heartbeat, 0, sizeof heartbeat);
    heartbeat.version = ZSHM_BRIDGE_META_VERSION;
    heartbeat.link_sequence = 9;
    heartbeat.link_incarnation = 5;
    heartbeat.interval_ms = 1000;
    strcpy (heartbeat.channel, "ticks");
    size = zshm_bridge_heartbeat_encode (&heartbeat, packed, sizeof packed);
    assert (size > 0);
    assert (zshm_bridge_heartbeat_decode (packed, (size_t) size, &heartbeat2) == 0);
    assert (memcmp (&heartbeat, &heartbeat2, sizeof heartbeat) == 0);
    assert (zshm_bridge_heartbeat_decode (garbage, sizeof garbage, &heartbeat2) == -1);

    //  Bad routes and options are refused at START with a reason.
    char reason [256];
    assert (zshm_bridge_new ("shm://a", NULL) == NULL);
    zactor_t *bridge = zshm_bridge_new ("tcp://127.0.0.1:1", "tcp://127.0.0.1:2");
    assert (bridge);
    assert (zshm_bridge_start (bridge, reason, sizeof reason) == -1);
    assert (strstr (reason, "shm://"));
    zactor_destroy (&bridge);
    bridge = zshm_bridge_new ("shm://x", "tcp://127.0.0.1:*");
    zshm_bridge_set (bridge, "sndhwm", "lots");
    assert (zshm_bridge_start (bridge, reason, sizeof reason) == -1);
    assert (strstr (reason, "sndhwm"));
    zactor_destroy (&bridge);
    bridge = zshm_bridge_new ("shm://x", "tcp://127.0.0.1:*");
    zshm_bridge_set (bridge, "linkhwm", "-1");
    assert (zshm_bridge_start (bridge, reason, sizeof reason) == -1);
    assert (strstr (reason, "linkhwm"));
    zactor_destroy (&bridge);

    //  A route end to end in one process: a publisher on channel A, a
    //  serving bridge A -> inproc, a feeding bridge inproc -> channel B, a
    //  subscriber on B, and a plain SUB on the data endpoint.
    char channel_a [64], channel_b [64], source [128], dest [128], data_ep [128];
    snprintf (channel_a, sizeof channel_a, "bridge-test-a-%d", (int) getpid ());
    snprintf (channel_b, sizeof channel_b, "bridge-test-b-%d", (int) getpid ());
    snprintf (source, sizeof source, "shm://%s", channel_a);
    snprintf (dest, sizeof dest, "shm://%s", channel_b);
    snprintf (data_ep, sizeof data_ep, "inproc://zshm-bridge-test-%d", (int) getpid ());
    zshm_pub_t *pub = zshm_pub_new (source);
    assert (pub);
    zactor_t *server = zshm_bridge_new (source, data_ep);
    assert (server);
    if (verbose)
        zstr_send (server, "VERBOSE");
    zshm_bridge_set (server, "heartbeat", "100");
    assert (zshm_bridge_start (server, reason, sizeof reason) == 0);
    zstr_send (server, "ENDPOINTS");
    char *data_resolved = NULL, *link_resolved = NULL;
    zstr_recvx (server, &data_resolved, &link_resolved, NULL);
    assert (data_resolved && streq (data_resolved, data_ep));
    assert (link_resolved && strstr (link_resolved, ".link"));
    zactor_t *feeder = zshm_bridge_new (data_ep, dest);
    assert (feeder);
    if (verbose)
        zstr_send (feeder, "VERBOSE");
    assert (zshm_bridge_start (feeder, reason, sizeof reason) == 0);
    zshm_sub_t *sub = zshm_sub_new (dest, "");
    assert (sub);
    //  A zshm_sub attaches to an existing channel at its first receive.
    assert (s_test_recv (sub, 0) == NULL);
    zsock_t *plain = zsock_new_sub (data_ep, "");
    assert (plain);
    //  Wait until both subscriptions reached the serving bridge.
    assert (s_test_wait_stat (server, "streams", 1) == 1);
    assert (s_test_wait_stat (server, "plain_subscriptions", 1) == 1);
    zclock_sleep (50);              //  let the subscriber attach to channel B
    for (int index = 0; index < 100; index++) {
        char payload [32];
        snprintf (payload, sizeof payload, "message %d", index);
        assert (zshm_pub_send (pub, index % 2 ? "odd" : "even", payload, strlen (payload)) == 0);
    }
    //  A three-frame message with an empty frame
    const void *parts [3] = { "multi", "", "tail" };
    size_t sizes [3] = { 5, 0, 4 };
    assert (zshm_pub_send_frames (pub, parts, sizes, 3) == 0);
    for (int index = 0; index < 101; index++) {
        zmsg_t *msg = s_test_recv (sub, 2000);
        assert (msg);
        zmsg_t *plain_msg = zmsg_recv (plain);
        assert (plain_msg);
        if (index < 100) {
            char payload [32];
            snprintf (payload, sizeof payload, "message %d", index);
            assert (zmsg_size (msg) == 2);
            char *topic = zmsg_popstr (msg);
            char *body = zmsg_popstr (msg);
            assert (streq (topic, index % 2 ? "odd" : "even"));
            assert (streq (body, payload));
            free (topic);
            free (body);
            //  The plain client sees exactly what a PUB would send.
            assert (zmsg_size (plain_msg) == 2);
            topic = zmsg_popstr (plain_msg);
            body = zmsg_popstr (plain_msg);
            assert (streq (topic, index % 2 ? "odd" : "even"));
            assert (streq (body, payload));
            free (topic);
            free (body);
        }
        else {
            assert (zmsg_size (msg) == 3 && zmsg_size (plain_msg) == 3);
            assert (zframe_streq (zmsg_first (msg), "multi"));
            assert (zframe_size (zmsg_next (msg)) == 0);
            assert (zframe_streq (zmsg_next (msg), "tail"));
            assert (zframe_streq (zmsg_first (plain_msg), "multi"));
        }
        zmsg_destroy (&msg);
        zmsg_destroy (&plain_msg);
    }
    char *stats = zshm_bridge_stats (feeder);
    assert (zshm_bridge_stat (stats, "published") == 101);
    assert (zshm_bridge_stat (stats, "missing") == 0);
    assert (zshm_bridge_stat (stats, "malformed") == 0);
    free (stats);
    stats = zshm_bridge_stats (server);
    assert (zshm_bridge_stat (stats, "link") == 101);
    assert (zshm_bridge_stat (stats, "plain") == 101);
    free (stats);
    //  Idle streams get heartbeats.
    assert (s_test_wait_stat (feeder, "heartbeats", 1) >= 1);

    //  Garbage on the link: a fake upstream PUB sends malformed messages
    //  to a second feeding bridge, which counts and drops them, then
    //  accepts a well-formed one.
    char fake_ep [128];
    snprintf (fake_ep, sizeof fake_ep, "inproc://zshm-bridge-fake-%d", (int) getpid ());
    zsock_t *fake = zsock_new_pub (fake_ep);
    assert (fake);
    char dest_c [128];
    snprintf (dest_c, sizeof dest_c, "shm://bridge-test-c-%d", (int) getpid ());
    zactor_t *victim = zshm_bridge_new (fake_ep, dest_c);
    zshm_bridge_set (victim, "link", fake_ep);
    zshm_bridge_set (victim, "maxframes", "4");
    assert (zshm_bridge_start (victim, reason, sizeof reason) == 0);
    zshm_sub_t *sub_c = zshm_sub_new (dest_c, "");
    assert (sub_c);
    assert (s_test_recv (sub_c, 0) == NULL);
    zclock_sleep (100);
    //  Every message below starts with the stream tag "\0" (the victim
    //  subscribes to everything), so each one reaches the victim.
    //  One frame only:
    s_test_send (fake, 1, "\0", 1);
    //  Metadata that is not a Meta:
    s_test_send (fake, 3, "\0topic", 6, "\x01\x02\x03", 3, "payload", 7);
    //  A Meta promising three frames, with two:
    meta.hops = 0;
    meta.frames = 3;
    meta.link_sequence = 1;
    size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
    s_test_send (fake, 3, "\0topic", 6, packed, (size_t) size, "payload", 7);
    //  A heartbeat that is not a Heartbeat, and one with a topic:
    s_test_send (fake, 3, "\0", 1, "", 0, "\xff\xff", 2);
    size = zshm_bridge_heartbeat_encode (&heartbeat, packed, sizeof packed);
    s_test_send (fake, 3, "\0x", 2, "", 0, packed, (size_t) size);
    //  Too many frames (maxframes 4):
    s_test_send (fake, 8, "\0", 1, "a", 1, "b", 1, "c", 1, "d", 1, "e", 1, "f", 1, "g", 1);
    assert (s_test_wait_stat (victim, "malformed", 5) == 5);
    assert (s_test_wait_stat (victim, "oversized", 1) == 1);
    stats = zshm_bridge_stats (victim);
    assert (zshm_bridge_stat (stats, "published") == 0);
    free (stats);
    //  Now a good one; it arrives intact.
    meta.frames = 2;
    size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
    s_test_send (fake, 3, "\0topic", 6, packed, (size_t) size, "good", 4);
    zmsg_t *msg = s_test_recv (sub_c, 2000);
    assert (msg && zmsg_size (msg) == 2);
    assert (zframe_streq (zmsg_first (msg), "topic"));
    assert (zframe_streq (zmsg_next (msg), "good"));
    assert (streq (zshm_sub_type (sub_c), "zshm.market.Tick"));
    zmsg_destroy (&msg);
    //  A gap of 5 on the same link, then a new link incarnation.
    meta.link_sequence = 7;
    size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
    s_test_send (fake, 3, "\0topic", 6, packed, (size_t) size, "after gap", 9);
    meta.link_sequence = 1;
    meta.link_incarnation = 99;
    size = zshm_bridge_meta_encode (&meta, packed, sizeof packed);
    s_test_send (fake, 3, "\0topic", 6, packed, (size_t) size, "new link", 8);
    assert (s_test_wait_stat (victim, "published", 3) == 3);
    stats = zshm_bridge_stats (victim);
    assert (zshm_bridge_stat (stats, "gaps") == 1);
    assert (zshm_bridge_stat (stats, "missing") == 5);
    assert (zshm_bridge_stat (stats, "link_restarts") == 1);
    free (stats);

    zactor_destroy (&victim);
    zsock_destroy (&fake);
    zshm_sub_destroy (&sub_c);
    zsock_destroy (&plain);
    zshm_sub_destroy (&sub);
    zactor_destroy (&feeder);
    zactor_destroy (&server);
    zshm_pub_destroy (&pub);
    zstr_free (&data_resolved);
    zstr_free (&link_resolved);
    zshm_ring_unlink (channel_a);
    zshm_ring_unlink (channel_b);
    zshm_ring_unlink (dest_c + 6);

    if (verbose)
        printf ("OK\n");
}
