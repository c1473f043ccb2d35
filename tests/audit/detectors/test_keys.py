from __future__ import annotations

import pytest

from shekara.audit.detectors import keys
from shekara.audit.detectors.keys import hints_for, key_info, key_segment, key_tokens, normalise_key


@pytest.mark.parametrize(
    "key, expected",
    [
        ("vehicleVin", "vehiclevin"),
        ("vehicle_vin", "vehiclevin"),
        ("VIN", "vin"),
        ("gps.lat", "gpslat"),
        ("x-imei", "ximei"),
        ("Plate No", "plateno"),
        ("phone[2]", "phone"),  # a repeated flat key
        ("ГосНомер", "госномер"),
    ],
)
def test_normalise_key(key: str, expected: str) -> None:
    assert normalise_key(key) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        ("vehicleVin", ("vehicle", "vin")),
        ("VINNumber", ("vin", "number")),
        ("latitudeE7", ("latitude", "e", "7")),
        ("gps_lat", ("gps", "lat")),
        ("x-imei", ("x", "imei")),
        ("emergency_contact", ("emergency", "contact")),
        ("", ()),
    ],
)
def test_key_tokens(key: str, expected: tuple[str, ...]) -> None:
    assert key_tokens(key) == expected


@pytest.mark.parametrize(
    "key, bit",
    [
        ("vin", keys.VIN),
        ("vehicleVin", keys.VIN),
        ("vehicle_vin", keys.VIN),
        ("VIN", keys.VIN),
        ("vinNumber", keys.VIN),
        ("deviceIMEI", keys.IMEI),
        ("x-imei", keys.IMEI),
        ("imsi", keys.IMSI),
        ("sim_iccid", keys.ICCID),
        ("simCard", keys.SIM),
        ("msisdn", keys.PHONE),
        ("phoneNumber", keys.PHONE),
        ("contact_number", keys.PHONE),
        ("sos", keys.PHONE),
        ("tel", keys.PHONE),
        ("iin", keys.IIN),
        ("ИИН", keys.IIN),
        ("first_name", keys.PERSON_NAME),
        ("lastName", keys.PERSON_NAME),
        ("fio", keys.PERSON_NAME),
        ("name", keys.BARE_NAME),
        ("display_name", keys.DISPLAY_NAME),
        ("driver", keys.PERSON_PARENT),
        ("emergencyContacts", keys.PERSON_PARENT),
        ("vehicle", keys.THING_PARENT),
        ("plateNumber", keys.PLATE),
        ("gos_nomer", keys.PLATE),
        ("bt_mac", keys.MAC),
        ("bssid", keys.MAC),
        ("lat", keys.LAT),
        ("gpsLatitude", keys.LAT),
        ("lng", keys.LON),
        ("native_longitude", keys.LON),
        ("latitudeE7", keys.SCALE_E7),
        ("location", keys.LOCATION),
        ("track", keys.TRACK),
        ("overview_polyline", keys.POLYLINE),
        ("order_no", keys.ORDER),
        ("timestamp", keys.NOT_PERSONAL),
        ("user_id", keys.ACCOUNT),
        ("accountId", keys.ACCOUNT),
        ("uid", keys.ACCOUNT),
        ("openid", keys.ACCOUNT),
        ("x-user-id", keys.ACCOUNT),
        ("password", keys.SECRET),
        ("loginPassword", keys.SECRET),
        ("client_secret", keys.SECRET),
        ("x-api-key", keys.SECRET),
        ("access_token", keys.SECRET),
        ("token", keys.SECRET),
        ("Authorization", keys.AUTH_HEADER),
        ("mcc", keys.MCC),
        ("mobileCountryCode", keys.MCC),
        ("mnc", keys.MNC),
        ("tac", keys.LAC),
        ("locationAreaCode", keys.LAC),
        ("cell_id", keys.CELL_ID),
        ("eci", keys.CELL_ID),
        ("cellTowers", keys.CELL_PARENT),
        ("lbs", keys.CELL_PARENT),
        ("contacts", keys.CONTACT_LIST),
        ("call_log", keys.CONTACT_LIST),
        ("addressBook", keys.CONTACT_LIST),
        ("sos_numbers", keys.CONTACT_LIST),
        ("photo", keys.MEDIA),
        ("snapshotImage", keys.MEDIA),
        ("voice_recording", keys.MEDIA),
        ("face_image", keys.BIOMETRIC),
        ("voiceprint", keys.BIOMETRIC),
        ("driverMonitoring", keys.BIOMETRIC),
        ("dms", keys.BIOMETRIC),
        ("media", keys.MEDIA_PART),
        ("password_present", keys.MARKER),
    ],
)
def test_hint_present(key: str, bit: int) -> None:
    assert hints_for(key) & bit


