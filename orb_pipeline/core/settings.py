"""Every ``ORB_*`` variable the pipeline reads, validated in one model and read only here.

Two kinds of variable:

- **Settings** (:class:`Settings` fields) are names and numbers, read when :func:`current` is
  called (definitions load, a sensor tick, a CLI command). Field ``x`` is the variable ``ORB_X``.
  An invalid value raises :class:`SettingsError` naming the variable, the rule and the value.
- **Run-time secrets** (:data:`RUN_TIME_VARIABLES`: hosts, users, passwords) are never read here:
  :func:`env_var` hands Dagster a ``dg.EnvVar`` that the run resolves.

Adding a variable is a one-place change: add a field to :class:`Settings` with :func:`setting`
(or a :class:`RunTimeVariable` to :data:`RUN_TIME_VARIABLES`), read it as
``settings.current().<field>``, then run ``python -m orb_pipeline.core.settings --write`` to
regenerate the configuration table (a test keeps that table equal to this module).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import dagster as dg
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

PREFIX = "ORB_"


class SettingsError(ValueError):
    """One or more ``ORB_*`` variables hold invalid values (the message names each one)."""


# ---- parsers: text of a variable -> value (ValueError text says what the rule is) -------------
def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise ValueError("must be " + " or ".join(repr(a) for a in allowed))
        return value

    return parse


def _whole_number(minimum: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        text = str(raw).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"must be a whole number of at least {minimum}")
        if int(text) < minimum:
            raise ValueError(f"must be a whole number of at least {minimum}")
        return int(text)

    return parse


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in {"true", "1", "yes"}:
        return True
    if value in {"false", "0", "no"}:
        return False
    raise ValueError("must be true or false (also 1/0, yes/no)")


def _date(raw: Any) -> dt.date:
    value = _date_or_none(raw)
    if value is None:
        raise ValueError("must be a date YYYY-MM-DD")
    return value


def _date_or_none(raw: Any) -> dt.date | None:
    if raw is None or isinstance(raw, dt.date):
        return raw
    text = str(raw).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None


def _integers(raw: Any) -> list[int]:
    if isinstance(raw, list):
        return raw
    try:
        return [int(part) for part in str(raw).split(",") if part.strip()]
    except ValueError:
        raise ValueError("must be comma-separated integers") from None


def _tickers_or_none(raw: Any) -> list[str] | None:
    if raw is None or isinstance(raw, list):
        return raw
    tickers = [part.strip().upper() for part in str(raw).split(",") if part.strip()]
    return tickers or None


def _text_or_none(raw: Any) -> str | None:
    if raw is None:
        return None
    return str(raw) or None


def setting(default: Any, description: str, shown_default: str | None = None) -> Any:
    """A :class:`Settings` field: its default, a one-line description for the configuration
    table, and the default as the table shows it (when it is not just ``default``)."""
    shown = shown_default if shown_default is not None else f"`{default}`"
    return Field(default=default, description=description, json_schema_extra={"shown": shown})


def Choice(*allowed: str) -> Any:  # noqa: N802 (used as a type)
    return Annotated[str, BeforeValidator(_choice(*allowed))]


def WholeNumber(minimum: int) -> Any:  # noqa: N802 (used as a type)
    return Annotated[int, BeforeValidator(_whole_number(minimum))]


Boolean = Annotated[bool, BeforeValidator(_boolean)]
Date = Annotated[dt.date, BeforeValidator(_date)]
OptionalDate = Annotated[dt.date | None, BeforeValidator(_date_or_none)]
OptionalText = Annotated[str | None, BeforeValidator(_text_or_none)]


class Settings(BaseModel):
    """The pipeline's settings; field ``x`` is read from the variable ``ORB_X``. Paths left empty
    default under ``ORB_DATA_DIR`` (the resource factories in :mod:`orb_pipeline.resources`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = setting(
        Path("data"), "where the embedded defaults keep their files", "`./data`"
    )
    # warehouse
    warehouse: Choice("sqlite", "mysql") = setting(
        "sqlite", "warehouse implementation: `sqlite` (embedded demo) or `mysql`"
    )
    warehouse_path: OptionalText = setting(
        None,
        "the embedded warehouse's SQLite file (built from the demo generator when absent)",
        "`$ORB_DATA_DIR/warehouse.sqlite`",
    )
    warehouse_port: WholeNumber(1) = setting(3306, "MySQL warehouse port")
    warehouse_database: str = setting("options", "MySQL warehouse database")
    warehouse_table: str = setting("greeks", "warehouse table of option snapshots")
    warehouse_order_column: str = setting("id", "warehouse column ordering rows within a second")
    warehouse_tls_ca: OptionalText = setting(
        None,
        "CA file the MySQL warehouse server's certificate and host name are verified against"
        " (TLS required when set, for both read paths)",
        "none (no TLS)",
    )
    # cache
    cache_url: OptionalText = setting(
        None,
        "where bars, series and ranges go: a directory or `s3://bucket/prefix`",
        "`$ORB_DATA_DIR/cache`",
    )
    cache_s3_endpoint_url: OptionalText = setting(
        None,
        "S3-compatible endpoint (credentials and region from the usual AWS chain)",
        "AWS",
    )
    artifact_links: Annotated[str | None, BeforeValidator(lambda raw: _optional_link_kind(raw))] = (
        setting(
            None,
            "how metadata links artifacts in an S3 cache: `console` (the object's AWS console page)"
            " or `presigned` (a presigned GET URL)",
            "`console` on AWS, `presigned` with `ORB_CACHE_S3_ENDPOINT_URL`",
        )
    )
    artifact_link_seconds: Annotated[int, BeforeValidator(lambda raw: _link_seconds(raw))] = (
        setting(7 * 24 * 3600, "lifetime of presigned artifact links, s (at most 604800)")
    )
    # partitions and windows
    first_session: Date = setting(
        dt.date(2025, 1, 2),
        "first session of the data stages (the `period` partitions start at its year or month)",
        "`2025-01-02`",
    )
    last_session: OptionalDate = setting(
        None,
        "last session of the data stages (the `period` partitions end at its year or month); for"
        " a fixed historical universe such as the demo",
        "open-ended",
    )
    data_period: Choice("year", "month") = setting(
        "year",
        "time dimension of the data stages' partitions: `year` or `month` (read when definitions"
        " load)",
    )
    range_seconds: Annotated[list[int], BeforeValidator(_integers)] = setting(
        [30],
        "default opening-range lengths of `opening_ranges` (comma-separated seconds; run config"
        " overrides)",
        "`30`",
    )
    window_first: OptionalDate = setting(
        None,
        "default first session of `staged_window` (inclusive; run config overrides); the"
        " research sensor's earliest session",
        "(set it or the run config; the sensor: `ORB_FIRST_SESSION`)",
    )
    window_last: OptionalDate = setting(
        None,
        "default last session of `staged_window` (inclusive; run config overrides)",
        "(set it or the run config)",
    )
    # demo
    demo_workers: WholeNumber(1) = setting(
        max(1, min(4, os.cpu_count() or 1)),
        "worker processes of `orb-pipeline demo`: runs of different tickers that execute at once"
        " (each holds the definitions and compiled kernels, about 0.5 GB)",
        "one per core, at most 4",
    )
    # staging
    staging: Choice("local", "redis") = setting(
        "local", "staging implementation: `local` (directory) or `redis`"
    )
    staging_dir: OptionalText = setting(
        None, "the local staging directory", "`$ORB_DATA_DIR/staging`"
    )
    staging_compression: Choice("zstd", "lz4", "uncompressed") = setting(
        "zstd", "staged payload compression: `zstd`, `lz4` or `uncompressed`"
    )
    staging_part_mb: WholeNumber(1) = setting(8, "largest staged value in MB (1-64)")
    staging_ttl_seconds: WholeNumber(1) = setting(7 * 24 * 3600, "lifetime of staged data, s")
    redis_port: WholeNumber(1) = setting(6379, "Redis port")
    redis_db: WholeNumber(0) = setting(0, "Redis database index")
    redis_tls: Boolean = setting(False, "Redis over TLS", "`false`")
    redis_tls_ca: OptionalText = setting(None, "CA file for Redis TLS", "none")
    redis_key_prefix: str = setting("", "prefix of every Redis key", "none")
    # sweeps
    sweep_grid: OptionalText = setting(
        None,
        "TOML/JSON file with the parameter grid (see docs on sweeps)",
        "the original 9,747",
    )
    sweep_chunks: Annotated[int | None, BeforeValidator(lambda raw: _optional_chunks(raw))] = (
        setting(
            None, "parameter chunks per ticker (`chunk` partitions)", "the grid file's, else `4`"
        )
    )
    sweep_fargate_spot: Boolean = setting(
        False, "sweep runs on ECS ask for Fargate Spot capacity", "`false`"
    )
    # results
    results: Choice("sqlite", "mysql") = setting("sqlite", "results store: `sqlite` or `mysql`")
    results_path: OptionalText = setting(
        None, "the SQLite results file", "`$ORB_DATA_DIR/results.sqlite`"
    )
    results_port: WholeNumber(1) = setting(3306, "MySQL results port")
    results_database: str = setting("results", "MySQL results database")
    results_load_data: Boolean = setting(
        True, "`false` skips `LOAD DATA LOCAL INFILE` (multi-row INSERT instead)", "`true`"
    )
    results_tls_ca: OptionalText = setting(
        None,
        "CA file the MySQL results server's certificate and host name are verified against"
        " (TLS required when set; the stack's RDS bundle)",
        "none (no TLS)",
    )
    results_write_connections: WholeNumber(1) = setting(
        2, "MySQL connections one upsert writes over at once (each a contiguous key range)"
    )
    # sensors and schedules
    tickers: Annotated[list[str] | None, BeforeValidator(_tickers_or_none)] = setting(
        None,
        "the ticker sensor's universe (comma-separated) instead of the warehouse's list",
        "(the warehouse's tickers)",
    )
    alert_sns_topic_arn: OptionalText = setting(
        None,
        "SNS topic the failed-run and failed-check alerts go to (also or instead of the webhook)",
        "none",
    )
    freshness_grace_minutes: WholeNumber(0) = setting(
        180,
        "minutes after a session's close before `fresh_after_close` expects every ticker to have"
        " it stored",
    )
    event_log_retention_days: WholeNumber(1) = setting(
        90,
        "`prune_event_logs_job` deletes finished runs older than this many days with their events"
        " (runs holding an asset partition's latest materialization are kept)",
    )
    catch_up_days: WholeNumber(0) = setting(
        10, "how many calendar days back the daily schedule looks for missed sessions"
    )


def _optional_link_kind(raw: Any) -> str | None:
    if raw is None or not str(raw).strip():
        return None
    return _choice("console", "presigned")(raw)


def _link_seconds(raw: Any) -> int:
    seconds = _whole_number(1)(raw)
    if seconds > 7 * 24 * 3600:
        raise ValueError("must be at most 604800 (7 days, the longest a presigned URL lives)")
    return seconds


def _optional_chunks(raw: Any) -> int | None:
    if raw is None or isinstance(raw, int):
        return raw
    text = str(raw).strip()
    if not text:
        return None
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError("must be an integer")
    return int(text)


def variable_name(field: str) -> str:
    return PREFIX + field.upper()


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``environ`` (default ``os.environ``), read now; an unset or empty
    variable takes the field's default. Raises :class:`SettingsError` naming every bad one."""
    environ = os.environ if environ is None else environ
    raw = {}
    for field in Settings.model_fields:
        text = environ.get(variable_name(field))
        if text is not None and text.strip() != "":
            raw[field] = text
    try:
        return Settings(**raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = str(item["loc"][0])
            rule = item.get("ctx", {}).get("error") or item["msg"]
            problems.append(f"{variable_name(field)} {rule}, got {raw.get(field)!r}")
        raise SettingsError("; ".join(problems)) from None


# ---- run-time secrets: declared here, resolved by Dagster in the run ---------------------------
class RunTimeVariable(NamedTuple):
    name: str
    description: str
    shown_default: str


RUN_TIME_VARIABLES = (
    RunTimeVariable("ORB_WAREHOUSE_HOST", "MySQL warehouse host", "(required for `mysql`)"),
    RunTimeVariable("ORB_WAREHOUSE_USER", "MySQL warehouse user", "(required for `mysql`)"),
    RunTimeVariable("ORB_WAREHOUSE_PASSWORD", "MySQL warehouse password", "(required for `mysql`)"),
    RunTimeVariable("ORB_REDIS_HOST", "Redis host", "(required for `redis`)"),
    RunTimeVariable(
        "ORB_REDIS_PASSWORD", "Redis password (used only when the variable exists)", "none"
    ),
    RunTimeVariable("ORB_RESULTS_HOST", "MySQL results host", "(required for `mysql`)"),
    RunTimeVariable("ORB_RESULTS_USER", "MySQL results user", "(required for `mysql`)"),
    RunTimeVariable("ORB_RESULTS_PASSWORD", "MySQL results password", "(required for `mysql`)"),
    RunTimeVariable(
        "ORB_ALERT_WEBHOOK_URL",
        "Slack-compatible incoming webhook for failed-run and failed-check alerts (used only when"
        " the variable exists)",
        "none",
    ),
)
_RUN_TIME_NAMES = {variable.name for variable in RUN_TIME_VARIABLES}


def env_var(name: str) -> dg.EnvVar:
    """``dg.EnvVar(name)`` for a declared run-time variable (its value is not read here)."""
    if name not in _RUN_TIME_NAMES:
        raise KeyError(f"{name} is not declared in RUN_TIME_VARIABLES")
    return dg.EnvVar(name)


def optional_env_var(name: str, environ: Mapping[str, str] | None = None) -> dg.EnvVar | None:
    """:func:`env_var` when the variable exists (only its presence is checked now), else None."""
    environ = os.environ if environ is None else environ
    return env_var(name) if name in environ else None


class DeploymentOverrideError(ValueError):
    """Run config tried to point a resource at something the deployment did not name."""


def check_deployment_values(resource: str, values: Mapping[str, Any]) -> None:
    """Refuse a resource whose connection values differ from the deployment's variables.

    ``values`` maps variable names (``ORB_RESULTS_HOST``, ...) to the resource's values. A
    variable that is set must match: run config at launch cannot point a resource at another
    host, port, database or user (hosts and secrets come from the deployment). Unset variables
    (embedded defaults, tests that build resources directly) are not checked."""
    for variable, value in values.items():
        expected = os.environ.get(variable)
        if expected is not None and expected.strip() != "" and str(value) != expected.strip():
            shown = "(hidden)" if variable.endswith(("_USER", "_PASSWORD")) else repr(value)
            raise DeploymentOverrideError(
                f"{resource}: {variable.rsplit('_', 1)[-1].lower()} {shown} differs from "
                f"{variable} of the deployment; run config may not point a resource elsewhere "
                "(hosts and secrets come from the deployment)"
            )


# ---- the configuration table in the docs ---------------------------------------------------------
TABLE_START = "<!-- configuration table: generated by python -m orb_pipeline.core.settings -->"
TABLE_END = "<!-- end of configuration table -->"
TABLE_FILE = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"


def configuration_table() -> str:
    """The Markdown table of every variable (settings, then run-time secrets)."""
    lines = ["| Variable | Meaning | Default |", "| --- | --- | --- |"]
    for field, info in Settings.model_fields.items():
        shown = (info.json_schema_extra or {}).get("shown", "")
        lines.append(f"| `{variable_name(field)}` | {info.description} | {shown} |")
    for variable in RUN_TIME_VARIABLES:
        lines.append(
            f"| `{variable.name}` | {variable.description}; read at run time (`dg.EnvVar`) "
            f"| {variable.shown_default} |"
        )
    return "\n".join(lines)


def document_with_table(text: str) -> str:
    """``text`` with the part between the table markers replaced by :func:`configuration_table`."""
    start, end = text.index(TABLE_START), text.index(TABLE_END)
    return text[: start + len(TABLE_START)] + "\n" + configuration_table() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="print or rewrite the configuration table")
    parser.add_argument("--write", action="store_true", help=f"rewrite the table in {TABLE_FILE}")
    args = parser.parse_args(argv)
    if args.write:
        TABLE_FILE.write_text(document_with_table(TABLE_FILE.read_text()))
        print(f"wrote the configuration table in {TABLE_FILE}")
    else:
        print(configuration_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
