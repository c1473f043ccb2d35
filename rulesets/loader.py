"""Loads a ruleset folder, reporting any schema error with its file and line."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from shekara.rulesets.schema import Override, Rule, RulesetHeader


class RulesetError(Exception):
    """A ruleset file that is missing, not YAML, or not valid under the schema."""


@dataclass(frozen=True)
class Ruleset:
    header: RulesetHeader
    rules: tuple[Rule, ...]
    path: Path
    digest: str
    #: Operator-verified hosting countries (``overrides/*.yaml``), by id.
    overrides: tuple[Override, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.header.name}@{self.header.version}"


def default_ruleset_path() -> Path:
    return Path(str(resources.files("shekara.rulesets") / "kz"))


def _node_line(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            nxt = node.value[part] if part < len(node.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def _load_file[M: BaseModel](path: Path, model: type[M]) -> tuple[M, bytes]:
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as e:
        raise RulesetError(f"{path}: cannot read: {e}") from e
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        raise RulesetError(f"{path}:{line}: not valid YAML: {e.problem}") from e
    if not isinstance(data, dict):
        raise RulesetError(f"{path}:1: expected a mapping at the top level")
    try:
        return model.model_validate(data), raw
    except ValidationError as e:
        msgs = []
        for err in e.errors():
            line = _node_line(node, err["loc"]) or "?"
            where = ".".join(str(p) for p in err["loc"]) or "(top)"
            msgs.append(f"{path}:{line}: {where}: {err['msg']}")
        raise RulesetError("\n".join(msgs)) from None


def load_ruleset(path: str | Path | None = None) -> Ruleset:
    root = Path(path) if path is not None else default_ruleset_path()
    header_path = root / "ruleset.yaml"
    if not header_path.is_file():
        raise RulesetError(f"{root}: not a ruleset folder (no ruleset.yaml)")
    header, raw = _load_file(header_path, RulesetHeader)
    digest = hashlib.sha256(raw)
    rules: list[Rule] = []
    seen: dict[str, Path] = {}
    for rule_path in sorted((root / "rules").glob("*.yaml")):
        rule, rule_raw = _load_file(rule_path, Rule)
        digest.update(rule_raw)
        if rule.id != rule_path.stem:
            raise RulesetError(f"{rule_path}:1: rule id {rule.id!r} must equal the file name")
        if rule.id in seen:
            raise RulesetError(f"{rule_path}:1: duplicate rule id {rule.id} (also {seen[rule.id]})")
        seen[rule.id] = rule_path
        rules.append(rule)
    if not rules:
        raise RulesetError(f"{root}/rules: no rules")
    rules.sort(key=lambda r: (r.priority, r.id))
    overrides: list[Override] = []
    for path in sorted((root / "overrides").glob("*.yaml")):
        override, override_raw = _load_file(path, Override)
        digest.update(override_raw)
        if override.id != path.stem:
            raise RulesetError(f"{path}:1: override id {override.id!r} must equal the file name")
        if override.id in seen:
            raise RulesetError(f"{path}:1: duplicate id {override.id} (also {seen[override.id]})")
        seen[override.id] = path
        overrides.append(override)
    return Ruleset(header, tuple(rules), root, digest.hexdigest()[:16], tuple(overrides))
