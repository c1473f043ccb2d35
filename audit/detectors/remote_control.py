"""Server-to-device commands: remote control of a vehicle or tracker, wherever it comes from.

Decoders put the command they recognised under ``command`` in Documents of
the server-to-device direction (sources ``<protocol>.down.<message>``); a
command from a server abroad is the seed's concern: a car restricted from
outside the country. It is a finding of fact, not of personal data.
"""

from __future__ import annotations

from shekara.audit.model import Category, Confidence, Document, Field, Hit

DOWN = ".down."


def is_downstream(source: str) -> bool:
    # Only the source's own name counts, not an MQTT topic in brackets after it.
    return DOWN in source.split("[", 1)[0]


def detect_command(doc: Document, root: str) -> Hit | None:
    tree = doc.tree
    if not is_downstream(doc.source) or not isinstance(tree, dict):
        return None
    command = tree.get("command")
    if not isinstance(command, str) or not command:
        return None
    path = "command" if root == "" else f"{root}.command"
    field = Field(f"{doc.source}:{path}", "command", command, doc.source)
    evidence = f"{doc.source.split(DOWN, 1)[0]} server command"
    if tree.get("ota"):
        evidence += " (over-the-air update)"
    return Hit(Category.REMOTE_CONTROL, field, command, evidence, Confidence.HIGH)
