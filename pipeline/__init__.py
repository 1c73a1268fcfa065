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
    """Load a zhie pipeline without network access.

    ``name``: a pipeline directory or an installed pipeline package. Without
    it (and without ``$ZHIE_MODEL``): the package ``zh_zhie_news`` when it is
    installed (built by ``make package`` / the workflow's ``package`` step),
    else the shipped folder ``models/zh_zhie_news``.
    """
    import spacy

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if name is None and not os.environ.get("ZHIE_MODEL") and spacy.util.is_package(DEFAULT_MODEL):
        return spacy.load(DEFAULT_MODEL, **kwargs)
    if isinstance(name, str) and spacy.util.is_package(name):
        return spacy.load(name, **kwargs)
    path = model_path(name)
    if not (path / "config.cfg").exists():
        raise FileNotFoundError(f"no spaCy pipeline at {path} (config.cfg missing) and no installed package {name!r}")
    return spacy.load(path, **kwargs)
