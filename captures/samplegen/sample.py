"""captures/sample.mitm: one flow per decoding path, plus decoys and two undecodable bodies.

Each flow exercises one thing a decoder or detector must handle; the comment
above it says which. Values come from a seeded generator and are all valid.
"""

from __future__ import annotations

import gzip
import json
import random

from . import endpoints as ep
from . import geoformats, gt06, ids, media
from .build import Capture, FilePart, Publish, WsMessage
from .plant import (
    ACCOUNT_ID,
    BIOMETRIC,
    CABIN_MEDIA,
    CELL_LOCATION,
    CONTACTS,
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
    REMOTE_CONTROL,
    VIN,
    Embed,
    Plant,
    Planted,
)

SEED = 20191224
T0 = 1_733_040_000.0  # 2024-12-01T08:00:00Z: fixed so the bytes never change


def build_sample() -> Capture:
    rng = random.Random(SEED)
    cap = Capture("sample", T0)

    vin = ids.make_vin(rng, "LGX")
    imei = ids.make_imei(rng)
    iccid = ids.make_iccid(rng)
    imsi = ids.make_imsi(rng)
    phone = ids.make_phone(rng)
    name = ids.make_name(rng)
    email = ids.make_email(rng, name)
    iin = ids.make_iin(rng)
    plate = ids.make_plate(rng)
    wifi_mac = ids.make_mac(rng)
    bt_mac = ids.make_mac(rng)
    lat, lon = 43.238949, 76.945465  # Almaty, Abay/Dostyk

    def ms(offset: float = 0.0) -> int:
        return int((T0 + offset) * 1000)

    # 1. Plain JSON telemetry to the Chinese TSP: the core case.
    cap.http(
        "cn-telemetry-json",
        ep.CN_TSP,
        "POST",
        "/api/v2/vehicle/report",
        json_body={
            "vin": Plant(VIN, vin),
            "imei": Plant(IMEI, imei),
            "iccid": Plant(ICCID, iccid),
            "imsi": Plant(IMSI, imsi),
            "gps": {"lat": Plant(LOCATION, lat), "lon": lon, "speed": 42.5, "heading": 181},
            "soc": 76.5,
            "cabinTemp": 43.2,
            "ts": ms(),
        },
    )
    # 2. The same shape to a server in Kazakhstan: findings, no violation.
    cap.http(
        "kz-telemetry-json",
        ep.KZ_TELEMATICS,
        "POST",
        "/v1/telemetry",
        json_body={
            "vin": Plant(VIN, vin),
            "imei": Plant(IMEI, imei),
            "gps": {"lat": Plant(LOCATION, 43.240112), "lon": 76.947301, "speed": 38.0},
            "soc": 75.9,
            "ts": ms(5),
        },
        compact=False,
    )
    # 3. Owner profile: direct identifiers, and the account id the service knows them by.
    cap.http(
        "cn-owner-profile",
        ep.CN_TSP,
        "POST",
        "/api/v1/user/profile",
        json_body={
            "userId": Plant(ACCOUNT_ID, ids.make_uuid(rng)),
            "owner": {
                "name": Plant(PERSON_NAME, name),
                "phone": Plant(PHONE, phone),
                "email": Plant(EMAIL, email),
                "iin": Plant(IIN, iin),
            },
            "vehicle": {"plate": Plant(LICENSE_PLATE, plate), "color": "white", "model": "Song"},
            "appVersion": "5.3.1",
        },
    )
    # 4. gzip-compressed JSON (content-encoding gzip) with position and MACs.
    cap.http(
        "cn-gzip-telemetry",
        ep.CN_TSP,
        "POST",
        "/api/v2/vehicle/batch",
        json_body={
            "vin": Plant(VIN, vin),
            "position": {"latitude": Plant(LOCATION, 43.241577), "longitude": 76.949008},
            "wifiMac": Plant(MAC_ADDRESS, wifi_mac),
            "btMac": Plant(MAC_ADDRESS, bt_mac),
            "odometer": 18234.7,
        },
        gzip_body=True,
    )
    # 5. Query string position to a map service in Germany.
    cap.http(
        "de-reverse-geocode-query",
        ep.DE_MAPS,
        "GET",
        "/v1/reverse",
        query=[("lat", Plant(LOCATION, "43.238949")), ("lon", "76.945465"), ("lang", "ru")],
    )
    # 6. OsmAnd-style tracker report: IMEI and position in the query, plain HTTP.
    cap.http(
        "ru-osmand-query",
        ep.RU_TRACK,
        "GET",
        "/",
        query=[
            ("imei", Plant(IMEI, imei)),
            ("timestamp", str(int(T0))),
            ("lat", Plant(LOCATION, "43.242210")),
            ("lon", "76.951200"),
            ("speed", "11.2"),
            ("batt", "87"),
        ],
        user_agent="Dalvik/2.1.0",
    )
    # 7. x-www-form-urlencoded report.
    cap.http(
        "cn-form-report",
        ep.CN_TSP,
        "POST",
        "/gw/report.do",
        form=[
            ("imei", Plant(IMEI, imei)),
            ("iccid", Plant(ICCID, iccid)),
            ("phone", Plant(PHONE, ids.format_phone(phone, 3))),
            ("lat", Plant(LOCATION, "43.243001")),
            ("lng", "76.952114"),
            ("sign", ids.make_hex(rng, 16)),
        ],
    )
    # 8. Identifiers carried only in custom headers.
    cap.http(
        "cn-header-ids",
        ep.CN_TSP,
        "GET",
        "/api/v1/config",
        headers=[
            ("X-IMEI", Plant(IMEI, imei)),
            ("X-VIN", Plant(VIN, vin)),
            ("X-Request-Id", ids.make_uuid(rng)),
            ("X-App-Version", "5.3.1"),
        ],
    )
    # 9. Base64 that decodes to JSON.
    cap.http(
        "cn-base64-json",
        ep.CN_TSP,
        "POST",
        "/api/v3/upload",
        json_body={
            "data": Embed(
                "base64",
                Embed(
                    "json",
                    {
                        "imei": Plant(IMEI, imei),
                        "vin": Plant(VIN, vin),
                        "lat": Plant(LOCATION, 43.244512),
                        "lon": 76.953377,
                    },
                ),
            ),
            "encrypt": 0,
            "nonce": ids.make_hex(rng, 12),
        },
    )
    # 10. JSON text inside a JSON string.
    cap.http(
        "cn-embedded-json-string",
        ep.CN_TSP,
        "POST",
        "/api/v1/event",
        json_body={
            "event": "trip_start",
            "payload": Embed(
                "json",
                {
                    "vin": Plant(VIN, vin),
                    "location": {"lat": Plant(LOCATION, 43.245001), "lon": 76.954002},
                    "driver": {"name": Plant(PERSON_NAME, name)},
                },
            ),
        },
    )
    # 11. A track array: one location finding for the list.
    track = ids.make_track(rng, 6)
    cap.http(
        "cn-track-array",
        ep.CN_TSP,
        "POST",
        "/api/v1/trip/upload",
        json_body={
            "vin": Plant(VIN, vin),
            "tripId": ids.make_uuid(rng),
            "track": Plant(
                LOCATION, [{"lat": a, "lon": b, "t": ms(i * 5)} for i, (a, b) in enumerate(track)]
            ),
        },
    )
    # 12. GeoJSON LineString to the German map service.
    route = ids.make_track(rng, 5)
    cap.http(
        "de-geojson-route",
        ep.DE_MAPS,
        "POST",
        "/v2/matching",
        json_body={
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": Plant(LOCATION, geoformats.geojson_line(route)),
            },
            "properties": {"profile": "driving", "requestId": ids.make_uuid(rng)},
        },
    )
    # 13. NMEA sentence in a JSON string.
    cap.http(
        "ru-nmea-json",
        ep.RU_TRACK,
        "POST",
        "/api/nmea",
        json_body={
            "imei": Plant(IMEI, imei),
            "nmea": Plant(LOCATION, geoformats.gprmc(43.2461, 76.9551)),
        },
    )
    # 14. Encoded polyline (Google precision 5).
    cap.http(
        "de-polyline-route",
        ep.DE_MAPS,
        "POST",
        "/v1/route/share",
        json_body={
            "mode": "drive",
            "route": {
                "polyline": Plant(LOCATION, geoformats.encoded_polyline(ids.make_track(rng, 8)))
            },
            "distance_m": 5120,
        },
    )
    # 15. Chinese-OEM keys with micro-degree integers under lat keys.
    cap.http(
        "cn-microdegree-oem",
        ep.CN_TSP,
        "POST",
        "/tsp/vehicle/realtime",
        json_body={
            "vehicleVin": Plant(VIN, vin),
            "tboxImei": Plant(IMEI, imei),
            "simIccid": Plant(ICCID, iccid),
            "lat": Plant(LOCATION, 43238949),
            "lng": 76945465,
            "gpsTime": ms(30),
        },
    )
    # 16. VIN as a REST path segment.
    cap.http(
        "cn-vin-in-path",
        ep.CN_TSP,
        "GET",
        ["api", "v1", "vehicles", Plant(VIN, vin), "status"],
    )
    # 17. WebSocket: text JSON and binary frames; only client messages are scanned. The auth
    # token in the first message is a credential.
    cap.websocket(
        "cn-websocket-stream",
        ep.CN_PUSH,
        "/ws/v1/stream",
        [
            WsMessage(
                True,
                {
                    "type": "auth",
                    "token": Plant(CREDENTIALS, ids.make_hex(rng, 24)),
                    "deviceId": ids.make_uuid(rng),
                },
            ),
            WsMessage(False, {"type": "auth_ok", "session": ids.make_hex(rng, 8)}),
            WsMessage(
                True,
                {
                    "type": "location",
                    "data": {"lat": Plant(LOCATION, 43.247003), "lon": 76.956114, "speed": 22.1},
                },
            ),
            WsMessage(
                True,
                {"type": "identity", "vin": Plant(VIN, vin), "imei": Plant(IMEI, imei)},
                binary=True,
            ),
            WsMessage(True, bytes(range(0, 256, 7)), binary=True),
            WsMessage(False, {"type": "ack", "seq": 3}),
        ],
    )
    # 18. MQTT 3.1.1 over plain TCP: IMEI client id, e-mail username, a password (credentials,
    # at the decoder's password_present marker), split PUBLISH.
    topic = ("vehicle", Plant(VIN, vin), "telemetry")
    cap.mqtt(
        "ru-mqtt-telemetry",
        ep.RU_MQTT,
        client_id=Plant(IMEI, imei),
        username=Plant(EMAIL, email),
        password=ids.make_hex(rng, 8),
        publishes=[
            Publish(
                topic,
                {
                    "vin": Plant(VIN, vin),
                    "gps": {"lat": Plant(LOCATION, 43.248), "lon": 76.9572},
                    "soc": 74.0,
                    "ts": ms(60),
                },
            ),
            Publish(
                topic,
                {
                    "vin": Plant(VIN, vin),
                    "pos": {"lat": Plant(LOCATION, 43.248511), "lon": 76.957803},
                    "odometer": 18236.1,
                    "ts": ms(65),
                },
                split_at=23,
                qos=1,
            ),
            Publish(
                ("vehicle", Plant(VIN, vin), "sim"),
                {
                    "iccid": Plant(ICCID, iccid),
                    "imsi": Plant(IMSI, imsi),
                    "msisdn": Plant(PHONE, phone),
                },
            ),
        ],
    )
    # 19. Head unit on the car's LAN: a private address has no country.
    cap.http(
        "lan-headunit-sync",
        ep.LAN_HEADUNIT,
        "POST",
        "/sync/profile",
        json_body={
            "driverName": Plant(PERSON_NAME, name),
            "phone": Plant(PHONE, ids.format_phone(phone, 1)),
            "plate": Plant(LICENSE_PLATE, plate),
        },
    )
    # 20. Domestic insurer: IIN, name, plate, VIN to KZ.
    cap.http(
        "kz-insurer-policy",
        ep.KZ_INSURER,
        "POST",
        "/v1/policy/quote",
        json_body={
            "iin": Plant(IIN, iin),
            "fullName": Plant(PERSON_NAME, name),
            "plateNumber": Plant(LICENSE_PLATE, ids.make_plate(rng, spaced=True)),
            "vin": Plant(VIN, vin),
            "mobile": Plant(PHONE, ids.format_phone(phone, 2)),
        },
    )
    # 21. Emergency contacts in several phone formats: the list is contacts, each entry also
    # a name and a phone.
    second_phone = ids.make_phone(rng)
    cap.http(
        "cn-emergency-contacts",
        ep.CN_TSP,
        "PUT",
        "/api/v1/user/contacts",
        json_body={
            "contacts": Plant(
                CONTACTS,
                [
                    {
                        "name": Plant(PERSON_NAME, ids.make_name(rng)),
                        "phone": Plant(PHONE, ids.format_phone(second_phone, 2)),
                    },
                    {
                        "name": Plant(PERSON_NAME, ids.make_name(rng, cyrillic=True)),
                        "phone": Plant(PHONE, ids.format_phone(ids.make_phone(rng), 3)),
                    },
                ],
            ),
        },
    )
    # 22. Account login: e-mail as the username.
    cap.http(
        "de-account-login",
        ep.DE_MAPS,
        "POST",
        "/oauth/token",
        json_body={
            "username": Plant(EMAIL, email),
            "password": "********",
            "grant_type": "password",
            "client_id": ids.make_uuid(rng),
        },
    )
    # 23. SIM block only.
    cap.http(
        "cn-sim-info",
        ep.CN_TSP,
        "POST",
        "/api/v1/tbox/sim",
        json_body={
            "sim": {
                "imsi": Plant(IMSI, imsi),
                "iccid": Plant(ICCID, iccid),
                "operator": "Tele2.kz",
                "rssi": -71,
            }
        },
    )
    # 24. Latitude/longitude as strings, Chinese-OEM key names.
    cap.http(
        "cn-oem-string-coords",
        ep.CN_TSP,
        "POST",
        "/tsp/v1/position",
        json_body={
            "vehicleVin": Plant(VIN, vin),
            "gpsLat": Plant(LOCATION, "43.249120"),
            "gpsLng": "76.958431",
            "gpsTime": ms(90),
        },
    )
    # 25. MQTT over TLS to a domestic broker, CONNECT and first PUBLISH in one segment.
    cap.mqtt(
        "kz-mqtt-tls",
        ep.KZ_MQTT,
        client_id=Plant(IMEI, ids.make_imei(rng)),
        publishes=[
            Publish(
                ("vehicle", Plant(VIN, vin), "telemetry"),
                {"vin": Plant(VIN, vin), "lat": Plant(LOCATION, 43.25011), "lon": 76.95912},
            )
        ],
        coalesce_connect=True,
    )

    # Benign flows and decoys: none of these may give a finding (but the token refresh).
    cap.http(
        "cn-battery-decoy",
        ep.CN_TSP,
        "POST",
        "/api/v2/vehicle/battery",
        json_body={
            "soc": 76.5,
            "cabinTemp": 43.2,
            "outsideTemp": -12.5,
            "range_km": 312,
            "cellVoltageMax": 4.112,
            "ts": ms(120),
        },
    )
    cap.http(
        "cn-order-decoy",
        ep.CN_TSP,
        "POST",
        "/api/v1/charge/order",
        json_body={
            "orderNo": ids.make_luhn_failing(rng, 15),
            "paymentRef": ids.make_luhn_failing(rng, 15),
            "requestId": ids.make_uuid(rng),
            "nonce": ids.make_hex(rng, 16),
            "amount": 4350.0,
            "currency": "KZT",
            "ts": ms(130),
        },
    )
    cap.http(
        "cn-ota-partnumber-decoy",
        ep.CN_OTA,
        "POST",
        "/ota/v1/check",
        json_body={
            "partNumber": ids.make_bad_vin(rng),
            "ecu": "BCM",
            "hwPartNo": ids.make_bad_vin(rng),
            "swVersion": "2.14.3-build.7781",
            "buildId": ids.make_hex(rng, 20),
        },
    )
    cap.http(
        "cn-ui-events-decoy",
        ep.CN_LOG,
        "POST",
        "/collect",
        json_body={
            "events": [
                {"screen": "map", "action": "tap", "x": 43.21, "y": 76.88, "ts": ms(140)},
                {"screen": "home", "action": "swipe", "x": 540, "y": 1170, "ts": ms(141)},
            ],
            "sessionId": ids.make_uuid(rng),
            "appVersion": "5.3.1",
        },
    )
    cap.http(
        "cn-metrics-decoy",
        ep.CN_LOG,
        "POST",
        "/metrics",
        json_body={
            "cpu": 23.5,
            "mem": 61.2,
            "uptime_s": 86412,
            "invoiceNo": ids.make_bad_iin(rng),
            "fw": "1.0.7",
            "hash": ids.make_hex(rng, 32),
            "ts": ms(150),
        },
    )
    cap.http("de-map-tile", ep.DE_MAPS, "GET", "/tiles/12/2845/1510.png", user_agent="Mozilla/5.0")
    cap.http(
        "kz-heartbeat",
        ep.KZ_TELEMATICS,
        "POST",
        "/v1/heartbeat",
        json_body={"status": "ok", "seq": 1042, "rssi": -67, "ts": ms(160)},
    )
    # A refresh token is a credential: whoever holds it can act as the account.
    cap.http(
        "cn-token-refresh-form",
        ep.CN_TSP,
        "POST",
        "/oauth/refresh",
        form=[
            ("grant_type", "refresh_token"),
            ("refresh_token", Plant(CREDENTIALS, ids.make_hex(rng, 24))),
            ("client_id", ids.make_uuid(rng)),
        ],
    )
    cap.http(
        "cn-weather-city",
        ep.CN_TSP,
        "GET",
        "/api/v1/weather",
        query=[("city", "Almaty"), ("units", "metric"), ("ts", str(ms(170)))],
    )
    cap.http(
        "cn-gzip-benign",
        ep.CN_LOG,
        "POST",
        "/log/upload",
        json_body={"level": "info", "msg": "tbox online", "count": 3, "ts": ms(175)},
        gzip_body=True,
    )

    # Undecodable bodies: a note each, never a finding.
    cap.http(
        "cn-malformed-json",
        ep.CN_TSP,
        "POST",
        "/api/v1/status",
        raw=b'{"status": "ok", "count": 3, "items": [1, 2,',
        content_type="application/json",
        notes=["request.body"],
    )
    cap.http(
        "cn-broken-gzip",
        ep.CN_TSP,
        "POST",
        "/api/v2/vehicle/batch",
        raw=gzip.compress(json.dumps({"status": "ok"}).encode(), mtime=0)[:12] + b"\x00garbage",
        content_type="application/json",
        gzip_body=True,
        notes=["request.body"],
    )
    # A GT06 tracker reporting to China over raw TCP, with its serving cell; the server cuts
    # fuel/power.
    tracker_imei = ids.make_imei(rng)
    cap.raw_tcp(
        "cn-gt06-tracker-relay",
        ep.CN_TRACKER,
        [
            (True, gt06.login(tracker_imei)),
            (False, gt06.frame(0x01, b"", 1)),
            (True, gt06.position(43.238949, 76.889709, (24, 11, 28, 9, 30, 0))),
            (False, gt06.server_command("RELAY,1#")),
        ],
        [
            ("gt06.login", Planted(IMEI, "$.imei", tracker_imei)),
            ("gt06.location", Planted(LOCATION, "$.position.lat", 43.238949)),
            ("gt06.location", Planted(CELL_LOCATION, "$.cell", gt06.cell_text())),
            ("gt06.down.command", Planted(REMOTE_CONTROL, "$.command", "relay (cut fuel/power)")),
        ],
    )

    # Uploads (multipart/form-data), added last so the flows above keep their bytes.
    # A driver-monitoring camera frame named as a face: biometric.
    cap.http(
        "cn-dms-face-upload",
        ep.CN_TSP,
        "POST",
        "/api/v1/dms/event",
        multipart=[
            ("vin", Plant(VIN, vin)),
            ("event", "fatigue_alert"),
            ("ts", str(ms(200))),
            (
                "dms_face",
                Plant(
                    BIOMETRIC,
                    FilePart(media.jpeg_gray(64, 48, "dms cam 0"), "face.jpg", "image/jpeg"),
                ),
            ),
        ],
    )
    # A cabin camera clip: cabin media (the camera's subject is not named).
    cap.http(
        "cn-cabin-camera-clip",
        ep.CN_TSP,
        "POST",
        "/api/v1/cabin/upload",
        multipart=[
            (
                "cabin_clip",
                Plant(CABIN_MEDIA, FilePart(media.mp4_clip(rng, 600), "clip.mp4", "video/mp4")),
            ),
            ("duration_ms", "2000"),
        ],
    )
    # A voice-assistant recording to a domestic server: cabin media, no violation.
    cap.http(
        "kz-voice-assistant-audio",
        ep.KZ_TELEMATICS,
        "POST",
        "/v1/assistant/query",
        multipart=[
            ("lang", "ru"),
            (
                "voice",
                Plant(CABIN_MEDIA, FilePart(media.wav_tone(440, 60), "query.wav", "audio/wav")),
            ),
        ],
    )
    # Decoy: a diagnostics upload (a text log and an opaque dump) holds no personal data.
    cap.http(
        "cn-diagnostics-upload-decoy",
        ep.CN_LOG,
        "POST",
        "/diag/upload",
        multipart=[
            ("ecu", "TBOX"),
            ("log", FilePart(b"I/tbox: network up rssi=-71 v=2.14.3\n", "tbox.log", "text/plain")),
            (
                "dump",
                FilePart(b"TBXD" + rng.randbytes(96), "core.bin", "application/octet-stream"),
            ),
        ],
    )
    return cap
