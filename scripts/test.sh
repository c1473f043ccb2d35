#!/usr/bin/env bash
# Sets up .venv, starts the throw-away PostgreSQL server (scripts/postgres.sh)
# and runs the whole test suite (slow suites included) against SQLite and it.
#
# SHEKARA_TEST_PG_URL set by the caller points the tests at another server,
# which is then neither started nor stopped here. Otherwise the server is
# stopped at the end by the last test run that used it (runs may overlap).
# Installs iproute2, nftables, tcpdump, dnsmasq and hostapd when missing
# (scripts/netns-tools.sh).
# Fails when PostgreSQL cannot be installed or started: the PostgreSQL half of
# the suite is never skipped. Exits with pytest's own status.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

stop_if_last() {
    local rc=$?
    # Our shared hold on pg.users becomes exclusive only if no other run holds it.
    if flock -n -x 8; then
        "$ROOT/scripts/postgres.sh" stop || echo "shekara: could not stop PostgreSQL" >&2
    fi
    exit "$rc"
}

if [ -z "${SHEKARA_TEST_PG_URL:-}" ]; then
    mkdir -p "$ROOT/.shekara"
    exec 8>"$ROOT/.shekara/pg.users"
    flock -s 8
    trap stop_if_last EXIT
    trap 'exit 130' INT TERM
    if ! "$ROOT/scripts/postgres.sh" start; then
        echo "shekara: PostgreSQL could not be installed or started; the store tests need it" >&2
        exit 1
    fi
    SHEKARA_TEST_PG_URL="$("$ROOT/scripts/postgres.sh" url)"
    export SHEKARA_TEST_PG_URL
fi

# The dashboard's browser test drives Debian's chromium; a failure to install
# it is reported here and by that test, never skipped.
"$ROOT/scripts/chromium.sh" || true
# The live tests build network namespaces with ip and nft.
"$ROOT/scripts/netns-tools.sh"

set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
exit "$status"
