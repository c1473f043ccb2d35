"""``/vehicles``: vehicles under test, known by a masked VIN and its keyed hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response

from shekara.api import queries, sessions
from shekara.api.auth import AUTH_RESPONSES, BODY_RESPONSES, READ, SessionManager, require
from shekara.api.cursor import encode_keyset
from shekara.api.deps import SettingsDep, StoreDep
from shekara.api.filters import MAX_ID, Vin, canonical_vin, vehicle_clauses, vin_hash
from shekara.api.routes.findings import Cursor, Limit
from shekara.api.schemas import Page, VehicleCreate, VehiclePublic
from shekara.api.views import after_cursor, utc
from shekara.audit.model import Category
from shekara.audit.redact import preview
from shekara.evidence import schema

router = APIRouter(
    prefix="/vehicles",
    tags=["vehicles"],
    dependencies=[Depends(require(*READ))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)

Sort = Annotated[Literal["id", "-id"], Query()]


def _public(row: Mapping[Any, Any], session_ids: list[int]) -> VehiclePublic:
    return VehiclePublic(
        id=row["id"],
        vin_preview=row["vin_preview"],
        make=row["make"],
        model=row["model"],
        created_at=utc(row["created_at"]),  # type: ignore[arg-type]
        sessions=session_ids,
    )


@router.get("", response_model=Page[VehiclePublic])
def list_vehicles(
    store: StoreDep,
    settings: SettingsDep,
    vendor: Annotated[str | None, Query(min_length=1, max_length=100, description="make")] = None,
    model: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    vin: Vin = None,
    sort: Sort = "id",
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[VehiclePublic]:
    """Vehicles by id, with the sessions that tested each."""
    hashed = vin_hash(settings.hashing_key_file, vin) if vin is not None else None
    conditions = vehicle_clauses(vendor, model, hashed)
    after = after_cursor(cursor, sort, (int,))
    stmt = queries.vehicles_select(conditions, after[0] if after else None, sort == "-id")  # type: ignore[arg-type]
    with store.engine.connect() as conn:
        rows = list(conn.execute(stmt.limit(limit + 1)).mappings())
    has_more = len(rows) > limit
    rows = rows[:limit]
    runs = queries.sessions_of_vehicles(store.engine, [row["id"] for row in rows])
    return Page[VehiclePublic](
        data=[_public(row, runs.get(row["id"], [])) for row in rows],
        count=queries.count_vehicles(store.engine, conditions),
        next=encode_keyset(sort, (rows[-1]["id"],)) if has_more else None,
    )


@router.get("/{vehicle_id}", response_model=VehiclePublic, responses={404: {}})
def get_vehicle(
    store: StoreDep, vehicle_id: Annotated[int, Path(ge=1, le=MAX_ID)]
) -> VehiclePublic:
    with store.engine.connect() as conn:
        row = (
            conn.execute(schema.vehicles.select().where(schema.vehicles.c.id == vehicle_id))
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(status_code=404, detail="no such vehicle")
    return _public(row, queries.sessions_of_vehicles(store.engine, [vehicle_id])[vehicle_id])


@router.post(
    "",
    response_model=VehiclePublic,
    status_code=201,
    responses={
        200: {"model": VehiclePublic, "description": "the VIN was already registered"},
        **BODY_RESPONSES,
    },
)
def register_vehicle(
    key: SessionManager,
    store: StoreDep,
    settings: SettingsDep,
    body: VehicleCreate,
    response: Response,
) -> VehiclePublic:
    """Register a vehicle under test (engineer); its VIN is kept only hashed and masked."""
    canonical = canonical_vin(body.vin)
    vehicle_id, created = sessions.register_vehicle(
        store.engine,
        vin_hash(settings.hashing_key_file, canonical),
        preview(Category.VIN, canonical),
        body.make,
        body.model,
    )
    if not created:
        response.status_code = 200
    return get_vehicle(store, vehicle_id)
