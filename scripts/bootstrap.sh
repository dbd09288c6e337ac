#!/bin/sh
# Install what zshm needs to build, test and run its demo on Debian/Ubuntu.
# Idempotent: does nothing when every package is already there, so it also
# runs for a non-root user on a prepared machine.
set -e
PACKAGES="build-essential autoconf automake libtool pkg-config
          libczmq-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
          protobuf-compiler python3 python3-zmq python3-protobuf iproute2
          clang libclang-rt-14-dev spin"
missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
