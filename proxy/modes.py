"""The mitmproxy modes a car audit uses, checked before the proxy starts.

``transparent`` is the audit Wi-Fi gateway's (nftables redirects the car's
TCP to it); ``wireguard`` suits head units that run a WireGuard client;
``regular`` and ``socks5`` suit phones and bench tests; ``dns`` records the
car's DNS queries and answers as DNS flows, which tie each IP to the names
it was looked up under. Several modes run at once as mitmproxy's list-valued
``mode`` option.
"""

from __future__ import annotations

from collections.abc import Sequence

from mitmproxy.exceptions import OptionsError
from mitmproxy.proxy.mode_specs import (
    DnsMode,
    ProxyMode,
    RegularMode,
    Socks5Mode,
    TransparentMode,
    WireGuardMode,
)

ALLOWED = (TransparentMode, WireGuardMode, RegularMode, Socks5Mode, DnsMode)
NAMES = ", ".join(m.type_name for m in ALLOWED)


def mode_specs(specs: Sequence[str]) -> list[str]:
    """The specs, each parsed by mitmproxy; OptionsError for an unknown or unsuitable one."""
    out: list[str] = []
    for spec in specs:
        try:
            mode = ProxyMode.parse(spec)
        except ValueError as e:
            raise OptionsError(f"--mode {spec}: {e}") from e
        if not isinstance(mode, ALLOWED):
            raise OptionsError(f"--mode {spec}: not a car audit mode (one of {NAMES})")
        out.append(mode.full_spec)
    if len(set(out)) != len(out):
        raise OptionsError("--mode: the same mode is given twice")
    return out
