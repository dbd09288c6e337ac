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

# The command line: help, bad arguments (exit 1, one line), a config file
# with two routes (both start; SIGTERM stops both, exit 0).
"$BRIDGE" --help | grep -q "^usage: zshm-bridge SOURCE DEST" || fail "--help"
for args in "" "shm://a" "shm://a tcp://127.0.0.1:* --bogus 1" "shm://a shm://b" \
            "tcp://127.0.0.1:1 tcp://127.0.0.1:2" "shm://a tcp://127.0.0.1:* --sndhwm x" \
            "shm://a tcp://127.0.0.1:* --curve-server $WORK/server_secret" \
            "--config $WORK/missing.cfg"; do
    # shellcheck disable=SC2086
    "$BRIDGE" $args > "$WORK/bad.out" 2> "$WORK/bad.err"
    status=$?
    [ $status = 1 ] || fail "zshm-bridge $args: exit $status, want 1"
    [ "$(wc -l < "$WORK/bad.err")" = 1 ] && grep -q "^zshm-bridge: " "$WORK/bad.err" \
        || fail "zshm-bridge $args: want one line on stderr, got: $(cat "$WORK/bad.err")"
done
cat > "$WORK/routes.cfg" <<CFG
#   Two channels served by one process
bridge
    verbose = 1
route
    source = "shm://$X"
    dest = "tcp://127.0.0.1:*"
    link = "tcp://127.0.0.1:*"
    sndhwm = 5000
route
    source = "shm://$Z"
    dest = "tcp://127.0.0.1:*"
    link = none
CFG
spawn CF cfg.log "$BRIDGE" --config "$WORK/routes.cfg"
wait_for "$WORK/cfg.log" "serving shm://" 2 10
grep -q "serving shm://$Z on .* (bridges: none)" "$WORK/cfg.log" || fail "config: link = none"
stop_bridge "$CF" cfg.log
[ "$(grep -c "zshm-bridge: exit " "$WORK/cfg.log")" = 2 ] || fail "config: want two exit lines"
printf 'route\n    source = "shm://a"\n    colour = blue\n' > "$WORK/bad.cfg"
"$BRIDGE" --config "$WORK/bad.cfg" 2> "$WORK/bad.err" && fail "a bad config was accepted"
grep -q "unknown key route/colour" "$WORK/bad.err" || fail "bad config: $(cat "$WORK/bad.err")"
echo "ok: command line and config file"
echo "test_bridge.sh: passed"
exit 0
