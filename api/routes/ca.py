"""``/ca``: the interception CA's certificate for the device under test, by a short-lived link.

An engineer asks for a link with a key; the head unit's browser, which has
none, downloads with the link alone (see ``shekara.api.calink``). Only the
certificate is ever served: the CA's key stays in its folder, and when a key
file there is readable by other users nothing is served at all until its
permissions are fixed.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

from cryptography import x509
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import Response

from shekara.api import calink
from shekara.api.apikeys import ApiKey
from shekara.api.auth import AUTH_RESPONSES, INSTALL_CA, require, throttled_client
from shekara.api.deps import SettingsDep
from shekara.api.schemas import CaLink
from shekara.api.settings import Settings
from shekara.api.views import utc
from shekara.proxy.cacmd import ca_certificate, export
from shekara.proxy.keys import KeyFileError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/ca", tags=["ca"])

KEYS_EXPOSED = HTTPException(
    status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
    detail="the interception CA's key files are readable by other users on the station; "
    "nothing is served until their permissions are fixed (the API's log names the file)",
)
# One answer for every refused link: whether it was forged, expired, of
# another CA or malformed is nobody's business but the log's.
INVALID_LINK = HTTPException(
    status_code=status.HTTP_403_FORBIDDEN, detail="invalid or expired link"
)

EXPOSED_RESPONSE: dict[int | str, dict[str, object]] = {
    500: {"description": "a key file of the CA is readable by other users: nothing is served"},
}
LINK_LOOPBACK_WARNING = (
    "the link names a loopback address, which the device under test cannot reach; "
    "set SHEKARA_PUBLIC_URL to the API's address on the audit network"
)


def _ca(settings: Settings, *, create: bool) -> tuple[x509.Certificate, bytes]:
    """The CA certificate and the link key; 500 (logged) when either is exposed."""
    try:
        cert = ca_certificate(settings.ca_home, create=create)
        return cert, calink.link_key(settings.ca_home, create=create)
    except KeyFileError as e:
        log.error("the interception CA is not served: %s", e)
        raise KEYS_EXPOSED from None


def _base_url(request: Request, settings: Settings) -> str:
    if settings.public_url is not None:
        return str(settings.public_url).rstrip("/") + request.app.url_path_for("download_ca")
    return str(request.url_for("download_ca"))


def _granted(settings: Settings, token: str) -> tuple[x509.Certificate, str] | None:
    """The CA certificate and the format ``token`` grants now, or None."""
    try:
        # Never made here: an unauthenticated caller does not get to create a CA or a key.
        cert, key = _ca(settings, create=False)
    except FileNotFoundError:
        return None
    fmt = calink.verify(key, token, calink.fingerprint(cert), time.time())
    return None if fmt is None else (cert, fmt)


@router.post(
    "/link",
    response_model=CaLink,
    responses={**AUTH_RESPONSES, **EXPOSED_RESPONSE},  # type: ignore[dict-item]
)
def make_link(
    request: Request,
    settings: SettingsDep,
    engineer: Annotated[ApiKey, Depends(require(*INSTALL_CA))],
    format: Annotated[
        calink.CaFormat,
        Query(description="pem or der for Android and most head units, p12 for Windows-based"),
    ] = "pem",
) -> CaLink:
    """A download link of the CA certificate valid for ``ca_link_lifetime``, with its QR code.

    The CA is created here when the station has none yet, as the proxy would.
    """
    cert, key = _ca(settings, create=True)
    expires = int(time.time()) + settings.ca_link_lifetime
    token = calink.sign(key, format, expires, calink.fingerprint(cert))
    url = f"{_base_url(request, settings)}?token={token}"
    # Who handed out a link to the CA, and until when: the station's log keeps it.
    log.info(
        "CA download link (%s) made with key %s, valid until %d", format, engineer.key_id, expires
    )
    host = settings.public_url.host if settings.public_url is not None else request.url.hostname
    return CaLink(
        url=url,
        format=format,
        expires_at=utc(expires),  # type: ignore[arg-type]
        sha256_fingerprint=calink.fingerprint_text(cert),
        subject=cert.subject.rfc4514_string(),
        qr_svg=calink.qr_svg(url),
        warning=LINK_LOOPBACK_WARNING if calink.is_loopback(host) else None,
    )


@router.get(
    "/download",
    name="download_ca",
    response_class=Response,
    responses={
        200: {
            "description": "the CA certificate (never its key)",
            "content": {media: {} for media in dict.fromkeys(calink.MEDIA_TYPES.values())},
        },
        403: {"description": "invalid or expired link"},
        429: {"description": "too many refused links from this address"},
        **EXPOSED_RESPONSE,
    },
)
def download(
    request: Request,
    settings: SettingsDep,
    token: Annotated[str, Query(description="from POST /ca/link")],
) -> Response:
    """The CA certificate in the link's format; no API key, the link is the authorisation.

    A client that keeps presenting bad links is slowed down like one that
    keeps presenting bad keys.
    """
    client, limiter = throttled_client(request, "refused links")
    granted = _granted(settings, token)
    if granted is None:
        limiter.failed(client)
        log.info("refused a CA download link from %s", client)
        raise INVALID_LINK
    cert, fmt = granted
    log.info("CA certificate (%s) downloaded from %s", fmt, client)
    return Response(
        content=export(cert, fmt),
        media_type=calink.MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{calink.FILENAMES[fmt]}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
