"""How often random bytes pass for protobuf when an unlabelled body is sniffed.

Usage:
    python bench/protobuf_sniff.py [--bodies 200000] [--seed 1]

Random bodies stand for encrypted or compressed payloads: an unlabelled one that is
taken for protobuf loses its "opaque payload" note. Lengths are mixed: a quarter each
of 1-16, 17-64, 65-512 and 513-4096 bytes. Each body goes through
``decode_protobuf(sniff=True)``; the baseline is the bare wire walk (``sniff=False``):
any body that parses completely as fields. Printed per length band: bodies, accepted
by the walk, accepted by the sniffer, and the sniffer's rate. Exit 0 always.
"""

from __future__ import annotations

import argparse
import random
import time

from shekara.audit.decoders.errors import DecodeError
from shekara.audit.decoders.protobuf import decode_protobuf

BANDS = ((1, 16), (17, 64), (65, 512), (513, 4096))


def accepted(data: bytes, *, sniff: bool) -> bool:
    try:
        decode_protobuf(data, sniff=sniff)
    except DecodeError:
        return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bodies", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    rows = {band: [0, 0, 0] for band in BANDS}
    start = time.perf_counter()
    for i in range(args.bodies):
        band = BANDS[i % len(BANDS)]
        data = rng.randbytes(rng.randint(*band))
        row = rows[band]
        row[0] += 1
        row[1] += accepted(data, sniff=False)
        row[2] += accepted(data, sniff=True)
    elapsed = time.perf_counter() - start
    print(f"seed {args.seed}, {args.bodies} random bodies, {elapsed:.1f}s\n")
    print(f"{'bytes':>11} {'bodies':>8} {'walk':>8} {'sniffed':>8} {'sniff rate':>11}")
    total = [0, 0, 0]
    for (lo, hi), row in rows.items():
        total = [t + r for t, r in zip(total, row, strict=True)]
        print(f"{lo:>5}-{hi:<5} {row[0]:>8} {row[1]:>8} {row[2]:>8} {row[2] / row[0]:>11.5%}")
    print(f"{'all':>11} {total[0]:>8} {total[1]:>8} {total[2]:>8} {total[2] / total[0]:>11.5%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
