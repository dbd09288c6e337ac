/*  =========================================================================
    zshm_pub - a publisher, in place of a ZeroMQ PUB socket

    A message goes to every endpoint: each shm channel gets it as records
    (zshm_record.h) written straight into reserved slots, and the one
    ZeroMQ PUB socket, if any, gets it as ordinary frames.

    The shm path allocates nothing and copies every byte once, from the
    caller's frames into the slot (an open message twice: see below).  The
    slot is shared memory that a lapped reader may be copying at this very
    moment (it detects that afterwards and discards its copy), so we store
    into it only with relaxed atomic word stores, as zshm_ring_send does
    (see zshm_atomics.h).  Frames start at any byte offset, so a one-word
    accumulator (s_writer_t.pending) turns the byte stream into whole
    words; word stores never leave the slot because slots are padded to
    whole words.

    An open message (zshm_pub_send_open, which the protobuf packer fills) is
    built in a private stage, then copied into its slot in one burst just
    before the commit.  Packing takes a while, and a reader spinning on
    the slot's first line takes the line back whenever it looks while the
    record is being written there; the commit must then fetch it once more
    (measured: 60-70 ns more per Tick here, more than the packing itself).
    The copy of a few cache-resident words costs far less.  Plain sends
    write their slot directly: their records take a few word stores, too
    quick for the reader to get in between, and at full rate the second
    pass halved the throughput of 64-byte messages.  zshm_pub_send's
    common case (one shm endpoint, a message that fits one slot) is one
    straight line: s_send_slot inlined, with the ring's reserve and commit
    (zshm_ring_priv.h).

    A message larger than one slot is cut into fragments over consecutive
    slots.  Each full fragment is committed as soon as the next byte of the
    message arrives, and the last only when the message is complete
    (s_message_end): a stream that turns out shorter or longer than it
    declared is abandoned with its last fragment unpublished, so readers
    see a FIRST without a LAST and drop it, never a wrong message.
    =========================================================================
*/

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zshm_atomics.h"
#include "zshm_endpoint.h"
#include "zshm_pub.h"
#include "zshm_reader.h"
#include "zshm_record.h"
#include "zshm_ring.h"
#include "zshm_ring_priv.h"
#include "zshm_pub_priv.h"


//  Bytes on their way into a slot, as whole words.
typedef struct {
    _Atomic uint64_t *words;    //  the slot's payload, NULL if none open
    size_t word;                //  next word to store
    uint64_t pending;           //  bytes waiting to complete that word
    unsigned fill;              //  how many (0-7); the rest of pending is 0
} s_writer_t;

//  Largest record (short header and body) an open message may build in
//  the stage, bytes: a few cache lines, where the copy costs next to
//  nothing
#define S_STAGE 512

//  One shm endpoint and the message being written into it.
typedef struct {
    zshm_ring_t *ring;          //  the channel's writer side
    size_t body_max;            //  body bytes one fragment carries
    bool typed;                 //  the ring's type name is recorded
    s_writer_t writer;          //  into the open fragment's slot
    uint32_t total;             //  body bytes of the message
    uint32_t offset;            //  body offset of the open fragment
    uint32_t frag_header;       //  record header bytes of the open fragment
    uint32_t frag_size;         //  body bytes of the open fragment
    uint32_t frag_left;         //  of which not yet written
    uint64_t first_seq;         //  sequence of the message's first slot
    uint64_t last_seq;          //  first_seq of the last message sent
    //  A small record, built here with plain stores before it goes to
    //  its slot in whole words
    _Alignas (8) uint8_t stage [S_STAGE];
} s_channel_t;

struct _zshm_pub_t {
    s_channel_t *channels;      //  shm endpoints
    size_t channel_count;       //  how many
    zsock_t *sock;              //  ZeroMQ PUB for tcp:// and co., or NULL
    size_t maxmsg;              //  largest body accepted, bytes
    size_t slot_max;            //  largest body zshm_pub_send writes in one
                                //  go: the one shm endpoint's slot, within
                                //  maxmsg; 0 for any other set of endpoints
    bool streaming;             //  between send_begin and send_end
    bool opened;                //  between send_open and send_close
    size_t open_at;             //  open: the payload's offset in the slot
    size_t open_fixed;          //  open: body bytes before the payload
    size_t open_room;           //  open: payload bytes that fit
    size_t stream_left;         //  payload bytes send_write still owes
    size_t stream_size;         //  payload bytes declared
    uint8_t *stream_topic;      //  tcp: the topic of the stream
    size_t stream_topic_size;   //  its size
    size_t stream_topic_max;    //  its buffer's size
    uint8_t *stream_buf;        //  tcp: the payload gathered so far
    size_t stream_buf_max;      //  its buffer's size
    zshm_codec_cache_t codec_cache; //  zshm_pub_send_proto's plan
};

//  --------------------------------------------------------------------------
//  Writing records into a ring

//  Where byte `index` (0-7) of a word goes when the word is built in a
//  register: stored, the word must hold its bytes in memory order.  And
//  S_BYTES_MASK (count), the bits of a word's first `count` (1-7) bytes.
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#   define S_LITTLE_ENDIAN 1
#   define S_BYTE_SHIFT(index) (8 * (index))
#   define S_BYTES_MASK(count) (~0ULL >> (64 - 8 * (count)))
#else
#   define S_BYTE_SHIFT(index) (56 - 8 * (index))
#   define S_BYTES_MASK(count) (~0ULL << (64 - 8 * (count)))
#endif

static inline void
s_writer_start (s_writer_t *writer, void *payload)
{
    writer->words = (_Atomic uint64_t *) payload;
    writer->word = 0;
    writer->pending = 0;
    writer->fill = 0;
}

