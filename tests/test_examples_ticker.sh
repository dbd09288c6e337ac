#!/bin/sh
# test_examples_ticker - the pub/sub examples run as documented:
# examples/ticker_sub (started first, idle=block, from=oldest) receives 40
# ticks from examples/ticker_pub and exits 0 having lost none, and
# examples/port_zshm (the ported zsock program) receives its 10 updates.
# port_zshm uses a fixed channel name, so it runs with ZSHM_DIR pointing at
# a private directory: parallel runs of the suite never meet.

builddir=${top_builddir:-.}
channel="test_examples_ticker.$$"
segment="${ZSHM_DIR:-/dev/shm}/zshm.$channel"
out=$(mktemp "${TMPDIR:-/tmp}/zshm-ticker.XXXXXX") || exit 1
private=$(mktemp -d "${TMPDIR:-/tmp}/zshm-port.XXXXXX") || exit 1
trap 'rm -f "$out" "$segment"; rm -rf "$private"' EXIT INT TERM

fail () {
    echo "test_examples_ticker: $1"
    cat "$out"
    exit 1
}

"$builddir/examples/ticker_sub" --endpoint "shm://$channel?from=oldest" --idle block \
    --count 40 >"$out" 2>&1 &
sub=$!
"$builddir/examples/ticker_pub" --endpoint "shm://$channel" --count 40 --rate 2000 >/dev/null \
    || { kill "$sub" 2>/dev/null; fail "ticker_pub failed"; }

# The subscriber stops by itself after 40 ticks; give it 20 s at most.
waited=0
while kill -0 "$sub" 2>/dev/null && [ "$waited" -lt 200 ]; do
    sleep 0.1
    waited=$((waited + 1))
done
if kill -0 "$sub" 2>/dev/null; then
    kill "$sub"
    fail "ticker_sub did not finish"
fi
wait "$sub" || fail "ticker_sub failed"
grep -q "received 40 ticks, lost 0" "$out" || fail "unexpected summary"
lines=$(grep -c "^ticks\.[A-Z]* .* seq " "$out")
[ "$lines" -eq 40 ] || fail "$lines tick lines, expected 40"

ZSHM_DIR="$private" "$builddir/examples/port_zshm" >"$out" 2>&1 || fail "port_zshm failed"
grep -q "received 10 of 10" "$out" || fail "port_zshm: unexpected summary"
[ -z "$(ls "$private")" ] || fail "port_zshm left a channel behind"

echo "test_examples_ticker: ticker_sub received 40 ticks, port_zshm 10 updates"
exit 0
