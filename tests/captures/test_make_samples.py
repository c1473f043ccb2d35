"""The sample-capture generator: deterministic, valid planted values, manifests matching bytes."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import io as std_io
import json
import random
import re
import struct
import sys
import wave
from pathlib import Path
from typing import Any

import email_validator
import phonenumbers
import pytest
from mitmproxy import http, io, tcp
from stdnum import imei as std_imei
from stdnum import imsi as std_imsi
from stdnum import luhn
from stdnum import mac as std_mac
from vininfo import Vin

from shekara.audit.model import Category

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
sys.path.insert(0, str(CAPTURES))

import make_samples  # noqa: E402
from samplegen import ids  # noqa: E402

NAMES = ("sample", "labelled")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("captures")
    assert make_samples.main(["--out", str(out)]) == 0
    return out


def read_flows(path: Path) -> list[Any]:
    with path.open("rb") as fh:
        return list(io.FlowReader(fh).stream())


def load_manifest(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / f"{name}.manifest.json").read_text())


# -- independent checks (not the generator's own code) ----------------------------------


def iin_ok(iin: str) -> bool:
    if not re.fullmatch(r"\d{12}", iin):
        return False
    d = [int(c) for c in iin]
    first = sum(d[i] * (i + 1) for i in range(11)) % 11
    if first == 10:
        second = sum(d[i] * ((i + 2) % 11 + 1) for i in range(11)) % 11
        return second != 10 and second == d[11]
    return first == d[11]


def vin_ok(vin: str) -> bool:
    return len(vin) == 17 and bool(Vin(vin).verify_checksum())


def test_independent_iin_check_matches_known_weights() -> None:
    # Second-round weights 3..11,1,2 written out, to keep iin_ok honest.
    assert [(i + 2) % 11 + 1 for i in range(11)] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]


# -- determinism and read-back ------------------------------------------------------------


def test_two_runs_write_identical_bytes(generated: Path, tmp_path: Path) -> None:
    assert make_samples.main(["--out", str(tmp_path)]) == 0
    for name in NAMES:
        for suffix in (".mitm", ".manifest.json"):
            a = (generated / f"{name}{suffix}").read_bytes()
            b = (tmp_path / f"{name}{suffix}").read_bytes()
            assert a == b, f"{name}{suffix} differs between runs"


def test_committed_captures_are_current(generated: Path) -> None:
    for name in NAMES:
        for suffix in (".mitm", ".manifest.json"):
            committed = CAPTURES / f"{name}{suffix}"
            assert committed.read_bytes() == (generated / f"{name}{suffix}").read_bytes(), (
                f"{committed} is stale: run python captures/make_samples.py"
            )


def test_committed_files_stay_small() -> None:
    total = sum(p.stat().st_size for p in CAPTURES.glob("*.mitm"))
    total += sum(p.stat().st_size for p in CAPTURES.glob("*.manifest.json"))
    assert total < 1_000_000


@pytest.mark.parametrize("name, low, high", [("sample", 30, 60), ("labelled", 180, 230)])
def test_capture_reads_back_and_matches_manifest(
    generated: Path, name: str, low: int, high: int
) -> None:
    flows = read_flows(generated / f"{name}.mitm")
    manifest = load_manifest(generated, name)["flows"]
    assert low <= len(flows) <= high
    assert [f.id for f in flows] == list(manifest), "manifest ids must be the capture's, in order"
    for flow in flows:
        entry = manifest[flow.id]
        assert flow.server_conn.peername == (entry["ip"], entry["port"])
        assert flow.server_conn.address == (entry["host"], entry["port"])
        assert flow.client_conn.peername[0].startswith("10.")
        if flow.server_conn.tls:
            assert flow.server_conn.sni == entry["host"]
        for f in entry["findings"]:
            assert f["category"] in {c.value for c in Category}
            assert f["violation"] is (entry["country"] not in (None, "KZ"))


@pytest.mark.parametrize("n", [1, 250])
def test_bulk_mode_is_deterministic_and_varied(tmp_path: Path, n: int) -> None:
    a, b = tmp_path / "a.mitm", tmp_path / "b.mitm"
    assert make_samples.main(["--flows", str(n), "--out", str(a)]) == 0
    assert make_samples.main(["--flows", str(n), "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    flows = read_flows(a)
    assert len(flows) == n == len({f.id for f in flows})
    if n > 100:
        assert 2000 <= a.stat().st_size / n <= 3400
        requests = {
            (f.request.url, f.request.content)
            for f in flows
            if isinstance(f, http.HTTPFlow) and not f.websocket
        }
        assert len(requests) > n * 0.9


# -- planted values are valid --------------------------------------------------------------

VALIDATORS = {
    "vin": vin_ok,
    "imei": lambda v: bool(std_imei.is_valid(v)) and len(v) == 15,
    "iccid": lambda v: v.startswith("89") and len(v) in (19, 20) and luhn.is_valid(v),
    "iin": iin_ok,
    "imsi": lambda v: v.startswith("401") and bool(std_imsi.is_valid(v)),
    "mac_address": lambda v: bool(std_mac.is_valid(v)),
}


def all_findings(out: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (fid, f)
        for name in NAMES
        for fid, entry in load_manifest(out, name)["flows"].items()
        for f in entry["findings"]
    ]


def test_every_planted_identifier_passes_its_checksum(generated: Path) -> None:
    checked = {k: 0 for k in VALIDATORS}
    for _, f in all_findings(generated):
        check = VALIDATORS.get(f["category"])
        if check is not None:
            assert check(f["value"]), f
            checked[f["category"]] += 1
    assert all(checked.values()), checked


def test_planted_phones_emails_plates_are_valid(generated: Path) -> None:
    for _, f in all_findings(generated):
        value = f["value"]
        if f["category"] == "phone":
            parsed = phonenumbers.parse(value, "KZ")
            assert phonenumbers.is_valid_number(parsed), value
            assert phonenumbers.region_code_for_number(parsed) == "KZ"
        elif f["category"] == "email":
            email_validator.validate_email(value, check_deliverability=False)
        elif f["category"] == "license_plate":
            assert re.fullmatch(r"\d{3} ?[A-Z]{3} ?\d{2}", value), value


def test_planted_account_cell_contact_credential_values_are_plausible(generated: Path) -> None:
    seen: set[str] = set()
    for _, f in all_findings(generated):
        value, category = f["value"], f["category"]
        if category == "account_id":
            assert re.fullmatch(
                r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value
            )
        elif category == "credentials":
            assert re.fullmatch(r"[0-9a-f]{12,}", value), value  # hex secrets, not placeholders
        elif category == "cell_location":
            mcc, mnc, lac, ci = value.split("-")
            assert std_imsi.info(mcc + mnc + "0" * 10)["mcc"] == "401" == mcc, value
            assert 0 < int(lac) < 0xFFFE and 0 < int(ci) < 1 << 28
        elif category == "contacts":
            assert len(value) >= 2
            for entry in value:
                assert phonenumbers.is_valid_number(phonenumbers.parse(entry["phone"], "KZ"))
        else:
            continue
        seen.add(category)
    assert seen == {"account_id", "credentials", "cell_location", "contacts"}


def jpeg_segments(data: bytes) -> list[int]:
    """The marker of every segment from SOI to EOI; fails unless the lengths chain exactly."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    markers, pos = [], 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        markers.append(data[pos + 1])
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4])
    assert data[pos + 1] == 0xDA, "no start of scan"
    scan = data[pos + 4 + int.from_bytes(data[pos + 2 : pos + 4]) - 2 : -2]
    assert b"\xff" not in scan.replace(b"\xff\x00", b"")  # no marker inside the scan
    return [*markers, 0xDA]