//  Append bytes to the slot, as whole relaxed word stores.  Bytes that do
//  not complete a word wait in a register (`pending`).  On little-endian
//  hosts the data is taken eight bytes at a time and shifted into place
//  whatever `fill` is, and a tail of fewer than eight bytes is loaded
//  whole: pieces are often a few bytes (sizes, short topics) at odd
//  offsets, and this costs them no loop.  Elsewhere bytes are shifted in
//  one at a time.  The state is copied to locals so that the compiler
//  keeps it in registers.  Every store here is the ring protocol's W3:
//  relaxed is enough, because zshm_ring_reserve's release fence (W2)
//  precedes it and zshm_ring_commit's release store (W4) follows it (see
//  the top of zshm_ring.c).
//  Always inlined where a whole record is built in one go (s_send_slot),
//  so that the writer lives in registers; s_writer_bytes is the same, out
//  of line, for the fragment path.
static inline __attribute__ ((always_inline)) void
s_writer_put (s_writer_t *writer, const uint8_t *data, size_t size)
{
    _Atomic uint64_t *words = writer->words;
    size_t word = writer->word;
    uint64_t pending = writer->pending;
    unsigned fill = writer->fill;
#ifdef S_LITTLE_ENDIAN
    while (size >= 8) {
        uint64_t chunk;
        memcpy (&chunk, data, 8);
        if (fill) {
            zshm_store_relaxed (&words [word++], pending | chunk << (8 * fill));
            pending = chunk >> (8 * (8 - fill));
        }
        else
            zshm_store_relaxed (&words [word++], chunk);
        data += 8;
        size -= 8;
    }
    if (size) {
        //  The tail, 1 to 7 bytes, gathered in a register by loads that
        //  overlap rather than by a loop: 4-7 bytes are two 4-byte loads,
        //  1-3 bytes the first, middle and last (some of them the same
        //  byte, which ORs into place twice harmlessly).
        uint64_t chunk;
        if (size >= 4) {
            uint32_t low, high;
            memcpy (&low, data, 4);
            memcpy (&high, data + size - 4, 4);
            chunk = low | (uint64_t) high << (8 * (size - 4));
        }
        else
            chunk = data [0] | (uint64_t) data [size / 2] << (8 * (size / 2))
                  | (uint64_t) data [size - 1] << (8 * (size - 1));
        pending |= chunk << (8 * fill);
        if (fill + size >= 8) {
            //  fill > 0 here, as size < 8
            zshm_store_relaxed (&words [word++], pending);
            pending = chunk >> (8 * (8 - fill));
            fill = fill + (unsigned) size - 8;
        }
        else
            fill += (unsigned) size;
    }
#else
    if (fill) {
        while (fill < 8 && size) {
            pending |= (uint64_t) *data++ << S_BYTE_SHIFT (fill);
            fill++;
            size--;
        }
        if (fill == 8) {
            zshm_store_relaxed (&words [word++], pending);
            pending = 0;
            fill = 0;
        }
    }
    while (size >= 8) {
        uint64_t value;
        memcpy (&value, data, 8);
        zshm_store_relaxed (&words [word++], value);
        data += 8;
        size -= 8;
    }
    //  Here fill is 0 unless size is (the first loop ran dry)
    while (size) {
        pending |= (uint64_t) *data++ << S_BYTE_SHIFT (fill);
        fill++;
        size--;
    }
#endif
    writer->word = word;
    writer->pending = pending;
    writer->fill = fill;
}

static void
s_writer_bytes (s_writer_t *writer, const uint8_t *data, size_t size)
{
    s_writer_put (writer, data, size);
}

//  Append a little-endian u32 (a frame size): two shifts, no loop.
static inline __attribute__ ((always_inline)) void
s_writer_u32 (s_writer_t *writer, uint32_t value)
{
#ifdef S_LITTLE_ENDIAN
    unsigned fill = writer->fill;
    writer->pending |= (uint64_t) value << (8 * fill);
    if (fill < 4)
        writer->fill = fill + 4;
    else {
        zshm_store_relaxed (&writer->words [writer->word++], writer->pending);
        //  The bytes that did not fit (none when fill is 4)
        writer->pending = fill > 4 ? (uint64_t) value >> (8 * (8 - fill)) : 0;
        writer->fill = fill - 4;
    }
#else
    uint8_t encoded [4];
    zshm_record_put32 (encoded, value);
    s_writer_bytes (writer, encoded, 4);
#endif
}

//  Store the last, partial word.
static inline void
s_writer_flush (s_writer_t *writer)
{
    if (writer->fill) {
        //  The unused bytes of pending are 0: the slot's padding.
        zshm_store_relaxed (&writer->words [writer->word++], writer->pending);
        writer->pending = 0;
        writer->fill = 0;
    }
}

//  Reserve the next slot, copy the first `words` words of the stage into
//  it, the bytes past `size` in the last one zeroed (the slot's padding),
//  and commit `size` bytes (see the top).
static void
s_stage_commit (s_channel_t *channel, size_t words, size_t size)
{
    uint64_t seq;
    _Atomic uint64_t *slot = (_Atomic uint64_t *) zshm_ring_reserve_fast (channel->ring, &seq);
    //  The ring protocol's W3: relaxed stores, after zshm_ring_reserve's
    //  release fence (W2) and before zshm_ring_commit's release store (W4),
    //  which a reader's acquire of the slot's state pairs with.
    for (size_t index = 0; index < words; index++) {
        uint64_t value;
        memcpy (&value, channel->stage + 8 * index, 8);
        if (index + 1 == words && size % 8)
            value &= S_BYTES_MASK (size % 8);
        zshm_store_relaxed (&slot [index], value);
    }
    //  It fits the slot.
    zshm_ring_commit_fast (channel->ring, size);
    channel->first_seq = seq;
    channel->last_seq = seq;
}

