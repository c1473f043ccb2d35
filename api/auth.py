"""Authentication and scopes as FastAPI dependencies: every route names the scope it needs.

Unauthenticated calls get 401, a key of the wrong scope 403, and a client
address that keeps presenting bad keys 429; none of these answers says more
than that, so an error never leaks data or which part of a key was wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shekara.api.apikeys import ApiKey, verify_key
from shekara.api.deps import StoreDep
from shekara.api.ratelimit import FailureLimiter

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key made with `shekara apikey create`, as `Authorization: Bearer KEY`.",
)
header_scheme = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="apiKey",
    description="The same API key in the `X-API-Key` header.",
)

READ = ("official", "engineer", "admin")
MANAGE_SESSIONS = ("engineer", "admin")
ADMIN = ("admin",)
# Installing the interception CA on a device under test is an engineer's job.
INSTALL_CA = ("engineer", "admin")

UNAUTHENTICATED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="authentication required",
    headers={"WWW-Authenticate": "Bearer"},
)
FORBIDDEN = HTTPException(
    status_code=status.HTTP_403_FORBIDDEN, detail="this key's scope does not allow it"
)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled_client(request: Request, refused: str) -> tuple[str, FailureLimiter]:
    """The caller's address and the failure limiter; 429 while it is held back.

    Bad keys and bad CA download links count against one limit per address:
    a client guessing either is slowed down alike.
    """
    limiter: FailureLimiter = request.app.state.auth_limiter
    client = client_address(request)
    wait = limiter.retry_after(client)
    if wait > 0:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many {refused}",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return client, limiter


def authenticate(
    request: Request,
    store: StoreDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    header: Annotated[str | None, Depends(header_scheme)],
) -> ApiKey:
    """The caller's active key; 401 without one, 429 after too many bad ones."""
    client, limiter = throttled_client(request, "failed authentications")
    presented = bearer.credentials if bearer is not None else header
    if not presented:
        raise UNAUTHENTICATED
    key = verify_key(store.engine, presented)
    if key is None:
        limiter.failed(client)
        raise UNAUTHENTICATED
    return key


def require(*scopes: str) -> Callable[[ApiKey], ApiKey]:
    """A dependency that lets through only keys of one of ``scopes``."""

    def check(key: Annotated[ApiKey, Depends(authenticate)]) -> ApiKey:
        if key.scope not in scopes:
            raise FORBIDDEN
        return key

    return check


Reader = Annotated[ApiKey, Depends(require(*READ))]
SessionManager = Annotated[ApiKey, Depends(require(*MANAGE_SESSIONS))]
Admin = Annotated[ApiKey, Depends(require(*ADMIN))]

# What a route taking a JSON body answers to one that is not JSON.
BODY_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"description": "the body is not valid JSON"},
}

# The error answers every protected route can give, for the OpenAPI document.
AUTH_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "no key, or not an active one"},
    403: {"description": "the key's scope does not allow this"},
    429: {"description": "too many failed authentications from this address"},
}