def mp4_boxes(data: bytes) -> list[bytes]:
    boxes, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4])
        assert size >= 8
        boxes.append(data[pos + 4 : pos + 8])
        pos += size
    assert pos == len(data)
    return boxes


@pytest.mark.parametrize("name", NAMES)
def test_planted_media_files_are_well_formed(generated: Path, name: str) -> None:
    flows = {f.id: f for f in read_flows(generated / f"{name}.mitm")}
    kinds: set[str] = set()
    for fid, entry in load_manifest(generated, name)["flows"].items():
        for f in entry["findings"]:
            if f["category"] not in ("biometric", "cabin_media"):
                continue
            field = f["field"].removeprefix("request.body:$.")
            filename, ctype, data = multipart_parts(flows[fid])[field]
            assert (filename, ctype) == (f["value"]["filename"], f["value"]["content_type"])
            if ctype == "image/jpeg":
                markers = jpeg_segments(data)
                assert {0xE0, 0xDB, 0xC0, 0xC4} <= set(markers), markers
                height, width = struct.unpack_from(">HH", data, data.index(b"\xff\xc0") + 5)
                assert width >= 8 and height >= 8
            elif ctype == "audio/wav":
                with wave.open(std_io.BytesIO(data)) as w:
                    assert w.getnframes() > 0 and w.getframerate() > 0
            elif ctype == "video/mp4":
                assert mp4_boxes(data)[0] == b"ftyp" and b"mdat" in mp4_boxes(data)
            else:
                raise AssertionError(f"unexpected media type {ctype}")
            kinds.add(ctype)
            if f["category"] == "biometric":
                assert re.search(r"face|dms|fatigue|selfie", field + filename)
    assert {"image/jpeg", "audio/wav", "video/mp4"} <= kinds


