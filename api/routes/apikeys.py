"""``/apikeys``: the keys that exist and their scopes (admin only; never a secret or hash).

Keys are made and revoked with ``shekara apikey``, on the machine that holds the store.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from shekara.api import apikeys
from shekara.api.auth import ADMIN, AUTH_RESPONSES, require
from shekara.api.deps import StoreDep
from shekara.api.schemas import ApiKeyPublic, Page
from shekara.api.views import utc

router = APIRouter(
    prefix="/apikeys",
    tags=["admin"],
    dependencies=[Depends(require(*ADMIN))],
    responses=AUTH_RESPONSES,  # type: ignore[arg-type]
)


@router.get("", response_model=Page[ApiKeyPublic])
def list_keys(store: StoreDep) -> Page[ApiKeyPublic]:
    keys = apikeys.list_keys(store.engine)
    return Page[ApiKeyPublic](
        data=[
            ApiKeyPublic(
                key_id=k.key_id,
                name=k.name,
                scope=k.scope,
                created_at=utc(k.created_at),  # type: ignore[arg-type]
                revoked_at=utc(k.revoked_at),
            )
            for k in keys
        ],
        count=len(keys),
        next=None,
    )
