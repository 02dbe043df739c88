"""The settings model: each ORB_* variable parsed by one rule, errors naming it, the docs table."""

import datetime as dt
from pathlib import Path

import pytest

from orb_pipeline.core import settings

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_without_any_variable():
    chosen = settings.current({})
    assert chosen.data_dir == Path("data")
    assert chosen.first_session == dt.date(2025, 1, 2)
    assert chosen.range_seconds == [30]
    assert (chosen.window_first, chosen.window_last, chosen.tickers) == (None, None, None)
    assert (chosen.catch_up_days, chosen.results_write_connections) == (10, 2)
    assert (chosen.results_load_data, chosen.redis_tls, chosen.sweep_fargate_spot) == (
        True,
        False,
        False,
    )


def test_values_are_parsed_and_normalized():
    chosen = settings.current(
        {
            "ORB_STAGING": " Redis ",
            "ORB_RANGE_SECONDS": "30, 60,300",
            "ORB_TICKERS": " spy, qqq ,",
            "ORB_WINDOW_FIRST": "2025-11-20",
            "ORB_RESULTS_LOAD_DATA": "no",
            "ORB_REDIS_TLS": "1",
            "ORB_SWEEP_CHUNKS": "3",
            "ORB_CACHE_S3_ENDPOINT_URL": "",  # empty counts as unset
            "UNRELATED": "ignored",
        }
    )
    assert chosen.staging == "redis" and chosen.range_seconds == [30, 60, 300]
    assert chosen.tickers == ["SPY", "QQQ"] and chosen.window_first == dt.date(2025, 11, 20)
    assert chosen.results_load_data is False and chosen.redis_tls is True
    assert chosen.sweep_chunks == 3 and chosen.cache_s3_endpoint_url is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORB_STAGING", "memcached", "ORB_STAGING must be 'local' or 'redis', got 'memcached'"),
        ("ORB_CATCH_UP_DAYS", "-1", "ORB_CATCH_UP_DAYS must be a whole number of at least 0"),
        ("ORB_CATCH_UP_DAYS", "2.5", "ORB_CATCH_UP_DAYS must be a whole number of at least 0"),
        ("ORB_RESULTS_WRITE_CONNECTIONS", "0", "at least 1, got '0'"),
        ("ORB_FIRST_SESSION", "2025-13-01", "ORB_FIRST_SESSION must be a date YYYY-MM-DD"),
        ("ORB_RANGE_SECONDS", "30s", "ORB_RANGE_SECONDS must be comma-separated integers"),
        ("ORB_SWEEP_FARGATE_SPOT", "maybe", "ORB_SWEEP_FARGATE_SPOT must be true or false"),
        ("ORB_STAGING_COMPRESSION", "gzip", "ORB_STAGING_COMPRESSION must be 'zstd' or 'lz4'"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(name, value, message):
    with pytest.raises(settings.SettingsError, match=message):
        settings.current({name: value})


def test_every_bad_variable_is_named_at_once():
    with pytest.raises(settings.SettingsError) as raised:
        settings.current({"ORB_REDIS_DB": "x", "ORB_RESULTS": "postgres"})
    assert "ORB_REDIS_DB" in str(raised.value) and "ORB_RESULTS" in str(raised.value)


def test_secrets_are_env_vars_and_only_declared_ones():
    assert settings.env_var("ORB_RESULTS_PASSWORD").env_var_name == "ORB_RESULTS_PASSWORD"
    assert settings.optional_env_var("ORB_REDIS_PASSWORD", {}) is None
    with pytest.raises(KeyError, match="ORB_NOT_DECLARED"):
        settings.env_var("ORB_NOT_DECLARED")


def test_the_configuration_table_in_the_docs_is_generated_from_the_model():
    text = settings.TABLE_FILE.read_text()
    assert settings.document_with_table(text) == text, (
        "run: python -m orb_pipeline.core.settings --write"
    )
    for field in settings.Settings.model_fields:
        assert f"`{settings.variable_name(field)}`" in text
    for variable in settings.RUN_TIME_VARIABLES:
        assert f"`{variable.name}`" in text


def test_no_module_reads_an_orb_variable_itself():
    readers = []
    for path in (ROOT / "orb_pipeline").rglob("*.py"):
        if path.name == "settings.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ("environ" in line or "getenv" in line or "EnvVar(" in line) and '"ORB_' in line:
                if "setdefault" not in line:  # the demo sets defaults for its own run
                    readers.append(f"{path.relative_to(ROOT)}:{number}")
    assert readers == []
