"""captures/labelled.mitm: ~200 vendor-style flows with varied key names, for the accuracy bench.

Templates draw key spellings (camelCase, snake_case, Chinese-OEM), value
formats and destinations from a seeded generator; roughly half the flows are
benign or decoys, so precision is measured as seriously as recall.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from typing import Any

from . import endpoints as ep
from . import geoformats, ids, media
from .build import Capture, Endpoint, FilePart, Publish, WsMessage
from .plant import (
    ACCOUNT_ID,
    BIOMETRIC,
    CABIN_MEDIA,
    CREDENTIALS,
    EMAIL,
    ICCID,
    IIN,
    IMEI,
    IMSI,
    LICENSE_PLATE,
    LOCATION,
    MAC_ADDRESS,
    PERSON_NAME,
    PHONE,
    VIN,
    Embed,
    Plant,
)

SEED = 32960
T0 = 1_733_047_200.0  # 2024-12-01T10:00:00Z

VIN_KEYS = ("vin", "VIN", "vehicleVin", "vehicle_vin", "vinCode", "carVin", "Vin")
IMEI_KEYS = ("imei", "deviceImei", "tboxImei", "device_imei", "IMEI", "imeiNo")
ICCID_KEYS = ("iccid", "simIccid", "ICCID", "sim_iccid", "iccidNo")
IMSI_KEYS = ("imsi", "simImsi", "IMSI", "sim_imsi")
PHONE_KEYS = ("phone", "mobile", "phoneNumber", "msisdn", "tel", "contactPhone", "mobilePhone")
EMAIL_KEYS = ("email", "mail", "userEmail", "e_mail", "contactEmail")
IIN_KEYS = ("iin", "IIN", "ownerIin", "iin_number", "ИИН")
NAME_KEYS = ("name", "fullName", "driverName", "ownerName", "full_name", "realName", "contactName")
PLATE_KEYS = ("plate", "plateNo", "licensePlate", "plate_number", "plateNumber", "licensePlateNo")
MAC_KEYS = ("wifiMac", "btMac", "bluetoothMac", "macAddress", "wlan_mac", "bt_addr")

ENDPOINT_WEIGHTS: tuple[tuple[Endpoint, int], ...] = (
    (ep.CN_TSP, 30),
    (ep.CN_PUSH, 5),
    (ep.CN_LOG, 5),
    (ep.KZ_TELEMATICS, 15),
    (ep.KZ_INSURER, 8),
    (ep.DE_MAPS, 12),
    (ep.RU_TRACK, 12),
    (ep.LAN_HEADUNIT, 8),
)

Template = Callable[["Ctx", str], None]


class Ctx:
    """The capture, the seeded generator and small helpers every template shares."""

    def __init__(self, cap: Capture, rng: random.Random) -> None:
        self.cap = cap
        self.rng = rng

    def endpoint(self) -> Endpoint:
        eps, weights = zip(*ENDPOINT_WEIGHTS, strict=True)
        return self.rng.choices(eps, weights=weights)[0]

    def ms(self) -> int:
        return int((T0 + self.rng.uniform(0, 86_400)) * 1000)

    def key(self, options: tuple[str, ...]) -> str:
        return self.rng.choice(options)

    def location(self) -> dict[str, Any]:
        """A position in one of the shapes vendors use, with the latitude planted."""
        r = self.rng
        lat, lon = ids.make_position(r)
        style = r.randrange(8)
        if style == 0:
            return {"lat": Plant(LOCATION, lat), "lon": lon}
        if style == 1:
            return {"latitude": Plant(LOCATION, lat), "longitude": lon}
        if style == 2:
            return {"gpsLat": Plant(LOCATION, f"{lat:.6f}"), "gpsLng": f"{lon:.6f}"}
        if style == 3:
            return {"lat": Plant(LOCATION, round(lat * 1e6)), "lng": round(lon * 1e6)}
        if style == 4:
            return {"Latitude": Plant(LOCATION, lat), "Longitude": lon}
        if style == 5:
            return {"latitude": Plant(LOCATION, f"{lat:.6f}"), "longitude": f"{lon:.6f}"}
        if style == 6:
            return {"lat": Plant(LOCATION, lat), "lng": lon, "alt": round(r.uniform(600, 900), 1)}
        return {"lat": Plant(LOCATION, round(lat, 5)), "lon": round(lon, 5), "acc": 8}

    def noise(self) -> dict[str, Any]:
        """Benign fields vendors send alongside: numbers that look like data but are not."""
        r = self.rng
        pool: list[tuple[str, Any]] = [
            ("soc", round(r.uniform(10, 99), 1)),
            ("cabinTemp", round(r.uniform(-20, 45), 1)),
            ("speed", round(r.uniform(0, 120), 1)),
            ("odometer", round(r.uniform(1000, 150000), 1)),
            ("requestId", ids.make_uuid(r)),
            ("nonce", ids.make_hex(r, 8)),
            ("ts", self.ms()),
            ("appVersion", f"{r.randint(1, 9)}.{r.randint(0, 30)}.{r.randint(0, 9)}"),
            ("seq", r.randint(1, 99999)),
            ("tirePressure", [round(r.uniform(2.1, 2.6), 2) for _ in range(4)]),
        ]
        return dict(r.sample(pool, r.randint(2, 5)))


# -- personal-data templates ----------------------------------------------------------


def t_telemetry_camel(c: Ctx, label: str) -> None:
    body: dict[str, Any] = {c.key(VIN_KEYS[:3]): Plant(VIN, ids.make_vin(c.rng))}
    if c.rng.random() < 0.5:
        body[c.key(IMEI_KEYS[:3])] = Plant(IMEI, ids.make_imei(c.rng))
    body["position"] = c.location()
    body.update(c.noise())
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/api/v2/vehicle/report",
        json_body=body,
        gzip_body=c.rng.random() < 0.25,
        compact=c.rng.random() < 0.5,
    )


def t_telemetry_snake(c: Ctx, label: str) -> None:
    body: dict[str, Any] = {
        "vehicle_vin": Plant(VIN, ids.make_vin(c.rng)),
        "device_imei": Plant(IMEI, ids.make_imei(c.rng)),
        "gps": c.location(),
        "battery_level": round(c.rng.uniform(10, 99), 1),
        "event_ts": c.ms(),
    }
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/v1/telemetry/ingest",
        json_body=body,
        gzip_body=c.rng.random() < 0.25,
    )


def t_oem_envelope(c: Ctx, label: str) -> None:
    r = c.rng
    lat, lon = ids.make_position(r)
    data: dict[str, Any] = {
        "vehicleVin": Plant(VIN, ids.make_vin(r, "LGX")),
        "tboxImei": Plant(IMEI, ids.make_imei(r)),
        "gpsLat": Plant(LOCATION, f"{lat:.6f}"),
        "gpsLng": f"{lon:.6f}",
        "gpsTime": c.ms(),
    }
    if r.random() < 0.5:
        data["simIccid"] = Plant(ICCID, ids.make_iccid(r))
    if r.random() < 0.4:
        data["simImsi"] = Plant(IMSI, ids.make_imsi(r))
    body = {"header": {"msgId": r.randint(1000, 9999), "ver": "1.2", "ts": c.ms()}, "body": data}
    c.cap.http(label, c.endpoint(), "POST", "/tsp/api/v1/vehicle/realtime", json_body=body)


def t_microdegree(c: Ctx, label: str) -> None:
    r = c.rng
    lat, lon = ids.make_position(r)
    body = {
        "imei": Plant(IMEI, ids.make_imei(r)),
        "lat": Plant(LOCATION, round(lat * 1e6)),
        "lng": round(lon * 1e6),
        "course": r.randint(0, 359),
        "sat": r.randint(4, 14),
    }
    c.cap.http(label, c.endpoint(), "POST", "/gps/upload", json_body=body)


def t_profile(c: Ctx, label: str) -> None:
    r = c.rng
    name = ids.make_name(r, cyrillic=r.random() < 0.3)
    who: dict[str, Any] = {c.key(NAME_KEYS): Plant(PERSON_NAME, name)}
    picks = r.sample(("phone", "email", "iin", "plate"), r.randint(1, 4))
    if "phone" in picks:
        who[c.key(PHONE_KEYS)] = Plant(PHONE, ids.format_phone(ids.make_phone(r), r.randrange(5)))
    if "email" in picks:
        who[c.key(EMAIL_KEYS)] = Plant(EMAIL, ids.make_email(r, name))
    if "iin" in picks:
        who[c.key(IIN_KEYS)] = Plant(IIN, ids.make_iin(r))
    if "plate" in picks:
        who[c.key(PLATE_KEYS)] = Plant(LICENSE_PLATE, ids.make_plate(r, spaced=r.random() < 0.3))
    wrapper = r.choice(("owner", "driver", "user", "account", None))
    body: dict[str, Any] = {wrapper: who} if wrapper else dict(who)
    body["userId"] = Plant(ACCOUNT_ID, ids.make_uuid(r))
    c.cap.http(
        label, c.endpoint(), r.choice(("POST", "PUT")), "/api/v1/user/profile", json_body=body
    )


def t_trip(c: Ctx, label: str) -> None:
    r = c.rng
    track = ids.make_track(r, r.randint(3, 8))
    style = r.randrange(4)
    body: dict[str, Any] = {"tripId": ids.make_uuid(r)}
    if style == 0:
        body["track"] = Plant(LOCATION, [{"lat": a, "lon": b} for a, b in track])
    elif style == 1:
        body["points"] = Plant(
            LOCATION, [{"latitude": a, "longitude": b, "t": c.ms()} for a, b in track]
        )
    elif style == 2:
        body["geometry"] = {
            "type": "LineString",
            "coordinates": Plant(LOCATION, geoformats.geojson_line(track)),
        }
        body["type"] = "Feature"
    else:
        body["polyline"] = Plant(LOCATION, geoformats.encoded_polyline(track))
    body["distance_m"] = r.randint(300, 40000)
    c.cap.http(label, c.endpoint(), "POST", "/api/v1/trip/upload", json_body=body)


def t_geojson_point(c: Ctx, label: str) -> None:
    lat, lon = ids.make_position(c.rng)
    body = {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": Plant(LOCATION, geoformats.geojson_point(lat, lon)),
        },
        "properties": {"event": "parked", "ts": c.ms()},
    }
    c.cap.http(label, c.endpoint(), "POST", "/v1/events", json_body=body)


def t_osmand(c: Ctx, label: str) -> None:
    r = c.rng
    lat, lon = ids.make_position(r)
    idkey = r.choice(("imei", "id", "deviceid"))
    c.cap.http(
        label,
        c.endpoint(),
        "GET",
        "/",
        query=[
            (idkey, Plant(IMEI, ids.make_imei(r))),
            ("timestamp", str(c.ms() // 1000)),
            ("lat", Plant(LOCATION, f"{lat:.6f}")),
            ("lon", f"{lon:.6f}"),
            ("speed", f"{r.uniform(0, 30):.1f}"),
            ("batt", str(r.randint(5, 100))),
        ],
    )


def t_headers(c: Ctx, label: str) -> None:
    r = c.rng
    headers: list[tuple[str, Any]] = [("X-Request-Id", ids.make_uuid(r))]
    if r.random() < 0.7:
        headers.append(("X-VIN", Plant(VIN, ids.make_vin(r))))
    if r.random() < 0.7 or len(headers) == 1:
        headers.append(("X-IMEI", Plant(IMEI, ids.make_imei(r))))
    c.cap.http(
        label, c.endpoint(), "GET", "/api/v1/config", headers=headers, query=[("v", "5.3.1")]
    )


def t_form(c: Ctx, label: str) -> None:
    r = c.rng
    lat, lon = ids.make_position(r)
    form: list[tuple[str, Any]] = [("imei", Plant(IMEI, ids.make_imei(r)))]
    if r.random() < 0.5:
        form.append(("phone", Plant(PHONE, ids.format_phone(ids.make_phone(r), r.randrange(5)))))
    form += [
        ("lat", Plant(LOCATION, f"{lat:.6f}")),
        ("lng", f"{lon:.6f}"),
        ("sign", ids.make_hex(r, 16)),
    ]
    c.cap.http(label, c.endpoint(), "POST", "/gw/report.do", form=form)


def t_embedded(c: Ctx, label: str) -> None:
    r = c.rng
    inner: dict[str, Any] = {c.key(VIN_KEYS[:3]): Plant(VIN, ids.make_vin(r)), **c.location()}
    if r.random() < 0.5:
        body = {"data": Embed("base64", Embed("json", inner)), "encrypt": 0}
    else:
        body = {"event": "report", "payload": Embed("json", inner)}
    c.cap.http(label, c.endpoint(), "POST", "/api/v3/upload", json_body=body)


def t_nmea(c: Ctx, label: str) -> None:
    r = c.rng
    lat, lon = ids.make_position(r)
    sentence = r.choice((geoformats.gprmc, geoformats.gpgga))(lat, lon)
    if r.random() < 0.5:
        c.cap.http(
            label,
            c.endpoint(),
            "POST",
            "/api/nmea",
            json_body={"imei": Plant(IMEI, ids.make_imei(r)), "nmea": Plant(LOCATION, sentence)},
        )
    else:
        c.cap.http(label, c.endpoint(), "POST", "/nmea", text=Plant(LOCATION, sentence))


def t_sim(c: Ctx, label: str) -> None:
    r = c.rng
    sim = {
        c.key(ICCID_KEYS): Plant(ICCID, ids.make_iccid(r)),
        c.key(IMSI_KEYS): Plant(IMSI, ids.make_imsi(r)),
        "rssi": -r.randint(50, 110),
        "operator": r.choice(("Kcell", "Beeline", "Tele2.kz")),
    }
    if r.random() < 0.4:
        sim["msisdn"] = Plant(PHONE, ids.make_phone(r))
    c.cap.http(label, c.endpoint(), "POST", "/api/v1/tbox/sim", json_body={"sim": sim})


def t_macs(c: Ctx, label: str) -> None:
    r = c.rng
    keys = r.sample(MAC_KEYS, r.randint(1, 2))
    body: dict[str, Any] = {
        k: Plant(MAC_ADDRESS, ids.make_mac(r, sep=r.choice((":", "-")))) for k in keys
    }
    body.update(c.noise())
    c.cap.http(label, c.endpoint(), "POST", "/api/v1/device/register", json_body=body)


def t_path_vin(c: Ctx, label: str) -> None:
    c.cap.http(
        label,
        c.endpoint(),
        "GET",
        ["api", "v1", "vehicles", Plant(VIN, ids.make_vin(c.rng)), "status"],
    )


def t_latlon_string(c: Ctx, label: str) -> None:
    lat, lon = ids.make_position(c.rng)
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/api/v1/poi/nearby",
        json_body={"location": Plant(LOCATION, f"{lat:.6f},{lon:.6f}"), "radius": 500},
    )


def t_websocket(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.websocket(
        label,
        r.choice((ep.CN_PUSH, ep.KZ_TELEMATICS)),
        "/ws",
        [
            WsMessage(True, {"type": "hello", "sid": ids.make_hex(r, 8)}),
            WsMessage(False, {"type": "welcome"}),
            WsMessage(True, {"type": "pos", **c.location(), "ts": c.ms()}),
            WsMessage(
                True, {"type": "id", "vin": Plant(VIN, ids.make_vin(r))}, binary=r.random() < 0.5
            ),
        ],
    )


def t_mqtt(c: Ctx, label: str) -> None:
    r = c.rng
    vin = ids.make_vin(r)
    imei = ids.make_imei(r)
    c.cap.mqtt(
        label,
        r.choice((ep.RU_MQTT, ep.KZ_MQTT)),
        client_id=Plant(IMEI, imei),
        username=r.choice((None, Plant(EMAIL, ids.make_email(r)))),
        password=ids.make_hex(r, 6),
        publishes=[
            Publish(
                ("vehicle", Plant(VIN, vin), "telemetry"),
                {"vin": Plant(VIN, vin), "gps": c.location(), **c.noise()},
                split_at=r.choice((None, 17)),
                qos=r.choice((0, 1)),
            ),
            Publish(f"device/{ids.make_hex(r, 4)}/status", {"online": True, "rssi": -70}),
        ],
        coalesce_connect=r.random() < 0.3,
    )


PERSONAL: tuple[tuple[Template, int], ...] = (
    (t_telemetry_camel, 14),
    (t_telemetry_snake, 8),
    (t_oem_envelope, 10),
    (t_microdegree, 5),
    (t_profile, 16),
    (t_trip, 9),
    (t_geojson_point, 3),
    (t_osmand, 6),
    (t_headers, 6),
    (t_form, 6),
    (t_embedded, 6),
    (t_nmea, 4),
    (t_sim, 5),
    (t_macs, 5),
    (t_path_vin, 2),
    (t_latlon_string, 2),
    (t_websocket, 2),
    (t_mqtt, 3),
)


# -- benign templates (no finding expected) -------------------------------------------


def b_status(c: Ctx, label: str) -> None:
    body = {"doors": {"fl": "closed", "fr": "closed"}, "locked": True, **c.noise()}
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/api/v2/vehicle/status",
        json_body=body,
        gzip_body=c.rng.random() < 0.3,
    )


def b_ota(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        r.choice((ep.CN_OTA, ep.KZ_TELEMATICS)),
        "POST",
        "/ota/v1/check",
        json_body={
            "partNumber": ids.make_bad_vin(r),
            "ecu": r.choice(("BCM", "TBOX")),
            "swVersion": f"{r.randint(1, 4)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
            "buildId": ids.make_hex(r, 20),
        },
    )


def b_order(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/api/v1/charge/order",
        json_body={
            "orderNo": ids.make_luhn_failing(r, 15),
            "invoiceNo": ids.make_bad_iin(r),
            "amount": r.randint(500, 9000),
            "currency": "KZT",
            "requestId": ids.make_uuid(r),
            "ts": c.ms(),
        },
    )


def b_ui(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        ep.CN_LOG,
        "POST",
        "/collect",
        json_body={
            "events": [
                {
                    "screen": r.choice(("map", "home", "climate")),
                    "x": round(r.uniform(0, 90), 2),
                    "y": round(r.uniform(0, 180), 2),
                    "ts": c.ms(),
                }
                for _ in range(r.randint(1, 4))
            ],
            "sessionId": ids.make_uuid(r),
        },
    )


def b_metrics(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        ep.CN_LOG,
        "POST",
        "/metrics",
        json_body={
            "cpu": round(r.uniform(1, 99), 1),
            "latency_ms": round(r.uniform(20, 80), 2),
            "mem": round(r.uniform(20, 90), 1),
            "hash": ids.make_hex(r, 32),
            "uptime_s": r.randint(10, 10**6),
            "ts": c.ms(),
        },
    )


def b_config(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        c.endpoint(),
        "GET",
        "/api/v1/config",
        query=[("v", f"5.{r.randint(0, 9)}.{r.randint(0, 9)}"), ("lang", "ru"), ("t", str(c.ms()))],
    )


def b_tile(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        ep.DE_MAPS,
        "GET",
        f"/tiles/{r.randint(10, 16)}/{r.randint(1000, 9000)}/{r.randint(1000, 9000)}.png",
        user_agent="Mozilla/5.0",
    )


def b_heartbeat(c: Ctx, label: str) -> None:
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/v1/heartbeat",
        json_body={"status": "ok", "seq": c.rng.randint(1, 99999), "ts": c.ms()},
    )


def t_token(c: Ctx, label: str) -> None:
    """A refresh token: a credential (it stands in for the account's password)."""
    r = c.rng
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/oauth/refresh",
        form=[
            ("grant_type", "refresh_token"),
            ("refresh_token", Plant(CREDENTIALS, ids.make_hex(r, 24))),
            ("client_id", ids.make_uuid(r)),
        ],
    )


