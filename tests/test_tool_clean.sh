#!/bin/bash
# zshm clean removes dead writers' channels and leftover temporaries, and
# never a live channel, nor a file some live process holds.
. "${top_srcdir:-.}/tests/test_tool_lib.sh"

# --- empty ------------------------------------------------------------------
expect_ok empty "$ZSHM" clean
contains empty "0 removed, 0 alive kept, 0 skipped"

# --- a live and a dead writer, temporaries, junk ----------------------------
live=live$$
dead=dead$$
spawn live_writer "$TESTPUB" write "$live" --count 5 --hold 60
live_pid=$SPAWN_PID
spawn dead_writer "$TESTPUB" write "$dead" --count 5 --hold -1
dead_pid=$SPAWN_PID
wait_ready live_writer
wait_ready dead_writer
kill_dead "$dead_pid"
dead_temp=zshm-new.$(dead_pid).00000000deadbeef
live_temp=zshm-new.$$.00000000cafebabe          # this shell is alive
: >"$ZSHM_DIR/$dead_temp"
: >"$ZSHM_DIR/$live_temp"
head -c 5000 /dev/urandom >"$ZSHM_DIR/zshm.junk"
: >"$ZSHM_DIR/zshm.held"
mkdir "$ZSHM_DIR/zshm.dir"
ln -s "$WORK/target" "$ZSHM_DIR/zshm.link"
echo keep >"$WORK/target"
# An invalid file whose lock a live process holds (a writer of some other
# layout, say) is never removed, even with --all.
command -v flock >/dev/null || fail "flock(1) is missing (util-linux)"
spawn holder flock "$ZSHM_DIR/zshm.held" sh -c 'echo ready; exec sleep 60'
wait_ready holder

# Dry run: says what would go, removes nothing.
expect_ok dry "$ZSHM" clean --dry-run
contains dry "would remove zshm.$dead (writer pid $dead_pid dead)"
contains dry "would remove $dead_temp (creator pid $(dead_pid) dead)"
contains dry "skipped zshm.junk (invalid: Protocol error; --all removes it)"
contains dry "skipped zshm.dir (directory, never removed)"
lacks dry "zshm.$live"
lacks dry "$live_temp"
contains dry "2 would be removed, 2 alive kept,"
for file in "zshm.$dead" "zshm.$live" "$dead_temp" "$live_temp" zshm.junk zshm.held; do
    [ -e "$ZSHM_DIR/$file" ] || fail "dry run removed $file"
done

# Verbose lists what it keeps, and why.
expect_ok verbose "$ZSHM" clean --dry-run --verbose
contains verbose "kept zshm.$live (writer pid $live_pid alive)"
contains verbose "kept $live_temp (creator pid $$ alive)"

# The real thing.
expect_ok clean "$ZSHM" clean
contains clean "removed zshm.$dead (writer pid $dead_pid dead)"
contains clean "removed $dead_temp (creator pid $(dead_pid) dead)"
contains clean "2 removed, 2 alive kept,"
[ ! -e "$ZSHM_DIR/zshm.$dead" ] || fail "the dead writer's channel is still there"
[ ! -e "$ZSHM_DIR/$dead_temp" ] || fail "the dead creator's temporary is still there"
for file in "zshm.$live" "$live_temp" zshm.junk zshm.held zshm.dir zshm.link; do
    [ -e "$ZSHM_DIR/$file" ] || [ -L "$ZSHM_DIR/$file" ] || fail "clean removed $file"
done

# The live channel still works: a new reader gets its messages.
expect_ok reader "$TESTPUB" read "$live" --count 5
contains reader ready
kill -0 "$live_pid" || fail "the live writer died"

# --all: invalid files nobody holds and stray symlinks go; live ones stay.
expect_ok all "$ZSHM" clean --all
contains all "removed zshm.junk (invalid: Protocol error)"
contains all "removed zshm.link (invalid: symbolic link)"
contains all "skipped zshm.dir (directory, never removed)"
[ ! -e "$ZSHM_DIR/zshm.junk" ] || fail "--all left the junk"
[ ! -L "$ZSHM_DIR/zshm.link" ] || fail "--all left the symlink"
[ "$(cat "$WORK/target")" = keep ] || fail "--all touched the symlink's target"
for file in "zshm.$live" "$live_temp" zshm.held zshm.dir; do
    [ -e "$ZSHM_DIR/$file" ] || fail "clean --all removed $file"
done

# Once the writer is gone (killed), its channel goes too.
kill_dead "$live_pid"
expect_ok after "$ZSHM" clean
contains after "removed zshm.$live (writer pid $live_pid dead)"
[ ! -e "$ZSHM_DIR/zshm.$live" ] || fail "the killed writer's channel is still there"
# Another user's channel is not ours to judge: stat and clean (even --all)
# leave it alone.  Needs root to run the tools as nobody.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    shared=$(mktemp -d /dev/shm/zshm-tooltest-shared.XXXXXX) || fail "mktemp"
    CLEAN_DIRS=$shared
    chmod 1777 "$shared"
    cp "$ZSHM" "$shared/zshm" && chmod 755 "$shared/zshm" || fail "cannot copy zshm"
    ZSHM_DIR=$shared expect_ok root_writer "$TESTPUB" write rootchan --count 3
    as_nobody () {
        ZSHM_DIR=$shared setpriv --reuid=65534 --regid=65534 --clear-groups "$shared/zshm" "$@"
    }
    expect_ok nobody_stat as_nobody stat
    contains nobody_stat "unreadable: Permission denied"
    expect_ok nobody_clean as_nobody clean --all
    contains nobody_clean "skipped zshm.rootchan (Permission denied)"
    [ -e "$shared/zshm.rootchan" ] || fail "clean removed another user's channel"
else
    note "not root or no setpriv: the other-user check did not run"
fi
echo "PASS"
exit 0
