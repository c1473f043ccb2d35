"""The audit Wi-Fi kit: hostapd, dnsmasq and nftables configurations for one gateway.

A Linux box with a Wi-Fi card becomes the access point the car joins: hostapd
runs the network, dnsmasq hands out addresses (and logs each device's MAC and
DHCP host name), nftables redirects the car's TCP to ``shekara proxy --mode
transparent`` and its DNS to the proxy's DNS mode. ``render`` checks every
parameter before it is written into a configuration file.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

TEMPLATES = ("hostapd.conf", "dnsmasq.conf", "nftables.conf")
_IFNAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")
_COUNTRY = re.compile(r"[A-Z]{2}")


class WifiConfigError(ValueError):
    """A parameter that would make a broken or unsafe configuration."""


@dataclass(frozen=True)
class WifiPlan:
    interface: str
    subnet: ipaddress.IPv4Network
    proxy_port: int
    dns_port: int
    uplink: str
    ssid: str
    passphrase: str
    channel: int
    country: str
    leasefile: str

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return next(self.subnet.hosts())

    @property
    def proxy_command(self) -> str:
        return (
            f"shekara proxy --mode transparent@{self.proxy_port} --mode dns@{self.dns_port} "
            f"--listen-host 0.0.0.0 --dhcp-leases {self.leasefile}"
        )


def plan(
    interface: str,
    subnet: str,
    proxy_port: int,
    *,
    dns_port: int = 5353,
    uplink: str = "eth0",
    ssid: str = "shekara-audit",
    passphrase: str = "",
    channel: int = 6,
    country: str = "KZ",
    leasefile: str = "/var/lib/misc/shekara-audit.leases",
) -> WifiPlan:
    for name, value in (("interface", interface), ("uplink", uplink)):
        if not _IFNAME.fullmatch(value):
            raise WifiConfigError(f"{name} {value!r} is not a network interface name")
    if interface == uplink:
        raise WifiConfigError("the Wi-Fi interface and the uplink must differ")
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as e:
        raise WifiConfigError(f"subnet {subnet!r}: {e}") from e
    if not net.is_private or net.num_addresses < 8:
        raise WifiConfigError(f"subnet {subnet} must be a private IPv4 network of 8+ addresses")
    for name, port in (("proxy port", proxy_port), ("DNS port", dns_port)):
        if not 1 <= port <= 65535:
            raise WifiConfigError(f"{name} {port} is out of range")
    if proxy_port == dns_port:
        raise WifiConfigError("the proxy port and the DNS port must differ")
    if not 1 <= len(ssid.encode()) <= 32 or any(c in ssid for c in "\n\r"):
        raise WifiConfigError("the SSID must be 1 to 32 bytes on one line")
    if not 8 <= len(passphrase) <= 63 or not passphrase.isascii() or not passphrase.isprintable():
        raise WifiConfigError("the WPA2 passphrase must be 8 to 63 printable ASCII characters")
    if not 1 <= channel <= 165:
        raise WifiConfigError(f"channel {channel} is not a Wi-Fi channel")
    if not _COUNTRY.fullmatch(country):
        raise WifiConfigError(f"country {country!r} is not an ISO 3166 alpha-2 code")
    if "\n" in leasefile:
        raise WifiConfigError("the lease file must be a path on one line")
    return WifiPlan(
        interface, net, proxy_port, dns_port, uplink, ssid, passphrase, channel, country, leasefile
    )


def render(p: WifiPlan) -> dict[str, str]:
    """File name → content of each configuration file."""
    hosts = list(p.subnet.hosts())
    values = {
        "interface": p.interface,
        "uplink": p.uplink,
        "subnet": str(p.subnet),
        "netmask": str(p.subnet.netmask),
        "gateway": str(p.gateway),
        "first": str(hosts[min(9, len(hosts) - 2)]),
        "last": str(hosts[-1]),
        "proxy_port": str(p.proxy_port),
        "dns_port": str(p.dns_port),
        "ssid": p.ssid,
        "passphrase": p.passphrase,
        "channel": str(p.channel),
        "hw_mode": "g" if p.channel <= 14 else "a",
        "country": p.country,
        "leasefile": p.leasefile,
    }
    folder = resources.files(__name__)
    return {
        name: Template((folder / f"{name}.tmpl").read_text()).substitute(values)
        for name in TEMPLATES
    }
