/*  =========================================================================
    ring.pml - a Promela model of the zshm ring protocol, for spin

    One writer and two readers on a ring of CAP slots (2 or 4: the real
    ring is a power of two).  The writer publishes N messages, enough to
    wrap the ring and lap the readers.  Each step below is a labelled step
    of the protocol drawn at the top of plugin/zshm_ring.c (W1-W4, R1-R5)
    or of plugin/zshm_reader.c (s_read, s_judge, s_resync, peek/advance,
    seek_latest/seek_oldest).

    Granularity: every load or store of a shared word (a state word, a
    length, one payload word, the head hint) is its own step, so spin
    explores every interleaving of them.  Work on a process's private
    variables is folded into the step of the shared access next to it
    (d_step/atomic blocks hold at most one shared access, plus ghost
    variables), which changes no interleaving that matters and keeps the
    state space small.

    Memory model: spin interleaves steps, i.e. sequential consistency.
    The fences W2 and R4 are therefore no-ops here; why they suffice under
    C11 is argued in zshm_ring.c, not checked here (see README.md).  The
    head hint is loaded relaxed in the code and only ever lags; the model
    lets each load of it return any value between the last one this reader
    saw and the current one (per-location coherence): every lag C11 allows.

    Build switches (spin -DNAME=...):
        CAP     slots, 2 or 4                               (default 2)
        N       messages the writer publishes                (default 4)
        READER0, READER1  MODE_COPY (try_recv: s_read) or MODE_PEEK (peek,
                copy in place, advance)        (default COPY and PEEK)
        ONE_READER  model reader 0 only (readers never write anything the
                other reads, so each reader's properties hold alone or in
                company; this buys a larger N)
        NO_CHECK_AHEAD  leave out the "never ahead of the writer" check
        OLD_RESYNC  negative check: s_resync as it was before commit 3db4895
        EARLY_MARK  the writer as the code is now: W1 for k+2 at the end
                of the commit of k on rings of more than 2 slots, otherwise
                in the reserve of k for k+1; seek_oldest skips every dirty
                slot.  Without it, the earlier writer (W1 for k+1 in the
                reserve of k), which the protocol equally allows.
        NO_W1   negative check: the writer skips W1 (the dirty mark)
        NO_R5   negative check: readers skip R5 (the re-check)
    With NO_W1 or NO_R5 spin must find a torn delivery; tests/test_model.sh
    insists that it does, to show that the checks can fail.

    Checked (assert), per reader:
        - a delivered message is exactly the one its sequence names: its
          length and every payload word were written for that sequence
          (no torn delivery);
        - delivered sequences strictly increase, and each is the reader's
          position (no duplicate, no reordering, no silent skip);
        - a delivered sequence had been committed (W4) when the reader's
          R1 saw it: the reader never delivers what the writer has not
          published;
        - the reader's position never runs ahead of the next message the
          writer commits (it never writes off a message not yet written);
        - at the end every reader stands at N+1 and delivered + lost ==
          N+1 - start: every message from its start on is delivered or
          counted lost, exactly once.
    Spin's end-state check adds that no reader hangs once the writer is
    done: every process terminates.
    =========================================================================
*/

#ifndef CAP
#define CAP 2
#endif
#ifndef N
#define N 4
#endif
#define MASK   (CAP - 1)
#define HALF   (CAP / 2)

#define MODE_COPY 0
#define MODE_PEEK 1
#ifndef READER0
#define READER0 MODE_COPY
#endif
#ifndef READER1
#define READER1 MODE_PEEK
#endif

//  State word: bit 7 is the dirty bit, bits 0-6 the sequence (N < 120).
#define DIRTY  128
#define SEQ(s) ((s) & 127)

//  A slot holds up to WORDS payload words (slot_size).  Message k is LEN(k)
//  words long, word w being WORD(k, w): both derived from the sequence, so
//  a copy that mixes two laps cannot pass for either.
#define WORDS     2
#define LEN(k)    (1 + ((k) & 1))
#define WORD(k,w) (2 * (k) + (w))

//  What one receive attempt ends with.
#define R_AGAIN   0     //  nothing delivered; try again (try_recv's EAGAIN)
#define R_WAIT    1     //  s_judge said S_WAIT: nothing published yet
#define R_GOT     2     //  a message was delivered
#define R_PEEKED  3     //  peek returned a message, advance pending

//  s_judge's verdicts.
#define S_WAIT    0
#define S_READY   1
#define S_LAPPED  2

typedef slot_t {
    byte state;                 //  DIRTY | seq
    byte length;                //  payload words
    byte payload [WORDS]        //  payload words
};

slot_t slot [CAP];
byte head;                      //  header head hint: next seq to publish
byte committed;                 //  ghost: last seq whose W4 has happened
bool writer_done;               //  ghost: the writer has finished

