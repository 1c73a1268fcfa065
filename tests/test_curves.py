"""The dev-curve logger: one JSON line per evaluation, with step and evaluation times."""

import json
import time

import spacy

from pipeline.jsonl import read_jsonl
from pipeline.training.curves import format_curve


def _info(step: int, score: float) -> dict:
    return {"epoch": 0, "step": step, "words": 100 * (step + 1), "score": score,
            "losses": {"ner": 1.5}, "other_scores": {"ents_f": score, "ents_per_type": {"PERSON": {}}}}


def test_curve_logger_writes_times_and_scores(tmp_path, capsys):
    path = tmp_path / "run" / "curve.jsonl"
    setup = spacy.registry.loggers.get("zhie.CurveLogger.v1")(path=str(path), console=False)
    nlp = spacy.blank("zh")
    nlp.add_pipe("ner")
    nlp.config["training"]["score_weights"] = {"ents_f": 1.0}
    log_step, finalize = setup(nlp)
    for step in range(4):  # three plain steps, then an evaluation that takes longer
        time.sleep(0.01)
        if step < 3:
            log_step(None)
    time.sleep(0.05)
    log_step(_info(3, 0.5))
    log_step(None)
    log_step(_info(4, 0.7))
    finalize()
    rows = read_jsonl(path)
    assert [r["step"] for r in rows] == [3, 4]
    first = rows[0]
    assert 0.005 < first["s_per_step"] < 0.05 and first["eval_s"] >= 0.0
    assert first["words"] == 400 and first["words_per_s"] > 0
    assert first["scores"] == {"ents_f": 0.5}  # nested tables are left out
    assert json.loads(path.read_text().splitlines()[1])["score"] == 0.7
    table = format_curve(rows)
    assert table.splitlines()[-1].startswith("best score at step 4")


def test_every_config_logs_its_curve():
    from pathlib import Path

    for cfg in sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.cfg")):
        config = spacy.util.load_config(cfg, interpolate=False)
        logger = config["training"]["logger"]
        assert logger["@loggers"] == "zhie.CurveLogger.v1", cfg
        assert logger["path"] == f"training/{cfg.stem}/curve.jsonl", cfg
