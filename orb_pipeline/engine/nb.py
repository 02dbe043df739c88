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
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from orb_pipeline.engine.metrics import N_FSTAT, N_STAT, STAT_NET, accumulate_session_nb
from orb_pipeline.engine.rules import (
    N_TRADE,
    REASON_EOD,
    REASON_LIMIT,
    REASON_STOP,
    distance_units_nb,
    record_trade_nb,
)

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


@njit(cache=True)
def ledger_session_nb(
    times,
    prices,
    block_max,
    block_min,
    high,
    low,
    entry,
    last,
    expected_move,
    stop_value,
    stop_units,
    limit_value,
    limit_units,
    cooloff,
    stop_count_limit,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
    stats,
    fstats,
    trades_out,
):
    """One combination on one session whose first entry is ``entry`` (``>= last``: none), with
    two-sided searches; trades go to ``trades_out`` (``rules.TRADE_*``), returns their count."""
    stats[0, :] = 0
    fstats[0, :] = 0.0
    count = 0
    stops = 0
    while entry < last:
        p = prices[entry]
        side = 1 if p > high else -1
        stop_d = distance_units_nb(distance_unit, stop_units, stop_value, p, expected_move)
        limit_d = distance_units_nb(distance_unit, limit_units, limit_value, p, expected_move)
        if side == 1:
            up = p + limit_d
            down = p - stop_d
        else:
            up = p + stop_d
            down = p - limit_d
        exit_ = first_hit_nb(prices, block_max, block_min, entry + 1, last, up, down)
        q = prices[exit_]
        limit_hit = q >= up if side == 1 else q <= down
        if limit_hit or exit_ == last:
            reason = REASON_LIMIT if limit_hit else REASON_EOD
            return record_trade_nb(
                stats,
                fstats,
                0,
                trades_out,
                count,
                side,
                entry,
                exit_,
                reason,
                p,
                q,
                stop_d,
                times,
                commission,
                slippage,
                slippage_bps,
            )
        count = record_trade_nb(
            stats,
            fstats,
            0,
            trades_out,
            count,
            side,
            entry,
            exit_,
            REASON_STOP,
            p,
            q,
            stop_d,
            times,
            commission,
            slippage,
            slippage_bps,
        )
        stops += 1
        if stops == stop_count_limit:
            return count
        resume = first_at_or_after_nb(times, exit_ + 1, last, times[exit_] + cooloff)
        entry = first_hit_nb(prices, block_max, block_min, resume, last, high + 1, low - 1)
    return count


@njit(cache=True, inline="always")
def emit_nb(
    m, s, stats, fstats, row, member_combo, per_session, acc, nets, fnets, session_out, fsession_out
):
    """Hand member ``m``'s statistics of session ``s`` (``stats[row]``, ``fstats[row]``) to the
    output (see ``sweep_trios_nb``)."""
    combo = member_combo[m]
    if per_session:
        for k in range(N_STAT):
            session_out[k, combo, s] = stats[row, k]
        for k in range(N_FSTAT):
            fsession_out[k, combo, s] = fstats[row, k]
    else:
        accumulate_session_nb(acc, m, stats, row)
        nets[s, m] = stats[row, STAT_NET]
        for k in range(N_FSTAT):
            fnets[k, s, m] = fstats[row, k]


@njit(cache=True, inline="always")
def finish_path_nb(
    c,
    s,
    path_stats,
    path_fstats,
    path_member,
    path_members,
    member_combo,
    per_session,
    acc,
    nets,
    fnets,
    session_out,
    fsession_out,
):
    """Path ``c``'s session is over: its remaining members (larger stop limits) get its totals."""
    for m in range(path_member[c], path_members[c + 1]):
        emit_nb(
            m,
            s,
            path_stats,
            path_fstats,
            c,
            member_combo,
            per_session,
            acc,
            nets,
            fnets,
            session_out,
            fsession_out,
        )
    path_member[c] = path_members[c + 1]


