"""Writes an engineer makes to a session: its vehicle, firmware, scenario and markers.

An engineer manages only the sessions it owns: the first engineer key that
writes to a session claims it, and other engineer keys may then only read it.
Admin keys manage every session and claim none.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from shekara.api.apikeys import ApiKey
from shekara.evidence import schema


class NotFoundError(LookupError):
    """No such session or vehicle."""


class NotOwnerError(PermissionError):
    """Another engineer's session."""


def claim(engine: Engine, run_id: int, key: ApiKey) -> None:
    """Make sure ``key`` may manage the session, claiming it when nobody has."""
    owners = schema.session_owners.c
    with engine.begin() as conn:
        if conn.execute(select(schema.runs.c.id).where(schema.runs.c.id == run_id)).first() is None:
            raise NotFoundError(run_id)
        if key.scope == "admin":
            return
        owner = conn.execute(
            select(owners.api_key_id).where(owners.run_id == run_id)
        ).scalar_one_or_none()
        if owner is None:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(schema.session_owners).values(
                            run_id=run_id, api_key_id=key.id, claimed_at=time.time()
                        )
                    )
                return
            except IntegrityError:
                # Another engineer claimed it in the meantime.
                owner = conn.execute(
                    select(owners.api_key_id).where(owners.run_id == run_id)
                ).scalar_one_or_none()
        if owner != key.id:
            raise NotOwnerError(run_id)


def update_session(engine: Engine, run_id: int, values: dict[str, Any]) -> None:
    if not values:
        return
    with engine.begin() as conn:
        vehicle_id = values.get("vehicle_id")
        if vehicle_id is not None:
            found = conn.execute(
                select(schema.vehicles.c.id).where(schema.vehicles.c.id == vehicle_id)
            ).first()
            if found is None:
                raise NotFoundError(vehicle_id)
        conn.execute(update(schema.runs).where(schema.runs.c.id == run_id).values(**values))


def add_marker(engine: Engine, run_id: int, at: float, label: str) -> int:
    with engine.begin() as conn:
        result = conn.execute(insert(schema.markers).values(run_id=run_id, at=at, label=label))
        (marker_id,) = result.inserted_primary_key or (None,)
    return int(marker_id)  # type: ignore[arg-type]


def register_vehicle(
    engine: Engine, vin_hash: str, vin_preview: str, make: str | None, model: str | None
) -> tuple[int, bool]:
    """The vehicle's id, registering it when its VIN is new; and whether it was new."""
    v = schema.vehicles.c
    with engine.begin() as conn:
        existing = conn.execute(select(v.id).where(v.vin_hash == vin_hash)).scalar_one_or_none()
        if existing is not None:
            return int(existing), False
        try:
            with conn.begin_nested():
                result = conn.execute(
                    insert(schema.vehicles).values(
                        vin_hash=vin_hash,
                        vin_preview=vin_preview,
                        make=make,
                        model=model,
                        created_at=time.time(),
                    )
                )
            (vehicle_id,) = result.inserted_primary_key or (None,)
            return int(vehicle_id), True  # type: ignore[arg-type]
        except IntegrityError:
            raced: int = conn.execute(select(v.id).where(v.vin_hash == vin_hash)).scalar_one()
            return int(raced), False
