"""A synthetic finding the benchmarks vary: one template, each bench its own variations."""

from __future__ import annotations

from shekara.audit.model import Category, Confidence, Destination, Finding, Verdict

BASE = Finding(
    flow_id="",
    category=Category.VIN,
    field="request.body:$.vehicle.vin",
    source="request.body",
    preview="WVW*********1234",
    value_hash="",
    destination=Destination(
        host="telematics.example.cn",
        ip="203.0.113.7",
        port=443,
        sni="telematics.example.cn",
        country="CN",
        city="Beijing",
        asn=4134,
        org="Example Telecom",
        geo_source="GeoLite2-City (embedded)",
        geo_build="2019-12-24",
        confidence=Confidence.HIGH,
    ),
    verdict=Verdict.CROSS_BORDER,
    violation=True,
    rule_id="KZ-LOC-VIN",
    severity="high",
    detector="vin: ISO 3779 check digit valid",
    confidence=Confidence.HIGH,
    observed_at=0.0,
    recorded_at=0.0,
    legal_refs=("KZ-PDL-12(2)", "KZ-PDL-16"),
)