//  Reserve the next slot and write the record header of the fragment that
//  starts at channel->offset.
static void
s_fragment_open (s_channel_t *channel)
{
    uint64_t seq;
    s_writer_start (&channel->writer, zshm_ring_reserve_fast (channel->ring, &seq));
    if (channel->offset == 0)
        channel->first_seq = seq;
    uint32_t left = channel->total - channel->offset;
    channel->frag_size = left < channel->body_max ? left : (uint32_t) channel->body_max;
    channel->frag_left = channel->frag_size;
    uint16_t flags = (channel->offset == 0 ? ZSHM_RECORD_FIRST : 0)
                   | (channel->offset + channel->frag_size == channel->total
                      ? ZSHM_RECORD_LAST : 0);
    uint8_t header [ZSHM_RECORD_HEADER];
    if (flags == ZSHM_RECORD_FLAGS) {
        //  The whole message: the short header
        zshm_record_encode_short (header, channel->total);
        channel->frag_header = ZSHM_RECORD_SHORT_HEADER;
    }
    else {
        zshm_record_encode (header, flags, channel->total, channel->offset);
        channel->frag_header = ZSHM_RECORD_HEADER;
    }
    s_writer_bytes (&channel->writer, header, channel->frag_header);
}

//  Publish the open fragment, which is complete.
static void
s_fragment_commit (s_channel_t *channel)
{
    assert (channel->writer.words && channel->frag_left == 0);
    s_writer_flush (&channel->writer);
    //  The fragment was sized to the slot.
    zshm_ring_commit_fast (channel->ring, channel->frag_header + channel->frag_size);
    channel->offset += channel->frag_size;
    channel->writer.words = NULL;
}

static void
s_message_begin (s_channel_t *channel, uint32_t total)
{
    channel->total = total;
    channel->offset = 0;
    s_fragment_open (channel);
}

//  Append body bytes; the caller never gives more than the total.  A full
//  fragment is committed when more bytes follow it; the last waits for
//  s_message_end.
static void
s_message_put (s_channel_t *channel, const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    while (size) {
        if (channel->frag_left == 0) {
            s_fragment_commit (channel);
            s_fragment_open (channel);
        }
        size_t take = size < channel->frag_left ? size : channel->frag_left;
        s_writer_bytes (&channel->writer, bytes, take);
        channel->frag_left -= (uint32_t) take;
        bytes += take;
        size -= take;
    }
}

static void
s_message_end (s_channel_t *channel)
{
    assert (channel->offset + channel->frag_size == channel->total);
    s_fragment_commit (channel);
    channel->last_seq = channel->first_seq;
}

//  Forget a message that will not be completed.  Its open fragment stays
//  reserved and unpublished: the next message reuses that slot.
static void
s_message_abort (s_channel_t *channel)
{
    s_writer_start (&channel->writer, NULL);
}

//  --------------------------------------------------------------------------
//  The same bytes to every channel

static void
s_put_all (zshm_pub_t *self, const void *data, size_t size)
{
    for (size_t index = 0; index < self->channel_count; index++)
        s_message_put (&self->channels [index], data, size);
}

static void
s_put_size_all (zshm_pub_t *self, size_t size)
{
    uint8_t encoded [ZSHM_FRAME_HEADER];
    zshm_record_put32 (encoded, (uint32_t) size);
    s_put_all (self, encoded, sizeof encoded);
}

//  Start a message on every channel: body header and type name.
static void
s_begin_all (zshm_pub_t *self, size_t total, const char *type_name, size_t type_len,
             size_t frame_count)
{
    uint8_t header [ZSHM_BODY_HEADER];
    zshm_body_encode (header, (uint16_t) type_len, (uint32_t) frame_count);
    for (size_t index = 0; index < self->channel_count; index++) {
        s_channel_t *channel = &self->channels [index];
        if (type_len && !channel->typed) {
            //  For tools (zshm stat): the first typed message names the
            //  channel's type.  Cannot fail: type_len <= 127.
            zshm_ring_set_type (channel->ring, type_name);
            channel->typed = true;
        }
        s_message_begin (channel, (uint32_t) total);
        s_message_put (channel, header, sizeof header);
        if (type_len)
            s_message_put (channel, type_name, type_len);
    }
}

static void
s_end_all (zshm_pub_t *self)
{
    for (size_t index = 0; index < self->channel_count; index++)
        s_message_end (&self->channels [index]);
}

//  Send frames that fit one slot (total <= body_max), the common case, in
//  fewer steps than s_message_put's: the headers as whole words, each
//  frame size with two shifts, the writer in registers.  The bytes are the
//  same as the general path's.  Inlined into zshm_pub_send with count 2.
static inline __attribute__ ((always_inline)) void
s_send_slot (s_channel_t *channel, size_t total, const void *const *data,
             const size_t *sizes, size_t count)
{
    uint64_t seq;
    s_writer_t writer;
    s_writer_start (&writer, zshm_ring_reserve_fast (channel->ring, &seq));
#ifdef S_LITTLE_ENDIAN
    //  The short record header (magic, flags, total), then the body
    //  header (no type name, count frames)
    zshm_store_relaxed (&writer.words [0], ZSHM_RECORD_MAGIC
                        | (uint64_t) (ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT) << 16
                        | (uint64_t) total << 32);
    zshm_store_relaxed (&writer.words [1], (uint64_t) count << 32);
    writer.word = 2;
#else
    uint8_t header [ZSHM_RECORD_SHORT_HEADER + ZSHM_BODY_HEADER];
    zshm_record_encode_short (header, (uint32_t) total);
    zshm_body_encode (header + ZSHM_RECORD_SHORT_HEADER, 0, (uint32_t) count);
    s_writer_bytes (&writer, header, sizeof header);
#endif
    for (size_t index = 0; index < count; index++) {
        s_writer_u32 (&writer, (uint32_t) sizes [index]);
        s_writer_put (&writer, (const uint8_t *) data [index], sizes [index]);
    }
    s_writer_flush (&writer);
    //  It fits the slot.
    zshm_ring_commit_fast (channel->ring, ZSHM_RECORD_SHORT_HEADER + total);
    channel->first_seq = seq;
    channel->last_seq = seq;
}

