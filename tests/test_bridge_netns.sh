#!/bin/bash
# test_bridge_netns.sh - the bridge between two hosts: network namespaces
# A (198.18.0.1/24) and B (198.18.0.2/24) joined by a veth pair, addresses
# from the benchmarking range 198.18.0.0/15, lo up in both.  Runs the
# scenario of test_bridge_scenario.sh with host A's programs in A and host
# B's (bridge, subscribers, pyzmq SUB, hostile peers) in B.
# Needs root and ip(8); otherwise exits 77 saying why.
# Exit 0 pass, 1 fail, 77 skip.
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(dirname "$0")/..}
skip () {
    echo "SKIP: $*"
    exit 77
}
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip > /dev/null || skip "no ip command (apt-get install iproute2)"
/usr/bin/python3 -c "import zmq" 2>/dev/null || skip "/usr/bin/python3 has no zmq module"

NS_A=zshm-a-$$
NS_B=zshm-b-$$
VETH_A=zva$$
VETH_B=zvb$$
WORK=$(mktemp -d /tmp/zshm-bridge-netns.XXXXXX) || exit 1
. "$top_srcdir/tests/test_bridge_scenario.sh"
cleanup () {
    cleanup_scenario
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

error=$(ip netns add "$NS_A" 2>&1) || skip "cannot create a network namespace: $error"
error=$(ip netns add "$NS_B" 2>&1) || skip "cannot create a network namespace: $error"
error=$( { ip link add "$VETH_A" type veth peer name "$VETH_B" \
        && ip link set "$VETH_A" netns "$NS_A" \
        && ip link set "$VETH_B" netns "$NS_B" \
        && ip -n "$NS_A" addr add 198.18.0.1/24 dev "$VETH_A" \
        && ip -n "$NS_B" addr add 198.18.0.2/24 dev "$VETH_B" \
        && ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up \
        && ip -n "$NS_A" link set "$VETH_A" up \
        && ip -n "$NS_B" link set "$VETH_B" up; } 2>&1) \
    || skip "cannot join the namespaces with a veth pair: $error"
# The link must carry TCP before the scenario starts (bounded wait).
ready=0
for attempt in $(seq 1 50); do
    if ip netns exec "$NS_B" /usr/bin/python3 -c "
import socket, sys
server = None
try:
    socket.create_connection(('198.18.0.1', 9), timeout=0.2)
except ConnectionRefusedError:
    sys.exit(0)
except OSError:
    sys.exit(1)
" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.1
done
[ $ready = 1 ] || skip "the veth link between the namespaces does not come up"
# Host A is not reachable from the root namespace, nor anything else: the
# test's traffic stays on the veth pair and the namespaces' loopbacks.
RUN_A="ip netns exec $NS_A"
RUN_B="ip netns exec $NS_B"
ADDR_A=198.18.0.1
PORT_A=5556
run_scenario
echo "test_bridge_netns.sh: passed"
exit 0
