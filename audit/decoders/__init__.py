"""Decoders: bytes of a flow in, Documents and located Fields out (no mitmproxy here)."""

from __future__ import annotations

from .body import decode_body, decode_headers, decode_path, decode_query
from .encoding import decode_content
from .errors import DecodeError
from .framed_stream import StreamError, Undecoded
from .mqtt import MqttStream, looks_like_mqtt
from .tree import Embedded, KeyValues, expand_embedded, flatten

__all__ = [
    "DecodeError",
    "Embedded",
    "KeyValues",
    "MqttStream",
    "StreamError",
    "Undecoded",
    "decode_body",
    "decode_content",
    "decode_headers",
    "decode_path",
    "decode_query",
    "expand_embedded",
    "flatten",
    "looks_like_mqtt",
]
