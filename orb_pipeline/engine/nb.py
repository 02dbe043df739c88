"""Fast kernels: the per-session state machine without visiting every tick.

Contract (shapes and units)
---------------------------
- ``times``/``prices``: int64 ``(n_ticks,)`` seconds / units of $0.0001, all sessions back to back
  in chronological order; session ``s`` is ``offsets[s]:offsets[s+1]`` (``inputs.Window``).
- Block tables (``build_block_tables_nb``): ``block_max[k, b]`` / ``block_min[k, b]`` are the max /
  min price of the ticks of blocks ``b .. b + 2**k - 1`` (block ``b`` = ticks ``b*BLOCK ..
  (b+1)*BLOCK - 1`` of the whole window). ``first_hit_nb`` answers "first index ``j`` in
  ``[i, stop)`` with ``prices[j] >= up`` or ``prices[j] <= down``": a scan of the partial first
  block, an O(1) "no hit at all" test (two overlapping windows), else a galloping search over
  whole blocks and a scan of the block that holds the hit (O(BLOCK + log distance)). Entries
  (``p > range_high`` or ``p < range_low``) are the same query with ``up = high + 1``,
  ``down = low - 1`` (integer units); exits use the stop / limit levels.
- Session tables (``session_tables_nb``), per session ``s`` and distinct range length ``r``:
  ``first[s, r]`` first tick with ``t > open + R`` (the range window is ``offsets[s]:first``, empty
  means the session is not traded), ``high``/``low`` of that window, ``entry[s, r]`` the first
  breakout at or after ``first`` before ``last[s]``, and ``last[s]`` the first tick whose time is
  the session's last time ``t_end`` (no entry from there on; a position exits there).
- Plan (``plan.Plan``): members (grid rows) that differ only in ``stop_count_limit`` form a path:
  with limit ``k`` a session's trades are those of the longer run up to its ``k``-th stop, so one
  run serves all, snapshotting the statistics at each stop. Paths that differ only in cool-off
  form a trio (same first trade).
- Per session (``run_session_group_nb``): exits come from a memo of first passages, "first tick
  reaching stop (limit) value ``v`` after entry ``e``", computed once per (entry, value) and shared
  by every combination (``memo_exit_nb``); re-entries after a stop are O(1) lookups in a
  next-breakout table per range length and a second-to-tick table (``fill_session_index_nb``).
- Work order: sessions are dealt to one group per thread (``prange``); a group runs its sessions
  one at a time, all trios of a session in turn, so a session's data stays in cache. Outputs per
  member: integer accumulators per group (summed by the caller) and per-session nets, or
  per-session statistics. No array of size ticks x combinations.
- Arguments come in named bundles (NamedTuples numba compiles as structs): ``WindowArrays``,
  ``SearchTables``, ``plan.Plan``, ``rules.TradeRules``, ``SweepOutputs``, ``KernelLimits``,
  ``Combination``, and the scratch ``PathState`` / ``SessionScratch``; codes are the IntEnums
  of ``enums.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from orb_pipeline.engine.enums import ExitReason, TickAtState
from orb_pipeline.engine.metrics import N_FSTAT, N_STAT, STAT_NET, accumulate_session_nb
from orb_pipeline.engine.rules import N_TRADE, distance_units_nb, record_trade_nb

BLOCK = 16


def table_levels(offsets: np.ndarray) -> int:
    """Lifting levels needed for the longest session (in blocks, plus a block of misalignment)."""
    longest = int(np.max(np.diff(offsets))) if len(offsets) > 1 else 0
    blocks = longest // BLOCK + 2
    return max(1, int(np.ceil(np.log2(blocks))) + 1)


@njit(cache=True, parallel=True)
def build_block_tables_nb(prices, levels):
    """Sparse tables of block maxima / minima (see module docstring)."""
    n = prices.shape[0]
    n_blocks = max(1, (n + BLOCK - 1) // BLOCK)
    block_max = np.empty((levels, n_blocks), dtype=np.int64)
    block_min = np.empty((levels, n_blocks), dtype=np.int64)
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        mx = np.int64(-(2**62))
        mn = np.int64(2**62)
        for j in range(lo, hi):
            if prices[j] > mx:
                mx = prices[j]
            if prices[j] < mn:
                mn = prices[j]
        block_max[0, b] = mx
        block_min[0, b] = mn
    for k in range(1, levels):
        half = 1 << (k - 1)
        for b in prange(n_blocks):
            other = b + half
            if other < n_blocks:
                block_max[k, b] = max(block_max[k - 1, b], block_max[k - 1, other])
                block_min[k, b] = min(block_min[k - 1, b], block_min[k - 1, other])
            else:
                block_max[k, b] = block_max[k - 1, b]
                block_min[k, b] = block_min[k - 1, b]
    return block_max, block_min


@njit(cache=True)
def first_hit_nb(prices, block_max, block_min, start, stop, up, down):
    """First ``j`` in ``[start, stop)`` with ``prices[j] >= up or prices[j] <= down``; ``stop``
    when there is none."""
    if start >= stop:
        return stop
    block = start // BLOCK
    scan_end = min((block + 1) * BLOCK, stop)
    for j in range(start, scan_end):
        if prices[j] >= up or prices[j] <= down:
            return j
    if scan_end >= stop:
        return stop
    block += 1
    last_block = (stop - 1) // BLOCK
    # No hit at all (a far level): two overlapping windows of the sparse table cover the rest.
    level = 0
    while (2 << level) <= last_block - block + 1:
        level += 1
    other = last_block - (1 << level) + 1
    if (
        max(block_max[level, block], block_max[level, other]) < up
        and min(block_min[level, block], block_min[level, other]) > down
    ):
        return stop
    # Gallop: skip runs of 1, 2, 4, ... blocks without a hit, then bisect the last run tried.
    k = 0
    while (
        k < block_max.shape[0]
        and block + (1 << k) <= last_block + 1
        and block_max[k, block] < up
        and block_min[k, block] > down
    ):
        block += 1 << k
        k += 1
    for level in range(k - 1, -1, -1):
        span = 1 << level
        if (
            block + span <= last_block + 1
            and block_max[level, block] < up
            and block_min[level, block] > down
        ):
            block += span
    if block > last_block:
        return stop
    for j in range(block * BLOCK, min((block + 1) * BLOCK, stop)):
        if prices[j] >= up or prices[j] <= down:
            return j
    return stop


@njit(cache=True)
def first_at_or_after_nb(times, start, stop, when):
    """First ``j`` in ``[start, stop)`` with ``times[j] >= when`` (``stop`` if none): galloping
    from ``start``, since cool-offs are short compared with a session."""
    if start >= stop or times[start] >= when:
        return start
    lo = start  # times[lo] < when
    step = 1
    hi = start + 1
    while hi < stop and times[hi] < when:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > stop:
        hi = stop
    # times[lo] < when, and times[hi] >= when or hi == stop
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if times[mid] >= when:
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True, parallel=True)
def session_tables_nb(times, prices, offsets, open_utc, range_lengths, block_max, block_min):
    """Parameter-independent per-session work (see module docstring). ``range_lengths``: the
    grid's distinct ``range_seconds`` in ascending order."""
    n_sessions = open_utc.shape[0]
    n_ranges = range_lengths.shape[0]
    first = np.zeros((n_sessions, n_ranges), dtype=np.int64)
    high = np.zeros((n_sessions, n_ranges), dtype=np.int64)
    low = np.zeros((n_sessions, n_ranges), dtype=np.int64)
    entry = np.zeros((n_sessions, n_ranges), dtype=np.int64)
    last = np.zeros(n_sessions, dtype=np.int64)
    for s in prange(n_sessions):
        start = offsets[s]
        end = offsets[s + 1]
        if end == start:
            last[s] = end
            for r in range(n_ranges):
                first[s, r] = start
                entry[s, r] = end
            continue
        k = end - 1
        while k > start and times[k - 1] == times[end - 1]:
            k -= 1
        last[s] = k
        i = start
        mx = prices[start]
        mn = prices[start]
        for r in range(n_ranges):
            range_end = open_utc[s] + range_lengths[r]
            while i < end and times[i] <= range_end:
                if prices[i] > mx:
                    mx = prices[i]
                if prices[i] < mn:
                    mn = prices[i]
                i += 1
            first[s, r] = i
            high[s, r] = mx
            low[s, r] = mn
            if i == start:
                entry[s, r] = k  # not traded: no tick in the range window
            else:
                entry[s, r] = first_hit_nb(prices, block_max, block_min, i, k, mx + 1, mn - 1)
    return first, high, low, entry, last


