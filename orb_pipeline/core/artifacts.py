"""Artifacts: pictures, ledgers and reports written through the cache store, linked from metadata.

The one helper every stage uses for files a user opens (the leaderboard's PNGs, the validation
pictures, ``orb-pipeline ledger`` output, HTML reports):

```python
from orb_pipeline.core.artifacts import write_artifact, thumbnail_markdown

saved = write_artifact(cache, ticker, window_start, window_end, "leaderboard/equity.png", png,
                       engine_version=engine.ENGINE_VERSION)
metadata = {"equity_png": saved.metadata_value(),                  # link the UI opens
            "equity_curves": dg.MetadataValue.md(thumbnail_markdown(png, "equity curves"))}
```

- Keys name ticker, inclusive window and engine version:
  ``artifacts/<ticker>/<first>_<last>/engine-<ENGINE_VERSION>/<name>`` in the ``cache`` store
  (a local directory on embedded defaults, ``s3://bucket/prefix`` in production), written
  atomically, so an artifact outlives the (Fargate) task that wrote it.
- Links: a local path on embedded defaults; on S3 the AWS console page of the object (durable,
  needs a console login; ``ORB_ARTIFACT_LINKS=console``, the default on AWS) or a presigned GET
  URL (``ORB_ARTIFACT_LINKS=presigned``, valid ``ORB_ARTIFACT_LINK_SECONDS``, default and at most
  7 days; the default with a custom endpoint such as MinIO, whose objects have no console page).
- Inline pictures in metadata are thumbnails of at most :data:`THUMBNAIL_MAX_BYTES`, so the event
  log grows by kilobytes per run, never by the full PNG.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import mimetypes
import urllib.parse
from dataclasses import dataclass
from typing import Literal

import dagster as dg

from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.pictures import markdown_image

ARTIFACTS_PREFIX = "artifacts"
THUMBNAIL_MAX_BYTES = 24_000
"""Upper bound of one inline thumbnail's PNG bytes (its base64 in the event is 4/3 of it)."""
LinkKind = Literal["path", "console", "presigned"]


@dataclass(frozen=True)
class Artifact:
    """One written artifact: ``path`` in the store, ``location`` (``s3://...`` or an absolute
    path), ``link`` (what a user opens: URL or local path), ``size`` in bytes, ``sha256`` hex."""

    path: str
    location: str
    link: str
    size: int
    sha256: str

    def metadata_value(self) -> dg.MetadataValue:
        """``MetadataValue.url`` for a web link, ``MetadataValue.path`` for a local file."""
        return link_metadata(self.link)


def link_metadata(link: str) -> dg.MetadataValue:
    """Metadata for a link of :func:`artifact_link` (also for an artifact written later, such as
    a report the leaderboard links in advance)."""
    if link.startswith(("https://", "http://")):
        return dg.MetadataValue.url(link)
    return dg.MetadataValue.path(link)


def _date_text(value: dt.date | str) -> str:
    return (
        value.isoformat()
        if isinstance(value, dt.date)
        else dt.date.fromisoformat(value).isoformat()
    )


def artifact_path(
    ticker: str,
    window_start: dt.date | str,
    window_end: dt.date | str,
    name: str,
    *,
    engine_version: str,
) -> str:
    """``artifacts/<ticker>/<first>_<last>/engine-<version>/<name>`` (``name`` may hold ``/``)."""
    window = _date_text(window_start) + "_" + _date_text(window_end)
    return "/".join((ARTIFACTS_PREFIX, ticker, window, "engine-" + engine_version, name.strip("/")))


def link_kind(cache: CacheStore) -> LinkKind:
    """How links to ``cache``'s artifacts are made (``ORB_ARTIFACT_LINKS``, see the module doc)."""
    if not cache.is_s3:
        return "path"
    chosen = settings.current().artifact_links
    if chosen is None:
        return "presigned" if cache.s3_endpoint_url else "console"
    return chosen  # type: ignore[return-value]


def artifact_link(cache: CacheStore, path: str) -> str:
    """What a user opens for ``path`` in ``cache``: a local path, an S3 console URL or a presigned URL."""
    location = cache.location(path)
    kind = link_kind(cache)
    if kind == "path":
        return location
    bucket, _, key = location[len("s3://") :].partition("/")
    if kind == "console":
        region = cache.s3_region or "us-east-1"
        query = urllib.parse.urlencode({"region": region, "bucketType": "general", "prefix": key})
        return f"https://{region}.console.aws.amazon.com/s3/object/{bucket}?{query}"
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return cache._client().generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentType": content_type},
        ExpiresIn=settings.current().artifact_link_seconds,
    )


def write_artifact(
    cache: CacheStore,
    ticker: str,
    window_start: dt.date | str,
    window_end: dt.date | str,
    name: str,
    data: bytes,
    *,
    engine_version: str,
) -> Artifact:
    """Write ``data`` atomically under :func:`artifact_path` in ``cache`` (replacing an earlier
    copy) and return where it is and how to open it."""
    path = artifact_path(ticker, window_start, window_end, name, engine_version=engine_version)
    cache.write_bytes(path, data)
    return Artifact(
        path=path,
        location=cache.location(path),
        link=artifact_link(cache, path),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


@dataclass(frozen=True)
class Picture:
    """A PNG written as an artifact: its bytes (for the inline thumbnail) and where it is
    (``Picture(png, write_artifact(...))``)."""

    png: bytes
    file: Artifact

    def thumbnail(self, alt: str) -> dg.MetadataValue:
        """Markdown metadata: the inline thumbnail and the full picture's link."""
        return dg.MetadataValue.md(thumbnail_markdown(self.png, alt, self.file))


def thumbnail_png(png: bytes, *, width: int = 640, max_bytes: int = THUMBNAIL_MAX_BYTES) -> bytes:
    """``png`` scaled to ``width`` pixels (or less, until it fits ``max_bytes``), 32 colours."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as source:
        picture = source.convert("RGB")
    current = min(width, picture.width)
    while True:
        height = max(1, round(picture.height * current / picture.width))
        small = picture.resize((current, height), Image.Resampling.LANCZOS)
        small = small.quantize(
            colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
        if buffer.tell() <= max_bytes or current <= 64:
            return buffer.getvalue()
        current = int(current * 0.8)


def thumbnail_markdown(png: bytes, alt: str, artifact: Artifact | None = None) -> str:
    """Markdown showing a small inline thumbnail of ``png`` (a data URI of at most
    :data:`THUMBNAIL_MAX_BYTES` PNG bytes), followed by the full picture's link when given."""
    text = markdown_image(thumbnail_png(png), alt)
    if artifact is not None and artifact.link.startswith(("https://", "http://")):
        text += f"\n\nFull size: [{artifact.path.rsplit('/', 1)[-1]}]({artifact.link})"
    elif artifact is not None:
        text += f"\n\nFull size: `{artifact.link}`"
    return text
