"""Dev curves of ``spacy train`` written to a JSONL file (issue 9: a recipe that converges).

spaCy's ``ConsoleLogger.v3`` can write its rows to a file, but without time,
so a reader cannot tell the cost of a step from the cost of an evaluation, and
it refuses to write when the file exists. ``zhie.CurveLogger.v1`` prints the
same console table and writes one JSON object per evaluation::

    {"step": 500, "epoch": 1, "seconds": 731.2, "words": 402113,
     "words_per_s": 612.4, "s_per_step": 1.21, "eval_s": 42.0,
     "losses": {"ner": 12.3}, "scores": {"ents_f": 0.81, ...}, "score": 0.81}

``words`` are the tokens the training has seen (with the ``char`` segmenter a
token is a character); ``s_per_step`` is the mean wall time of the steps since
the previous evaluation (none at step 0), ``eval_s`` what the evaluation
itself took (at step 0 with the setup), so both
the training speed and the evaluation overhead show on one line. ``zhie curve
FILE`` prints the table and the best step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Optional

from spacy.language import Language
from spacy.training.loggers import console_logger


def make_curve_logger(path: str, console: bool = True) -> Callable:
    """``[training.logger] @loggers = "zhie.CurveLogger.v1"``: the console
    table (``spacy.ConsoleLogger.v1``) plus a JSONL dev curve at ``path``
    (overwritten by a new run; its folder is created)."""
    console_setup = console_logger(progress_bar=False)

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        print_step, finalize_console = console_setup(nlp, stdout, stderr) if console else (None, None)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        stream = out.open("w", encoding="utf-8")
        start = last = time.perf_counter()
        step_times: list[float] = []

        def log_step(info: Optional[dict[str, Any]]) -> None:
            nonlocal last
            now = time.perf_counter()
            gap, last = now - last, now
            if info is None:  # an ordinary step: it was a training update only
                step_times.append(gap)
            else:  # an evaluation step: the gap holds one update and the evaluation
                # before the first update (step 0) the gap is setup plus evaluation
                per_step = sum(step_times) / len(step_times) if step_times else None
                seconds = now - start
                record = {
                    "step": info["step"], "epoch": info["epoch"], "seconds": round(seconds, 1),
                    "words": info["words"], "words_per_s": round(info["words"] / seconds, 1) if seconds else None,
                    "s_per_step": round(per_step, 3) if per_step else None, "eval_s": round(max(gap - (per_step or 0.0), 0.0), 1),
                    "losses": {k: float(v) for k, v in info["losses"].items()},
                    "scores": {k: v for k, v in info["other_scores"].items() if isinstance(v, (int, float))},
                    "score": float(info["score"]),
                }
                stream.write(json.dumps(record) + "\n")
                stream.flush()
                step_times.clear()
            if print_step is not None:
                print_step(info)

        def finalize() -> None:
            stream.close()
            if finalize_console is not None:
                finalize_console()

        return log_step, finalize

    return setup


def format_curve(rows: list[dict], metric: str = "score") -> str:
    """A table of the curve's rows (``read_jsonl(path, partial=True)``, also while
    the run still writes it) and the step where ``metric`` peaked."""
    def value(r: dict) -> float:
        v = r["score"] if metric == "score" else r["scores"].get(metric)
        return float("nan") if v is None else v

    lines = [f"{'step':>6} {'min':>7} {'s/step':>7} {'eval s':>7} {'words/s':>8} {metric:>8}"]
    for r in rows:
        lines.append(f"{r['step']:>6} {r['seconds'] / 60:>7.1f} {r['s_per_step'] or float('nan'):>7.2f} {r['eval_s']:>7.1f} "
                     f"{r['words_per_s'] or 0:>8.0f} {value(r):>8.4f}")
    scored = [r for r in rows if value(r) == value(r)]  # NaN (metric missing) never peaks
    if scored:
        best = max(scored, key=value)
        lines.append(f"best {metric} at step {best['step']} ({best['seconds'] / 60:.1f} min)")
    return "\n".join(lines)
