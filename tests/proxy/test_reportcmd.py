"""`shekara report`: writes the session report file, refuses what it cannot report."""

from __future__ import annotations

from pathlib import Path

import pytest

from shekara.proxy import cli

SAMPLE = Path(__file__).resolve().parents[2] / "captures" / "sample.mitm"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SHEKARA_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert cli.main(["replay", str(SAMPLE), "--db", url, "--format", "jsonl"]) == 0
    return url


def test_report_writes_pdf_and_html(
    replayed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "out" / "run1.pdf"
    pdf.parent.mkdir()
    status, _, err = _run(
        capsys, "report", "1", "--lang", "kk", "--format", "pdf", "-o", str(pdf), "--db", replayed
    )
    assert status == 0, err
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert "written to" in err
    # Only the report is left in the folder: the temporary file was renamed over it.
    assert [p.name for p in pdf.parent.iterdir()] == ["run1.pdf"]

    html = tmp_path / "run1.html"
    status, _, err = _run(
        capsys, "report", "1", "--lang", "en", "--format", "html", "-o", str(html), "--db", replayed
    )
    assert status == 0, err
    page = html.read_text(encoding="utf-8")
    assert "China (CN)" in page and "Law No. 94-V, Art. 16" in page
    assert "shekara export-chain --db URL --session 1 -o run1.chain.jsonl" in page


def test_report_to_stdout(replayed: str, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    status = cli.main(
        ["report", "1", "--lang", "ru", "--format", "html", "-o", "-", "--db", replayed]
    )
    out, _ = capsysbinary.readouterr()
    assert status == 0
    assert "Китай (CN)" in out.decode("utf-8")


def test_unknown_session_and_bad_store(
    replayed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.pdf"
    status, _, err = _run(capsys, "report", "42", "-o", str(out), "--db", replayed)
    assert status == 1 and "no run 42" in err
    assert not out.exists()
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    status, _, err = _run(capsys, "report", "1", "-o", str(out), "--db", empty)
    assert status == 1 and "cannot report" in err


def test_unsupported_language_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "1", "--lang", "de", "-o", "x.pdf"])
    assert exc.value.code == 2
    assert "invalid choice: 'de'" in capsys.readouterr().err
