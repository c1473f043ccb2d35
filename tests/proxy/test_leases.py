"""DHCP leases name the device behind a client address."""

from __future__ import annotations

import os
from pathlib import Path

from shekara.proxy import leases
from shekara.proxy.leases import Lease, LeaseBook, parse_leases

LEASES = """\
1795000000 02:11:22:33:44:55 10.77.0.23 tbox-7421 01:02:11:22:33:44:55
1795000100 AA:BB:CC:DD:EE:FF 10.77.0.24 * *
garbage line
1795000200 not-a-mac 10.77.0.25 x *
duid 00:01:00:01:2c:1f:aa:bb
"""


def test_parse_dnsmasq_leases() -> None:
    assert parse_leases(LEASES) == {
        "10.77.0.23": Lease("02:11:22:33:44:55", "tbox-7421"),
        "10.77.0.24": Lease("aa:bb:cc:dd:ee:ff", None),
    }


def test_book_reads_the_file_again_when_it_changes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(leases, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "audit.leases"
    path.write_text(LEASES)
    book = LeaseBook(path)
    assert book.lookup("10.77.0.23") == Lease("02:11:22:33:44:55", "tbox-7421")
    assert book.lookup("10.77.0.99") is None
    path.write_text("1795000300 02:00:00:00:00:99 10.77.0.99 phone-aigerim *\n")
    os.utime(path, (1, 1))
    assert book.lookup("10.77.0.99") == Lease("02:00:00:00:00:99", "phone-aigerim")
    path.unlink()
    os.utime(tmp_path, None)
    assert book.lookup("10.77.0.99") == Lease("02:00:00:00:00:99", "phone-aigerim")


def test_no_file_no_attribution() -> None:
    assert LeaseBook(None).lookup("10.77.0.23") is None
