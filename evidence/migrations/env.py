"""Alembic environment of the findings store: runs on the connection the caller hands over.

``shekara.evidence.migrations.upgrade`` passes its connection, already inside
a transaction that holds the migration lock, in ``config.attributes``; a
developer's ``command.revision(config(url), autogenerate=True)`` passes a URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from shekara.evidence.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite alters tables by copying them: later revisions need batch mode there.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the findings store's migrations run online only (no --sql)")
run_migrations_online()
