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

Every sweep is charged trading costs (``engine.Costs``, docs/SEMANTICS_EXTENSIONS.md section 1),
per share and per side. The defaults are a retail broker's $0.005 commission per share and 2 basis
points of slippage per side (``DEFAULT_COSTS``); ``[costs]`` with zeros gives gross results. The
grid's distances are read in ``distance_unit`` (``dollars`` by default, or ``percent`` of the entry
price; ``expected_move`` needs implied volatility, which only the validation stage provides).

```toml
chunks = 8                       # optional; ORB_SWEEP_CHUNKS wins when set
distance_unit = "dollars"        # optional: dollars (default) or percent
[costs]                          # optional; these are the defaults
commission_per_share = 0.005     # dollars per share, per side
slippage = 2.0                   # per side, in slippage_unit
slippage_unit = "bps"            # bps (of the traded price) or dollars
[[blocks]]
range_seconds = [30, 60, 300]
stop_distance = {start = 0.1, stop = 1.9, step = 0.1}
stop_count_limit = [1, 2, 3]
stop_cooloff_period = {start = 30, stop = 270, step = 30}
limit_distance = {start = 1, stop = 19, step = 1}
```
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, StrictFloat, StrictInt, ValidationError, model_validator

from orb_pipeline import engine
from orb_pipeline.core import settings
from orb_pipeline.engine.grid import DISTANCE_COLUMNS, INTEGER_DOMAINS, domain_error
from orb_pipeline.engine.units import to_units

DEFAULT_CHUNKS = 4
# Most rows a sweep grid may have. The grid is built in every process that loads the definitions
# (40 bytes a row), and validation keeps per-session statistics per row (README, "Memory").
MAX_GRID_ROWS = 10_000_000

Number = StrictInt | StrictFloat  # booleans are not numbers here
DEFAULT_COSTS = engine.Costs(commission_per_share=0.005, slippage=2.0, slippage_unit="bps")
SWEEP_DISTANCE_UNITS = ("dollars", "percent")


class GridConfigError(ValueError):
    """The sweep grid configuration is invalid (the message names the field)."""


class ValueRange(BaseModel):
    """Inclusive range ``start, start + step, ... <= stop`` of finite numbers."""

    model_config = ConfigDict(extra="forbid")
    start: Number
    stop: Number
    step: Number

    @model_validator(mode="after")
    def _check(self) -> ValueRange:
        for name in ("start", "stop", "step"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)!r}")
        if self.step <= 0:
            raise ValueError("step must be > 0")
        if self.stop < self.start:
            raise ValueError("stop must be >= start")
        if self.count() > MAX_GRID_ROWS:
            raise ValueError(
                f"the range has {self.count():,} values, more than a grid may have "
                f"({MAX_GRID_ROWS:,} rows); use a larger step"
            )
        return self

    def count(self) -> int:
        """Number of values, computed without listing them (the same decimal arithmetic as
        ``engine.inclusive_range``)."""
        lo, hi, inc = (Decimal(repr(v)) for v in (self.start, self.stop, self.step))
        return int((hi - lo) / inc) + 1

    def values(self) -> list[float]:
        return engine.inclusive_range(self.start, self.stop, self.step)


Axis = list[Number] | ValueRange


