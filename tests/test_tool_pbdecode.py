#!/usr/bin/python3
"""zshm's protobuf printer (tools/zshm_pbdecode.c, what `zshm cat` decodes
with) against the reference implementations:

  - schemaless: random wire-format messages, valid and corrupted, print
    exactly as `protoc --decode_raw` prints them, and fail where it fails;
  - with a FileDescriptorSet: random messages of tests/test_tool_rich*.proto
    (every field type, maps, groups, oneofs, negative and unknown enums,
    unknown fields, repeated occurrences that merge) print exactly as
    `protoc --decode=TYPE` prints them;
  - as JSON: the same messages equal what Google's Python runtime gives
    (json_format.MessageToDict with the .proto field names).

Seeds are fixed, so a failure reproduces.  Exit 0 pass, 1 fail, 77 skip."""

import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

top_builddir = os.environ.get("top_builddir", ".")
top_srcdir = os.environ.get("top_srcdir", ".")
DRIVER = os.path.join(top_builddir, "tests", "test_tool_pbdecode")
PROTOC = shutil.which("protoc")


def skip(reason):
    print("SKIP: " + reason)
    sys.exit(77)


def fail(reason):
    print("FAIL: " + reason)
    sys.exit(1)


if not os.access(DRIVER, os.X_OK):
    fail(DRIVER + " is not built")
if not PROTOC:
    skip("protoc is missing (apt-get install protobuf-compiler)")
try:
    from google.protobuf import json_format
except ImportError:
    skip("python3-protobuf is missing (apt-get install python3-protobuf)")


def run(args, data):
    result = subprocess.run(args, input=data, capture_output=True, timeout=60)
    if result.returncode not in (0, 1) or b"Sanitizer" in result.stderr \
            or b"runtime error" in result.stderr:
        fail("%s crashed (%d) on %s: %s" % (" ".join(args), result.returncode, data.hex(),
                                            result.stderr[:2000].decode(errors="replace")))
    return result


def batch(args, cases):
    """Decode every case in one driver process: [(status, output)]."""
    stream = b"".join(struct.pack("<I", len(case)) + case for case in cases)
    result = run([DRIVER, "--batch"] + args, stream)
    if result.returncode != 0:
        fail("the batch driver failed: " + result.stderr.decode(errors="replace"))
    results, offset = [], 0
    for _ in cases:
        status, length = struct.unpack_from("<II", result.stdout, offset)
        offset += 8
        results.append((status, result.stdout[offset:offset + length]))
        offset += length
    if offset != len(result.stdout):
        fail("the batch driver wrote more than its results")
    return results


def varint(value):
    value &= (1 << 64) - 1
    out = b""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def tag(number, wire):
    return varint(number << 3 | wire)


def random_wire(rng, depth):
    """A random message in wire format, nested length-delimited fields and
    groups included; sometimes deeper than protoc's guessing budget."""
    out = b""
    for _ in range(rng.randint(0, 5)):
        number = rng.choice([1, 2, 3, 15, 16, 100, 2 ** 29 - 1])
        wire = rng.choice([0, 1, 2, 2, 3, 5])
        if wire == 0:
            out += tag(number, 0) + varint(rng.choice([0, 1, 127, 128, 2 ** 63, 2 ** 64 - 1,
                                                        rng.getrandbits(64)]))
        elif wire == 1:
            out += tag(number, 1) + struct.pack("<Q", rng.getrandbits(64))
        elif wire == 5:
            out += tag(number, 5) + struct.pack("<I", rng.getrandbits(32))
        elif wire == 2:
            if depth < 14 and rng.random() < 0.6:
                content = random_wire(rng, depth + 1)
            else:
                content = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 6)))
            out += tag(number, 2) + varint(len(content)) + content
        elif depth < 14:
            out += tag(number, 3) + random_wire(rng, depth + 1) + tag(number, 4)
    return out


def check_raw(count):
    rng = random.Random(6)
    cases = []
    for _ in range(count):
        data = random_wire(rng, 0)
        if data and rng.random() < 0.3:
            corrupt = bytearray(data)
            corrupt[rng.randrange(len(corrupt))] ^= 1 << rng.randrange(8)
            data = bytes(corrupt)
        cases.append(data)
    texts = batch(["--raw"], cases)
    jsons = batch(["--raw", "--json"], cases)
    agreed = failed_both = 0
    for data, (status, text), (json_status, as_json) in zip(cases, texts, jsons):
        reference = run([PROTOC, "--decode_raw"], data)
        if reference.returncode == 0 and status == 0:
            if reference.stdout != text:
                fail("--decode_raw differs on %s:\nprotoc:\n%s\nzshm:\n%s" % (
                    data.hex(), reference.stdout.decode(errors="replace"),
                    text.decode(errors="replace")))
            agreed += 1
        elif reference.returncode != 0 and status != 0:
            if text:
                fail("printed something for bytes that do not parse: " + data.hex())
            failed_both += 1
        else:
            fail("protoc %s but zshm %s on %s" % (
                "parsed" if reference.returncode == 0 else "refused",
                "parsed" if status == 0 else "refused", data.hex()))
        # The JSON form of the same bytes is valid JSON whenever text is.
        if (json_status == 0) != (status == 0):
            fail("raw JSON and text disagree on %s" % data.hex())
        if json_status == 0:
            json.loads(as_json)
    print("# raw: %d printed as protoc does, %d refused by both" % (agreed, failed_both))
    if agreed < count // 2 or failed_both == 0:
        fail("the raw cases did not cover both outcomes")