FAR = np.int64(2**62)


@njit(cache=True, inline="always")
def memo_exit_nb(
    e,
    start,
    last,
    prices,
    block_max,
    block_min,
    p,
    side,
    stop_w,
    limit_w,
    stop_values,
    stop_units,
    limit_values,
    limit_units,
    distance_unit,
    expected_move,
    slot_of,
    memo_stop,
    memo_limit,
    n_slots,
):
    """Exit tick, reason and stop distance (units) of a position entered at tick ``e`` (price
    ``p``, ``side``) with stop value ``stop_w`` and limit value ``limit_w``, and the updated slot
    count.

    Memo: the first tick reaching a stop (limit) value after an entry does not depend on the
    other value, the cool-off or the range, so it is computed once per (entry, value) in a
    session (``memo_*[slot_of[e - start], value]``, -1 = not yet) and shared by every trio.
    Ties go to the limit (it is checked first); at ``last`` the reason is limit or eod.
    """
    slot = slot_of[e - start]
    if slot < 0 and n_slots < memo_stop.shape[0]:
        slot = n_slots
        slot_of[e - start] = slot
        memo_stop[slot, :] = -1
        memo_limit[slot, :] = -1
        n_slots += 1
    stop_d = distance_units_nb(
        distance_unit, stop_units[stop_w], stop_values[stop_w], p, expected_move
    )
    limit_d = distance_units_nb(
        distance_unit, limit_units[limit_w], limit_values[limit_w], p, expected_move
    )
    if side == 1:
        up = p + limit_d
        down = p - stop_d
    else:
        up = p + stop_d
        down = p - limit_d
    if slot < 0:  # memo full (very many distinct values): one two-sided search
        x = first_hit_nb(prices, block_max, block_min, e + 1, last, up, down)
        at_limit = prices[x] >= up if side == 1 else prices[x] <= down
        if at_limit:
            return x, REASON_LIMIT, stop_d, n_slots
        return x, (REASON_EOD if x == last else REASON_STOP), stop_d, n_slots
    stop_x = memo_stop[slot, stop_w]
    if stop_x < 0:
        if side == 1:
            stop_x = first_hit_nb(prices, block_max, block_min, e + 1, last, FAR, down)
        else:
            stop_x = first_hit_nb(prices, block_max, block_min, e + 1, last, up, -FAR)
        memo_stop[slot, stop_w] = stop_x
    limit_x = memo_limit[slot, limit_w]
    if limit_x < 0:
        if side == 1:
            limit_x = first_hit_nb(prices, block_max, block_min, e + 1, last, up, -FAR)
        else:
            limit_x = first_hit_nb(prices, block_max, block_min, e + 1, last, FAR, down)
        memo_limit[slot, limit_w] = limit_x
    if stop_x < limit_x:
        return stop_x, REASON_STOP, stop_d, n_slots
    if limit_x < last:
        return limit_x, REASON_LIMIT, stop_d, n_slots
    at_limit = prices[last] >= up if side == 1 else prices[last] <= down
    return last, (REASON_LIMIT if at_limit else REASON_EOD), stop_d, n_slots