class GridBlock(BaseModel):
    """One cartesian product of parameter values; every parameter is required."""

    model_config = ConfigDict(extra="forbid")
    range_seconds: Axis
    stop_distance: Axis
    stop_count_limit: Axis
    stop_cooloff_period: Axis
    limit_distance: Axis

    def rows(self) -> int:
        """Rows of the block's cartesian product (without building it)."""
        return math.prod(
            axis.count() if isinstance(axis, ValueRange) else len(axis)
            for axis in (getattr(self, name) for name in engine.GRID_COLUMNS)
        )

    def axis_values(self, name: str) -> list[float]:
        """The values of parameter ``name``; ``GridConfigError`` naming it when any value is
        outside its domain (``engine.grid.INTEGER_DOMAINS``, ``MAX_DISTANCE``; distances of
        at least one price unit, $0.0001)."""
        axis = getattr(self, name)
        values = axis.values() if isinstance(axis, ValueRange) else list(axis)
        if not values:
            raise GridConfigError(f"grid parameter {name!r} has no values")
        problem = domain_error(
            name, np.asarray(values, dtype=object if name in INTEGER_DOMAINS else np.float64)
        )
        if problem:
            raise GridConfigError(problem)
        if name in DISTANCE_COLUMNS:
            tiny = [v for v in values if to_units(np.float64(v)) < 1]
            if tiny:
                raise GridConfigError(
                    f"grid parameter {name!r} must be at least $0.0001 (one price unit), "
                    f"got {tiny[:3]}"
                )
        return values

    def frame(self) -> pl.DataFrame:
        values = {name: self.axis_values(name) for name in engine.GRID_COLUMNS}
        for name in INTEGER_DOMAINS:
            values[name] = [int(v) for v in values[name]]
        return engine.make_grid(**values)


def check_distinct_units(grid: pl.DataFrame) -> None:
    """``GridConfigError`` when two different distances of a column round to the same $0.0001
    unit: their backtests would share one ``backtest_id`` (the id hashes units)."""
    for name in DISTANCE_COLUMNS:
        values = grid.get_column(name).unique().sort()
        units = pl.Series(to_units(values.to_numpy()))
        clash = units.is_duplicated()
        if clash.any():
            same = values.filter(clash)[:2].to_list()
            raise GridConfigError(
                f"grid parameter {name!r} has values {same[0]!r} and {same[1]!r}, which round to "
                f"the same $0.0001 unit ({int(units.filter(clash)[0])}) and so name the same "
                "backtest; keep one"
            )


class CostSettings(BaseModel):
    """``engine.Costs`` of every sweep (per share, per side); defaults: ``DEFAULT_COSTS``."""

    model_config = ConfigDict(extra="forbid")
    commission_per_share: float = DEFAULT_COSTS.commission_per_share
    slippage: float = DEFAULT_COSTS.slippage
    slippage_unit: str = DEFAULT_COSTS.slippage_unit

    @model_validator(mode="after")
    def _check(self) -> CostSettings:
        self.costs()  # engine.Costs names the bad field
        return self

    def costs(self) -> engine.Costs:
        return engine.Costs(self.commission_per_share, self.slippage, self.slippage_unit)


class SweepSettings(BaseModel):
    """The whole sweep configuration (see module docstring)."""

    model_config = ConfigDict(extra="forbid")
    blocks: list[GridBlock] | None = None  # None: engine.default_grid()
    chunks: int = DEFAULT_CHUNKS
    costs: CostSettings = CostSettings()
    distance_unit: str = "dollars"

    @model_validator(mode="after")
    def _check(self) -> SweepSettings:
        if self.distance_unit not in SWEEP_DISTANCE_UNITS:
            raise ValueError(
                f"distance_unit must be one of {SWEEP_DISTANCE_UNITS}, got {self.distance_unit!r}"
            )
        if self.blocks is not None and not self.blocks:
            raise ValueError(
                "blocks is empty: give at least one grid block (or omit it for the default)"
            )
        if self.chunks < 1:
            raise ValueError("chunks must be >= 1")
        return self

    def grid(self) -> pl.DataFrame:
        """The full grid, deduplicated, in deterministic order; ``GridConfigError`` before
        building anything when the blocks hold more than ``MAX_GRID_ROWS`` rows."""
        if self.blocks is None:
            return engine.default_grid()
        rows = sum(block.rows() for block in self.blocks)
        if rows > MAX_GRID_ROWS:
            raise GridConfigError(
                f"blocks: the grid has {rows:,} rows, more than the limit of {MAX_GRID_ROWS:,}; "
                "split it into several grid files (one sweep each) or use coarser steps"
            )
        frame = pl.concat([block.frame() for block in self.blocks]).unique(maintain_order=True)
        check_distinct_units(frame)
        return frame

    def engine_options(self) -> dict:
        """Keyword arguments of ``engine.sweep`` / ``engine.ledger``: ``costs``, ``distance_unit``."""
        return {"costs": self.costs.costs(), "distance_unit": self.distance_unit}

    def cost_description(self) -> str:
        """The cost model in words, e.g. ``$0.005/share commission + 2 bps slippage per side,
        distances in dollars``."""
        costs = self.costs
        slippage = (
            f"{costs.slippage:g} bps" if costs.slippage_unit == "bps" else f"${costs.slippage:g}"
        )
        return (
            f"${costs.commission_per_share:g}/share commission + {slippage} slippage per side, "
            f"distances in {self.distance_unit}"
        )

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
        raise GridConfigError(f"invalid {source}: {_describe(error)}") from None
    except GridConfigError as error:
        raise GridConfigError(f"invalid {source}: {error}") from None
    if settings.chunks > grid.height:
        raise GridConfigError(
            f"invalid {source}: chunks = {settings.chunks} is more than the grid's {grid.height} rows"
        )
    return settings