class WindowArrays(NamedTuple):
    """The window's ticks as the kernels take them (``inputs.Window``): ``times`` / ``prices``
    int64 seconds / units, session ``s`` is ``offsets[s]:offsets[s + 1]``; ``expected_move``
    float64 dollars per session (zeros unless ``DistanceUnit.EXPECTED_MOVE``)."""

    times: np.ndarray
    prices: np.ndarray
    offsets: np.ndarray
    expected_move: np.ndarray


class SearchTables(NamedTuple):
    """Parameter-independent search structures of a window (module docstring): block tables
    ``(levels, n_blocks)`` and session tables ``(n_sessions, n_ranges)`` / ``(n_sessions,)``."""

    block_max: np.ndarray
    block_min: np.ndarray
    first: np.ndarray
    high: np.ndarray
    low: np.ndarray
    entry: np.ndarray
    last: np.ndarray


class Combination(NamedTuple):
    """One parameter set (``ledger_nb``): distances as given and in units, cool-off (s), limit."""

    stop_value: float
    stop_units: int
    limit_value: float
    limit_units: int
    cooloff: int
    stop_count_limit: int


class SweepOutputs(NamedTuple):
    """Where ``sweep_trios_nb`` writes (see its docstring). With ``per_session`` it fills
    ``session_out`` ``(N_STAT, n_combos, n_sessions)`` int64 and ``fsession_out``
    ``(N_FSTAT, n_combos, n_sessions)`` float64; otherwise ``acc`` ``(n_groups, n_members,
    N_ACC)``, ``nets`` ``(n_sessions, n_members)`` int64 and ``fnets`` ``(N_FSTAT, n_sessions,
    n_members)`` float64. The unused arrays may be of size 1."""

    per_session: bool
    acc: np.ndarray
    nets: np.ndarray
    fnets: np.ndarray
    session_out: np.ndarray
    fsession_out: np.ndarray


