"""The one place that chooses resources: embedded defaults, or production services by configuration.

Only the *choice* of implementation and other names are read when definitions load (through
:mod:`orb_pipeline.core.settings`); every host, user and secret of a production service is a
``dg.EnvVar`` resolved at run time.
"""

from __future__ import annotations

from pathlib import Path

from orb_pipeline.core import settings


def data_dir() -> Path:
    """Root of the embedded defaults' files (``ORB_DATA_DIR``, default ``./data``)."""
    return settings.current().data_dir.resolve()


def resources() -> dict:
    """Resource dict for ``dg.Definitions``; each stage contributes its own key below."""
    found: dict = {}
    # Each stage adds its resource here (keys: warehouse, cache, staging, results).
    from orb_pipeline.core.cache_store import cache_from_environment
    from orb_pipeline.warehouse.resource import warehouse_from_environment

    found["warehouse"] = warehouse_from_environment(data_dir())  # ORB_WAREHOUSE=sqlite|mysql
    found["cache"] = cache_from_environment(data_dir())  # ORB_CACHE_URL=dir or s3://bucket/prefix
    from orb_pipeline.results.resource import results_from_environment
    from orb_pipeline.staging.resource import staging_from_environment

    found["staging"] = staging_from_environment(data_dir())  # ORB_STAGING=local|redis
    found["results"] = results_from_environment(data_dir())  # ORB_RESULTS=sqlite|mysql
    from orb_pipeline.orchestration.alerts import alerts_from_environment

    found["alerts"] = alerts_from_environment()  # ORB_ALERT_WEBHOOK_URL, ORB_ALERT_SNS_TOPIC_ARN
    return found