//  Send frames on one channel.
static void
s_send_channel (s_channel_t *channel, size_t total, const void *const *data,
                const size_t *sizes, size_t count)
{
    if (total <= channel->body_max) {
        s_send_slot (channel, total, data, sizes, count);
        return;
    }
    uint8_t header [ZSHM_BODY_HEADER], size [ZSHM_FRAME_HEADER];
    zshm_body_encode (header, 0, (uint32_t) count);
    s_message_begin (channel, (uint32_t) total);
    s_message_put (channel, header, sizeof header);
    for (size_t index = 0; index < count; index++) {
        zshm_record_put32 (size, (uint32_t) sizes [index]);
        s_message_put (channel, size, sizeof size);
        s_message_put (channel, data [index], sizes [index]);
    }
    s_message_end (channel);
}

//  Encoded body size of frames of these sizes, or 0 with EMSGSIZE when it
//  exceeds maxmsg (checked without overflow).
static size_t
s_body_size (zshm_pub_t *self, size_t type_len, const size_t *sizes, size_t count)
{
    size_t total = ZSHM_BODY_HEADER + type_len;
    for (size_t index = 0; index < count; index++) {
        if (sizes [index] > self->maxmsg
        ||  total + ZSHM_FRAME_HEADER + sizes [index] > self->maxmsg) {
            errno = EMSGSIZE;
            return 0;
        }
        total += ZSHM_FRAME_HEADER + sizes [index];
    }
    if (total > self->maxmsg) {
        errno = EMSGSIZE;
        return 0;
    }
    return total;
}

//  Send one frame on the ZeroMQ socket, retrying interrupted calls.
static int
s_zmq_send (zshm_pub_t *self, const void *data, size_t size, bool more)
{
    void *handle = zsock_resolve (self->sock);
    while (zmq_send (handle, data, size, more ? ZMQ_SNDMORE : 0) == -1)
        if (errno != EINTR)
            return -1;
    return 0;
}

//  Abandon an unfinished stream or open message.
static void
s_stream_abort (zshm_pub_t *self)
{
    if (self->opened) {
        s_message_abort (&self->channels [0]);
        self->opened = false;
    }
    if (!self->streaming)
        return;
    for (size_t index = 0; index < self->channel_count; index++)
        s_message_abort (&self->channels [index]);
    self->streaming = false;
}

//  --------------------------------------------------------------------------
//  Endpoints

//  Open one shm://NAME?options endpoint into *channel; maxmsg may lower
//  *maxmsg_p.  `spec` is writable scratch.
static int
s_open_shm (char *spec, s_channel_t *channel, size_t *maxmsg_p)
{
    zshm_endpoint_t endpoint;
    if (zshm_endpoint_parse (spec, &endpoint))
        return -1;
    channel->ring = zshm_ring_new_ex (endpoint.name, endpoint.capacity, endpoint.slot,
                                      endpoint.replace ? ZSHM_RING_REPLACE : 0,
                                      (mode_t) endpoint.mode);
    if (!channel->ring)
        return -1;
    channel->body_max = zshm_ring_slot_size (channel->ring) - ZSHM_RECORD_HEADER;
    if (endpoint.maxmsg < *maxmsg_p)
        *maxmsg_p = endpoint.maxmsg;
    return 0;
}

zshm_pub_t *
zshm_pub_new (const char *endpoints)
{
    if (!endpoints || !*endpoints) {
        errno = EINVAL;
        return NULL;
    }
    zshm_pub_t *self = (zshm_pub_t *) calloc (1, sizeof (zshm_pub_t));
    char *copy = strdup (endpoints);
    //  ZeroMQ endpoints, comma-joined for zsock_attach: never longer than
    //  the whole list.
    char *zmq_list = (char *) calloc (1, strlen (endpoints) + 1);
    size_t items = 1;
    for (const char *c = endpoints; *c; c++)
        items += *c == ',';
    if (self)
        self->channels = (s_channel_t *) calloc (items, sizeof (s_channel_t));
    int error = ENOMEM;
    if (!self || !copy || !zmq_list || !self->channels)
        goto failed;
    self->maxmsg = ZSHM_ENDPOINT_MAXMSG;

    //  Split by hand rather than with strtok: an empty item is an error.
    char *item = copy;
    for (;;) {
        char *comma = strchr (item, ',');
        if (comma)
            *comma = 0;
        if (strncmp (item, "shm://", 6) == 0) {
            if (s_open_shm (item, &self->channels [self->channel_count], &self->maxmsg))
                goto failed_errno;
            self->channel_count++;
        }
        else {
            //  Anything else with a scheme goes to ZeroMQ (tcp://, ipc://,
            //  inproc://), with its optional '@' or '>'.
            const char *scheme = item + (*item == '@' || *item == '>');
            const char *colon = strstr (scheme, "://");
            if (!colon || colon == scheme || !colon [3]) {
                error = EINVAL;
                goto failed;
            }
            if (*zmq_list)
                strcat (zmq_list, ",");
            strcat (zmq_list, item);
        }
        if (!comma)
            break;
        item = comma + 1;
    }
    if (*zmq_list) {
        self->sock = zsock_new (ZMQ_PUB);
        if (!self->sock)
            goto failed_errno;
        //  serverish: binds by default, like zsock_new_pub.
        if (zsock_attach (self->sock, zmq_list, true)) {
            error = errno ? errno : EINVAL;
            goto failed;
        }
    }
    if (self->channel_count == 1 && !self->sock)
        self->slot_max = self->channels [0].body_max < self->maxmsg
                       ? self->channels [0].body_max : self->maxmsg;
    free (copy);
    free (zmq_list);
    return self;

failed_errno:
    error = errno;
failed:
    free (copy);
    free (zmq_list);
    zshm_pub_destroy (&self);
    errno = error;
    return NULL;
}

