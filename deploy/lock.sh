#!/usr/bin/env bash
# Regenerates deploy/constraints.txt, the lock (exact versions) that scripts/lib.sh and the
# Dockerfile install with, from a virtual environment holding orb_pipeline[dev]. After changing
# pyproject.toml: ORB_VENV=/tmp/fresh bash -c 'source scripts/lib.sh; ensure_venv dev' fails on a
# version the lock lacks, so install the new package into that venv first, then run this script.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ORB_VENV:-.venv}"
{
    echo "# The lock: exact versions of every package orb_pipeline[dev] installs (pip --constraint)."
    echo "# scripts/lib.sh (the README's two commands) and the Dockerfile install with it. Generated"
    echo "# from the project virtual environment by deploy/lock.sh; regenerate after changing pyproject.toml."
    "$venv/bin/pip" freeze --exclude-editable | grep -vi '^orb[-_]pipeline'
} > deploy/constraints.txt
echo "wrote deploy/constraints.txt ($(grep -vc '^#' deploy/constraints.txt) pins)"
