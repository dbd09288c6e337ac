# test_bridge_scenario.sh - the bridge scenario shared by test_bridge.sh
# (loopback) and test_bridge_netns.sh (two network namespaces).  Sourced,
# not run.  The caller sets:
#   RUN_A, RUN_B   command prefixes that run a program on host A or B
#                  ("" on loopback, "ip netns exec NS" with namespaces)
#   ADDR_A         host A's address as host B reaches it
#   PORT_A         port for A's data endpoint ("*" for an ephemeral one;
#                  the link endpoint is the next port, or ephemeral too)
#   WORK           a scratch directory, removed by the caller
# and calls run_scenario.  Every wait is bounded; every process started is
# killed by cleanup_scenario (the caller's trap calls it).
#
# Host A: a publisher on shm://X and `zshm-bridge shm://X tcp://ADDR_A:P`.
# Host B: `zshm-bridge tcp://ADDR_A:P shm://Y` with a zshm subscriber on Y,
# a zshm tcp subscriber and a plain pyzmq SUB on A's data port.  Then:
#   1. every subscriber receives the same messages intact;
#   2. B restarts: B's subscriber on Y sees exactly the messages published
#      while B was away missing, and the new B logs the link position it
#      joined at; A's clients are unaffected;
#   3. A restarts: B logs the upstream restart with the exact number of
#      source messages not carried (away=K), the plain clients reconnect;
#   4. B stalls (SIGSTOP) under a flood: ZeroMQ drops at A's high-water mark
#      and B counts the drops exactly (published + missing = sent);
#   5. hostile peers: garbage at A's endpoints, a fake upstream sending
#      malformed frames to a third bridge; everyone keeps running;
#   6. CURVE: an allowed bridge and an allowed plain client receive, an
#      unknown bridge, an unknown client and a client without CURVE get
#      nothing.

BRIDGE=$top_builddir/bridge/zshm-bridge
PUB=$top_builddir/tests/zshm_bridge_pub
SUB=$top_builddir/tests/zshm_bridge_sub
PYTHON=/usr/bin/python3
PYSUB="$PYTHON $top_srcdir/tests/test_bridge_sub.py"
FAKE="$PYTHON $top_srcdir/tests/test_bridge_fake.py"
SHMDIR=${ZSHM_DIR:-/dev/shm}
X=bridge-x-$$
Y=bridge-y-$$
Z=bridge-z-$$
C1=bridge-c1-$$
C2=bridge-c2-$$
PIDS=""

cleanup_scenario () {
    exec 7>&- 2>/dev/null
    for pid in $PIDS; do
        kill -TERM "$pid" 2>/dev/null
    done
    sleep 0.2
    for pid in $PIDS; do
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    for name in $X $Y $Z $C1 $C2; do
        rm -f "$SHMDIR/zshm.$name"
    done
}

fail () {
    echo "FAIL: $*"
    for log in "$WORK"/*.log; do
        [ -f "$log" ] || continue
        echo "----- $(basename "$log")"
        tail -n 25 "$log"
    done
    exit 1
}

# Start a background program; its pid is added to PIDS and stored in $1.
spawn () {
    local var=$1 log=$2
    shift 2
    "$@" > "$WORK/$log" 2>&1 &
    eval "$var=$!"
    PIDS="$PIDS $!"
}

# wait_for FILE PATTERN COUNT SECONDS: until PATTERN occurs COUNT times.
wait_for () {
    local file=$1 pattern=$2 count=$3 tenths=$(($4 * 10))
    while [ "$tenths" -gt 0 ]; do
        if [ -f "$file" ] && [ "$(grep -c -- "$pattern" "$file")" -ge "$count" ]; then
            return 0
        fi
        sleep 0.1
        tenths=$((tenths - 1))
    done
    fail "timed out waiting for '$pattern' x$count in $(basename "$file")"
}

# wait_exit PID SECONDS: wait for a process to end; its status in $EXIT.
wait_exit () {
    local pid=$1 tenths=$(($2 * 10))
    while kill -0 "$pid" 2>/dev/null && [ "$tenths" -gt 0 ]; do
        sleep 0.1
        tenths=$((tenths - 1))
    done
    kill -0 "$pid" 2>/dev/null && fail "process $pid did not end"
    wait "$pid"
    EXIT=$?
}

# stop_bridge PID LOG: SIGTERM, then it must exit 0 and print its stats.
stop_bridge () {
    kill -TERM "$1"
    wait_exit "$1" 10
    [ "$EXIT" = 0 ] || fail "bridge $2 exited $EXIT after SIGTERM"
    grep -q "zshm-bridge: exit " "$WORK/$2" || fail "bridge $2 printed no exit statistics"
}

# field NAME LINE: the value of NAME=... in a summary line.
field () {
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -n 1
}

# last_stats LOG: the last statistics line a bridge printed.
last_stats () {
    grep "zshm-bridge: \(stats\|exit\) " "$WORK/$1" | tail -n 1
}

# publish COUNT [SIZE [RATE]]: one batch from the long-lived publisher.
PUBLISHED=0
publish () {
    PUBLISHED=$((PUBLISHED + 1))
    echo "$1 ${2:-64} ${3:-0}" >&7
    wait_for "$WORK/pub.log" "^published" "$PUBLISHED" 30
}

# check_sub LOG RECEIVED MISSING: a subscriber's summary.
check_sub () {
    local line
    line=$(grep "^received=" "$WORK/$1" | tail -n 1)
    [ -n "$line" ] || fail "$1 printed no summary"
    [ "$(field bad "$line")" = 0 ] || fail "$1: bad messages: $line"
    [ "$(field received "$line")" = "$2" ] || fail "$1: want received=$2: $line"
    [ "$(field missing "$line")" = "$3" ] || fail "$1: want missing=$3: $line"
    [ "$(field duplicates "$line")" = 0 ] || fail "$1: duplicates: $line"
    echo "ok: $1 $line"
}

# endpoints LOG: "DATA_PORT LINK_PORT" from a serving bridge's log.
endpoints () {
    sed -n 's/.*serving .* on tcp:\/\/[^ ]*:\([0-9]*\) (bridges: tcp:\/\/[^ ]*:\([0-9]*\)).*/\1 \2/p' \
        "$WORK/$1" | tail -n 1
}

