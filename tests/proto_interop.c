/*  =========================================================================
    proto_interop - the C half of the Python interoperability test

        proto_interop write DIR   publish every sample with
                                  zshm_pub_send_proto, take the payload as a
                                  subscriber received it (the ring's bytes),
                                  and write DIR/c_NAME.bin and c_NAME.type
        proto_interop read DIR    read DIR/py_NAME.bin (packed by Google's
                                  Python runtime), publish each as a raw
                                  payload with its type name, receive it
                                  with zshm_sub_recv_proto, and check it
                                  equals the C sample of the same name

    Driven by tests/test_proto_python.sh with tests/proto_interop.py.
    Exits 0 when every sample passed, 1 otherwise.
    =========================================================================
*/

#include "testutil.h"
#include "zshm_proto.h"
#include "proto_samples.h"

static int
s_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (!file)
        return -1;
    bool ok = fwrite (data, 1, size, file) == size;
    return fclose (file) == 0 && ok ? 0 : -1;
}

//  Read a whole file into a new buffer the caller frees; NULL on error.
static uint8_t *
s_read_file (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    size_t capacity = 4096, size = 0;
    uint8_t *data = (uint8_t *) malloc (capacity);
    while (data) {
        size_t got = fread (data + size, 1, capacity - size, file);
        size += got;
        if (size < capacity)
            break;
        capacity *= 2;
        uint8_t *bigger = (uint8_t *) realloc (data, capacity);
        if (!bigger)
            free (data);
        data = bigger;
    }
    fclose (file);
    *size_p = size;
    return data;
}

int
main (int argc, char **argv)
{
    if (argc != 3 || (strcmp (argv [1], "write") && strcmp (argv [1], "read"))) {
        fprintf (stderr, "usage: proto_interop write|read DIR\n");
        return TU_FAIL;
    }
    bool writing = streq (argv [1], "write");
    const char *dir = argv [2];

    char channel [64], endpoint [128];
    snprintf (channel, sizeof channel, "proto_interop.%d", (int) getpid ());
    snprintf (endpoint, sizeof endpoint, "shm://%s?slot=1024&capacity=1024", channel);
    zshm_ring_unlink (channel);
    zshm_pub_t *pub = zshm_pub_new (endpoint);
    CHECK (pub);
    snprintf (endpoint, sizeof endpoint, "shm://%s?from=oldest", channel);
    zshm_sub_t *sub = zshm_sub_new (endpoint, "");
    CHECK (sub);
    zshm_sub_set_rcvtimeo (sub, 5000);
    proto_samples_t *samples = (proto_samples_t *) malloc (sizeof (proto_samples_t));
    CHECK (samples);
    proto_samples_init (samples);

    char path [4096];
    for (size_t index = 0; index < samples->count; index++) {
        const proto_sample_t *sample = &samples->items [index];
        const ProtobufCMessageDescriptor *descriptor = sample->msg->descriptor;
        if (writing) {
            CHECK (zshm_pub_send_proto (pub, sample->name, sample->msg) == 0);
            CHECK (zshm_sub_recv (sub) == 2);
            CHECK (streq (zshm_sub_type (sub), descriptor->name));
            size_t size = 0;
            const void *payload = zshm_sub_frame (sub, 1, &size);
            CHECK (payload || size == 0);
            snprintf (path, sizeof path, "%s/c_%s.bin", dir, sample->name);
            CHECKF (s_write_file (path, payload, size) == 0, "write %s", path);
            snprintf (path, sizeof path, "%s/c_%s.type", dir, sample->name);
            CHECKF (s_write_file (path, descriptor->name, strlen (descriptor->name)) == 0,
                    "write %s", path);
        }
        else {
            snprintf (path, sizeof path, "%s/py_%s.bin", dir, sample->name);
            size_t size = 0;
            uint8_t *bytes = s_read_file (path, &size);
            CHECKF (bytes, "read %s", path);
            CHECK (zshm_pub_send_begin (pub, sample->name, strlen (sample->name), size,
                                        descriptor->name) == 0);
            CHECK (size == 0 || zshm_pub_send_write (pub, bytes, size) == 0);
            CHECK (zshm_pub_send_end (pub) == 0);
            const char *topic = NULL;
            ProtobufCMessage *got = zshm_sub_recv_proto (sub, descriptor, &topic);
            CHECKF (got, "C could not unpack Python's %s", sample->name);
            CHECK (streq (topic, sample->name));
            CHECKF (proto_samples_equal (got, sample->msg),
                    "Python's %s differs from C's", sample->name);
            //  Whether both runtimes chose the same bytes, for the record.
            size_t c_size = 0;
            uint8_t *c_bytes = proto_samples_pack (sample->msg, &c_size);
            CHECK (c_bytes);
            printf ("proto_interop: %-16s %6zu bytes from Python, %s C's packing\n",
                    sample->name, size,
                    c_size == size && memcmp (c_bytes, bytes, size) == 0 ? "same as" : "unlike");
            free (c_bytes);
            free (bytes);
        }
    }
    if (writing)
        printf ("proto_interop: wrote %zu samples packed by C through zshm\n", samples->count);
    else
        printf ("proto_interop: C unpacked %zu samples packed by Python\n", samples->count);
    CHECK (zshm_sub_proto_errors (sub) == 0);
    zshm_sub_destroy (&sub);
    zshm_pub_destroy (&pub);
    zshm_ring_unlink (channel);
    free (samples);
    return TU_PASS;
}