@njit(cache=True)
def run_trio_session_nb(
    q,
    s,
    start,
    r,
    first,
    times,
    prices,
    block_max,
    block_min,
    high,
    low,
    entry,
    last,
    expected_move,
    stop_values,
    stop_units,
    limit_values,
    limit_units,
    trio_stop,
    trio_limit,
    trio_paths,
    path_cooloff,
    path_members,
    member_k,
    member_combo,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
    per_session,
    acc,
    nets,
    fnets,
    session_out,
    fsession_out,
    path_stats,
    path_fstats,
    path_entry,
    path_member,
    path_stops,
    no_trades,
    slot_of,
    memo_stop,
    memo_limit,
    n_slots,
    tick_at,
    next_break,
    session_index,
):
    """Trio ``q`` (one range, stop and limit; its paths differ in cool-off, its members in stop
    limit) on session ``s`` whose first entry is ``entry < last``. Paths advance in lockstep, one
    trade per round, so re-entry searches are shared where they provably coincide. Returns the
    memo's slot count."""
    p_lo = trio_paths[q]
    p_hi = trio_paths[q + 1]
    stop_w = trio_stop[q]
    limit_w = trio_limit[q]
    active = 0
    for c in range(p_lo, p_hi):
        path_stats[c, :] = 0
        path_fstats[c, :] = 0.0
        path_entry[c] = entry
        path_stops[c] = 0
        path_member[c] = path_members[c]
        active += 1
    while active > 0:
        for c in range(p_lo, p_hi):
            if path_member[c] == path_members[c + 1]:
                continue
            e = path_entry[c]
            if e >= last:
                finish_path_nb(
                    c,
                    s,
                    path_stats,
                    path_fstats,
                    path_member,
                    path_members,
                    member_combo,
                    per_session,
                    acc,
                    nets,
                    fnets,
                    session_out,
                    fsession_out,
                )
                active -= 1
                continue
            p = prices[e]
            side = 1 if p > high else -1
            x, reason, stop_d, n_slots = memo_exit_nb(
                e,
                start,
                last,
                prices,
                block_max,
                block_min,
                p,
                side,
                stop_w,
                limit_w,
                stop_values,
                stop_units,
                limit_values,
                limit_units,
                distance_unit,
                expected_move,
                slot_of,
                memo_stop,
                memo_limit,
                n_slots,
            )
            record_trade_nb(
                path_stats,
                path_fstats,
                c,
                no_trades,
                0,
                side,
                e,
                x,
                reason,
                p,
                prices[x],
                stop_d,
                times,
                commission,
                slippage,
                slippage_bps,
            )
            if reason != REASON_STOP:
                finish_path_nb(
                    c,
                    s,
                    path_stats,
                    path_fstats,
                    path_member,
                    path_members,
                    member_combo,
                    per_session,
                    acc,
                    nets,
                    fnets,
                    session_out,
                    fsession_out,
                )
                active -= 1
                continue
            path_stops[c] += 1
            m = path_member[c]
            while m < path_members[c + 1] and member_k[m] == path_stops[c]:
                emit_nb(
                    m,
                    s,
                    path_stats,
                    path_fstats,
                    c,
                    member_combo,
                    per_session,
                    acc,
                    nets,
                    fnets,
                    session_out,
                    fsession_out,
                )
                m += 1
            path_member[c] = m
            if m == path_members[c + 1]:
                active -= 1
                continue
            if session_index[0] != r + 1:
                fill_session_index_nb(
                    times,
                    prices,
                    start,
                    first,
                    last,
                    high,
                    low,
                    tick_at,
                    next_break,
                    session_index,
                    r,
                )
            when = times[x] + path_cooloff[c]
            resume = x + 1
            if when > times[last]:
                resume = last
            elif when > times[resume]:
                if session_index[1] == 1:
                    resume = start + tick_at[when - times[start]]
                else:
                    resume = first_at_or_after_nb(times, resume, last, when)
            path_entry[c] = next_break[resume - start] if resume < last else last
    return n_slots


# Defaults of sweep_trios_nb's memo_bytes / tick_at_seconds (tests shrink them to reach the
# fallbacks: two-sided searches when the memo is full, galloping when a session is too long).
MEMO_BYTES = 32 * 2**20
TICK_AT_SECONDS = 4 * 86_400


