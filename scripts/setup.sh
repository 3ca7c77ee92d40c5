#!/usr/bin/env bash
# Set up fakescope in ./.venv with the pinned dependency versions.
#   bash scripts/setup.sh         the package, its server extra and every pinned dependency
#   bash scripts/setup.sh --dev   also the test tools, and Debian's Chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
extras="serve"
[ "$dev" = 1 ] && extras="serve,dev"
# constraints.txt pins every package (torch and torchvision from PyPI: the CPU wheel on some
# machines pairs with no torchvision release).
.venv/bin/python -m pip install --quiet -c constraints.txt -e ".[$extras]"

if [ "$dev" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed; the browser test is skipped (sudo apt-get install chromium)"
  fi
fi
echo "fakescope is set up in .venv (activate with: . .venv/bin/activate)"