# Defaults of KernelLimits (tests shrink them to reach the fallbacks: two-sided searches when the
# memo is full, galloping when a session is too long for the second-to-tick table).
MEMO_BYTES = 32 * 2**20
TICK_AT_SECONDS = 4 * 86_400


class KernelLimits(NamedTuple):
    """Scratch limits of ``sweep_trios_nb``: bytes of a session's exit memo, and the longest
    session (seconds) that gets a second-to-tick table."""

    memo_bytes: int = MEMO_BYTES
    tick_at_seconds: int = TICK_AT_SECONDS


class PathState(NamedTuple):
    """Per path of the trio being run (scratch of one session group): its statistics so far
    (``stats`` ``(n_paths, N_STAT)``, ``fstats`` ``(n_paths, N_FSTAT)``), its next entry tick,
    its next member still to be emitted and its stops so far; ``no_trades`` is an empty trade
    buffer (a sweep keeps no trade rows)."""

    stats: np.ndarray
    fstats: np.ndarray
    entry: np.ndarray
    member: np.ndarray
    stops: np.ndarray
    no_trades: np.ndarray


# Slots of SessionScratch.lookup_state.
LOOKUP_BREAK_RANGE = 0  # range index + 1 whose next-breakout table next_break holds (0: none)
LOOKUP_TICK_AT = 1  # TickAtState of tick_at for the current session


class SessionScratch(NamedTuple):
    """Per-session scratch of one session group: the exit memo (``slot_of`` per tick offset,
    ``memo_stop`` / ``memo_limit`` per slot and value, -1 = unknown), the second-to-tick table
    ``tick_at``, the next-breakout table ``next_break`` and ``lookup_state`` (``LOOKUP_*``)."""

    slot_of: np.ndarray
    memo_stop: np.ndarray
    memo_limit: np.ndarray
    tick_at: np.ndarray
    next_break: np.ndarray
    lookup_state: np.ndarray