@njit(cache=True)
def fill_session_index_nb(
    times, prices, start, first, last, high, low, tick_at, next_break, session_index, r
):
    """Per-session lookups for re-entries after a stop, built when first needed:
    ``next_break[i - start]`` = first breakout of range ``r`` (``> high`` or ``< low``) at or
    after tick ``i`` (``last`` if none), for ``first <= i < last``; and, once per session,
    ``tick_at[d]`` = offset of the first tick at or after ``times[start] + d`` (when the session
    spans at most ``tick_at.shape[0] - 1`` seconds)."""
    following = last
    for i in range(last - 1, first - 1, -1):
        if prices[i] > high or prices[i] < low:
            following = i
        next_break[i - start] = following
    session_index[0] = r + 1
    if session_index[1] == 0:
        t0 = times[start]
        if times[last] - t0 < tick_at.shape[0]:
            i = start
            for d in range(times[last] - t0 + 1):
                while times[i] < t0 + d:
                    i += 1
                tick_at[d] = i - start
            session_index[1] = 1
        else:
            session_index[1] = 2


@njit(cache=True)
def run_session_group_nb(
    g,
    n_groups,
    longest,
    capacity,
    span,
    times,
    prices,
    offsets,
    expected_move,
    block_max,
    block_min,
    first,
    high,
    low,
    entry,
    last,
    stop_values,
    stop_units,
    limit_values,
    limit_units,
    trio_range,
    trio_stop,
    trio_limit,
    trio_paths,
    path_cooloff,
    path_members,
    member_k,
    member_combo,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
    per_session,
    acc,
    nets,
    fnets,
    session_out,
    fsession_out,
):
    """Sessions ``g, g + n_groups, ...`` of ``sweep_trios_nb`` with their own scratch arrays (a
    plain function, so the parallel wrapper stays small and quick to compile)."""
    n_sessions = offsets.shape[0] - 1
    n_trios = trio_range.shape[0]
    n_paths = path_cooloff.shape[0]
    path_stats = np.zeros((n_paths, N_STAT), dtype=np.int64)
    path_fstats = np.zeros((n_paths, N_FSTAT), dtype=np.float64)
    path_entry = np.zeros(n_paths, dtype=np.int64)
    path_member = np.zeros(n_paths, dtype=np.int64)
    path_stops = np.zeros(n_paths, dtype=np.int64)
    no_trades = np.zeros((0, N_TRADE), dtype=np.int64)
    slot_of = np.full(longest, -1, dtype=np.int64)
    memo_stop = np.empty((capacity, stop_values.shape[0]), dtype=np.int64)
    memo_limit = np.empty((capacity, limit_values.shape[0]), dtype=np.int64)
    tick_at = np.zeros(span + 1, dtype=np.int64)
    next_break = np.zeros(longest, dtype=np.int64)
    # [range index + 1 that next_break holds (0: none), 1 when tick_at holds this session]
    session_index = np.zeros(2, dtype=np.int64)
    for s in range(g, n_sessions, n_groups):
        start = offsets[s]
        end_ = last[s]
        n_slots = 0
        session_index[:] = 0
        for q in range(n_trios):
            r = trio_range[q]
            if first[s, r] == start or entry[s, r] >= end_:
                continue  # not traded: every member's statistics are 0 (outputs start at 0)
            n_slots = run_trio_session_nb(
                q,
                s,
                start,
                r,
                first[s, r],
                times,
                prices,
                block_max,
                block_min,
                high[s, r],
                low[s, r],
                entry[s, r],
                end_,
                expected_move[s],
                stop_values,
                stop_units,
                limit_values,
                limit_units,
                trio_stop,
                trio_limit,
                trio_paths,
                path_cooloff,
                path_members,
                member_k,
                member_combo,
                distance_unit,
                commission,
                slippage,
                slippage_bps,
                per_session,
                acc[g],
                nets,
                fnets,
                session_out,
                fsession_out,
                path_stats,
                path_fstats,
                path_entry,
                path_member,
                path_stops,
                no_trades,
                slot_of,
                memo_stop,
                memo_limit,
                n_slots,
                tick_at,
                next_break,
                session_index,
            )
        slot_of[:] = -1  # the memo maps this session's tick offsets