def test_sample_covers_every_category_and_both_verdicts(generated: Path) -> None:
    flows = load_manifest(generated, "sample")["flows"]
    cats = {f["category"] for e in flows.values() for f in e["findings"]}
    # Undetermined content is a live connection passed through unopened: no capture has it.
    assert cats == {c.value for c in Category} - {Category.UNDETERMINED_CONTENT.value}
    violations = {f["violation"] for e in flows.values() for f in e["findings"]}
    assert violations == {True, False}
    assert {e["country"] for e in flows.values()} == {"KZ", "CN", "DE", "RU", None}
    assert sum(1 for e in flows.values() if e["notes"]) == 2
    assert sum(1 for e in flows.values() if not e["findings"] and not e["notes"]) >= 8


# -- every locator resolves to the planted value in the capture bytes ---------------------

_TOKEN = re.compile(
    r"\.([A-Za-z_][A-Za-z0-9_-]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]|<(json|base64)>"
)


def resolve(tree: Any, path: str) -> Any:
    assert path.startswith("$"), path
    pos, node = 1, tree
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        assert m, f"bad path {path!r} at {pos}"
        key, quoted, index, marker = m.groups()
        if key is not None:
            node = node[key]
        elif quoted is not None:
            node = node[quoted.replace("\\'", "'")]
        elif index is not None:
            node = node[int(index)]
        elif marker == "json":
            node = json.loads(node)
        else:
            node = base64.b64decode(node).decode()
        pos = m.end()
    return node


def mqtt_packets(flow: tcp.TCPFlow) -> list[tuple[int, bytes]]:
    data = b"".join(m.content for m in flow.messages if m.from_client)
    packets, pos = [], 0
    while pos < len(data):
        kind = data[pos]
        length, shift, pos = 0, 0, pos + 1
        while True:
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        packets.append((kind, data[pos : pos + length]))
        pos += length
    return packets


