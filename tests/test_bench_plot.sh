#!/bin/sh
# `zshm bench --quick --plot FILE.svg` writes a well-formed SVG with both
# families of series (zshm: ring and pub/sub; zmq: ipc and tcp), each with
# its five percentiles in order, inside the drawing, labelled axes, a legend
# naming both families and a title with the core-to-core limit.  The checker
# is also run on broken copies, which it must reject.  Never timed.
ZSHM="${top_builddir:-.}/tools/zshm"
PYTHON=/usr/bin/python3

[ -x "$ZSHM" ] || { echo "FAIL: $ZSHM is missing"; exit 1; }
[ -x "$PYTHON" ] || { echo "SKIP: $PYTHON is missing (needed to check the SVG)"; exit 77; }
cpus=$(nproc 2>/dev/null || echo 1)
[ "$cpus" -ge 2 ] || { echo "SKIP: zshm bench needs two CPUs, this test may use $cpus"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zshm-bench-plot.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail () {
    echo "FAIL: $*"
    [ -s "$work/err" ] && sed 's/^/  stderr: /' "$work/err"
    exit 1
}

"$ZSHM" bench --quick --plot "$work/bench.svg" --json "$work/bench.json" \
    >"$work/out" 2>"$work/err"
rc=$?
# Only bridge rows may fail (no loopback TCP for the bridge); they are not
# in the plot.
if [ "$rc" -ne 0 ]; then
    "$PYTHON" -c '
import json, sys
bad = [r for r in json.load(open(sys.argv[1]))["rows"] if not r["ok"]]
assert bad and all(r["name"] == "bridge" for r in bad), bad' "$work/bench.json" \
        || fail "zshm bench --quick --plot exited $rc"
    echo "note: bridge rows failed; the plot does not need them"
fi
[ -s "$work/bench.svg" ] || fail "no SVG written"

cat >"$work/check.py" <<'EOF'
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"


def check(path):
    root = ET.parse(path).getroot()
    assert root.tag == NS + "svg", root.tag
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == "0 0 %g %g" % (width, height), root.get("viewBox")

    def texts(element):
        return ["".join(node.itertext()).strip() for node in element.iter(NS + "text")]

    # Series: one polyline per row, class "series zshm" or "series zmq".
    series = {}
    for line in root.iter(NS + "polyline"):
        classes = (line.get("class") or "").split()
        if "series" not in classes:
            continue
        assert (line.get("id") or "").startswith("series-"), line.attrib
        family = "zshm" if "zshm" in classes else "zmq" if "zmq" in classes else None
        assert family, classes
        points = [tuple(float(v) for v in pair.split(","))
                  for pair in line.get("points").split()]
        assert len(points) == 5, (line.get("id"), points)
        xs = [x for x, _ in points]
        ys = [y for _, y in points]
        assert xs == sorted(xs) and len(set(xs)) == 5, ("x not increasing", line.get("id"), xs)
        # Latency never falls from p50 to max: y (downwards) never rises.
        assert ys == sorted(ys, reverse=True), ("percentiles out of order", line.get("id"), ys)
        assert all(0 <= x <= width and 0 <= y <= height for x, y in points), points
        series.setdefault(family, []).append(line.get("id"))
    assert "zshm" in series and "zmq" in series, series
    ids = sum(series.values(), [])
    for wanted in ("series-zmq-ipc", "series-zmq-tcp"):
        assert wanted in ids, (wanted, ids)
    assert any("ring" in name for name in series["zshm"]), series
    assert any("pubsub" in name for name in series["zshm"]), series

    # Axes: the five percentiles on x, latency units on y.
    all_text = texts(root)
    for label in ("p50", "p90", "p99", "p99.9", "max"):
        assert label in all_text, ("x tick", label)
    units = [t for t in all_text if t.endswith((" ns", " \u00b5s", " ms"))]
    assert len(units) >= 3, ("y ticks", units)

    # Legend: both families, every plotted row named.
    legend = [node for node in root.iter(NS + "g") if node.get("id") == "legend"]
    assert len(legend) == 1, "no legend"
    legend_text = " ".join(texts(legend[0]))
    assert "zshm" in legend_text and "zmq" in legend_text.lower(), legend_text
    for name in ids:
        assert name[len("series-"):] in legend_text, (name, legend_text)

    # Title: says what it shows and the core-to-core limit.
    title = " ".join(all_text[:2])
    assert "zshm" in title and "ZeroMQ" in title, title
    assert "core-to-core limit" in title, title
    assert " ns" in title or " \u00b5s" in title or "not measured" in title, title


bad = 0
for path in sys.argv[1:]:
    expect_ok = not path.endswith(".broken.svg")
    try:
        check(path)
        ok = True
    except (AssertionError, ET.ParseError, TypeError, ValueError) as error:
        ok = False
        reason = error
    if ok != expect_ok:
        bad += 1
        print("%s: %s" % (path, "accepted, but it is broken" if ok else "rejected: %r" % (reason,)))
sys.exit(1 if bad else 0)
EOF

# Broken copies the checker must reject: not XML; no zmq series; a series
# with its percentiles out of order; no legend.
sed 's|</svg>||' "$work/bench.svg" >"$work/a.broken.svg"
sed 's|class="series zmq"|class="series other"|g' "$work/bench.svg" >"$work/b.broken.svg"
"$PYTHON" - "$work/bench.svg" "$work/c.broken.svg" <<'EOF' || fail "cannot make a broken copy"
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
def reverse(match):
    points = [pair.split(",") for pair in match.group(2).split()]
    ys = [y for _, y in points][::-1]
    return match.group(1) + " ".join(x + "," + y for (x, _), y in zip(points, ys)) + '"'
text, count = re.subn(r'(id="series-zmq-ipc"[^>]*points=")([^"]*)"', reverse, text, count=1)
assert count == 1
open(sys.argv[2], "w", encoding="utf-8").write(text)
EOF
sed 's|id="legend"|id="notes"|' "$work/bench.svg" >"$work/d.broken.svg"

"$PYTHON" "$work/check.py" "$work/bench.svg" "$work/a.broken.svg" "$work/b.broken.svg" \
    "$work/c.broken.svg" "$work/d.broken.svg" || fail "the SVG check failed (above)"
echo "ok: the SVG is well-formed, with zshm and zmq series, axes, legend and title"
exit 0
