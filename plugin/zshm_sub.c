/*  =========================================================================
    zshm_sub - a subscriber, in place of a ZeroMQ SUB socket

    On shm a subscriber is a zshm_reader plus three things:

    Reassembly.  Records (zshm_record.h) are peeked in the ring; the 16-byte
    record header is copied out first, and the fragment's bytes go straight
    from the slot into the private body buffer at their offset.  Only then
    does zshm_reader_advance say whether the slot was overwritten while we
    copied; if it was, the copy is discarded.  A message is delivered only
    when every fragment arrived in consecutive slots, with no loss between
    them and offsets that continue exactly; anything else drops the partial
    message and counts it.  Everything is decoded from the private copy and
    checked against `total` and our own maxmsg: a hostile segment costs us
    dropped messages, never a crash or a read out of bounds.  The common
    record, a whole message under a short header, is recognised from its
    first word and copied in whole words (s_fragment's first branch); the
    reader's peek and advance are inlined for it (zshm_reader_priv.h).

    Filtering.  Prefix subscriptions on frame 0, as on a SUB socket.  A
    fragmented message is judged as soon as its topic has arrived; the rest
    of a message we do not want is skipped by looking at record headers
    only.

    Liveness.  A state machine:

        ABSENT --channel appears--> LIVE --writer died, all read--> DEAD
                                     ^                               |
                                     +---- takeover (same segment, --+
                                           new incarnation) or a
                                           replaced segment (new inode)

    EPIPE is returned once, on the LIVE -> DEAD edge.  In ABSENT and DEAD
    recv polls every 1-10 ms for as long as rcvtimeo allows.

    On tcp:// the subscriber is a ZeroMQ SUB socket; each message is copied
    into the same body buffer so that the same accessors work.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zshm_atomics.h"
#include "zshm_endpoint.h"
#include "zshm_pub.h"
#include "zshm_reader_priv.h"
#include "zshm_record.h"
#include "zshm_sub.h"
#include "zshm_sub_priv.h"

//  Polling for a channel that does not exist (or whose writer is dead):
//  first pause, longest pause.
#define ZSHM_SUB_POLL_MIN_NS  (1 * 1000000LL)
#define ZSHM_SUB_POLL_MAX_NS  (10 * 1000000LL)
//  Empty polls before a strategy other than spin hands over to
//  zshm_reader_wait.
#define ZSHM_SUB_SPIN_POLLS   128

typedef enum { S_ABSENT, S_LIVE, S_DEAD } s_state_t;

//  A prefix subscription.
typedef struct {
    uint8_t *data;              //  prefix bytes (owned; NULL when empty)
    size_t size;                //  bytes
    size_t count;               //  times subscribed
    uint64_t since;             //  first sequence it applies to (shm)
} s_prefix_t;

//  A frame of the last message, within the body buffer.
typedef struct {
    uint32_t offset;            //  start in body
    uint32_t size;              //  bytes
} s_frame_t;

struct _zshm_sub_t {
    //  Endpoint
    char *name;                 //  shm channel, NULL on tcp
    char *path;                 //  shm: the segment's file
    zsock_t *sock;              //  tcp: the SUB socket, else NULL
    zshm_idle_t idle;           //  how recv waits on shm
    bool from_oldest;           //  replay what the ring holds
    size_t maxmsg;              //  largest body we accept, bytes
    int rcvtimeo;               //  ms, -1 for ever
    //  shm connection
    s_state_t state;            //  see the diagram above
    zshm_ring_t *ring;          //  reader side of the segment, or NULL
    zshm_reader_t *reader;      //  our cursor on it, or NULL
    dev_t dev;                  //  the mapped segment's device
    ino_t ino;                  //  and inode: a replaced file differs
    uint64_t incarnation;       //  writer incarnation last seen
    int64_t created_ns;         //  CLOCK_REALTIME at zshm_sub_new
    uint64_t restarts;          //  new writer incarnations seen
    bool replaced;              //  ABSENT because our segment was replaced
    uint64_t dropped;           //  messages dropped (fragment, maxmsg, bad)
    uint64_t lost_base;         //  losses of readers we destroyed
    //  Reassembly of the message in progress
    uint8_t *body;              //  body buffer, private
    size_t body_max;            //  its size
    bool assembling;            //  a fragmented message is in progress
    bool decided;               //  its topic matched a subscription
    uint32_t total;             //  its body bytes
    uint32_t received;          //  of which arrived
    uint64_t next_seq;          //  sequence its next fragment must have
    uint64_t lost_mark;         //  reader losses when its last one came
    uint64_t first_seq;         //  sequence of its first fragment
    //  The last message received
    s_frame_t *frames;          //  its frames
    size_t frame_max;           //  entries allocated
    size_t frame_count;         //  its frame count, 0 if none
    char type [ZSHM_RECORD_TYPE_MAX + 1];   //  its type name, "" if none
    size_t type_len;            //  strlen (type)
    uint64_t seq;               //  its first fragment's sequence
    //  Subscriptions
    s_prefix_t *prefixes;       //  array
    size_t prefix_count;        //  in use
    size_t prefix_max;          //  allocated
    //  Hook for zshm_proto.c
    void *proto_state;          //  its arena, or NULL
    void (*proto_destroy) (void **state_p);     //  frees it
};

static int64_t
s_now_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
s_sleep_ns (int64_t ns)
{
    struct timespec pause = { (time_t) (ns / 1000000000LL), (long) (ns % 1000000000LL) };
    nanosleep (&pause, NULL);
}

//  Grow a buffer to at least `size` bytes (doubling, capped at `cap`).
//  Allocates only when it grows.  0, or -1 with ENOMEM.
static int
s_grow (void **buf_p, size_t *max_p, size_t size, size_t unit, size_t cap)
{
    if (size <= *max_p)
        return 0;
    size_t wanted = *max_p * 2 > size ? *max_p * 2 : size;
    if (wanted > cap && cap >= size)
        wanted = cap;
    void *grown = realloc (*buf_p, wanted * unit);
    if (!grown) {
        errno = ENOMEM;
        return -1;
    }
    *buf_p = grown;
    *max_p = wanted;
    return 0;
}

//  --------------------------------------------------------------------------
//  Subscriptions

//  Does a message published as `seq` with this topic match?  As on a
//  ZeroMQ PUB, a subscription applies to messages published after it was
//  made, not to older ones still waiting to be read.
static inline bool
s_matches (zshm_sub_t *self, const uint8_t *topic, size_t size, uint64_t seq)
{
    for (size_t index = 0; index < self->prefix_count; index++) {
        s_prefix_t *prefix = &self->prefixes [index];
        if (prefix->size <= size && seq >= prefix->since
        &&  (prefix->size == 0 || memcmp (prefix->data, topic, prefix->size) == 0))
            return true;
    }
    return false;
}

//  Make every subscription apply to the whole ring: on a new segment
//  (whose sequences start again) and for a replay.
static void
s_prefixes_from_start (zshm_sub_t *self)
{
    for (size_t index = 0; index < self->prefix_count; index++)
        self->prefixes [index].since = 0;
}

static s_prefix_t *
s_prefix_find (zshm_sub_t *self, const void *data, size_t size)
{
    for (size_t index = 0; index < self->prefix_count; index++) {
        s_prefix_t *prefix = &self->prefixes [index];
        if (prefix->size == size && (size == 0 || memcmp (prefix->data, data, size) == 0))
            return prefix;
    }
    return NULL;
}

int
zshm_sub_subscribe_bytes (zshm_sub_t *self, const void *data, size_t size)
{
    assert (self);
    if (!data && size) {
        errno = EINVAL;
        return -1;
    }
    s_prefix_t *prefix = s_prefix_find (self, data, size);
    if (!prefix) {
        uint8_t *copy = NULL;
        if (size && !(copy = (uint8_t *) malloc (size))) {
            errno = ENOMEM;
            return -1;
        }
        if (s_grow ((void **) &self->prefixes, &self->prefix_max, self->prefix_count + 1,
                    sizeof (s_prefix_t), SIZE_MAX)) {
            free (copy);
            return -1;
        }
        if (size)
            memcpy (copy, data, size);
        prefix = &self->prefixes [self->prefix_count++];
        prefix->data = copy;
        prefix->size = size;
        prefix->count = 0;
        //  The writer's next sequence, sampled (it may lag by a message).
        prefix->since = self->ring ? zshm_ring_head (self->ring) : 0;
    }
    if (self->sock
    &&  zmq_setsockopt (zsock_resolve (self->sock), ZMQ_SUBSCRIBE, data, size)) {
        if (prefix->count == 0) {
            free (prefix->data);
            *prefix = self->prefixes [--self->prefix_count];
        }
        return -1;
    }
    prefix->count++;
    return 0;
}

int
zshm_sub_unsubscribe_bytes (zshm_sub_t *self, const void *data, size_t size)
{
    assert (self);
    if (!data && size) {
        errno = EINVAL;
        return -1;
    }
    s_prefix_t *prefix = s_prefix_find (self, data, size);
    //  Unknown prefixes are ignored, as ZMQ_UNSUBSCRIBE does.
    if (!prefix)
        return 0;
    if (self->sock
    &&  zmq_setsockopt (zsock_resolve (self->sock), ZMQ_UNSUBSCRIBE, data, size))
        return -1;
    if (--prefix->count == 0) {
        free (prefix->data);
        *prefix = self->prefixes [--self->prefix_count];
    }
    return 0;
}

int
zshm_sub_subscribe (zshm_sub_t *self, const char *prefix)
{
    if (!prefix) {
        errno = EINVAL;
        return -1;
    }
    return zshm_sub_subscribe_bytes (self, prefix, strlen (prefix));
}

int
zshm_sub_unsubscribe (zshm_sub_t *self, const char *prefix)
{
    if (!prefix) {
        errno = EINVAL;
        return -1;
    }
    return zshm_sub_unsubscribe_bytes (self, prefix, strlen (prefix));
}

//  --------------------------------------------------------------------------
//  Endpoints

//  shm://NAME?options into self; `spec` is writable scratch.
static int
s_parse_shm (zshm_sub_t *self, char *spec)
{
    zshm_endpoint_t endpoint;
    if (zshm_endpoint_parse (spec, &endpoint))
        return -1;
    self->idle = endpoint.idle;
    self->from_oldest = endpoint.from_oldest;
    self->maxmsg = endpoint.maxmsg;
    self->name = strdup (endpoint.name);
    if (!self->name || asprintf (&self->path, "%s/zshm.%s", zshm_ring_dir (), endpoint.name) < 0) {
        self->path = NULL;
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

zshm_sub_t *
zshm_sub_new (const char *endpoint, const char *subscribe)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zshm_sub_t *self = (zshm_sub_t *) calloc (1, sizeof (zshm_sub_t));
    char *copy = strdup (endpoint);
    int error = ENOMEM;
    if (!self || !copy)
        goto failed;
    self->idle = ZSHM_IDLE_SPIN;
    self->maxmsg = ZSHM_ENDPOINT_MAXMSG;
    self->rcvtimeo = -1;
    self->state = S_ABSENT;
    self->created_ns = s_now_ns (CLOCK_REALTIME);
    if (strncmp (copy, "shm://", 6) == 0) {
        if (s_parse_shm (self, copy))
            goto failed_errno;
    }
    else {
        const char *scheme = copy + (*copy == '@' || *copy == '>');
        const char *colon = strstr (scheme, "://");
        if (!colon || colon == scheme || !colon [3]) {
            error = EINVAL;
            goto failed;
        }
        self->sock = zsock_new (ZMQ_SUB);
        if (!self->sock)
            goto failed_errno;
        //  Not serverish: connects by default, like zsock_new_sub.
        if (zsock_attach (self->sock, copy, false)) {
            error = errno ? errno : EINVAL;
            goto failed;
        }
    }
    if (subscribe && zshm_sub_subscribe (self, subscribe))
        goto failed_errno;
    free (copy);
    return self;

failed_errno:
    error = errno;
failed:
    free (copy);
    zshm_sub_destroy (&self);
    errno = error;
    return NULL;
}

//  Let go of the segment (keeping the count of what its reader lost).
static void
s_detach (zshm_sub_t *self)
{
    if (self->reader) {
        self->lost_base += zshm_reader_lost (self->reader);
        zshm_reader_destroy (&self->reader);
    }
    zshm_ring_destroy (&self->ring);
    self->assembling = false;
    self->state = S_ABSENT;
}

void
zshm_sub_destroy (zshm_sub_t **self_p)
{
    assert (self_p);
    zshm_sub_t *self = *self_p;
    if (!self)
        return;
    if (self->proto_state && self->proto_destroy)
        self->proto_destroy (&self->proto_state);
    s_detach (self);
    if (self->sock)
        zsock_destroy (&self->sock);
    for (size_t index = 0; index < self->prefix_count; index++)
        free (self->prefixes [index].data);
    free (self->prefixes);
    free (self->frames);
    free (self->body);
    free (self->name);
    free (self->path);
    free (self);
    *self_p = NULL;
}

//  Open the channel if it exists.  `replaced`: it is a new segment in place
//  of one we read, so all of it is news to us.  0, or -1 with errno.
static int
s_attach (zshm_sub_t *self, bool replaced)
{
    //  The inode we map, to notice a replaced segment later: the same
    //  before and after the open, or we try again on the next poll.
    struct stat before, after;
    if (stat (self->path, &before))
        return -1;
    zshm_ring_t *ring = zshm_ring_open (self->name);
    if (!ring)
        return -1;
    if (stat (self->path, &after)
    ||  after.st_ino != before.st_ino || after.st_dev != before.st_dev
    ||  s_grow ((void **) &self->body, &self->body_max, zshm_ring_slot_size (ring), 1,
                self->maxmsg)) {
        zshm_ring_destroy (&ring);
        errno = EAGAIN;
        return -1;
    }
    zshm_reader_t *reader = zshm_reader_new (ring);
    if (!reader) {
        zshm_ring_destroy (&ring);
        return -1;
    }
    zshm_reader_set_idle (reader, self->idle);
    zshm_ring_info_t info;
    zshm_ring_info (ring, &info);
    //  Where to start.  A channel created after this subscriber holds only
    //  messages published since we subscribed: take them all, as a zmq
    //  SUB connected before the bind would.  Otherwise the latest, as zmq.
    bool oldest = self->from_oldest || replaced
               || (int64_t) info.created_ns >= self->created_ns;
    if (oldest)
        zshm_reader_seek_oldest (reader);
    self->ring = ring;
    self->reader = reader;
    s_prefixes_from_start (self);
    self->dev = before.st_dev;
    self->ino = before.st_ino;
    self->incarnation = info.incarnation;
    self->assembling = false;
    self->lost_mark = zshm_reader_lost (reader);
    //  A channel whose writer is already dead: nothing to wait for but a
    //  restart, unless what it left is ours to read (then EPIPE after it).
    self->state = info.writer_alive || oldest ? S_LIVE : S_DEAD;
    return 0;
}

//  ABSENT or DEAD: is there a publisher now?  0 when LIVE, else -1.
static int
s_reconnect (zshm_sub_t *self)
{
    if (self->state == S_ABSENT) {
        if (s_attach (self, self->replaced))
            return -1;
        if (self->replaced)
            self->restarts++;
        self->replaced = false;
        return 0;
    }
    assert (self->state == S_DEAD);
    //  A takeover: the same segment has a new writer incarnation.  (A
    //  live lock with the old incarnation is a writer still busy taking
    //  over, or one replacing the file: look again later.)  The new writer
    //  may be dead again already; then we read what it left and report
    //  EPIPE again.
    uint64_t incarnation = zshm_ring_incarnation (self->ring);
    //  0: a zeroed header (a segment shrunk under us), not a new writer.
    if (incarnation != self->incarnation && incarnation != 0) {
        self->incarnation = incarnation;
        self->restarts++;
        self->state = S_LIVE;
        return 0;
    }
    //  A replacement: the name points at another file now.
    struct stat st;
    if (stat (self->path, &st) == 0 && (st.st_ino != self->ino || st.st_dev != self->dev)) {
        //  Open the new one now or, if it is not ready, on a later poll.
        s_detach (self);
        self->replaced = true;
        return s_reconnect (self);
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Records

//  Drop the message being reassembled, counting it.
static void
s_drop_partial (zshm_sub_t *self)
{
    if (self->assembling) {
        self->dropped++;
        self->assembling = false;
    }
}

//  Where the topic of a body lies, if `available` bytes of it are enough
//  to tell.  Returns 1 with *offset_p and *size_p, 0 if more bytes are
//  needed, -1 if the body is malformed.
static int
s_topic (const uint8_t *body, size_t available, size_t total, size_t *offset_p,
         size_t *size_p)
{
    if (available < ZSHM_BODY_HEADER)
        return 0;
    size_t type_len = zshm_record_get16 (body);
    if (type_len > ZSHM_RECORD_TYPE_MAX || zshm_record_get32 (body + 4) < 1
    ||  ZSHM_BODY_HEADER + type_len + ZSHM_FRAME_HEADER > total)
        return -1;
    size_t at = ZSHM_BODY_HEADER + type_len;
    if (available < at + ZSHM_FRAME_HEADER)
        return 0;
    size_t size = zshm_record_get32 (body + at);
    at += ZSHM_FRAME_HEADER;
    if (size > total - at)
        return -1;
    if (available < at + size)
        return 0;
    *offset_p = at;
    *size_p = size;
    return 1;
}

//  Decode a complete body of `total` bytes into the frame table and type.
//  0, or -1 if it is malformed (or the table cannot grow).
static inline int
s_decode (zshm_sub_t *self, size_t total)
{
    const uint8_t *body = self->body;
    if (total < ZSHM_RECORD_BODY_MIN)
        return -1;
    size_t type_len = zshm_record_get16 (body);
    size_t count = zshm_record_get32 (body + 4);
    size_t at = ZSHM_BODY_HEADER + type_len;
    //  Every frame takes at least its 4-byte size: a count beyond that is
    //  a lie, and must not size our table.
    if (type_len > ZSHM_RECORD_TYPE_MAX || at > total || count < 1
    ||  count > (total - at) / ZSHM_FRAME_HEADER
    ||  (type_len && memchr (body + ZSHM_BODY_HEADER, 0, type_len))
    ||  (count > self->frame_max
         && s_grow ((void **) &self->frames, &self->frame_max, count, sizeof (s_frame_t),
                    SIZE_MAX)))
        return -1;
    for (size_t index = 0; index < count; index++) {
        if (total - at < ZSHM_FRAME_HEADER)
            return -1;
        size_t size = zshm_record_get32 (body + at);
        at += ZSHM_FRAME_HEADER;
        if (size > total - at)
            return -1;
        self->frames [index].offset = (uint32_t) at;
        self->frames [index].size = (uint32_t) size;
        at += size;
    }
    if (at != total)
        return -1;
    if (type_len)
        memcpy (self->type, body + ZSHM_BODY_HEADER, type_len);
    self->type [type_len] = 0;
    self->type_len = type_len;
    self->frame_count = count;
    return 0;
}

//  A whole body is in self->body: decode and filter it.  1 to deliver it.
static inline int
s_complete (zshm_sub_t *self, size_t total, uint64_t first_seq, bool decided)
{
    if (s_decode (self, total)) {
        self->frame_count = 0;
        self->dropped++;
        return 0;
    }
    if (!decided
    &&  !s_matches (self, self->body + self->frames [0].offset, self->frames [0].size,
                    first_seq)) {
        self->frame_count = 0;
        return 0;
    }
    self->seq = first_seq;
    return 1;
}

//  One peeked slot of `size` bytes at `payload`, sequence `seq`.  Copies
//  what we need, advances past it, and returns 1 if it completed a message
//  to deliver, else 0.
static int
s_fragment (zshm_sub_t *self, const uint8_t *payload, size_t size, uint64_t seq)
{
    zshm_reader_t *reader = self->reader;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    //  The common record first: a whole message under a short header, for
    //  a subscriber that wants something.  Its first word, loaded whole,
    //  says so (magic, flags, and a total that fills the slot exactly,
    //  ZSHM_RECORD_BODY_MIN at least); its body then goes to our buffer in
    //  whole words (the slot is padded to them, and the buffer holds the
    //  slot, see s_attach).  This is what the general path below does for
    //  such a record, in fewer steps.  The loads are the protocol's R3:
    //  relaxed, after the peek's acquire (R1); the advance (R4, R5) says
    //  whether the writer overwrote the slot meanwhile, and if so the copy
    //  is dropped.
    if (size >= ZSHM_RECORD_SHORT_HEADER + ZSHM_RECORD_BODY_MIN && self->prefix_count) {
        const _Atomic uint64_t *words = (const _Atomic uint64_t *) payload;
        size_t total = size - ZSHM_RECORD_SHORT_HEADER;
        size_t word_count = (total + 7) / 8;
        uint64_t whole = ZSHM_RECORD_MAGIC
                       | (uint64_t) (ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT) << 16
                       | (uint64_t) total << 32;
        if (zshm_load_relaxed (&words [0]) == whole
        &&  total <= self->maxmsg && word_count * 8 <= self->body_max) {
            for (size_t index = 0; index < word_count; index++) {
                uint64_t value = zshm_load_relaxed (&words [1 + index]);
                memcpy (self->body + 8 * index, &value, 8);
            }
            s_drop_partial (self);
            if (!zshm_reader_advance_fast (reader))
                return 0;                   //  torn: counted lost by the reader
            return s_complete (self, total, seq, false);
        }
    }
#endif
    uint8_t header [ZSHM_RECORD_HEADER];
    zshm_record_t record;
    size_t header_size = 0;
    if (size >= ZSHM_RECORD_SHORT_HEADER) {
        zshm_copy_from_shared (header, payload, size < sizeof header ? size : sizeof header);
        header_size = zshm_record_decode_any (header, size, &record);
    }
    if (!header_size) {
        //  Not a record: stable (advance says so) means a corrupt segment.
        if (zshm_reader_advance (reader))
            self->dropped++;
        s_drop_partial (self);
        return 0;
    }
    size_t length = size - header_size;
    bool first = record.flags & ZSHM_RECORD_FIRST;
    bool last = record.flags & ZSHM_RECORD_LAST;
    //  What every fragment must satisfy, whatever came before; a short
    //  header only ever heads a whole message.
    uint16_t flags = record.flags & (uint16_t) ~ZSHM_RECORD_SHORT;
    bool valid = record.magic == ZSHM_RECORD_MAGIC
              && !(flags & ~ZSHM_RECORD_FLAGS)
              && (flags == ZSHM_RECORD_FLAGS || !(record.flags & ZSHM_RECORD_SHORT))
              && length > 0
              && (uint64_t) record.offset + length <= record.total
              && last == ((uint64_t) record.offset + length == record.total);

    if (!first) {
        //  (Nothing was lost since the last fragment: the reader counts.)
        bool continues = valid && self->assembling
                      && seq == self->next_seq && zshm_reader_lost (reader) == self->lost_mark
                      && record.total == self->total && record.offset == self->received;
        if (!continues) {
            //  Broken chain: whatever we were building is lost.  A
            //  fragment of a message we never started (we joined, or were
            //  lapped, or skipped it) is nobody's loss: ignored.
            s_drop_partial (self);
            zshm_reader_advance (reader);
            return 0;
        }
        zshm_copy_from_shared (self->body + record.offset, payload + header_size, length);
        if (!zshm_reader_advance (reader)) {
            s_drop_partial (self);          //  torn while we copied
            return 0;
        }
        self->received += (uint32_t) length;
        self->next_seq = seq + 1;
        self->lost_mark = zshm_reader_lost (reader);
    }
    else {
        s_drop_partial (self);
        bool wanted = self->prefix_count > 0;
        if (!valid || record.offset != 0 || record.total < ZSHM_RECORD_BODY_MIN
        ||  record.total > self->maxmsg) {
            if (zshm_reader_advance (reader))
                self->dropped++;            //  stable, so really bad or too big
            return 0;
        }
        if (!wanted) {
            //  No subscription: nothing matches; no need to copy the body.
            zshm_reader_advance (reader);
            return 0;
        }
        if (s_grow ((void **) &self->body, &self->body_max, record.total, 1, self->maxmsg)) {
            if (zshm_reader_advance (reader))
                self->dropped++;
            return 0;
        }
        zshm_copy_from_shared (self->body, payload + header_size, length);
        if (!zshm_reader_advance (reader))
            return 0;                       //  torn: counted lost by the reader
        if (last)
            return s_complete (self, length, seq, false);
        self->assembling = true;
        self->decided = false;
        self->total = record.total;
        self->received = (uint32_t) length;
        self->first_seq = seq;
        self->next_seq = seq + 1;
        self->lost_mark = zshm_reader_lost (reader);
    }
    //  A message in progress: judge it once its topic is here.
    if (!self->decided) {
        size_t offset, topic_size;
        int rc = s_topic (self->body, self->received, self->total, &offset, &topic_size);
        if (rc < 0) {
            s_drop_partial (self);
            return 0;
        }
        if (rc > 0) {
            if (!s_matches (self, self->body + offset, topic_size, self->first_seq)) {
                //  Not for us: its remaining fragments are skipped as
                //  orphans, by their headers alone.
                self->assembling = false;
                return 0;
            }
            self->decided = true;
        }
    }
    if (self->received < self->total)
        return 0;
    self->assembling = false;
    return s_complete (self, self->total, self->first_seq, self->decided);
}

//  --------------------------------------------------------------------------
//  Receiving

//  The deadline of a receive, taken from the clock the first time it is
//  needed (*deadline_p is 0 until then): a receive that finds its message
//  waiting never reads the clock.  INT64_MAX when rcvtimeo is -1 or 0.
static int64_t
s_deadline (zshm_sub_t *self, int64_t *deadline_p)
{
    if (*deadline_p == 0)
        *deadline_p = self->rcvtimeo <= 0 ? INT64_MAX
                    : s_now_ns (CLOCK_MONOTONIC) + (int64_t) self->rcvtimeo * 1000000LL;
    return *deadline_p;
}

static int
s_recv_shm (zshm_sub_t *self)
{
    int64_t deadline = 0;
    int64_t pause = ZSHM_SUB_POLL_MIN_NS;
    uint32_t empty = 0;
    for (;;) {
        if (self->state != S_LIVE) {
            if (s_reconnect (self) == 0)
                continue;
            int64_t end = s_deadline (self, &deadline);
            int64_t now = s_now_ns (CLOCK_MONOTONIC);
            if (self->rcvtimeo == 0 || now >= end) {
                errno = EAGAIN;
                return -1;
            }
            s_sleep_ns (end - now < pause ? end - now : pause);
            if (pause < ZSHM_SUB_POLL_MAX_NS)
                pause *= 2;
            continue;
        }
        size_t size;
        uint64_t seq;
        const uint8_t *payload
            = (const uint8_t *) zshm_reader_peek_fast (self->reader, &size, &seq);
        if (payload) {
            if (s_fragment (self, payload, size, seq))
                return (int) self->frame_count;
            continue;
        }
        if (errno == EAGAIN) {
            if (self->rcvtimeo == 0)
                return -1;
            //  Spin on peek first: it probes the writer's liveness itself,
            //  rarely, while zshm_reader_wait probes on entry (two system
            //  calls), too dear for every message.  Spin goes on spinning
            //  here; the other strategies let the reader wait after a
            //  while.
            if ((++empty & 63) == 0) {
                //  A writer that took over before we noticed its
                //  predecessor die shows up as a new incarnation.
                //  (0: a zeroed header, a segment shrunk under us.)
                uint64_t incarnation = zshm_ring_incarnation (self->ring);
                if (incarnation != self->incarnation && incarnation != 0) {
                    self->incarnation = incarnation;
                    self->restarts++;
                }
                if (s_deadline (self, &deadline) != INT64_MAX
                &&  s_now_ns (CLOCK_MONOTONIC) >= deadline) {
                    errno = EAGAIN;
                    return -1;
                }
            }
            if (self->idle == ZSHM_IDLE_SPIN || empty < ZSHM_SUB_SPIN_POLLS) {
                zshm_cpu_relax ();
                continue;
            }
            int wait_ms = -1;
            if (s_deadline (self, &deadline) != INT64_MAX) {
                int64_t left = deadline - s_now_ns (CLOCK_MONOTONIC);
                if (left <= 0) {
                    errno = EAGAIN;
                    return -1;
                }
                wait_ms = (int) ((left + 999999) / 1000000);
            }
            if (zshm_reader_wait (self->reader, wait_ms) == 0)
                continue;
            if (errno != EPIPE)
                return -1;
        }
        //  EPIPE: the writer is dead and all it published is read.
        s_drop_partial (self);
        self->state = S_DEAD;
        errno = EPIPE;
        return -1;
    }
}

static int
s_recv_tcp (zshm_sub_t *self)
{
    void *handle = zsock_resolve (self->sock);
    int64_t deadline = self->rcvtimeo < 0 ? INT64_MAX
                     : s_now_ns (CLOCK_MONOTONIC) + (int64_t) self->rcvtimeo * 1000000LL;
    for (;;) {
        //  Wait with zmq_poll so that rcvtimeo bounds the whole call, even
        //  when oversized messages are dropped on the way.
        long timeout = -1;
        if (self->rcvtimeo >= 0) {
            int64_t left = deadline - s_now_ns (CLOCK_MONOTONIC);
            timeout = left > 0 ? (long) ((left + 999999) / 1000000) : 0;
        }
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            errno = EAGAIN;
            return -1;
        }
        size_t used = 0, encoded = ZSHM_BODY_HEADER, count = 0;
        bool too_big = false, more = true;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init (&part);
            if (zmq_msg_recv (&part, handle, count ? 0 : ZMQ_DONTWAIT) == -1) {
                int error = errno;
                zmq_msg_close (&part);
                if (count == 0 && error == EAGAIN)
                    break;                  //  gone meanwhile: poll again
                if (error == EINTR && count)
                    continue;               //  the rest is there, atomically
                errno = error;
                return -1;
            }
            size_t size = zmq_msg_size (&part);
            more = zmq_msg_more (&part);
            encoded += ZSHM_FRAME_HEADER + size;
            if (encoded > self->maxmsg
            ||  s_grow ((void **) &self->body, &self->body_max, used + size, 1, self->maxmsg)
            ||  s_grow ((void **) &self->frames, &self->frame_max, count + 1,
                        sizeof (s_frame_t), SIZE_MAX))
                too_big = true;
            if (!too_big) {
                if (size)
                    memcpy (self->body + used, zmq_msg_data (&part), size);
                self->frames [count].offset = (uint32_t) used;
                self->frames [count].size = (uint32_t) size;
                used += size;
            }
            count++;
            zmq_msg_close (&part);
        }
        if (count == 0)
            continue;
        if (too_big) {
            self->dropped++;
            continue;
        }
        self->frame_count = count;
        self->type [0] = 0;
        self->type_len = 0;
        self->seq = 0;
        return (int) count;
    }
}

//  Where frame `index` of the last message starts: a pointer even for an
//  empty frame, so that NULL always means "no frame".  (A tcp subscriber
//  whose messages were all empty has no body buffer yet.)
static const uint8_t *
s_frame_data (zshm_sub_t *self, size_t index)
{
    static const uint8_t empty [1] = { 0 };
    return self->body ? self->body + self->frames [index].offset : empty;
}

int
zshm_sub_recv (zshm_sub_t *self)
{
    assert (self);
    self->frame_count = 0;
    self->type [0] = 0;
    self->type_len = 0;
    return self->sock ? s_recv_tcp (self) : s_recv_shm (self);
}

size_t
zshm_sub_frames (zshm_sub_t *self)
{
    assert (self);
    return self->frame_count;
}

const void *
zshm_sub_frame (zshm_sub_t *self, size_t index, size_t *size_p)
{
    assert (self);
    if (index >= self->frame_count) {
        errno = EINVAL;
        return NULL;
    }
    if (size_p)
        *size_p = self->frames [index].size;
    return s_frame_data (self, index);
}

const char *
zshm_sub_type (zshm_sub_t *self)
{
    assert (self);
    return self->type;
}

bool
zshm_sub_view (zshm_sub_t *self, zshm_sub_view_t *view)
{
    assert (self);
    assert (view);
    if (self->frame_count != 2)
        return false;
    view->type = self->type;
    view->type_len = self->type_len;
    view->topic = s_frame_data (self, 0);
    view->topic_size = self->frames [0].size;
    view->payload = s_frame_data (self, 1);
    view->size = self->frames [1].size;
    return true;
}

uint64_t
zshm_sub_seq (zshm_sub_t *self)
{
    assert (self);
    return self->seq;
}

zmsg_t *
zshm_sub_recv_msg (zshm_sub_t *self)
{
    assert (self);
    if (zshm_sub_recv (self) < 0)
        return NULL;
    zmsg_t *msg = zmsg_new ();
    if (!msg) {
        errno = ENOMEM;
        return NULL;
    }
    for (size_t index = 0; index < self->frame_count; index++)
        if (zmsg_addmem (msg, s_frame_data (self, index),
                         self->frames [index].size)) {
            zmsg_destroy (&msg);
            errno = ENOMEM;
            return NULL;
        }
    return msg;
}

void
zshm_sub_set_rcvtimeo (zshm_sub_t *self, int timeout_ms)
{
    assert (self);
    self->rcvtimeo = timeout_ms < 0 ? -1 : timeout_ms;
}

int
zshm_sub_rcvtimeo (zshm_sub_t *self)
{
    assert (self);
    return self->rcvtimeo;
}

void
zshm_sub_set_idle (zshm_sub_t *self, zshm_idle_t idle)
{
    assert (self);
    assert (idle >= ZSHM_IDLE_SPIN && idle <= ZSHM_IDLE_BLOCK);
    self->idle = idle;
    if (self->reader)
        zshm_reader_set_idle (self->reader, idle);
}

int
zshm_sub_seek_oldest (zshm_sub_t *self)
{
    assert (self);
    if (self->sock) {
        errno = ENOTSUP;
        return -1;
    }
    if (!self->reader) {
        errno = EAGAIN;
        return -1;
    }
    zshm_reader_seek_oldest (self->reader);
    s_prefixes_from_start (self);
    //  Abandoned by choice, not lost.
    self->assembling = false;
    self->lost_mark = zshm_reader_lost (self->reader);
    return 0;
}

uint64_t
zshm_sub_lost (zshm_sub_t *self)
{
    assert (self);
    return self->lost_base + self->dropped
         + (self->reader ? zshm_reader_lost (self->reader) : 0);
}

uint64_t
zshm_sub_dropped (zshm_sub_t *self)
{
    assert (self);
    return self->dropped;
}

uint64_t
zshm_sub_restarts (zshm_sub_t *self)
{
    assert (self);
    return self->restarts;
}

bool
zshm_sub_connected (zshm_sub_t *self)
{
    assert (self);
    if (self->sock)
        return true;
    return self->state == S_LIVE && zshm_ring_writer_alive (self->ring);
}

zsock_t *
zshm_sub_sock (zshm_sub_t *self)
{
    assert (self);
    return self->sock;
}

void *
zshm_sub_proto_state (zshm_sub_t *self)
{
    assert (self);
    return self->proto_state;
}

void
zshm_sub_set_proto_state (zshm_sub_t *self, void *state, void (*destroy) (void **state_p))
{
    assert (self);
    if (self->proto_state && self->proto_state != state && self->proto_destroy)
        self->proto_destroy (&self->proto_state);
    self->proto_state = state;
    self->proto_destroy = destroy;
}

//  --------------------------------------------------------------------------
//  Self test

static int s_destroyed = 0;

static void
s_test_destroy (void **state_p)
{
    free (*state_p);
    *state_p = NULL;
    s_destroyed++;
}

void
zshm_sub_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_sub: ");

    assert (zshm_sub_new (NULL, "") == NULL && errno == EINVAL);
    assert (zshm_sub_new ("shm://a/b", "") == NULL && errno == EINVAL);
    assert (zshm_sub_new ("shm://x?idle=nap", "") == NULL && errno == EINVAL);
    assert (zshm_sub_new ("shm://x?from=middle", "") == NULL && errno == EINVAL);
    assert (zshm_sub_new ("shm://x?maxmsg=4", "") == NULL && errno == EINVAL);
    assert (zshm_sub_new ("bogus", "") == NULL && errno == EINVAL);

    char name [64], endpoint [128];
    snprintf (name, sizeof name, "selftest-sub-%d", (int) getpid ());
    zshm_ring_unlink (name);
    snprintf (endpoint, sizeof endpoint, "shm://%s?idle=yield", name);
    //  Before the publisher: nothing yet, and no crash
    zshm_sub_t *sub = zshm_sub_new (endpoint, "a");
    assert (sub);
    zshm_sub_set_rcvtimeo (sub, 0);
    assert (zshm_sub_rcvtimeo (sub) == 0);
    assert (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    assert (!zshm_sub_connected (sub));
    assert (zshm_sub_seek_oldest (sub) == -1 && errno == EAGAIN);

    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=256&slot=64", name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    assert (pub);
    assert (zshm_pub_send (pub, "apple", "1", 1) == 0);
    assert (zshm_pub_send (pub, "banana", "2", 1) == 0);
    assert (zshm_pub_send (pub, "avocado", "3", 1) == 0);
    //  The channel appeared after the subscriber: it gets everything
    assert (zshm_sub_recv (sub) == 2);
    assert (zshm_sub_connected (sub));
    size_t size;
    const char *frame = (const char *) zshm_sub_frame (sub, 0, &size);
    assert (size == 5 && memcmp (frame, "apple", 5) == 0);
    frame = (const char *) zshm_sub_frame (sub, 1, &size);
    assert (size == 1 && *frame == '1');
    assert (zshm_sub_frame (sub, 2, &size) == NULL && errno == EINVAL);
    assert (zshm_sub_seq (sub) == 1 && streq (zshm_sub_type (sub), ""));
    assert (zshm_sub_recv (sub) == 2);
    frame = (const char *) zshm_sub_frame (sub, 0, &size);
    assert (size == 7 && memcmp (frame, "avocado", 7) == 0);
    assert (zshm_sub_recv (sub) == -1 && errno == EAGAIN);

    //  A message over several slots, typed, through recv_msg
    char data [500];
    for (size_t index = 0; index < sizeof data; index++)
        data [index] = (char) (index * 7);
    assert (zshm_pub_send_begin (pub, "ab", 2, sizeof data, "zshm.Big") == 0);
    assert (zshm_pub_send_write (pub, data, 100) == 0);
    assert (zshm_pub_send_write (pub, data + 100, 400) == 0);
    assert (zshm_pub_send_end (pub) == 0);
    zmsg_t *msg = zshm_sub_recv_msg (sub);
    assert (msg && zmsg_size (msg) == 2);
    assert (streq (zshm_sub_type (sub), "zshm.Big"));
    zframe_t *body = zmsg_last (msg);
    assert (zframe_size (body) == sizeof data && memcmp (zframe_data (body), data, sizeof data) == 0);
    zmsg_destroy (&msg);
    assert (zshm_sub_lost (sub) == 0 && zshm_sub_restarts (sub) == 0);

    //  Unsubscribe; counted subscriptions
    assert (zshm_sub_subscribe (sub, "b") == 0);
    assert (zshm_sub_subscribe (sub, "b") == 0);
    assert (zshm_sub_unsubscribe (sub, "a") == 0);
    assert (zshm_sub_unsubscribe (sub, "b") == 0);
    assert (zshm_pub_send (pub, "apple", "4", 1) == 0);
    assert (zshm_pub_send (pub, "banana", "5", 1) == 0);
    assert (zshm_sub_recv (sub) == 2);
    frame = (const char *) zshm_sub_frame (sub, 1, &size);
    assert (*frame == '5');
    assert (zshm_sub_unsubscribe (sub, "b") == 0);
    assert (zshm_pub_send (pub, "banana", "6", 1) == 0);
    assert (zshm_sub_recv (sub) == -1 && errno == EAGAIN);

    //  Replay from the oldest message
    assert (zshm_sub_subscribe (sub, "") == 0);
    assert (zshm_sub_seek_oldest (sub) == 0);
    int count = 0;
    while (zshm_sub_recv (sub) >= 0)
        count++;
    assert (count == 3 + 1 + 3);

    //  The proto hook
    zshm_sub_set_proto_state (sub, malloc (16), s_test_destroy);
    assert (zshm_sub_proto_state (sub));
    zshm_sub_set_proto_state (sub, malloc (16), s_test_destroy);
    assert (s_destroyed == 1);

    //  Publisher gone: EPIPE once, then waiting
    zshm_pub_destroy (&pub);
    zshm_sub_set_rcvtimeo (sub, 500);
    assert (zshm_sub_recv (sub) == -1 && errno == EPIPE);
    zshm_sub_set_rcvtimeo (sub, 20);
    assert (zshm_sub_recv (sub) == -1 && errno == EAGAIN);
    //  ... and back (a takeover)
    pub = zshm_pub_new (endpoint);
    assert (pub);
    assert (zshm_pub_send (pub, "back", NULL, 0) == 0);
    assert (zshm_sub_recv (sub) == 2);
    assert (zshm_sub_restarts (sub) == 1);
    zshm_sub_destroy (&sub);
    zshm_sub_destroy (&sub);
    assert (sub == NULL && s_destroyed == 2);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (name);

    if (verbose)
        printf ("OK\n");
}
