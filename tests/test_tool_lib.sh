# Shared by the tests/test_tool_*.sh scripts (sourced, not run).
#
# Gives each test a private channel directory (ZSHM_DIR, under /dev/shm),
# the built `zshm` and `zshm_testpub` programs, and helpers that fail the
# test with a reason.  Background processes started with `spawn` are killed
# and the directory removed on exit.

set -u

top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
ZSHM=$top_builddir/tools/zshm
TESTPUB=$top_builddir/tests/zshm_testpub
PYTHON=${PYTHON:-/usr/bin/python3}

for program in "$ZSHM" "$TESTPUB"; do
    if [ ! -x "$program" ]; then
        echo "FAIL: $program is not built" >&2
        exit 1
    fi
done

ZSHM_DIR=$(mktemp -d /dev/shm/zshm-tooltest.XXXXXX) || { echo "FAIL: mktemp" >&2; exit 1; }
export ZSHM_DIR
WORK=$(mktemp -d "${TMPDIR:-/tmp}/zshm-tooltest.XXXXXX") || { echo "FAIL: mktemp" >&2; exit 1; }
SPAWNED=""
CLEAN_DIRS=""       # more directories for cleanup to remove

cleanup () {
    for pid in $SPAWNED; do
        kill -9 "$pid" 2>/dev/null
    done
    for pid in $SPAWNED; do
        wait "$pid" 2>/dev/null
    done
    rm -rf "$ZSHM_DIR" "$WORK" $CLEAN_DIRS
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail () {
    echo "FAIL: $*" >&2
    exit 1
}

note () {
    echo "# $*"
}

# spawn NAME COMMAND...: run in the background, stdout to $WORK/NAME.out,
# stderr to $WORK/NAME.err; the pid is left in $SPAWN_PID.
spawn () {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    SPAWN_PID=$!
    SPAWNED="$SPAWNED $SPAWN_PID"
}

# wait_ready NAME: wait (up to 20 s) until the spawned process NAME prints
# "ready"; fail if it exits first.
wait_ready () {
    local name=$1 tries=0
    while ! grep -q '^ready$' "$WORK/$name.out" 2>/dev/null; do
        tries=$((tries + 1))
        if [ $tries -gt 400 ]; then
            fail "$name never became ready: $(cat "$WORK/$name.err")"
        fi
        sleep 0.05
    done
}

# kill_dead PID: SIGKILL a spawned process and reap it.
kill_dead () {
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}

# A pid no process can have: beyond the kernel's pid_max.
dead_pid () {
    echo $(( $(cat /proc/sys/kernel/pid_max) + 1000 ))
}

# run NAME COMMAND...: run in the foreground, stdout to $WORK/NAME.out,
# stderr to $WORK/NAME.err; the exit status is left in $RC.  A crash
# (signal, or a sanitizer report) fails the test at once.
run () {
    local name=$1
    shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    RC=$?
    if [ $RC -ge 128 ]; then
        fail "'$*' crashed (status $RC): $(head -5 "$WORK/$name.err")"
    fi
    if grep -q 'Sanitizer\|runtime error' "$WORK/$name.err"; then
        fail "'$*' tripped a sanitizer: $(head -20 "$WORK/$name.err")"
    fi
}

# expect_ok NAME COMMAND...: as run, and the exit status must be 0.
expect_ok () {
    run "$@"
    [ $RC -eq 0 ] || fail "'${*:2}' exited $RC: $(cat "$WORK/$1.err")"
}

# expect_reason NAME COMMAND...: as run; the command must exit 1 with one
# line on stderr that names the program, and nothing on stdout.
expect_reason () {
    run "$@"
    local name=$1
    [ $RC -eq 1 ] || fail "'${*:2}' exited $RC, not 1"
    [ "$(wc -l <"$WORK/$name.err")" -eq 1 ] \
        || fail "'${*:2}' should give one line on stderr, gave: $(cat "$WORK/$name.err")"
    grep -q '^zshm' "$WORK/$name.err" || fail "'${*:2}' reason lacks the program name"
    [ ! -s "$WORK/$name.out" ] || fail "'${*:2}' printed on stdout: $(head -3 "$WORK/$name.out")"
}

# contains NAME TEXT: the output of NAME must contain TEXT (fixed string).
contains () {
    grep -qF -- "$2" "$WORK/$1.out" || fail "output of $1 lacks '$2':
$(cat "$WORK/$1.out")"
}

# lacks NAME TEXT: the output of NAME must not contain TEXT.
lacks () {
    ! grep -qF -- "$2" "$WORK/$1.out" || fail "output of $1 has '$2':
$(cat "$WORK/$1.out")"
}

# unhex HEX: write the bytes on stdout.
unhex () {
    "$PYTHON" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"
}
