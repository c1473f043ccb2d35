"""Bounded coverage-guided fuzzing (atheris) of every decoder, from real samples.

Each target runs in its own process (libFuzzer owns the process and exits on
the first crash), seeded with the real protocol samples, for a fixed number
of runs with a fixed seed. ``tests/fuzz/atheris_target.py`` states the
contract; a longer run is the same script with a larger ``-max_total_time``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris has no wheel for this platform")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from protocol_corpus import load_samples

from shekara.audit.decoders.streams import PROTOCOLS

TARGET = Path(__file__).with_name("atheris_target.py")
RUNS = 4000
SECONDS = 8
# Client direction, cut into 128-byte pieces; see atheris_target.stream_target.
UP, DOWN = b"\x7f", b"\xff"

# Seeds for the decoders without labelled real samples.
EXTRA_STREAM_SEEDS = {
    "mqtt": [
        bytes.fromhex("101800044d5154540402003c000c747261636b65722d30303031"),
        bytes.fromhex("3019000f76656869636c652f312f7374617465") + b'{"vin":"X"}',
    ],
    "nmea": [b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n"],
}
BODY_SEEDS = {
    "application/json": [b'{"vin":"WVWZZZ1JZXW000001","gps":{"lat":43.25,"lon":76.9}}'],
    "application/x-www-form-urlencoded": [b"imei=356938035643809&lat=43.25&lon=76.95"],
    "application/x-protobuf": [
        bytes.fromhex("0a1157565a5a5a314a5a5857303030303031" "1101000000000000f03f")
    ],
    "application/grpc": [bytes.fromhex("00000000050a03616263")],
    "application/msgpack": [
        bytes.fromhex("82a376696eb157565a5a5a314a5a5857303030303031" "a36c6174cb40459fbe76c8b439")
    ],
    "application/cbor": [bytes.fromhex("a26376696e7157565a5a5a314a5a585730303030303163696d656973")],
    "multipart/form-data; boundary=b": [
        b'--b\r\nContent-Disposition: form-data; name="vin"\r\n\r\nWVWZZZ1JZXW000001\r\n'
        b'--b\r\nContent-Disposition: form-data; name="face"; filename="f.jpg"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--b--\r\n"
    ],
}  # fmt: skip


def _stream_seeds(name: str) -> list[bytes]:
    own = [
        (UP if s.from_client else DOWN) + s.data
        for s in load_samples()
        if s.carrier == "stream" and s.file == name
    ]
    return own + [UP + seed for seed in EXTRA_STREAM_SEEDS.get(name, [])]


TARGETS = [(p.name, _stream_seeds(p.name)) for p in PROTOCOLS] + [
    (f"body:{ctype}", seeds) for ctype, seeds in BODY_SEEDS.items()
]


@pytest.mark.slow
@pytest.mark.parametrize(("target", "seeds"), TARGETS, ids=[t for t, _ in TARGETS])
def test_decoder_survives_coverage_guided_fuzzing(
    target: str, seeds: list[bytes], tmp_path: Path
) -> None:
    assert seeds, f"no seed for {target}"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    proc = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            target,
            f"-runs={RUNS}",
            f"-max_total_time={SECONDS}",
            "-timeout=5",
            "-rss_limit_mb=1024",
            "-max_len=4096",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = proc.stderr
    tail = "\n".join(log.splitlines()[-25:])
    assert proc.returncode == 0, f"{target}: libFuzzer reported a failure:\n{tail}"
    done = re.search(r"DONE\s+cov: (\d+)", log)
    assert done, f"{target}: the fuzzer did not finish:\n{tail}"
    # Instrumentation works: the decoder's own branches were seen, not just the harness's.
    assert int(done.group(1)) > 20, f"{target}: coverage {done.group(1)} — not instrumented?"
