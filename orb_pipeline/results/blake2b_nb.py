"""Keyed BLAKE2b (RFC 7693) of many short fixed-width records at once, compiled with numba.

Contract: ``hex_ids(prefix, key, records)[i]`` is the ASCII text of
``prefix.hex() + hashlib.blake2b(records[i].tobytes(), digest_size=12, key=key).hexdigest()``
for a C-contiguous ``uint64`` array ``records`` of shape ``(n, words)`` with ``words <= 16`` (one
128-byte block; words are hashed as their little-endian bytes), ``1 <= len(key) <= 64`` and a
``prefix`` of 4 bytes. The result is a ``uint8`` array of shape ``(n, 32)``. ``hashlib`` is the
reference (``orb_pipeline.results.ids.backtest_id`` hashes one row with it, and the tests compare
the two); this path only exists because a Python loop over a million rows took a second.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_IV = np.array(
    [
        0x6A09E667F3BCC908,
        0xBB67AE8584CAA73B,
        0x3C6EF372FE94F82B,
        0xA54FF53A5F1D36F1,
        0x510E527FADE682D1,
        0x9B05688C2B3E6C1F,
        0x1F83D9ABFB41BD6B,
        0x5BE0CD19137E2179,
    ],
    dtype=np.uint64,
)
_SIGMA = np.array(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ],
    dtype=np.int64,
)
# The (a, b, c, d) state words of the eight G calls of a round: four columns, four diagonals.
_G = np.array(
    [
        [0, 4, 8, 12],
        [1, 5, 9, 13],
        [2, 6, 10, 14],
        [3, 7, 11, 15],
        [0, 5, 10, 15],
        [1, 6, 11, 12],
        [2, 7, 8, 13],
        [3, 4, 9, 14],
    ],
    dtype=np.int64,
)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8).copy()
_DIGEST_BYTES = 12
_BLOCK_BYTES = 128


@njit(cache=True, inline="always")
def _rotr(x, n):
    return (x >> np.uint64(n)) | (x << np.uint64(64 - n))


@njit(cache=True)
def _compress(h, m, t, last, v):
    """BLAKE2b's F (RFC 7693, 3.2): mixes the 16-word block ``m`` into the state ``h`` in place;
    ``t`` = bytes hashed so far including this block (below 2**64), ``last`` for the final block;
    ``v`` is 16 words of scratch."""
    for i in range(8):
        v[i] = h[i]
        v[i + 8] = _IV[i]
    v[12] ^= np.uint64(t)
    if last:
        v[14] = ~v[14]
    for r in range(12):
        for j in range(8):
            a, b, c, d = _G[j, 0], _G[j, 1], _G[j, 2], _G[j, 3]
            x, y = m[_SIGMA[r % 10, 2 * j]], m[_SIGMA[r % 10, 2 * j + 1]]
            v[a] = v[a] + v[b] + x
            v[d] = _rotr(v[d] ^ v[a], 32)
            v[c] = v[c] + v[d]
            v[b] = _rotr(v[b] ^ v[c], 24)
            v[a] = v[a] + v[b] + y
            v[d] = _rotr(v[d] ^ v[a], 16)
            v[c] = v[c] + v[d]
            v[b] = _rotr(v[b] ^ v[c], 63)
    for i in range(8):
        h[i] ^= v[i] ^ v[i + 8]


@njit(cache=True)
def _keyed_state(key_words, key_length, digest_length):
    """The state after the parameter block and the key block (shared by every record)."""
    h = _IV.copy()
    h[0] ^= np.uint64(0x01010000) ^ np.uint64(key_length << 8) ^ np.uint64(digest_length)
    # int64 and a plain bool, as in _hex_ids_nb: a literal would compile _compress a second time.
    _compress(h, key_words, np.int64(_BLOCK_BYTES), np.bool_(False), np.empty(16, dtype=np.uint64))
    return h


@njit(cache=True, parallel=True)
def _hex_ids_nb(prefix, key_words, key_length, records):
    n, words = records.shape
    state = _keyed_state(key_words, key_length, _DIGEST_BYTES)
    out = np.empty((n, 8 + 2 * _DIGEST_BYTES), dtype=np.uint8)
    rows_per_task = 4096  # scratch arrays are allocated per task, not per row
    for task in prange((n + rows_per_task - 1) // rows_per_task):
        m = np.zeros(16, dtype=np.uint64)
        h = np.empty(8, dtype=np.uint64)
        v = np.empty(16, dtype=np.uint64)
        for row in range(task * rows_per_task, min(n, (task + 1) * rows_per_task)):
            for w in range(words):
                m[w] = records[row, w]
            h[:] = state
            _compress(h, m, np.int64(_BLOCK_BYTES + 8 * words), np.bool_(True), v)
            for i in range(4):
                out[row, 2 * i] = _HEX[prefix[i] >> 4]
                out[row, 2 * i + 1] = _HEX[prefix[i] & 15]
            for i in range(_DIGEST_BYTES):
                byte = (h[i // 8] >> np.uint64(8 * (i % 8))) & np.uint64(255)
                out[row, 8 + 2 * i] = _HEX[byte >> np.uint64(4)]
                out[row, 9 + 2 * i] = _HEX[byte & np.uint64(15)]
    return out


def hex_ids(prefix: bytes, key: bytes, records: np.ndarray) -> np.ndarray:
    """See the module docstring."""
    if len(prefix) != 4 or not 1 <= len(key) <= 64:
        raise ValueError("hex_ids needs a 4-byte prefix and a key of 1 to 64 bytes")
    if records.dtype != np.uint64 or records.ndim != 2 or records.shape[1] > 16:
        raise ValueError("hex_ids needs a 2-d uint64 array of at most 16 words per record")
    key_words = np.frombuffer(key.ljust(_BLOCK_BYTES, b"\0"), dtype="<u8").astype(np.uint64)
    prefix_bytes = np.frombuffer(prefix, dtype=np.uint8).copy()
    return _hex_ids_nb(prefix_bytes, key_words, len(key), np.ascontiguousarray(records))