def random_string(rng):
    return "".join(rng.choice(["a", "\u00e9", '"', "\n", "\\", "\x01", "\U0001F600", "z",
                               "\x7f", "'"]) for _ in range(rng.randint(0, 5)))


def random_bytes(rng):
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 5)))


def random_int(rng, bits, signed):
    if signed:
        return rng.choice([0, 1, -1, 2 ** (bits - 1) - 1, -2 ** (bits - 1),
                           rng.randint(-2 ** (bits - 1), 2 ** (bits - 1) - 1)])
    return rng.choice([0, 1, 2 ** bits - 1, rng.randint(0, 2 ** bits - 1)])


def random_double(rng):
    return rng.choice([0.0, -0.0, 0.1, 1e300, -1e-300, float("inf"), -float("inf"), 1.5,
                       rng.uniform(-1e6, 1e6)])


def random_float(rng):
    return rng.choice([0.0, -0.0, 0.1, 3.4e38, -1e-30, float("inf"), 1.5,
                       rng.uniform(-1e4, 1e4)])


def fill_leaf(rng, leaf):
    if rng.random() < 0.5:
        leaf.name = random_string(rng)
    for _ in range(rng.randint(0, 3)):
        leaf.values.append(random_int(rng, 64, True))
    if rng.random() < 0.5:
        leaf.blob = random_bytes(rng)
    if rng.random() < 0.5:
        leaf.color = rng.choice([0, 1, 2, -3, 7])


def fill_node(rng, node, depth):
    for name, bits, signed in [("i32", 32, 1), ("i64", 64, 1), ("u32", 32, 0), ("u64", 64, 0),
                               ("s32", 32, 1), ("s64", 64, 1), ("f32", 32, 0), ("f64", 64, 0),
                               ("sf32", 32, 1), ("sf64", 64, 1)]:
        if rng.random() < 0.5:
            setattr(node, name, random_int(rng, bits, signed))
    if rng.random() < 0.5:
        node.fl = random_float(rng)
    if rng.random() < 0.5:
        node.db = random_double(rng)
    if rng.random() < 0.5:
        node.b = rng.random() < 0.5
    if rng.random() < 0.5:
        node.str = random_string(rng)
    if rng.random() < 0.5:
        node.byt = random_bytes(rng)
    if rng.random() < 0.5:
        node.color = rng.choice([0, 1, 2, -3, 9])
    if rng.random() < 0.5:
        fill_leaf(rng, node.leaf)
    for _ in range(rng.randint(0, 2)):
        fill_leaf(rng, node.leaves.add())
    for _ in range(rng.randint(0, 3)):
        node.packed_i32.append(random_int(rng, 32, True))
    for _ in range(rng.randint(0, 3)):
        node.packed_db.append(random_double(rng))
    for _ in range(rng.randint(0, 2)):
        node.colors.append(rng.choice([0, 1, 2, -3, 5]))
    for _ in range(rng.randint(0, 2)):
        node.strs.append(random_string(rng))
    for _ in range(rng.randint(0, 3)):
        fill_leaf(rng, node.by_name[random_string(rng)])
    for _ in range(rng.randint(0, 3)):
        node.by_int[random_int(rng, 32, True)] = random_string(rng)
    for _ in range(rng.randint(0, 2)):
        node.by_bool[rng.random() < 0.5] = random_int(rng, 64, True)
    for _ in range(rng.randint(0, 3)):
        node.by_u64[random_int(rng, 64, False)] = rng.choice([0, 1, 2, -3])
    for _ in range(rng.randint(0, 3)):
        node.by_s32[random_int(rng, 32, True)] = random_double(rng)
    choice = rng.randint(0, 3)
    if choice == 1:
        node.text = random_string(rng)
    elif choice == 2:
        fill_leaf(rng, node.node)
    elif choice == 3:
        node.number = random_int(rng, 64, True)
    if rng.random() < 0.3:
        node.opt = rng.choice([0, 5])
    if depth < 3 and rng.random() < 0.4:
        fill_node(rng, node.child, depth + 1)