void
zshm_pub_destroy (zshm_pub_t **self_p)
{
    assert (self_p);
    zshm_pub_t *self = *self_p;
    if (!self)
        return;
    for (size_t index = 0; index < self->channel_count; index++)
        zshm_ring_destroy (&self->channels [index].ring);
    free (self->channels);
    if (self->sock)
        zsock_destroy (&self->sock);
    free (self->stream_topic);
    free (self->stream_buf);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Sending

int
zshm_pub_send_frames (zshm_pub_t *self, const void *const *data, const size_t *sizes,
                      size_t count)
{
    assert (self);
    if (count < 1 || !data || !sizes) {
        errno = EINVAL;
        return -1;
    }
    //  One pass over the frames: NULL data (EINVAL, before anything else
    //  happens) and the body size (EMSGSIZE past maxmsg, summed without
    //  overflow: each term is checked against maxmsg first).
    size_t maxmsg = self->maxmsg;
    size_t total = ZSHM_BODY_HEADER;
    bool invalid = false, oversize = false;
    for (size_t index = 0; index < count; index++) {
        size_t size = sizes [index];
        invalid |= !data [index] && size;
        oversize |= size > maxmsg || ZSHM_FRAME_HEADER + size > maxmsg - total;
        if (!oversize)
            total += ZSHM_FRAME_HEADER + size;
    }
    if (invalid) {
        errno = EINVAL;
        return -1;
    }
    if (self->opened || self->streaming)
        s_stream_abort (self);
    if (oversize) {
        errno = EMSGSIZE;
        return -1;
    }
    for (size_t index = 0; index < self->channel_count; index++)
        s_send_channel (&self->channels [index], total, data, sizes, count);
    if (self->sock)
        for (size_t index = 0; index < count; index++)
            if (s_zmq_send (self, data [index], sizes [index], index + 1 < count))
                return -1;
    return 0;
}

int
zshm_pub_send (zshm_pub_t *self, const char *topic, const void *data, size_t size)
{
    assert (self);
    if (!topic) {
        errno = EINVAL;
        return -1;
    }
    const void *frames [2] = { topic, data };
    size_t sizes [2] = { strlen (topic), size };
    //  The common case in a straight line: one shm endpoint, nothing
    //  streaming, and a message that fits one slot (each size is checked
    //  alone first, so the sum cannot overflow).  zshm_pub_send_frames
    //  does the same for it, in more steps.
    size_t slot_max = self->slot_max;
    if (sizes [0] <= slot_max && size <= slot_max && (data || !size)
    &&  ZSHM_BODY_HEADER + 2 * ZSHM_FRAME_HEADER + sizes [0] + size <= slot_max
    &&  !self->opened && !self->streaming) {
        s_send_slot (&self->channels [0],
                     ZSHM_BODY_HEADER + 2 * ZSHM_FRAME_HEADER + sizes [0] + size,
                     frames, sizes, 2);
        return 0;
    }
    return zshm_pub_send_frames (self, frames, sizes, 2);
}

int
zshm_pub_send_msg (zshm_pub_t *self, zmsg_t **msg_p)
{
    assert (self);
    assert (msg_p);
    zmsg_t *msg = *msg_p;
    if (!msg || zmsg_size (msg) == 0) {
        zmsg_destroy (msg_p);
        errno = EINVAL;
        return -1;
    }
    s_stream_abort (self);
    size_t count = zmsg_size (msg);
    size_t total = ZSHM_BODY_HEADER;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
        size_t size = zframe_size (frame);
        if (size > self->maxmsg || total + ZSHM_FRAME_HEADER + size > self->maxmsg) {
            zmsg_destroy (msg_p);
            errno = EMSGSIZE;
            return -1;
        }
        total += ZSHM_FRAME_HEADER + size;
    }
    if (self->channel_count) {
        s_begin_all (self, total, NULL, 0, count);
        for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg)) {
            s_put_size_all (self, zframe_size (frame));
            s_put_all (self, zframe_data (frame), zframe_size (frame));
        }
        s_end_all (self);
    }
    int rc = 0;
    if (self->sock) {
        rc = zmsg_send (msg_p, self->sock);
        int error = errno;
        zmsg_destroy (msg_p);
        errno = error;
    }
    else
        zmsg_destroy (msg_p);
    return rc ? -1 : 0;
}

//  Grow a private buffer to at least `size` bytes.
static int
s_reserve (uint8_t **buf_p, size_t *max_p, size_t size)
{
    if (size <= *max_p)
        return 0;
    uint8_t *grown = (uint8_t *) realloc (*buf_p, size);
    if (!grown) {
        errno = ENOMEM;
        return -1;
    }
    *buf_p = grown;
    *max_p = size;
    return 0;
}

int
zshm_pub_send_begin (zshm_pub_t *self, const void *topic, size_t topic_size,
                     size_t payload_size, const char *type_name)
{
    assert (self);
    s_stream_abort (self);
    size_t type_len = type_name ? strlen (type_name) : 0;
    if ((!topic && topic_size) || type_len > ZSHM_RECORD_TYPE_MAX) {
        errno = EINVAL;
        return -1;
    }
    size_t sizes [2] = { topic_size, payload_size };
    size_t total = s_body_size (self, type_len, sizes, 2);
    if (!total)
        return -1;
    if (self->sock) {
        //  ZeroMQ takes the message whole: gather it until send_end.
        if (s_reserve (&self->stream_topic, &self->stream_topic_max, topic_size)
        ||  s_reserve (&self->stream_buf, &self->stream_buf_max, payload_size))
            return -1;
        if (topic_size)
            memcpy (self->stream_topic, topic, topic_size);
        self->stream_topic_size = topic_size;
    }
    if (self->channel_count) {
        s_begin_all (self, total, type_name, type_len, 2);
        s_put_size_all (self, topic_size);
        s_put_all (self, topic, topic_size);
        s_put_size_all (self, payload_size);
    }
    self->streaming = true;
    self->stream_size = payload_size;
    self->stream_left = payload_size;
    return 0;
}

