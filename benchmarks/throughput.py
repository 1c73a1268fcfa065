"""Annotation throughput of a zhie pipeline: characters/s, documents/s, peak memory.

    python benchmarks/throughput.py [--model DIR] [--docs 300] [--batch-size 32] [--n-process 1]
                                    [--compare-without relation_extractor]

Documents are built from corpus text (People's Daily clauses joined into
articles of ~600 characters, the length of a newspaper item) and run through
the same path as ``zhie annotate`` (layout cleaning, nlp.pipe, offset mapping).
Figures are printed and appended as one JSON line to
``benchmarks/results/throughput.jsonl``. ``--compare-without C`` also times
the same documents with component C disabled (in the same process, after the
full run) and reports what C costs in per cent of that throughput.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_documents(n: int, chars: int, corpora: str | None) -> list[tuple[str, str]]:
    from pipeline.training.corpora import load

    docs, buf = [], ""
    records = (rec for split in ("dev", "train") for rec in load("people_daily", split, corpora))
    for rec in records:
        buf += rec["text"] + "。"
        if len(buf) >= chars:
            docs.append((f"bench/{len(docs)}", buf))
            buf = ""
            if len(docs) == n:
                break
    if len(docs) < n:
        raise SystemExit(f"corpus too small for {n} documents of {chars} characters")
    return docs


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="pipeline directory (default: the shipped model)")
    ap.add_argument("--docs", type=int, default=300)
    ap.add_argument("--chars", type=int, default=600, help="characters per document")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--n-process", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads per process (0: torch default)")
    ap.add_argument("--corpora", default=None)
    ap.add_argument("--compare-without", default=None, metavar="COMPONENT",
                    help="also time the pipeline with this component disabled (e.g. relation_extractor)")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "throughput.jsonl"))
    args = ap.parse_args()

    import torch

    import pipeline
    from pipeline.app.annotate import annotate_texts

    if args.threads:
        torch.set_num_threads(args.threads)
    docs = build_documents(args.docs, args.chars, args.corpora)
    nlp = pipeline.load(args.model)
    annotate_texts_warm = list(annotate_texts(nlp, docs[:4], batch_size=4))  # load lazily-built parts
    n_chars = sum(len(t) for _, t in docs)

    def timed() -> tuple[float, int, int]:
        t0 = time.perf_counter()
        if args.n_process == 1:
            records = list(annotate_texts(nlp, docs, batch_size=args.batch_size))
            n_ents, n_rels = sum(len(r["entities"]) for r in records), sum(len(r["relations"]) for r in records)
        else:
            n_ents = sum(len(d.ents) for d in nlp.pipe((t for _, t in docs), batch_size=args.batch_size,
                                                       n_process=args.n_process))
            n_rels = -1
        return time.perf_counter() - t0, n_ents, n_rels

    seconds, n_ents, n_rels = timed()
    result = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "model": str(pipeline.model_path(args.model)),
        "pipeline": nlp.pipe_names,
        "docs": len(docs), "chars": n_chars, "entities": n_ents, "relations": n_rels,
        "batch_size": args.batch_size, "n_process": args.n_process,
        "torch_threads": torch.get_num_threads(),
        "seconds": round(seconds, 2),
        "chars_per_s": round(n_chars / seconds, 1),
        "docs_per_s": round(len(docs) / seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpu": platform.processor() or platform.machine(),
        "warmup_docs": len(annotate_texts_warm),
    }
    if args.compare_without:
        with nlp.select_pipes(disable=[args.compare_without]):
            base_seconds, _, _ = timed()
        result["without"] = {"component": args.compare_without, "seconds": round(base_seconds, 2),
                             "chars_per_s": round(n_chars / base_seconds, 1)}
        result["component_cost_pct"] = round(100 * (1 - base_seconds / seconds), 1)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        f.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
