"""Replays a saved capture through the same addons the live proxy runs.

Formats: mitmproxy flow files (``.mitm``), pcap and pcapng packet captures
(rebuilt into flows by ``pcapflows``) and HTTP Archives (``har``). The flows
go through mitmproxy's own AddonManager, event by event, but without the
proxy's network machinery: a stored flow needs analysing, not proxying. A
damaged file stops the replay with the byte offset reached; findings from the
flows before it are kept.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mitmproxy import eventsequence, exceptions, io, master, options

from shekara.proxy import har, packets
from shekara.proxy.pcapflows import Converter, Remark, Stats

log = logging.getLogger(__name__)

FORMATS = ("mitm", "pcap", "pcapng", "har")
#: Formats that hold every connection's bytes, so their replay keeps connection records.
PACKET_FORMATS = ("pcap", "pcapng")

#: Called with the byte offset reached, now and then, for a progress display.
Progress = Callable[[int], None]
RemarkSink = Callable[[Remark], None]


class CaptureError(Exception):
    """A capture that cannot be read to its end."""


@dataclass
class ReplayResult:
    flows: int
    error: str | None = None
    format: str = "mitm"
    packets: int = 0
    detail: str = ""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def detect_format(path: Path) -> str:
    """The capture's format, from its first bytes (the name's suffix may lie)."""
    with path.open("rb") as fh:
        head = fh.read(64)
    fmt = packets.capture_format(head)
    if fmt is not None:
        return fmt
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "har"
    return "mitm"


def keeps_connections(path: Path) -> bool:
    """Whether the replay of ``path`` accounts for its connections, as the live proxy does.

    A packet capture holds every byte of every connection, read or not, so its
    replay records connections (and encrypted ones as undetermined content)
    and has a decryption coverage. A flow file or HAR holds only what a proxy
    chose to keep (a passed-through connection's messages are dropped as they
    are counted): its coverage stays "not measured" rather than a false 100%.
    """
    try:
        return detect_format(path) in PACKET_FORMATS
    except OSError:
        return False


def _counts_connections(addons: list[object]) -> bool:
    """Whether the pipeline has the traffic stage, which records connections."""
    from shekara.addons import Stages

    for a in addons:
        if isinstance(a, Stages):
            try:
                a.get("traffic")
            except KeyError:
                continue
            return True
    return False


def _ignore_remark(_r: Remark) -> None:
    pass


async def _replay(
    path: Path,
    addons: list[object],
    opts: dict[str, object],
    remark: RemarkSink,
    progress: Progress | None,
) -> ReplayResult:
    m = master.Master(options.Options(), with_termlog=False)
    try:
        m.addons.add(*addons)
        if opts:
            m.options.update(**opts)
        try:
            fmt = detect_format(path)
        except OSError as e:
            return ReplayResult(0, f"{path}: cannot read: {e}")
        if fmt in PACKET_FORMATS:
            if not _counts_connections(addons):
                log.warning(
                    "%s: replayed without connection records (pipeline.build(connections=True) "
                    "keeps them): its encrypted connections are not recorded",
                    path,
                )
            return _replay_packets(path, m, remark, progress)
        if fmt == "har":
            return _replay_har(path, m, progress)
        return _replay_mitm(path, m, progress)
    finally:
        # The done hook, and the master's log handler taken off the root logger again:
        # a handler left behind would send later records to this replay's closed loop.
        await m.done()


def _replay_mitm(path: Path, m: master.Master, progress: Progress | None) -> ReplayResult:
    flows = 0
    offset = 0
    error: str | None = None
    try:
        with path.open("rb") as fh:
            reader = io.FlowReader(fh)
            stream = iter(reader.stream())
            while True:
                offset = fh.tell()
                try:
                    f = next(stream)
                except StopIteration:
                    break
                except exceptions.FlowReadException:
                    raise
                except Exception as e:  # a well-formed record that is not a flow
                    raise exceptions.FlowReadException(f"{type(e).__name__}: {e}") from e
                for event in eventsequence.iterate(f):
                    m.addons.trigger(event)
                flows += 1
                if progress is not None:
                    progress(fh.tell())
    except exceptions.FlowReadException as e:
        if "flow format version" in str(e):
            error = (
                f"{path}: a mitmproxy flow file this version cannot read ({e}); "
                f"read {flows} flows, stopped at byte {offset}. Open and save it again "
                "with a mitmproxy release that reads it"
            )
        else:
            error = f"{path}: damaged capture: read {flows} flows, stopped at byte {offset}: {e}"
    except OSError as e:
        error = f"{path}: cannot read: {e}"
    return ReplayResult(flows, error, "mitm")


def _replay_packets(
    path: Path, m: master.Master, remark: RemarkSink, progress: Progress | None
) -> ReplayResult:
    conv = Converter(m.addons.trigger, remark)
    error: str | None = None
    count = 0
    fmt = "pcap"
    try:
        with packets.PacketReader(path) as reader:
            fmt = reader.format or fmt
            try:
                for count, p in enumerate(reader, 1):
                    try:
                        conv.packet(p)
                    except Exception as e:  # a bug must cost one packet, not the capture
                        log.exception("packet %d of %s could not be processed", count, path)
                        remark(_packet_failure(p, count, e))
                    if progress is not None and not count & 0x3FF:
                        progress(reader.offset)
            except packets.CaptureDamaged as e:
                error = (
                    f"{path}: damaged capture: read {reader.records} packets, "
                    f"stopped at byte {e.offset}: {e.reason}"
                )
            if progress is not None:
                progress(reader.offset)
            records = reader.records
            skipped = reader.skipped
    except packets.CaptureDamaged as e:
        error = f"{path}: damaged capture: read 0 packets, stopped at byte {e.offset}: {e.reason}"
        records = skipped = 0
    except OSError as e:
        error = f"{path}: cannot read: {e}"
        records = skipped = 0
    conv.close()  # what was read is analysed, even when the file ends in damage
    return ReplayResult(conv.stats.flows, error, fmt, records, _describe(conv.stats, skipped))


def _packet_failure(p: packets.Packet, n: int, e: Exception) -> Remark:
    return Remark(
        f"packet-{n}",
        "capture",
        f"packet {n} could not be processed: {type(e).__name__}: {e}",
        None,
        packets.ip_text(p.dst),
        p.dport,
        None,
        p.ts,
    )


def _describe(stats: Stats, skipped: int = 0) -> str:
    parts = [
        f"{getattr(stats, k)} {k}"
        for k in ("http", "tcp", "tls", "udp", "dns")
        if getattr(stats, k)
    ]
    if stats.gaps:
        parts.append(f"{stats.gaps} holes in TCP streams")
    if stats.cut:
        parts.append(f"{stats.cut} connections cut to bound memory")
    if skipped:
        parts.append(f"{skipped} packets neither TCP nor UDP (ARP, ICMP, IP fragments) skipped")
    return ", ".join(parts)


def _replay_har(path: Path, m: master.Master, progress: Progress | None) -> ReplayResult:
    flows = 0
    error: str | None = None
    try:
        for f, offset in har.read_flows(path):
            for event in eventsequence.iterate(f):
                m.addons.trigger(event)
            flows += 1
            if progress is not None:
                progress(offset)
    except har.HarError as e:
        error = f"{path}: damaged HAR file: read {flows} entries, stopped at byte {e.offset}: {e}"
    except OSError as e:
        error = f"{path}: cannot read: {e}"
    return ReplayResult(flows, error, "har")


def replay(
    path: Path,
    addons: list[object],
    opts: dict[str, object] | None = None,
    remark: RemarkSink | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    return asyncio.run(_replay(path, addons, opts or {}, remark or _ignore_remark, progress))