@njit(cache=True, parallel=True)
def sweep_trios_nb(
    times,
    prices,
    offsets,
    expected_move,
    block_max,
    block_min,
    first,
    high,
    low,
    entry,
    last,
    stop_values,
    stop_units,
    limit_values,
    limit_units,
    trio_range,
    trio_stop,
    trio_limit,
    trio_paths,
    path_cooloff,
    path_members,
    member_k,
    member_combo,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
    per_session,
    acc,
    nets,
    fnets,
    session_out,
    fsession_out,
    memo_bytes,
    tick_at_seconds,
):
    """Run a plan (``plan.Plan`` arrays) over every session.

    Sessions are dealt to ``acc.shape[0]`` groups run in parallel (one ``prange``); a group runs
    its sessions one by one, all trios of a session in turn, sharing the session's memo of exits
    (``memo_exit_nb``). Member ``m``'s statistics of session ``s`` go to
    ``session_out[:, combo, s]`` and ``fsession_out[:, combo, s]`` (``combo = member_combo[m]``)
    when ``per_session``; otherwise they are added to ``acc[group, m]`` (integer sums: the caller
    adds the groups up), the session net is stored in ``nets[s, m]`` and the float statistics in
    ``fnets[:, s, m]`` (the per-session series metrics come from those afterwards).
    """
    n_sessions = offsets.shape[0] - 1
    n_groups = acc.shape[0]
    longest = 1
    for s in range(n_sessions):
        longest = max(longest, offsets[s + 1] - offsets[s])
    n_values = stop_values.shape[0] + limit_values.shape[0]
    capacity = max(1, min(longest, memo_bytes // (8 * n_values)))
    span = 0  # longest session in seconds (tick_at is skipped beyond tick_at_seconds)
    for s in range(n_sessions):
        if offsets[s + 1] > offsets[s]:
            span = max(span, times[offsets[s + 1] - 1] - times[offsets[s]])
    span = min(span, tick_at_seconds)
    for g in prange(n_groups):
        run_session_group_nb(
            g,
            n_groups,
            longest,
            capacity,
            span,
            times,
            prices,
            offsets,
            expected_move,
            block_max,
            block_min,
            first,
            high,
            low,
            entry,
            last,
            stop_values,
            stop_units,
            limit_values,
            limit_units,
            trio_range,
            trio_stop,
            trio_limit,
            trio_paths,
            path_cooloff,
            path_members,
            member_k,
            member_combo,
            distance_unit,
            commission,
            slippage,
            slippage_bps,
            per_session,
            acc,
            nets,
            fnets,
            session_out,
            fsession_out,
        )


@njit(cache=True)
def ledger_nb(
    times,
    prices,
    offsets,
    expected_move,
    block_max,
    block_min,
    first,
    high,
    low,
    entry,
    last,
    stop_value,
    stop_units,
    limit_value,
    limit_units,
    cooloff,
    stop_count_limit,
    distance_unit,
    commission,
    slippage,
    slippage_bps,
):
    """Trades of one combination (range index 0 of the session tables): ``(rows, session)``
    with ``rules.TRADE_*`` rows in time order and the session index of each row."""
    n_sessions = offsets.shape[0] - 1
    stats = np.zeros((1, N_STAT), dtype=np.int64)
    fstats = np.zeros((1, N_FSTAT), dtype=np.float64)
    capacity = 64
    rows = np.zeros((capacity, N_TRADE), dtype=np.int64)
    sessions = np.zeros(capacity, dtype=np.int64)
    total = 0
    for s in range(n_sessions):
        start = offsets[s]
        if first[s, 0] == start:
            continue
        room = min(stop_count_limit + 1, offsets[s + 1] - start + 1)
        buffer = np.zeros((room, N_TRADE), dtype=np.int64)
        count = ledger_session_nb(
            times,
            prices,
            block_max,
            block_min,
            high[s, 0],
            low[s, 0],
            entry[s, 0],
            last[s],
            expected_move[s],
            stop_value,
            stop_units,
            limit_value,
            limit_units,
            cooloff,
            stop_count_limit,
            distance_unit,
            commission,
            slippage,
            slippage_bps,
            stats,
            fstats,
            buffer,
        )
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
