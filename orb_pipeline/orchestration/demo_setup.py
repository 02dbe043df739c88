"""What ``orb-pipeline demo`` runs on: its universe, window, environment and warehouse."""

from __future__ import annotations

import datetime as dt
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from orb_pipeline.core import settings
from orb_pipeline.warehouse.demo import DEMO_FIRST_SESSION, DEMO_LAST_SESSION, DEMO_TICKERS

# `--universe N` takes the first N of these: the three demo tickers first, then liquid ETFs.
UNIVERSE = (
    *DEMO_TICKERS,
    "DIA", "XLF", "XLK", "XLE", "TLT", "GLD", "EEM",
    "XLV", "XLI", "XLY", "XLP", "XLU", "XLB", "XLC", "SMH", "HYG", "LQD",
    "EFA", "VNQ", "SLV", "USO", "GDX", "KRE", "XBI", "IEF", "SHY", "EWJ",
)  # fmt: skip


@dataclass(frozen=True)
class DemoScope:
    """Tickers and inclusive session window of one demo; ``universe`` is None for the default."""

    tickers: tuple[str, ...]
    first_session: dt.date
    last_session: dt.date
    universe: int | None = None

    @classmethod
    def from_arguments(
        cls, universe: int | None, first_session: str | None, last_session: str | None
    ) -> DemoScope:
        """The default demo (3 tickers, 2025-09-02..2025-11-28) unless ``--universe`` or the
        window are given; errors name the argument."""
        if universe is not None and not 1 <= universe <= len(UNIVERSE):
            raise ValueError(f"--universe must be between 1 and {len(UNIVERSE)}, got {universe}")
        first = _date(first_session or DEMO_FIRST_SESSION, "--first-session")
        last = _date(last_session or DEMO_LAST_SESSION, "--last-session")
        if last < first:
            raise ValueError(f"--last-session {last} is before --first-session {first}")
        tickers = UNIVERSE[:universe] if universe else DEMO_TICKERS
        return cls(tuple(tickers), first, last, universe)

    @property
    def is_default(self) -> bool:
        return self.universe is None and (self.first_session, self.last_session) == (
            _date(DEMO_FIRST_SESSION, ""),
            _date(DEMO_LAST_SESSION, ""),
        )

    def warehouse_path(self, data: Path) -> Path:
        """The default demo's ``warehouse.sqlite``, else one file per window (any universe of
        that window reads the tickers it needs from it)."""
        if self.is_default:
            return data / "warehouse.sqlite"
        return data / f"warehouse-{self.first_session}-{self.last_session}.sqlite"


def _date(value: str, argument: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{argument} must be a date YYYY-MM-DD, got {value!r}") from None


def numba_cache_dir(data: Path) -> str:
    """Where the demo (its runs and the background warm-up alike) keeps numba's compiled
    kernels, unless ``NUMBA_CACHE_DIR`` is set."""
    return os.environ.get("NUMBA_CACHE_DIR") or str(data / ".numba_cache")


def choose_numba_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` for the demo before anything imports the engine: numba fixes each
    kernel's cache location at import, and a process whose kernels cache elsewhere than the
    warm-up's compiles them all again itself."""
    from orb_pipeline.resources import data_dir

    os.environ["NUMBA_CACHE_DIR"] = numba_cache_dir(data_dir())


def prepare_environment(scope: DemoScope, data: Path) -> dict[str, str]:
    """Set what the definitions read when they load (the staged window's defaults, the first
    partition date, the warehouse file, numba's cache); returns what was set, for the closing
    hint. Values the user set already win."""
    wanted = {
        "ORB_WINDOW_FIRST": scope.first_session.isoformat(),
        "ORB_WINDOW_LAST": scope.last_session.isoformat(),
        "NUMBA_CACHE_DIR": numba_cache_dir(data),
        "ORB_DATA_DIR": str(data),
    }
    chosen = settings.current()
    if chosen.warehouse == "sqlite":
        wanted["ORB_WAREHOUSE_PATH"] = str(scope.warehouse_path(data))
        # The embedded warehouse holds exactly the demo's window: the data partitions cover that
        # window only, so the UI shows them filled and each partition's session status is
        # about the demo's sessions, not a whole year of sessions the warehouse never had.
        wanted["ORB_FIRST_SESSION"] = scope.first_session.isoformat()
        wanted["ORB_LAST_SESSION"] = scope.last_session.isoformat()
    elif scope.first_session < chosen.first_session:
        wanted["ORB_FIRST_SESSION"] = scope.first_session.isoformat()
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in wanted}


def missing_tickers(path: Path, tickers: tuple[str, ...]) -> list[str]:
    """Tickers of ``tickers`` that the SQLite demo warehouse at ``path`` lacks (all if absent)."""
    if not path.exists():
        return list(tickers)
    from orb_pipeline.warehouse.resource import SqliteWarehouse

    present = set(SqliteWarehouse(path=str(path), build_demo_if_missing=False).list_tickers())
    return [ticker for ticker in tickers if ticker not in present]


def dagster_ui_command(home: Path, environment: dict[str, str]) -> str:
    """The shell command that opens this demo's instance in the UI, from any fresh shell."""
    repository = Path(__file__).resolve().parents[2]
    dagster = Path(sys.executable).with_name("dagster")
    variables = {"DAGSTER_HOME": str(home), **environment}
    assignments = " ".join(f"{name}={shlex.quote(value)}" for name, value in variables.items())
    return (
        f"cd {shlex.quote(str(repository))} && {assignments} "
        f"{shlex.quote(str(dagster))} dev -w workspace.yaml"
    )
