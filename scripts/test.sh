#!/usr/bin/env bash
# Sets up .venv and runs the whole test suite (slow suites included).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/python" -m pytest "$@"
