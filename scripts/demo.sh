#!/usr/bin/env bash
# The main job on embedded defaults: replay the bundled captures into a fresh
# SQLite store, print the violations table, make and print a read-only API key
# for that store, serve the API and dashboard on 127.0.0.1:8000.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
exec "$VENV/bin/shekara" demo "$@"
