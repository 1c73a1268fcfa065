"""spaCy's own tools on zhie's configs and shipped model, run as a spaCy user would."""

import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config, load_model_from_config

from pipeline.paths import corpora_dir
from pipeline.training.docbins import relation_record_to_doc
from pipeline.training.relation_corpora import read_gold_relations

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_makes_its_optimizer(path, tmp_path, monkeypatch):
    """The optimizer section resolves on its own (`nlp.resume_training`, `spacy debug data`): literal values only."""
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    config = load_config(path)
    if any("source" in c for c in config["components"].values()):  # sourced from a trained pipeline
        config = load_config(path, overrides={"paths.base_model": str(ROOT / "models" / "zh_zhie_news")})
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    optimizer = nlp.create_optimizer()
    for _ in range(200):  # past the warm-up
        optimizer.step_schedules()
    assert optimizer.learn_rate > 0
    assert not (tmp_path / "cache").exists()  # building never converts the backbone


@pytest.fixture(scope="module")
def gold_dev_docbin(tmp_path_factory) -> Path:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    docs = [relation_record_to_doc(nlp, rec) for rec in read_gold_relations(corpora_dir(), "dev")]
    path = tmp_path_factory.mktemp("docbins") / "dev.spacy"
    DocBin(docs=docs, store_user_data=True).to_disk(path)  # store_user_data keeps doc._.relations
    return path


@pytest.fixture(scope="module")
def gazetteer_json(tmp_path_factory) -> Path:
    """The gazetteer's patterns (`zhie corpus convert` writes them to corpus/, which a fresh clone lacks)."""
    from pipeline.training.gazetteer import write_gazetteer

    path = tmp_path_factory.mktemp("gazetteer") / "gazetteer.json"
    write_gazetteer(path, corpora_dir())
    return path


def spacy_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spacy", *args], capture_output=True, text=True, cwd=ROOT)


def test_debug_config_accepts_the_gpu_config(tmp_path, monkeypatch, gazetteer_json):
    """`spacy debug config` on the GPU config (issue 9: the recipe for a lent GPU), no GPU or backbone needed."""
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    done = spacy_cli("debug", "config", "configs/ner_gpu.cfg", "--paths.gazetteer", str(gazetteer_json))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Config is valid" in done.stdout
    assert not (tmp_path / "cache").exists()


@pytest.mark.needs_model
def test_debug_data_on_the_relation_config(gold_dev_docbin, gazetteer_json, model_dir):
    done = spacy_cli("debug", "data", "configs/rel_cpu_update.cfg", "--paths.base_model", str(model_dir),
                     "--paths.gazetteer", str(gazetteer_json),
                     "--paths.train", str(gold_dev_docbin), "--paths.dev", str(gold_dev_docbin))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Training stats" in done.stdout and "Named Entity Recognition" in done.stdout


@pytest.mark.needs_model
def test_assemble_builds_a_working_pipeline_without_training(tmp_path, gazetteer_json, model_dir):
    """`spacy assemble`: sourced transformer and NER, a relation extractor initialised from its fixed labels."""
    done = spacy_cli("assemble", "configs/rel_cpu_update.cfg", str(tmp_path / "assembled"),
                     "--paths.base_model", str(model_dir), "--paths.gazetteer", str(gazetteer_json))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    nlp = spacy.load(tmp_path / "assembled")
    assert nlp.pipe_names == ["gazetteer", "transformer", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"]
    doc = nlp("市长刘涛在许昌调研。")
    assert {e.text for e in doc.ents} >= {"刘涛", "许昌"} and isinstance(doc._.relations, list)
    assert nlp.get_pipe("relation_extractor").labels == ("has_title", "member_of", "located_in", "visits",
                                                        "agreement_with", "amount")


@pytest.mark.needs_model
def test_resume_training_on_the_shipped_model(model_dir):
    nlp = spacy.load(model_dir)
    optimizer = nlp.resume_training()
    for _ in range(200):
        optimizer.step_schedules()
    assert optimizer.learn_rate > 0
