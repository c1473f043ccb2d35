"""The shared stream: buffering, caps, poisoning, notes and contained decoder bugs."""

from __future__ import annotations

import pytest

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.framed_stream import (
    INTERNAL_ERROR,
    FramedStream,
    FramingError,
    StreamError,
)
from shekara.audit.model import Document


class LineStream(FramedStream[bytes]):
    """A toy protocol: one frame per ``;``; "bad" is a content error, "bug" a decoder bug."""

    NAME = "toy"

    def _next_frame(self) -> bytes | None:
        if self._buf[:1] == b"!":
            raise DecodeError("toy: framing lost")
        end = self._buf.find(b";")
        if end < 0:
            return None
        frame = bytes(self._buf[:end])
        del self._buf[: end + 1]
        return frame

    def _decode_frame(self, frame: bytes) -> list[Document]:
        if frame == b"bad":
            raise DecodeError("toy: bad content")
        if frame == b"bug":
            return [Document("toy", {"value": int("not a number")})]
        return [Document(self.source("line"), {"text": frame.decode()})]


def test_frames_split_and_joined() -> None:
    stream = LineStream()
    assert stream.feed(b"a;b") == [Document("toy.line", {"text": "a"})]
    assert stream.feed(b";c;") == [
        Document("toy.line", {"text": "b"}),
        Document("toy.line", {"text": "c"}),
    ]


def test_server_direction_sources_are_down() -> None:
    assert LineStream(from_client=False).feed(b"x;")[0].source == "toy.down.line"


def test_content_error_is_a_note_and_decoding_continues() -> None:
    stream = LineStream()
    assert stream.feed(b"bad;ok;") == [Document("toy.line", {"text": "ok"})]
    notes = stream.take_notes()
    assert [(n.source, n.reason) for n in notes] == [("toy.frame", "toy: bad content")]
    assert stream.take_notes() == []


def test_decoder_bug_becomes_an_internal_error_note() -> None:
    stream = LineStream()
    assert stream.feed(b"bug;ok;") == [Document("toy.line", {"text": "ok"})]
    (note,) = stream.take_notes()
    assert note.reason.startswith(INTERNAL_ERROR) and "ValueError" in note.reason


def test_framing_error_poisons_and_keeps_earlier_documents() -> None:
    stream = LineStream()
    with pytest.raises(StreamError) as caught:
        stream.feed(b"a;!")
    assert caught.value.documents == [Document("toy.line", {"text": "a"})]
    with pytest.raises(StreamError, match="already failed"):
        stream.feed(b"b;")


def test_buffer_without_boundary_is_capped() -> None:
    stream = LineStream(max_frame=16)
    assert stream.feed(b"x" * 16) == []
    with pytest.raises(DecodeError, match="cap"):
        stream.feed(b"x")


class StrictStream(LineStream):
    """Like LineStream, but "fatal" content leaves the rest of the stream unreadable."""

    NAME = "strict"
    LABEL = "Strict"

    def _decode_frame(self, frame: bytes) -> list[Document]:
        if frame == b"fatal":
            raise FramingError("strict: fatal content")
        return super()._decode_frame(frame)


def test_framing_error_from_content_poisons_with_the_label() -> None:
    stream = StrictStream()
    with pytest.raises(StreamError, match="fatal content") as caught:
        stream.feed(b"a;fatal;b;")
    assert [d.tree for d in caught.value.documents] == [{"text": "a"}]
    with pytest.raises(StreamError, match=r"^Strict stream already failed"):
        stream.feed(b"c;")


def test_notes_at_a_full_source_and_frame_size_check() -> None:
    stream = LineStream(max_frame=8)
    stream.note_at("toy.down.0x01", "why")
    assert [(n.source, n.reason) for n in stream.take_notes()] == [("toy.down.0x01", "why")]
    stream.check_frame_size(8)
    with pytest.raises(DecodeError, match="toy: frame of 9 bytes exceeds 8 cap"):
        stream.check_frame_size(9)
