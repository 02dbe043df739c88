"""``staged_window`` [ticker]: a ticker's window from the Parquet cache, staged for the sweeps."""
# No `from __future__ import annotations`: Dagster reads the config and resource annotations.

import datetime as dt

import dagster as dg
from pydantic import Field

from orb_pipeline.core import settings
from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.core.lineage import COMPRESSED_SERIES, STAGED_WINDOW
from orb_pipeline.partitions import ticker_dep, ticker_partitions
from orb_pipeline.staging.resource import StagingStore
from orb_pipeline.staging.window import stage_from_cache

# Defaults are names read when definitions load (not secrets); run config overrides them.
_CHOSEN = settings.current()
_DEFAULT_FIRST = _CHOSEN.window_first.isoformat() if _CHOSEN.window_first else ""
_DEFAULT_LAST = _CHOSEN.window_last.isoformat() if _CHOSEN.window_last else ""


class StagedWindowConfig(dg.Config):
    """The window to stage: inclusive session dates ``YYYY-MM-DD``."""

    first_session: str = Field(
        default=_DEFAULT_FIRST, description="first session (inclusive); default ORB_WINDOW_FIRST"
    )
    last_session: str = Field(
        default=_DEFAULT_LAST, description="last session (inclusive); default ORB_WINDOW_LAST"
    )

    def dates(self) -> tuple[dt.date, dt.date]:
        parsed = []
        for name in ("first_session", "last_session"):
            value = getattr(self, name)
            try:
                parsed.append(dt.date.fromisoformat(value))
            except ValueError:
                raise dg.Failure(
                    f"staged_window config {name} must be a date YYYY-MM-DD (run config, or "
                    f"ORB_WINDOW_{name.split('_')[0].upper()}), got {value!r}"
                ) from None
        if parsed[1] < parsed[0]:
            raise dg.Failure(
                f"staged_window: last_session {parsed[1]} is before first_session {parsed[0]}"
            )
        return parsed[0], parsed[1]


@dg.asset(
    key=STAGED_WINDOW,
    partitions_def=ticker_partitions,
    deps=[ticker_dep(COMPRESSED_SERIES)],
    kinds={"redis", "polars"},
    group_name="sweeps",
)
def staged_window(
    context: dg.AssetExecutionContext,
    config: StagedWindowConfig,
    staging: StagingStore,
    cache: CacheStore,
) -> dg.MaterializeResult:
    """A ticker's compressed series and sessions over the configured window, staged as Arrow IPC
    parts (Redis in production, a local directory by default), keyed by ticker and data version."""
    ticker = context.partition_key
    first, last = config.dates()
    report, read_seconds = stage_from_cache(staging, cache, ticker, first, last)
    megabytes = report.frame_bytes / 1e6
    context.log.info(
        f"staged {ticker} {first}..{last} (data version {report.data_version}) in "
        f"{staging.describe()}: {report.parts} parts, {report.payload_bytes / 1e6:.1f} MB "
        f"{report.compression} from {megabytes:.1f} MB of frames in {report.seconds:.2f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "ticker": ticker,
            "data_version": report.data_version,
            "window_start": report.window_start.isoformat(),
            "window_end": report.window_end.isoformat(),
            "staging": staging.describe(),
            "parts": report.parts,
            "payload_mb": round(report.payload_bytes / 1e6, 3),
            "frame_mb": round(megabytes, 3),
            "compression": report.compression,
            "cache_read_seconds": round(read_seconds, 3),
            "stage_seconds": round(report.seconds, 3),
            "stage_mb_per_second": round(megabytes / report.seconds, 1) if report.seconds else None,
        },
        data_version=dg.DataVersion(report.data_version),
    )
