"""Packets per second of pcap replay next to dpkt on the same file, and peak memory 1x vs Nx.

Usage:
    python bench/pcap_throughput.py [--packets 1000000] [--scale 4] [--repeat 3] [--full]
                                     [--keep DIR]

Writes a synthetic pcap (DNS lookups, then TCP connections carrying MQTT,
HTTP, JT/T 808, opaque binary and TLS, with handshakes and teardowns) of
``--packets`` packets and one ``--scale`` times larger, then measures, each in
its own process (time and the child's peak RSS from wait4):

- ``dpkt``: the baseline, dpkt extracting every packet's 5-tuple and the DNS
  answers;
- ``shekara``: Shekara's packet stage, the same file read with scapy's raw
  reader, reassembled and turned into mitmproxy flows and events (DNS answers
  dissected, HTTP parsed), with no addons;
- ``replay`` (with ``--full``): the whole ``shekara replay`` command, addons,
  decoders, detectors and store included.

On the 1x file both are run ``--repeat`` times, alternately, and the best
time of each is kept. Target: shekara >= 0.5x the dpkt packets/s, and peak RSS flat in file size.
The script always exits 0 and prints whether each target was met.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.5
FLAT_MEMORY = 1.25  # peak RSS on the larger file may exceed the smaller one's by 25%

SERVERS = [
    ("mqtt.example-tracker.ru", bytes([77, 88, 8, 8]), 1883),
    ("tsp.example-cn-oem.cn", bytes([223, 5, 5, 5]), 80),
    ("jt.example-tracker.ru", bytes([77, 88, 8, 9]), 7611),
    ("blob.example.de", bytes([88, 198, 0, 1]), 9000),
    ("push.example-cn-oem.cn", bytes([47, 95, 12, 40]), 443),
]
RESOLVER = bytes([10, 42, 0, 1])
ETH = bytes.fromhex("020000000001020000000017") + b"\x08\x00"


# -- capture generation --------------------------------------------------------------


def _checksumless_ipv4(src: bytes, dst: bytes, proto: int, l4: bytes) -> bytes:
    return struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0) + src + dst + l4


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b"") -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data


def _udp(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def _dns(qid: int, name: str, ip: bytes | None) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    flags, an = (0x8180, 1) if ip else (0x0100, 0)
    msg = struct.pack("!HHHHHH", qid, flags, 1, an, 0, 0) + qname + struct.pack("!HH", 1, 1)
    if ip:
        msg += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + ip
    return msg


def _mqtt_publish(i: int) -> bytes:
    body = json.dumps(
        {"vin": "LSVAU218XN2183294", "lat": 43.2 + i % 1000 / 1e4, "lon": 76.9, "seq": i}
    ).encode()
    topic = b"vehicles/42/telemetry"
    payload = struct.pack("!H", len(topic)) + topic + body
    return bytes([0x30, len(payload)]) + payload


def _http_post(i: int) -> bytes:
    body = json.dumps({"imei": "356938035643809", "lat": 51.1, "lon": 71.4, "n": i}).encode()
    return (
        b"POST /api/v1/telemetry HTTP/1.1\r\nHost: tsp.example-cn-oem.cn\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    )


def _client_hello(name: str) -> bytes:
    """A minimal TLS 1.2 ClientHello record with a server name."""
    host = name.encode()
    sni = struct.pack("!HBH", len(host) + 3, 0, len(host)) + host
    ext = struct.pack("!HH", 0, len(sni)) + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x04\x13\x01\xc0\x2f" + b"\x01\x00"
    body += struct.pack("!H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def _tls_record(data: bytes) -> bytes:
    return b"\x17\x03\x03" + struct.pack("!H", len(data)) + data


JT808 = bytes.fromhex(
    "7e02000048051160004464000d00000000000c00020159885e06cbf34400000000000020080718072201"
    "040000000130011c310109e4020063e50100e60100e7080000000000000000e806000000000000ea0200"
    "00eb04006e6f6e6c7e"
)


class _Writer:
    """Packets appended to a pcap file through a buffer."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.buf = bytearray()
        self.count = 0
        self.t = 1_732_000_000.0
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def emit(self, frame: bytes) -> None:
        self.t += 0.0002
        sec = int(self.t)
        self.buf += struct.pack("<IIII", sec, int((self.t - sec) * 1e6), len(frame), len(frame))
        self.buf += frame
        self.count += 1
        if len(self.buf) > 1 << 20:
            self.flush()

    def flush(self) -> None:
        self.fh.write(self.buf)
        self.buf.clear()


