"""The chain fixtures of the sweep tests: a cached window of ``TICKER`` and the chain over it on
the embedded stores and on the real MySQL + Redis."""

from __future__ import annotations

import pytest

from orb_pipeline_tests.sweeps.chain import TICKER, Chain, chain_for, write_window


@pytest.fixture
def cached_window(tmp_path):
    return write_window(tmp_path / "cache", TICKER)


@pytest.fixture(params=["embedded", "servers"])
def chain(request, tmp_path, cached_window) -> Chain:
    return chain_for(request, tmp_path, TICKER)