link_port_for () {
    if [ "$1" = "*" ]; then echo "*"; else echo $(($1 + 1)); fi
}

run_scenario () {
    local n1=2000 k1=100 n2=300 k2=150 n3=300
    local common="-v --stats 1 --heartbeat 1000"

    # --- 1. basics ---------------------------------------------------------
    spawn A a.log $RUN_A "$BRIDGE" "shm://$X" "tcp://$ADDR_A:$PORT_A" \
        --link "tcp://$ADDR_A:$(link_port_for "$PORT_A")" $common
    wait_for "$WORK/a.log" "serving shm://$X" 1 10
    set -- $(endpoints a.log)
    local data_port=$1 link_port=$2
    [ -n "$data_port" ] && [ -n "$link_port" ] || fail "no endpoints in a.log"
    echo "A serves data on $ADDR_A:$data_port, link on $ADDR_A:$link_port"
    local data="tcp://$ADDR_A:$data_port" link="tcp://$ADDR_A:$link_port"

    spawn B b.log $RUN_B "$BRIDGE" "$data" "shm://$Y" --link "$link" $common
    wait_for "$WORK/a.log" "bridge subscribed" 1 10
    wait_for "$WORK/b.log" "feeding shm://$Y" 1 10

    # Subscribers on B: the local ring, zshm over tcp, plain pyzmq.
    local total_y=$((n1 + n2 + n3)) total_plain=$((n1 + k1 + n2 + n3))
    spawn SY sub_y.log $RUN_B "$SUB" "shm://$Y" --count "$total_y" --timeout-ms 60000 \
        --idle-ms 20000 --ready-file "$WORK/ready_y"
    spawn ST sub_tcp.log $RUN_B "$SUB" "$data" --subscribe t --count "$total_plain" \
        --timeout-ms 60000 --idle-ms 20000 --ready-file "$WORK/ready_tcp"
    spawn SP sub_py.log $RUN_B $PYSUB "$data" --count "$total_plain" --timeout-ms 60000 \
        --idle-ms 20000 --ready-file "$WORK/ready_py"
    wait_for "$WORK/a.log" "plain client subscribed" 2 15
    for ready in y tcp py; do
        wait_for "$WORK/ready_$ready" "" 0 10
    done

    # The publisher: one writer for the whole test, fed batches on fd 7.
    mkfifo "$WORK/pub.fifo"
    $RUN_A "$PUB" "shm://$X" --stdin 1 < "$WORK/pub.fifo" > "$WORK/pub.log" 2>&1 &
    P=$!
    PIDS="$PIDS $P"
    exec 7> "$WORK/pub.fifo"
    publish $n1 64 20000
    wait_for "$WORK/b.log" "published=$n1 " 1 20
    echo "ok: 1. $n1 messages crossed"

    # --- 2. restart B ------------------------------------------------------
    stop_bridge "$B" b.log
    publish $k1 64 20000
    sleep 0.3
    spawn B b2.log $RUN_B "$BRIDGE" "$data" "shm://$Y" --link "$link" $common
    wait_for "$WORK/a.log" "resumes after $((n1 + k1))" 1 15
    publish $n2 64 20000
    wait_for "$WORK/b2.log" "joined link [0-9a-f]* after link sequence $((n1 + k1)) " 1 15
    echo "ok: 2. B restarted and joined after link sequence $((n1 + k1))"

    # --- 3. restart A ------------------------------------------------------
    stop_bridge "$A" a.log
    publish $k2 64 20000
    # A small high-water mark on the link: A sends the flood of part 4 in
    # batches (a ZeroMQ message each, up to 64 KiB), so the default of 10000
    # would hold all of it and nothing would be dropped to count.  The plain
    # clients keep the default, and must lose nothing.
    spawn A a2.log $RUN_A "$BRIDGE" "shm://$X" "$data" --link "$link" --linkhwm 100 $common
    wait_for "$WORK/a2.log" "serving shm://$X" 1 10
    wait_for "$WORK/a2.log" "bridge subscribed" 1 15
    wait_for "$WORK/a2.log" "plain client subscribed" 2 15
    publish $n3 64 20000
    wait_for "$WORK/b2.log" "upstream bridge restarted" 1 15
    grep -q "$k2 messages not carried while it was away (away=$k2)" "$WORK/b2.log" \
        || fail "B did not report the $k2 messages published while A was away"
    echo "ok: 3. A restarted; B reported away=$k2"

    for pid in $SY $ST $SP; do
        wait_exit "$pid" 30
    done
    check_sub sub_y.log $total_y $((k1 + k2))
    check_sub sub_tcp.log $total_plain $k2
    check_sub sub_py.log $total_plain $k2

    # --- 4. B stalls under a flood: drops counted exactly ---------------------
    # B is stopped (shorter than the 3 s heartbeat timeout) while A floods
    # it; A's XPUB drops at its high-water mark, silently.  B must count
    # exactly what it did not get: published + missing = what A sent.
    local flood=60000
    wait_for "$WORK/b2.log" "zshm-bridge: stats" 1 5
    wait_for "$WORK/a2.log" "zshm-bridge: stats" 1 5
    sleep 1.2
    local before_a before_b
    before_a=$(last_stats a2.log)
    before_b=$(last_stats b2.log)
    kill -STOP "$B"
    publish $flood 900 60000
    sleep 0.5
    kill -CONT "$B"
    # Until A's heartbeat has told B the last link sequence and both have
    # printed statistics since.
    local tries=150 stats_a stats_b sent lost received missing
    while [ $tries -gt 0 ]; do
        sleep 0.1
        tries=$((tries - 1))
        stats_a=$(last_stats a2.log)
        stats_b=$(last_stats b2.log)
        sent=$(($(field link "$stats_a") - $(field link "$before_a")))
        lost=$(($(field source_lost "$stats_a") - $(field source_lost "$before_a")))
        received=$(($(field published "$stats_b") - $(field published "$before_b")))
        missing=$(($(field missing "$stats_b") - $(field missing "$before_b")))
        [ $((sent + lost)) = "$flood" ] && [ $((received + missing)) = "$sent" ] && break
    done
    echo "flood of $flood: A read $((flood - lost)) (lost $lost in the ring), sent $sent;" \
         "B published $received and counted $missing missing"
    [ $((sent + lost)) = "$flood" ] || fail "A: sent $sent + source_lost $lost != $flood"
    [ $((received + missing)) = "$sent" ] \
        || fail "drops not accounted: B published $received + missing $missing != A sent $sent"
    [ "$missing" -gt 0 ] || fail "no drops under a stalled peer: $stats_b"
    echo "ok: 4. $missing drops counted exactly"

    # --- 5. hostile peers --------------------------------------------------
    $RUN_B timeout 60 $FAKE attack "$ADDR_A:$data_port" "$ADDR_A:$link_port" \
        > "$WORK/attack.log" 2>&1 || fail "attack script failed"
    wait_for "$WORK/a2.log" "refused a malformed link subscription" 1 10
    # A fake upstream on host B feeds a third bridge.
    spawn F fake.log $RUN_B timeout 30 $FAKE upstream "tcp://127.0.0.1:*"
    wait_for "$WORK/fake.log" "^bound" 1 10
    local fake
    fake=$(sed -n 's/^bound //p' "$WORK/fake.log")
    spawn SZ sub_z.log $RUN_B "$SUB" "shm://$Z" --count 3 --timeout-ms 20000 \
        --ready-file "$WORK/ready_z"
    wait_for "$WORK/ready_z" "" 0 10
    spawn C c.log $RUN_B "$BRIDGE" "$fake" "shm://$Z" --link "$fake" $common
    wait_exit "$SZ" 25
    check_sub sub_z.log 3 0
    wait_exit "$F" 10
    [ "$EXIT" = 0 ] || fail "fake upstream failed"
    stop_bridge "$C" c.log
    local stats_c
    stats_c=$(last_stats c.log)
    # 8 bad messages and 7 bad batches malformed, 1 of each too large; the
    # good message and the good batch of two published
    [ "$(field malformed "$stats_c")" = 15 ] || fail "third bridge: want malformed=15: $stats_c"
    [ "$(field oversized "$stats_c")" = 2 ] || fail "third bridge: want oversized=2: $stats_c"
    [ "$(field published "$stats_c")" = 3 ] || fail "third bridge: want published=3: $stats_c"
    [ "$(field batches "$stats_c")" = 1 ] || fail "third bridge: want batches=1: $stats_c"
    # A and B still carry messages.
    spawn SY2 sub_y2.log $RUN_B "$SUB" "shm://$Y" --count 200 --timeout-ms 20000 \
        --ready-file "$WORK/ready_y2"
    wait_for "$WORK/ready_y2" "" 0 10
    publish 200 64 20000
    wait_exit "$SY2" 25
    check_sub sub_y2.log 200 0
    [ "$(field refused "$(last_stats a2.log)")" -gt 0 ] || fail "A counted no refused input"
    echo "ok: 5. hostile peers dropped, bridges unharmed"

    # --- 6. CURVE ----------------------------------------------------------
    mkdir -p "$WORK/allowed"
    "$BRIDGE" --keygen "$WORK/server" > /dev/null || fail "keygen failed"
    "$BRIDGE" --keygen "$WORK/allowed/good" > /dev/null || fail "keygen failed"
    "$BRIDGE" --keygen "$WORK/evil" > /dev/null || fail "keygen failed"
    [ -f "$WORK/server_secret" ] && [ -f "$WORK/allowed/good_secret" ] || fail "no certificates"
    # The allow-list holds public certificates only.
    mv "$WORK/allowed/good_secret" "$WORK/good_secret"
    local cport=$PORT_A
    [ "$PORT_A" = "*" ] || cport=$((PORT_A + 10))
    spawn AC ac.log $RUN_A "$BRIDGE" "shm://$X" "tcp://$ADDR_A:$cport" \
        --link "tcp://$ADDR_A:$(link_port_for "$cport")" $common \
        --curve-server "$WORK/server_secret" --curve-allow "$WORK/allowed"
    wait_for "$WORK/ac.log" "serving shm://$X" 1 10
    set -- $(endpoints ac.log)
    local cdata="tcp://$ADDR_A:$1" clink="tcp://$ADDR_A:$2"
    spawn BG bg.log $RUN_B "$BRIDGE" "$cdata" "shm://$C1" --link "$clink" $common \
        --curve-client "$WORK/good_secret" --curve-server-key "$WORK/server"
    spawn BE be.log $RUN_B "$BRIDGE" "$cdata" "shm://$C2" --link "$clink" $common \
        --curve-client "$WORK/evil_secret" --curve-server-key "$WORK/server"
    wait_for "$WORK/ac.log" "bridge subscribed" 1 10
    local count=300
    spawn S1 sub_c1.log $RUN_B "$SUB" "shm://$C1" --count $count --timeout-ms 15000 \
        --ready-file "$WORK/ready_c1"
    spawn S2 sub_c2.log $RUN_B "$SUB" "shm://$C2" --count $count --timeout-ms 8000 \
        --ready-file "$WORK/ready_c2"
    spawn PG py_good.log $RUN_B $PYSUB "$cdata" --count $count --timeout-ms 15000 \
        --curve-server-cert "$WORK/server" --curve-cert "$WORK/good_secret" \
        --ready-file "$WORK/ready_pg"
    spawn PE py_evil.log $RUN_B $PYSUB "$cdata" --count $count --timeout-ms 8000 \
        --curve-server-cert "$WORK/server"
    spawn PN py_none.log $RUN_B $PYSUB "$cdata" --count $count --timeout-ms 8000
    wait_for "$WORK/ac.log" "plain client subscribed" 1 10
    for ready in c1 c2 pg; do
        wait_for "$WORK/ready_$ready" "" 0 10
    done
    sleep 0.5
    publish $count 64 20000
    for pid in $S1 $S2 $PG $PE $PN; do
        wait_exit "$pid" 20
    done
    check_sub sub_c1.log $count 0
    check_sub py_good.log $count 0
    check_sub sub_c2.log 0 0
    check_sub py_evil.log 0 0
    check_sub py_none.log 0 0
    stop_bridge "$BE" be.log
    [ "$(field received "$(last_stats be.log)")" = 0 ] || fail "the unknown bridge received"
    echo "ok: 6. CURVE lets the allowed in and keeps the unknown out"

    stop_bridge "$BG" bg.log
    stop_bridge "$AC" ac.log
    stop_bridge "$B" b2.log
    stop_bridge "$A" a2.log
    exec 7>&-
    wait_exit "$P" 10
    [ "$EXIT" = 0 ] || fail "publisher exited $EXIT"
}
