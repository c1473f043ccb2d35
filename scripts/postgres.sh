#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests: start | stop | status | url.
#
# The cluster lives in .shekara/pg (git-ignored), belongs to the `postgres`
# system user (the server refuses to run as root), listens only on 127.0.0.1
# at an unusual port (SHEKARA_PG_PORT, default 55432) with its unix socket in
# its own folder, trusts local and loopback connections and keeps fsync on.
# The distribution's own cluster and service are never used. When initdb and
# pg_ctl are missing, Debian's `postgresql` package is installed first (root),
# unless SHEKARA_PG_NO_INSTALL=1. Every command is idempotent; `start` on a
# running server only checks that it answers.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${SHEKARA_PG_PORT:-55432}"
STATE="$ROOT/.shekara"
LOCK="$STATE/pg.lock"

say() { echo "postgres.sh: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# The newest installed server's binaries, or nothing.
find_bindir() {
    local d best="" best_v=0 v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || continue
        v="$(basename "$(dirname "$d")")"
        v="${v%%.*}"
        if [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt "$best_v" ]; then
            best="$d"
            best_v="$v"
        fi
    done
    [ -n "$best" ] && echo "$best"
}

install_postgresql() {
    [ "${SHEKARA_PG_NO_INSTALL:-0}" = 1 ] && die "PostgreSQL is not installed (SHEKARA_PG_NO_INSTALL=1); run ./scripts/test.sh or apt-get install postgresql"
    [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get to install it"
    say "installing Debian's postgresql package (once per machine)"
    export DEBIAN_FRONTEND=noninteractive
    local started=$SECONDS
    apt-get update -qq >&2 || die "apt-get update failed"
    # postgresql-common first, so that the package's own default cluster is
    # never created: the tests run their own, and nothing else should listen.
    apt-get install -y -qq --no-install-recommends postgresql-common >&2 \
        || die "apt-get install postgresql-common failed"
    local conf=/etc/postgresql-common/createcluster.conf
    if [ -f "$conf" ]; then
        sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' "$conf"
    fi
    apt-get install -y -qq --no-install-recommends postgresql >&2 \
        || die "apt-get install postgresql failed"
    say "installed in $((SECONDS - started)) s"
}

as_postgres() {
    # In a subshell: cd / (the server's user may not read the caller's working
    # directory) and close every inherited descriptor above stderr, so that the
    # daemon holds neither the locks of this script and test.sh nor a pipe of
    # whoever ran us (a CI runner waiting for end-of-file would hang).
    (
        cd /
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        if command -v runuser >/dev/null 2>&1; then
            exec runuser -u postgres -- "$@"
        else
            exec su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
        fi
    )
}

ensure_user() {
    id postgres >/dev/null 2>&1 && return 0
    [ "$(id -u)" = 0 ] || die "no postgres system user, and creating one needs root"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/sh postgres
}

# Where the cluster lives: .shekara/pg when the postgres user can reach it,
# else a folder under /var/tmp named after this checkout (a checkout inside a
# home folder closed to other users). Both survive between runs.
data_dir() {
    if [ -n "${SHEKARA_PG_DATA:-}" ]; then
        echo "$SHEKARA_PG_DATA"
        return
    fi
    mkdir -p "$STATE"
    if id postgres >/dev/null 2>&1 && as_postgres test -x "$STATE" 2>/dev/null; then
        echo "$STATE/pg"
    else
        echo "/var/tmp/shekara-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    fi
}

is_ours_and_up() {
    local bindir="$1" data="$2"
    [ -f "$data/PG_VERSION" ] || return 1
    as_postgres "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1 || return 1
    as_postgres "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 5
}

init_cluster() {
    local bindir="$1" data="$2"
    local version
    version="$("$bindir/postgres" --version | grep -oE '[0-9]+' | head -1)"
    if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$version" ]; then
        say "cluster in $data is from PostgreSQL $(cat "$data/PG_VERSION"), server is $version: recreating it"
        rm -rf "$data"
    fi
    if [ -f "$data/PG_VERSION" ]; then
        return 0
    fi
    rm -rf "$data"
    mkdir -p "$data"
    chown postgres:postgres "$data"
    chmod 0700 "$data"
    as_postgres "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
        >"$STATE/pg-initdb.log" 2>&1 || {
        cat "$STATE/pg-initdb.log" >&2
        die "initdb failed"
    }
    # The socket path must fit in 107 bytes; a deep checkout falls back to /tmp.
    local sockdir="$data"
    if [ "$(printf '%s' "$data/.s.PGSQL.$PORT" | wc -c)" -gt 100 ]; then
        sockdir=/tmp
    fi
    as_postgres tee -a "$data/postgresql.conf" >/dev/null <<CONF

# --- shekara test server (scripts/postgres.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sockdir'
# Durability tests count on acknowledged commits being on disk.
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
    as_postgres tee "$data/pg_hba.conf" >/dev/null <<HBA
# Throw-away test cluster: trust local and loopback, nothing else.
local   all  all                trust
host    all  all  127.0.0.1/32  trust
HBA
}

cmd_start() {
    local bindir data
    bindir="$(find_bindir || true)"
    if [ -z "$bindir" ]; then
        install_postgresql
        bindir="$(find_bindir || true)"
        [ -n "$bindir" ] || die "postgresql installed, but no initdb/pg_ctl in /usr/lib/postgresql/*/bin"
    fi
    ensure_user
    data="$(data_dir)"
    if is_ours_and_up "$bindir" "$data"; then
        say "running on 127.0.0.1:$PORT ($data)"
        return 0
    fi
    init_cluster "$bindir" "$data"
    if as_postgres "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1; then
        die "port $PORT already has a server that is not $data's; set SHEKARA_PG_PORT"
    fi
    local started=$SECONDS
    as_postgres "$bindir/pg_ctl" start -D "$data" -l "$data/server.log" -w -t 60 >/dev/null || {
        tail -n 30 "$data/server.log" >&2 || true
        die "the server did not start (log: $data/server.log)"
    }
    as_postgres "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30 \
        || die "the server started but does not answer on 127.0.0.1:$PORT"
    say "started on 127.0.0.1:$PORT in $((SECONDS - started)) s ($data)"
}

cmd_stop() {
    local bindir data
    bindir="$(find_bindir || true)"
    [ -n "$bindir" ] || return 0
    id postgres >/dev/null 2>&1 || return 0
    data="$(data_dir)"
    [ -f "$data/PG_VERSION" ] || return 0
    if as_postgres "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1; then
        as_postgres "$bindir/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
        say "stopped"
    fi
}

cmd_status() {
    local bindir data
    bindir="$(find_bindir || true)"
    [ -n "$bindir" ] && id postgres >/dev/null 2>&1 || return 1
    data="$(data_dir)"
    is_ours_and_up "$bindir" "$data"
}

cmd_url() {
    echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"
}

usage() {
    echo "usage: $0 start|stop|status|url" >&2
    exit 2
}

[ $# -eq 1 ] || usage
case "$1" in
    url) cmd_url ;;
    status) cmd_status ;;
    start | stop)
        mkdir -p "$STATE"
        # Two test runs starting or stopping at once take turns.
        exec 9>"$LOCK"
        flock 9
        "cmd_$1"
        ;;
    *) usage ;;
esac
