"""zhie: information extraction for Chinese government and economy news.

Three layers with one-way imports (``tests/test_layers.py`` checks them)::

    pipeline/components/  what spacy.load needs: schema, layout, money, architectures,
         ^                relation_extractor and its scorer, event_assembler
    pipeline/training/    corpora, relation corpora, gold tools, DocBins, backbone conversion,
                          training callbacks (dev curves, listener order)
         ^
    pipeline/app/         zhie CLI, archive reading, annotate runner, reports, timeline,
                          evaluation, shipping

``paths`` and ``jsonl`` are leaves every layer may use. Loading a pipeline
imports spaCy only when called, so ``import pipeline`` stays light; ``load``
reaches into the components layer only for ``int8`` (``components.quantize``).
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

from .paths import DEFAULT_MODEL, MODELS, MODELS_DIR, model_name, model_path

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["DEFAULT_MODEL", "MODELS", "MODELS_DIR", "load", "model_path"]


def load(name: str | os.PathLike | None = None, *, int8: bool = False, **kwargs) -> "Language":
    """Load a zhie pipeline without network access.

    ``name``: ``"trf"`` (the transformer pipeline) or ``"sm"`` (the CPU
    pipeline distilled from it), a pipeline directory, or an installed
    pipeline package. A short name loads its installed package when there is
    one (``zh_zhie_news`` is built by ``make package`` / the workflow's
    ``package`` step), else the shipped folder under ``models/``. Without a
    name (and without ``$ZHIE_MODEL``): the same as ``"trf"``.
    ``int8``: quantise the transformer's Linear layers after loading
    (``pipeline.components.quantize``; slower to load, less accurate, off by default).
    """
    import spacy

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if name is None and not os.environ.get("ZHIE_MODEL"):
        package = DEFAULT_MODEL
    else:
        package = model_name(name) or (name if isinstance(name, str) else None)
    if package and spacy.util.is_package(package):
        source = package
    else:
        source = model_path(name)
        if not (source / "config.cfg").exists():
            raise FileNotFoundError(f"no spaCy pipeline at {source} (config.cfg missing) and no installed package {name!r}")
    try:
        nlp = spacy.load(source, **kwargs)
    except ValueError as err:
        # the base install (the sm pipeline's) has no spacy-transformers
        if "factory for 'transformer'" in str(err) and importlib.util.find_spec("spacy_transformers") is None:
            raise RuntimeError(f"{source} is a transformer pipeline: it needs zhie's trf extra "
                               "(pip install 'zhie[trf]'); the base install runs the sm pipeline only") from err
        raise
    if int8:
        from .components.quantize import quantize_int8

        quantize_int8(nlp)
    return nlp
