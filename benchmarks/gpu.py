"""The transformer pipeline's characters/s on one GPU, with batch sizes that fill it.

Run on the lent GPU machine by ``benchmarks/gpu.sh run`` (see that script and
``../shared/GPU.md``); ``prepare`` mode runs here, on the CPU machine.

    python benchmarks/gpu.py prepare OUT_DIR        # here: the model with a float16 encoder (fits a 64 MiB carry)
    python benchmarks/gpu.py measure MODEL DOCS OUT.json [--batch-sizes 32,64,...]

``measure``: ``spacy.require_gpu(0)``, loads MODEL (its float16 encoder cast
back to float32, and a second copy kept in float16), and for each batch size
(doubling until the GPU runs out of memory or the throughput stops rising by
5 %) times ``nlp.pipe`` over DOCS (a JSON list of texts) after one warm-up
batch: characters/s, documents/s, peak GPU memory (torch.cuda.max_memory_allocated).
The pipeline's own transformer settings apply (``max_batch_items``, windows of
160 characters); ``nlp.pipe`` batch size is what fills the GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def encoder_module(nlp):
    from pipeline.components.quantize import encoder_modules

    return encoder_modules(nlp)[0]


def prepare(out_dir: Path, n_docs: int) -> None:
    """A copy of the shipped model whose encoder is stored float16, and the documents to time."""
    import pipeline
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from throughput import build_documents

    nlp = pipeline.load("trf")
    shim = encoder_module(nlp)
    shim._model.half()
    out_dir.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out_dir / "model")
    docs = [t for _, t in build_documents(n_docs, 600, None)]
    (out_dir / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
    print(f"{out_dir}/model (float16 encoder), {len(docs)} documents, {sum(map(len, docs))} characters")


def measure(model: Path, docs_path: Path, out: Path, batch_sizes: list[int]) -> None:
    import spacy
    import torch

    import pipeline
    # what the entry points register when zhie is installed (on the device machine it is not)
    import pipeline.components.architectures  # noqa: F401  (zhie.Transformer.v1)
    import pipeline.components.events  # noqa: F401  (the event_assembler factory)
    import pipeline.components.titles  # noqa: F401  (the drop_nameless_titles factory)
    import pipeline.components.relations  # noqa: F401  (relation_extractor, zhie.relation_candidates.v1)
    import pipeline.components.scorer  # noqa: F401  (zhie.relation_scorer.v1)

    assert spacy.require_gpu(0), "no GPU"
    texts = json.loads(docs_path.read_text(encoding="utf-8"))
    chars = sum(map(len, texts))
    results = {"gpu": torch.cuda.get_device_name(0), "docs": len(texts), "chars": chars, "runs": []}
    for precision in ("fp32", "fp16"):
        nlp = pipeline.load(model)
        shim = encoder_module(nlp)
        shim._model.float() if precision == "fp32" else shim._model.half()
        best = 0.0
        for bs in batch_sizes:
            try:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                list(nlp.pipe(texts[:bs], batch_size=bs))  # warm-up
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                n_ents = sum(len(d.ents) for d in nlp.pipe(texts, batch_size=bs))
                torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
            except (RuntimeError, MemoryError) as err:  # CUDA out of memory: the GPU is full
                results["runs"].append({"precision": precision, "batch_size": bs, "error": str(err)[:200]})
                break
            run = {"precision": precision, "batch_size": bs, "seconds": round(seconds, 2),
                   "chars_per_s": round(chars / seconds, 1), "docs_per_s": round(len(texts) / seconds, 1),
                   "entities": n_ents, "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
            if run["chars_per_s"] < best * 1.05:
                break
            best = max(best, run["chars_per_s"])
        del nlp
        torch.cuda.empty_cache()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--docs", type=int, default=3000)
    m = sub.add_parser("measure")
    m.add_argument("model", type=Path)
    m.add_argument("docs", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument("--batch-sizes", default="32,64,128,256,512,1024,2048")
    args = ap.parse_args()
    if args.mode == "prepare":
        prepare(args.out_dir, args.docs)
    else:
        measure(args.model, args.docs, args.out, [int(b) for b in args.batch_sizes.split(",")])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