int
zshm_pub_send_write (zshm_pub_t *self, const void *data, size_t size)
{
    assert (self);
    if (!self->streaming || (!data && size)) {
        s_stream_abort (self);
        errno = EINVAL;
        return -1;
    }
    if (size > self->stream_left) {
        //  More than declared: the message is abandoned, its last
        //  fragment never published.
        s_stream_abort (self);
        errno = EINVAL;
        return -1;
    }
    if (self->channel_count)
        s_put_all (self, data, size);
    if (self->sock && size)
        memcpy (self->stream_buf + (self->stream_size - self->stream_left), data, size);
    self->stream_left -= size;
    return 0;
}

int
zshm_pub_send_end (zshm_pub_t *self)
{
    assert (self);
    if (!self->streaming || self->stream_left) {
        s_stream_abort (self);
        errno = EINVAL;
        return -1;
    }
    self->streaming = false;
    if (self->channel_count)
        s_end_all (self);
    if (self->sock
    &&  (s_zmq_send (self, self->stream_topic, self->stream_topic_size, true)
      || s_zmq_send (self, self->stream_buf, self->stream_size, false)))
        return -1;
    return 0;
}

void *
zshm_pub_send_open (zshm_pub_t *self, const void *topic, size_t topic_size,
                    const char *type_name, size_t type_len, size_t *room_p)
{
    assert (self);
    assert (room_p);
    assert (type_name || type_len == 0);
    s_stream_abort (self);
    if (self->sock || self->channel_count != 1 || (!topic && topic_size)
    ||  type_len > ZSHM_RECORD_TYPE_MAX)
        return NULL;
    s_channel_t *channel = &self->channels [0];
    size_t fixed = ZSHM_BODY_HEADER + type_len + 2 * ZSHM_FRAME_HEADER + topic_size;
    size_t limit = channel->body_max < self->maxmsg ? channel->body_max : self->maxmsg;
    //  The message is built in the stage (see the top): room for what it
    //  holds; a larger one goes the caller's other way
    if (limit > S_STAGE - ZSHM_RECORD_SHORT_HEADER)
        limit = S_STAGE - ZSHM_RECORD_SHORT_HEADER;
    if (fixed >= limit)
        return NULL;
    if (type_len && !channel->typed) {
        zshm_ring_set_type (channel->ring, type_name);
        channel->typed = true;
    }
    //  The record up to its payload, whose size (and the total) send_close
    //  fills in
    uint8_t *stage = channel->stage;
    zshm_body_encode (stage + ZSHM_RECORD_SHORT_HEADER, (uint16_t) type_len, 2);
    uint8_t *at = stage + ZSHM_RECORD_SHORT_HEADER + ZSHM_BODY_HEADER;
    if (type_len)
        memcpy (at, type_name, type_len);
    at += type_len;
    zshm_record_put32 (at, (uint32_t) topic_size);
    at += ZSHM_FRAME_HEADER;
    if (topic_size)
        memcpy (at, topic, topic_size);
    at += topic_size + ZSHM_FRAME_HEADER;
    self->opened = true;
    self->open_at = (size_t) (at - stage);
    self->open_fixed = fixed;
    self->open_room = limit - fixed;
    *room_p = self->open_room;
    return at;
}

zshm_codec_cache_t *
zshm_pub_codec_cache (zshm_pub_t *self)
{
    assert (self);
    return &self->codec_cache;
}

int
zshm_pub_send_close (zshm_pub_t *self, size_t size)
{
    assert (self);
    if (!self->opened || size > self->open_room) {
        s_stream_abort (self);
        errno = EINVAL;
        return -1;
    }
    self->opened = false;
    s_channel_t *channel = &self->channels [0];
    //  The header and the payload's size
    uint8_t *stage = channel->stage;
    size_t total = self->open_fixed + size;
    zshm_record_encode_short (stage, (uint32_t) total);
    zshm_record_put32 (stage + self->open_at - ZSHM_FRAME_HEADER, (uint32_t) size);
    size_t bytes = ZSHM_RECORD_SHORT_HEADER + total;
    s_stage_commit (channel, (bytes + 7) / 8, bytes);
    return 0;
}

void
zshm_pub_send_abort (zshm_pub_t *self)
{
    assert (self);
    s_stream_abort (self);
}

void *
zshm_pub_send_direct (zshm_pub_t *self, size_t size)
{
    assert (self);
    if (!self->streaming || self->sock || self->channel_count != 1
    ||  size == 0 || size != self->stream_left)
        return NULL;
    s_channel_t *channel = &self->channels [0];
    s_writer_t *writer = &channel->writer;
    if (!writer->words || size != channel->frag_left)
        return NULL;                //  not the end of a message's last slot
    //  Store the partial word, zero-padded: the caller's bytes start right
    //  after what is written so far and overwrite that padding.
    size_t at = writer->word * 8 + writer->fill;
    s_writer_flush (writer);
    //  Account for the bytes now; the caller writes them before send_end,
    //  and nothing more is appended, so no word is pending.
    writer->word = (at + size + 7) / 8;
    channel->frag_left = 0;
    self->stream_left = 0;
    return (uint8_t *) writer->words + at;
}

uint64_t
zshm_pub_seq (zshm_pub_t *self)
{
    assert (self);
    return self->channel_count ? self->channels [0].last_seq : 0;
}

size_t
zshm_pub_maxmsg (zshm_pub_t *self)
{
    assert (self);
    return self->maxmsg;
}

zshm_ring_t *
zshm_pub_ring (zshm_pub_t *self)
{
    assert (self);
    return self->channel_count ? self->channels [0].ring : NULL;
}

zsock_t *
zshm_pub_sock (zshm_pub_t *self)
{
    assert (self);
    return self->sock;
}

//  --------------------------------------------------------------------------
//  Self test

