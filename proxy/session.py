"""A test session: one vehicle, one firmware, one scenario, one run of the proxy.

``shekara session start`` opens the run in the store, ties it to the vehicle
(VIN kept as a keyed hash and a masked preview) and writes the active-session
file; a proxy started while that file exists records into the session's run,
across restarts, until ``shekara session stop`` closes and signs it.

The identifiers the engineer registers are *known values* the detector looks
for in every encoding. Their plain values never enter the store: they live
only in the session file (mode 0600, in the private SHEKARA_HOME) for the
session's duration, and are deleted with it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from shekara import __version__
from shekara.audit.drivetrack import DriveTrack
from shekara.audit.knownvalues import KnownValues
from shekara.audit.model import Category
from shekara.audit.redact import Redactor, preview
from shekara.evidence.store import FindingStore
from shekara.proxy.keys import hashing_key, shekara_home, station_key

SESSION_FILE = "session.json"

#: Known-value option names and the category each is looked for as.
KNOWN_FIELDS = {
    "vin": Category.VIN,
    "imei": Category.IMEI,
    "iccid": Category.ICCID,
    "phone": Category.PHONE,
    "iin": Category.IIN,
    "owner_name": Category.PERSON_NAME,
}


class SessionError(Exception):
    """No session, or one already running."""


@dataclass
class Session:
    run_id: int
    db: str
    started_at: float
    vehicle_id: int | None = None
    #: Plain registered identifiers by option name; never written to the store.
    known: dict[str, str] = field(default_factory=dict)
    #: The drive's track as [lat, lon] points, if the engineer registered one.
    track: list[list[float]] = field(default_factory=list)

    def known_values(self) -> KnownValues:
        return KnownValues({KNOWN_FIELDS[k]: [v] for k, v in self.known.items() if v})

    def drive_track(self) -> DriveTrack | None:
        return DriveTrack(self.track) if self.track else None


def session_path(home: Path | None = None) -> Path:
    return (home or shekara_home()) / SESSION_FILE


def active(home: Path | None = None) -> Session | None:
    path = session_path(home)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise SessionError(f"{path}: unreadable session file ({e})") from e
    return Session(**data)


def _write_private(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())


def start(
    db: str,
    *,
    vin: str,
    make: str | None,
    model: str | None,
    firmware: str | None,
    scenario: str | None,
    known: dict[str, str] | None = None,
    track: list[tuple[float, float]] | None = None,
    home: Path | None = None,
) -> Session:
    """Opens the session's run and registers the vehicle; SessionError if one is active."""
    if active(home) is not None:
        raise SessionError("a session is already running; 'shekara session stop' ends it")
    store = FindingStore(db)
    try:
        store.create_schema()
        redactor = Redactor(hashing_key(home))
        canonical = vin.strip().upper()
        vehicle_id = store.register_vehicle(
            redactor.value_hash(Category.VIN, canonical),
            preview(Category.VIN, canonical),
            make,
            model,
        )
        run_id = store.start_run("proxy", tool_version=__version__)
        store.describe_session(run_id, vehicle_id, firmware, scenario)
    finally:
        store.dispose()
    values = {"vin": canonical, **{k: v for k, v in (known or {}).items() if v}}
    points = [[lat, lon] for lat, lon in (track or [])]
    session = Session(run_id, db, time.time(), vehicle_id, values, points)
    _write_private(session_path(home), asdict(session))
    return session


def stop(home: Path | None = None) -> Session:
    """Closes and signs the session's run, and deletes the known values."""
    session = active(home)
    if session is None:
        raise SessionError("no session is running")
    store = FindingStore(session.db)
    try:
        store.finish_run(session.run_id, 0, "completed", key=station_key(home))
    finally:
        store.dispose()
        session_path(home).unlink(missing_ok=True)
    return session


def mark(label: str, home: Path | None = None) -> tuple[int, float]:
    """Adds a scenario marker to the active session; its run id and time."""
    session = active(home)
    if session is None:
        raise SessionError("no session is running: 'shekara session start' first")
    at = time.time()
    store = FindingStore(session.db)
    try:
        store.add_marker(session.run_id, label, at)
    finally:
        store.dispose()
    return session.run_id, at