@njit(cache=True)
def ledger_session_nb(window, tables, s, combo, trade_rules, stats, fstats, trades_out):
    """Combination ``combo`` on session ``s`` (range index 0 of ``tables``) with two-sided
    searches; trades go to ``trades_out`` (``rules.TRADE_*``), returns their count."""
    stats[0, :] = 0
    fstats[0, :] = 0.0
    prices = window.prices
    high = tables.high[s, 0]
    low = tables.low[s, 0]
    entry = tables.entry[s, 0]
    last = tables.last[s]
    count = 0
    stops = 0
    while entry < last:
        p = prices[entry]
        side = 1 if p > high else -1
        stop_d = distance_units_nb(
            trade_rules.distance_unit,
            combo.stop_units,
            combo.stop_value,
            p,
            window.expected_move[s],
        )
        limit_d = distance_units_nb(
            trade_rules.distance_unit,
            combo.limit_units,
            combo.limit_value,
            p,
            window.expected_move[s],
        )
        if side == 1:
            up = p + limit_d
            down = p - stop_d
        else:
            up = p + stop_d
            down = p - limit_d
        exit_tick = first_hit_nb(
            prices, tables.block_max, tables.block_min, entry + 1, last, up, down
        )
        exit_price = prices[exit_tick]
        limit_hit = exit_price >= up if side == 1 else exit_price <= down
        if limit_hit or exit_tick == last:
            reason = ExitReason.LIMIT if limit_hit else ExitReason.EOD
        else:
            reason = ExitReason.STOP
        count = record_trade_nb(
            stats,
            fstats,
            0,
            trades_out,
            count,
            side,
            entry,
            exit_tick,
            reason,
            p,
            exit_price,
            stop_d,
            window.times,
            trade_rules,
        )
        if reason != ExitReason.STOP:
            return count
        stops += 1
        if stops == combo.stop_count_limit:
            return count
        resume = first_at_or_after_nb(
            window.times, exit_tick + 1, last, window.times[exit_tick] + combo.cooloff
        )
        entry = first_hit_nb(
            prices, tables.block_max, tables.block_min, resume, last, high + 1, low - 1
        )
    return count


@njit(cache=True, inline="always")
def emit_nb(member, s, paths, row, plan, out, acc):
    """Hand ``member``'s statistics of session ``s`` (``paths.stats[row]``, ``paths.fstats[row]``)
    to the outputs (``SweepOutputs``; ``acc`` is this group's ``out.acc[group]``)."""
    combo = plan.member_combo[member]
    if out.per_session:
        for k in range(N_STAT):
            out.session_out[k, combo, s] = paths.stats[row, k]
        for k in range(N_FSTAT):
            out.fsession_out[k, combo, s] = paths.fstats[row, k]
    else:
        accumulate_session_nb(acc, member, paths.stats, row)
        out.nets[s, member] = paths.stats[row, STAT_NET]
        for k in range(N_FSTAT):
            out.fnets[k, s, member] = paths.fstats[row, k]


@njit(cache=True, inline="always")
def finish_path_nb(path, s, paths, plan, out, acc):
    """Path ``path``'s session is over: its remaining members (larger stop limits) get its
    totals."""
    for member in range(paths.member[path], plan.path_members[path + 1]):
        emit_nb(member, s, paths, path, plan, out, acc)
    paths.member[path] = plan.path_members[path + 1]


FAR = np.int64(2**62)