_WRONG_SHAPE = {"list_type", "model_type", "dict_type", "model_attributes_type"}


def _union_tag(part) -> bool:
    """A location part that names a union alternative (``int``, ``list[...]``), not a field."""
    return isinstance(part, str) and (part in ("int", "float") or "[" in part)


def _describe(error: ValidationError) -> str:
    """pydantic's errors as ``field.path: message, got value``, one per field, without the union
    alternatives' noise (an axis is a list or a range: a range's error is not also "not a list")."""
    errors = error.errors()
    specific = [e for e in errors if e["type"] not in _WRONG_SHAPE] or errors
    problems: dict[str, str] = {}
    for e in specific:
        field = ".".join(str(p) for p in e["loc"] if not _union_tag(p)) or "settings"
        message = e["msg"].removeprefix("Value error, ")
        if isinstance(e.get("input"), bool | int | float | str):
            message += f", got {e['input']!r}"
        problems.setdefault(field, message)
    return "; ".join(f"{field}: {message}" for field, message in problems.items())


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
            text = _read_grid_text(path, chosen.cache_s3_endpoint_url)
            raw = json.loads(text) if path.endswith(".json") else tomllib.loads(text)
        except (OSError, ValueError) as error:
            raise GridConfigError(f"cannot read {source}: {error}") from None
    if chosen.sweep_chunks is not None:
        raw = {**raw, "chunks": chosen.sweep_chunks}
    return parse_settings(raw, source)


def _read_grid_text(path: str, s3_endpoint_url: str | None) -> str:
    """A local grid file, or ``s3://bucket/key`` (how a deployed stack gets its grid without a
    new image: the file sits in the cache bucket, the stack names it)."""
    if not path.startswith("s3://"):
        return Path(path).read_text()
    import boto3
    import botocore.exceptions

    bucket, _, key = path[len("s3://") :].partition("/")
    try:
        client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint_url)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except botocore.exceptions.BotoCoreError as error:
        raise OSError(str(error)) from None
    except botocore.exceptions.ClientError as error:
        raise OSError(str(error)) from None


def settings_fingerprint(settings: SweepSettings) -> str:
    """16 hex characters of SHA-256 over everything that decides a chunk's rows: the grid blocks,
    the chunk count, costs, distance unit and the engine version. ``sweep_results`` carries it as
    its code version, so after a change of grid or chunk count every chunk partition swept
    before shows as out of date in the UI instead of current."""
    text = settings.model_dump_json() + "|engine " + engine.ENGINE_VERSION
    return hashlib.sha256(text.encode()).hexdigest()[:16]