@pytest.mark.parametrize(
    "key, bit",
    [
        ("driving_mode", keys.VIN),  # "vin" hides in "driving"
        ("saving", keys.VIN),
        ("telemetry", keys.PHONE),  # "tel" hides in "telemetry"
        ("automobile_type", keys.PHONE),
        ("machine", keys.MAC),  # "mac" hides in "machine"
        ("file_name", keys.PERSON_NAME),
        ("fileName", keys.PERSON_NAME),
        ("host_name", keys.PERSON_NAME),
        ("app_name", keys.PERSON_NAME),
        ("model_name", keys.PERSON_NAME),
        ("device_name", keys.PERSON_NAME),
        ("car_name", keys.PERSON_NAME),
        ("user_name", keys.PERSON_NAME),  # a login
        ("ssid", keys.PERSON_NAME),
        ("filename", keys.BARE_NAME),
        ("flat", keys.LAT),
        ("soc", keys.LAT | keys.LON),
        ("cabin_temp", keys.LAT | keys.LON),
        ("x", keys.LAT | keys.LON),
        ("y", keys.LAT | keys.LON),
        ("device_id", keys.DIGIT_IDS),
        ("id", keys.ACCOUNT),  # a record's id, not an account's
        ("uuid", keys.ACCOUNT),
        ("guid", keys.ACCOUNT),
        ("fluid", keys.ACCOUNT),
        ("device_id", keys.ACCOUNT),
        ("push_token", keys.SECRET),  # a device registration, not a credential
        ("fcm_token", keys.SECRET),
        ("csrf_token", keys.SECRET),
        ("token_type", keys.SECRET),
        ("passenger", keys.SECRET),
        ("password_present", keys.SECRET),  # a decoder's marker, handled on its own
        ("interface", keys.BIOMETRIC),  # "face" hides in "interface", "surface"
        ("surface", keys.BIOMETRIC),
        ("typeface", keys.BIOMETRIC),
        ("drivers", keys.CONTACT_LIST),
        ("cid_list", keys.CELL_ID),
    ],
)
def test_hint_absent(key: str, bit: int) -> None:
    assert not hints_for(key) & bit


@pytest.mark.parametrize(
    "key, expected",
    [
        ("vin", ".vin"),
        ("x-imei", ".x-imei"),
        ("_private", "._private"),
        ("a b", "['a b']"),
        ("1st", "['1st']"),
        ("it's", "['it\\'s']"),
        ("back\\slash", "['back\\\\slash']"),
        ("ИИН", "['ИИН']"),
    ],
)
def test_key_segment(key: str, expected: str) -> None:
    assert key_segment(key) == expected


def test_key_info_is_cached_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert key_info("vehicleVin") is key_info("vehicleVin")
    info = key_info("gpsLat")
    assert info.lower == "gpslat" and info.latlon == keys.LAT and info.segment == ".gpsLat"
    assert info.struct == keys.LAT and key_info("mcc").struct == keys.MCC
    assert key_info("vin").struct == 0
    monkeypatch.setattr(keys, "_CACHE_MAX", 3)
    for i in range(10):
        key_info(f"k{i}")
    assert len(keys.CACHE) <= 3
