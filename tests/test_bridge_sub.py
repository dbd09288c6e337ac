#!/usr/bin/python3
"""test_bridge_sub.py - a plain pyzmq SUB for the bridge tests.

test_bridge_sub.py ENDPOINT --count N --timeout-ms T [--idle-ms Q]
                   [--subscribe PREFIX] [--topics a.,b.] [--ready-file F]
                   [--curve-server-cert PUBLIC_CERT [--curve-cert SECRET_CERT]]

Connects an ordinary ZeroMQ SUB (no zshm code) to a serving bridge's data
endpoint and checks every message exactly as zshm_bridge_sub does: it must
be [topic][payload] and nothing else, the topic zshm_bridge_pub gives the
sequence number, and the size and FNV-1a checksum right.  With
--curve-server-cert it is a CURVE client, with the key pair of
--curve-cert (a zcert secret file) or a fresh one nobody allowed.
Prints the same one-line summary; exits 0 if no message was bad.
"""

import re
import struct
import sys
import time

import zmq


def fnv(data):
    value = 2166136261
    for byte in data:
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value


def cert_key(path, name):
    with open(path) as handle:
        match = re.search(name + r'\s*=\s*"([^"]+)"', handle.read())
    if not match:
        raise SystemExit("test_bridge_sub.py: no %s in %s" % (name, path))
    return match.group(1).encode()


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit("usage: test_bridge_sub.py ENDPOINT --count N --timeout-ms T ...")
    endpoint = args.pop(0)
    options = {"--count": "0", "--timeout-ms": "10000", "--idle-ms": "0",
               "--subscribe": "", "--topics": "t.", "--ready-file": None,
               "--curve-server-cert": None, "--curve-cert": None}
    while args:
        name = args.pop(0)
        if name not in options or not args:
            raise SystemExit("test_bridge_sub.py: bad option %s" % name)
        options[name] = args.pop(0)
    count = int(options["--count"])
    timeout = int(options["--timeout-ms"]) / 1000.0
    idle = int(options["--idle-ms"]) / 1000.0
    topics = options["--topics"].split(",")

    context = zmq.Context()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if options["--curve-server-cert"]:
        sub.curve_serverkey = cert_key(options["--curve-server-cert"], "public-key")
        if options["--curve-cert"]:
            sub.curve_publickey = cert_key(options["--curve-cert"], "public-key")
            sub.curve_secretkey = cert_key(options["--curve-cert"], "secret-key")
        else:
            public, secret = zmq.curve_keypair()
            sub.curve_publickey = public
            sub.curve_secretkey = secret
    sub.setsockopt(zmq.SUBSCRIBE, options["--subscribe"].encode())
    sub.connect(endpoint)
    if options["--ready-file"]:
        open(options["--ready-file"], "w").close()

    received = bad = missing = duplicates = 0
    first = last = 0
    deadline = time.monotonic() + timeout
    last_time = 0.0
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while count == 0 or received < count:
        now = time.monotonic()
        if now >= deadline or (idle and received and now - last_time >= idle):
            break
        if not poller.poll(50):
            continue
        frames = sub.recv_multipart()
        last_time = time.monotonic()
        valid = len(frames) == 2 and len(frames[1]) >= 16
        if valid:
            topic, payload = frames
            seq, size, checksum = struct.unpack_from("<QII", payload)
            zeroed = payload[:12] + b"\0\0\0\0" + payload[16:]
            valid = (size == len(payload) and checksum == fnv(zeroed)
                     and topic == topics[seq % len(topics)].encode())
        if not valid:
            bad += 1
            continue
        received += 1
        if not first:
            first = seq
        elif seq > last + 1:
            missing += seq - last - 1
        elif seq <= last:
            duplicates += 1
        last = max(last, seq)
    print("received=%d bad=%d first=%d last=%d missing=%d duplicates=%d"
          % (received, bad, first, last, missing, duplicates))
    sub.close()
    context.term()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
