#!/usr/bin/python3
"""test_bridge_fake.py - hostile peers for the bridge tests.

test_bridge_fake.py attack HOST:PORT [HOST:PORT...]
    Disturb a serving bridge's data and link endpoints: raw TCP
    connections sending garbage (and a truncated ZMTP greeting), a DEALER
    (a socket type an XPUB refuses), and an XSUB sending malformed
    subscriptions, oversized frames and non-subscription messages.

test_bridge_fake.py upstream ENDPOINT
    Pose as a serving bridge's link endpoint (an XPUB bound at ENDPOINT):
    wait for a feeding bridge to subscribe, send it malformed messages and
    batches, then one well-formed message (zshm_bridge_pub's format,
    sequence 1, topic "t.") with a hand-encoded zshm.Meta and one
    well-formed batch of two (sequences 2 and 3), and print how many bad
    ones it sent.  The feeding bridge must drop the bad ones, count them
    (8 malformed messages, 7 malformed batches; 1 message and 1 batch too
    large), and publish the 3 good ones.
"""

import os
import socket
import struct
import sys
import time

import zmq


def fnv(data):
    value = 2166136261
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def payload(seq, size=64):
    body = bytearray(struct.pack("<QII", seq, size, 0))
    body += bytes(((seq * 31 + index) & 0xFF) for index in range(16, size))
    struct.pack_into("<I", body, 12, fnv(bytes(body)))
    return bytes(body)


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def meta(link_sequence, link_incarnation, frames, source_sequence=1):
    """zshm.Meta by hand (proto/zshm_meta.proto field numbers)."""
    return (b"\x08" + varint(1)                                 # version = 1
            + b"\x10" + varint(source_sequence)                  # source_sequence = 2
            + b"\x21" + struct.pack("<Q", 0x5EED)                # source_incarnation = 4
            + b"\x32" + varint(5) + b"fake0"                     # channel = 6
            + b"\x48" + varint(link_sequence)                    # link_sequence = 9
            + b"\x51" + struct.pack("<Q", link_incarnation)      # link_incarnation = 10
            + b"\x68" + varint(frames))                          # frames = 13


def batch_meta(link_sequence, count, frames=0):
    """A Meta heading a batch (Meta.batch = 14)."""
    return meta(link_sequence, 0xABCDEF, frames) + b"\x70" + varint(count)


def entry(increase, frames):
    """One message of a batch frame: the source_sequence increase, the
    frame count, each frame's size and bytes."""
    out = varint(increase) + varint(len(frames))
    for frame in frames:
        out += varint(len(frame)) + frame
    return out


def attack(targets):
    for target in targets:
        host, port = target.rsplit(":", 1)
        for junk in (os.urandom(4096), b"\xff" + b"\x00" * 8 + b"\x7f\x03\x01NULL",
                     b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f" + os.urandom(200)):
            try:
                with socket.create_connection((host, int(port)), timeout=2) as raw:
                    raw.sendall(junk)
                    time.sleep(0.05)
            except OSError:
                pass
    context = zmq.Context()
    for target in targets:
        dealer = context.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect("tcp://" + target)
        time.sleep(0.2)
        for _ in range(5):
            # Best effort: a DEALER not connected yet (a slow, loaded
            # machine) refuses with EAGAIN rather than queue
            try:
                dealer.send_multipart([b"garbage", os.urandom(100)], zmq.NOBLOCK)
            except zmq.Again:
                pass
        xsub = context.socket(zmq.XSUB)
        xsub.setsockopt(zmq.LINGER, 0)
        xsub.connect("tcp://" + target)
        time.sleep(0.2)
        for frames in ([b"\x01\x05ab"], [b"\x01"], [b"\x02junk"], [b"\x01\x00", b"extra"],
                       [b"\x01" + os.urandom(70000)], [os.urandom(30)], [b""]):
            try:
                xsub.send_multipart(frames, zmq.NOBLOCK)
            except zmq.ZMQError:
                pass
        time.sleep(0.2)
        dealer.close()
        xsub.close()
    context.term()
    print("attacked %d endpoints" % len(targets))
    return 0


def upstream(endpoint):
    context = zmq.Context()
    xpub = context.socket(zmq.XPUB)
    xpub.setsockopt(zmq.LINGER, 1000)
    xpub.bind(endpoint)
    print("bound " + xpub.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
    poller = zmq.Poller()
    poller.register(xpub, zmq.POLLIN)
    deadline = time.monotonic() + 15
    while True:
        if time.monotonic() > deadline:
            print("no subscriber came")
            return 1
        if poller.poll(100):
            subscription = xpub.recv()
            if subscription[:1] == b"\x01":
                break
    good_meta = meta(1, 0xABCDEF, 2)
    bad = [
        [b"\x00t."],                                            # one frame
        [b"\x00t.", b"\x01\x02\x03", payload(1)],              # not a Meta
        [b"\x00t.", meta(1, 0xABCDEF, 3), payload(1)],         # frame count lies
        [b"\x00t.", meta(1, 0, 2), payload(1)],                # no link identity
        [b"\x00t.", b"\x08\x02" + good_meta[2:], payload(1)],  # version 2
        [b"\x00t.", os.urandom(2000), payload(1)],             # Meta too large
        [b"\x00", b"", b"\xff\xff\xff"],                        # bad heartbeat
        [b"\x00t.", b"", b"\x08\x01"],                          # heartbeat with a topic
        [b"\x00t.", good_meta] + [b"x"] * 300,                  # too many frames
    ]
    one = entry(0, [b"t.", payload(9)])
    bad += [
        [b"\x00", batch_meta(2, 2), one],                      # one message of two
        [b"\x00", batch_meta(2, 2), one + one + b"\x00"],       # bytes after the last
        [b"\x00", batch_meta(2, 2), one + varint(0) + varint(2) + varint(2) + b"t."
                                   + varint(500) + b"short"],  # a frame past the end
        [b"\x00", batch_meta(2, 2), one + b"\x80" * 11],        # an endless varint
        [b"\x00t.", batch_meta(2, 2), one + one],               # frame 0 is not the tag
        [b"\x00", batch_meta(2, 1), one],                       # a batch of one
        [b"\x00", batch_meta(2, 2, frames=2), one + one],       # a batch with a frame count
        [b"\x00", batch_meta(2, 2), one + entry(0, [b"x"] * 300)],  # too many frames
    ]
    for frames in bad:
        xpub.send_multipart(frames)
    xpub.send_multipart([b"\x00t.", good_meta, payload(1)])
    xpub.send_multipart([b"\x00", batch_meta(2, 2),
                         entry(0, [b"t.", payload(2)]) + entry(1, [b"t.", payload(3)])])
    time.sleep(0.5)
    print("sent %d bad messages and batches, then 3 good messages" % len(bad), flush=True)
    xpub.close()
    context.term()
    return 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "attack":
        return attack(sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "upstream":
        return upstream(sys.argv[2])
    print(__doc__)
    return 1


if __name__ == "__main__":
    sys.exit(main())