class _Connection:
    """One TCP connection's packets, sequence numbers kept."""

    def __init__(
        self, w: _Writer, cip: bytes, cport: int, sip: bytes, sport: int, rng: random.Random
    ):
        self.w, self.cip, self.cport, self.sip, self.sport = w, cip, cport, sip, sport
        self.cseq, self.sseq = rng.randrange(1 << 31), rng.randrange(1 << 31)

    def up(self, flags: int, data: bytes = b"") -> None:
        tcp = _tcp(self.cport, self.sport, self.cseq, self.sseq, flags, data)
        self.w.emit(ETH + _checksumless_ipv4(self.cip, self.sip, 6, tcp))
        self.cseq = (self.cseq + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF

    def down(self, flags: int, data: bytes = b"") -> None:
        tcp = _tcp(self.sport, self.cport, self.sseq, self.cseq, flags, data)
        self.w.emit(ETH + _checksumless_ipv4(self.sip, self.cip, 6, tcp))
        self.sseq = (self.sseq + len(data) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF


def write_capture(path: Path, packets: int, seed: int = 1) -> int:
    """A classic pcap of about ``packets`` packets; returns how many were written."""
    rng = random.Random(seed)
    with path.open("wb") as fh:
        w = _Writer(fh)
        n = 0
        while w.count < packets:
            n += 1
            name, sip, sport = SERVERS[n % len(SERVERS)]
            cip = bytes([10, 42, (n >> 8) & 0xFF, n & 0xFF])
            cport = 10000 + n % 50000
            qid = n & 0xFFFF
            w.emit(
                ETH + _checksumless_ipv4(cip, RESOLVER, 17, _udp(cport, 53, _dns(qid, name, None)))
            )
            w.emit(
                ETH + _checksumless_ipv4(RESOLVER, cip, 17, _udp(53, cport, _dns(qid, name, sip)))
            )
            c = _Connection(w, cip, cport, sip, sport, rng)
            c.up(0x02)
            c.down(0x12)
            c.up(0x10)
            for i in range(20):
                if sport == 1883:
                    c.up(0x18, _mqtt_publish(i))
                    c.down(0x10)
                elif sport == 80:
                    c.up(0x18, _http_post(i))
                    c.down(0x18, b"HTTP/1.1 204 No Content\r\n\r\n")
                elif sport == 7611:
                    c.up(0x18, JT808)
                    c.down(0x10)
                elif sport == 443:
                    if i == 0:
                        c.up(0x18, _client_hello(name))
                        c.down(0x18, b"\x16\x03\x03" + struct.pack("!H", 1200) + bytes(1200))
                    else:
                        c.up(0x18, _tls_record(rng.randbytes(300)))
                        c.down(0x18, _tls_record(rng.randbytes(900)))
                else:
                    c.up(0x18, rng.randbytes(400))
                    c.down(0x18, rng.randbytes(64))
            c.up(0x11)
            c.down(0x11)
            c.up(0x10)
        w.flush()
    return w.count


# -- measured children -------------------------------------------------------------


def child_dpkt(path: Path) -> dict[str, int]:
    import dpkt

    packets = tuples = answers = 0
    with path.open("rb") as fh:
        for _ts, buf in dpkt.pcap.Reader(fh):
            packets += 1
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                continue
            l4 = ip.data
            if not isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP):
                continue
            _five = (ip.src, ip.dst, ip.p, l4.sport, l4.dport)
            tuples += 1
            if isinstance(l4, dpkt.udp.UDP) and 53 in (l4.sport, l4.dport):
                dns = dpkt.dns.DNS(l4.data)
                answers += sum(1 for rr in dns.an if rr.type == dpkt.dns.DNS_A)
    return {"packets": packets, "tuples": tuples, "answers": answers}


def child_shekara(path: Path) -> dict[str, int]:
    from shekara.proxy.packets import PacketReader
    from shekara.proxy.pcapflows import Converter

    events = 0

    def trigger(_event: object) -> None:
        nonlocal events
        events += 1

    conv = Converter(trigger, lambda _r: None)
    with PacketReader(path) as reader:
        for p in reader:
            conv.packet(p)
        packets = reader.records
    conv.close()
    return {
        "packets": packets,
        "flows": conv.stats.flows,
        "events": events,
        "names": len(conv.names),
    }


def run_child(mode: str, path: Path) -> tuple[float, int, dict[str, int]]:
    """(seconds, peak RSS KiB, counts) of one measured child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", mode, str(path)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{mode} failed on {path}")
    result = json.loads(out)
    return result.pop("seconds", seconds), usage.ru_maxrss, result


def run_replay(path: Path, workdir: Path) -> tuple[float, int]:
    shekara = Path(sys.executable).with_name("shekara")
    db = workdir / f"{path.stem}.db"
    env = {**os.environ, "SHEKARA_HOME": str(workdir / "home")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(shekara), "replay", str(path), "--db", f"sqlite:///{db}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"shekara replay failed on {path}")
    return time.perf_counter() - start, usage.ru_maxrss


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--scale", type=int, default=4, help="size of the second file, times the first")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tool on the 1x file")
    ap.add_argument("--full", action="store_true", help="also time the whole shekara replay")
    ap.add_argument("--keep", type=Path, default=None, help="keep the files in this folder")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        mode, file = args.child
        # Imported before the clock starts: interpreter and import time are not reading time.
        if mode == "dpkt":
            import dpkt  # noqa: F401
        else:
            import shekara.proxy.pcapflows  # noqa: F401
        start = time.perf_counter()
        counts = child_dpkt(Path(file)) if mode == "dpkt" else child_shekara(Path(file))
        print(json.dumps({**counts, "seconds": time.perf_counter() - start}))
        return 0

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="shekara-pcap-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        files = []
        for factor in (1, args.scale):
            path = workdir / f"bench-{factor}x.pcap"
            t = time.perf_counter()
            n = write_capture(path, args.packets * factor)
            print(
                f"wrote {path.name}: {n:,} packets, {path.stat().st_size / 2**20:,.0f} MiB "
                f"in {time.perf_counter() - t:.0f} s",
                flush=True,
            )
            files.append((factor, path, n))
        rows = []
        for factor, path, n in files:
            # Alternated and repeated, best time kept: a shared machine's load
            # then weighs on both sides alike.
            d_s = s_s = float("inf")
            for _ in range(args.repeat if factor == 1 else 1):
                t, d_rss, d_counts = run_child("dpkt", path)
                d_s = min(d_s, t)
                t, s_rss, s_counts = run_child("shekara", path)
                s_s = min(s_s, t)
            assert d_counts["packets"] == s_counts["packets"] == n, (d_counts, s_counts)
            row = {
                "factor": factor,
                "packets": n,
                "dpkt_pps": n / d_s,
                "dpkt_rss": d_rss,
                "shekara_pps": n / s_s,
                "shekara_rss": s_rss,
                "flows": s_counts["flows"],
                "answers": d_counts["answers"],
                "names": s_counts["names"],
            }
            if args.full:
                r_s, r_rss = run_replay(path, workdir)
                row |= {"replay_pps": n / r_s, "replay_rss": r_rss}
            rows.append(row)
            print(
                f"{factor}x: dpkt {row['dpkt_pps']:,.0f} pkt/s ({d_rss / 1024:,.0f} MiB peak), "
                f"shekara {row['shekara_pps']:,.0f} pkt/s ({s_rss / 1024:,.0f} MiB peak), "
                f"ratio {row['shekara_pps'] / row['dpkt_pps']:.2f}x; {row['flows']:,} flows, "
                f"{row['answers']:,} DNS answers"
                + (
                    f"; full replay {row['replay_pps']:,.0f} pkt/s "
                    f"({row['replay_rss'] / 1024:,.0f} MiB peak)"
                    if args.full
                    else ""
                ),
                flush=True,
            )
        small, large = rows[0], rows[-1]
        ratio = small["shekara_pps"] / small["dpkt_pps"]
        growth = large["shekara_rss"] / small["shekara_rss"]
        print(
            f"\nratio shekara/dpkt {ratio:.2f}x (target >= {TARGET_RATIO}x): "
            f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}"
        )
        print(
            f"peak RSS {args.scale}x file / 1x file: shekara {growth:.2f}x, "
            f"dpkt {large['dpkt_rss'] / small['dpkt_rss']:.2f}x "
            f"(target <= {FLAT_MEMORY}x): {'met' if growth <= FLAT_MEMORY else 'NOT met'}"
        )
        if args.full:
            print(
                f"peak RSS of the full replay {args.scale}x / 1x: "
                f"{large['replay_rss'] / small['replay_rss']:.2f}x; "
                f"full replay / dpkt {small['replay_pps'] / small['dpkt_pps']:.2f}x"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
