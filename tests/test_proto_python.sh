#!/bin/sh
# test_proto_python - Google's Python protobuf runtime and zshm's C side
# read each other's bytes.
#
#   1. protoc --python_out generates market_pb2, telemetry_pb2 and
#      zshm_meta_pb2 from proto/ into a temporary directory;
#   2. proto_interop (C) publishes every sample with zshm_pub_send_proto and
#      saves the payloads a subscriber received; proto_interop.py decodes
#      them with python3-protobuf and compares them with its own samples;
#   3. proto_interop.py packs the same samples; proto_interop publishes
#      those bytes through zshm and unpacks them with zshm_sub_recv_proto.
#
# Skips (77) when protoc (Debian: protobuf-compiler) or the Python module
# (python3-protobuf) is missing.

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-.}
python=${PYTHON3:-/usr/bin/python3}

if ! command -v protoc >/dev/null 2>&1; then
    echo "test_proto_python: skipped: protoc not found (apt-get install protobuf-compiler)"
    exit 77
fi
if ! "$python" -c 'import google.protobuf' >/dev/null 2>&1; then
    echo "test_proto_python: skipped: $python has no google.protobuf (apt-get install python3-protobuf)"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/zshm-proto-python.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM

protoc -I"$srcdir/proto" --python_out="$work" \
    "$srcdir/proto/market.proto" "$srcdir/proto/telemetry.proto" \
    "$srcdir/proto/zshm_meta.proto" || { echo "test_proto_python: protoc failed"; exit 1; }

interop="$builddir/tests/proto_interop"
"$interop" write "$work" || { echo "test_proto_python: C failed to write its samples"; exit 1; }
PYTHONPATH="$work" PYTHONDONTWRITEBYTECODE=1 "$python" "$srcdir/tests/proto_interop.py" check "$work" \
    || { echo "test_proto_python: Python could not decode what C packed"; exit 1; }
PYTHONPATH="$work" PYTHONDONTWRITEBYTECODE=1 "$python" "$srcdir/tests/proto_interop.py" write "$work" \
    || { echo "test_proto_python: Python failed to write its samples"; exit 1; }
"$interop" read "$work" || { echo "test_proto_python: C could not decode what Python packed"; exit 1; }
echo "test_proto_python: C and Python agree on every sample, both ways"
exit 0
