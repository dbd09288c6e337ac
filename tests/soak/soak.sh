#!/bin/bash
#  =========================================================================
#  soak.sh - zshm under steady load for minutes: integrity, loss, RSS, fds
#
#  Not part of `make check`.  From a build directory:
#      make soak SOAK_MINUTES=10 [SOAK_RATE=20000]
#  or directly:
#      tests/soak/soak.sh --builddir BUILD [--minutes 10] [--rate 20000]
#
#  What runs (channel names carry this script's pid):
#      pub      soak_pub on shm://soak-PID-a (65536 slots of 1 KiB), paced
#               at --rate messages a second, sizes 16 B - 16 KiB (soak.h)
#      backoff  zshm_sub, idle=backoff          \
#      block    zshm_sub, idle=block             |  on soak-PID-a
#      yield    zshm_sub, idle=yield             |
#      actor    the zshm_subscriber actor, as a SUB socket, idle=block
#      serve    zshm-bridge shm://soak-PID-a tcp://127.0.0.1:PORT
#      tcp      zshm_sub on tcp://127.0.0.1:PORT (a plain ZeroMQ SUB)
#      feed     zshm-bridge tcp://127.0.0.1:PORT shm://soak-PID-b (the
#               bridge-to-bridge link, PORT + 1)
#      hop2     zshm_sub on soak-PID-b, idle=backoff: two bridges away
#
#  Every subscriber checks every message (size, checksum, every byte,
#  rising sequence numbers) and counts gaps.  Every --interval seconds
#  (10) the script samples VmRSS, RssAnon and the open file descriptors of
#  every process.  At the end it prints, per subscriber, messages, loss and
#  integrity errors, and per process RSS and fds: first sample, after the
#  warm-up (--warmup seconds, 60), last and max; and the CPU each used.
#
#  It fails (exit 1) if any process dies, any message is corrupt or out of
#  order, RSS grows after the warm-up by more than --rss-margin KiB (4096),
#  or any process ends with more fds than after the warm-up.  Loss is
#  counted and reported, not judged: on a busy machine a TCP hop may drop.
#  Files: samples.csv, summary.txt and every process's log in --out
#  (default /tmp/zshm-soak-PID).
#  =========================================================================

set -u

minutes=10
rate=20000
interval=10
warmup=60
rss_margin=4096
builddir=.
out=

usage () {
    sed -n '3,36p' "$0" | sed 's/^#  \{0,1\}//'
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case $1 in
        --minutes) minutes=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --interval) interval=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --rss-margin) rss_margin=$2; shift 2 ;;
        --builddir) builddir=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "soak.sh: unknown argument $1" >&2; usage 1 >&2 ;;
    esac
done

pub_bin=$builddir/tests/soak/soak_pub
sub_bin=$builddir/tests/soak/soak_sub
bridge_bin=$builddir/bridge/zshm-bridge
for program in "$pub_bin" "$sub_bin" "$bridge_bin"; do
    [ -x "$program" ] || { echo "soak.sh: $program not built (make soak builds it)" >&2; exit 1; }
done
out=${out:-/tmp/zshm-soak-$$}
mkdir -p "$out" || exit 1
shm_dir=${ZSHM_DIR:-/dev/shm}
channel_a=soak-$$-a
channel_b=soak-$$-b
duration=$((minutes * 60))
# The warm-up takes at most a fifth of a short run
[ $warmup -gt $((duration / 5)) ] && warmup=$((duration / 5))

# Two free neighbouring ports: the bridge serves plain SUBs on PORT and
# other bridges on PORT + 1.
port=$(/usr/bin/python3 - <<'EOF'
import socket
for attempt in range(200):
    a = socket.socket(); b = socket.socket()
    try:
        a.bind(("127.0.0.1", 0)); port = a.getsockname()[1]
        b.bind(("127.0.0.1", port + 1))
        print(port); break
    except OSError:
        pass
    finally:
        a.close(); b.close()
EOF
)
[ -n "$port" ] || { echo "soak.sh: no free port pair" >&2; exit 1; }

