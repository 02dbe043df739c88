#!/usr/bin/env bash
# The main job on embedded defaults: installs the project into .venv and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD}"
orb-pipeline demo "$@"
