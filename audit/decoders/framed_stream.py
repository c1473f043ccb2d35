"""The stream machinery every raw TCP decoder shares, so each protocol module only frames and reads.

A protocol's ``Stream`` subclasses :class:`FramedStream` with two methods: ``_next_frame``
cuts one frame off the reassembly buffer (or returns None until more bytes come) and
``_decode_frame`` turns a frame into Documents. This class holds what they share: the
buffer, the ``max_frame`` cap, poisoning after a framing error, notes for frames that were
cut cleanly but could not be read, and the containment of decoder bugs. A frame is
whatever the protocol's framer finds convenient to hand over: the bytes, or a tuple such
as MQTT's fixed-header byte and body.
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import ClassVar

from ..model import Document
from .errors import DecodeError

logger = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
# Bugs in a decoder must not take the proxy down, but they must not hide either: the
# reason starts with this so tests, fuzzers and logs can tell them from bad input.
INTERNAL_ERROR = "internal decoder error"


@dataclass(frozen=True, slots=True)
class Undecoded:
    """A frame whose content could not (fully) be turned into a Document, and why."""

    source: str
    reason: str


class StreamError(DecodeError):
    """The stream lost its framing; ``documents`` holds what this feed decoded before that."""

    def __init__(self, message: str, documents: list[Document]) -> None:
        super().__init__(message)
        self.documents = documents


class FramingError(DecodeError):
    """Raised by ``_decode_frame`` when a frame's content leaves the rest unreadable.

    A plain DecodeError from ``_decode_frame`` spoils only its frame (a note); this one
    fails the stream like a framing error does.
    """


class FramedStream[FrameT](abc.ABC):
    """One direction of one connection: bytes in, Documents out.

    ``from_client`` says which way the bytes flow: device to server (True) or server to
    device (commands, sources ``<name>.down.<message>``). After a framing error the
    stream is poisoned: the next frame boundary is unknown, so every later ``feed``
    raises too.
    """

    #: Protocol name that starts every Document source (``gt06.login``).
    NAME: ClassVar[str] = "tracker"
    #: Protocol name for people, in error messages ("GT06", "JT/T 808"); NAME if empty.
    LABEL: ClassVar[str] = ""

    def __init__(self, *, from_client: bool = True, max_frame: int = MAX_FRAME) -> None:
        self.from_client = from_client
        self.max_frame = max_frame
        self._buf = bytearray()
        self._error: DecodeError | None = None
        self._notes: list[Undecoded] = []

    @property
    def label(self) -> str:
        return self.LABEL or self.NAME

    def feed(self, data: bytes) -> list[Document]:
        """Add ``data`` and return one Document per message it completed.

        Raises StreamError (a DecodeError) when the framing is lost, and on every call
        after that.
        """
        if self._error is not None:
            raise StreamError(f"{self.label} stream already failed: {self._error}", [])
        self._buf += data
        documents: list[Document] = []
        try:
            while (frame := self._next_frame()) is not None:
                documents.extend(self._decode_safely(frame))
            if len(self._buf) > self.max_frame:
                raise DecodeError(
                    f"{self.label}: {len(self._buf)} bytes without a frame boundary "
                    f"exceed the {self.max_frame} byte cap"
                )
        except DecodeError as exc:
            self._error = exc
            self._reset()
            raise StreamError(str(exc), documents) from None
        return documents

    def take_notes(self) -> list[Undecoded]:
        """Return and forget the frames that were framed fine but could not be decoded."""
        notes, self._notes = self._notes, []
        return notes

    # --- for subclasses ---------------------------------------------------------------
    @abc.abstractmethod
    def _next_frame(self) -> FrameT | None:
        """Cut the next complete frame off ``self._buf``; None until more bytes come.

        Raises DecodeError when the bytes cannot be the start of a frame.
        """

    @abc.abstractmethod
    def _decode_frame(self, frame: FrameT) -> list[Document]:
        """Documents for one frame; DecodeError for content that cannot be read (a note)."""

    def _reset(self) -> None:
        """Forget what was buffered once the stream failed; extend to drop more state."""
        self._buf.clear()

    def source(self, message: str) -> str:
        """``<name>.<message>`` from the device, ``<name>.down.<message>`` towards it."""
        if self.from_client:
            return f"{self.NAME}.{message}"
        return f"{self.NAME}.down.{message}"

    def note(self, message: str, reason: str) -> None:
        """Record why a ``message`` (a source suffix, see ``source``) was not decoded."""
        self.note_at(self.source(message), reason)

    def note_at(self, source: str, reason: str) -> None:
        """Record why the message at a full Document ``source`` was not (fully) decoded."""
        self._notes.append(Undecoded(source, reason))

    def check_frame_size(self, size: int) -> None:
        if size > self.max_frame:
            raise DecodeError(f"{self.label}: frame of {size} bytes exceeds {self.max_frame} cap")

    def _decode_safely(self, frame: FrameT) -> list[Document]:
        try:
            return self._decode_frame(frame)
        except FramingError:
            raise
        except DecodeError as exc:
            self.note("frame", str(exc))
        except (ArithmeticError, IndexError, KeyError, TypeError, ValueError) as exc:
            # A decoder bug on hostile input: record it, keep the proxy and the stream up.
            logger.warning("%s decoder failed on a frame: %r", self.NAME, exc)
            self.note("frame", f"{INTERNAL_ERROR}: {type(exc).__name__}")
        return []
