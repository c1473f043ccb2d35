"""The bundled ruleset loads, each rule's own examples hold, and bad files name file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shekara.audit.model import Category, Confidence, Destination, Field, Hit, Verdict
from shekara.audit.redact import Redactor
from shekara.audit.verdict import Judge
from shekara.rulesets.loader import RulesetError, default_ruleset_path, load_ruleset

RULESET = load_ruleset()
JUDGE = Judge(RULESET, Redactor(b"k" * 32))


def test_bundled_ruleset_has_every_category() -> None:
    ids = {c.id for c in RULESET.header.categories}
    assert ids == set(Category)
    assert RULESET.header.jurisdiction.country == "KZ"


def _example_cases() -> list[tuple[str, bool, dict[str, object]]]:
    cases = []
    for rule in RULESET.rules:
        for ex in rule.examples.match:
            cases.append((rule.id, True, ex.model_dump()))
        for ex in rule.examples.no_match:
            cases.append((rule.id, False, ex.model_dump()))
    return cases


@pytest.mark.parametrize("rule_id, should_match, example", _example_cases())
def test_rule_examples(rule_id: str, should_match: bool, example: dict[str, object]) -> None:
    """A rule 'matches' an example when the judge picks that rule for it."""
    category = Category(example["category"])
    dest = Destination(
        host="h.example",
        ip="10.0.0.1" if example["private"] else "198.51.100.7",
        port=443,
        country=example["country"],  # type: ignore[arg-type]
        private=bool(example["private"]),
        disputed=bool(example["disputed"]),
        cdn=example["cdn"],  # type: ignore[arg-type]
    )
    hit = Hit(category, Field("request.body:$.x", "x", "v", "request.body"), "v", "test")
    finding = JUDGE.judge(hit, dest, "flow", 0.0, 0.0)
    assert (finding.rule_id == rule_id) is should_match


@pytest.mark.parametrize(
    "country, private, verdict, violation",
    [
        ("CN", False, Verdict.CROSS_BORDER, True),
        ("KZ", False, Verdict.DOMESTIC, False),
        (None, False, Verdict.UNKNOWN, False),
        (None, True, Verdict.UNKNOWN, False),
    ],
)
def test_verdicts(country: str | None, private: bool, verdict: Verdict, violation: bool) -> None:
    dest = Destination(host="h", ip="1.2.3.4", port=1, country=country, private=private)
    hit = Hit(Category.VIN, Field("l", "vin", "v", "s"), "LSVAU218XN2183294", "checksum")
    f = JUDGE.judge(hit, dest, "id", 1.0, 2.0)
    assert (f.verdict, f.violation) == (verdict, violation)
    assert "LSVAU218XN2183294" not in f.preview
    assert f.confidence is Confidence.HIGH


def test_adequate_country_is_transfer_but_not_violation(tmp_path: Path) -> None:
    root = tmp_path / "rs"
    shutil.copytree(default_ruleset_path(), root)
    header = root / "ruleset.yaml"
    header.write_text(
        header.read_text().replace("adequate_countries: []", "adequate_countries: [DE]")
    )
    judge = Judge(load_ruleset(root), Redactor(b"k" * 32))
    hit = Hit(Category.EMAIL, Field("l", "email", "a@b.kz", "s"), "a@b.kz", "syntax")
    f = judge.judge(hit, Destination("h", "1.1.1.1", 1, country="DE"), "id", 0, 0)
    assert f.verdict is Verdict.CROSS_BORDER and f.violation is False


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "rs"
    shutil.copytree(default_ruleset_path(), root)
    return root


def test_bad_field_names_file_and_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    rule = root / "rules" / "KZ-XB-001.yaml"
    lines = rule.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith("severity:"))
    lines[idx] = "severity: catastrophic"
    rule.write_text("\n".join(lines) + "\n")
    with pytest.raises(RulesetError) as e:
        load_ruleset(root)
    assert f"{rule}:{idx + 1}: severity" in str(e.value)


def test_unknown_category_in_nested_example(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    rule = root / "rules" / "KZ-XB-LOC.yaml"
    text = rule.read_text().replace(
        "- {category: location, country: DE}", "- {category: shoe_size, country: DE}"
    )
    rule.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "shoe_size" in s)
    with pytest.raises(RulesetError, match=rf"KZ-XB-LOC.yaml:{line}: examples.match.1.category"):
        load_ruleset(root)


def test_not_yaml_names_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    rule = root / "rules" / "KZ-DOM-001.yaml"
    rule.write_text("id: KZ-DOM-001\ntitle: [unclosed\n")
    with pytest.raises(RulesetError, match=r"KZ-DOM-001.yaml:\d+: not valid YAML"):
        load_ruleset(root)


def test_rule_id_must_match_file_name(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "rules" / "KZ-DOM-001.yaml").rename(root / "rules" / "KZ-DOM-002.yaml")
    with pytest.raises(RulesetError, match="must equal the file name"):
        load_ruleset(root)


def test_missing_verdict_coverage_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "rules" / "KZ-UNK-001.yaml").unlink()
    from shekara.audit.verdict import NoRuleError

    with pytest.raises(NoRuleError, match="unknown"):
        Judge(load_ruleset(root), Redactor(b"k" * 32))


def test_not_a_ruleset_folder(tmp_path: Path) -> None:
    with pytest.raises(RulesetError, match=r"no ruleset\.yaml"):
        load_ruleset(tmp_path)


@pytest.mark.parametrize(
    "dest, verdict",
    [
        (Destination("h", "1.2.3.4", 1, disputed=True), Verdict.DISPUTED),
        (Destination("h", "1.2.3.4", 1, country="US", cdn="Cloudflare"), Verdict.CDN_EDGE),
        (Destination("h", "1.2.3.4", 1, country="KZ", cdn="Akamai"), Verdict.CDN_EDGE),
        (Destination("h", "10.0.0.1", 1, private=True, disputed=True), Verdict.UNKNOWN),
    ],
)
def test_disputed_and_cdn_edge_are_never_a_violation(dest: Destination, verdict: Verdict) -> None:
    hit = Hit(Category.VIN, Field("l", "vin", "v", "s"), "LSVAU218XN2183294", "checksum")
    f = JUDGE.judge(hit, dest, "id", 1.0, 2.0)
    assert (f.verdict, f.violation) == (verdict, False)
    assert (
        f.rule_id
        == {
            Verdict.DISPUTED: "KZ-DSP-001",
            Verdict.CDN_EDGE: "KZ-CDN-001",
            Verdict.UNKNOWN: "KZ-UNK-001",
        }[verdict]
    )


def _override_cases() -> list[tuple[str, bool, dict[str, object]]]:
    cases = []
    for o in RULESET.overrides:
        cases += [(o.id, True, ex.model_dump()) for ex in o.examples.match]
        cases += [(o.id, False, ex.model_dump()) for ex in o.examples.no_match]
    return cases


def test_bundled_ruleset_has_an_example_override() -> None:
    assert [o.id for o in RULESET.overrides] == ["KZ-GEO-001"]
    o = RULESET.overrides[0]
    assert o.country == "KZ" and o.verified_by and o.how and o.verified_on.year == 2026


@pytest.mark.parametrize("override_id, should_match, example", _override_cases())
def test_override_examples(
    override_id: str, should_match: bool, example: dict[str, object]
) -> None:
    """An override 'matches' an example when the index finds it by the example's IP or name."""
    from shekara.geo.overrides import OverrideIndex
    from shekara.geo.ranges import parse

    index = OverrideIndex(RULESET.overrides)
    ip = example["ip"]
    by_ip = index.by_address(parse(str(ip))) if ip is not None else None
    by_name = index.by_names([str(example["host"])]) if example["host"] else []
    found = {o.id for o in ([by_ip] if by_ip else []) + [o for _, o in by_name]}
    assert (override_id in found) is should_match


@pytest.mark.parametrize(
    "change, message",
    [
        ('verified_by: "A. Auditor', "verified_by"),
        ("verified_on: 2026-11-01", "verified_on"),
        ("hosts:", "hosts"),
    ],
)
def test_override_without_provenance_is_refused(tmp_path: Path, change: str, message: str) -> None:
    root = _copy(tmp_path)
    path = root / "overrides" / "KZ-GEO-001.yaml"
    lines = path.read_text().splitlines()
    idx = next(i for i, line in enumerate(lines) if line.startswith(change))
    if change == "hosts:":
        lines[idx : idx + 3] = ["hosts: []"]
        message = "an override needs networks or hosts"
    else:
        del lines[idx]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RulesetError, match=message):
        load_ruleset(root)


def test_override_id_must_match_file_name(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "overrides" / "KZ-GEO-001.yaml").rename(root / "overrides" / "KZ-GEO-009.yaml")
    with pytest.raises(RulesetError, match="must equal the file name"):
        load_ruleset(root)
