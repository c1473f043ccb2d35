"""Multipart bodies: text parts decoded under their names, binary parts only summarised."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shekara.audit.decoders.body import decode_body
from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.multipart import MAX_PARTS, decode_multipart

VIN = "LGHC4V1D9HE204406"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256))
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40)
BOUNDARY = "----shekaraBoundary7MA4YWxk"
CT = f"multipart/form-data; boundary={BOUNDARY}"
RU_NAME = "%D1%84%D0%BE%D1%82%D0%BE.jpg"  # "фото.jpg", percent-encoded as RFC 2231 says


def _body(*parts: tuple[dict[str, str], bytes], boundary: str = BOUNDARY) -> bytes:
    out = b""
    for headers, data in parts:
        out += f"--{boundary}\r\n".encode()
        for name, value in headers.items():
            out += f"{name}: {value}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _field(name: str, filename: str | None = None, **headers: str) -> dict[str, str]:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"'
    return {"Content-Disposition": disposition, **headers}


def _summary(data: bytes, filename: str | None, content_type: str, media: str) -> dict[str, Any]:
    return {
        "filename": filename,
        "content_type": content_type,
        "size": len(data),
        "media": media,
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_form_with_json_text_and_files() -> None:
    body = _body(
        (_field("meta", **{"Content-Type": "application/json"}), json.dumps({"vin": VIN}).encode()),
        (_field("note"), "водитель Алия".encode()),
        (_field("face", "driver_face.jpg", **{"Content-Type": "image/jpeg"}), JPEG),
        (_field("voice", "cabin.wav"), WAV),  # no content type: the bytes say audio
        (_field("fw", "update.bin", **{"Content-Type": "application/octet-stream"}), bytes(300)),
        (_field("empty"), b""),
    )
    doc = decode_body(body, CT)
    assert doc.source == "request.body"
    assert doc.tree == {
        "meta": {"vin": VIN},
        "note": "водитель Алия",
        "face": _summary(JPEG, "driver_face.jpg", "image/jpeg", "image"),
        "voice": _summary(WAV, "cabin.wav", "audio/wav", "audio"),
        "fw": _summary(bytes(300), "update.bin", "application/octet-stream", "binary"),
        "empty": "",
    }
    assert b"JFIF" not in repr(doc.tree).encode()


@pytest.mark.parametrize(
    "part, expected",
    [
        # A declared video type wins over the bytes.
        ((_field("clip", "c.mp4", **{"Content-Type": "video/mp4"}), b"x" * 20), "video"),
        ((_field("clip", "c.bin"), b"\x00\x00\x00\x18ftypmp42" + bytes(20)), "video"),
        ((_field("photo", "p.png"), b"\x89PNG\r\n\x1a\n" + bytes(20)), "image"),
        # The file name is the last resort.
        ((_field("rec", "r.ogg"), bytes(range(1, 40)) * 3), "audio"),
        ((_field("blob", "b.dat"), bytes(range(1, 40)) * 3), "binary"),
    ],
)
def test_media_kinds(part: tuple[dict[str, str], bytes], expected: str) -> None:
    tree = decode_body(_body(part), CT).tree
    assert next(iter(tree.values()))["media"] == expected


def test_names_repeats_and_unnamed_parts() -> None:
    body = _body(
        (_field("id"), b"1"),
        (_field("id"), b"2"),
        (_field("id"), b"3"),
        (_field("list", **{"Content-Type": "application/json"}), b"[1, 2]"),
        ({"Content-Disposition": 'attachment; filename="log.txt"'}, b"engine on"),
        ({"Content-Type": "text/plain"}, b"no name at all"),
    )
    assert decode_body(body, CT).tree == {
        "id": ["1", "2", "3"],
        "list": [1, 2],  # a part that is a list is not taken for a repeat
        "log.txt": "engine on",
        "part5": "no name at all",
    }


def test_rfc2231_file_name_and_windows_path() -> None:
    body = _body(
        (
            {"Content-Disposition": "form-data; name=\"a\"; filename*=UTF-8''" + RU_NAME},
            JPEG,
        ),
        ({"Content-Disposition": 'form-data; name="b"; filename="C:\\Users\\me\\face.jpg"'}, JPEG),
    )
    tree = decode_body(body, CT).tree
    assert tree["a"]["filename"] == "фото.jpg"
    assert tree["b"]["filename"] == "face.jpg"


def test_parts_decoded_by_their_own_type() -> None:
    body = _body(
        (
            _field("f", **{"Content-Type": "application/x-www-form-urlencoded"}),
            b"imei=356938035643809",
        ),
        (
            _field("b64", **{"Content-Transfer-Encoding": "base64"}),
            base64.b64encode(b'{"vin": "V"}'),
        ),
        (_field("bad", **{"Content-Type": "application/json"}), b"{not json"),
        (
            _field("cp", **{"Content-Type": "text/plain; charset=windows-1251"}),
            "Алия".encode("cp1251"),
        ),
    )
    assert decode_body(body, CT).tree == {
        "f": {"imei": "356938035643809"},
        "b64": {"vin": "V"},
        "bad": "{not json",  # a part that lies about its type is read as what it is
        "cp": "Алия",
    }


def test_nested_multipart_mixed() -> None:
    inner = _body((_field("vin"), VIN.encode()), boundary="inner")
    body = _body((_field("bundle", **{"Content-Type": "multipart/mixed; boundary=inner"}), inner))
    assert decode_body(body, CT).tree == {"bundle": {"vin": VIN}}


def test_preamble_epilogue_and_quoted_boundary() -> None:
    body = b"this is a preamble\r\n" + _body((_field("a"), b"1")) + b"epilogue"
    assert decode_body(body, f'multipart/form-data; boundary="{BOUNDARY}"').tree == {"a": "1"}


def test_truncated_body_keeps_what_was_sent() -> None:
    body = _body((_field("a"), b"complete"), (_field("b"), b"cut short here"))
    cut = body[: body.index(b"cut short") + 9]
    assert decode_body(cut, CT).tree == {"a": "complete", "b": "cut short"}


@pytest.mark.parametrize(
    "body, content_type, message",
    [
        (_body((_field("a"), b"1")), "multipart/form-data", "no boundary"),
        (_body((_field("a"), b"1")), "multipart/form-data; boundary=", "no boundary"),
        (b"no delimiter anywhere", CT, "boundary not found"),
        (f"--{BOUNDARY}".encode(), CT, "no complete part"),
        (f"--{BOUNDARY}\r\nX: y".encode(), CT, "multipart: "),
        (
            _body(*[(_field("a"), b"1")] * (MAX_PARTS + 1)),
            CT,
            f"more than {MAX_PARTS} parts",
        ),
    ],
)
def test_malformed_multipart(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode_body(body, content_type)


def test_nesting_is_bounded() -> None:
    body = _body((_field("v"), b"x"), boundary="b0")
    for level in range(1, 6):
        body = _body(
            (_field("n", **{"Content-Type": f"multipart/mixed; boundary=b{level - 1}"}), body),
            boundary=f"b{level}",
        )
    tree = decode_body(body, "multipart/mixed; boundary=b5").tree
    # Below the nesting cap the innermost multipart cannot be decoded: it stays text.
    assert isinstance(tree["n"]["n"]["n"], str)


def test_decode_multipart_uses_the_callback() -> None:
    seen: list[tuple[bytes, str | None]] = []

    def decode(data: bytes, content_type: str | None) -> Any:
        seen.append((data, content_type))
        return "decoded"

    body = _body((_field("a", **{"Content-Type": "text/csv"}), b"x,y"), (_field("b"), b"plain"))
    assert decode_multipart(body, BOUNDARY, decode) == {"a": "decoded", "b": "decoded"}
    assert seen == [(b"x,y", "text/csv"), (b"plain", None)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["b", BOUNDARY, "x" * 80, " ", "a\r\nb"]))
def test_fuzz_multipart(data: bytes, boundary: str) -> None:
    body = f"--{boundary}\r\n".encode() + data
    with contextlib.suppress(DecodeError):
        decode_body(body, f'multipart/form-data; boundary="{boundary}"')
