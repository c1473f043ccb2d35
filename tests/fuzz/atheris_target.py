"""Coverage-guided fuzzing of one decoder with atheris (libFuzzer), run as its own process.

Usage:
    python tests/fuzz/atheris_target.py TARGET [libFuzzer flags] [CORPUS_DIR ...]

TARGET is a stream protocol name (``mqtt``, ``jt808``, …, see
``audit/decoders/streams.py``) or ``body:<content type>``. The input's first
byte chooses the direction and how the rest is cut into TCP-sized pieces, so
reassembly is fuzzed too; every decoded document also goes through the
detectors. The contract: only ``DecodeError`` may escape, and no note may
report a decoder bug that the stream contained (``INTERNAL_ERROR``). Anything else
is a crash that libFuzzer reports (and saves) with the input; a hang or an
input that grows memory past the limit is reported by libFuzzer's own
``-timeout`` and ``-rss_limit_mb``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

import atheris

with atheris.instrument_imports(include=["shekara"]):
    from shekara.audit.decoders import DecodeError
    from shekara.audit.decoders.body import decode_body
    from shekara.audit.decoders.framed_stream import INTERNAL_ERROR, Undecoded
    from shekara.audit.decoders.streams import PROTOCOLS
    from shekara.audit.detectors import detect


def stream_target(name: str) -> Callable[[bytes], None]:
    (proto,) = [p for p in PROTOCOLS if p.name == name]

    def one(data: bytes) -> None:
        if not data:
            return
        control, data = data[0], data[1:]
        stream = proto.stream(from_client=not control & 0x80)
        piece = (control & 0x7F) + 1
        try:
            for i in range(0, len(data), piece):
                for doc in stream.feed(data[i : i + piece]):
                    detect(doc)
                _check_notes(stream.take_notes())
        except DecodeError:
            pass

    return one


def _check_notes(notes: list[Undecoded]) -> None:
    for note in notes:
        if note.reason.startswith(INTERNAL_ERROR):
            raise AssertionError(f"contained decoder bug: {note}")


def body_target(content_type: str) -> Callable[[bytes], None]:
    def one(data: bytes) -> None:
        with contextlib.suppress(DecodeError):
            detect(decode_body(data, content_type))

    return one


def main() -> None:
    target = sys.argv.pop(1)
    if target.startswith("body:"):
        one = body_target(target.removeprefix("body:"))
    else:
        one = stream_target(target)
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
