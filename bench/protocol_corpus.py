"""The labelled protocol samples (tests/data/protocol_samples) as bytes with expected categories.

Two label formats live there. The GB/T 32960 and JT/T 808 files carry an explicit
``categories`` list. The traccar-derived files state decoded values
(``expected_fields``) instead; for those the categories follow from the stated
fields by the rule in :func:`categories_from_fields`, which never looks at what
the decoders or detectors make of the frame. Where a frame visibly holds more than
its stated fields (a full serving cell after the MCC), :data:`EXTRA_LABELS` adds the
category and says which bytes hold it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stdnum import imei as imei_number

from shekara.audit.model import Category

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = ROOT / "tests" / "data" / "protocol_samples"

#: Files whose samples are HTTP payloads (no stream decoder): how each is carried.
HTTP_FILES = {"osmand": "query", "owntracks": "json"}
#: Wialon IPS ends every packet with CR LF; traccar's test strings leave it out because
#: its frame decoder strips it before the protocol decoder sees the packet.
TERMINATORS = {"wialon": b"\r\n"}

_IMEI_KEYS = ("imei", "handshake_imei", "id_imei", "topic_device_imei", "device_id")
_VIN_KEYS = ("vin", "io_256_vin")
_MCC_KEYS = ("mcc", "io_241_gsm_operator", "cell.mcc")
_AREA_KEYS = ("lac", "io_206_lac")
_CELL_KEYS = ("cell_id", "io_205_cell_id")

#: (file, list key, index) -> categories the frame holds beyond its stated fields.
EXTRA_LABELS: dict[tuple[str, str, int], tuple[Category, str]] = {
    ("h02", "samples", 1): (
        Category.CELL_LOCATION,
        "'460,11,d18e105,7752' after the status word: MCC, MNC and the hex cell id and area",
    ),
    ("watch3g", "samples", 0): (
        Category.CELL_LOCATION,
        "'4,1,460,0,9360,4082,131,...': 4 towers, MCC 460, MNC 0, LAC 9360, CI 4082",
    ),
    ("queclink", "samples", 0): (
        Category.CELL_LOCATION,
        "'0460,0001,25F8,061A7D02' after the fix time: MCC, MNC, LAC, cell id",
    ),
    ("owntracks", "samples", 0): (
        Category.CELL_LOCATION,
        '"mcc":232,"mnc":1,"lac":"4F4D","cid":"673A" in the JSON',
    ),
}


@dataclass(frozen=True)
class Sample:
    """One labelled sample: its bytes, which way they flowed and what it must yield."""

    id: str  # file:list[index]
    file: str
    data: bytes
    from_client: bool
    expected: frozenset[str]
    carrier: str  # "stream", or an HTTP carrier from HTTP_FILES


def _bytes(sample: Mapping[str, Any]) -> bytes:
    if "hex" in sample:
        return bytes.fromhex(sample["hex"])
    text = sample["hex_or_text"]
    return bytes.fromhex(text) if sample["encoding"] == "hex" else text.encode("utf-8")


def categories_from_fields(fields: Mapping[str, Any]) -> set[Category]:
    """The personal-data categories a sample's stated fields name.

    An IMEI counts only with a valid Luhn check digit (a 15-digit number without one
    is not an IMEI, e.g. traccar's made-up ``123456789012345``); a device id that is
    a valid IMEI counts as one. A position counts unless it is (0, 0). A serving cell
    needs an MCC, an area code and a cell id, as 3GPP identifies a cell.
    """
    found: set[Category] = set()
    for key in _IMEI_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and len(value) == 15 and imei_number.is_valid(value):
            found.add(Category.IMEI)
    if any(fields.get(k) for k in _VIN_KEYS):
        found.add(Category.VIN)
    if fields.get("iccid"):
        found.add(Category.ICCID)
    if fields.get("password_present") is True:
        found.add(Category.CREDENTIALS)
    lat, lon = fields.get("lat"), fields.get("lon")
    if isinstance(lat, int | float) and isinstance(lon, int | float) and (lat, lon) != (0, 0):
        found.add(Category.LOCATION)
    has = [any(k in fields for k in keys) for keys in (_MCC_KEYS, _AREA_KEYS, _CELL_KEYS)]
    if all(has):
        found.add(Category.CELL_LOCATION)
    return found


def expected_categories(file: str, key: str, index: int, sample: Mapping[str, Any]) -> set[str]:
    """The sample's own ``categories`` list, else the categories of its stated fields.

    A server-to-device sample that states a command adds ``remote_control``: the
    explicit lists name personal data only, and a command is a finding of its own.
    """
    if "categories" in sample:
        cats = set(sample["categories"])
    else:
        cats = {c.value for c in categories_from_fields(sample.get("expected_fields", {}))}
    extra = EXTRA_LABELS.get((file, key, index))
    if extra is not None:
        cats.add(extra[0].value)
    stated = sample.get("expect", sample.get("expected_fields", {}))
    if sample.get("direction") == "down" and "command" in stated:
        cats.add(Category.REMOTE_CONTROL.value)
    return cats


def load_samples(directory: Path = SAMPLES_DIR) -> Iterator[Sample]:
    """Every labelled sample: ``samples`` and ``extra_samples`` of each file.

    ``other_protocols`` (copies of the shared list in gt06.json and teltonika.json)
    are left out: they repeat the other files' samples or carry no stated values.
    """
    for path in sorted(directory.glob("*.json")):
        name = path.stem
        data = json.loads(path.read_text(encoding="utf-8"))
        for key in ("samples", "extra_samples"):
            for index, sample in enumerate(data.get(key, [])):
                raw = _bytes(sample) + TERMINATORS.get(name, b"")
                yield Sample(
                    id=f"{name}:{key}[{index}]",
                    file=name,
                    data=raw,
                    from_client=sample.get("direction", "up") != "down",
                    expected=frozenset(expected_categories(name, key, index, sample)),
                    carrier=HTTP_FILES.get(name, "stream"),
                )
