"""Who fetches which bytes of one large file: pieces handed out lowest first, work stolen
from connections that would finish last (ADR 0225), and the end hedged (ADR 0295).

Each connection holds one `Assignment`: the span it asked for, the byte it got to
(`cursor`) and where it must stop (`end`), which a thief may move down. A connection
claims the bytes of each chunk it received before writing them (`claim`): what lies past
its `end` was stolen and is dropped, and what a hedge's partner wrote first is skipped, so
no byte is written or counted by two connections and every byte of the file is written by
exactly one of them, or lies in the pieces not handed out.

A connection asking for work (`take`) gets, in order:
1. part of a laggard: a connection whose rate is under LAGGARD of the typical one and which
   would still need more than LAGGARD_WORTH_S: it would otherwise hold up the contiguous
   prefix (and the hash following it) and the end of the file;
2. the lowest piece not yet handed out;
3. part of the connection that would finish last, when it would need more than
   STEAL_WORTH_S;
4. a hedge (ADR 0295): when nothing is left to hand out or steal, the same bytes as a
   connection that is slow, or whose request has shown no rate yet, and that would take
   more than HEDGE_WORTH_S and more than HEDGE_GAIN times what a typical connection would.
   Both fetch them; each byte is written by whichever connection gets to it first: the
   hedge drops what its partner wrote already (`claim` says how much of a chunk to skip)
   and, once it gets past its partner, takes the rest over and the partner stops. A
   connection whose request landed on a slow edge late in the file (a new connection, often)
   no longer holds the end for the time its rate takes to show.
A steal splits what the victim has left so that both finish together at their rates (half
when the rates are equal or unknown): the thief takes the upper part. An assignment is
fetched as requests of about REQUEST_S of the typical rate (`next_request`; shorter near
the end of the file, so that the last requests end together), and a thief
takes only what lies past the victim's request in flight: the victim's connection stays
open and nothing already on its way is dropped. A laggard's request, or one that would still
take more than CUT_AFTER_S, is the exception: it is cut, which drops what it had in flight. No lock
is held while bytes are written; the plan's own lock guards only its bookkeeping.
"""

import statistics
import threading
from collections import deque
from collections.abc import Callable

from devon_adapters.transfer.byte_ranges import Span

RATE_AFTER_S = 0.3
"""A connection's rate is known once it has been open this long."""
LAGGARD = 0.2
"""A connection slower than this fraction of the typical one is stolen from first."""
SMALLEST_STEAL = 64 * 1024
"""A steal leaves the victim and takes at least this many bytes (but a laggard's: all it has
left, however little)."""
REQUEST_S = 1.0
ENDGAME_REQUEST_S = 0.2
"""Near the end of the file a request asks for no more than the time the whole file has
left (`next_request`), so that the connections' last requests end close together instead of
up to REQUEST_S apart; but never for less than this long at the typical rate: a request
costs a round trip."""
CUT_AFTER_S = 1.5
"""A request that would still take longer than this may be cut by a thief."""
MIN_REQUEST = 512 * 1024
RECENT = 16
"""How many finished assignments' rates count towards the typical rate."""
LAGGARD_WORTH_S = 0.25
"""A laggard that would finish within this long is left alone."""
STEAL_WORTH_S = 0.25
"""A connection at the typical rate that would finish within this long is left alone: a
steal costs a new request and what the victim's answer has in flight when it stops."""
HEDGE_WORTH_S = 0.2
"""A connection that would still need this long (or more) may be hedged..."""
HEDGE_GAIN = 2.0
"""...when that is more than this many times what its bytes would take at the typical rate."""
FIRST_GUESS_S = 0.1
"""A request's rate is guessed for hedging once it was asked this long ago, and at least
FIRST_BYTE_TIMES the typical wait for a request's first byte (a round trip, a new
connection's handshakes): what arrived since, over that time."""
FIRST_BYTE_TIMES = 2.0