proctype writer ()
{
    byte k = 1;
    byte w;
    byte marked;                //  EARLY_MARK: highest seq marked dirty
    do
    :: k <= N ->
#ifndef NO_W1
#ifdef EARLY_MARK
        //  W1 in the reserve of k, for k+1, unless already marked.
        if
        :: marked < k + 1 -> atomic { slot [(k + 1) & MASK].state = DIRTY | (k + 1); marked = k + 1 }
        :: else -> skip
        fi;
#else
        //  W1: mark the slot after ours dirty (relaxed).
        slot [(k + 1) & MASK].state = DIRTY | (k + 1);
#endif
#endif
        //  W2: release fence, a no-op under sequential consistency.
        //  W3: the payload one word at a time, then the length
        //  (zshm_ring_send: reserve, copy, commit).
        do
        :: atomic { w < LEN (k) -> slot [k & MASK].payload [w] = WORD (k, w); w++ }
        :: atomic { else -> slot [k & MASK].length = LEN (k); w = 0; break }
        od;
        //  W4: publish (release).  The ghost moves in the same step.
        atomic { slot [k & MASK].state = k; committed = k };
#if defined(EARLY_MARK) && !defined(NO_W1)
        //  W1 for k+2 at the end of the commit (rings of more than 2).
        if
        :: CAP > 2 -> atomic { slot [(k + 2) & MASK].state = DIRTY | (k + 2); marked = k + 2 }
        :: else -> skip
        fi;
#endif
        //  The head hint (relaxed), for late readers and resync.
        atomic { head = k + 1; k++ }
    :: else -> break
    od;
    writer_done = true
}

//  A relaxed load of the head hint into h: the current value or any older
//  one not older than what this reader has already seen.
inline load_head ()
{
    h = head;
    do
    :: h > seen_head -> h--
    :: break
    od;
    seen_head = h
}

//  s_resync: we expected `position` but its slot holds a later lap, state
//  word st.  The newest message surely published is st's own if st is
//  clean, two before it if st is a dirty mark (W1 of the message before
//  it, which may still be being written).  Resume half a ring behind that
//  or behind the head hint, whichever is later, always moving forward, and
//  count what we skip as lost.  One shared access: the head hint.
//
//  OLD_RESYNC is the code before commit 3db4895 (target = seq + 1 - half
//  whatever the dirty bit): a negative check, see README.md.
inline s_resync (st)
{
    atomic {
#ifdef OLD_RESYNC
        target = SEQ (st) + 1 - HALF;
#else
        if
        :: !((st) & DIRTY) -> target = SEQ (st)
        :: else -> target = (SEQ (st) > 2 -> SEQ (st) - 2 : 0)
        fi;
        target = (target + 1 > HALF -> target + 1 - HALF : 0);
#endif
        load_head ();
        if
        :: h > HALF && h - HALF > target -> target = h - HALF
        :: else -> skip
        fi;
        if
        :: target <= position -> target = position + 1
        :: else -> skip
        fi;
        assert (target > position);         //  always forward
#ifndef NO_CHECK_AHEAD
        //  Never ahead of the next message the writer commits.
        assert (target <= committed + 1);
#endif
        lost = lost + target - position;
        position = target;
        target = 0;
        h = 0
    }
}

//  R1 (acquire) and s_judge.  The ghost `was_committed` is sampled in the
//  same step, so it says whether W4 of `expected` had happened by then.
inline r1_judge ()
{
    atomic {
        expected = position;
        state = slot [expected & MASK].state;
        was_committed = (committed >= expected);
        if
        :: SEQ (state) > expected -> verdict = S_LAPPED
        :: SEQ (state) == expected && !(state & DIRTY) -> verdict = S_READY
        :: else -> verdict = S_WAIT
        fi
    }
}

//  R3: copy `copy` words of slot `expected` into private memory, one
//  relaxed load per word.
inline r3_copy ()
{
    do
    :: atomic { w < copy -> buf [w] = slot [expected & MASK].payload [w]; w++ }
    :: atomic { else -> w = 0; break }
    od
}

//  R5 (after the R4 fence, a no-op here): load the state word again.
inline r5_recheck ()
{
#ifdef NO_R5
    again = state
#else
    again = slot [expected & MASK].state
#endif
}