@njit(cache=True, inline="always")
def memo_exit_nb(
    entry,
    start,
    last,
    window,
    tables,
    plan,
    trade_rules,
    expected_move,
    side,
    stop_w,
    limit_w,
    scratch,
    n_slots,
):
    """Exit tick, exit reason and stop distance (units) of a position entered at tick ``entry``
    on ``side`` with stop value ``stop_w`` and limit value ``limit_w`` of ``plan``, and the
    updated slot count of the session's memo.

    Memo: the first tick reaching a stop (limit) value after an entry does not depend on the
    other value, the cool-off or the range, so it is computed once per (entry, value) in a
    session (``scratch.memo_*[scratch.slot_of[entry - start], value]``, -1 = not yet) and shared
    by every trio. Ties go to the limit (it is checked first); at ``last`` the reason is limit
    or eod.
    """
    prices = window.prices
    p = prices[entry]
    slot = scratch.slot_of[entry - start]
    if slot < 0 and n_slots < scratch.memo_stop.shape[0]:
        slot = n_slots
        scratch.slot_of[entry - start] = slot
        scratch.memo_stop[slot, :] = -1
        scratch.memo_limit[slot, :] = -1
        n_slots += 1
    stop_d = distance_units_nb(
        trade_rules.distance_unit,
        plan.stop_units[stop_w],
        plan.stop_values[stop_w],
        p,
        expected_move,
    )
    limit_d = distance_units_nb(
        trade_rules.distance_unit,
        plan.limit_units[limit_w],
        plan.limit_values[limit_w],
        p,
        expected_move,
    )
    if side == 1:
        up = p + limit_d
        down = p - stop_d
    else:
        up = p + stop_d
        down = p - limit_d
    if slot < 0:  # memo full (very many distinct values): one two-sided search
        hit = first_hit_nb(prices, tables.block_max, tables.block_min, entry + 1, last, up, down)
        at_limit = prices[hit] >= up if side == 1 else prices[hit] <= down
        if at_limit:
            return hit, ExitReason.LIMIT, stop_d, n_slots
        return hit, (ExitReason.EOD if hit == last else ExitReason.STOP), stop_d, n_slots
    stop_hit = scratch.memo_stop[slot, stop_w]
    if stop_hit < 0:
        if side == 1:
            stop_hit = first_hit_nb(
                prices, tables.block_max, tables.block_min, entry + 1, last, FAR, down
            )
        else:
            stop_hit = first_hit_nb(
                prices, tables.block_max, tables.block_min, entry + 1, last, up, -FAR
            )
        scratch.memo_stop[slot, stop_w] = stop_hit
    limit_hit = scratch.memo_limit[slot, limit_w]
    if limit_hit < 0:
        if side == 1:
            limit_hit = first_hit_nb(
                prices, tables.block_max, tables.block_min, entry + 1, last, up, -FAR
            )
        else:
            limit_hit = first_hit_nb(
                prices, tables.block_max, tables.block_min, entry + 1, last, FAR, down
            )
        scratch.memo_limit[slot, limit_w] = limit_hit
    if stop_hit < limit_hit:
        return stop_hit, ExitReason.STOP, stop_d, n_slots
    if limit_hit < last:
        return limit_hit, ExitReason.LIMIT, stop_d, n_slots
    at_limit = prices[last] >= up if side == 1 else prices[last] <= down
    return last, (ExitReason.LIMIT if at_limit else ExitReason.EOD), stop_d, n_slots


@njit(cache=True)
def run_trio_session_nb(
    trio, s, window, tables, plan, trade_rules, out, acc, paths, scratch, n_slots
):
    """Trio ``trio`` (one range, stop and limit; its paths differ in cool-off, its members in
    stop limit) on session ``s``, which it trades (``tables.entry[s, range] < tables.last[s]``).
    Paths advance in lockstep, one trade per round, so re-entry searches are shared where they
    provably coincide. Returns the memo's slot count."""
    times = window.times
    prices = window.prices
    start = window.offsets[s]
    expected_move = window.expected_move[s]
    r = plan.trio_range[trio]
    first = tables.first[s, r]
    high = tables.high[s, r]
    low = tables.low[s, r]
    last = tables.last[s]
    path_lo = plan.trio_paths[trio]
    path_hi = plan.trio_paths[trio + 1]
    stop_w = plan.trio_stop[trio]
    limit_w = plan.trio_limit[trio]
    active = 0
    for path in range(path_lo, path_hi):
        paths.stats[path, :] = 0
        paths.fstats[path, :] = 0.0
        paths.entry[path] = tables.entry[s, r]
        paths.stops[path] = 0
        paths.member[path] = plan.path_members[path]
        active += 1
    while active > 0:
        for path in range(path_lo, path_hi):
            if paths.member[path] == plan.path_members[path + 1]:
                continue
            entry = paths.entry[path]
            if entry >= last:
                finish_path_nb(path, s, paths, plan, out, acc)
                active -= 1
                continue
            side = 1 if prices[entry] > high else -1
            exit_tick, reason, stop_d, n_slots = memo_exit_nb(
                entry,
                start,
                last,
                window,
                tables,
                plan,
                trade_rules,
                expected_move,
                side,
                stop_w,
                limit_w,
                scratch,
                n_slots,
            )
            record_trade_nb(
                paths.stats,
                paths.fstats,
                path,
                paths.no_trades,
                0,
                side,
                entry,
                exit_tick,
                reason,
                prices[entry],
                prices[exit_tick],
                stop_d,
                times,
                trade_rules,
            )
            if reason != ExitReason.STOP:
                finish_path_nb(path, s, paths, plan, out, acc)
                active -= 1
                continue
            paths.stops[path] += 1
            member = paths.member[path]
            while (
                member < plan.path_members[path + 1] and plan.member_k[member] == paths.stops[path]
            ):
                emit_nb(member, s, paths, path, plan, out, acc)
                member += 1
            paths.member[path] = member
            if member == plan.path_members[path + 1]:
                active -= 1
                continue
            if scratch.lookup_state[LOOKUP_BREAK_RANGE] != r + 1:
                fill_session_index_nb(times, prices, start, first, last, high, low, scratch, r)
            when = times[exit_tick] + plan.path_cooloff[path]
            resume = exit_tick + 1
            if when > times[last]:
                resume = last
            elif when > times[resume]:
                if scratch.lookup_state[LOOKUP_TICK_AT] == TickAtState.READY:
                    resume = start + scratch.tick_at[when - times[start]]
                else:
                    resume = first_at_or_after_nb(times, resume, last, when)
            paths.entry[path] = scratch.next_break[resume - start] if resume < last else last
    return n_slots


