#!/bin/bash
# Every subcommand of zshm (stat, cat, clean, and the dispatcher) answers
# --help with exit 0, and every bad argument with exit 1 and a one-line
# reason on stderr, never a crash (the harness's run() fails the test on a
# signal or a sanitizer report).
. "${top_srcdir:-.}/tests/test_tool_lib.sh"

# A real channel, so that errors come from the arguments, not its absence.
channel=args$$
expect_ok send "$TESTPUB" send "shm://$channel" 'a||6161'

# --- help -------------------------------------------------------------------
for command in "" stat cat clean; do
    expect_ok help $ZSHM $command --help
    grep -q "^usage: zshm" "$WORK/help.out" || fail "'zshm $command --help' has no usage line"
    [ ! -s "$WORK/help.err" ] || fail "'zshm $command --help' wrote on stderr"
done
expect_ok help "$ZSHM" cat -h
expect_ok help "$ZSHM" help

# --- bad arguments ----------------------------------------------------------
long_name=$(printf 'x%.0s' $(seq 1 200))
n=0
bad () {
    n=$((n + 1))
    expect_reason "bad$n" "$@"
}

bad "$ZSHM"
bad "$ZSHM" bogus
bad "$ZSHM" --bogus
bad "$ZSHM" ''

bad "$ZSHM" stat --bogus
bad "$ZSHM" stat -x
bad "$ZSHM" stat --watch
bad "$ZSHM" stat --watch 0
bad "$ZSHM" stat --watch -1
bad "$ZSHM" stat --watch abc
bad "$ZSHM" stat --watch nan
bad "$ZSHM" stat --watch inf
bad "$ZSHM" stat --watch 1e99
bad "$ZSHM" stat --watch ''
bad "$ZSHM" stat --watch=
bad "$ZSHM" stat --json=yes
bad "$ZSHM" stat a/b
bad "$ZSHM" stat ..
bad "$ZSHM" stat .hidden
bad "$ZSHM" stat ''
bad "$ZSHM" stat shm://
bad "$ZSHM" stat "$long_name"
bad "$ZSHM" stat "missing$$"
bad "$ZSHM" stat "$channel" "$channel"
bad "$ZSHM" stat "$(printf 'a\033b')"

bad "$ZSHM" cat
bad "$ZSHM" cat --bogus "shm://$channel"
bad "$ZSHM" cat "shm://$channel" --count
bad "$ZSHM" cat "shm://$channel" --count -1
bad "$ZSHM" cat "shm://$channel" --count 0
bad "$ZSHM" cat "shm://$channel" --count abc
bad "$ZSHM" cat "shm://$channel" --count 1x
bad "$ZSHM" cat "shm://$channel" --count 99999999999999999999999
bad "$ZSHM" cat "shm://$channel" --from
bad "$ZSHM" cat "shm://$channel" --from middle
bad "$ZSHM" cat "shm://$channel" --format
bad "$ZSHM" cat "shm://$channel" --format xml
bad "$ZSHM" cat "shm://$channel" --timeout -5
bad "$ZSHM" cat "shm://$channel" --timeout soon
bad "$ZSHM" cat "shm://$channel" --timeout
bad "$ZSHM" cat "shm://$channel" --topic
bad "$ZSHM" cat "shm://$channel" --type
bad "$ZSHM" cat "shm://$channel" --type ''
bad "$ZSHM" cat "shm://$channel" --type no.Such
bad "$ZSHM" cat "shm://$channel" --descriptor-set
bad "$ZSHM" cat "shm://$channel" --descriptor-set /nonexistent/file.desc
bad "$ZSHM" cat "shm://$channel" --descriptor-set /dev/null
bad "$ZSHM" cat "shm://$channel" --descriptor-set /
bad "$ZSHM" cat "shm://$channel" --decode-raw --type zshm.market.Tick
bad "$ZSHM" cat "shm://$channel" "shm://$channel"
bad "$ZSHM" cat shm://a/b
bad "$ZSHM" cat shm://
bad "$ZSHM" cat 'shm://?from=oldest'
bad "$ZSHM" cat "shm://$long_name"
bad "$ZSHM" cat a/b
bad "$ZSHM" cat ''
bad "$ZSHM" cat ipc:///tmp/x
bad "$ZSHM" cat "shm://$channel?idle=nap"
bad "$ZSHM" cat "shm://$channel?bogus=1"
bad "$ZSHM" cat tcp://127.0.0.1:1 --from oldest
bad "$ZSHM" cat "shm://missing$$"
bad "$ZSHM" cat "missing$$"

bad "$ZSHM" clean --bogus
bad "$ZSHM" clean extra
bad "$ZSHM" clean --dry-run=1
bad "$ZSHM" clean "$channel"

note "$n bad command lines, each refused with one line"

# An unreadable channel directory is a reason too, not a crash.
ZSHM_DIR=/nonexistent/zshm expect_reason nodir "$ZSHM" stat
ZSHM_DIR=/nonexistent/zshm expect_reason nodir "$ZSHM" clean

# The good channel is untouched by all of this.
expect_ok good "$ZSHM" cat "shm://$channel"
contains good '"aa"'
echo "PASS"
exit 0