class Assignment:
    """The bytes one connection is fetching: `[cursor, end)` still to come."""

    def __init__(self, start: int, end: int, now: float) -> None:
        self.start = start
        self.cursor = start
        self.end = end
        self.opened_at = now
        self.asked_to = start
        """Where the request in flight ends: a steal (but from a laggard) leaves it whole,
        so that no byte already on its way is dropped."""
        self.on_emptied: Callable[[], None] | None = None
        """Called when a thief took all it had left (its connection is then closed)."""
        self.request_at: float | None = None
        """When the first bytes of the request in flight (`WorkPlan.next_request`) were
        claimed, and the cursor past them: its rate from there is the connection's as it is
        now, whatever the wait for its first byte was (under load, a busy process's)."""
        self.request_from = start
        self.asked_at = now
        """When the request in flight was asked, and the cursor then."""
        self.asked_from = start
        self.hedge_of: Assignment | None = None
        """A hedge: the assignment whose bytes it fetches too (bytes under that one's
        cursor are its to write)."""
        self.hedged_by: Assignment | None = None
        """The hedge fetching this assignment's bytes too."""
        self.written_to = start
        """A hedge whose partner left first: where the partner had written to."""

    @property
    def remaining(self) -> int:
        return max(self.end - self.cursor, 0)

    @property
    def owed(self) -> int:
        """Bytes only this connection will write: none for a hedge while its partner is at
        work, nor those its partner wrote."""
        if self.hedge_of is not None:
            return 0
        return max(self.end - max(self.cursor, self.written_to), 0)

    @property
    def paired(self) -> bool:
        """In a hedge, or a hedge with bytes ahead its partner wrote: never stolen from or
        hedged again."""
        return (
            self.hedge_of is not None or self.hedged_by is not None or self.written_to > self.cursor
        )

    def rate(self, now: float) -> float | None:
        """Bytes per second of the request in flight once it has run RATE_AFTER_S, else
        since the assignment was opened; None until RATE_AFTER_S passed. The request's own
        rate first: a request sent over another connection (a new one, after a cut) can be
        much slower than the assignment's earlier ones, whose average would hide it."""
        if self.request_at is not None and now - self.request_at >= RATE_AFTER_S:
            return (self.cursor - self.request_from) / (now - self.request_at)
        elapsed = now - self.opened_at
        if elapsed < RATE_AFTER_S:
            return None
        return (self.cursor - self.start) / elapsed


