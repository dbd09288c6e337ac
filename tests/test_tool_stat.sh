#!/bin/bash
# zshm stat on empty, live, dead and hostile channels, as text and JSON.
. "${top_srcdir:-.}/tests/test_tool_lib.sh"

[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON is missing (needed to check the JSON)"; exit 77; }

# --- empty: no channels at all ----------------------------------------------
expect_ok empty "$ZSHM" stat
contains empty "no zshm channels in $ZSHM_DIR"
expect_ok empty_json "$ZSHM" stat --json
"$PYTHON" - "$WORK/empty_json.out" "$ZSHM_DIR" <<'EOF' || fail "empty --json is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["dir"] == sys.argv[2], doc
assert doc["channels"] == [] and doc["temporaries"] == [], doc
EOF

# --- live and dead channels -------------------------------------------------
live=live$$
dead=dead$$
spawn live_writer "$TESTPUB" write "$live" --count 10 --capacity 16 --slot 100 \
    --type zshm.test.Thing --rate 500 --hold 60
live_pid=$SPAWN_PID
spawn dead_writer "$TESTPUB" write "$dead" --count 7 --capacity 8 --slot 40 --hold -1
dead_pid=$SPAWN_PID
wait_ready live_writer
wait_ready dead_writer
# A live reader that read 3 from the oldest, a reader killed after 2.
spawn live_reader "$TESTPUB" read "$live" --count 3 --hold 60
live_reader=$SPAWN_PID
spawn dead_reader "$TESTPUB" read "$dead" --count 2 --hold -1
dead_reader=$SPAWN_PID
wait_ready live_reader
wait_ready dead_reader
kill_dead "$dead_reader"
kill_dead "$dead_pid"
note "live writer $live_pid, killed writer $dead_pid, killed reader $dead_reader"

expect_ok text "$ZSHM" stat
contains text "$live"
contains text "$dead"
contains text "writer    pid $live_pid, alive"
contains text "writer    pid $dead_pid, dead"
contains text "type      zshm.test.Thing"
contains text "16 slots of 100 B"
# The dead channel's head is exact: 7 published, next is 8.
contains text "head      8 (7 published), 0.0 msg/s"
grep -Eq "^    $live_reader +alive " "$WORK/text.out" || fail "live reader not listed alive"
grep -Eq "^    $dead_reader +dead +[0-9]+ +[0-9]+ +2 +0$" "$WORK/text.out" \
    || fail "dead reader not listed dead with 2 delivered: $(cat "$WORK/text.out")"

expect_ok json "$ZSHM" stat --json
"$PYTHON" - "$WORK/json.out" "$live" "$live_pid" "$dead" "$dead_pid" "$live_reader" \
    "$dead_reader" <<'EOF' || fail "stat --json is wrong: $(cat "$WORK/json.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
live, live_pid, dead, dead_pid = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
live_reader, dead_reader = int(sys.argv[6]), int(sys.argv[7])
channels = {c["name"]: c for c in doc["channels"]}
assert set(channels) == {live, dead}, channels
l, d = channels[live], channels[dead]
assert l["valid"] and d["valid"]
assert l["writer"]["pid"] == live_pid and l["writer"]["alive"] is True, l
assert d["writer"]["pid"] == dead_pid and d["writer"]["alive"] is False, d
assert l["capacity"] == 16 and l["slot_size"] == 100 and l["bytes"] >= 16 * 100, l
assert d["capacity"] == 8 and d["slot_size"] == 40, d
assert l["type"] == "zshm.test.Thing" and d["type"] == "", (l["type"], d["type"])
assert d["head"] == 8 and d["rate"] == 0, d
assert l["head"] >= 11, l
(lr,) = l["readers"]
assert lr["pid"] == live_reader and lr["alive"] is True, lr
assert lr["delivered"] == 3 and lr["lag"] == l["head"] - lr["position"], (lr, l["head"])
(dr,) = d["readers"]
assert dr["pid"] == dead_reader and dr["alive"] is False, dr
# An 8-slot ring holds its last 6 of 7 messages: the reader started at 2.
assert dr["delivered"] == 2 and dr["position"] == 4 and dr["lag"] == 4 and dr["lost"] == 0, dr
EOF

# One channel by name, bare or as shm://.
expect_ok one "$ZSHM" stat "$dead"
contains one "$dead"
lacks one "$live"
expect_ok one_url "$ZSHM" stat --json "shm://$live"
"$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); assert [c["name"] for c in d["channels"]] == [sys.argv[1]]' \
    "$live" <"$WORK/one_url.out" || fail "stat shm://$live shows other channels"

# --watch: one JSON document a refresh; the live writer's rate shows up
# between refreshes, the dead one's stays 0.
run watch timeout --preserve-status -s INT 3 "$ZSHM" stat --json --watch 0.4 "$live"
[ $RC -eq 0 ] || fail "stat --watch did not exit 0 on SIGINT (status $RC)"
"$PYTHON" - "$WORK/watch.out" "$live" <<'EOF' || fail "stat --watch output is wrong: $(cat "$WORK/watch.out")"
import json, sys
docs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert len(docs) >= 2, len(docs)
rates = [d["channels"][0]["rate"] for d in docs]
assert all(r is not None and r >= 0 for r in rates), rates
assert any(r > 0 for r in rates), rates
heads = [d["channels"][0]["head"] for d in docs]
assert heads == sorted(heads) and heads[-1] > heads[0], heads
EOF
run watch_text timeout --preserve-status -s INT 1 "$ZSHM" stat --watch 0.3 "$dead"
[ $RC -eq 0 ] || fail "stat --watch (text) did not exit 0 on SIGINT (status $RC)"
[ "$(grep -c "^$dead\$" "$WORK/watch_text.out")" -ge 2 ] || fail "stat --watch refreshed less than twice"

# --- hostile files next to them ----------------------------------------------
head -c 70000 /dev/urandom >"$ZSHM_DIR/zshm.garbage"
: >"$ZSHM_DIR/zshm.empty"
ln -s /etc/passwd "$ZSHM_DIR/zshm.link"
mkdir "$ZSHM_DIR/zshm.dir"
mkfifo "$ZSHM_DIR/zshm.fifo"
: >"$ZSHM_DIR/zshm.bad name"
: >"$ZSHM_DIR/$(printf 'zshm.\033[2Jx')"
# A real segment cut short, and one whose header claims a huge ring.
head -c 12288 "$ZSHM_DIR/zshm.$dead" >"$ZSHM_DIR/zshm.truncated"
cp "$ZSHM_DIR/zshm.$dead" "$ZSHM_DIR/zshm.huge"
"$PYTHON" - "$ZSHM_DIR/zshm.huge" <<'EOF' || fail "cannot forge a header"
import struct, sys
with open(sys.argv[1], "r+b") as f:
    f.seek(16)
    f.write(struct.pack("<Q", 1 << 30))     # capacity
EOF
dead_temp=zshm-new.$(dead_pid).0123456789abcdef
: >"$ZSHM_DIR/$dead_temp"

expect_ok hostile "$ZSHM" stat
for name in garbage empty truncated huge; do
    grep -A1 -x "$name" "$WORK/hostile.out" | grep -q "invalid: Protocol error" \
        || fail "$name not reported as an invalid segment: $(cat "$WORK/hostile.out")"
done
grep -A1 -x link "$WORK/hostile.out" | grep -q "invalid: symbolic link" || fail "link"
grep -A1 -x dir "$WORK/hostile.out" | grep -q "invalid: directory" || fail "dir"
grep -A1 -x fifo "$WORK/hostile.out" | grep -q "invalid: not a regular file" || fail "fifo"
grep -A1 -x "bad name" "$WORK/hostile.out" | grep -q "invalid: not a valid channel name" \
    || fail "bad name"
# Control characters in names are escaped, never sent to the terminal.
contains hostile '\033[2Jx'
! grep -q "$(printf '\033')" "$WORK/hostile.out" || fail "an escape byte reached the output"
contains hostile "temporary $dead_temp: being created by pid $(dead_pid) (dead, leftover)"
# The good channels are still reported in full.
contains hostile "writer    pid $live_pid, alive"
contains hostile "writer    pid $dead_pid, dead"

expect_ok hostile_json "$ZSHM" stat --json
"$PYTHON" - "$WORK/hostile_json.out" "$live" "$dead" "$dead_temp" <<'EOF' || fail "hostile --json is wrong: $(cat "$WORK/hostile_json.out")"
import json, sys
doc = json.load(open(sys.argv[1]))
live, dead, temp = sys.argv[2:5]
channels = {c["name"]: c for c in doc["channels"]}
expected = {
    "garbage": "Protocol error", "empty": "Protocol error", "truncated": "Protocol error",
    "huge": "Protocol error", "link": "symbolic link (refused)", "dir": "directory",
    "fifo": "not a regular file", "bad name": "not a valid channel name",
    "\x1b[2Jx": "not a valid channel name",
}
for name, error in expected.items():
    c = channels[name]
    assert c["valid"] is False and c["error"] == error, (name, c)
# Nobody holds the lock of these files.
for name in ("garbage", "empty", "truncated", "huge"):
    assert channels[name]["writer_alive"] is False, channels[name]
assert channels[live]["valid"] and channels[live]["writer"]["alive"]
assert channels[dead]["valid"] and not channels[dead]["writer"]["alive"]
assert doc["temporaries"] == [{"file": temp, "pid": int(temp.split(".")[1]), "alive": False}], \
    doc["temporaries"]
EOF

# A hostile file asked for by name is shown, not fatal.
expect_ok hostile_one "$ZSHM" stat garbage
contains hostile_one "invalid: Protocol error"

# The live writer was never disturbed.
kill -0 "$live_pid" || fail "the live writer died"
echo "PASS"
exit 0
