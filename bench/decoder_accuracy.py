"""Precision and recall of protocol decoders + detectors on the labelled real samples, and
silence on a seeded benign corpus, folded with bench/accuracy.py's HTTP captures.

Usage:
    python bench/decoder_accuracy.py [--min-precision 0.98] [--min-recall 0.97]
                                     [--seed N] [--no-http] [--show-benign]

Each sample of tests/data/protocol_samples is sniffed (streams.sniff), fed to its
protocol's Stream in the direction it flowed, and every Document run through
``detect``; HTTP tracker samples (OsmAnd, OwnTracks) go through decode_query /
decode_body. The set of categories found per sample is scored against the expected
set (bench/protocol_corpus.py says where labels come from) as (sample, category)
pairs. Benign inputs (bench/benign_corpus.py) must give no hit at all. The
whole-corpus figure adds bench/accuracy.py's (flow, category) pairs from replaying
the labelled captures, and benign hits as false positives.
Exit 1 below either target or on any benign hit, 2 when a capture replay failed.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy
from benign_corpus import Benign, corpus
from protocol_corpus import Sample, load_samples

from shekara.audit.decoders import (
    DecodeError,
    decode_body,
    decode_query,
    streams,
)
from shekara.audit.detectors import detect
from shekara.audit.model import Document

Score = accuracy.Score


@dataclass
class Outcome:
    protocol: str | None
    categories: set[str] = field(default_factory=set)
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def _categories(documents: Iterable[Document]) -> set[str]:
    return {hit.category.value for doc in documents for hit in detect(doc)}


def feed(protocol: streams.StreamProtocol, data: bytes, *, from_client: bool = True) -> Outcome:
    """Decode ``data`` with ``protocol``'s stream and detect; a decode error ends the stream."""
    stream = protocol.stream(from_client=from_client)
    outcome = Outcome(protocol.name)
    try:
        documents = stream.feed(data)
    except DecodeError as exc:
        documents = list(getattr(exc, "documents", []))
        outcome.error = f"{type(exc).__name__}: {exc}"[:120]
    outcome.categories = _categories(documents)
    outcome.notes = [n.reason[:80] for n in stream.take_notes()]
    return outcome


def run_stream(data: bytes, *, from_client: bool = True) -> Outcome:
    """What the proxy does with a raw TCP connection: sniff its first bytes, then decode."""
    protocol = streams.sniff(data)
    if protocol is None:
        return Outcome(None)
    return feed(protocol, data, from_client=from_client)


def run_http(kind: str, data: bytes, content_type: str | None = None) -> Outcome:
    try:
        if kind == "query":
            text = data.decode("utf-8", "replace")
            doc = decode_query(text.split("?", 1)[1] if "?" in text else text)
        elif kind == "ws":
            doc = decode_body(data, None, "websocket.message[0]")
        else:
            doc = decode_body(
                data, content_type or ("application/json" if kind == "json" else None)
            )
    except DecodeError as exc:
        return Outcome(kind, error=f"DecodeError: {exc}"[:120])
    return Outcome(kind, _categories([doc]))


def run_sample(sample: Sample) -> Outcome:
    if sample.carrier == "stream":
        return run_stream(sample.data, from_client=sample.from_client)
    return run_http(sample.carrier, sample.data)


def evaluate_samples(samples: list[Sample]) -> tuple[Score, dict[str, Score]]:
    expected = {(s.id, c) for s in samples for c in s.expected}
    found: set[tuple[str, str]] = set()
    print(f"== protocol samples: {len(samples)} labelled, {len(expected)} expected pairs ==")
    for s in samples:
        out = run_sample(s)
        found |= {(s.id, c) for c in out.categories}
        wrong_protocol = s.carrier == "stream" and out.protocol != s.file
        if out.categories != s.expected or wrong_protocol or out.error:
            print(
                f"  {s.id:<26} sniffed {out.protocol!s:<10} expected {sorted(s.expected)} "
                f"found {sorted(out.categories)}" + (f" [{out.error}]" if out.error else "")
            )
    total, per = accuracy.score(expected, found)
    accuracy.print_table(per, total)
    return total, per


def evaluate_benign(inputs: list[Benign], show: bool) -> list[tuple[str, str, bool]]:
    """(input id, category, from a capture) for every hit on a benign input; should be empty."""
    hits: list[tuple[str, str, bool]] = []
    kinds: dict[str, int] = {}
    for b in inputs:
        kinds[b.kind] = kinds.get(b.kind, 0) + 1
        if b.kind == "stream":
            outcomes = [run_stream(b.data)]
        elif b.kind == "stream-all":
            # Random bytes go through the sniffer and, forced, through every decoder.
            outcomes = [run_stream(b.data)] + [feed(p, b.data) for p in streams.PROTOCOLS]
        else:
            outcomes = [run_http(b.kind, b.data, b.content_type)]
        cats = set().union(*(o.categories for o in outcomes))
        hits += [(b.id, c, b.from_capture) for c in sorted(cats)]
        if cats or show:
            print(f"  {'HIT' if cats else 'ok ':<4}{b.id:<48} {sorted(cats)}")
    total_bytes = sum(len(b.data) for b in inputs)
    print(
        f"== benign corpus: {len(inputs)} inputs ({', '.join(f'{k} {v}' for k, v in kinds.items())}"
        f"; {total_bytes} bytes): {len(hits)} hits =="
    )
    return hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-precision", type=float, default=0.98)
    parser.add_argument("--min-recall", type=float, default=0.97)
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--no-http", action="store_true", help="skip replaying the captures")
    parser.add_argument("--show-benign", action="store_true", help="list every benign input")
    args = parser.parse_args(argv)

    samples = list(load_samples())
    proto_total, proto_per = evaluate_samples(samples)
    print()
    benign_hits = evaluate_benign(corpus(args.seed), args.show_benign)

    whole, whole_per = Score(), dict[str, Score]()
    for cat, s in proto_per.items():
        whole_per.setdefault(cat, Score()).add(s)
    whole.add(proto_total)
    for _, cat, from_capture in benign_hits:
        if from_capture and not args.no_http:
            continue  # the capture replay below counts it as a false positive already
        whole_per.setdefault(cat, Score()).fp += 1
        whole.fp += 1
    if not args.no_http:
        with tempfile.TemporaryDirectory(prefix="shekara-decoder-accuracy-") as tmp:
            for capture in accuracy.DEFAULT_CAPTURES:
                with contextlib.redirect_stdout(sys.stderr):  # keep stdout to the summary
                    total, per = accuracy.evaluate(capture, None, Path(tmp))
                print(
                    f"\n== {capture.name} (bench/accuracy.py): precision {total.precision:.3f} "
                    f"recall {total.recall:.3f}, TP {total.tp} FP {total.fp} FN {total.fn}"
                )
                whole.add(total)
                for cat, s in per.items():
                    whole_per.setdefault(cat, Score()).add(s)

    scope = "protocol samples + benign" if args.no_http else "protocol samples + captures + benign"
    print(f"\n== whole labelled corpus ({scope}) ==")
    accuracy.print_table(whole_per, whole)
    ok = (
        whole.precision >= args.min_precision
        and whole.recall >= args.min_recall
        and not benign_hits
    )
    print(
        f"\nprotocol samples: precision {proto_total.precision:.3f} recall {proto_total.recall:.3f}"
        f"\nwhole corpus: precision {whole.precision:.3f} (target >= {args.min_precision}), "
        f"recall {whole.recall:.3f} (target >= {args.min_recall}), "
        f"TP {whole.tp} FP {whole.fp} FN {whole.fn}; benign hits {len(benign_hits)} (target 0): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
