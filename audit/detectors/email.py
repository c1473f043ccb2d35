"""E-mail address detector: a cheap shape test, then email-validator's syntax rules."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from shekara.audit.detectors.base import Detector, Leaf, Match
from shekara.audit.model import Category

_MIN, _MAX = 6, 254  # a@b.kz .. RFC 5321 path limit


def plausible(text: str) -> bool:
    """Cheap pre-check so that email-validator only sees strings shaped like an address."""
    if not (_MIN <= len(text) <= _MAX) or text.count("@") != 1:
        return False
    local, _, domain = text.partition("@")
    return bool(local) and "." in domain and not any(ch.isspace() for ch in text)


class EmailDetector(Detector):
    category = Category.EMAIL

    def check(self, leaf: Leaf) -> Match | None:
        if not isinstance(leaf.value, str):
            return None
        return self.check_token(leaf.value.strip())

    def check_token(self, token: str) -> Match | None:
        if not plausible(token):
            return None
        try:
            result = validate_email(token, check_deliverability=False)
        except EmailNotValidError:
            return None
        except Exception:  # idna and unicode normalisation can fail on hostile input
            return None
        return Match(result.normalized.lower(), "e-mail address, syntax valid")


DETECTOR = EmailDetector()