@njit(cache=True)
def fill_session_index_nb(times, prices, start, first, last, high, low, scratch, r):
    """Per-session lookups for re-entries after a stop, built when first needed:
    ``next_break[i - start]`` = first breakout of range ``r`` (``> high`` or ``< low``) at or
    after tick ``i`` (``last`` if none), for ``first <= i < last``; and, once per session,
    ``tick_at[d]`` = offset of the first tick at or after ``times[start] + d`` (when the session
    spans at most ``tick_at.shape[0] - 1`` seconds)."""
    following = last
    for i in range(last - 1, first - 1, -1):
        if prices[i] > high or prices[i] < low:
            following = i
        scratch.next_break[i - start] = following
    scratch.lookup_state[LOOKUP_BREAK_RANGE] = r + 1
    if scratch.lookup_state[LOOKUP_TICK_AT] == TickAtState.UNKNOWN:
        t0 = times[start]
        if times[last] - t0 < scratch.tick_at.shape[0]:
            i = start
            for d in range(times[last] - t0 + 1):
                while times[i] < t0 + d:
                    i += 1
                scratch.tick_at[d] = i - start
            scratch.lookup_state[LOOKUP_TICK_AT] = TickAtState.READY
        else:
            scratch.lookup_state[LOOKUP_TICK_AT] = TickAtState.TOO_LONG


@njit(cache=True)
def run_session_group_nb(
    group, n_groups, longest, capacity, span, window, tables, plan, trade_rules, out
):
    """Sessions ``group, group + n_groups, ...`` of ``sweep_trios_nb`` with their own scratch
    (``PathState``, ``SessionScratch``): a plain function, so the parallel wrapper stays small
    and quick to compile."""
    n_sessions = window.offsets.shape[0] - 1
    n_paths = plan.path_cooloff.shape[0]
    paths = PathState(
        np.zeros((n_paths, N_STAT), dtype=np.int64),
        np.zeros((n_paths, N_FSTAT), dtype=np.float64),
        np.zeros(n_paths, dtype=np.int64),
        np.zeros(n_paths, dtype=np.int64),
        np.zeros(n_paths, dtype=np.int64),
        np.zeros((0, N_TRADE), dtype=np.int64),
    )
    scratch = SessionScratch(
        np.full(longest, -1, dtype=np.int64),
        np.empty((capacity, plan.stop_values.shape[0]), dtype=np.int64),
        np.empty((capacity, plan.limit_values.shape[0]), dtype=np.int64),
        np.zeros(span + 1, dtype=np.int64),
        np.zeros(longest, dtype=np.int64),
        np.zeros(2, dtype=np.int64),
    )
    acc = out.acc[group]
    for s in range(group, n_sessions, n_groups):
        start = window.offsets[s]
        n_slots = np.int64(0)  # int64, not a literal: one specialization of run_trio_session_nb
        scratch.lookup_state[:] = 0
        for trio in range(plan.trio_range.shape[0]):
            r = plan.trio_range[trio]
            if tables.first[s, r] == start or tables.entry[s, r] >= tables.last[s]:
                continue  # not traded: every member's statistics are 0 (outputs start at 0)
            n_slots = run_trio_session_nb(
                trio, s, window, tables, plan, trade_rules, out, acc, paths, scratch, n_slots
            )
        scratch.slot_of[:] = -1  # the memo maps this session's tick offsets


