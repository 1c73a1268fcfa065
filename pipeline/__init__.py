"""zhie: information extraction for Chinese government and economy news."""

from __future__ import annotations

import os
from pathlib import Path

import spacy
from spacy.language import Language

DEFAULT_MODEL = "zh_zhie_news"
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def model_path(name: str | os.PathLike | None = None) -> Path:
    """The pipeline to load: an explicit path, ``$ZHIE_MODEL``, or the shipped model."""
    if name is None:
        name = os.environ.get("ZHIE_MODEL") or MODELS_DIR / DEFAULT_MODEL
    return Path(name)


def load(name: str | os.PathLike | None = None, **kwargs) -> Language:
    """Load a zhie pipeline (by default the shipped one) without network access."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = model_path(name)
    if not (path / "config.cfg").exists():
        raise FileNotFoundError(f"no spaCy pipeline at {path} (config.cfg missing)")
    return spacy.load(path, **kwargs)
