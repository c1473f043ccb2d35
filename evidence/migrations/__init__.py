"""Schema migrations of the findings store (Alembic), configured in code, not by an .ini file.

The configuration is built here so that migrations run from an installed
package as well as from the repository: ``upgrade(engine)`` is what
``FindingStore.create_schema()`` and ``shekara db upgrade`` call. A new
revision is written with::

    from alembic import command
    from shekara.evidence import migrations
    command.revision(migrations.config(URL_AT_HEAD), "what changed", autogenerate=True)

then checked by hand and by ``tests/evidence/test_migrations.py`` on both back ends.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError

from shekara.evidence.schema import metadata

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# Every process migrating one PostgreSQL database takes this advisory lock
# ("SHEK" in ASCII), so that two stations starting at once take turns.
PG_LOCK_KEY = 0x5348454B


class MigrationError(Exception):
    """The database cannot be brought to the store's schema."""


def config(url: str | None = None) -> Config:
    """Alembic's configuration for the store's migrations, optionally bound to ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    # Paths are split on os.pathsep, so a checkout path with spaces survives.
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        # ConfigParser interpolates '%': a percent-encoded password must survive.
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(config())


def head() -> str:
    """The newest revision this version of Shekara knows."""
    rev = _scripts().get_current_head()
    if rev is None:
        raise MigrationError("no migrations found in " + str(HERE / "versions"))
    return rev


def current(conn: Connection) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    return MigrationContext.configure(conn).get_current_revision()


def differences(conn: Connection) -> list[Any]:
    """What differs between the database's tables and ``schema.metadata`` (Alembic's diff)."""
    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, metadata))


# How long a starting station waits for another one's migration of the same SQLite file.
SQLITE_LOCK_WAIT = 300.0


def _lock(conn: Connection) -> None:
    """Take the migration lock for the rest of ``conn``'s transaction."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    elif dialect == "sqlite":
        # Batch migrations rebuild a table (create, copy, drop, rename): with
        # foreign keys enforced, dropping ``runs`` would cascade and delete every
        # finding. SQLite only changes this pragma outside a transaction, so now;
        # ``upgrade`` turns it back on and checks the keys before committing.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # The driver starts transactions lazily, before DML only: without an
        # explicit write lock two processes would both find no tables and both
        # create them. BEGIN IMMEDIATE waits (busy_timeout) for the other one,
        # and again while another station's upgrade outlasts that wait.
        deadline = time.monotonic() + SQLITE_LOCK_WAIT
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                log.info("the store is being migrated by another process; waiting")


def _adopt_unversioned(conn: Connection, cfg: Config) -> None:
    """Stamp a store created before migrations existed, if its tables equal the current ones."""
    tables = set(inspect(conn).get_table_names())
    ours = set(metadata.tables)
    if not tables & ours:
        return
    diff = differences(conn)
    if diff:
        raise MigrationError(
            "the database holds store tables without a migration history, and they differ "
            f"from this version's schema ({len(diff)} differences, first: {diff[0]!r}); "
            "move it aside and let a new store be created"
        )
    log.warning("store tables without migration history match revision %s: stamping", head())
    command.stamp(cfg, "head")


def upgrade(engine: Engine) -> str:
    """Bring the database to the newest revision and return it.

    Idempotent, and a no-op costing one query when the database is already
    there. The whole upgrade is one transaction under a lock (PostgreSQL
    advisory lock, SQLite write lock), so concurrent callers take turns and
    the later ones find nothing left to do.
    """
    target = head()
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Another station's upgrade of the same file may hold it for longer than
            # the store's usual busy wait: this connection waits as long as it takes.
            busy = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT * 1000)}")
        try:
            return _upgrade_on(conn, target)
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(busy or 0)}")


def _upgrade_on(conn: Connection, target: str) -> str:
    if current(conn) == target:
        conn.rollback()
        return target
    conn.rollback()
    _lock(conn)
    rev = current(conn)
    if rev != target:
        cfg = config()
        cfg.attributes["connection"] = conn
        try:
            if rev is None:
                _adopt_unversioned(conn, cfg)
            command.upgrade(cfg, "head")
        except CommandError as exc:
            raise MigrationError(
                f"cannot upgrade from revision {rev!r}: {exc} (written by a newer Shekara?)"
            ) from exc
        rev = current(conn)
        log.info("store migrated to revision %s", rev)
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise MigrationError(f"the migration broke foreign keys: {broken[:5]}")
    conn.commit()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()
    if rev != target:
        raise MigrationError(f"after upgrading, the database is at {rev!r}, not {target!r}")
    return target