def b_weather(c: Ctx, label: str) -> None:
    c.cap.http(
        label,
        c.endpoint(),
        "GET",
        "/api/v1/weather",
        query=[("city", c.rng.choice(("Almaty", "Astana", "Shymkent"))), ("units", "metric")],
    )


def b_opaque_base64(c: Ctx, label: str) -> None:
    blob = base64.b64encode(c.rng.randbytes(c.rng.randint(24, 96))).decode()
    c.cap.http(
        label,
        c.endpoint(),
        "POST",
        "/api/v3/upload",
        json_body={"data": blob, "encrypt": 1, "keyId": c.rng.randint(1, 9)},
    )


def b_push(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.http(
        label,
        ep.CN_PUSH,
        "POST",
        "/push/register",
        json_body={
            "pushToken": ids.make_hex(r, 32),
            "platform": "android",
            "deviceId": ids.make_hex(r, 8),
            "channel": r.randint(1, 5),
        },
    )


def b_text(c: Ctx, label: str) -> None:
    c.cap.http(
        label,
        ep.CN_LOG,
        "POST",
        "/log/raw",
        text=f"I/tbox: network up rssi=-{c.rng.randint(50, 110)} v=2.14.3\n",
    )


def b_websocket(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.websocket(
        label,
        ep.CN_PUSH,
        "/ws",
        [
            WsMessage(True, {"type": "ping", "seq": r.randint(1, 999)}),
            WsMessage(False, {"type": "pong"}),
            WsMessage(True, {"type": "stats", "soc": round(r.uniform(10, 99), 1)}),
        ],
    )


def b_mqtt(c: Ctx, label: str) -> None:
    r = c.rng
    c.cap.mqtt(
        label,
        ep.RU_MQTT,
        client_id=f"dev-{ids.make_hex(r, 6)}",
        publishes=[
            Publish(
                f"device/{ids.make_hex(r, 4)}/status", {"online": True, "fw": "1.0.7", "temp": 43.2}
            )
        ],
    )


BENIGN: tuple[tuple[Template, int], ...] = (
    (b_status, 14),
    (b_ota, 8),
    (b_order, 8),
    (b_ui, 6),
    (b_metrics, 8),
    (b_config, 8),
    (b_tile, 5),
    (b_heartbeat, 8),
    # A credential since credentials became a category; it keeps its place here, since moving
    # it would reshuffle every flow of the capture.
    (t_token, 5),
    (b_weather, 4),
    (b_opaque_base64, 5),
    (b_push, 4),
    (b_text, 3),
    (b_websocket, 2),
    (b_mqtt, 2),
)


# -- uploads (multipart/form-data), scheduled after the rest ------------------------------

FACE_FIELDS = ("dms_face", "faceImage", "driver_face", "fatigue_snapshot", "selfie")
FACE_FILES = ("face.jpg", "dms_0001.jpg", "frame.jpg", "capture.jpg")


def _jpeg(r: random.Random) -> bytes:
    width, height = r.choice(((64, 48), (96, 64), (160, 120)))
    return media.jpeg_gray(width, height, f"cam {r.randint(0, 3)}")


def t_dms_face(c: Ctx, label: str) -> None:
    r = c.rng
    face = FilePart(_jpeg(r), r.choice(FACE_FILES), "image/jpeg")
    parts: list[tuple[str, Any]] = [
        ("event", r.choice(("fatigue", "distraction", "phone_use", "smoking"))),
        ("ts", str(c.ms())),
        (r.choice(FACE_FIELDS), Plant(BIOMETRIC, face)),
    ]
    if r.random() < 0.5:
        parts.insert(0, ("vin", Plant(VIN, ids.make_vin(r))))
    c.cap.http(label, c.endpoint(), "POST", "/api/v1/dms/event", multipart=parts)


def t_cabin_media(c: Ctx, label: str) -> None:
    r = c.rng
    style = r.randrange(3)
    if style == 0:
        field, part = (
            "cabin_clip",
            FilePart(media.mp4_clip(r, r.randint(300, 900)), "clip.mp4", "video/mp4"),
        )
    elif style == 1:
        wav = media.wav_tone(r.choice((220, 330, 440)), r.randint(40, 90))
        field, part = (
            r.choice(("voice", "audio", "recording")),
            FilePart(wav, "query.wav", "audio/wav"),
        )
    else:
        field, part = (
            r.choice(("snapshot", "cabin_photo")),
            FilePart(_jpeg(r), "cabin.jpg", "image/jpeg"),
        )
    parts: list[tuple[str, Any]] = [(field, Plant(CABIN_MEDIA, part)), ("ts", str(c.ms()))]
    c.cap.http(label, c.endpoint(), "POST", "/api/v1/cabin/upload", multipart=parts)


def b_upload(c: Ctx, label: str) -> None:
    r = c.rng
    parts: list[tuple[str, Any]] = [
        ("ecu", r.choice(("TBOX", "BCM", "IVI"))),
        (
            "log",
            FilePart(
                f"I/tbox: network up rssi=-{r.randint(50, 110)}\n".encode(),
                "tbox.log",
                "text/plain",
            ),
        ),
        (
            "dump",
            FilePart(
                b"TBXD" + r.randbytes(r.randint(32, 160)), "core.bin", "application/octet-stream"
            ),
        ),
    ]
    if r.random() < 0.5:
        parts.append(
            (
                "meta",
                FilePart(b'{"fw":"2.14.3","reason":"watchdog"}', "meta.json", "application/json"),
            )
        )
    c.cap.http(label, c.endpoint(), "POST", "/diag/upload", multipart=parts)


LATER: tuple[tuple[Template, int], ...] = (
    (t_dms_face, 4),
    (t_cabin_media, 4),
    (b_upload, 4),
)


def _schedule(rng: random.Random) -> list[Template]:
    """Every template's count, interleaved in a seeded order so kinds are mixed."""
    jobs: list[Template] = []
    for table in (PERSONAL, BENIGN):
        for template, count in table:
            jobs += [template] * count
    rng.shuffle(jobs)
    return jobs


def build_labelled() -> Capture:
    rng = random.Random(SEED)
    cap = Capture("labelled", T0, step=0.75)
    ctx = Ctx(cap, rng)
    counters: dict[str, int] = {}
    jobs = _schedule(rng)
    # Templates added later run after the others, so those keep their seeded values.
    later = [template for template, count in LATER for _ in range(count)]
    for template in jobs:
        _run(ctx, counters, template)
    rng.shuffle(later)
    for template in later:
        _run(ctx, counters, template)
    return cap


def _run(ctx: Ctx, counters: dict[str, int], template: Template) -> None:
    kind = template.__name__[2:]
    counters[kind] = counters.get(kind, 0) + 1
    template(ctx, f"{kind}-{counters[kind]:03d}")
