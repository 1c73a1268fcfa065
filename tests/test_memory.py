"""The training configs fix malloc's mmap threshold before training (pipeline/training/memory.py)."""

import platform
from pathlib import Path

import pytest
from spacy.util import load_config, registry

from pipeline.training.memory import set_mmap_threshold

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.cfg"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_bounds_training_memory(path):
    before_init = load_config(path)["initialize"]["before_init"]
    # 4 MB for the transformer configs (measured in README "Training speed and memory"); the CNN keeps 128 KB
    threshold = 131072 if path.name == "sm_cpu.cfg" else 4194304
    assert before_init == {"@callbacks": "zhie.mmap_threshold.v1", "threshold": threshold}
    callback = registry.resolve({"cb": before_init})["cb"]  # found through the entry point
    nlp = object()
    assert callback(nlp) is nlp


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_threshold():
    assert set_mmap_threshold(131072)