//  zshm_reader_try_recv: s_read, R1 to R5, at most CAP+1 rounds.
inline s_read ()
{
    do
    :: round > CAP -> break
    :: else ->
        r1_judge ();
        if
        :: verdict == S_WAIT -> result = R_WAIT; break
        :: verdict == S_LAPPED -> s_resync (state)
        :: verdict == S_READY ->
            //  R2: the length, clamped to the slot (and to the caller's
            //  buffer, which holds a whole slot here).
            atomic {
                size = slot [expected & MASK].length;
                copy = (size < WORDS -> size : WORDS)
            };
            r3_copy ();
            r5_recheck ();
            if
            :: again != state -> s_resync (again)
            :: else ->
                if
                :: size > WORDS -> position = expected + 1; lost++     //  corrupt: never here
                :: else -> position = expected + 1; delivered++; result = R_GOT; break
                fi
            fi
        fi;
        round++
    od
}

//  zshm_reader_peek, then the caller's in-place reads (its R3), then
//  zshm_reader_advance (R4, R5 against the state the peek saw).
inline peek_advance ()
{
    do
    :: round > CAP -> break
    :: else ->
        r1_judge ();
        if
        :: verdict == S_WAIT -> result = R_WAIT; break
        :: verdict == S_LAPPED -> s_resync (state)
        :: verdict == S_READY ->
            size = slot [expected & MASK].length;          //  R2
            if
            :: size > WORDS ->
                //  Torn or corrupt: R4/R5 decide which (never here).
                r5_recheck ();
                if
                :: again != state -> s_resync (again)
                :: else -> position++; lost++
                fi
            :: else -> result = R_PEEKED; break
            fi
        fi;
        round++
    od;
    if
    :: result == R_PEEKED ->
        copy = size;
        r3_copy ();
        r5_recheck ();
        if
        :: again != state -> s_resync (again); result = R_AGAIN
        :: else -> position++; delivered++; result = R_GOT
        fi
    :: else -> skip
    fi
}

proctype reader (bit mode)
{
    byte position;              //  seq expected next
    byte start;                 //  position after the initial seek
    byte lost;                  //  messages counted lost
    byte delivered;             //  messages delivered
    byte seen_head = 1;         //  latest head value this reader loaded
    byte h, target, expected, state, again, verdict, size, copy, w, round, result;
    byte buf [WORDS];
    bool was_committed, done_before;

    //  zshm_reader_new seeks the latest message; zshm_reader_seek_oldest
    //  may follow.  Either start, at any moment of the writer's run.
    if
    :: atomic {                                             //  seek_latest
            load_head ();
            position = (h > 0 -> h : 1)
        }
    :: atomic {                                             //  seek_oldest
            load_head ();
            position = (h > CAP - 1 -> h - (CAP - 1) : 1)
        };
        //  A reservation in progress has marked the oldest slot for its
        //  next lap (relaxed load): start one later.  EARLY_MARK: skip
        //  every marked slot, one load each.
#ifdef EARLY_MARK
        do
        :: atomic { position < h && (slot [position & MASK].state & DIRTY) -> position++ }
        :: else -> break
        od
#else
        atomic {
            if
            :: position < h && (slot [position & MASK].state & DIRTY) -> position++
            :: else -> skip
            fi
        }
#endif
    fi;
    atomic { h = 0; start = position };

    do
    :: //  Sample `writer_done` first: if it was already set and the attempt
       //  still finds nothing published, nothing ever will be.
        atomic { done_before = writer_done; result = R_AGAIN; round = 0 };
        if
        :: mode == MODE_COPY -> s_read ()
        :: else -> peek_advance ()
        fi;
        atomic {
            if
            :: result == R_GOT ->
                //  What R1 saw was committed, it is the seq we expected
                //  (and the position moved one past it: as positions only
                //  grow, delivered seqs strictly increase), it is intact.
                assert (was_committed);
                assert (expected >= start && expected + 1 == position);
                assert (size == LEN (expected));
                assert (buf [0] == WORD (expected, 0));
                assert (size < 2 || buf [1] == WORD (expected, 1))
            :: else -> skip
            fi;
            buf [0] = 0; buf [1] = 0; again = 0;
            size = 0; copy = 0; round = 0; was_committed = 0
        };
        if
        :: result == R_WAIT && done_before -> break
        :: result == R_WAIT && !done_before ->
            //  Polling a slot that has not changed only repeats this
            //  state; wait (as spin) until it changes or the writer ends.
            (slot [expected & MASK].state != state || writer_done)
        :: else -> skip
        fi;
        atomic { expected = 0; state = 0; verdict = 0; result = 0; done_before = 0 }
    od;
    //  Drained: everything from `start` to N was delivered or counted lost.
    assert (position == N + 1);
    assert (delivered + lost == position - start)
}

init
{
    //  s_layout_init: slot 1 starts dirty, every other slot clean with
    //  seq 0 (which no reader expects); the head hint is 1.
    atomic {
        slot [1 & MASK].state = DIRTY | 1;
        head = 1;
        run writer ();
        run reader (READER0);
#ifndef ONE_READER
        run reader (READER1)
#endif
    }
}
