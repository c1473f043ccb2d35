#!/usr/bin/env bash
# ruff (lint and format) and mypy over the package. The repository keeps each
# package at the top level while imports say shekara.<name>, so mypy reads them
# through a tree of links that mirrors the installed layout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
TREE="$ROOT/build/typecheck/shekara"
mkdir -p "$TREE"
for pkg in audit addons geo evidence proxy api rulesets reports; do
    ln -sfn "../../../$pkg" "$TREE/$pkg"
done
ln -sfn "../../../shekara/__init__.py" "$TREE/__init__.py"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy" "$TREE"
