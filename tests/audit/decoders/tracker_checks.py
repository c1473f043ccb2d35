"""Checks the stream decoder tests share: samples, split feeding, fuzzing, detection."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import INTERNAL_ERROR, FramedStream, Undecoded
from shekara.audit.detectors import detect
from shekara.audit.model import Category, Document

DATA = Path(__file__).resolve().parents[2] / "data" / "protocol_samples"
Factory = Callable[[], FramedStream[Any]]

# First bytes of other protocols a sniffer must not claim (MQTT CONNECT, GT06 login,
# JT/T 808, HTTP, TLS ClientHello, Teltonika IMEI handshake).
FOREIGN_STARTS = [
    bytes.fromhex("101000044d5154540402003c0004746573"),
    bytes.fromhex("78780D01086471700328358100093F040D0A"),
    bytes.fromhex("7e0200002c013800138000000100000000000c00030142"),
    b"GET / HTTP/1.1\r\nHost: example.kz\r\n\r\n",
    b"POST /?id=353861053849681&lat=49.6 HTTP/1.1\r\n",
    bytes.fromhex("160301020001000200030300000000000000"),
    bytes.fromhex("000f333536333037303432343431303133"),
]


#: The tracker protocols with labelled samples, which must not claim each other's.
TRACKERS = ("h02", "tk103", "queclink", "watch3g", "wialon", "egts")


def load_samples(name: str) -> list[dict[str, Any]]:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))["samples"]


def sample_bytes(sample: dict[str, Any]) -> bytes:
    text = sample["hex_or_text"]
    return bytes.fromhex(text) if sample["encoding"] == "hex" else text.encode("utf-8")


def decode(factory: Factory, data: bytes) -> tuple[list[Document], list[Undecoded]]:
    stream = factory()
    documents = stream.feed(data)
    return documents, stream.take_notes()


def decode_reasons(factory: Factory, data: bytes) -> tuple[list[Document], list[str]]:
    """The Documents of ``data`` fed at once, and the reasons of the notes it left."""
    documents, notes = decode(factory, data)
    return documents, [note.reason for note in notes]


def only(factory: Factory, data: bytes) -> tuple[Document, list[str]]:
    """The one Document ``data`` decodes to, and the reasons of the notes it left."""
    documents, reasons = decode_reasons(factory, data)
    assert len(documents) == 1
    return documents[0], reasons


def at(tree: Any, path: str) -> Any:
    """The value at a dotted path; ``name[i]`` indexes a list."""
    node = tree
    for part in path.split("."):
        name, _, index = part.partition("[")
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    return node


def claims_only_its_own(
    looks_like: Callable[[bytes], bool], name: str, own: Iterable[bytes]
) -> None:
    """The sniffer claims ``own`` first bytes, no other tracker's samples, no foreign start."""
    for data in own:
        assert looks_like(data)
    for other in TRACKERS:
        if other != name:
            for sample in load_samples(other):
                assert not looks_like(sample_bytes(sample)), other
    for start in FOREIGN_STARTS:
        assert not looks_like(start)


def split_everywhere(factory: Factory, data: bytes) -> list[Document]:
    """Decode ``data`` whole, cut at every byte and byte by byte: all must agree."""
    whole, notes = decode(factory, data)
    for cut in range(1, len(data)):
        stream = factory()
        documents = stream.feed(data[:cut]) + stream.feed(data[cut:])
        assert documents == whole, f"differs when cut at byte {cut}"
        assert stream.take_notes() == notes, f"notes differ when cut at byte {cut}"
    stream = factory()
    trickled = [doc for i in range(len(data)) for doc in stream.feed(data[i : i + 1])]
    assert trickled == whole
    return whole


def categories(documents: Sequence[Document]) -> set[Category]:
    return {hit.category for doc in documents for hit in detect(doc)}


def survives(factory: Factory, chunks: Sequence[bytes]) -> list[Document]:
    """Feed chunks; only DecodeError may escape, and no note may hide a decoder bug.

    Once a chunk failed the stream, the next ones are still fed: they must fail cleanly.
    Every tree must hold JSON values only and go through the detectors.
    """
    stream = factory()
    documents: list[Document] = []
    for chunk in chunks:
        # Any DecodeError subclass is an allowed outcome for hostile input; nothing else is.
        with contextlib.suppress(DecodeError):
            documents.extend(stream.feed(chunk))
    for doc in documents:
        json.dumps(doc.tree)
        detect(doc)
    for note in stream.take_notes():
        assert not note.reason.startswith(INTERNAL_ERROR), note
    return documents


@st.composite
def mutated(draw: st.DrawFn, frames: Sequence[bytes]) -> list[bytes]:
    """A valid frame with a few bytes replaced, inserted or dropped, cut into two chunks."""
    data = bytearray(draw(st.sampled_from(list(frames))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        action = draw(st.sampled_from(["replace", "insert", "drop"]))
        byte = draw(st.integers(0, 255))
        if action == "replace" and data:
            data[at] = byte
        elif action == "insert":
            data.insert(at, byte)
        elif data:
            del data[at]
    cut = draw(st.integers(0, len(data)))
    return [bytes(data[:cut]), bytes(data[cut:])]
