"""Invented hostnames on real IPs that GeoLite2-City (Dec 2019) places in KZ, CN, DE, RU."""

from __future__ import annotations

from .build import Endpoint

KZ_TELEMATICS = Endpoint("telematics.example.kz", "95.56.0.1", 443, "KZ")
KZ_INSURER = Endpoint("api.example-insurer.kz", "2.133.0.1", 443, "KZ")
CN_TSP = Endpoint("tsp.example-cn-oem.cn", "223.5.5.5", 443, "CN")
CN_PUSH = Endpoint("push.example-cn-oem.cn", "223.5.5.5", 443, "CN")
CN_OTA = Endpoint("ota.example-cn-oem.cn", "114.114.114.114", 443, "CN")
CN_LOG = Endpoint("log.example-cn-oem.cn", "114.114.114.114", 443, "CN")
DE_MAPS = Endpoint("maps.example.de", "88.198.0.1", 443, "DE")
RU_MQTT = Endpoint("mqtt.example-tracker.ru", "77.88.8.8", 1883, "RU", tls=False)
RU_TRACK = Endpoint("track.example-tracker.ru", "77.88.8.8", 5055, "RU", tls=False)
KZ_MQTT = Endpoint("mqtt.example.kz", "95.56.0.1", 8883, "KZ")
CN_TRACKER = Endpoint("gps.example-tracker.cn", "114.114.114.114", 5023, "CN", tls=False)
LAN_HEADUNIT = Endpoint("headunit.lan", "192.168.1.10", 8080, None, tls=False)

ALL = (
    KZ_TELEMATICS,
    KZ_INSURER,
    CN_TSP,
    CN_PUSH,
    CN_OTA,
    CN_LOG,
    DE_MAPS,
    RU_MQTT,
    RU_TRACK,
    KZ_MQTT,
    CN_TRACKER,
    LAN_HEADUNIT,
)
