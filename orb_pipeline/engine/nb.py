"""Fast kernels: the per-session state machine without visiting every tick.

Contract (shapes and units)
---------------------------
- ``times``/``prices``: int64 ``(n_ticks,)`` seconds / units of $0.0001, all sessions back to back
  in chronological order; session ``s`` is ``offsets[s]:offsets[s+1]`` (``inputs.Window``).
- Block tables (``build_block_tables_nb``): ``block_max[k, b]`` / ``block_min[k, b]`` are the max /
  min price of the ticks of blocks ``b .. b + 2**k - 1`` (block ``b`` = ticks ``b*BLOCK ..
  (b+1)*BLOCK - 1`` of the whole window). ``first_hit_nb`` answers "first index ``j`` in
  ``[i, stop)`` with ``prices[j] >= up`` or ``prices[j] <= down``" in O(BLOCK + log n): a scan of
  the partial first block, a binary lifting over whole blocks, a scan of the block that holds
  the hit. Entries (``p > range_high`` or ``p < range_low``) are the same query with
  ``up = high + 1``, ``down = low - 1`` (integer units), exits with the stop / limit levels.
- Session tables (``session_tables_nb``), per session ``s`` and distinct range length ``r``:
  ``first[s, r]`` first tick with ``t > open + R`` (the range window is ``offsets[s]:first``, empty
  means the session is not traded), ``high``/``low`` of that window, ``entry[s, r]`` the first
  breakout at or after ``first`` before ``last[s]``, and ``last[s]`` the first tick whose time is
  the session's last time ``t_end`` (no entry from there on; a position exits there).
- Paths: combinations that share ``(range_seconds, stop_distance, limit_distance,
  stop_cooloff_period)`` differ only in ``stop_count_limit``; with limit ``k`` a session's trades
  are those of the unlimited run up to its ``k``-th stop. One run per path and session serves all
  its members (``members`` sorted by ``k``), snapshotting the statistics at each stop.
- Work order: sessions in chronological order (so a session's data stays in cache), paths of a
  session in parallel (``prange``). No array of size ticks x combinations.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from orb_pipeline.engine.metrics import (
    ACC_MAX_DRAWDOWN,
    N_STAT,
    STAT_NET,
    accumulate_session_nb,
    drawdown_sharpe_nb,
)
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
    for k in range(block_max.shape[0] - 1, -1, -1):
        span = 1 << k
        if block + span <= last_block + 1 and block_max[k, block] < up \
                and block_min[k, block] > down:
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
def run_path_session_nb(times, prices, block_max, block_min, s, start, high, low, entry, last,
                        expected_move, stop_value, stop_units, limit_value, limit_units, cooloff,
                        member_k, member_lo, member_hi, distance_unit, commission, slippage,
                        slippage_bps, stats, snapshots, trades_out):
    """One path on one session. ``snapshots[m - member_lo]`` receives the statistics of member
    ``m`` (stop limit ``member_k[m]``); returns the number of trades of the longest member."""
    stats[:] = 0
    count = 0
    member = member_lo
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
            count = record_trade_nb(stats, trades_out, count, side, entry, exit_, reason, p, q,
                                    times, commission, slippage, slippage_bps)
            break
        count = record_trade_nb(stats, trades_out, count, side, entry, exit_, REASON_STOP, p, q,
                                times, commission, slippage, slippage_bps)
        stops += 1
        while member < member_hi and member_k[member] == stops:
            snapshots[member - member_lo, :] = stats
            member += 1
        if member == member_hi:
            return count
        resume = first_at_or_after_nb(times, exit_ + 1, last, times[exit_] + cooloff)
        entry = first_hit_nb(prices, block_max, block_min, resume, last, high + 1, low - 1)
    while member < member_hi:
        snapshots[member - member_lo, :] = stats
        member += 1
    return count


@njit(cache=True, parallel=True)
def sweep_paths_nb(times, prices, offsets, expected_move, block_max, block_min, first, high, low,
                   entry, last, path_range, path_stop_value, path_stop_units, path_limit_value,
                   path_limit_units, path_cooloff, path_members, member_k, member_combo,
                   member_row, distance_unit, commission, slippage, slippage_bps, per_session,
                   acc, sharpe, nets, session_out):
    """Run ``paths`` over every session, in chronological order.

    ``path_members[q]:path_members[q+1]`` are path ``q``'s members (indices into ``member_k``,
    ``member_combo`` = grid row, ``member_row`` = row of ``nets``). With ``per_session`` False
    each member's session statistics are added to ``acc[combo]`` and its session net stored in
    ``nets[row, s]``; then drawdown and Sharpe (``sharpe[combo]``) come from ``nets``. With ``per_session``
    True they are written to ``session_out[:, combo, s]`` instead.
    """
    n_sessions = offsets.shape[0] - 1
    n_paths = path_range.shape[0]
    no_trades = np.zeros((0, N_TRADE), dtype=np.int64)
    for s in range(n_sessions):
        start = offsets[s]
        for q in prange(n_paths):
            lo = path_members[q]
            hi = path_members[q + 1]
            stats = np.zeros(N_STAT, dtype=np.int64)
            snapshots = np.zeros((hi - lo, N_STAT), dtype=np.int64)
            r = path_range[q]
            if first[s, r] > start:
                run_path_session_nb(
                    times, prices, block_max, block_min, s, start, high[s, r], low[s, r],
                    entry[s, r], last[s], expected_move[s], path_stop_value[q],
                    path_stop_units[q], path_limit_value[q], path_limit_units[q], path_cooloff[q],
                    member_k, lo, hi, distance_unit, commission, slippage, slippage_bps, stats,
                    snapshots, no_trades,
                )
            for m in range(lo, hi):
                combo = member_combo[m]
                if per_session:
                    for k in range(N_STAT):
                        session_out[k, combo, s] = snapshots[m - lo, k]
                else:
                    accumulate_session_nb(acc[combo], snapshots[m - lo])
                    nets[member_row[m], s] = snapshots[m - lo, STAT_NET]
    if not per_session:
        for m in prange(member_combo.shape[0]):
            drawdown, ratio = drawdown_sharpe_nb(nets[member_row[m]])
            acc[member_combo[m], ACC_MAX_DRAWDOWN] = drawdown
            sharpe[member_combo[m]] = ratio


@njit(cache=True)
def ledger_nb(times, prices, offsets, expected_move, block_max, block_min, first, high, low,
              entry, last, stop_value, stop_units, limit_value, limit_units, cooloff,
              stop_count_limit, distance_unit, commission, slippage, slippage_bps):
    """Trades of one combination (range index 0 of the session tables): ``(rows, session)``
    with ``rules.TRADE_*`` rows in time order and the session index of each row."""
    n_sessions = offsets.shape[0] - 1
    member_k = np.full(1, stop_count_limit, dtype=np.int64)
    stats = np.zeros(N_STAT, dtype=np.int64)
    snapshots = np.zeros((1, N_STAT), dtype=np.int64)
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
        count = run_path_session_nb(
            times, prices, block_max, block_min, s, start, high[s, 0], low[s, 0], entry[s, 0],
            last[s], expected_move[s], stop_value, stop_units, limit_value, limit_units, cooloff,
            member_k, 0, 1, distance_unit, commission, slippage, slippage_bps, stats, snapshots,
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
        rows[total:total + count] = buffer[:count]
        sessions[total:total + count] = s
        total += count
    return rows[:total], sessions[:total]