@njit(cache=True, parallel=True)
def sweep_trios_nb(window, tables, plan, trade_rules, out, limits):
    """Run a plan (``plan.Plan``) over every session of ``window`` (``WindowArrays``, with its
    ``SearchTables``), under ``trade_rules`` (``rules.TradeRules``) and ``limits``
    (``KernelLimits``).

    Sessions are dealt to ``out.acc.shape[0]`` groups run in parallel (one ``prange``); a group
    runs its sessions one by one, all trios of a session in turn, sharing the session's memo of
    exits (``memo_exit_nb``). Member ``m``'s statistics of session ``s`` go to
    ``out.session_out[:, combo, s]`` and ``out.fsession_out[:, combo, s]`` (``combo =
    plan.member_combo[m]``) when ``out.per_session``; otherwise they are added to
    ``out.acc[group, m]`` (integer sums: the caller adds the groups up), the session net is
    stored in ``out.nets[s, m]`` and the float statistics in ``out.fnets[:, s, m]`` (the
    per-session series metrics come from those afterwards).
    """
    offsets = window.offsets
    times = window.times
    n_sessions = offsets.shape[0] - 1
    n_groups = out.acc.shape[0]
    # Explicit int64 scalars: numba would otherwise compile run_session_group_nb three times
    # (a literal 1 for ``longest``, an unsigned prange index for ``group``).
    longest = np.int64(1)
    for s in range(n_sessions):
        longest = max(longest, offsets[s + 1] - offsets[s])
    n_values = plan.stop_values.shape[0] + plan.limit_values.shape[0]
    capacity = max(1, min(longest, limits.memo_bytes // (8 * n_values)))
    span = 0  # longest session in seconds (tick_at is skipped beyond tick_at_seconds)
    for s in range(n_sessions):
        if offsets[s + 1] > offsets[s]:
            span = max(span, times[offsets[s + 1] - 1] - times[offsets[s]])
    span = min(span, limits.tick_at_seconds)
    for group in prange(n_groups):
        run_session_group_nb(
            np.int64(group),
            np.int64(n_groups),
            np.int64(longest),
            np.int64(capacity),
            np.int64(span),
            window,
            tables,
            plan,
            trade_rules,
            out,
        )


@njit(cache=True)
def ledger_nb(window, tables, combo, trade_rules):
    """Trades of one combination (``Combination``; range index 0 of ``tables``):
    ``(rows, session)`` with ``rules.TRADE_*`` rows in time order and the session index of each
    row."""
    offsets = window.offsets
    n_sessions = offsets.shape[0] - 1
    stats = np.zeros((1, N_STAT), dtype=np.int64)
    fstats = np.zeros((1, N_FSTAT), dtype=np.float64)
    capacity = 64
    rows = np.zeros((capacity, N_TRADE), dtype=np.int64)
    sessions = np.zeros(capacity, dtype=np.int64)
    total = 0
    for s in range(n_sessions):
        start = offsets[s]
        if tables.first[s, 0] == start:
            continue
        room = min(combo.stop_count_limit + 1, offsets[s + 1] - start + 1)
        buffer = np.zeros((room, N_TRADE), dtype=np.int64)
        count = ledger_session_nb(window, tables, s, combo, trade_rules, stats, fstats, buffer)
        while total + count > capacity:
            capacity *= 2
            grown = np.zeros((capacity, N_TRADE), dtype=np.int64)
            grown[:total] = rows[:total]
            rows = grown
            grown_sessions = np.zeros(capacity, dtype=np.int64)
            grown_sessions[:total] = sessions[:total]
            sessions = grown_sessions
        rows[total : total + count] = buffer[:count]
        sessions[total : total + count] = s
        total += count
    return rows[:total], sessions[:total]


@njit(cache=True)
def opening_ranges_nb(times, prices, offsets, open_utc, range_seconds):
    """Per session: (high, low, first price, tick count) of the ticks with
    ``open <= t <= open + range_seconds`` (zeros when there is none)."""
    n = open_utc.shape[0]
    high = np.zeros(n, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    first = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    for s in range(n):
        end_time = open_utc[s] + range_seconds
        i = offsets[s]
        while i < offsets[s + 1] and times[i] <= end_time:
            p = prices[i]
            if count[s] == 0:
                high[s] = p
                low[s] = p
                first[s] = p
            elif p > high[s]:
                high[s] = p
            elif p < low[s]:
                low[s] = p
            count[s] += 1
            i += 1
    return high, low, first, count
