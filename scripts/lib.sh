# Shared by scripts/*.sh: a project virtual environment that installs what it needs.
# ORB_VENV overrides the location (default: .venv in the repository).

ensure_venv() {
    local extra="${1:-}"
    local venv="${ORB_VENV:-.venv}"
    if ! command -v python3 >/dev/null; then
        echo "orb_pipeline needs python3 (3.11+) on PATH" >&2; exit 1
    fi
    python3 - <<'PY' || { echo "orb_pipeline needs Python 3.11+, found $(python3 --version)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> creating virtual environment $venv"
        python3 -m venv "$venv"
    fi
    # Reinstall only when the dependency list or the lock changed (a stamp per extra). Versions
    # come from the lock, deploy/constraints.txt (bash deploy/lock.sh regenerates it), so every
    # fresh clone installs exactly what the tests ran with, and pip does not search for versions.
    local stamp="$venv/.orb-install-${extra:-base}"
    local want
    want=$(cat pyproject.toml deploy/constraints.txt | sha256sum | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "==> installing orb_pipeline${extra:+[$extra]} into $venv (versions: deploy/constraints.txt)"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q --constraint deploy/constraints.txt \
            -e ".${extra:+[$extra]}"
        echo "$want" > "$stamp"
    fi
    case "$venv" in
        /*) export PATH="$venv/bin:$PATH" ;;          # ORB_VENV given as an absolute path
        *) export PATH="$PWD/$venv/bin:$PATH" ;;
    esac
}
