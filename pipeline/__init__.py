"""zhie: information extraction for Chinese government and economy news.

Three layers with one-way imports (``tests/test_layers.py`` checks them)::

    pipeline/components/  what spacy.load needs: schema, layout, money, architectures,
         ^                relation_extractor and its scorer, event_assembler
    pipeline/training/    corpora, relation corpora, gold tools, DocBins, backbone conversion
         ^
    pipeline/app/         zhie CLI, archive reading, annotate runner, reports, timeline,
                          evaluation, shipping

``paths`` and ``jsonl`` are leaves every layer may use. Loading a pipeline
imports spaCy only when called, so ``import pipeline`` stays light.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .paths import DEFAULT_MODEL, MODELS_DIR, model_path

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["DEFAULT_MODEL", "MODELS_DIR", "load", "model_path"]


def load(name: str | os.PathLike | None = None, **kwargs) -> "Language":
    """Load a zhie pipeline (by default the shipped one) without network access."""
    import spacy

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = model_path(name)
    if not (path / "config.cfg").exists():
        raise FileNotFoundError(f"no spaCy pipeline at {path} (config.cfg missing)")
    return spacy.load(path, **kwargs)
