"""Staging fixtures: every store test runs on the local directory store and on real Redis."""

from __future__ import annotations

import pytest

from orb_pipeline.staging.resource import LocalStagingStore, RedisStagingStore


def redis_staging(redis_settings: dict, **options) -> RedisStagingStore:
    return RedisStagingStore(
        host=redis_settings["host"],
        port=redis_settings["port"],
        password=redis_settings["password"],
        key_prefix=redis_settings["key_prefix"],
        **options,
    )


@pytest.fixture(params=["local", "redis"])
def make_staging(request, tmp_path):
    """A factory of staging stores of one kind, with options (``part_megabytes=1``...)."""
    if request.param == "local":
        return lambda **options: LocalStagingStore(directory=str(tmp_path / "staging"), **options)
    settings = request.getfixturevalue("redis_settings")
    return lambda **options: redis_staging(settings, **options)
