#!/bin/sh
# test_proto_example - the protobuf ticker examples talk to each other:
# examples/proto_sub, started first, receives 50 Ticks that
# examples/proto_pub publishes on a fresh channel, and exits 0.  from=oldest:
# whichever of the two starts first, the subscriber reads the channel whole.

builddir=${top_builddir:-.}
channel="test_proto_example.$$"
segment="${ZSHM_DIR:-/dev/shm}/zshm.$channel"
out=$(mktemp "${TMPDIR:-/tmp}/zshm-proto-example.XXXXXX") || exit 1
trap 'rm -f "$out" "$segment"' EXIT INT TERM

"$builddir/examples/proto_sub" "shm://$channel?from=oldest" --count 50 >"$out" 2>&1 &
sub=$!
"$builddir/examples/proto_pub" "shm://$channel" --count 200 --rate 20000 >/dev/null \
    || { echo "test_proto_example: proto_pub failed"; kill "$sub" 2>/dev/null; exit 1; }

# The subscriber stops by itself after 50 ticks; give it 20 s at most.
waited=0
while kill -0 "$sub" 2>/dev/null && [ "$waited" -lt 200 ]; do
    sleep 0.1
    waited=$((waited + 1))
done
if kill -0 "$sub" 2>/dev/null; then
    kill "$sub"
    echo "test_proto_example: proto_sub did not finish"; cat "$out"; exit 1
fi
wait "$sub" || { echo "test_proto_example: proto_sub failed"; cat "$out"; exit 1; }
grep -q "received 50 ticks, 0 other messages" "$out" \
    || { echo "test_proto_example: unexpected summary"; cat "$out"; exit 1; }
lines=$(grep -c "^[A-Z].* #[0-9]" "$out")
[ "$lines" -eq 50 ] || { echo "test_proto_example: $lines tick lines, expected 50"; cat "$out"; exit 1; }
echo "test_proto_example: proto_sub received 50 ticks from proto_pub"
exit 0