def fill_group(rng, message, depth):
    if rng.random() < 0.5:
        message.a = rng.choice([0, 5, -7])
    for _ in range(rng.randint(0, 2)):
        item = message.item.add()
        if rng.random() < 0.5:
            item.name = random_string(rng)
        if rng.random() < 0.5:
            item.v = random_int(rng, 64, True)
    if rng.random() < 0.5:
        message.single.x = random_int(rng, 32, False)
    message.req = random_string(rng)
    for _ in range(rng.randint(0, 3)):
        message.nums.append(random_int(rng, 32, True))
    if depth < 3 and rng.random() < 0.4:
        fill_group(rng, message.next, depth + 1)
    if rng.random() < 0.5:
        message.e = rng.choice([1, 2])


def same_json(reference, mine, path=""):
    """None if equal (floats to float precision), else where they differ."""
    if isinstance(reference, dict) and isinstance(mine, dict):
        if set(reference) != set(mine):
            return "%s: keys %s" % (path, sorted(set(reference) ^ set(mine)))
        for key in reference:
            where = same_json(reference[key], mine[key], path + "." + key)
            if where:
                return where
        return None
    if isinstance(reference, list) and isinstance(mine, list):
        if len(reference) != len(mine):
            return path + ": lengths differ"
        for index, (left, right) in enumerate(zip(reference, mine)):
            where = same_json(left, right, "%s[%d]" % (path, index))
            if where:
                return where
        return None
    if isinstance(reference, float) and isinstance(mine, (int, float)):
        if math.isclose(reference, float(mine), rel_tol=1e-6) or reference == mine:
            return None
    return None if reference == mine else "%s: %r != %r" % (path, reference, mine)


def check_typed(count):
    work = tempfile.mkdtemp(prefix="zshm-pbdecode.")
    try:
        source = os.path.join(top_srcdir, "tests")
        protos = ["test_tool_rich.proto", "test_tool_rich2.proto"]
        descriptor_set = os.path.join(work, "rich.desc")
        subprocess.run([PROTOC, "-I", source, "--descriptor_set_out=" + descriptor_set,
                        "--python_out=" + work] + protos, check=True)
        sys.path.insert(0, work)
        import test_tool_rich_pb2 as rich
        import test_tool_rich2_pb2 as rich2
        rng = random.Random(4)
        messages, cases = [], []
        for _ in range(count):
            if rng.random() < 0.7:
                message, type_name = rich.Node(), "rich.Node"
                fill_node(rng, message, 0)
            else:
                message, type_name = rich2.G(), "rich2.G"
                fill_group(rng, message, 0)
            data = message.SerializeToString()
            if rng.random() < 0.3:
                data += b"\xc0\x3e\x07"         # unknown field 1000, varint 7
            if rng.random() < 0.3:
                data += data                    # every field twice: merges
            messages.append((type_name, message))
            cases.append(data)
        results = {}
        for type_name in ("rich.Node", "rich2.G"):
            mine = [case for (name, _), case in zip(messages, cases) if name == type_name]
            plain = [m.SerializeToString() for name, m in messages if name == type_name]
            results[type_name] = (iter(batch(["--type", descriptor_set, type_name], mine)),
                                  iter(batch(["--type", descriptor_set, type_name, "--json"],
                                             plain)))
        for (type_name, message), data in zip(messages, cases):
            texts, jsons = results[type_name]
            status, text = next(texts)
            json_status, as_json = next(jsons)
            reference = run([PROTOC, "-I", source, "--decode=" + type_name] + protos, data)
            if reference.returncode != 0 or status != 0 or reference.stdout != text:
                fail("--decode=%s differs on %s:\nprotoc (%d):\n%s\nzshm (%d):\n%s" % (
                    type_name, data.hex(), reference.returncode,
                    reference.stdout.decode(errors="replace"), status,
                    text.decode(errors="replace")))
            if json_status != 0:
                fail("JSON of %s failed (%d)" % (message.SerializeToString().hex(),
                                                 json_status))
            where = same_json(json_format.MessageToDict(message,
                                                        preserving_proto_field_name=True),
                              json.loads(as_json))
            if where:
                fail("JSON of %s differs from python's at %s:\n%s" % (
                    message.SerializeToString().hex(), where,
                    as_json.decode(errors="replace")))
        print("# typed: %d messages printed as protoc and python do" % count)
    finally:
        shutil.rmtree(work)


self_test = subprocess.run([DRIVER], capture_output=True)
if self_test.returncode != 0:
    fail("self test: " + self_test.stderr.decode(errors="replace"))
check_raw(200)
check_typed(100)
print("PASS")
