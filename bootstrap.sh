#!/usr/bin/env bash
# One entry point for a fresh machine: installs the project into ./.venv (once; again
# only when pyproject.toml changes), then runs the main job or the tests.
#
#   bash bootstrap.sh run  [extra snakemake args]   # the full toy-world DAG: every table
#   bash bootstrap.sh test [extra pytest args]      # unit + DAG + small end-to-end tests
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
VENV=.venv
stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "[bootstrap] installing into $VENV (torch + torchvision from the registry: a few minutes the first time)" >&2
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e ".[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
cmd=${1:-run}
shift || true
case "$cmd" in
    run)  exec snakemake --cores all "$@" ;;
    test) exec python -m pytest "$@" ;;
    install) ;;
    *) echo "usage: bash bootstrap.sh run|test|install [args]" >&2; exit 2 ;;
esac
