#!/usr/bin/env bash
# Regenerates deploy/constraints.txt (the image's pinned versions) from the project virtual
# environment, which scripts/test.sh keeps installed from pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${ORB_VENV:-.venv}"
{
    echo "# Pinned versions for the image (pip install --constraint). Generated from the development"
    echo "# virtual environment by deploy/lock.sh; regenerate after changing pyproject.toml."
    "$venv/bin/pip" freeze --exclude-editable | grep -vi '^orb[-_]pipeline'
} > deploy/constraints.txt
echo "wrote deploy/constraints.txt ($(grep -vc '^#' deploy/constraints.txt) pins)"