void
zshm_pub_test (bool verbose)
{
    if (verbose)
        printf (" * zshm_pub: ");

    //  Bad endpoints and options
    assert (zshm_pub_new (NULL) == NULL && errno == EINVAL);
    assert (zshm_pub_new ("") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://a/b") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://x?capacity=abc") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://x?slot=16") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://x?colour=red") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("shm://x?mode=999") == NULL && errno == EINVAL);
    assert (zshm_pub_new ("nonsense") == NULL && errno == EINVAL);

    char name [64], endpoint [128];
    snprintf (name, sizeof name, "selftest-pub-%d", (int) getpid ());
    zshm_ring_unlink (name);
    //  An empty item fails the list (the channel before it is made, and
    //  stays, as every channel outlives its publisher)
    snprintf (endpoint, sizeof endpoint, "shm://%s,", name);
    assert (zshm_pub_new (endpoint) == NULL && errno == EINVAL);
    assert (zshm_ring_unlink (name) == 0);
    snprintf (endpoint, sizeof endpoint, "shm://%s?capacity=64&slot=64&maxmsg=1000&mode=0640",
              name);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    assert (pub);
    assert (zshm_pub_maxmsg (pub) == 1000);
    assert (zshm_pub_sock (pub) == NULL);
    zshm_ring_t *ring = zshm_pub_ring (pub);
    assert (ring && zshm_ring_capacity (ring) == 64 && zshm_ring_slot_size (ring) == 64);
    assert (zshm_pub_new (endpoint) == NULL && errno == EBUSY);

    //  Read the records back with a plain reader
    zshm_ring_t *input = zshm_ring_open (name);
    assert (input);
    zshm_reader_t *reader = zshm_reader_new (input);
    assert (reader);
    assert (zshm_pub_send (pub, "tick", "12345", 5) == 0);
    assert (zshm_pub_seq (pub) == 1);
    uint8_t slot [64];
    uint64_t seq;
    ssize_t size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
    //  8 short header + 8 body header + 4 + 4 topic + 4 + 5 data
    assert (size == 33 && seq == 1);
    zshm_record_t record;
    assert (zshm_record_decode_any (slot, (size_t) size, &record) == ZSHM_RECORD_SHORT_HEADER);
    assert (record.magic == ZSHM_RECORD_MAGIC
            && record.flags == (ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT));
    assert (record.total == 25 && record.offset == 0 && record.reserved == 0);
    assert (zshm_record_get16 (slot + 8) == 0 && zshm_record_get32 (slot + 12) == 2);
    assert (zshm_record_get32 (slot + 16) == 4 && memcmp (slot + 20, "tick", 4) == 0);
    assert (zshm_record_get32 (slot + 24) == 5 && memcmp (slot + 28, "12345", 5) == 0);

    //  Every alignment of frame sizes and bytes within the slot's words
    const char *letters = "abcdefghijklmnopqrstuvwxyz";
    for (size_t topic_size = 0; topic_size < 10; topic_size++)
        for (size_t data_size = 0; data_size < 18; data_size++) {
            const void *frames [3] = { letters, letters + 3, "" };
            size_t sizes [3] = { topic_size, data_size, 0 };
            assert (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
            size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
            size_t total = 8 + 4 + topic_size + 4 + data_size + 4;
            assert ((size_t) size == 8 + total);
            assert (zshm_record_decode_any (slot, (size_t) size, &record) == 8);
            assert (record.magic == ZSHM_RECORD_MAGIC
                    && record.flags == (ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT));
            assert (record.total == total && record.offset == 0 && record.reserved == 0);
            assert (zshm_record_get32 (slot + 8) == 0 && zshm_record_get32 (slot + 12) == 3);
            uint8_t *at = slot + 16;
            assert (zshm_record_get32 (at) == topic_size);
            assert (memcmp (at + 4, letters, topic_size) == 0);
            at += 4 + topic_size;
            assert (zshm_record_get32 (at) == data_size);
            assert (memcmp (at + 4, letters + 3, data_size) == 0);
            at += 4 + data_size;
            assert (zshm_record_get32 (at) == 0);
        }

    //  The same through zshm_pub_send's own path (a topic string and one
    //  frame), byte for byte
    for (size_t topic_size = 0; topic_size < 10; topic_size++)
        for (size_t data_size = 0; data_size < 18; data_size++) {
            char topic [16];
            memcpy (topic, letters, topic_size);
            topic [topic_size] = 0;
            assert (zshm_pub_send (pub, topic, letters + 3, data_size) == 0);
            size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
            size_t total = 8 + 4 + topic_size + 4 + data_size;
            assert ((size_t) size == 8 + total);
            uint8_t expected [64];
            zshm_record_encode_short (expected, (uint32_t) total);
            zshm_body_encode (expected + 8, 0, 2);
            zshm_record_put32 (expected + 16, (uint32_t) topic_size);
            memcpy (expected + 20, letters, topic_size);
            zshm_record_put32 (expected + 20 + topic_size, (uint32_t) data_size);
            memcpy (expected + 24 + topic_size, letters + 3, data_size);
            assert (memcmp (slot, expected, (size_t) size) == 0);
        }
    //  NULL data is refused unless it is empty
    assert (zshm_pub_send (pub, "tick", NULL, 1) == -1 && errno == EINVAL);
    assert (zshm_pub_send (pub, "tick", NULL, 0) == 0);
    assert (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) == 8 + 8 + 4 + 4 + 4);

    //  A message over three slots: 48 body bytes each
    char data [100];
    for (size_t index = 0; index < sizeof data; index++)
        data [index] = (char) index;
    uint64_t big_seq = zshm_ring_head (ring);
    assert (zshm_pub_send (pub, "big", data, sizeof data) == 0);
    assert (zshm_pub_seq (pub) == big_seq);
    size_t offset = 0;
    for (int fragment = 0; fragment < 3; fragment++) {
        size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
        assert (seq == (uint64_t) fragment + big_seq);
        zshm_record_decode (slot, &record);
        assert (record.total == 8 + 4 + 3 + 4 + 100 && record.offset == offset);
        assert (record.flags == (fragment == 0 ? ZSHM_RECORD_FIRST
                                 : fragment == 2 ? ZSHM_RECORD_LAST : 0));
        assert ((size_t) size == 16 + (fragment < 2 ? 48 : 119 - 96));
        offset += (size_t) size - 16;
    }
    assert (offset == 119);

    //  EMSGSIZE: 8 + 4 + 1 + 4 + 983 = 1000 fits, one more does not
    char large [1000] = { 0 };
    assert (zshm_pub_send (pub, "t", large, 984) == -1 && errno == EMSGSIZE);
    assert (zshm_pub_send (pub, "t", large, 983) == 0);
    while (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) > 0)
        ;

    //  Streaming: a typed message, and a wrong total in either direction
    //  publishes nothing
    assert (zshm_pub_send_write (pub, "x", 1) == -1 && errno == EINVAL);
    assert (zshm_pub_send_begin (pub, "s", 1, 6, "zshm.Test") == 0);
    assert (zshm_pub_send_write (pub, "abc", 3) == 0);
    assert (zshm_pub_send_write (pub, "def", 3) == 0);
    assert (zshm_pub_send_end (pub) == 0);
    char type [64];
    assert (zshm_ring_type (input, type, sizeof type) == 9 && streq (type, "zshm.Test"));
    size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
    assert (size == 8 + 8 + 9 + 4 + 1 + 4 + 6);
    assert (zshm_record_get16 (slot + 8) == 9 && memcmp (slot + 16, "zshm.Test", 9) == 0);
    assert (zshm_pub_send_begin (pub, "s", 1, 6, NULL) == 0);
    assert (zshm_pub_send_write (pub, "abcdefg", 7) == -1 && errno == EINVAL);
    assert (zshm_pub_send_end (pub) == -1 && errno == EINVAL);
    assert (zshm_pub_send_begin (pub, "s", 1, 6, NULL) == 0);
    assert (zshm_pub_send_write (pub, "abc", 3) == 0);
    assert (zshm_pub_send_end (pub) == -1 && errno == EINVAL);
    assert (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) == -1 && errno == EAGAIN);
    //  ... and the next message takes the abandoned slot
    assert (zshm_pub_send (pub, "after", NULL, 0) == 0);
    assert (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) > 0);
    assert (seq == zshm_pub_seq (pub));
    //  An open message (zshm_pub_priv.h): sized only when closed
    size_t room = 0;
    uint8_t *open = (uint8_t *) zshm_pub_send_open (pub, "s", 1, "zshm.Test", 9, &room);
    assert (open && room == 64 - 16 - (8 + 9 + 4 + 1 + 4));
    memcpy (open, "abcde", 5);
    assert (zshm_pub_send_close (pub, 5) == 0);
    size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
    assert (size == 8 + 8 + 9 + 4 + 1 + 4 + 5 && seq == zshm_pub_seq (pub));
    assert (zshm_record_decode_any (slot, (size_t) size, &record) == 8);
    assert (record.total == (uint32_t) size - 8
            && record.flags == (ZSHM_RECORD_FLAGS | ZSHM_RECORD_SHORT));
    assert (zshm_record_get32 (slot + 30) == 5 && memcmp (slot + 34, "abcde", 5) == 0);
    //  Nothing open, a size past the room, or another send in between:
    //  nothing is published, and the next message takes the slot
    assert (zshm_pub_send_close (pub, 0) == -1 && errno == EINVAL);
    assert (zshm_pub_send_open (pub, "s", 1, NULL, 0, &room));
    assert (zshm_pub_send_close (pub, room + 1) == -1 && errno == EINVAL);
    assert (zshm_pub_send_open (pub, "s", 1, NULL, 0, &room));
    assert (zshm_pub_send (pub, "after", NULL, 0) == 0);
    assert (zshm_pub_send_close (pub, 0) == -1 && errno == EINVAL);
    assert (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) > 0);
    assert (seq == zshm_pub_seq (pub) && memcmp (slot + 20, "after", 5) == 0);
    assert (zshm_reader_try_recv (reader, slot, sizeof slot, &seq) == -1 && errno == EAGAIN);
    //  No room for the topic: nothing opened
    char wide [64];
    memset (wide, 't', sizeof wide);
    assert (zshm_pub_send_open (pub, wide, sizeof wide, NULL, 0, &room) == NULL);
    char long_type [ZSHM_RECORD_TYPE_MAX + 2];
    memset (long_type, 'T', sizeof long_type - 1);
    long_type [sizeof long_type - 1] = 0;
    assert (zshm_pub_send_begin (pub, "s", 1, 1, long_type) == -1 && errno == EINVAL);

    //  Frames and zmsg
    const void *frames [3] = { "topic", "", "end" };
    size_t sizes [3] = { 5, 0, 3 };
    assert (zshm_pub_send_frames (pub, frames, sizes, 0) == -1 && errno == EINVAL);
    assert (zshm_pub_send_frames (pub, frames, sizes, 3) == 0);
    size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
    assert (size == 8 + 8 + 4 + 5 + 4 + 0 + 4 + 3);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "m");
    zmsg_addstr (msg, "body");
    assert (zshm_pub_send_msg (pub, &msg) == 0 && msg == NULL);
    size = zshm_reader_try_recv (reader, slot, sizeof slot, &seq);
    assert (size == 8 + 8 + 4 + 1 + 4 + 4);
    msg = zmsg_new ();
    assert (zshm_pub_send_msg (pub, &msg) == -1 && errno == EINVAL && msg == NULL);

    zshm_reader_destroy (&reader);
    zshm_ring_destroy (&input);
    zshm_pub_destroy (&pub);
    zshm_pub_destroy (&pub);
    assert (pub == NULL);
    //  Restarting continues the sequence (the channel stayed)
    pub = zshm_pub_new (endpoint);
    assert (pub);
    assert (zshm_pub_send (pub, "again", NULL, 0) == 0);
    assert (zshm_pub_seq (pub) > 1);
    zshm_pub_destroy (&pub);
    assert (zshm_ring_unlink (name) == 0);

    if (verbose)
        printf ("OK\n");
}
