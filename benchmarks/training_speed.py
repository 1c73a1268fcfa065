"""Training speed of a spaCy config on this machine, and where a step's time goes (issue 9, item 4).

    python benchmarks/training_speed.py CONFIG [--steps 40] [--warmup 5] [--batcher words|padded]
                                        [--paths.base_model models/zh_zhie_news ...]

The pipeline is initialised as ``spacy train`` does (``init_nlp``, with the
config's ``before_init``), then runs ``--warmup`` + ``--steps`` updates on
the config's training corpus, shuffled and batched as ``spacy train`` does
(its batcher, or spaCy's ``batch_by_words`` / ``batch_by_padded`` with
``--batcher``), with the config's dropout, optimizer and ``before_update``
callback. No evaluation runs; ``training.eval_frequency`` and the last dev
curve give that cost. Printed and appended as one JSON line to
``benchmarks/results/training_speed.jsonl``:

- seconds per step and characters per second of training;
- the transformer's forward and backward pass (``torch.autograd.backward``)
  in seconds per step, the rest (NER and relation heads, optimizer, and a
  frozen transformer that only annotates, as in rel_cpu_update.cfg) beside;
- resident memory every 25 steps and its peak;
- the transformer's input: word pieces the batches hold, padded positions it
  computes (every window is padded to the longest of its pass: the batch, or
  its length group with ``length_group_ratio`` > 1) and the share of those
  that is padding; the share of characters the window overlap computes twice.

Extra ``--section.key value`` options override the config as in ``spacy train``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BATCHERS = {
    # the configs' batcher: about 800 characters a step, any mix of lengths
    "words": {"@batchers": "spacy.batch_by_words.v1", "size": 800, "tolerance": 0.2,
              "discard_oversize": True, "get_length": None},
    # spaCy's transformer batcher: 800 padded characters a step, lengths sorted within a buffer
    "padded": {"@batchers": "spacy.batch_by_padded.v1", "size": 800, "buffer": 256,
               "discard_oversize": True, "get_length": None},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batcher", choices=sorted(BATCHERS), default=None,
                    help="replace the config's [training.batcher] (default: keep it)")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "training_speed.jsonl")
    args, extra = ap.parse_known_args()
    result = measure(args.config, args.steps, args.warmup, args.batcher, extra)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a", encoding="utf-8") as out:
        out.write(json.dumps(result, ensure_ascii=False) + "\n")


def measure(config_path: Path, steps: int, warmup: int, batcher: str | None, extra: list[str]) -> dict:
    import torch
    from spacy import util
    from spacy.cli._util import parse_config_overrides
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import create_train_batches
    from spacy.util import registry, resolve_dot_names
    from thinc.api import fix_random_seed

    overrides = parse_config_overrides(extra)
    config = util.load_config(config_path, overrides=overrides, interpolate=False)
    if batcher:
        config["training"]["batcher"] = dict(BATCHERS[batcher])
    config = config.interpolate()
    fix_random_seed(config["training"]["seed"])
    nlp = init_nlp(config)
    T = registry.resolve(config["training"], schema=None)
    (train_corpus,) = resolve_dot_names(config, [T["train_corpus"]])
    optimizer, batch_of = T["optimizer"], T["batcher"]
    if T["before_update"] is not None:
        T["before_update"](nlp, {"step": 0, "epoch": 0})
    trainable = [n for n, p in nlp.pipeline if hasattr(p, "update") and n not in T["frozen_components"]]

    trf = nlp.get_pipe("transformer") if "transformer" in nlp.pipe_names else None
    clock = {"forward": 0.0, "backward": 0.0}
    pieces = {"real": 0, "padded": 0, "window_chars": 0}
    if trf is not None:
        _time_transformer(trf, clock, pieces)

    def backward(*a, _orig=torch.autograd.backward, **k):
        t = time.perf_counter()
        try:
            return _orig(*a, **k)
        finally:
            clock["backward"] += time.perf_counter() - t

    torch.autograd.backward = backward
    # as spacy train: the corpus shuffled, then batched
    batches = create_train_batches(nlp, train_corpus, batch_of, T["max_epochs"])
    step_times, chars, rss = [], 0, [_rss_mb()]
    for i, (_epoch, batch) in enumerate(batches):
        if i == warmup + steps:
            break
        if i == warmup:
            clock.update(forward=0.0, backward=0.0)
            pieces.update(real=0, padded=0, window_chars=0)
        t = time.perf_counter()
        nlp.update(batch, drop=T["dropout"], sgd=optimizer, losses={},
                   exclude=[n for n in nlp.pipe_names if n not in trainable],
                   annotates=T["annotating_components"])
        if i >= warmup:
            step_times.append(time.perf_counter() - t)
            chars += sum(len(eg.reference.text) for eg in batch)
        if (i + 1) % 25 == 0:
            rss.append(_rss_mb())
            print(f"step {i + 1}: {sum(step_times[-25:]) / 25:.3f} s per step, {rss[-1]} MB resident", file=sys.stderr)
    n = len(step_times)
    total = sum(step_times)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()} {torch.get_num_threads()} threads",
        "config": str(config_path), "overrides": overrides, "batcher": config["training"]["batcher"],
        "before_init": config["initialize"]["before_init"],
        "length_group_ratio": trf.model.attrs.get("length_group_ratio") if trf is not None else None,
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "steps": n, "s_per_step": round(total / n, 3), "chars_per_step": round(chars / n, 1),
        "chars_per_s": round(chars / total, 1),
        "transformer_forward_s_per_step": round(clock["forward"] / n, 3),
        "transformer_backward_s_per_step": round(clock["backward"] / n, 3),
        "rest_s_per_step": round((total - clock["forward"] - clock["backward"]) / n, 3),
        "pieces_per_step": round(pieces["real"] / n, 1), "padded_positions_per_step": round(pieces["padded"] / n, 1),
        "padding_share": round(1 - pieces["real"] / pieces["padded"], 3) if pieces["padded"] else None,
        "overlap_share": round(1 - chars / pieces["window_chars"], 3) if pieces["window_chars"] else None,
        # resident memory after setup and every 25 steps: a leak shows as a rising line
        "rss_mb": rss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def _rss_mb() -> int:
    with open("/proc/self/statm") as statm:
        return round(int(statm.read().split()[1]) * resource.getpagesize() / 2**20)


def _time_transformer(trf, clock: dict, pieces: dict) -> None:
    """Time the transformer's forward pass in training and count what it computes."""
    from pipeline.components.length_groups import length_groups, window_piece_lengths

    model = trf.model
    begin_update = model.begin_update

    def timed(docs):
        spans = model.attrs["get_spans"](docs)
        lengths = window_piece_lengths(model, docs, spans)
        # the passes the forward makes: one, or one per length group (zhie.Transformer.v1)
        ratio = model.attrs.get("length_group_ratio", 1.0)
        groups = length_groups([max(l, default=0) for l in lengths], ratio) if ratio > 1.0 else [range(len(docs))]
        for group in groups:
            windows = [n for i in group for n in lengths[i]]
            pieces["real"] += sum(windows)
            pieces["padded"] += max(windows, default=0) * len(windows)
        pieces["window_chars"] += sum(len(span.text) for doc_spans in spans for span in doc_spans)
        t = time.perf_counter()
        try:
            return begin_update(docs)
        finally:
            clock["forward"] += time.perf_counter() - t

    model.begin_update = timed


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
