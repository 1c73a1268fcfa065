"""Is a score difference between two pipelines noise? A paired bootstrap over documents.

The frozen gold slices hold 90-350 relations each, so two models' F1 can
differ by two points on one slice and the other way on the next. Before a
model ships, ``zhie compare BASE CANDIDATE`` (the per-document counts that
``zhie evaluate --counts`` writes for each) resamples the documents of each
result with replacement, the same documents for both models, and reports the
difference of micro F1 with its 95 % interval and the share of resamples in
which the candidate is better (Koehn, "Statistical significance tests for
machine translation evaluation", EMNLP 2004; Berg-Kirkpatrick et al., "An
empirical investigation of statistical significance in NLP", EMNLP 2012).

Pools add results of several sets together (the frozen gold slices, by
default), so the many small slices give one figure with a narrower interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# results pooled by default: every frozen gold slice (never trained or tuned on)
FROZEN = ("zhie_gold/test", "zhie_gold/test_focus", "zhie_gold/test_round4", "zhie_gold/test_round5",
          "zhie_gold/test_round6", "zhie_gold/test_round7")
DEFAULT_POOLS = {
    "frozen gold slices, entities": FROZEN,
    "frozen gold slices, relations end to end": tuple(f"relations:{s}" for s in FROZEN),
}


@dataclass(frozen=True)
class Comparison:
    """Micro F1 of two pipelines on one result (or pool), and the bootstrap's view of their difference."""

    result: str
    documents: int
    base_f: float
    candidate_f: float
    low: float  # 2.5th percentile of candidate F - base F over the resamples
    high: float  # 97.5th percentile
    p_better: float  # share of resamples in which the candidate's F is higher

    @property
    def difference(self) -> float:
        return self.candidate_f - self.base_f


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0)


def _table(counts: list[dict], results: tuple[str, ...]) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {(c["result"], str(c["id"])): (c["tp"], c["fp"], c["fn"]) for c in counts if c["result"] in results}


def compare(base: list[dict], candidate: list[dict], results: tuple[str, ...], name: str | None = None, *,
            resamples: int = 1000, seed: int = 0) -> Comparison:
    """Compare two pipelines' per-document counts on ``results`` (one result, or several pooled).

    base, candidate: records ``{"result", "id", "tp", "fp", "fn"}`` (``zhie evaluate --counts``).
    Both must hold the same documents: a model scored on other documents is not comparable.
    """
    a, b = _table(base, results), _table(candidate, results)
    if not a:
        raise ValueError(f"no counts for {', '.join(results)}")
    if a.keys() != b.keys():
        raise ValueError(f"{name or results[0]}: the two count files hold different documents "
                         f"({len(a.keys() - b.keys())} only in the base, {len(b.keys() - a.keys())} only in the "
                         "candidate)")
    keys = sorted(a)
    ca, cb = np.array([a[k] for k in keys]), np.array([b[k] for k in keys])  # documents x (tp, fp, fn)
    rng = np.random.default_rng(seed)
    # how often each document is drawn in each resample (n draws with replacement)
    draws = rng.multinomial(len(keys), np.full(len(keys), 1.0 / len(keys)), size=resamples)
    sa, sb = draws @ ca, draws @ cb  # resamples x (tp, fp, fn)
    diffs = _f1(*sb.T) - _f1(*sa.T)
    full_a, full_b = ca.sum(axis=0), cb.sum(axis=0)
    return Comparison(result=name or results[0], documents=len(keys),
                      base_f=float(_f1(*full_a)), candidate_f=float(_f1(*full_b)),
                      low=float(np.percentile(diffs, 2.5)), high=float(np.percentile(diffs, 97.5)),
                      p_better=float(np.mean(diffs > 0)))


def compare_all(base: list[dict], candidate: list[dict], *, pools: dict[str, tuple[str, ...]] | None = None,
                resamples: int = 1000, seed: int = 0) -> list[Comparison]:
    """Every result both count files hold, then each pool whose results are all there."""
    in_candidate = {c["result"] for c in candidate}
    results = [r for r in dict.fromkeys(c["result"] for c in base) if r in in_candidate]
    rows = [compare(base, candidate, (r,), resamples=resamples, seed=seed) for r in results]
    for name, members in (DEFAULT_POOLS if pools is None else pools).items():
        if all(m in results for m in members):
            rows.append(compare(base, candidate, members, name, resamples=resamples, seed=seed))
    return rows


def format_comparisons(rows: list[Comparison]) -> str:
    lines = [f"{'result':45s} {'docs':>5s} {'base':>6s} {'cand':>6s} {'diff':>7s}  {'95% interval':>17s}  P(better)"]
    for r in rows:
        lines.append(f"{r.result:45s} {r.documents:5d} {r.base_f:6.3f} {r.candidate_f:6.3f} {r.difference:+7.3f}  "
                     f"[{r.low:+.3f}, {r.high:+.3f}]  {r.p_better:9.2f}")
    return "\n".join(lines)
