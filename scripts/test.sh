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
# The leaderboard screenshot test needs headless Chromium (Debian's chromium package). Install it
# when missing and possible (root + apt-get); otherwise say so: that test then fails, never skips.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "==> installing chromium (apt-get) for the screenshot test"
        apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
            || echo "==> could not install chromium: the screenshot test will fail" >&2
    else
        echo "==> /usr/bin/chromium is missing and cannot be installed here (needs root + apt-get):" \
             "the screenshot test will fail" >&2
    fi
fi
echo "==> ruff"
ruff check orb_pipeline orb_pipeline_tests benchmarks
ruff format --check orb_pipeline orb_pipeline_tests benchmarks
echo "==> import layers (lint-imports)"
lint-imports
echo "==> dg check defs"
dg check defs
echo "==> pytest"
python -m pytest "$@"
