#!/usr/bin/env bash
# Lint, type-check, build the docs and test, as CI does. Extra arguments go to pytest
# (e.g. -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
# --strict: a broken link or a page naming a missing module fails (not with --quiet, which
# hides the warnings strict counts). Built outside the checkout.
site=$(mktemp -d)
# pytest's own temporary folders in a folder of this run: under the shared default
# (/tmp/pytest-of-USER) another session's pytest deletes all but its 3 newest, mid-test.
scratch=$(mktemp -d)
trap 'rm -rf "$site" "$scratch"' EXIT
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --site-dir "$site"
.venv/bin/python -m pytest --basetemp "$scratch/pytest" "$@"
