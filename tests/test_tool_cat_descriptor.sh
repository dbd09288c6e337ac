#!/bin/bash
# zshm cat --descriptor-set: a user's own type, from a FileDescriptorSet
# that protoc (or protoc-c) writes, decoded by its recorded name and by
# --type, compared with the expected text and with protoc --decode.
. "${top_srcdir:-.}/tests/test_tool_lib.sh"

PROTOC=$(command -v protoc || command -v protoc-c) \
    || { echo "SKIP: neither protoc nor protoc-c is installed (apt-get install protobuf-compiler)"; exit 77; }
[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON is missing (needed to check the JSON)"; exit 77; }

mkdir -p "$WORK/proto"
cat >"$WORK/proto/reading.proto" <<'EOF'
syntax = "proto3";
package demo;
message Reading {
  string sensor = 1;
  double value = 2;
  repeated sint32 samples = 3;
  enum Unit { UNIT_NONE = 0; CELSIUS = 1; }
  Unit unit = 4;
  message Where { string room = 1; }
  Where where = 5;
  map<string, int32> tags = 6;
}
EOF
"$PROTOC" -I "$WORK/proto" --descriptor_set_out="$WORK/reading.desc" "$WORK/proto/reading.proto" \
    || fail "$PROTOC could not write a descriptor set"

# Reading { sensor: "t1" value: 21.5 samples: [-1, 2] unit: CELSIUS
#           where { room: "lab" } tags { "b": 2 } tags { "a": 1 } }
payload=0a0274311100000000008035401a02010420012a050a036c6162
payload=${payload}32050a0162100232050a01611001
bytes=$(( ${#payload} / 2 ))
channel=readings$$
expect_ok send "$TESTPUB" send "shm://$channel" \
    "room.lab|demo.Reading|$payload" \
    "untyped||$payload" \
    "broken|demo.Reading|0a05"

cat >"$WORK/body.expected" <<'EOF'
sensor: "t1"
value: 21.5
samples: -1
samples: 2
unit: CELSIUS
where {
  room: "lab"
}
tags {
  key: "a"
  value: 1
}
tags {
  key: "b"
  value: 2
}
EOF

run typed "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/reading.desc"
[ $RC -eq 0 ] || fail "cat --descriptor-set exited $RC: $(cat "$WORK/typed.err")"
awk '/^--- 2 /{exit} {print}' "$WORK/typed.out" >"$WORK/typed.first"
{ echo "--- 1 \"room.lab\" demo.Reading ($bytes bytes)"; cat "$WORK/body.expected"; } \
    | diff -u - "$WORK/typed.first" \
    || fail "the recorded type did not decode as expected: $(cat "$WORK/typed.out")"
contains typed "--- 2 \"untyped\" ($bytes bytes)"
contains typed '--- 3 "broken" demo.Reading (2 bytes)'
contains typed "(does not parse as demo.Reading)"

# Without the descriptor set the same message is only bytes.
run bare "$ZSHM" cat "shm://$channel" --count 1
lacks bare 'sensor: "t1"'
contains bare "--- 1 \"room.lab\" demo.Reading ($bytes bytes)"

# --type decodes the untyped copy the same way.
run forced "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/reading.desc" \
    --type demo.Reading --topic untyped
tail -n +2 "$WORK/forced.out" | diff -u "$WORK/body.expected" - \
    || fail "--type demo.Reading decoded otherwise"

# protoc itself agrees, when it is the full protoc.
if command -v protoc >/dev/null; then
    unhex "$payload" \
        | protoc -I "$WORK/proto" --decode=demo.Reading "$WORK/proto/reading.proto" \
        | diff -u - "$WORK/body.expected" || fail "protoc --decode disagrees with the expected text"
else
    note "protoc missing: compared with the expected text only"
fi

# JSON: proto3's mapping with the .proto field names.
run json "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/reading.desc" --format json \
    --count 1
"$PYTHON" -c '
import json, sys
line = json.loads(open(sys.argv[1]).read())
assert line["type"] == "demo.Reading", line
assert line["frames"][0]["message"] == {
    "sensor": "t1", "value": 21.5, "samples": [-1, 2], "unit": "CELSIUS",
    "where": {"room": "lab"}, "tags": {"b": 2, "a": 1}}, line' "$WORK/json.out" \
    || fail "JSON of demo.Reading is wrong: $(cat "$WORK/json.out")"

# Bad descriptor sets: a reason, exit 1, never a crash.
head -c 3000 /dev/urandom >"$WORK/garbage.desc"
expect_reason garbage "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/garbage.desc"
: >"$WORK/empty.desc"
expect_reason empty_desc "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/empty.desc"
expect_reason missing_desc "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/none.desc"
expect_reason dir_desc "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK"
expect_reason unknown_type "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/reading.desc" \
    --type demo.Nope
# Every truncation of the real set either loads or is refused cleanly.
size=$(stat -c %s "$WORK/reading.desc")
for cut in $(seq 1 7 "$size"); do
    head -c "$cut" "$WORK/reading.desc" >"$WORK/cut.desc"
    run cut "$ZSHM" cat "shm://$channel" --descriptor-set "$WORK/cut.desc" --count 1
done
echo "PASS"
exit 0
