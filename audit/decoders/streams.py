"""Which protocol a raw TCP connection speaks, and a decoder stream for each direction.

The first bytes a device sends decide; when several protocols accept them,
the one whose usual server port matches wins, then the order below (the
stricter, checksummed binary protocols first, free-form text last).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shekara.audit.decoders import (
    egts,
    gbt32960,
    gt06,
    h02,
    jt808,
    nmea,
    queclink,
    teltonika,
    tk103,
    watch3g,
    wialon,
)
from shekara.audit.decoders.framed_stream import Undecoded
from shekara.audit.decoders.mqtt import MqttStream, looks_like_mqtt
from shekara.audit.model import Document


class Stream(Protocol):
    def feed(self, data: bytes) -> list[Document]: ...

    def take_notes(self) -> list[Undecoded]: ...


class StreamFactory(Protocol):
    def __call__(self, *, from_client: bool = True) -> Stream: ...


@dataclass(frozen=True)
class StreamProtocol:
    name: str
    ports: frozenset[int]
    sniff: object  # Callable[[bytes], bool]; kept loose for module functions
    stream: StreamFactory
    #: Whether the server-to-device direction is decoded (commands).
    downstream: bool = True

    def looks_like(self, first: bytes) -> bool:
        try:
            return bool(self.sniff(first))  # type: ignore[operator]
        except Exception:  # a sniffer must never break the pipeline
            return False


def _module(m: object, downstream: bool = True) -> StreamProtocol:
    return StreamProtocol(
        m.NAME,  # type: ignore[attr-defined]
        m.DEFAULT_PORTS,  # type: ignore[attr-defined]
        m.looks_like,  # type: ignore[attr-defined]
        m.Stream,  # type: ignore[attr-defined]
        downstream,
    )


PROTOCOLS: tuple[StreamProtocol, ...] = (
    StreamProtocol("mqtt", frozenset({1883, 8883}), looks_like_mqtt, MqttStream),
    _module(gbt32960),
    _module(jt808),
    _module(gt06),
    _module(teltonika),
    _module(egts),
    _module(watch3g),
    _module(h02),
    _module(tk103),
    _module(queclink),
    _module(wialon),
    _module(nmea),
)


def sniff(
    first: bytes, port: int | None = None, protocols: Sequence[StreamProtocol] = PROTOCOLS
) -> StreamProtocol | None:
    """The protocol of a connection whose client sent ``first`` first, if any is recognised."""
    matches = [p for p in protocols if p.looks_like(first)]
    if not matches:
        return None
    if port is not None:
        for p in matches:
            if port in p.ports:
                return p
    return matches[0]
