"""The audit Wi-Fi kit rendered for an interface, subnet and proxy port, and checked by nft."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shekara.proxy.wifi import WifiConfigError, plan, render

SHEKARA = str(Path(sys.executable).with_name("shekara"))
NFT = shutil.which("nft") or "/usr/sbin/nft"


@pytest.fixture
def scratch_namespace() -> Iterator[str]:
    """nft checks against the kernel: a namespace of our own, so the host's rules are untouched."""
    name = f"shk-wifi-{os.getpid()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    yield name
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def nft_check(ns: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, NFT, "-c", "-f", str(path)], capture_output=True, text=True
    )


def test_rendered_files_say_what_the_gateway_does() -> None:
    files = render(plan("wlp2s0", "192.168.77.0/24", 8443, dns_port=5300, passphrase="s3cret-pass"))
    hostapd, dnsmasq, nft = files["hostapd.conf"], files["dnsmasq.conf"], files["nftables.conf"]
    assert "interface=wlp2s0\n" in hostapd and "wpa_passphrase=s3cret-pass\n" in hostapd
    assert "country_code=KZ\n" in hostapd and "hw_mode=g\n" in hostapd
    assert "dhcp-range=192.168.77.10,192.168.77.254,255.255.255.0,12h" in dnsmasq
    assert "dhcp-option=option:dns-server,192.168.77.1" in dnsmasq and "port=0" in dnsmasq
    assert 'iifname "wlp2s0" udp dport 53 redirect to :5300' in nft
    assert "ip daddr != 192.168.77.1 meta l4proto tcp redirect to :8443" in nft
    assert "ip saddr 192.168.77.0/24" in nft
    assert "$" not in "".join(files.values())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"interface": "wlan0; rm -rf /"}, "not a network interface name"),
        ({"subnet": "8.8.8.0/24"}, "private"),
        ({"subnet": "10.0.0.1/24"}, "host bits"),
        ({"proxy_port": 70000}, "out of range"),
        ({"passphrase": "short"}, "8 to 63"),
        ({"ssid": "a\nwpa=0"}, "one line"),
        ({"country": "kz"}, "ISO 3166"),
        ({"uplink": "wlan0"}, "must differ"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "interface": "wlan0",
        "subnet": "10.77.0.0/24",
        "proxy_port": 8080,
        "passphrase": "long enough",
    }
    args.update(kwargs)
    with pytest.raises(WifiConfigError, match=message):
        plan(**args)  # type: ignore[arg-type]


def test_command_writes_private_files_that_nft_accepts(
    tmp_path: Path, scratch_namespace: str
) -> None:
    out = tmp_path / "kit"
    done = subprocess.run(
        [
            SHEKARA,
            "wifi",
            "--interface",
            "wlan1",
            "--subnet",
            "10.99.0.0/24",
            "--proxy-port",
            "8081",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SHEKARA_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    assert "--mode transparent@8081 --mode dns@5353" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "dnsmasq.conf",
        "hostapd.conf",
        "nftables.conf",
    ]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())
    checked = nft_check(scratch_namespace, out / "nftables.conf")
    assert checked.returncode == 0, checked.stderr
    # The check can fail: a broken rule is reported.
    broken = tmp_path / "broken.conf"
    broken.write_text((out / "nftables.conf").read_text().replace("redirect to", "redirect too"))
    assert nft_check(scratch_namespace, broken).returncode != 0