class WorkPlan:
    """The pieces not handed out and the assignments in progress of one file."""

    def __init__(self, pieces: list[Span], smallest_steal: int, clock: Callable[[], float]) -> None:
        self._pieces = list(pieces)
        self._smallest = max(smallest_steal, 1)
        self._clock = clock
        self._lock = threading.Lock()
        self._active: list[Assignment] = []
        self._finished_rates: deque[float] = deque(maxlen=RECENT)
        self._first_byte_waits: deque[float] = deque(maxlen=RECENT)
        self.steals = 0
        self.hedges = 0

    def take(self) -> Assignment | None:
        """The next bytes for a connection to fetch; None when nothing is worth taking."""
        with self._lock:
            now = self._clock()
            typical = self._typical_rate(now)
            laggard = self._laggard(now, typical)
            if laggard is not None:
                return self._steal(laggard, typical, now)
            if self._pieces:
                start, end = self._pieces.pop(0)
                return self._assign(start, end, now)
            victim = self._last_to_finish(now, typical)
            if victim is not None:
                return self._steal(victim, typical, now)
            hedged = self._to_hedge(now, typical)
            return self._hedge(hedged, now) if hedged is not None else None

    def next_request(self, assignment: Assignment) -> int:
        """Where the next request of `assignment` ends: about REQUEST_S of the typical rate
        (at least MIN_REQUEST; all it has left while no rate is known), so that what a thief
        takes starts past the request in flight and nothing on its way is lost."""
        with self._lock:
            now = self._clock()
            typical = self._typical_rate(now)
            size = assignment.remaining
            if typical:  # None (not known yet) or 0 (the last connections got nothing)
                seconds = min(REQUEST_S, max(self._time_to_end(typical), ENDGAME_REQUEST_S))
                size = min(size, max(MIN_REQUEST, int(typical * seconds)))
            assignment.asked_to = min(assignment.cursor + size, assignment.end)
            assignment.request_at = None  # set by its first bytes (`claim`)
            assignment.asked_at, assignment.asked_from = now, assignment.cursor
            return assignment.asked_to

    def claim(self, assignment: Assignment, count: int) -> tuple[int, int]:
        """Of the next `count` bytes from `assignment.cursor`: how many to skip (a hedge's
        bytes that its partner wrote first) and how many after them are its own to write;
        `cursor` moves past both. What lies past its end is neither: dropped."""
        with self._lock:
            skip = self._skip(assignment, count)
            mine = max(min(count - skip, assignment.end - assignment.cursor - skip), 0)
            assignment.cursor += skip + mine
            if assignment.request_at is None and skip + mine:
                assignment.request_at = self._clock()
                assignment.request_from = assignment.cursor
                self._first_byte_waits.append(assignment.request_at - assignment.asked_at)
            return skip, mine

    def _skip(self, assignment: Assignment, count: int) -> int:
        """The bytes of a hedge's chunk its partner wrote already. A chunk that reaches past
        the partner's cursor takes the rest over: the partner stops where it is."""
        partner = assignment.hedge_of
        written_to = partner.cursor if partner is not None else assignment.written_to
        skip = max(min(count, written_to - assignment.cursor, assignment.remaining), 0)
        if partner is not None and assignment.cursor + count > written_to:
            partner.end = partner.cursor  # the hedge is ahead: the rest is its own
            self._leave(assignment)
            if partner.on_emptied is not None:
                partner.on_emptied()
        return skip

    def give_back(self, assignment: Assignment) -> None:
        """A connection dropped (stalled, or yielding its slot to another download): what
        it had left goes back to the pieces, lowest first."""
        with self._lock:
            alone = assignment.hedge_of is None and assignment.hedged_by is None
            if assignment.owed > 0 and alone:  # else the other of its hedge has them
                start = max(assignment.cursor, assignment.written_to)
                self._pieces = merge_pieces(self._pieces, (start, assignment.end))
            assignment.end = assignment.cursor
            self._leave(assignment)
            self._discard(assignment)

    def finish(self, assignment: Assignment) -> None:
        """`assignment` is whole; its rate counts towards the typical one a while longer
        (a connection asking for work is as fast as its last assignment)."""
        with self._lock:
            elapsed = self._clock() - assignment.opened_at
            fetched = assignment.cursor - assignment.start
            # A short request's rate is mostly its round trip: not the connection's.
            if elapsed > 0 and (fetched >= 4 * SMALLEST_STEAL or elapsed >= RATE_AFTER_S):
                self._finished_rates.append(fetched / elapsed)
            hedge = assignment.hedged_by
            self._leave(assignment)
            if hedge is not None:  # its hedge has nothing left to do
                hedge.end = hedge.cursor
                if hedge.on_emptied is not None:
                    hedge.on_emptied()
            self._discard(assignment)

    def finished(self) -> bool:
        """Nothing left to hand out and nothing in progress."""
        with self._lock:
            return not self._pieces and not self._active

    def left(self) -> int:
        """Bytes not written yet: the pieces not handed out and what every assignment has
        still to come."""
        with self._lock:
            return sum(e - s for s, e in self._pieces) + sum(a.owed for a in self._active)

    def _time_to_end(self, typical: float) -> float:
        """About how long the whole file has left: what is left at the typical rate of
        every connection at work."""
        left = sum(e - s for s, e in self._pieces) + sum(a.owed for a in self._active)
        return left / (typical * max(len(self._active), 1))

    @staticmethod
    def _leave(assignment: Assignment) -> None:
        """`assignment` and the other of its hedge part; a hedge keeps where its partner had
        written to (it skips those bytes)."""
        hedge = assignment if assignment.hedge_of is not None else assignment.hedged_by
        if hedge is None or hedge.hedge_of is None:
            return
        partner = hedge.hedge_of
        hedge.written_to = max(hedge.written_to, partner.cursor)
        hedge.hedge_of = partner.hedged_by = None

    def _discard(self, assignment: Assignment) -> None:
        if assignment in self._active:
            self._active.remove(assignment)

    def _assign(self, start: int, end: int, now: float) -> Assignment:
        assignment = Assignment(start, end, now)
        self._active.append(assignment)
        return assignment

    def _typical_rate(self, now: float) -> float | None:
        """The median rate of the connections in progress and the last ones to finish."""
        rates = [r for a in self._active if (r := a.rate(now)) is not None and r > 0]
        rates.extend(self._finished_rates)
        typical = statistics.median(rates) if rates else None
        return typical if typical else None  # rates of 0 (emptied assignments) size nothing

    def _time_left(self, assignment: Assignment, now: float, typical: float | None) -> float:
        rate = assignment.rate(now)
        if rate is None:
            rate = typical
        if rate is None:
            return 0.0  # nothing is measured yet: no reason to steal
        if rate <= 0:
            return float("inf")
        return assignment.remaining / rate

    def _worth_stealing(
        self,
        assignment: Assignment,
        now: float,
        typical: float | None,
        worth_s: float,
        least: int,
    ) -> bool:
        return (
            self._stealable(assignment, typical, now) >= least
            and self._time_left(assignment, now, typical) > worth_s
        )

    def _is_laggard(self, assignment: Assignment, now: float, typical: float | None) -> bool:
        rate = assignment.rate(now)
        return typical is not None and rate is not None and rate < LAGGARD * typical

    def _stealable(self, assignment: Assignment, typical: float | None, now: float) -> int:
        """Bytes a thief may take: past the request in flight, unless it is a laggard's or
        would still take more than CUT_AFTER_S (longer than requests are sized for)."""
        if self._is_laggard(assignment, now, typical):
            return assignment.remaining
        in_flight = max(min(assignment.asked_to, assignment.end) - assignment.cursor, 0)
        rate = assignment.rate(now) or typical
        if rate and in_flight / rate > CUT_AFTER_S:
            return assignment.remaining
        return max(assignment.end - max(assignment.cursor, assignment.asked_to), 0)

    def _laggard(self, now: float, typical: float | None) -> Assignment | None:
        if typical is None:
            return None
        for assignment in sorted(self._active, key=lambda a: a.cursor):
            # However few bytes it has left: at its rate they may still take seconds.
            if (
                not assignment.paired
                and self._is_laggard(assignment, now, typical)
                and self._worth_stealing(assignment, now, typical, LAGGARD_WORTH_S, 1)
            ):
                return assignment
        return None

    def _last_to_finish(self, now: float, typical: float | None) -> Assignment | None:
        candidates = [
            a
            for a in self._active
            if not a.paired
            and self._worth_stealing(a, now, typical, STEAL_WORTH_S, 2 * self._smallest)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda a: self._time_left(a, now, typical))

    def _steal(self, victim: Assignment, typical: float | None, now: float) -> Assignment:
        """The upper part of what `victim` has left, sized so that both finish together."""
        victim_rate = victim.rate(now)
        thief_rate = typical if typical is not None else victim_rate
        if victim_rate is None or thief_rate is None:
            share = 0.5
        else:
            share = thief_rate / (thief_rate + victim_rate) if thief_rate + victim_rate else 0.5
        taken = max(int(victim.remaining * share), self._smallest)
        split = max(victim.end - taken, victim.end - self._stealable(victim, typical, now))
        end, victim.end = victim.end, split
        self.steals += 1
        if victim.remaining == 0 and victim.on_emptied is not None:
            victim.on_emptied()
        return self._assign(split, end, now)

    def _to_hedge(self, now: float, typical: float | None) -> Assignment | None:
        """The connection that would finish last, when it is worth hedging: slow (or its
        request not yet showing a rate it could be judged by) and worth HEDGE_WORTH_S and
        HEDGE_GAIN times what its bytes would take at the typical rate. One already hedged
        counts when its hedge turned out slow too (a new connection may be as slow): the
        new hedge replaces that one."""
        if typical is None:
            return None
        worst: tuple[float, Assignment] | None = None
        for assignment in self._active:
            if assignment.hedge_of is not None or assignment.written_to > assignment.cursor:
                continue  # a hedge is judged with its partner
            if assignment.remaining == 0:
                continue
            seconds = self._guessed_time_left(assignment, now)
            hedge = assignment.hedged_by
            if hedge is not None and seconds is not None:
                hedge_seconds = self._guessed_time_left(hedge, now)
                seconds = None if hedge_seconds is None else min(seconds, hedge_seconds)
            if seconds is None:
                continue
            if seconds > max(HEDGE_WORTH_S, HEDGE_GAIN * assignment.remaining / typical) and (
                worst is None or seconds > worst[0]
            ):
                worst = (seconds, assignment)
        return worst[1] if worst is not None else None

    def _guessed_time_left(self, assignment: Assignment, now: float) -> float | None:
        """How long `assignment` would still take at the rate its request in flight has
        shown since it was asked, once that is long enough ago (FIRST_GUESS_S, and twice
        the typical wait for a first byte). The wait for its own first byte counts: nothing
        is cut on this guess. Not the assignment's rate since it began, which a fast first
        request would hide a slow one behind. None: too soon to say."""
        elapsed = now - assignment.asked_at
        waits = self._first_byte_waits
        if elapsed < max(FIRST_GUESS_S, FIRST_BYTE_TIMES * statistics.median(waits or [0.0])):
            return None
        rate = (assignment.cursor - assignment.asked_from) / elapsed
        return assignment.remaining / rate if rate > 0 else float("inf")

    def _hedge(self, partner: Assignment, now: float) -> Assignment:
        """The same bytes as `partner` has left, for another connection: whichever gets to
        each byte first writes it (`claim`). A hedge it had is stopped."""
        earlier = partner.hedged_by
        if earlier is not None:
            self._leave(partner)
            earlier.end = earlier.cursor
            if earlier.on_emptied is not None:
                earlier.on_emptied()
        hedge = self._assign(partner.cursor, partner.end, now)
        hedge.hedge_of, partner.hedged_by = partner, hedge
        self.hedges += 1
        return hedge


def merge_pieces(pieces: list[Span], returned: Span) -> list[Span]:
    """`pieces` with `returned` among them, in file order (touching spans stay apart: each
    is one request)."""
    if returned[1] <= returned[0]:
        return pieces
    return sorted([*pieces, returned])