labels=()
pids=()
# start LABEL COMMAND...: run it in the background, its output in out/LABEL.log
start () {
    local label=$1
    shift
    "$@" > "$out/$label.log" 2>&1 &
    labels+=("$label")
    pids+=($!)
}

cleanup () {
    for pid in "${pids[@]}"; do
        kill -KILL "$pid" 2> /dev/null
    done
    rm -f "$shm_dir/zshm.$channel_a" "$shm_dir/zshm.$channel_b"
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted"; exit 1' INT TERM

ring="capacity=65536&slot=1024"
start backoff "$sub_bin" backoff "shm://$channel_a?idle=backoff"
start block "$sub_bin" block "shm://$channel_a?idle=block"
start yield "$sub_bin" yield "shm://$channel_a?idle=yield"
start actor "$sub_bin" actor "shm://$channel_a?idle=block" --actor
start serve "$bridge_bin" "shm://$channel_a" "tcp://127.0.0.1:$port"
start tcp "$sub_bin" tcp "tcp://127.0.0.1:$port"
start feed "$bridge_bin" "tcp://127.0.0.1:$port" "shm://$channel_b?$ring"
start hop2 "$sub_bin" hop2 "shm://$channel_b?idle=backoff"
# Let the TCP subscriptions settle before the first message
sleep 2
start pub "$pub_bin" "shm://$channel_a?$ring" --rate "$rate"

echo "soak.sh: $minutes min at $rate msg/s, port $port, samples every $interval s," \
     "warm-up $warmup s; output in $out"
samples=$out/samples.csv
echo "elapsed,label,pid,vmrss_kb,rssanon_kb,fds,cpu_ticks" > "$samples"
failed=0
began=$(date +%s)
next=$began
while :; do
    now=$(date +%s)
    elapsed=$((now - began))
    for index in "${!pids[@]}"; do
        pid=${pids[$index]}
        label=${labels[$index]}
        if ! kill -0 "$pid" 2> /dev/null || [ ! -r "/proc/$pid/status" ]; then
            echo "soak.sh: FAIL: $label (pid $pid) died after $elapsed s; its log:" >&2
            tail -n 20 "$out/$label.log" >&2
            failed=1
            break 2
        fi
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
        anon=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status")
        fds=$(ls "/proc/$pid/fd" 2> /dev/null | wc -l)
        # utime + stime: fields 14 and 15 of stat, counted after "(comm) "
        ticks=$(sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')
        echo "$elapsed,$label,$pid,$rss,$anon,$fds,$ticks" >> "$samples"
    done
    [ $elapsed -ge $duration ] && break
    next=$((next + interval))
    pause=$((next - $(date +%s)))
    [ $pause -gt 0 ] && sleep $pause
done

# Stop the publisher, let everything drain, then the subscribers, then the
# bridges (each prints its totals when it stops).
stop () {
    local label=$1 index
    for index in "${!labels[@]}"; do
        if [ "${labels[$index]}" = "$label" ]; then
            kill -TERM "${pids[$index]}" 2> /dev/null
            wait "${pids[$index]}" 2> /dev/null
            return
        fi
    done
}
stop pub
sleep 5
for label in backoff block yield actor tcp hop2; do stop "$label"; done
for label in serve feed; do stop "$label"; done
pids=()

/usr/bin/python3 - "$out" "$minutes" "$rate" "$warmup" "$rss_margin" "$failed" \
    "$(getconf CLK_TCK)" <<'EOF'
import csv, re, sys
out, minutes, rate, warmup, margin, failed = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
tick = int(sys.argv[7])
lines = []
def say(text=""):
    lines.append(text)
    print(text)
def fields(label, prefix):
    try:
        text = open(f"{out}/{label}.log").read()
    except OSError:
        return None
    found = [line for line in text.splitlines() if line.startswith(prefix)]
    return dict(re.findall(r"(\w+)=(\d+)", found[-1])) if found else None

pub = fields("pub", "soak_pub ")
sent = int(pub["last"]) if pub else 0
say(f"soak: {minutes} min, offered {rate} msg/s; published {sent} messages "
    f"({sent / (int(minutes) * 60):.0f}/s on average), behind its pace in "
    f"{pub['late'] if pub else '?'} seconds")
say()
say(f"{'subscriber':<10} {'received':>11} {'first':>9} {'lost':>9} {'loss %':>8} "
    f"{'bad':>5} {'order':>5} {'sublost':>9} {'dropped':>8}")
for label in ["backoff", "block", "yield", "actor", "tcp", "hop2"]:
    sub = fields(label, f"soak_sub {label} received=")
    if not sub:
        say(f"{label:<10} no final report")
        failed = 1
        continue
    received, first, last = int(sub["received"]), int(sub["first"]), int(sub["last"])
    # Loss from the first message received: gaps, and the tail never seen
    lost = int(sub["gaps"]) + (sent - last if received else 0)
    span = sent - first + 1 if received else 0
    percent = 100.0 * lost / span if span else 0.0
    say(f"{label:<10} {received:>11} {first:>9} {lost:>9} {percent:>8.4f} {sub['bad']:>5} "
        f"{sub['disorder']:>5} {sub['sublost']:>9} {sub['dropped']:>8}")
    if int(sub["bad"]) or int(sub["disorder"]) or received == 0:
        say(f"  FAIL: {label}: corrupt or disordered messages, or none at all")
        failed = 1

# Loss accounting across the bridges: what hop2 missed is what the feed
# bridge saw missing on its link plus what hop2 lost on its own ring.
try:
    exits = [line for line in open(f"{out}/feed.log") if " exit " in line]
    missing = int(re.search(r"missing=(\d+)", exits[-1]).group(1)) if exits else None
except OSError:
    missing = None
hop2 = fields("hop2", "soak_sub hop2 received=")
if hop2 and missing is not None:
    lost = int(hop2["gaps"]) + sent - int(hop2["last"])
    accounted = missing + int(hop2["sublost"])
    say(f"hop2 lost {lost}; the feed bridge counted {missing} missing on its link and hop2 "
        f"{hop2['sublost']} on its ring: {'exact' if lost == accounted else 'MISMATCH'}")

samples = {}
for row in csv.DictReader(open(f"{out}/samples.csv")):
    samples.setdefault(row["label"], []).append(row)
say()
say(f"{'process':<8} {'VmRSS KiB: first':>17} {'warm':>8} {'last':>8} {'max':>8}   "
    f"{'RssAnon: warm':>13} {'last':>7}   {'fds: first':>10} {'warm':>5} {'last':>5} {'max':>5}"
    f"   {'cpu %':>5}")
for label, rows in samples.items():
    warm = next((row for row in rows if int(row["elapsed"]) >= warmup), rows[-1])
    first, last = rows[0], rows[-1]
    rss = lambda row: int(row["vmrss_kb"])
    anon = lambda row: int(row["rssanon_kb"])
    fds = lambda row: int(row["fds"])
    # CPU used between two samples, percent of one core
    cpu = lambda a, b: 100.0 * (int(b["cpu_ticks"]) - int(a["cpu_ticks"])) / tick \
        / max(1, int(b["elapsed"]) - int(a["elapsed"]))
    after = [row for row in rows if int(row["elapsed"]) >= int(warm["elapsed"])]
    say(f"{label:<8} {rss(first):>17} {rss(warm):>8} {rss(last):>8} "
        f"{max(map(rss, rows)):>8}   {anon(warm):>13} {anon(last):>7}   "
        f"{fds(first):>10} {fds(warm):>5} {fds(last):>5} {max(map(fds, rows)):>5}   "
        f"{cpu(first, last):>5.1f}")
    if rss(last) > rss(warm) + margin:
        say(f"  FAIL: {label}: RSS grew {rss(last) - rss(warm)} KiB after the warm-up")
        failed = 1
    if fds(last) > fds(warm):
        say(f"  FAIL: {label}: fds grew from {fds(warm)} to {fds(last)} after the warm-up")
        failed = 1
    if len(after) < 2:
        say(f"  note: {label}: too few samples after the warm-up to judge growth")
say()
say("soak: FAILED" if failed else "soak: passed")
open(f"{out}/summary.txt", "w").write("\n".join(lines) + "\n")
sys.exit(1 if failed else 0)
EOF
