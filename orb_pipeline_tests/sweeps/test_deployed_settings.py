"""Research settings a deployed stack can change without editing it: the grid file in the cache
bucket (moto's S3), and a fingerprint that makes chunks swept under other settings out of date."""

from __future__ import annotations

import boto3
import pytest

from orb_pipeline.sweeps.assets import build_sweep_results
from orb_pipeline.sweeps.grid import (
    GridConfigError,
    load_settings,
    parse_settings,
    settings_fingerprint,
)
from orb_pipeline_tests.warehouse.seeding import s3_endpoint  # noqa: F401 - moto server fixture

GRID_TOML = """
chunks = 3
[[blocks]]
range_seconds = [30, 60]
stop_distance = [0.1, 0.2]
stop_count_limit = [1]
stop_cooloff_period = [0]
limit_distance = [0.5, 1.0]
"""


def test_grid_file_is_read_from_s3(s3_endpoint):  # noqa: F811 - the fixture above
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="orb-cache-grid")
    s3.put_object(Bucket="orb-cache-grid", Key="cache/grids/narrow.toml", Body=GRID_TOML.encode())
    environ = {
        "ORB_SWEEP_GRID": "s3://orb-cache-grid/cache/grids/narrow.toml",
        "ORB_CACHE_S3_ENDPOINT_URL": s3_endpoint,
    }
    settings = load_settings(environ)
    assert settings.chunks == 3 and settings.grid().height == 8
    # ORB_SWEEP_CHUNKS still wins over the file's chunks.
    assert load_settings({**environ, "ORB_SWEEP_CHUNKS": "2"}).chunks == 2
    with pytest.raises(
        GridConfigError, match="cannot read ORB_SWEEP_GRID file s3://orb-cache-grid/"
    ):
        load_settings({**environ, "ORB_SWEEP_GRID": "s3://orb-cache-grid/cache/grids/missing.toml"})


def test_fingerprint_changes_with_grid_chunks_and_costs_only():
    base = {
        "blocks": [
            {
                "range_seconds": [30],
                "stop_distance": [0.1, 0.2],
                "stop_count_limit": [1],
                "stop_cooloff_period": [0],
                "limit_distance": [0.5],
            }
        ],
        "chunks": 2,
    }
    same = settings_fingerprint(parse_settings(base))
    assert same == settings_fingerprint(parse_settings(dict(base)))
    assert len(same) == 16
    others = [
        {**base, "chunks": 1},
        {**base, "blocks": [{**base["blocks"][0], "stop_distance": [0.1, 0.3]}]},
        {**base, "costs": {"commission_per_share": 0.01}},
        {**base, "distance_unit": "percent"},
    ]
    fingerprints = {settings_fingerprint(parse_settings(raw)) for raw in others}
    assert same not in fingerprints and len(fingerprints) == len(others)


def test_sweep_results_carries_the_fingerprint_as_its_code_version():
    settings = parse_settings({"chunks": 4})
    asset = build_sweep_results(settings)
    (version,) = set(asset.code_versions_by_key.values())
    assert version == settings_fingerprint(settings)
    changed = build_sweep_results(parse_settings({"chunks": 5}))
    assert set(changed.code_versions_by_key.values()) != {version}
