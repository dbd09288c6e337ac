#!/bin/bash
# zshm cat: a bundled type and raw protobuf decoded (compared with expected
# text), text/hex/json formats, topics and counts, live, dead, empty and
# hostile channels, --follow with a signal.  Descriptor sets are in
# tests/test_tool_cat_descriptor.sh.
. "${top_srcdir:-.}/tests/test_tool_lib.sh"

[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON is missing (needed to check the JSON)"; exit 77; }

# expect_text NAME: the output of NAME must equal $WORK/NAME.expected.
expect_text () {
    diff -u "$WORK/$1.expected" "$WORK/$1.out" >"$WORK/$1.diff" \
        || fail "output of $1 differs from what was expected:
$(cat "$WORK/$1.diff")"
}

# guard: a run that does not end within 20 s is a failure, not a hang.
guard () {
    timeout -s KILL 20 "$@"
}

# --- a dead channel holding one of everything ------------------------------
dead=mixed$$
# 08 96 01 12 03 "xyz": field 1 = 150, field 2 = "xyz";
# 0a 05 08 01 12 01 "A": field 1 = { 1: 1, 2: "A" }.
expect_ok send "$TESTPUB" send "shm://$dead" \
    'ticks.AAPL|@tick' \
    'greet||68656c6c6f' \
    'raw||089601120378797a' \
    'nested||0a050801120141' \
    'multi||6869||00ff' \
    'hex:00ff41||' \
    'bad|zshm.market.Tick|ffffff' \
    'mine|my.Type|0801'
# The publisher has exited: its channel's writer is dead.

run text guard "$ZSHM" cat "shm://$dead"
[ $RC -eq 0 ] || fail "cat exited $RC: $(cat "$WORK/text.err")"
cat >"$WORK/text.expected" <<'EOF'
--- 1 "ticks.AAPL" zshm.market.Tick (55 bytes)
symbol: "AAPL"
venue: VENUE_XNAS
exchange_time_ns: 1700000000123456789
sequence: 42
bid: 189.25
ask: 189.5
last: 189.3
bid_size: 100
ask_size: 200
volume: 123456
--- 2 "greet" (5 bytes)
"hello"
--- 3 "raw" (8 bytes)
00000000  08 96 01 12 03 78 79 7a                           |.....xyz|
--- 4 "nested" (7 bytes)
00000000  0a 05 08 01 12 01 41                              |......A|
--- 5 "multi" (4 bytes, 3 data frames)
frame 1 (2 bytes):
  "hi"
frame 2 (0 bytes):
  ""
frame 3 (2 bytes):
  00000000  00 ff                                             |..|
--- 6 "\000\377A" (0 bytes)
""
--- 7 "bad" zshm.market.Tick (3 bytes)
(does not parse as zshm.market.Tick)
00000000  ff ff ff                                          |...|
--- 8 "mine" my.Type (2 bytes)
00000000  08 01                                             |..|
EOF
expect_text text

# --decode-raw, like protoc --decode_raw, on the untyped protobuf ones.
run raw guard "$ZSHM" cat "$dead" --decode-raw --topic raw --topic nested
[ $RC -eq 0 ] || fail "cat --decode-raw exited $RC"
cat >"$WORK/raw.expected" <<'EOF'
--- 3 "raw" (8 bytes)
1: 150
2: "xyz"
--- 4 "nested" (7 bytes)
1 {
  1: 1
  2: "A"
}
EOF
expect_text raw
if command -v protoc >/dev/null; then
    for pair in 3:089601120378797a 4:0a050801120141; do
        seq=${pair%%:*}
        hex=${pair#*:}
        unhex "$hex" | protoc --decode_raw >"$WORK/protoc.out" \
            || fail "protoc --decode_raw failed on $hex"
        # The body of message $seq: from its header to the next one.
        awk -v seq="$seq" '/^--- /{body = ($2 == seq); next} body' "$WORK/raw.out" \
            | diff -u "$WORK/protoc.out" - \
            || fail "protoc --decode_raw prints $hex otherwise"
    done
else
    note "protoc missing: raw output checked against the expected text only"
fi

# --type decodes untyped payloads as a bundled type; a wrong one falls back.
run forced guard "$ZSHM" cat "$dead" --topic greet --type zshm.market.Tick
contains forced "(does not parse as zshm.market.Tick)"
contains forced '"hello"'

# --format hex: dumps, no decoding.
run hex guard "$ZSHM" cat "$dead" --format hex --count 2
[ $RC -eq 0 ] || fail "cat --format hex exited $RC"
contains hex '00000000  0a 04 41 41 50 4c 10 01  19 15 cd 85 3d fe 9c 97  |..AAPL......=...|'
contains hex '00000000  68 65 6c 6c 6f                                    |hello|'
[ "$(grep -c '^---' "$WORK/hex.out")" -eq 2 ] || fail "--count 2 printed otherwise"

# --format json: a valid JSON object per line, decoded where possible.
run json guard "$ZSHM" cat "$dead" --format json
[ $RC -eq 0 ] || fail "cat --format json exited $RC"
"$PYTHON" - "$WORK/json.out" <<'EOF' || fail "cat --format json is wrong: $(cat "$WORK/json.out")"
import base64, json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert len(lines) == 8, len(lines)
tick = lines[0]
assert tick["seq"] == 1 and tick["topic"] == "ticks.AAPL" and tick["type"] == "zshm.market.Tick"
message = tick["frames"][0]["message"]
assert message == {"symbol": "AAPL", "venue": "VENUE_XNAS",
                   "exchange_time_ns": "1700000000123456789", "sequence": "42", "bid": 189.25,
                   "ask": 189.5, "last": 189.3, "bid_size": "100", "ask_size": "200",
                   "volume": "123456"}, message
assert lines[1]["frames"] == [{"size": 5, "text": "hello"}], lines[1]
assert base64.b64decode(lines[2]["frames"][0]["base64"]) == bytes.fromhex("089601120378797a")
assert [f["size"] for f in lines[4]["frames"]] == [2, 0, 2], lines[4]
assert base64.b64decode(lines[5]["topic_base64"]) == b"\x00\xffA", lines[5]
assert lines[6]["frames"][0]["decode_error"] is True, lines[6]
assert lines[7]["type"] == "my.Type", lines[7]
EOF
run json_raw guard "$ZSHM" cat "$dead" --format json --decode-raw --topic nested
"$PYTHON" -c '
import json, sys
line = json.loads(open(sys.argv[1]).read())
assert line["frames"][0]["message"] == {"1": [{"1": [1], "2": ["A"]}]}, line' \
    "$WORK/json_raw.out" || fail "cat --format json --decode-raw is wrong: $(cat "$WORK/json_raw.out")"

# Topic prefixes and counts.
run topics guard "$ZSHM" cat "$dead" --topic gr --topic mu
[ "$(grep -c '^---' "$WORK/topics.out")" -eq 2 ] || fail "--topic gr --topic mu: $(cat "$WORK/topics.out")"
contains topics '--- 2 "greet"'
contains topics '--- 5 "multi"'
run one guard "$ZSHM" cat "$dead" --count 1 --from oldest
[ "$(grep -c '^---' "$WORK/one.out")" -eq 1 ] || fail "--count 1 printed otherwise"
# --from latest on a dead channel: nothing new comes.
run latest guard "$ZSHM" cat "$dead" --from latest --timeout 100
[ $RC -eq 0 ] && [ ! -s "$WORK/latest.out" ] || fail "--from latest printed old messages"

# --- a live channel: cat prints what it holds, and stops -------------------
live=live$$
spawn live_pub "$TESTPUB" send "shm://$live" --hold 60 'a.1||6161' 'b.1||6262' 'a.2||6363'
live_pid=$SPAWN_PID
wait_ready live_pub
run live guard "$ZSHM" cat "shm://$live"
[ $RC -eq 0 ] || fail "cat on a live channel exited $RC (137: it did not stop)"
[ "$(grep -c '^---' "$WORK/live.out")" -eq 3 ] || fail "live channel: $(cat "$WORK/live.out")"

# --follow: messages published after cat started, then SIGINT ends it.
spawn follower "$ZSHM" cat "shm://$live" --follow --from oldest
follower=$SPAWN_PID
tries=0
until [ "$(grep -c '^---' "$WORK/follower.out" 2>/dev/null)" -ge 3 ]; do
    tries=$((tries + 1)); [ $tries -lt 400 ] || fail "cat --follow printed nothing"; sleep 0.05
done
# While it follows, stat lists it as a reader of the channel.
expect_ok stat_json "$ZSHM" stat --json "$live"
"$PYTHON" -c '
import json, sys
doc = json.load(open(sys.argv[1]))
readers = doc["channels"][0]["readers"]
assert any(r["pid"] == int(sys.argv[2]) and r["alive"] and r["delivered"] == 3 for r in readers), readers' \
    "$WORK/stat_json.out" "$follower" || fail "stat does not show cat --follow as a reader"
kill -INT "$follower"
wait "$follower"
rc=$?
[ $rc -eq 0 ] || fail "cat --follow exited $rc on SIGINT"

# --follow --count with a publisher that starts afterwards, slowly.
late=late$$
spawn late_cat "$ZSHM" cat "shm://$late" --follow --from oldest --count 3
late_cat=$SPAWN_PID
sleep 0.2
spawn late_pub "$TESTPUB" send "shm://$late" --interval 150 --hold 30 'x||31' 'y||32' 'z||33' 'w||34'
wait "$late_cat"
rc=$?
[ $rc -eq 0 ] || fail "cat --follow --count 3 exited $rc"
grep '^---' "$WORK/late_cat.out" | cut -d' ' -f3 >"$WORK/late_topics"
[ "$(tr '\n' ' ' <"$WORK/late_topics")" = '"x" "y" "z" ' ] \
    || fail "cat --follow --count 3 printed: $(cat "$WORK/late_cat.out")"

# --- an empty live channel: nothing to print, exit 0 ------------------------
empty=empty$$
spawn empty_pub "$TESTPUB" write "$empty" --count 0 --hold 60
wait_ready empty_pub
run empty guard "$ZSHM" cat "$empty" --timeout 200
[ $RC -eq 0 ] && [ ! -s "$WORK/empty.out" ] || fail "cat on an empty channel: $RC $(cat "$WORK/empty.out")"

# --- a channel of bare ring messages, not zshm records: dropped, counted ---
bare=bare$$
expect_ok bare_writer "$TESTPUB" write "$bare" --count 5
run bare guard "$ZSHM" cat "$bare"
[ $RC -eq 0 ] && [ ! -s "$WORK/bare.out" ] || fail "cat on bare ring messages: $RC $(cat "$WORK/bare.out")"
grep -q "5 messages lost (5 malformed, incomplete or too large)" "$WORK/bare.err" \
    || fail "bare ring messages were not counted: $(cat "$WORK/bare.err")"

# --- a busy channel without --follow: cat still ends ------------------------
busy=busy$$
spawn busy_pub "$TESTPUB" send "shm://$busy" --interval 5 $(seq -f 'b%g||6869' 1 2000)
busy_pid=$SPAWN_PID
tries=0
until [ -e "$ZSHM_DIR/zshm.$busy" ]; do
    tries=$((tries + 1)); [ $tries -lt 400 ] || fail "the busy publisher never started"; sleep 0.05
done
run busy_latest guard "$ZSHM" cat "$busy" --from latest --timeout 300
[ $RC -eq 0 ] || fail "cat --from latest on a busy channel did not end by itself ($RC)"
run busy_oldest guard "$ZSHM" cat "$busy"
[ $RC -eq 0 ] || fail "cat on a busy channel did not end by itself ($RC)"
kill_dead "$busy_pid"

# --- hostile and missing channels: a reason, exit 1 -------------------------
head -c 20000 /dev/urandom >"$ZSHM_DIR/zshm.junk"
expect_reason junk "$ZSHM" cat shm://junk
grep -q "not a valid zshm segment" "$WORK/junk.err" || fail "junk: $(cat "$WORK/junk.err")"
ln -s /etc/passwd "$ZSHM_DIR/zshm.link"
expect_reason link "$ZSHM" cat shm://link
expect_reason missing "$ZSHM" cat "shm://missing$$"
grep -q "no channel 'missing$$'" "$WORK/missing.err" || fail "missing: $(cat "$WORK/missing.err")"

kill -0 "$live_pid" || fail "the live publisher died"
echo "PASS"
exit 0
