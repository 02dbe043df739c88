"""One run of an asset in pool ``warehouse`` on the instance in ``DAGSTER_HOME``, for the kill -9
test: ``python -m orb_pipeline_tests.orchestration.pool_runs PID_FILE SECONDS`` writes its pid
to PID_FILE once its step holds a pool slot, then sleeps SECONDS."""

import os
import sys
import time
from pathlib import Path

import dagster as dg


@dg.asset(pool="warehouse")
def pulls_warehouse(context: dg.AssetExecutionContext) -> None:
    pid_file, seconds = Path(os.environ["POOL_RUN_PID_FILE"]), float(os.environ["POOL_RUN_SECONDS"])
    pid_file.write_text(str(os.getpid()))
    time.sleep(seconds)


if __name__ == "__main__":
    os.environ["POOL_RUN_PID_FILE"], os.environ["POOL_RUN_SECONDS"] = sys.argv[1], sys.argv[2]
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([pulls_warehouse], instance=instance)
    sys.exit(0 if result.success else 1)
