"""Tables of the findings store, as SQLAlchemy Core so bulk inserts stay cheap.

Times are float epoch seconds (UTC), like the core model, so a replayed
capture keeps the capture's own clock. Only the masked preview and the keyed
hash of a value are stored, never the plain value.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Named constraints keep migrations (Alembic, PostgreSQL) deterministic later.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
_Id = BigInteger().with_variant(Integer(), "sqlite")

RUN_KINDS = ("replay", "proxy")
RUN_STATUSES = ("running", "completed", "failed", "interrupted")
VERDICTS = ("cross_border", "domestic", "unknown", "disputed", "cdn_edge")
CONFIDENCES = ("high", "medium", "low")


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


# A vehicle under test, registered by the engineer who starts a session. Its VIN
# is personal data: the store keeps the keyed hash and a masked preview only.
vehicles = Table(
    "vehicles",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("vin_hash", String(128), nullable=False),
    Column("vin_preview", String(64), nullable=False),
    Column("make", String(100)),
    Column("model", String(100)),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("vin_hash"),
    Index(None, "make", "model"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("kind", String(16), nullable=False),
    Column("capture", Text),
    Column("capture_sha256", String(64)),
    Column("ruleset_name", String(200)),
    Column("ruleset_version", String(100)),
    Column("geo_sources", JSON),
    Column("tool_version", String(100)),
    Column("flows_read", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="running"),
    Column("error", Text),
    # Tamper evidence: the run's findings form a hash chain whose head and
    # length are signed, with the raw-evidence hash, when the run is closed.
    Column("chain_length", Integer, nullable=False, default=0),
    Column("chain_head", String(64)),
    Column("closing_statement", Text),
    Column("signature", String(200)),
    Column("station_key", String(100)),
    # Raw evidence (the flows themselves) is kept only when the operator asks.
    Column("raw_evidence_path", Text),
    Column("raw_evidence_sha256", String(64)),
    Column("raw_evidence_deleted_at", Float),
    # A test session: which vehicle, which firmware, what the engineer did.
    Column("vehicle_id", _Id, ForeignKey("vehicles.id", ondelete="SET NULL")),
    Column("firmware", String(100)),
    Column("scenario", Text),
    # A replay's input files, one entry each: path, sha256, format, flows, packets, error
    # (``capture``/``capture_sha256`` name the whole input: one file, or the list's digest).
    Column("captures", JSON),
    CheckConstraint(_in("kind", RUN_KINDS), name="kind"),
    Index(None, "vehicle_id"),
    CheckConstraint(_in("status", RUN_STATUSES), name="status"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("category", String(32), nullable=False),
    Column("field", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("preview", String(300), nullable=False),
    Column("value_hash", String(128), nullable=False),
    Column("host", String(255)),
    Column("ip", String(45)),
    Column("port", Integer),
    Column("sni", String(255)),
    Column("country", String(2)),
    Column("city", String(200)),
    # ASNs are 32-bit unsigned: they overflow PostgreSQL's INTEGER.
    Column("asn", BigInteger),
    Column("org", String(300)),
    Column("geo_source", String(100)),
    Column("geo_build", String(100)),
    Column("geo_confidence", String(8), nullable=False),
    Column("private", Boolean, nullable=False, default=False),
    Column("verdict", String(16), nullable=False),
    Column("violation", Boolean, nullable=False),
    Column("rule_id", String(200), nullable=False),
    Column("severity", String(32), nullable=False),
    Column("detector", Text, nullable=False),
    Column("confidence", String(8), nullable=False),
    Column("observed_at", Float, nullable=False),
    Column("recorded_at", Float, nullable=False),
    Column("legal_refs", JSON, nullable=False),
    # Position in the run's hash chain, and the chain itself.
    Column("seq", Integer),
    # The links as 32 raw bytes: half the size of hex, and measurably cheaper to
    # insert; verify, exports and the API show them as hex.
    Column("prev_hash", LargeBinary(32)),
    Column("record_hash", LargeBinary(32)),
    # sha256 of (flow_id, field, category): the same hit seen again (a retried
    # batch, a re-read flow) is one finding. A hash, because ``field`` comes
    # from the traffic and may be long, and a PostgreSQL btree entry may not be.
    Column("dedup_key", String(64), nullable=False),
    UniqueConstraint("run_id", "dedup_key"),
    UniqueConstraint("run_id", "seq"),
    CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
    CheckConstraint(_in("confidence", CONFIDENCES), name="confidence"),
    CheckConstraint(_in("geo_confidence", CONFIDENCES), name="geo_confidence"),
    Index(None, "run_id"),
    Index(None, "category"),
    Index(None, "country"),
    Index(None, "host"),
    Index(None, "rule_id"),
    # Every API listing filters on violation and walks ids in order.
    Index(None, "violation", "id"),
    # The same VIN or phone across flows and runs is found through its hash.
    Index(None, "value_hash"),
)

notes = Table(
    "notes",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("source", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("host", String(255)),
    Column("ip", String(45)),
    Column("country", String(2)),
    Column("observed_at", Float, nullable=False),
    # sha256 of (flow_id, source, reason): a retried batch must not record the
    # same unreadable part twice; ``reason`` may quote the traffic at length.
    Column("dedup_key", String(64), nullable=False),
    UniqueConstraint("run_id", "dedup_key"),
    Index(None, "run_id"),
)

# What the engineer did, when: "navigation to Astana", "voice assistant on".
markers = Table(
    "markers",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("label", Text, nullable=False),
    Index(None, "run_id", "at"),
)

API_SCOPES = ("official", "engineer", "admin")

# Keys of the officials' API. Only a salted hash of the secret part is kept: a
# copy of the database does not let anyone call the API. ``key_id`` is the
# public part of a key, by which a presented key is looked up.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("key_id", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scope", String(16), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("key_hash", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    UniqueConstraint("key_id"),
    CheckConstraint(_in("scope", API_SCOPES), name="scope"),
)

# The engineer's key that manages a session (sets its vehicle, adds markers):
# the first engineer to do so claims it, others may only read it.
session_owners = Table(
    "session_owners",
    metadata,
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("api_key_id", _Id, ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False),
    Column("claimed_at", Float, nullable=False),
    Index(None, "api_key_id"),
)

# Officials' listings filter by one column and walk by time or id; these keep a
# filtered page an index range instead of a scan of the whole table.
Index(None, findings.c.observed_at, findings.c.id)
Index(None, findings.c.country, findings.c.violation, findings.c.id)
Index(None, findings.c.category, findings.c.violation, findings.c.id)
Index(None, findings.c.host, findings.c.violation, findings.c.id)
# "Which VINs went to China": the pair officials ask for most, counted from the index alone.
Index(None, findings.c.country, findings.c.category, findings.c.violation, findings.c.id)
CONNECTION_CONTENT = ("read", "undetermined")

# One TCP connection (or UDP association) of a session: where it went, how many
# bytes each way, and whether the proxy could read them. A connection the proxy
# forwarded without opening its TLS (pinning, client certificate, operator list)
# is content "undetermined": a transfer to that country whose content is unknown,
# fingerprinted by its ClientHello. Decryption coverage is computed from here.
connections = Table(
    "connections",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("transport", String(8), nullable=False),
    Column("content", String(16), nullable=False),
    # Why the content could not be read ("client rejected the interception certificate").
    Column("reason", Text),
    Column("client_ip", String(45)),
    # The device that made the connection, from the audit Wi-Fi's DHCP lease.
    Column("client_mac", String(17)),
    Column("client_name", String(255)),
    Column("host", String(255)),
    Column("sni", String(255)),
    Column("ip", String(45)),
    Column("port", Integer),
    Column("country", String(2)),
    Column("geo_confidence", String(8)),
    Column("bytes_up", BigInteger, nullable=False, default=0),
    Column("bytes_down", BigInteger, nullable=False, default=0),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("alpn", String(255)),
    Column("ja3", Text),
    Column("ja3_md5", String(32)),
    Column("ja4", String(64)),
    UniqueConstraint("run_id", "flow_id"),
    CheckConstraint(_in("content", CONNECTION_CONTENT), name="content"),
    Index(None, "run_id", "host"),
    Index(None, "ja4"),
)

# Every destination a run's findings and notes went to, with the answer of each
# geolocation source and all other evidence (names, CNAME chains, ASN, TLS
# organisations, round trips, CDN), so a verdict can be defended, not only stated.
# One row per (run, host, ip): ``dest_key`` is sha256 of the pair, because either
# may be missing and a unique constraint never matches NULLs.
destinations = Table(
    "destinations",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("dest_key", String(64), nullable=False),
    Column("host", String(255)),
    Column("ip", String(45)),
    Column("sni", String(255)),
    Column("country", String(2)),
    Column("asn", BigInteger),
    Column("org", String(300)),
    Column("cdn", String(100)),
    Column("private", Boolean, nullable=False, default=False),
    Column("disputed", Boolean, nullable=False, default=False),
    Column("confidence", String(8), nullable=False),
    # The verdict the run's findings got for it; NULL when only notes went there.
    Column("verdict", String(16)),
    Column("sources", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    UniqueConstraint("run_id", "dest_key"),
    CheckConstraint(_in("confidence", CONFIDENCES), name="confidence"),
    CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
    Index(None, "country"),
    Index(None, "host"),
)

FLOW_PROTOCOLS = ("http", "https", "ws", "wss", "mqtt", "tcp", "udp", "dns")

# One analysed flow of a run: what carried its findings (method, URL, status, sizes,
# times), joined to findings and notes on (run_id, flow_id). The URL is stored redacted
# (``audit.flowmeta``): secrets and detected personal values masked, names kept.
# ``sha256`` is the digest of the canonical record (see ``audit.flowmeta``); a stream's
# row is refreshed when it ends, with a new digest.
flows = Table(
    "flows",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("run_id", _Id, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("flow_id", String(100), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("application", String(32)),
    Column("method", String(32)),
    Column("url", Text),
    Column("host", String(255)),
    Column("port", Integer),
    Column("status", Integer),
    Column("request_body_bytes", BigInteger),
    Column("request_bytes", BigInteger),
    Column("response_body_bytes", BigInteger),
    Column("response_bytes", BigInteger),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("client", String(64)),
    Column("server", String(64)),
    Column("sha256", String(64), nullable=False),
    UniqueConstraint("run_id", "flow_id"),
    CheckConstraint(_in("protocol", FLOW_PROTOCOLS), name="protocol"),
)
