#!/usr/bin/env bash
# The whole test suite: installs the project with its dev extra into .venv, makes sure the real
# services (MySQL/MariaDB, Redis, PostgreSQL) answer, lints, then runs pytest.
# Outside CI a stopped local service is started (and the script says so); with CI=true a service
# that does not answer fails the run. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv dev
python -m orb_pipeline_tests.services ensure
echo "==> ruff"
ruff check orb_pipeline orb_pipeline_tests
echo "==> pytest"
python -m pytest "$@"
