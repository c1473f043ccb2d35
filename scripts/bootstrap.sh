#!/usr/bin/env bash
# Creates .venv at the repository root with a Python >= 3.12 found on this
# machine and installs Shekara into it. Sourced by demo.sh and test.sh;
# idempotent: a second run with an unchanged pyproject.toml only checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
MIN_MINOR=12

python_ok() {
    "$1" -c "import sys, venv; sys.exit(0 if sys.version_info >= (3, $MIN_MINOR) else 1)" \
        >/dev/null 2>&1
}

find_python() {
    local c candidates=()
    [ -n "${SHEKARA_PYTHON:-}" ] && candidates+=("$SHEKARA_PYTHON")
    candidates+=(python3.14 python3.13 python3.12 python3 python)
    if command -v pyenv >/dev/null 2>&1; then
        local root
        root="$(pyenv root 2>/dev/null || true)"
        for c in "$root"/versions/3.1[2-9]*/bin/python3 "$root"/versions/3.[2-9][0-9]*/bin/python3; do
            [ -x "$c" ] && candidates+=("$c")
        done
    fi
    for c in /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
        [ -x "$c" ] && candidates+=("$c")
    done
    for c in "${candidates[@]}"; do
        # pyenv shims exist for versions that are not active: run, don't trust the name.
        if python_ok "$c"; then
            command -v "$c" 2>/dev/null || echo "$c"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python"; then
    if ! PY="$(find_python)"; then
        cat >&2 <<MSG
shekara: no Python >= 3.$MIN_MINOR found (mitmproxy 12 needs it).
Install one, for example:
  Debian/Ubuntu:  apt-get install python3.12 python3.12-venv
  pyenv:          pyenv install 3.12
or point SHEKARA_PYTHON at its interpreter, then run this command again.
MSG
        exit 3
    fi
    echo "shekara: creating .venv with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')" >&2
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.shekara-installed"
WANT="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "shekara: installing the project and its dependencies into .venv" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" >&2
    echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
