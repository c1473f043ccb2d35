"""Cell location detector: the serving cell (MCC, MNC, LAC/TAC, cell id) a device reports.

A cell id locates a device to a few hundred metres in a city and can be
resolved to coordinates through public cell databases; trackers send it in
every packet (GT06 and JT/T 808 LBS blocks, watch reports, Google/Mozilla
geolocation requests). All four parts must be present: a lone ``mcc`` says
only which country's network is in use. The MCC must be one ITU assigned
(python-stdnum's IMSI data), the other parts in their ranges and non-zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stdnum import numdb

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category


def _assigned_mccs() -> frozenset[str]:
    # Top-level prefixes of imsi.dat are the MCCs; 001 (test) and 999 (private) locate nothing.
    prefixes = numdb.get("imsi").prefixes
    return frozenset(low for length, low, high, _p, _c in prefixes if length == 3) - {"001", "999"}


MCCS = _assigned_mccs()
_MAX_CELL_ID = (1 << 36) - 1  # a 5G NR cell identity is 36 bits; LTE ECI 28, GSM/UMTS 16-28
_MAX_AREA = (1 << 24) - 1  # a 5G TAC is 24 bits; LAC and LTE TAC 16
_UNSET_AREAS = frozenset({0, 0xFFFE, 0xFFFF})  # 3GPP: deleted or reserved LAC values
#: Lists longer than this are judged on their first items only.
MAX_TOWERS = 64


def _decimal(value: Any, limit: int) -> int | None:
    """A non-negative integer from an int or a decimal string, within ``limit``."""
    if type(value) is int:
        number = value
    elif type(value) is str and 0 < len(value) <= 12 and value.isascii() and value.isdigit():
        number = int(value)
    else:
        return None
    return number if 0 <= number <= limit else None


def _code(value: Any, limit: int) -> tuple[int, str] | None:
    """A LAC or cell id as (number, text): a positive int, a decimal or a hex string."""
    if type(value) is int:
        return (value, str(value)) if 0 < value <= limit else None
    if type(value) is not str:
        return None
    text = value.strip().upper().removeprefix("0X")
    if not 0 < len(text) <= 10 or not text.isascii() or not text.isalnum():
        return None
    try:
        # Trackers write these in decimal or in hex; digits only are read as decimal.
        number = int(text) if text.isdigit() else int(text, 16)
    except ValueError:
        return None
    return (number, text) if 0 < number <= limit else None


def _parts(mapping: Mapping[Any, Any]) -> dict[int, Any]:
    """The cell parts of a dict by hint bit (first key of each kind wins)."""
    found: dict[int, Any] = {}
    for key, value in mapping.items():
        if type(key) is not str:
            continue
        part = keys.key_info(key).bits & keys.CELL_PARTS
        if part and part not in found:
            found[part] = value
    return found


def serving_cell(mapping: Mapping[Any, Any], outer: Mapping[int, Any] | None = None) -> str | None:
    """``MCC-MNC-LAC-CI`` for a dict describing one cell, else None.

    ``outer`` holds parts given once by an enclosing dict (MCC and MNC for a
    list of towers that carry only LAC and cell id).
    """
    parts = _parts(mapping)
    if outer:
        parts = {**outer, **parts}
    if len(parts) != 4:
        return None
    mcc = _decimal(parts[keys.MCC], 999)
    mnc = parts[keys.MNC]
    mnc_number = _decimal(mnc, 999)
    if mcc is None or f"{mcc:03d}" not in MCCS or mnc_number is None:
        return None
    area = _code(parts[keys.LAC], _MAX_AREA)
    cell = _code(parts[keys.CELL_ID], _MAX_CELL_ID)
    if area is None or cell is None or area[0] in _UNSET_AREAS:
        return None
    # A string MNC keeps its digits ("001"); an int lost its leading zeros: two at least.
    mnc_text = mnc.strip() if type(mnc) is str else f"{mnc_number:02d}"
    return f"{mcc:03d}-{mnc_text}-{area[1]}-{cell[1]}"


def mcc_key(mapping: Mapping[Any, Any]) -> str | None:
    """The key that holds a dict's MCC."""
    for key in mapping:
        if type(key) is str and keys.key_info(key).bits & keys.MCC:
            return key
    return None


def cell_dict(mapping: Mapping[Any, Any]) -> Match | None:
    """A Match for ``{"mcc":…, "mnc":…, "lac":…, "cell_id":…}`` (any of the key spellings)."""
    found = serving_cell(mapping)
    return Match(found, "serving cell (MCC, MNC, LAC, cell id)") if found else None


def tower_list(items: Sequence[Any], outer: Mapping[int, Any] | None = None) -> Match | None:
    """One Match for a list of cells (serving and neighbours), canonical = the first valid one."""
    cells = []
    for item in items[:MAX_TOWERS]:
        if isinstance(item, Mapping):
            found = serving_cell(item, outer)
            if found:
                cells.append(found)
    if not cells:
        return None
    count = len(cells) + max(0, len(items) - MAX_TOWERS)
    what = "cell" if count == 1 else "cells"
    return Match(cells[0], f"list of {count} {what} (MCC, MNC, LAC, cell id)")


def outer_parts(mapping: Mapping[Any, Any]) -> dict[int, Any] | None:
    """MCC and MNC given once by a dict whose towers carry the rest, else None."""
    parts = _parts(mapping)
    if keys.MCC in parts and keys.MNC in parts and len(parts) == 2:
        return parts
    return None


def nested_towers(mapping: Mapping[Any, Any]) -> tuple[str, Match] | None:
    """(key, Match) for ``{"mcc":…, "mnc":…, "towers": [{"lac":…, "cid":…}, …]}``, else None."""
    outer = outer_parts(mapping)
    if outer is None:
        return None
    for key, value in mapping.items():
        if type(key) is str and type(value) is list and keys.key_info(key).bits & keys.CELL_PARENT:
            found = tower_list(value, outer)
            if found:
                return key, found
    return None


class CellLocationDetector(Detector):
    """Cells are dicts and lists: the scanner calls the functions above; no scalar is a cell."""

    category = Category.CELL_LOCATION

    def check(self, leaf: Leaf) -> Match | None:
        return None

    def check_token(self, token: str) -> Match | None:
        return None


DETECTOR = CellLocationDetector()
