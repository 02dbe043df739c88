"""Sweep configuration: the parameter grid and how it is cut into chunk partitions.

The grid is a union of cartesian products ("blocks"); each block gives every one of the five
parameters either as a list of values or as an inclusive range ``{start, stop, step}``. Duplicate
combinations across blocks are kept once. Row order is deterministic (blocks in order, each in
``engine.make_grid`` order), so chunk ``k`` of ``n`` is always the same rows:
``grid[k * rows // n : (k + 1) * rows // n]``.

Configuration is read when definitions load (the chunk partitions depend on it), so a bad grid
fails there, naming the bad field, before any run starts:

- ``ORB_SWEEP_GRID``: path of a TOML or JSON file (format below); default: the original 9,747
  backtests (``engine.default_grid``).
- ``ORB_SWEEP_CHUNKS``: number of parameter chunks per ticker (default 4).

```toml
chunks = 8                       # optional; ORB_SWEEP_CHUNKS wins when set
[[blocks]]
range_seconds = [30, 60, 300]
stop_distance = {start = 0.1, stop = 1.9, step = 0.1}
stop_count_limit = [1, 2, 3]
stop_cooloff_period = {start = 30, stop = 270, step = 30}
limit_distance = {start = 1, stop = 19, step = 1}
```
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from orb_pipeline import engine
from orb_pipeline.core import settings

DEFAULT_CHUNKS = 4


class GridConfigError(ValueError):
    """The sweep grid configuration is invalid (the message names the field)."""


class ValueRange(BaseModel):
    """Inclusive range ``start, start + step, ... <= stop``."""

    model_config = ConfigDict(extra="forbid")
    start: float
    stop: float
    step: float

    @model_validator(mode="after")
    def _check(self) -> ValueRange:
        if self.step <= 0:
            raise ValueError("step must be > 0")
        if self.stop < self.start:
            raise ValueError("stop must be >= start")
        return self

    def values(self) -> list[float]:
        return engine.inclusive_range(self.start, self.stop, self.step)


Axis = list[float] | ValueRange

_INTEGER_AXES = {"range_seconds": 1, "stop_count_limit": 1, "stop_cooloff_period": 0}
_DISTANCE_AXES = ("stop_distance", "limit_distance")


class GridBlock(BaseModel):
    """One cartesian product of parameter values; every parameter is required."""

    model_config = ConfigDict(extra="forbid")
    range_seconds: Axis
    stop_distance: Axis
    stop_count_limit: Axis
    stop_cooloff_period: Axis
    limit_distance: Axis

    def axis_values(self, name: str) -> list[float]:
        axis = getattr(self, name)
        values = axis.values() if isinstance(axis, ValueRange) else list(axis)
        if not values:
            raise GridConfigError(f"grid parameter {name!r} has no values")
        if name in _INTEGER_AXES:
            minimum = _INTEGER_AXES[name]
            bad = [v for v in values if v != int(v) or v < minimum]
            if bad:
                raise GridConfigError(
                    f"grid parameter {name!r} must be integers >= {minimum}, got {bad[:3]}"
                )
        else:
            bad = [v for v in values if not v > 0 or v == float("inf")]
            if bad:
                raise GridConfigError(
                    f"grid parameter {name!r} must be finite and > 0, got {bad[:3]}"
                )
        return values

    def frame(self) -> pl.DataFrame:
        values = {name: self.axis_values(name) for name in engine.GRID_COLUMNS}
        for name in _INTEGER_AXES:
            values[name] = [int(v) for v in values[name]]
        return engine.make_grid(**values)


class SweepSettings(BaseModel):
    """The whole sweep configuration (see module docstring)."""

    model_config = ConfigDict(extra="forbid")
    blocks: list[GridBlock] | None = None  # None: engine.default_grid()
    chunks: int = DEFAULT_CHUNKS

    @model_validator(mode="after")
    def _check(self) -> SweepSettings:
        if self.blocks is not None and not self.blocks:
            raise ValueError(
                "blocks is empty: give at least one grid block (or omit it for the default)"
            )
        if self.chunks < 1:
            raise ValueError("chunks must be >= 1")
        return self

    def grid(self) -> pl.DataFrame:
        """The full grid, deduplicated, in deterministic order."""
        if self.blocks is None:
            return engine.default_grid()
        frame = pl.concat([block.frame() for block in self.blocks])
        return frame.unique(maintain_order=True)

    def chunk_keys(self) -> list[str]:
        width = max(3, len(str(self.chunks - 1)))
        return [str(index).zfill(width) for index in range(self.chunks)]


def chunk_of(grid: pl.DataFrame, index: int, chunks: int) -> pl.DataFrame:
    """Rows of chunk ``index`` (0-based) of ``chunks`` equal-as-possible slices of ``grid``."""
    if not 0 <= index < chunks:
        raise ValueError(f"chunk index must be in [0, {chunks}), got {index}")
    start = index * grid.height // chunks
    stop = (index + 1) * grid.height // chunks
    return grid.slice(start, stop - start)


def parse_settings(raw: dict, source: str = "sweep settings") -> SweepSettings:
    """Validate a settings mapping; errors name ``source`` and the bad field, and the grid is built
    once so every parameter domain is checked here."""
    try:
        settings = SweepSettings.model_validate(raw)
        grid = settings.grid()
    except ValidationError as error:
        problems = "; ".join(
            ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in error.errors()
        )
        raise GridConfigError(f"invalid {source}: {problems}") from None
    except GridConfigError as error:
        raise GridConfigError(f"invalid {source}: {error}") from None
    if settings.chunks > grid.height:
        raise GridConfigError(
            f"invalid {source}: chunks = {settings.chunks} is more than the grid's {grid.height} rows"
        )
    return settings


def load_settings(environ: dict | None = None) -> SweepSettings:
    """Settings from ``ORB_SWEEP_GRID`` (a TOML/JSON file) and ``ORB_SWEEP_CHUNKS``."""
    try:
        chosen = settings.current(environ)
    except settings.SettingsError as error:
        raise GridConfigError(str(error)) from None
    raw: dict = {}
    source = "default sweep settings"
    path = chosen.sweep_grid
    if path:
        source = "ORB_SWEEP_GRID file " + path
        try:
            text = Path(path).read_text()
            raw = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
        except (OSError, ValueError) as error:
            raise GridConfigError(f"cannot read {source}: {error}") from None
    if chosen.sweep_chunks is not None:
        raw = {**raw, "chunks": chosen.sweep_chunks}
    return parse_settings(raw, source)
