"""Test data shared across the suite's folders: what a finding's server abroad looks like."""

from __future__ import annotations

from shekara.audit.model import Confidence, Destination

#: A telematics server in CN, placed with high confidence.
FOREIGN = Destination(
    host="telematics.example.cn",
    ip="203.0.113.7",
    port=443,
    sni="telematics.example.cn",
    country="CN",
    city="Beijing",
    asn=4134,
    org="Example Telecom",
    geo_source="geolite2-country",
    geo_build="2024-06-01",
    confidence=Confidence.HIGH,
)
