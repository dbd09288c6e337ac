#!/bin/bash
# test_bridge.sh - the bridge on loopback: zshm-bridge processes on
# 127.0.0.1 with ephemeral ports, running the scenario of
# test_bridge_scenario.sh (basics, restarts of each side, drops under a
# stalled peer, hostile peers, CURVE).  Runs anywhere; test_bridge_netns.sh
# runs the same between two network namespaces.
# Exit 0 pass, 1 fail, 77 skip.
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
if ! /usr/bin/python3 -c "import zmq" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 has no zmq module (apt-get install python3-zmq)"
    exit 77
fi
WORK=$(mktemp -d /tmp/zshm-bridge-test.XXXXXX) || exit 1
. "$top_srcdir/tests/test_bridge_scenario.sh"
trap 'cleanup_scenario; rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM
RUN_A=
RUN_B=
ADDR_A=127.0.0.1
PORT_A="*"
run_scenario
echo "test_bridge.sh: passed"
exit 0