def _utf8(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from(">H", buf, pos)
    return buf[pos + 2 : pos + 2 + n].decode(), pos + 2 + n


def mqtt_connect(flow: tcp.TCPFlow) -> dict[str, str]:
    kind, body = mqtt_packets(flow)[0]
    assert kind >> 4 == 1
    _, pos = _utf8(body, 0)
    flags = body[pos + 1]
    out: dict[str, str] = {}
    out["client_id"], pos = _utf8(body, pos + 4)
    assert not flags & 0x04, "no will message in the sample captures"
    if flags & 0x80:
        out["username"], pos = _utf8(body, pos)
    if flags & 0x40:
        # The decoder keeps only a marker for it; the marker stands for this password.
        out["password_present"], pos = _utf8(body, pos)
    assert pos == len(body)
    return out


def mqtt_publishes(flow: tcp.TCPFlow) -> list[tuple[str, bytes]]:
    out = []
    for kind, body in mqtt_packets(flow):
        if kind >> 4 == 3:
            topic, pos = _utf8(body, 0)
            if (kind >> 1) & 3:
                pos += 2
            out.append((topic, body[pos:]))
    return out


def multipart_parts(flow: Any) -> dict[str, tuple[str | None, str | None, bytes]]:
    """Field name -> (file name, content type, bytes), read with the stdlib e-mail parser."""
    head = f"Content-Type: {flow.request.headers['content-type']}\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        head + flow.request.get_content()
    )
    assert msg.is_multipart()
    out: dict[str, tuple[str | None, str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        ctype = part["content-type"]
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        out[str(name)] = (part.get_filename(), str(ctype) if ctype else None, data)
    return out


def multipart_tree(flow: Any) -> dict[str, Any]:
    """A file part as what the manifest records for it (name, type, size, hash); text as text."""
    tree: dict[str, Any] = {}
    for name, (filename, ctype, data) in multipart_parts(flow).items():
        if filename is None:
            tree[name] = data.decode()
        else:
            tree[name] = {
                "filename": filename,
                "content_type": ctype,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    return tree


def located_values(flow: Any, locator: str) -> list[Any]:
    """Every value the locator can denote in this flow (MQTT topics may repeat)."""
    source, _, path = locator.partition(":")
    if source == "request.body":
        if flow.request.headers.get("content-type", "").startswith("multipart/form-data"):
            return [resolve(multipart_tree(flow), path)]
        raw = flow.request.get_content()
        if path == "$":  # a non-JSON text body is one string leaf
            return [raw.decode()]
        return [resolve(json.loads(raw), path)]
    flat = {
        "request.query": "query",
        "request.form": "urlencoded_form",
        "request.header": "headers",
    }
    if source in flat:
        key, index = re.fullmatch(r"(.+?)(?:\[(\d+)\])?", path).groups()  # type: ignore[union-attr]
        values = getattr(flow.request, flat[source]).get_all(key)
        return [values[int(index or 0)]]
    if source == "request.path":
        segments = flow.request.path.split("?")[0].strip("/").split("/")
        return [segments[int(path.strip("[]"))]]
    if m := re.fullmatch(r"websocket\.message\[(\d+)\]", source):
        msg = flow.websocket.messages[int(m.group(1))]
        assert msg.from_client
        return [resolve(json.loads(msg.content), path)]
    if source == "mqtt.connect":
        return [mqtt_connect(flow)[path]]
    if m := re.fullmatch(r"mqtt\.publish\[(.+)\]", source):
        found = []
        for topic, payload in mqtt_publishes(flow):
            if topic == m.group(1):
                if tm := re.fullmatch(r"topic(?:\[(\d+)\])?", path):
                    found.append(topic.split("/")[int(tm.group(1) or 0)])
                    continue
                try:
                    found.append(resolve(json.loads(payload), path))
                except (KeyError, IndexError, TypeError):
                    continue
        return found
    if source.startswith("gt06."):
        return gt06_values(flow, source, path)
    raise AssertionError(f"unknown source {source}")


def gt06_values(flow: Any, source: str, path: str) -> list[Any]:
    """The planted values a GT06 connection carries, read from its raw frames."""
    up = b"".join(m.content for m in flow.messages if m.from_client)
    down = b"".join(m.content for m in flow.messages if not m.from_client)
    found: list[Any] = []
    if source == "gt06.login":
        frame = up[: up.index(b"\r\n")]
        found.append(frame[4:12].hex()[1:])  # BCD IMEI behind start, length, protocol
    elif source == "gt06.location":
        i = up.index(b"\x78\x78", 1)
        assert up[i + 3] == 0x12  # GPS + LBS
        if path == "$.position.lat":
            found.append(round(int.from_bytes(up[i + 11 : i + 15], "big") / 1_800_000, 6))
        elif path == "$.cell":
            # LBS after date (6), GPS length/satellites (1), lat, lon (4+4), speed (1),
            # course/status (2): MCC (2), MNC (1), LAC (2), cell id (3).
            lbs = up[i + 22 : i + 30]
            mcc, mnc, lac = int.from_bytes(lbs[:2]), lbs[2], int.from_bytes(lbs[3:5])
            found.append(f"{mcc:03d}-{mnc:02d}-{lac}-{int.from_bytes(lbs[5:8])}")
    elif source == "gt06.down.command" and b"RELAY,1#" in down:
        found.append("relay (cut fuel/power)")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_every_locator_resolves_to_its_planted_value(generated: Path, name: str) -> None:
    flows = {f.id: f for f in read_flows(generated / f"{name}.mitm")}
    for fid, entry in load_manifest(generated, name)["flows"].items():
        for f in entry["findings"]:
            got = located_values(flows[fid], f["field"])
            assert f["value"] in got, (entry["name"], f["field"], f["value"], got)


def test_undecodable_bodies_really_fail_to_decode(generated: Path) -> None:
    flows = {f.id: f for f in read_flows(generated / "sample.mitm")}
    noted = [fid for fid, e in load_manifest(generated, "sample")["flows"].items() if e["notes"]]
    assert len(noted) == 2
    for fid in noted:
        req = flows[fid].request
        with pytest.raises(ValueError):  # JSONDecodeError and mitmproxy's decode error
            json.loads(req.get_content(strict=True))


# -- benign flows carry no valid identifier anywhere ---------------------------------------


def leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [x for v in node.values() for x in leaves(v)]
    if isinstance(node, list):
        return [x for v in node for x in leaves(v)]
    return [node]


@pytest.mark.parametrize("name", NAMES)
def test_decoys_fail_every_checksum(generated: Path, name: str) -> None:
    flows = {f.id: f for f in read_flows(generated / f"{name}.mitm")}
    decoys = 0
    for fid, entry in load_manifest(generated, name)["flows"].items():
        flow = flows[fid]
        if entry["findings"] or not isinstance(flow, http.HTTPFlow) or entry["notes"]:
            continue
        try:
            tree = json.loads(flow.request.get_content() or b"null")
        except ValueError:
            continue
        for leaf in leaves(tree):
            s = str(leaf)
            if re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", s):
                decoys += 1
                assert not vin_ok(s), (entry["name"], s)
            if re.fullmatch(r"\d{15}", s):
                decoys += 1
                assert not luhn.is_valid(s), (entry["name"], s)
            if re.fullmatch(r"\d{12}", s):
                decoys += 1
                assert not iin_ok(s), (entry["name"], s)
    assert decoys >= 4


# -- the identifier makers -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_makers_give_valid_values_and_decoys_invalid_ones(seed: int) -> None:
    rng = random.Random(seed)
    assert vin_ok(ids.make_vin(rng))
    assert not vin_ok(ids.make_bad_vin(rng))
    assert std_imei.is_valid(ids.make_imei(rng))
    assert VALIDATORS["iccid"](ids.make_iccid(rng))
    assert not luhn.is_valid(ids.make_luhn_failing(rng, 15))
    assert iin_ok(ids.make_iin(rng))
    assert not iin_ok(ids.make_bad_iin(rng))
    imsi = ids.make_imsi(rng)
    assert std_imsi.is_valid(imsi) and not luhn.is_valid(imsi)
    assert phonenumbers.is_valid_number(phonenumbers.parse(ids.make_phone(rng)))
    assert std_mac.is_valid(ids.make_mac(rng))


@pytest.mark.parametrize(
    "iin, valid",
    [
        ("000000000000", True),  # all-zero sum: control digit 0
        ("000000000001", False),
        ("12345678901", False),  # 11 digits
        ("12345678901a", False),
    ],
)
def test_iin_checksum_edges(iin: str, valid: bool) -> None:
    assert ids.iin_is_valid(iin) is valid
    assert iin_ok(iin) is valid


@pytest.mark.parametrize("vin", ["1G1BL52P7TR115520", "XTA210990Y2766389", "LGHC4V1D9HE204406"])
def test_vin_check_digit_matches_real_vins(vin: str) -> None:
    # Real VINs from public test suites (shared/reference/protocols.md).
    assert ids.vin_check_digit(vin) == vin[8]
