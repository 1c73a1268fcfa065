"""Paired bootstrap over documents (pipeline/app/bootstrap.py) and the per-document counts it reads."""

import pytest

from pipeline.app.bootstrap import FROZEN, compare, compare_all
from pipeline.app.evaluate import LabelScore


def _counts(result: str, rows: list[tuple[int, int, int]]) -> list[dict]:
    return [{"result": result, "id": f"d{i}", "tp": tp, "fp": fp, "fn": fn} for i, (tp, fp, fn) in enumerate(rows)]


def test_label_score_returns_the_documents_micro_counts():
    score = LabelScore(("PERSON", "ORG"))
    counts = score.add([(0, 2, "PERSON"), (3, 5, "ORG"), (6, 8, "GPE")],
                       [(0, 2, "PERSON"), (3, 6, "ORG"), (9, 10, "ORG")])
    assert counts == (1, 2, 1)  # GPE is not a label of this set
    assert (score.micro.tp, score.micro.fp, score.micro.fn) == counts


def test_the_same_counts_differ_by_nothing():
    rows = _counts("x", [(3, 1, 0), (2, 0, 2), (5, 1, 1)] * 10)
    c = compare(rows, rows, ("x",))
    assert c.difference == 0 and c.low == 0 and c.high == 0 and c.p_better == 0
    assert c.documents == 30 and c.base_f == pytest.approx(2 * 100 / (200 + 20 + 30))


def test_a_candidate_better_on_every_document_is_better_in_every_resample():
    base = _counts("x", [(2, 1, 1)] * 40)
    better = _counts("x", [(3, 0, 0)] * 40)
    c = compare(base, better, ("x",), resamples=200)
    assert c.candidate_f == 1.0 and c.base_f == pytest.approx(2 / 3)
    assert c.p_better == 1.0 and c.low > 0
    assert c.low <= c.difference <= c.high


def test_a_gain_on_one_document_of_many_is_not_certain():
    base = _counts("x", [(5, 1, 1)] * 50)
    cand = _counts("x", [(6, 0, 0)] + [(5, 1, 1)] * 49)
    c = compare(base, cand, ("x",))
    assert 0 < c.difference and c.low <= 0 < c.high  # the interval holds zero: one document decides it
    assert c.p_better < 1


def test_results_are_pooled_and_documents_must_match():
    base = [r for s in FROZEN for r in _counts(s, [(2, 1, 1)] * 5)]
    cand = [r for s in FROZEN for r in _counts(s, [(2, 0, 1)] * 5)]
    rows = {r.result: r for r in compare_all(base, cand, resamples=100)}
    assert set(FROZEN) <= set(rows)
    pooled = rows["frozen gold slices, entities"]
    assert pooled.documents == 5 * len(FROZEN) and pooled.p_better == 1.0
    # relations were not counted, so their pool is left out
    assert "frozen gold slices, relations end to end" not in rows
    with pytest.raises(ValueError, match="different documents"):
        compare(base, cand[1:], (FROZEN[0],))
    with pytest.raises(ValueError, match="no counts"):
        compare(base, cand, ("cluener/dev",))


def test_compare_command_prints_and_writes_the_table(tmp_path):
    import json

    from typer.testing import CliRunner

    from pipeline.app.cli import app
    from pipeline.jsonl import write_jsonl

    write_jsonl(tmp_path / "base.jsonl", _counts("samples", [(2, 1, 1)] * 8))
    write_jsonl(tmp_path / "cand.jsonl", _counts("samples", [(3, 0, 0)] * 8))
    out = tmp_path / "cmp.json"
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "base.jsonl"), str(tmp_path / "cand.jsonl"),
                                      "--resamples", "50", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "samples" in result.output and "+0.333" in result.output
    row = json.loads(out.read_text())[0]
    assert row["result"] == "samples" and row["p_better"] == 1.0
    write_jsonl(tmp_path / "other.jsonl", _counts("samples", [(3, 0, 0)] * 7))
    result = CliRunner().invoke(app, ["compare", str(tmp_path / "base.jsonl"), str(tmp_path / "other.jsonl")])
    assert result.exit_code == 1 and "different documents" in result.output
