"""A private network namespace whose loopback also carries 'public' test-host addresses.

The namespace has no interface but ``lo`` and no route out, so a test server
bound to 223.5.5.5 in it is reachable from inside only, and nothing a test
sends can leave the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def namespace(addresses: Sequence[str]) -> Iterator[str]:
    name = f"shk-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    try:
        _ip("netns", "add", name)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise RuntimeError(
            f"cannot create network namespace {name} (root and iproute2 are needed): {detail}"
        ) from e
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        for addr in addresses:
            _ip("netns", "exec", name, "ip", "addr", "add", f"{addr}/32", "dev", "lo")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def in_namespace(name: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]


@dataclass(frozen=True)
class Gateway:
    """Three namespaces: car → gateway → internet, named after this process."""

    car: str
    gateway: str
    internet: str
    car_ip: str = "10.77.1.2"
    gateway_car_ip: str = "10.77.1.1"
    gateway_net_ip: str = "10.77.2.1"
    internet_ip: str = "10.77.2.2"


def _in(ns: str, *args: str) -> None:
    _ip("netns", "exec", ns, *args)


@contextmanager
def gateway(
    public: Sequence[str], hosts: dict[str, str], redirect_port: int, dns_port: int
) -> Iterator[Gateway]:
    """The audit Wi-Fi in miniature: the car's default route and name server is the
    gateway, whose nftables redirects every TCP connection from the car to a transparent
    proxy on ``redirect_port`` and its DNS queries to the proxy's DNS mode on
    ``dns_port``; the internet namespace holds the ``public`` addresses on its loopback.
    ``hosts`` becomes the gateway's /etc/hosts, which the DNS mode answers from
    (``ip netns exec`` mounts /etc/netns/NAME/* over /etc).
    """
    pid = os.getpid()
    g = Gateway(f"shk-car-{pid}", f"shk-gw-{pid}", f"shk-net-{pid}")
    names = (g.car, g.gateway, g.internet)
    etc = {ns: Path("/etc/netns") / ns for ns in (g.car, g.gateway)}

    def cleanup() -> None:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for folder in etc.values():
            shutil.rmtree(folder, ignore_errors=True)

    cleanup()
    try:
        for ns in names:
            _ip("netns", "add", ns)
            _in(ns, "ip", "link", "set", "lo", "up")
        _ip(
            "link",
            "add",
            f"shkc{pid}",
            "netns",
            g.car,
            "type",
            "veth",
            "peer",
            "name",
            f"shkg{pid}",
            "netns",
            g.gateway,
        )
        _ip(
            "link",
            "add",
            f"shkn{pid}",
            "netns",
            g.internet,
            "type",
            "veth",
            "peer",
            "name",
            f"shko{pid}",
            "netns",
            g.gateway,
        )
        _in(g.car, "ip", "addr", "add", f"{g.car_ip}/24", "dev", f"shkc{pid}")
        _in(g.car, "ip", "link", "set", f"shkc{pid}", "up")
        _in(g.car, "ip", "route", "add", "default", "via", g.gateway_car_ip)
        _in(g.gateway, "ip", "addr", "add", f"{g.gateway_car_ip}/24", "dev", f"shkg{pid}")
        _in(g.gateway, "ip", "addr", "add", f"{g.gateway_net_ip}/24", "dev", f"shko{pid}")
        _in(g.gateway, "ip", "link", "set", f"shkg{pid}", "up")
        _in(g.gateway, "ip", "link", "set", f"shko{pid}", "up")
        _in(g.gateway, "ip", "route", "add", "default", "via", g.internet_ip)
        _in(g.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _in(g.internet, "ip", "addr", "add", f"{g.internet_ip}/24", "dev", f"shkn{pid}")
        _in(g.internet, "ip", "link", "set", f"shkn{pid}", "up")
        _in(g.internet, "ip", "route", "add", "10.77.1.0/24", "via", g.gateway_net_ip)
        for addr in public:
            _in(g.internet, "ip", "addr", "add", f"{addr}/32", "dev", "lo")
        rules = (
            "table ip shekara_test {\n"
            "  chain prerouting {\n"
            "    type nat hook prerouting priority dstnat; policy accept;\n"
            f'    iifname "shkg{pid}" udp dport 53 redirect to :{dns_port}\n'
            f'    iifname "shkg{pid}" meta l4proto tcp redirect to :{redirect_port}\n'
            "  }\n"
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", g.gateway, "nft", "-f", "-"],
            input=rules,
            check=True,
            capture_output=True,
            text=True,
        )
        for folder in etc.values():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "hosts").write_text("127.0.0.1 localhost\n")
        # The car asks the gateway; the gateway knows the names and asks no one else.
        (etc[g.car] / "resolv.conf").write_text(f"nameserver {g.gateway_car_ip}\n")
        (etc[g.gateway] / "resolv.conf").write_text(
            "# no name server: answers come from /etc/hosts\n"
        )
        (etc[g.gateway] / "hosts").write_text(
            "127.0.0.1 localhost\n" + "".join(f"{ip} {name}\n" for name, ip in hosts.items())
        )
    except (OSError, subprocess.CalledProcessError) as e:
        cleanup()
        detail = getattr(e, "stderr", "") or str(e)
        raise RuntimeError(
            f"cannot build the test network (root, iproute2 and nftables are needed): {detail}"
        ) from e
    try:
        yield g
    finally:
        cleanup()


@dataclass(frozen=True)
class WifiLab:
    """Car, gateway and internet namespaces for the audit Wi-Fi kit, named after this process.

    ``wifi`` is the gateway's end of a veth pair that stands in for the Wi-Fi
    interface: the car's end (``car_link``) has no address until DHCP gives it
    one, and the gateway's end none until the kit's steps give it one.
    ``uplink`` leads to the internet namespace, the gateway's default route.
    """

    car: str
    gateway: str
    internet: str
    car_link: str
    wifi: str
    uplink: str
    gateway_net_ip: str = "10.88.2.1"
    internet_ip: str = "10.88.2.2"


@contextmanager
def wifi_lab() -> Iterator[WifiLab]:
    pid = os.getpid()
    lab = WifiLab(
        f"shk-wcar-{pid}",
        f"shk-wgw-{pid}",
        f"shk-wnet-{pid}",
        car_link=f"shkwc{pid}",
        wifi=f"shkww{pid}",
        uplink=f"shkwu{pid}",
    )
    names = (lab.car, lab.gateway, lab.internet)
    # The gateway's name server is the internet namespace's (``ip netns exec`` mounts it).
    etc = Path("/etc/netns") / lab.gateway

    def cleanup() -> None:
        for ns in names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(etc, ignore_errors=True)

    cleanup()
    try:
        for ns in names:
            _ip("netns", "add", ns)
            _in(ns, "ip", "link", "set", "lo", "up")
        _ip(
            *("link", "add", lab.car_link, "netns", lab.car, "type", "veth"),
            *("peer", "name", lab.wifi, "netns", lab.gateway),
        )
        _ip(
            *("link", "add", f"shkwn{pid}", "netns", lab.internet, "type", "veth"),
            *("peer", "name", lab.uplink, "netns", lab.gateway),
        )
        _in(lab.car, "ip", "link", "set", lab.car_link, "up")
        _in(lab.gateway, "ip", "link", "set", lab.wifi, "up")
        _in(lab.gateway, "ip", "addr", "add", f"{lab.gateway_net_ip}/24", "dev", lab.uplink)
        _in(lab.gateway, "ip", "link", "set", lab.uplink, "up")
        _in(lab.gateway, "ip", "route", "add", "default", "via", lab.internet_ip)
        _in(lab.internet, "ip", "addr", "add", f"{lab.internet_ip}/24", "dev", f"shkwn{pid}")
        _in(lab.internet, "ip", "link", "set", f"shkwn{pid}", "up")
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {lab.internet_ip}\n")
    except (OSError, subprocess.CalledProcessError) as e:
        cleanup()
        detail = getattr(e, "stderr", "") or str(e)
        raise RuntimeError(
            f"cannot build the Wi-Fi lab (root and iproute2 are needed): {detail}"
        ) from e
    try:
        yield lab
    finally:
        cleanup()
