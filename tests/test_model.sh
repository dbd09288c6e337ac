#!/bin/sh
#  test_model.sh - model-check the ring protocol (tests/model/ring.pml)
#
#  Usage: test_model.sh [--full]
#    (none)  the quick set, run by `make check`
#    --full  the thorough set, run by `make check-model`
#
#  Each run builds spin's verifier (pan) for one configuration of the
#  model and searches its whole state space.  Positive runs must finish
#  with no error; negative runs (a protocol step removed on purpose) must
#  end in the named assertion, which shows the checks can fail.
#  Exit 0 pass, 1 fail, 77 skip (spin or a C compiler missing).

full=no
case "$1" in
    --full) full=yes ;;
    "") ;;
    *) echo "usage: $0 [--full]" >&2; exit 1 ;;
esac

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
model=$srcdir/tests/model/ring.pml
cc=${PAN_CC:-cc}
if ! command -v spin >/dev/null 2>&1; then
    echo "test_model: spin not installed (apt-get install spin): skipped"
    exit 77
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "test_model: no C compiler ($cc) for spin's verifier: skipped"
    exit 77
fi
test -f "$model" || { echo "test_model: $model not found" >&2; exit 1; }

#  The verifier stops with an error rather than grow past this (MB).
memlim=${PAN_MEMLIM:-2048}
work=$(mktemp -d "${TMPDIR:-/tmp}/zshm-model.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
failed=0
runs=0

#  check NAME EXPECT SPIN-FLAGS...
#  EXPECT: pass (no error, complete search), torn (a torn delivery is
#  found), ahead (a reader runs ahead of the writer).
check () {
    name=$1
    expect=$2
    shift 2
    runs=$((runs + 1))
    dir=$work/$name
    mkdir -p "$dir"
    cp "$model" "$dir/ring.pml"
    started=$(date +%s)
    if ! ( cd "$dir" && spin "$@" -a ring.pml >spin.out 2>&1 \
                     && $cc -O1 -w -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" \
                            -o pan pan.c >cc.out 2>&1 ); then
        echo "FAIL $name: could not build the verifier ($*)"
        cat "$dir/spin.out" "$dir/cc.out" 2>/dev/null
        failed=1
        return
    fi
    ( cd "$dir" && ./pan -m100000 >pan.out 2>&1 )
    out=$dir/pan.out
    seconds=$(($(date +%s) - started))
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$out" | head -1)
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' "$out" | head -1)
    summary="$name ($*): ${states:-?} states, ${seconds}s"
    verdict=ok
    if grep -q "depth too small\|MEMLIM\|out of memory" "$out"; then
        verdict="search incomplete"
    else
        case $expect in
            pass)
                test "$errors" = 0 || verdict="error found" ;;
            torn)
                test "$errors" = 1 \
                && grep -q "assertion violated .*\(buf\[\|size==\)" "$out" \
                || verdict="no torn delivery found" ;;
            ahead)
                test "$errors" = 1 \
                && grep -q "assertion violated (target<=(committed+1))" "$out" \
                || verdict="reader never ran ahead" ;;
        esac
    fi
    if [ "$verdict" = ok ]; then
        echo "ok   $summary, expected $expect"
    else
        echo "FAIL $summary: $verdict, expected $expect"
        cat "$out"
        if [ -f "$dir/ring.pml.trail" ]; then
            echo "--- counterexample (last steps)"
            ( cd "$dir" && spin -t -p -g "$@" ring.pml 2>&1 | tail -40 )
        fi
        failed=1
    fi
}

#  The protocol as the code has it.  Two readers (try_recv and peek/advance)
#  at a small N, one reader at a larger N: readers never write anything
#  another reads, so each one's properties do not depend on the other.
check cap4-two pass -DCAP=4 -DN=4
if [ $full = yes ]; then
    check cap2-two pass -DCAP=2 -DN=3
    check cap2-copy pass -DCAP=2 -DN=10 -DONE_READER
    check cap2-peek pass -DCAP=2 -DN=12 -DONE_READER -DREADER0=MODE_PEEK
    check cap4-copy pass -DCAP=4 -DN=12 -DONE_READER
    check cap4-peek pass -DCAP=4 -DN=12 -DONE_READER -DREADER0=MODE_PEEK
else
    check cap2-two pass -DCAP=2 -DN=2
    check cap2-copy pass -DCAP=2 -DN=6 -DONE_READER
    check cap2-peek pass -DCAP=2 -DN=6 -DONE_READER -DREADER0=MODE_PEEK
    check cap4-copy pass -DCAP=4 -DN=8 -DONE_READER
    check cap4-peek pass -DCAP=4 -DN=8 -DONE_READER -DREADER0=MODE_PEEK
fi

#  The writer that marks slots early (EARLY_MARK, see ring.pml), under the
#  same checks.
if [ $full = yes ]; then
    check early-cap4-two pass -DCAP=4 -DN=4 -DEARLY_MARK
    check early-cap2-two pass -DCAP=2 -DN=3 -DEARLY_MARK
    check early-cap4-copy pass -DCAP=4 -DN=10 -DONE_READER -DEARLY_MARK
    check early-cap4-peek pass -DCAP=4 -DN=10 -DONE_READER -DEARLY_MARK -DREADER0=MODE_PEEK
    check early-cap2-copy pass -DCAP=2 -DN=8 -DONE_READER -DEARLY_MARK
    check early-no-r5 torn -DCAP=4 -DN=6 -DONE_READER -DEARLY_MARK -DNO_R5 -DNO_CHECK_AHEAD
else
    check early-cap4-copy pass -DCAP=4 -DN=8 -DONE_READER -DEARLY_MARK
    check early-cap2-copy pass -DCAP=2 -DN=6 -DONE_READER -DEARLY_MARK
fi

#  Negative checks: without the W1 dirty mark or the R5 re-check, spin must
#  find a torn delivery, for both kinds of reader; with s_resync as it was
#  before commit 3db4895, a reader at capacity 2 runs ahead of the writer.
check no-w1-copy torn -DCAP=2 -DN=3 -DNO_W1 -DNO_CHECK_AHEAD
check no-r5-copy torn -DCAP=2 -DN=3 -DNO_R5 -DNO_CHECK_AHEAD
check no-w1-peek torn -DCAP=4 -DN=6 -DNO_W1 -DNO_CHECK_AHEAD -DONE_READER -DREADER0=MODE_PEEK
check no-r5-peek torn -DCAP=4 -DN=6 -DNO_R5 -DNO_CHECK_AHEAD -DONE_READER -DREADER0=MODE_PEEK
check old-resync ahead -DCAP=2 -DN=3 -DOLD_RESYNC
if [ $full = yes ]; then
    check no-w1-cap4 torn -DCAP=4 -DN=5 -DNO_W1 -DNO_CHECK_AHEAD
    check no-r5-cap4 torn -DCAP=4 -DN=5 -DNO_R5 -DNO_CHECK_AHEAD
    check no-w1-cap2-peek torn -DCAP=2 -DN=3 -DNO_W1 -DNO_CHECK_AHEAD -DONE_READER -DREADER0=MODE_PEEK
    check no-r5-cap2-peek torn -DCAP=2 -DN=3 -DNO_R5 -DNO_CHECK_AHEAD -DONE_READER -DREADER0=MODE_PEEK
    check old-resync-peek ahead -DCAP=2 -DN=4 -DOLD_RESYNC -DONE_READER -DREADER0=MODE_PEEK
fi

if [ $failed = 0 ]; then
    echo "test_model: $runs runs passed"
    exit 0
fi
echo "test_model: FAILED"
exit 1
