"""The one place that chooses resources: embedded defaults, or production services by configuration.

Only the *choice* of implementation is read from the environment when definitions load
(``ORB_WAREHOUSE``, ``ORB_CACHE_URL``, ``ORB_STAGING``, ``ORB_RESULTS``, ``ORB_DATA_DIR``);
every host, user and secret of a production service is a ``dg.EnvVar`` resolved at run time.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Root of the embedded defaults' files (``ORB_DATA_DIR``, default ``./data``)."""
    return Path(os.environ.get("ORB_DATA_DIR", "data")).resolve()


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
    return found
