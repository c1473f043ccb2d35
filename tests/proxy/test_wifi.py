"""The audit Wi-Fi kit rendered for an interface, subnet and proxy port, and run for real.

nft checks the rules; hostapd reads and checks its file up to the point where
it needs a Wi-Fi driver; dnsmasq, the rules and the proxy serve a device in
network namespaces, on a veth standing in for the Wi-Fi interface.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shekara.evidence.store import FindingStore
from shekara.proxy.leases import Lease, LeaseBook
from shekara.proxy.wifi import WifiConfigError, plan, render
from tests.proxy.inprocess import Ran
from tests.proxy.netns import wifi_lab

HERE = Path(__file__).parent
SHEKARA = str(Path(sys.executable).with_name("shekara"))
NFT = shutil.which("nft") or "/usr/sbin/nft"
HOSTAPD = shutil.which("hostapd") or "/usr/sbin/hostapd"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


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


def hostapd_reads(ns: str, path: Path) -> tuple[bool, str]:
    """Whether hostapd accepts the file: it reads and checks it all before it opens a driver.

    Without a Wi-Fi card (no nl80211 here, and none in a fresh namespace
    anywhere) hostapd always fails, but after the configuration was accepted:
    a rejected file is reported as "errors found in configuration file".
    """
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "timeout", "20", HOSTAPD, "-dd", str(path)],
        capture_output=True,
        text=True,
    )
    out = done.stdout + done.stderr
    rejected = "errors found in configuration file" in out or "Failed to set up interface" in out
    # Past the file: the driver (nl80211) was asked for, and the interface it set up torn down.
    reached_driver = "nl80211" in out or "hostapd_interface_deinit_free" in out
    return (not rejected and reached_driver and f"Configuration file: {path}" in out), out


@pytest.mark.parametrize("channel", [6, 36])
def test_hostapd_accepts_the_rendered_access_point(
    tmp_path: Path, scratch_namespace: str, channel: int
) -> None:
    if not Path(HOSTAPD).exists():
        pytest.fail("hostapd is not installed (scripts/netns-tools.sh installs it)")
    p = plan("wlan7", "10.77.0.0/24", 8080, passphrase="long enough", channel=channel)
    conf = tmp_path / "hostapd.conf"
    conf.write_text(render(p)["hostapd.conf"])
    accepted, out = hostapd_reads(scratch_namespace, conf)
    assert accepted, out
    # The check can fail: a passphrase missing or a bad mode is refused before the driver.
    for broken in (
        conf.read_text().replace("wpa_passphrase=", "#"),
        conf.read_text().replace("hw_mode=", "hw_mode=q\n#"),
    ):
        conf.write_text(broken)
        accepted, out = hostapd_reads(scratch_namespace, conf)
        assert not accepted and "errors found in configuration file" in out, out


SUBNET, PROXY_PORT, DNS_PORT, LINE_PORT = "10.99.0.0/24", 8080, 5353, 9009
CAR_MAC, CAR_NAME = "02:5e:4b:00:00:07", "tbox-7421"
VENDOR_HOST, VENDOR_IP = "tbox.vendor.example", "47.95.12.40"


def _in(ns: str, *argv: str) -> None:
    done = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True)
    assert done.returncode == 0, f"{argv}: {done.stderr}"


def _wait_listening(ns: str, port: int, proc: subprocess.Popen[str], log: Path) -> None:
    probe = (
        "import socket,sys\n"
        "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()\n"
        "except OSError: sys.exit(1)\n"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the proxy exited: {_log(log)}"
        probed = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", probe, str(port)],
            capture_output=True,
        )
        if probed.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"nothing listens on {port} in {ns}")


def _start(
    ns: str, argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """A server in a namespace; its stdout is a pipe, its stderr goes to ``log``."""
    with open(log, "ab") as err:
        return subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )


def _log(path: Path) -> str:
    try:
        return "\n" + path.read_text()
    except FileNotFoundError:
        return ""


def _steps(stdout: str) -> dict[int, str]:
    """The numbered steps ``shekara wifi`` prints, by number."""
    steps = {}
    for line in stdout.splitlines():
        head, _, rest = line.strip().partition(". ")
        if head.isdigit():
            steps[int(head)] = rest
    return steps


@pytest.mark.live
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_kit_gives_a_device_an_address_a_name_server_and_a_name(
    tmp_path: Path, cli: Callable[..., Ran]
) -> None:
    """The rendered dnsmasq, nftables rules and proxy command, run as the printed steps say.

    A device on the 'Wi-Fi' gets a lease in the subnet by DHCP; its DNS query to
    the gateway goes through the rules to the proxy's DNS mode, which asks the
    upstream name server; its TCP goes through the proxy, whose connection
    record names the device by the MAC and host name of dnsmasq's real lease.
    """
    for tool in (DNSMASQ, NFT):
        if not Path(tool).exists():
            pytest.fail(f"{tool} is not installed (scripts/netns-tools.sh installs it)")
    leasefile = tmp_path / "audit.leases"
    kit = tmp_path / "kit"
    home = tmp_path / "home"
    db_url = f"sqlite:///{tmp_path / 'audit.db'}"
    with wifi_lab() as lab:
        rendered = cli(
            [
                *("wifi", "--interface", lab.wifi, "--subnet", SUBNET, "--uplink", lab.uplink),
                *("--proxy-port", str(PROXY_PORT), "--dns-port", str(DNS_PORT)),
                *("--leasefile", str(leasefile), "--out", str(kit)),
            ]
        )
        assert rendered.returncode == 0, rendered.stderr
        steps = _steps(rendered.stdout)
        # 1 to 3 as printed, in the gateway; 4 (hostapd) needs the Wi-Fi card.
        for n in (1, 2, 3):
            for part in steps[n].split(" && "):
                _in(lab.gateway, *shlex.split(part))
        upstream = _start(
            lab.internet,
            [
                *(sys.executable, str(HERE / "dns_upstream.py"), lab.internet_ip),
                *(json.dumps({VENDOR_HOST: VENDOR_IP}), str(LINE_PORT)),
            ],
            tmp_path / "upstream.log",
        )
        # 5: dnsmasq as printed, kept in the foreground and logging to a file of the test's.
        dnsmasq = _start(
            lab.gateway,
            [
                *shlex.split(steps[5].replace("dnsmasq", DNSMASQ, 1)),
                *("--keep-in-foreground", "--pid-file"),
                f"--log-facility={tmp_path / 'dnsmasq.log'}",
            ],
            tmp_path / "dnsmasq.err",
        )
        # 6: the proxy as printed, with this test's database.
        argv = shlex.split(steps[6])
        assert argv[0] == "shekara"
        proxy_log = tmp_path / "proxy.log"
        proxy = _start(
            lab.gateway,
            [SHEKARA, *argv[1:], "--db", db_url],
            proxy_log,
            env={"SHEKARA_HOME": str(home), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        try:
            assert upstream.stdout is not None and upstream.stdout.readline().strip() == "ready"
            _wait_listening(lab.gateway, PROXY_PORT, proxy, proxy_log)
            assert dnsmasq.poll() is None, _log(tmp_path / "dnsmasq.err")
            car = subprocess.run(
                [
                    *("ip", "netns", "exec", lab.car, sys.executable),
                    *(str(HERE / "dhcp_client.py"), lab.car_link, CAR_MAC, CAR_NAME),
                    *(VENDOR_HOST, f"{lab.internet_ip}:{LINE_PORT}"),
                ],
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert car.returncode == 0, car.stderr + _log(tmp_path / "dnsmasq.log")
            device = json.loads(car.stdout)
            # dnsmasq's real lease file, read by the proxy's lease reader.
            book = LeaseBook(leasefile)
            deadline = time.monotonic() + 10
            while book.lookup(device["address"]) is None and time.monotonic() < deadline:
                time.sleep(0.2)
                book = LeaseBook(leasefile)
            assert book.lookup(device["address"]) == Lease(CAR_MAC, CAR_NAME), leasefile.read_text()
        finally:
            proxy.send_signal(signal.SIGTERM)
            try:
                proxy.communicate(timeout=60)
            finally:
                for proc in (dnsmasq, upstream):
                    proc.kill()
                    proc.communicate()
        assert proxy.returncode == 0, proxy_log.read_text()

    # The lease: an address of the configured range, the gateway as router and name server.
    assert device["address"] in {f"10.99.0.{i}" for i in range(10, 255)}
    assert device["prefix"] == 24
    assert device["router"] == device["name_server"] == device["server_id"] == "10.99.0.1"
    assert device["lease_time"] == 12 * 3600
    # DNS to the gateway was answered, by the upstream name server through the proxy.
    assert device["resolved"] == [VENDOR_IP]
    assert device["tcp"] == "ok"
    # The device's TCP is on record, named by its lease.
    store = FindingStore(db_url)
    run = store.get_run(1)
    assert run is not None and run.kind == "proxy" and run.status == "completed"
    [line] = [c for c in store.query_connections(1) if c.port == LINE_PORT]
    assert (line.client_ip, line.client_mac, line.client_name) == (
        device["address"],
        CAR_MAC,
        CAR_NAME,
    )
    assert line.ip == "10.88.2.2" and line.bytes_up == len(b"01 car report\n")
    assert line.bytes_down == len(b"ok\n") and line.content == "read"
