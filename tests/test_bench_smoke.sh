#!/bin/sh
# Smoke test of `zshm bench`.  Speed is never asserted (shared cores, drifting
# clocks): `--quick --json` must measure every row, with positive figures in
# well-formed JSON and a CSV that says the same, leave no channel behind,
# size throughput rings from --tput-ring-bytes, and bad flags must exit 1
# with one line on stderr.  Bridge rows that cannot start (no loopback TCP)
# are skipped with a note.
ZSHM="${top_builddir:-.}/tools/zshm"
PYTHON=/usr/bin/python3

[ -x "$ZSHM" ] || { echo "FAIL: $ZSHM is missing"; exit 1; }
[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON is missing (needed to check the JSON)"; exit 77; }
cpus=$(nproc 2>/dev/null || echo 1)
[ "$cpus" -ge 2 ] || { echo "SKIP: zshm bench needs two CPUs, this test may use $cpus"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zshm-bench-smoke.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail () {
    echo "FAIL: $*"
    [ -s "$work/err" ] && sed 's/^/  stderr: /' "$work/err"
    exit 1
}

# --- bad flags: exit 1, one line on stderr, nothing on stdout ----------------
for args in "--bogus" "bogus" "--cpus 0" "--cpus 0,0" "--cpus 0,x" "--sizes 3" \
            "--sizes 8,,64" "--sizes 64," "--duration-ms x" "--duration-ms 0" \
            "--iterations -5" "--only nope" "--only ring-thread,nope" "--json" \
            "--clock sundial" "--quick=1" "--capacity 1" "--zmq-hwm 99999999999" \
            "--csv" "--csv=" "--csv --quick" "--csv - --json -" \
            "--csv /nonexistent-zshm-dir/b.csv" \
            "--plot" "--plot=" "--plot bench.png" "--plot .svg" "--plot --quick" \
            "--plot /nonexistent-zshm-dir/b.svg" \
            "--tput-ring-bytes" "--tput-ring-bytes 0" "--tput-ring-bytes x" \
            "--tput-ring-bytes 64Q" "--tput-ring-bytes 1" "--tput-ring-bytes -64M" \
            "--tput-ring-bytes 17G" "--tput-ring-bytes 99999999999999999999999" \
            "--actor-idle" "--actor-idle nap" "--bridge-idle SPIN" "--bridge-idle="; do
    # shellcheck disable=SC2086  # word splitting is the point
    "$ZSHM" bench $args >"$work/out" 2>"$work/err"
    rc=$?
    [ "$rc" -eq 1 ] || fail "zshm bench $args exited $rc, not 1"
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "zshm bench $args: stderr is not one line"
    [ -s "$work/out" ] && fail "zshm bench $args wrote to stdout"
done
[ -e bench.png ] && fail "--plot bench.png left a file"
echo "ok: bad flags exit 1 with one line"

# --- --help and --list -------------------------------------------------------
"$ZSHM" bench --help >"$work/out" 2>"$work/err" || fail "zshm bench --help failed"
for word in --cpus --duration-ms --iterations --warmup --sizes --capacity \
            --zmq-hwm --only --clock --quick --json --list --csv --plot \
            --tput-ring-bytes --actor-idle --bridge-idle; do
    grep -q -- "$word" "$work/out" || fail "--help does not document $word"
done
"$ZSHM" bench --list >"$work/list" 2>"$work/err" || fail "zshm bench --list failed"
echo "ok: --help and --list"

# --- the quick run -----------------------------------------------------------
"$ZSHM" bench --quick --json "$work/bench.json" --csv "$work/bench.csv" \
    >"$work/out" 2>"$work/err" &
bench_pid=$!
wait "$bench_pid"
bench_rc=$?
grep -q "core-to-core limit" "$work/out" || fail "the table does not show the limit"
grep -q "^targets" "$work/out" || fail "the table does not report the targets"
if ls "${ZSHM_DIR:-/dev/shm}" 2>/dev/null | grep -q "^zshm\.bench-$bench_pid-"; then
    fail "zshm bench left channels in ${ZSHM_DIR:-/dev/shm}"
fi
ls "${TMPDIR:-/tmp}" 2>/dev/null | grep -q "^zshm-bench-$bench_pid-" \
    && fail "zshm bench left ipc files in ${TMPDIR:-/tmp}"

"$PYTHON" - "$work/bench.json" "$work/list" "$work/bench.csv" "$bench_rc" <<'EOF' \
    || fail "the JSON or CSV is wrong (zshm bench exited $bench_rc)"
import csv, json, os, sys

doc = json.load(open(sys.argv[1]))
listed = [line.split()[0] for line in open(sys.argv[2]) if line.strip()]
lines = list(csv.DictReader(open(sys.argv[3])))
bench_rc = int(sys.argv[4])
sizes = [8, 64, 256, 1024, 4096]
# The rows the issues ask for: per size, or once.  Every row --list names
# must appear at least once, so a row added later is checked (all of its
# figures, below) as soon as it exists.
per_size = ["ring-thread", "ring-process", "pubsub-thread", "pubsub-process",
            "zmq-inproc", "actor", "zmq-ipc", "zmq-tcp", "zmq-tcp-oneway", "bridge"]
once = ["limit", "block", "proto-raw", "proto-zshm", "proto-pbc"]
latency_only = {"limit", "block", "proto-raw", "proto-zshm", "proto-pbc", "zmq-tcp-oneway"}
one_way = {"block", "proto-raw", "proto-zshm", "proto-pbc", "zmq-tcp-oneway", "bridge"}
ring_slots = {"ring-thread", "ring-process", "pubsub-thread", "pubsub-process", "actor",
              "bridge"}
missing_names = [name for name in once + per_size if name not in listed]
assert not missing_names, "--list lacks %s" % missing_names

# Bridge rows that could not start are noted and skipped; any other
# failure fails the test.
failed = [row for row in doc["rows"] if not row["ok"]]
skipped = set()
for row in failed:
    if row["name"] == "bridge" and row["error"].startswith("bridge did not start"):
        skipped.add("bridge")
    else:
        raise AssertionError("row failed: %s %d: %s" % (row["name"], row["size"], row["error"]))
assert (bench_rc == 0) == (not failed), ("exit status", bench_rc, len(failed))
if skipped:
    print("note: bridge rows skipped, the bridge could not start: %s"
          % [row["error"] for row in failed][0])

rows = {(row["name"], row["size"]): row for row in doc["rows"]}
assert len(rows) == len(doc["rows"]), "duplicate rows"
expected = [(name, size) for name in per_size for size in sizes if name not in skipped]
missing = [key for key in expected if key not in rows]
assert not missing, "missing rows: %s" % missing
for name in once:
    found = [key for key in rows if key[0] == name]
    assert len(found) == 1, (name, found)
proto_sizes = {key[1] for key in rows if key[0].startswith("proto-")}
assert len(proto_sizes) == 1 and min(proto_sizes) >= 16, ("proto rows differ", proto_sizes)
unmeasured = [name for name in listed if name not in {key[0] for key in rows}]
assert not unmeasured, "rows listed but not measured: %s" % unmeasured
assert doc["quick"] is True and doc["cpus"][0] != doc["cpus"][1], doc["cpus"]
assert doc["limit_ns"] > 0, doc["limit_ns"]
assert doc["tput_ring_bytes"] > 0 and doc["ring_capacity"] > 0, doc
# Actors spin given six CPUs or more, else yield (the bench's default)
actor_idle = "spin" if len(os.sched_getaffinity(0)) >= 6 else "yield"
assert doc["actor_idle"] == actor_idle and doc["bridge_idle"] == "block", doc

for key, row in sorted(rows.items()):
    if key[0] in skipped:
        continue
    assert row["ok"] is True and row["error"] is None, (key, row["error"])
    assert row["load"] >= 0 or row["load"] == -1, (key, row["load"])
    # The limit measured beside every row (the limit row is the limit).
    if key[0] == "limit":
        assert row["limit_ns"] is None, (key, row["limit_ns"])
    else:
        assert row["limit_ns"] > 0, (key, row["limit_ns"])
    latency = row["latency"]
    assert latency is not None and latency["samples"] > 0, (key, latency)
    figures = [latency[name] for name in ("p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "max_ns")]
    assert all(value > 0 for value in figures), (key, figures)
    assert figures == sorted(figures), ("percentiles out of order", key, figures)
    assert latency["timed"] == ("one-way" if key[0] in one_way else "round-trip/2"), key
    assert row["p50_vs_limit"] > 0 and row["p99_9_vs_limit"] > 0, key
    if key[0] in latency_only:
        assert row["throughput"] is None, key
        continue
    throughput = row["throughput"]
    assert throughput is not None, key
    assert throughput["sent"] > 0 and throughput["received"] > 0, (key, throughput)
    assert throughput["msgs_per_sec"] > 0 and throughput["seconds"] > 0, (key, throughput)
    assert throughput["received"] + throughput["lost"] == throughput["sent"], (key, throughput)
    assert 0 <= throughput["lost_pct"] < 100, (key, throughput)
    slots = throughput["ring_slots"]
    if key[0] in ring_slots:
        # A power of two, at least 4096, and no larger than the bytes allow.
        assert slots >= 4096 and slots & (slots - 1) == 0, (key, slots)
        assert slots == 4096 or slots * key[1] <= doc["tput_ring_bytes"], (key, slots)
    else:
        assert slots is None, (key, slots)
    if key[1] in sizes:
        assert row["latency_vs_zmq_ipc"] > 0 and row["throughput_vs_zmq_ipc"] > 0, key

# The targets: every one reported, with a result wherever both rows ran.
targets = {target["name"]: target for target in doc["targets"]}
wanted = ["pubsub_thread_vs_ring", "pubsub_process_vs_ring", "actor_vs_zmq_inproc",
          "block_vs_zmq_ipc", "proto_zshm_vs_raw", "proto_pbc_vs_raw",
          "bridge_vs_zmq_tcp_rate", "bridge_vs_zmq_tcp_p50"]
assert sorted(targets) == sorted(wanted), sorted(targets)
for name, target in targets.items():
    if target["row"] in skipped:
        continue
    expect = len(sizes) if target["row"] in per_size else 1
    assert len(target["results"]) == expect, (name, target["results"])
    for result in target["results"]:
        row = rows[(target["row"], result["size"])]
        if target["measure"] == "p50_added_ns_max":
            reference = rows[(target["reference"], result["size"])]
            added = row["latency"]["p50_ns"] - reference["latency"]["p50_ns"]
            assert abs(result["value"] - added) < 0.01, (name, result, added)
        else:
            assert result["value"] > 0, (name, result)
        assert result["limits_ns"][0] > 0 and result["limits_ns"][1] > 0, (name, result)
        drift = max(result["limits_ns"]) / min(result["limits_ns"])
        assert result["limit_drifted"] == (drift > 1.5), (name, result)
        if target["limit"] is None:
            assert result["met"] is None, (name, result)
        else:
            assert isinstance(result["met"], bool), (name, result)
    if target["limit"] is not None:
        assert target["met"] == all(result["met"] for result in target["results"]), name

# The CSV: a line per row, saying what the JSON says.
assert len(lines) == len(doc["rows"]), (len(lines), len(doc["rows"]))
for line, row in zip(lines, doc["rows"]):
    assert line["name"] == row["name"] and int(line["size"]) == row["size"], (line, row)
    assert line["ok"] == ("1" if row["ok"] else "0"), line
    if row["latency"]:
        assert abs(float(line["p50_ns"]) - row["latency"]["p50_ns"]) < 0.01, line
        assert line["timed"] == row["latency"]["timed"], line
    else:
        assert line["p50_ns"] == "", line
    if row["throughput"]:
        assert int(line["sent"]) == row["throughput"]["sent"], line
        slots = row["throughput"]["ring_slots"]
        assert line["ring_slots"] == ("" if slots is None else str(slots)), line
    else:
        assert line["msgs_per_sec"] == "", line
    assert (line["error"] == "") == row["ok"], line
    limit = row["limit_ns"] if row["limit_ns"] is not None else doc["limit_ns"]
    assert abs(float(line["limit_ns"]) - limit) < 0.01, (line, limit)
print("ok: %d rows, %d targets, CSV agrees, limit %.0f ns"
      % (len(rows), len(targets), doc["limit_ns"]))
EOF

# --- --tput-ring-bytes sizes the throughput rings ---------------------------
# Twice the bytes, twice the slots (whatever the slot stride is), and the
# latency rings keep --capacity.
for bytes in 1M 2M; do
    "$ZSHM" bench --quick --only ring-thread,pubsub-process --sizes 64 \
        --tput-ring-bytes $bytes --capacity 64 --json "$work/tput-$bytes.json" \
        >"$work/out" 2>"$work/err" || fail "zshm bench --tput-ring-bytes $bytes failed"
done
"$PYTHON" - "$work/tput-1M.json" "$work/tput-2M.json" <<'EOF' || fail "--tput-ring-bytes is not applied"
import json, sys
one, two = (json.load(open(path)) for path in sys.argv[1:3])
assert one["tput_ring_bytes"] == 1 << 20 and two["tput_ring_bytes"] == 2 << 20
assert one["ring_capacity"] == 64 == two["ring_capacity"]
for name in ("ring-thread", "pubsub-process"):
    slots = [next(row["throughput"]["ring_slots"] for row in doc["rows"] if row["name"] == name)
             for doc in (one, two)]
    assert slots[0] >= 4096 and slots[1] == 2 * slots[0], (name, slots)
print("ok: --tput-ring-bytes 1M and 2M give", slots, "slots")
EOF

# --- JSON on stdout, the table on stderr; CSV likewise -----------------------
"$ZSHM" bench --quick --only limit --json - >"$work/out" 2>"$work/err" \
    || fail "zshm bench --json - failed"
"$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["limit_ns"] > 0' \
    "$work/out" || fail "--json - did not write JSON alone on stdout"
grep -q "core-to-core limit" "$work/err" || fail "--json - did not print the table on stderr"
"$ZSHM" bench --quick --only limit --csv - >"$work/out" 2>"$work/err" \
    || fail "zshm bench --csv - failed"
head -n 1 "$work/out" | grep -q "^name,size,ok," || fail "--csv - did not write the CSV header"
[ "$(wc -l <"$work/out")" -eq 2 ] || fail "--csv - wrote $(wc -l <"$work/out") lines, not 2"
grep -q "core-to-core limit" "$work/err" || fail "--csv - did not print the table on stderr"
echo "ok: --json - and --csv -"
exit 0
