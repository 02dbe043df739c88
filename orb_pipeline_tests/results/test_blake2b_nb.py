"""The numba BLAKE2b gives hashlib's digests, for any key length and record width it accepts."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orb_pipeline.results.blake2b_nb import hex_ids


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=1, max_size=64),
    prefix=st.binary(min_size=4, max_size=4),
    words=st.integers(1, 16),
    rows=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_hex_ids_equal_hashlib(key, prefix, words, rows, seed):
    records = np.random.default_rng(seed).integers(0, 2**64, (rows, words), dtype=np.uint64)
    got = [row.tobytes().decode() for row in hex_ids(prefix, key, records)]
    expected = [
        prefix.hex()
        + hashlib.blake2b(record.astype("<u8").tobytes(), digest_size=12, key=key).hexdigest()
        for record in records
    ]
    assert got == expected


@pytest.mark.parametrize(
    "prefix, key, records",
    [
        (b"abc", b"k", np.zeros((1, 1), dtype=np.uint64)),
        (b"abcd", b"", np.zeros((1, 1), dtype=np.uint64)),
        (b"abcd", b"k" * 65, np.zeros((1, 1), dtype=np.uint64)),
        (b"abcd", b"k", np.zeros((1, 17), dtype=np.uint64)),
        (b"abcd", b"k", np.zeros((1, 2), dtype=np.int64)),
    ],
)
def test_inputs_outside_the_contract_are_refused(prefix, key, records):
    with pytest.raises(ValueError, match="hex_ids needs"):
        hex_ids(prefix, key, records)
