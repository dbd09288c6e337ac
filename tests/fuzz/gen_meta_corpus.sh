#!/bin/sh
#  gen_meta_corpus.sh - seeds for fuzz_meta (the bridge's Meta/Heartbeat
#  frames), encoded from text with protoc:
#
#      tests/fuzz/gen_meta_corpus.sh [DIR]     (default: the corpus dir)
#
#  Valid frames of both kinds (minimal, full, strings at their limits, a
#  batch's Meta, a batch frame) and a few the bridge must refuse (wrong
#  version, no frames, a batch of one, a string past its limit).  Needs
#  protoc (protobuf-compiler).
set -e
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-$srcdir/tests/fuzz/corpus/fuzz_meta}
mkdir -p "$dir"
long() { printf "%$1s" "" | tr ' ' "$2"; }

encode () {
    printf '%s\n' "$3" | protoc --encode="zshm.$2" -I "$srcdir/proto" \
        "$srcdir/proto/zshm_meta.proto" > "$dir/$1"
}

encode meta-minimal Meta 'version: 1 link_sequence: 1 link_incarnation: 1 frames: 1'
encode meta-full Meta "version: 1 source_sequence: 123456 publish_time_ns: 1700000000000000000
    source_incarnation: 1234605616436508552 type_name: \"zshm.market.Tick\" channel: \"ticks\"
    source_lost: 7 source_restarts: 2 link_sequence: 99 link_incarnation: 81985529216486895
    hops: 3 origin_host: \"host-a.example\" frames: 4"
encode meta-limits Meta "version: 1 link_sequence: 18446744073709551615
    link_incarnation: 18446744073709551615 frames: 4294967295 hops: 4294967295
    type_name: \"$(long 127 t)\" channel: \"$(long 128 c)\" origin_host: \"$(long 255 h)\""
encode meta-type-too-long Meta "version: 1 link_sequence: 1 link_incarnation: 1 frames: 1
    type_name: \"$(long 128 t)\""
encode meta-version-2 Meta 'version: 2 link_sequence: 1 link_incarnation: 1 frames: 1'
encode meta-no-frames Meta 'version: 1 link_sequence: 1 link_incarnation: 1'
encode meta-batch Meta 'version: 1 link_sequence: 5 link_incarnation: 1 batch: 3'
encode meta-batch-of-one Meta 'version: 1 link_sequence: 5 link_incarnation: 1 batch: 1'
encode meta-batch-frames Meta 'version: 1 link_sequence: 5 link_incarnation: 1 batch: 2 frames: 2'
#  A count byte (3 messages, as fuzz_meta reads it) then a batch frame
printf '\002\000\002\002t.\003abc\001\001\001x\005\001\000' > "$dir/batch-three"
encode heartbeat-minimal Heartbeat 'version: 1 link_incarnation: 1'
encode heartbeat-full Heartbeat "version: 1 link_sequence: 99 link_incarnation: 81985529216486895
    time_ns: 1700000000000000000 source_incarnation: 1234605616436508552 source_lost: 7
    source_restarts: 2 channel: \"ticks\" origin_host: \"host-a.example\" interval_ms: 1000"
encode heartbeat-limits Heartbeat "version: 1 link_incarnation: 1 channel: \"$(long 128 c)\"
    origin_host: \"$(long 255 h)\" interval_ms: 4294967295"
: > "$dir/empty"
