"""``zhie annotate`` on an archive: characters/s and peak memory for each --n-process.

    python benchmarks/archive.py [--model DIR] [--docs 5000] [--n-process 1 2] [--batch-size 32]

Builds a zip of ``--docs`` documents (CLUENER train sentences, 1-3 per
document, one in five stored as GB18030 so decoding is exercised), then
annotates it once per ``--n-process`` value through the same path as the
command (reading the zip, layout cleaning, nlp.pipe, JSONL output). Each run
is a fresh subprocess, so its peak memory (``getrusage``, itself and its
worker processes) is its own. Checks that every run wrote the same records,
prints the figures and appends one JSON line per run to
``benchmarks/results/archive.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_archive(path: Path, n_docs: int, corpora: str | None, seed: int = 0) -> tuple[int, int]:
    """Write the zip; returns (documents, characters)."""
    from pipeline.training.corpora import load

    sentences = [r["text"] for r in load("cluener", "train", corpora)]
    rng = random.Random(seed)
    chars, s = 0, 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(n_docs):
            k = rng.randint(1, 3)
            text = "\n".join(sentences[(s + j) % len(sentences)] for j in range(k))
            s += k
            chars += len(text)
            archive.writestr(f"docs/{i // 1000:02d}/{i:05d}.txt", text.encode("gb18030" if i % 5 == 4 else "utf-8"))
    return n_docs, chars


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, in MiB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def measure(args: argparse.Namespace) -> None:
    """One run (in its own process): print the figures as JSON on stdout."""
    import torch

    import pipeline
    from pipeline.app.annotate import LocalEngine, Outputs, annotate_files
    from pipeline.app.archive import DocumentReader

    threads = args.threads or max(1, (os.cpu_count() or 1) // args.n_process)
    torch.set_num_threads(threads)  # n processes x threads = cores, not n x cores
    nlp = pipeline.load(args.model)
    out = Path(args.out)
    t0 = time.perf_counter()
    annotate_files(DocumentReader([args.measure]), LocalEngine(nlp, batch_size=args.batch_size, n_process=args.n_process), Outputs(out), progress=False)
    wall = time.perf_counter() - t0
    summary = json.loads(out.with_name(out.name + ".summary.json").read_text())
    self_mb, child_mb = peak_rss_mb()
    print(json.dumps({
        "n_process": args.n_process, "batch_size": args.batch_size, "torch_threads": threads,
        "pipeline": nlp.pipe_names, "docs": summary["documents"], "chars": summary["characters"],
        "failures": summary["failures"], "entities": sum(summary["entities"].values()),
        "seconds": round(wall, 2), "chars_per_s": round(summary["characters"] / wall, 1),
        "docs_per_s": round(summary["documents"] / wall, 2),
        "peak_rss_mb": round(self_mb, 1), "peak_worker_rss_mb": round(child_mb, 1),
    }))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="pipeline directory (default: the shipped model)")
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--n-process", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch threads per process (0: cores / n_process)")
    ap.add_argument("--corpora", default=None)
    ap.add_argument("--workdir", default=None, help="where the archive and outputs go (default: a temporary folder)")
    ap.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "archive.jsonl"))
    ap.add_argument("--measure", help=argparse.SUPPRESS)  # internal: the archive to run on
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        args.n_process = args.n_process[0]
        return measure(args)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        archive = work / "bench.zip"
        t0 = time.perf_counter()
        n_docs, n_chars = build_archive(archive, args.docs, args.corpora)
        print(f"{archive}: {n_docs} documents, {n_chars} characters, {archive.stat().st_size / 2**20:.1f} MiB "
              f"(built in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
        runs, outputs = [], []
        for n in args.n_process:
            out = work / f"out_n{n}.jsonl"
            cmd = [sys.executable, __file__, "--measure", str(archive), "--out", str(out), "--n-process", str(n),
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
            if args.model:
                cmd += ["--model", args.model]
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            outputs.append(out.read_bytes())
            runs.append(result)
            print(f"n_process={n}: {result['chars_per_s']:.0f} chars/s, {result['docs_per_s']:.1f} docs/s, "
                  f"{result['seconds']} s, peak RSS {result['peak_rss_mb']:.0f} MiB "
                  f"(+ workers {result['peak_worker_rss_mb']:.0f} MiB each)", file=sys.stderr)
    import pipeline

    same = all(o == outputs[0] for o in outputs)
    stamp = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "model": str(pipeline.model_path(args.model)),
             "archive_docs": n_docs, "archive_chars": n_chars, "same_output": same,
             "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    path = Path(args.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for run in runs:
            line = {**stamp, **run}
            print(json.dumps(line, ensure_ascii=False))
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    if not same:
        raise SystemExit("the runs wrote different records")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
