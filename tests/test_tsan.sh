#!/bin/sh
#  test_tsan.sh - the threaded tests under ThreadSanitizer (make check-tsan)
#
#  `make check-tsan` drives it in three steps, passing the compiler and flags
#  in the environment (TSAN_CC, TSAN_CFLAGS, TSAN_CPPFLAGS, TSAN_LIBS,
#  srcdir) and the sources from Makefile.am's own lists:
#
#    test_tsan.sh lib SOURCE...          compile the libraries' sources once
#    test_tsan.sh prog NAME SOURCE...    compile and link _build-tsan/NAME
#    test_tsan.sh run NAME...            run each; any TSan report fails it
#
#  Everything is compiled directly with clang -fsanitize=thread into
#  _build-tsan/ of the build tree (no configure: an in-tree build cannot
#  host a second configured tree).  CZMQ, libzmq and protobuf-c are not
#  instrumented: tests/tsan_zmq.c, linked into every program, shows TSan
#  the ordering ZeroMQ messages give, and says what it suppresses.
#  Exit 0 clean, 1 any report or failure.

set -u
out=_build-tsan
cc=${TSAN_CC:-clang}
cflags=${TSAN_CFLAGS:--g -O1 -fno-omit-frame-pointer -fsanitize=thread}
cppflags=${TSAN_CPPFLAGS:-}
libs=${TSAN_LIBS:-}
srcdir=${srcdir:-.}

#  Where a source lives: the build tree (generated) or the source tree.
locate () {
    if [ -f "$1" ]; then echo "$1"; else echo "$srcdir/$1"; fi
}

step=${1:-}
[ $# -gt 0 ] && shift
case "$step" in
    lib)
        mkdir -p "$out/obj"
        : > "$out/objects"
        for src in "$@"; do
            case $src in *.c) ;; *) continue ;; esac
            object=$out/obj/$(echo "$src" | sed 's|/|_|g; s|\.c$|.o|')
            echo "  TSANCC   $object"
            $cc $cppflags $cflags -c -o "$object" "$(locate "$src")" || exit 1
            echo "$object" >> "$out/objects"
        done
        ;;
    prog)
        name=$1
        shift
        objects=
        for src in "$@"; do
            case $src in *.c) ;; *) continue ;; esac
            object=$out/obj/$name-$(basename "$src" .c).o
            $cc $cppflags $cflags -c -o "$object" "$(locate "$src")" || exit 1
            objects="$objects $object"
        done
        echo "  TSANLD   $out/$name"
        # shellcheck disable=SC2046
        #  -rdynamic: CZMQ's calls into libzmq must find tsan_zmq.c's
        #  definitions in the program.
        $cc $cflags -rdynamic -o "$out/$name" $objects $(cat "$out/objects") $libs -ldl || exit 1
        ;;
    run)
        failed=
        for name in "$@"; do
            log=$out/$name.log
            started=$(date +%s)
            #  halt_on_error=0: report every race, then exit 66.
            TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
                "$out/$name" > "$log" 2>&1
            rc=$?
            seconds=$(($(date +%s) - started))
            reports=$(grep -c "^WARNING: ThreadSanitizer" "$log")
            if [ $rc = 0 ] && [ "$reports" = 0 ]; then
                echo "ok   $name (${seconds}s)"
            elif [ $rc = 77 ]; then
                echo "skip $name"
            else
                echo "FAIL $name: exit $rc, $reports ThreadSanitizer reports (${seconds}s, log $log)"
                grep -A 30 "^WARNING: ThreadSanitizer" "$log" | head -n 80
                tail -n 5 "$log"
                failed="$failed $name"
            fi
        done
        if [ -n "$failed" ]; then
            echo "check-tsan: FAILED:$failed"
            exit 1
        fi
        echo "check-tsan: $# tests clean"
        ;;
    *)
        echo "usage: $0 lib SOURCE... | prog NAME SOURCE... | run NAME..." >&2
        exit 1
        ;;
esac
exit 0
