"""``shekara wifi``: the audit access point's hostapd, dnsmasq and nftables files."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from shekara.proxy.wifi import WifiConfigError, plan, render


def cmd_wifi(args: argparse.Namespace) -> int:
    passphrase = args.passphrase or secrets.token_urlsafe(12)
    try:
        p = plan(
            args.interface,
            args.subnet,
            args.proxy_port,
            dns_port=args.dns_port,
            uplink=args.uplink,
            ssid=args.ssid,
            passphrase=passphrase,
            channel=args.channel,
            country=args.country,
            leasefile=args.leasefile,
        )
    except WifiConfigError as e:
        print(f"shekara: wifi: {e}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, text in render(p).items():
        path = out / name
        # hostapd.conf holds the passphrase: private like every file here.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
    prefix = p.subnet.prefixlen
    print(
        f"""Audit Wi-Fi files written to {out}/ (SSID {p.ssid!r}, passphrase {passphrase!r}).
As root on the gateway:
  1. ip addr add {p.gateway}/{prefix} dev {p.interface} && ip link set {p.interface} up
  2. sysctl -w net.ipv4.ip_forward=1
  3. nft -f {out / "nftables.conf"}
  4. hostapd -B {out / "hostapd.conf"}
  5. dnsmasq --conf-file={out / "dnsmasq.conf"}
  6. {p.proxy_command}
Then install the CA on the device ('shekara ca export --format der') and join the network."""
    )
    return 0


def register(sub: argparse._SubParsersAction, default_db: Callable[[], str]) -> None:  # type: ignore[type-arg]
    w = sub.add_parser(
        "wifi",
        help="render the audit access point's hostapd, dnsmasq and nftables files",
        description="Writes hostapd.conf, dnsmasq.conf and nftables.conf that make this "
        "machine the audit Wi-Fi: the car's TCP goes to 'shekara proxy --mode transparent', "
        "its DNS to the proxy's DNS mode. Nothing is applied: the steps are printed.",
    )
    w.add_argument("--interface", required=True, help="Wi-Fi interface (e.g. wlan0)")
    w.add_argument("--subnet", default="10.77.0.0/24", help="the Wi-Fi's private subnet")
    w.add_argument("--proxy-port", type=int, default=8080, help="transparent mode's port")
    w.add_argument("--dns-port", type=int, default=5353, help="DNS mode's port")
    w.add_argument("--uplink", default="eth0", help="interface towards the internet")
    w.add_argument("--ssid", default="shekara-audit")
    w.add_argument("--passphrase", default=None, help="WPA2 passphrase (default: random)")
    w.add_argument("--channel", type=int, default=6)
    w.add_argument("--country", default="KZ", help="regulatory domain (ISO 3166 code)")
    w.add_argument(
        "--leasefile",
        default="/var/lib/misc/shekara-audit.leases",
        help="where dnsmasq keeps its DHCP leases, which the proxy reads (--dhcp-leases)",
    )
    w.add_argument("--out", default="shekara-wifi", help="folder for the files")
    w.set_defaults(func=cmd_wifi)
