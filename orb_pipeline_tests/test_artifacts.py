"""Artifacts through the cache store: keys naming ticker, window and engine version, links a user
opens (local path; S3 console page; presigned URL fetched over HTTP from moto), small thumbnails."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import urllib.parse
import urllib.request

import boto3
import dagster as dg
import numpy as np
import pytest
from PIL import Image

from orb_pipeline.core.artifacts import (
    THUMBNAIL_MAX_BYTES,
    artifact_path,
    thumbnail_markdown,
    thumbnail_png,
    write_artifact,
)
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.settings import SettingsError
from orb_pipeline_tests.warehouse.seeding import s3_endpoint  # noqa: F401 - pytest fixture


def picture(width: int = 1000, height: int = 500, seed: int = 3) -> bytes:
    """A noisy RGB PNG (hard to compress, so the size bound is really exercised)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def s3_cache(s3_endpoint, tmp_path) -> CacheStore:  # noqa: F811 - the fixture above
    bucket = "orb-art-" + tmp_path.name.lower().replace("_", "-")[:30]
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return CacheStore(
        url=f"s3://{bucket}/cache", s3_endpoint_url=s3_endpoint, s3_region="us-east-1"
    )


def test_key_names_ticker_window_and_engine_version():
    path = artifact_path(
        "SPY", "2025-09-02", "2025-11-28", "leaderboard/equity.png", engine_version="9.9.9"
    )
    assert path == "artifacts/SPY/2025-09-02_2025-11-28/engine-9.9.9/leaderboard/equity.png"
    with pytest.raises(ValueError):
        artifact_path("SPY", "2025-02-30", "2025-11-28", "x.png", engine_version="1.0.0")


def test_local_artifact_is_a_file_linked_by_path(tmp_path):
    cache = CacheStore(url=str(tmp_path / "cache"))
    data = b"ticker,profit\nSPY,1.5\n"
    saved = write_artifact(
        cache, "SPY", "2025-09-02", "2025-11-28", "ledgers/abc.csv", data, engine_version="1.0.0"
    )
    expected_file = (tmp_path / "cache" / saved.path).resolve()
    assert expected_file.read_bytes() == data
    assert saved.link == str(expected_file) == saved.location
    assert saved.size == len(data) and saved.sha256 == hashlib.sha256(data).hexdigest()
    assert saved.metadata_value() == dg.MetadataValue.path(str(expected_file))
    # Replacing an artifact leaves exactly one file with the new bytes, no temporary files.
    write_artifact(
        cache, "SPY", "2025-09-02", "2025-11-28", "ledgers/abc.csv", b"new", engine_version="1.0.0"
    )
    assert expected_file.read_bytes() == b"new"
    # The file and its recorded digest, no temporary left behind.
    assert sorted(p.name for p in expected_file.parent.iterdir()) == [".abc.csv.sha256", "abc.csv"]


def test_s3_presigned_link_downloads_the_artifact(s3_cache, monkeypatch):
    monkeypatch.delenv("ORB_ARTIFACT_LINKS", raising=False)  # custom endpoint: presigned by default
    png = picture(200, 100)
    saved = write_artifact(
        s3_cache,
        "QQQ",
        "2025-01-02",
        "2025-01-31",
        "leaderboard/heatmap.png",
        png,
        engine_version="1.0.0",
    )
    assert saved.location == f"s3://{s3_cache.url[5:].split('/')[0]}/cache/{saved.path}"
    assert saved.metadata_value() == dg.MetadataValue.url(saved.link)
    with urllib.request.urlopen(saved.link, timeout=10) as response:  # noqa: S310 - moto on loopback
        assert response.read() == png
        assert response.headers["Content-Type"] == "image/png"


def test_s3_console_link_names_bucket_key_and_region(s3_cache, monkeypatch):
    monkeypatch.setenv("ORB_ARTIFACT_LINKS", "console")
    saved = write_artifact(
        s3_cache,
        "QQQ",
        "2025-01-02",
        "2025-01-31",
        "report.html",
        b"<html/>",
        engine_version="1.0.0",
    )
    parsed = urllib.parse.urlparse(saved.link)
    bucket = s3_cache.url[5:].split("/")[0]
    assert parsed.netloc == "us-east-1.console.aws.amazon.com"
    assert parsed.path == f"/s3/object/{bucket}"
    query = urllib.parse.parse_qs(parsed.query)
    assert query["prefix"] == ["cache/" + saved.path] and query["region"] == ["us-east-1"]
    monkeypatch.setenv("ORB_ARTIFACT_LINKS", "ftp")
    with pytest.raises(SettingsError, match="ORB_ARTIFACT_LINKS"):
        write_artifact(
            s3_cache,
            "QQQ",
            "2025-01-02",
            "2025-01-31",
            "report.html",
            b"<html/>",
            engine_version="1.0.0",
        )


def test_thumbnail_is_small_and_keeps_the_aspect_ratio():
    png = picture()
    small = thumbnail_png(png)
    assert len(png) > 1_000_000 and len(small) <= THUMBNAIL_MAX_BYTES
    with Image.open(io.BytesIO(small)) as image:
        assert image.width <= 640 and abs(image.width / image.height - 2.0) < 0.05


def test_thumbnail_markdown_embeds_the_thumbnail_and_links_the_full_picture(tmp_path):
    png = picture(600, 300)
    saved = write_artifact(
        CacheStore(url=str(tmp_path)),
        "SPY",
        "2025-01-02",
        "2025-01-31",
        "p.png",
        png,
        engine_version="1.0.0",
    )
    text = thumbnail_markdown(png, "equity", saved)
    encoded = re.fullmatch(
        r"!\[equity\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)\n\n"
        r"Full size: `(.+)`",
        text,
    )
    assert encoded and encoded.group(2) == saved.link
    assert base64.b64decode(encoded.group(1)) == thumbnail_png(png)
