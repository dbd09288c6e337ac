#!/bin/sh
#  test_fuzz_replay.sh - replay every fuzz target's seed corpus
#
#  `make check` builds tests/fuzz/NAME-replay for every target listed in
#  FUZZ_TARGETS (Makefile.am) and names them in tests/fuzz/replay.stamp.
#  Each replays tests/fuzz/corpus/NAME/, which must exist and hold at least
#  one input.  A crash, an abort or a sanitizer report fails the test.
#  Exit 0 pass, 1 fail.

builddir=${top_builddir:-.}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
list=$builddir/tests/fuzz/replay.stamp
if [ ! -s "$list" ]; then
    echo "test_fuzz_replay: $list missing or empty (built by make check)" >&2
    exit 1
fi
failed=0
for name in $(cat "$list"); do
    corpus=$srcdir/tests/fuzz/corpus/$name
    if [ ! -d "$corpus" ]; then
        echo "FAIL $name: no seed corpus in $corpus"
        failed=1
        continue
    fi
    if "$builddir/tests/fuzz/$name-replay" "$corpus"; then
        echo "ok   $name"
    else
        echo "FAIL $name (replay one input with: tests/fuzz/$name-replay -v FILE)"
        failed=1
    fi
done
exit $failed
