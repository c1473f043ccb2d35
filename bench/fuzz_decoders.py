"""The longer fuzz run, on demand: every stream decoder fed mutated real samples for a while.

Usage:
    python bench/fuzz_decoders.py [--seconds 60] [--seed N] [--only gt06,jt808]

The test suite runs a bounded, derandomised hypothesis budget per decoder;
this script mutates the real protocol samples (tests/data/protocol_samples)
for as long as asked: byte flips, insertions, deletions, truncation,
duplication, splicing two samples, random chunking, in both directions, and
also pushes each mutant through detection. The contract checked: only
DecodeError may escape, no note reports a contained decoder bug, and no input
takes more than a second. Exit 1 on any violation, with the input in hex to
reproduce it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from protocol_corpus import load_samples

from shekara.audit.decoders import DecodeError
from shekara.audit.decoders.framed_stream import INTERNAL_ERROR
from shekara.audit.decoders.streams import PROTOCOLS, StreamProtocol
from shekara.audit.detectors import detect

SLOW = 1.0  # seconds: a single input taking longer counts as a hang


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(b) + 1) if b else 0
        if op == 0 and b:
            b[min(pos, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            b[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2 and b:
            del b[pos : pos + rng.randint(1, 8)]
        elif op == 3:
            del b[pos:]
        elif op == 4:
            b += b[: rng.randint(0, len(b))]
        elif op == 5:
            other = rng.choice(pool)
            b[pos:] = other[rng.randrange(len(other) + 1) :]
        elif op == 6 and b:
            b[min(pos, len(b) - 1)] = rng.choice((0x00, 0xFF, 0x7E, 0x7D, 0x23, 0x2C, 0x2A))
    return bytes(b)


def run_one(proto: StreamProtocol, data: bytes, rng: random.Random, from_client: bool) -> None:
    stream = proto.stream(from_client=from_client)
    i = 0
    while i < len(data):
        n = rng.randint(1, 1460)
        try:
            docs = stream.feed(data[i : i + n])
        except DecodeError:
            return
        for doc in docs:
            detect(doc)
        for note in stream.take_notes():
            # A decoder bug the stream contained is still a bug.
            if note.reason.startswith(INTERNAL_ERROR):
                raise AssertionError(f"contained decoder bug: {note}")
        i += n


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--only", default="", help="comma-separated protocol names")
    args = p.parse_args()
    rng = random.Random(args.seed)
    samples = [s for s in load_samples() if s.carrier == "stream"]
    pool = [s.data for s in samples]
    own = {name: [s.data for s in samples if s.file == name] for name in {s.file for s in samples}}
    protos = [pr for pr in PROTOCOLS if not args.only or pr.name in args.only.split(",")]
    runs: Counter[str] = Counter()
    deadline = time.monotonic() + args.seconds
    print(f"seed {args.seed}, {len(pool)} seed samples, {len(protos)} decoders", flush=True)
    while time.monotonic() < deadline:
        proto = rng.choice(protos)
        # Mostly the decoder's own samples (deep paths), sometimes anyone's.
        seeds = own.get(proto.name) if rng.random() < 0.75 else None
        data = mutate(rng, rng.choice(seeds or pool), pool)
        from_client = rng.random() < 0.8
        started = time.monotonic()
        try:
            run_one(proto, data, random.Random(rng.random()), from_client)
        except Exception:
            print(f"FAIL {proto.name} from_client={from_client} input {data.hex()}")
            traceback.print_exc()
            return 1
        if time.monotonic() - started > SLOW:
            print(f"SLOW {proto.name} {time.monotonic() - started:.2f}s input {data.hex()}")
            return 1
        runs[proto.name] += 1
    total = sum(runs.values())
    print(f"{total} mutated inputs, no exception but DecodeError, none slower than {SLOW}s")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(runs.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
