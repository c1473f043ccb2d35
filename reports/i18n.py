"""The report's languages: message catalogs (gettext .po), country names, legal citations.

Catalogs are the ``.po`` files under ``locale/``, compiled in memory by Babel
when first used, so the sources a translator edits are the only copy. Country
names and dates come from Babel's CLDR locale data; category names from the
ruleset, which names each category in the three languages.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from io import BytesIO

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

from shekara.reports import LANGUAGES, UnsupportedLanguageError
from shekara.rulesets.loader import load_ruleset

DOMAIN = "shekara"


def N_(message: str) -> str:
    """Marks a message for the catalogs that is translated later, where it is shown."""
    return message


# Severities of the ruleset schema (rulesets/schema.py Severity).
SEVERITIES = {
    "info": N_("information"),
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "critical": N_("critical"),
}

# Data classes of vehicle personal data (ruleset categories' data_class), worded as
# the legal basis groups them.
DATA_CLASSES = {
    "direct identifiers": N_("direct identifiers"),
    "vehicle and device identifiers": N_("vehicle and device identifiers"),
    "telecom subscriber identifiers": N_("telecom subscriber identifiers"),
    "precise location and trajectory": N_("precise location and trajectory"),
    "driving behaviour": N_("driving behaviour"),
    "biometric": N_("biometric"),
    "cabin audio/video": N_("cabin audio/video"),
    "phone-synced content": N_("phone-synced content"),
    "payment and account": N_("payment and account"),
    "remote control of the vehicle (not personal data)": N_(
        "remote control of the vehicle (not personal data)"
    ),
    "encrypted traffic the proxy could not open (content undetermined)": N_(
        "encrypted traffic the proxy could not open (content undetermined)"
    ),
}

# What the bundled ruleset's legal references say, to be shown in the report's language.
LEGAL_SUMMARIES = {
    "cross-border transfer of personal data and its conditions": N_(
        "cross-border transfer of personal data and its conditions"
    ),
    "personal data stored in a database located in Kazakhstan": N_(
        "personal data stored in a database located in Kazakhstan"
    ),
    "cross-border transfer of telecom subscriber service information": N_(
        "cross-border transfer of telecom subscriber service information"
    ),
    "biometric identification restricted": N_("biometric identification restricted"),
    "confidentiality of biometric data established by law": N_(
        "confidentiality of biometric data established by law"
    ),
}

# How sure the geolocation of a server is (audit.model Confidence).
CONFIDENCES = {
    "high": N_("high confidence"),
    "medium": N_("medium confidence"),
    "low": N_("low confidence"),
}

# What an audit on the Wi-Fi never sees: the very texts of
# ``evidence.connections.NOT_OBSERVED`` (the API's), marked for the catalogs.
NOT_OBSERVED = (
    N_(
        "traffic of units with their own mobile connection (a telematics unit's SIM), "
        "which never touches the audit Wi-Fi"
    ),
    N_("traffic relayed by a paired phone over Bluetooth or its own mobile data"),
    N_("UDP other than DNS (QUIC is refused so that apps fall back to TLS over TCP)"),
)

# As the judge records a rule's reference: "94-V Art. 12(2)".
_RECORDED_REF = re.compile(r"^(?P<law>\S+) Art\. (?P<article>\d+(?:-\d+)?)(?:\((?P<point>\d+)\))?$")


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise UnsupportedLanguageError(
            f"unsupported report language {lang!r}: choose one of {', '.join(LANGUAGES)}"
        )
    return lang


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> Translations:
    """The compiled catalog of one language (fuzzy entries left out, as gettext does)."""
    check_language(lang)
    po = resources.files("shekara.reports") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    mo = BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


@dataclass(frozen=True)
class Reference:
    """One legal reference as recorded, and its summary from the ruleset (English)."""

    law: str
    article: str
    point: str | None
    summary: str | None


@lru_cache(maxsize=1)
def _ruleset_facts() -> tuple[dict[str, dict[str, str]], dict[tuple[str, str], str]]:
    """Category names per language, and reference summaries by (law, article)."""
    ruleset = load_ruleset()
    names = {str(c.id): c.names.model_dump() for c in ruleset.header.categories}
    data_classes = {str(c.id): c.data_class for c in ruleset.header.categories}
    for cid, data_class in data_classes.items():
        names[cid]["data_class"] = data_class
    summaries = {(r.law, r.article): r.summary for rule in ruleset.rules for r in rule.legal_refs}
    return names, summaries


class Language:
    """Everything language-dependent the report writes, for one language."""

    def __init__(self, lang: str) -> None:
        self.code = check_language(lang)
        self.locale = Locale.parse(lang)
        self.tr = translations(lang)

    def gettext(self, message: str, **values: object) -> str:
        text = self.tr.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self.tr.ngettext(singular, plural, n)
        return text % {"n": self.number(n), **values}

    def number(self, n: int) -> str:
        return format_decimal(n, locale=self.locale)

    def percent(self, part: int, whole: int) -> str:
        return format_percent(part / whole, format="#,##0.#%", locale=self.locale)

    def time(self, epoch: float | None) -> str:
        if epoch is None:
            return self.gettext("not finished")
        when = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
        return f"{format_datetime(when, 'medium', tzinfo=dt.UTC, locale=self.locale)} UTC"

    def country(self, code: str | None) -> str:
        """The country's name in this language (CLDR), with its ISO code."""
        if not code:
            return self.gettext("undetermined")
        name = self.locale.territories.get(code.upper())
        return f"{name} ({code.upper()})" if name else code.upper()

    def category(self, category: str) -> str:
        names, _ = _ruleset_facts()
        entry = names.get(category)
        return entry[self.code] if entry else category

    def data_class(self, category: str) -> str:
        names, _ = _ruleset_facts()
        entry = names.get(category)
        if not entry:
            return ""
        data_class = entry["data_class"]
        return self.tr.gettext(DATA_CLASSES[data_class]) if data_class in DATA_CLASSES else ""

    def confidence(self, confidence: str) -> str:
        message = CONFIDENCES.get(confidence)
        return self.tr.gettext(message) if message else confidence

    def severity(self, severity: str) -> str:
        message = SEVERITIES.get(severity)
        return self.tr.gettext(message) if message else severity

    def reference(self, recorded: str) -> str:
        """A recorded reference ("94-V Art. 12(2)") cited in this language's legal style."""
        ref = parse_reference(recorded)
        if ref is None:
            return recorded
        law = self.gettext("Law No. %(law)s", law=ref.law)
        return self.gettext("%(law)s, %(article)s", law=law, article=self._article(ref))

    def reference_summary(self, recorded: str) -> str | None:
        """What the referenced article says, from the ruleset, in this language; None if unknown."""
        ref = parse_reference(recorded)
        message = LEGAL_SUMMARIES.get(ref.summary or "") if ref is not None else None
        return self.tr.gettext(message) if message else None

    def _article(self, ref: Reference) -> str:
        if ref.point:
            return self.gettext("Art. %(article)s(%(point)s)", article=ref.article, point=ref.point)
        return self.gettext("Art. %(article)s", article=ref.article)


def parse_reference(recorded: str) -> Reference | None:
    """A reference as the judge records it, with the ruleset's summary; None if not of that form."""
    match = _RECORDED_REF.match(recorded.strip())
    if match is None:
        return None
    law, article, point = match["law"], match["article"], match["point"]
    _, summaries = _ruleset_facts()
    full = f"{article}({point})" if point else article
    return Reference(law, article, point, summaries.get((law, full)))
