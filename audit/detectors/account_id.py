"""Account identifier detector: the id a service gives a user, under a key that says so.

Only keys that name an account's identifier count (``user_id``, ``accountId``,
``uid``, ``openid`` ...), never a bare ``id``: most ids name records, not people.
The value must be able to identify one account among many: at least six
characters, not one repeated character, not a placeholder or a boolean.
Confidence is MEDIUM: the key is most of the evidence.
"""

from __future__ import annotations

from shekara.audit.detectors import keys
from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category, Confidence

MIN_LENGTH = 6
MAX_LENGTH = 128
_PLACEHOLDERS = frozenset(
    {
        "anonymous",
        "undefined",
        "unknown",
        "guest",
        "null",
        "none",
        "nil",
        "default",
        "true",
        "false",
        "string",
        "user_id",
        "userid",
        "notset",
        "not_set",
    }
)


def account_value(value: str | int) -> str | None:
    """The canonical form of a plausible account identifier, or None."""
    if isinstance(value, bool):
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH:
        return None
    if isinstance(value, int) and value < 0:
        return None
    if len(set(text)) == 1 or text.lower() in _PLACEHOLDERS:
        return None
    if any(ch.isspace() for ch in text) or not text.isprintable():
        return None  # a sentence or a binary blob, not an identifier
    return text


class AccountIdDetector(Detector):
    category = Category.ACCOUNT_ID

    def check(self, leaf: Leaf) -> Match | None:
        if not leaf.hints & keys.ACCOUNT:
            return None
        canonical = account_value(leaf.value)
        if canonical is None:
            return None
        return Match(canonical, "account identifier under an account-id key", Confidence.MEDIUM)

    def check_token(self, token: str) -> Match | None:
        return None  # without its key an account id is just a string


DETECTOR = AccountIdDetector()
