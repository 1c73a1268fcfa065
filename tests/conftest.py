"""Shared fixtures and markers: the corpora folder, the samples, the shipped model.

``ZHIE_CORPORA`` names the shared corpora (default ``../shared/corpora``
beside the repo, ``pipeline.paths``); the samples lie beside them.
Markers: ``slow`` (generates hundreds of MB as a stream; runs by default) and
``needs_model`` (skipped when the shipped model is missing).
"""

from pathlib import Path

import pytest

from pipeline.paths import corpora_dir, model_path, samples_dir


def pytest_collection_modifyitems(config, items):
    if not (model_path() / "config.cfg").exists():
        skip = pytest.mark.skip(reason=f"no shipped model at {model_path()}")
        for item in items:
            if "needs_model" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def corpora() -> Path:
    return corpora_dir()


@pytest.fixture(scope="session")
def samples() -> Path:
    return samples_dir()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return model_path()
