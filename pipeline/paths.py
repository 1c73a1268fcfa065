"""Where zhie finds things: one place for every path the package reads.

A leaf module (it imports nothing from the package), so every layer may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLD_DIR = REPO / "data" / "gold"
MODELS_DIR = REPO / "models"
DEFAULT_MODEL = "zh_zhie_news"
# the shipped pipelines by short name: the transformer (the default, the most
# accurate) and the CPU pipeline distilled from it (issue 11)
MODELS = {"trf": DEFAULT_MODEL, "sm": "zh_zhie_news_sm"}


def corpora_dir(path: str | Path | None = None) -> Path:
    """The external corpora folder: argument, ``ZHIE_CORPORA``, or ../shared/corpora."""
    if path is not None:
        return Path(path)
    if "ZHIE_CORPORA" in os.environ:
        return Path(os.environ["ZHIE_CORPORA"])
    return REPO.parent / "shared" / "corpora"


def samples_dir() -> Path:
    """The sample front pages (``../shared/samples``, beside the corpora)."""
    return corpora_dir().parent / "samples"


def cache_dir() -> Path:
    """Converted backbones and the datasets cache: ``ZHIE_CACHE`` or ~/.cache/zhie (never the repo)."""
    return Path(os.environ.get("ZHIE_CACHE", Path.home() / ".cache" / "zhie"))


def model_name(name: str | os.PathLike | None) -> str | None:
    """The package name a short name (``"trf"``, ``"sm"``) stands for; None for anything else,
    and for a short name that is also an existing folder (a path wins)."""
    if name is None or str(name) not in MODELS or Path(name).exists():
        return None
    return MODELS[str(name)]


def model_path(name: str | os.PathLike | None = None) -> Path:
    """The pipeline folder to load: ``"trf"`` / ``"sm"`` (the shipped pipelines, unless a
    folder of that name exists), an explicit path, ``$ZHIE_MODEL``, or the shipped transformer."""
    if name is None:
        name = os.environ.get("ZHIE_MODEL") or MODELS_DIR / DEFAULT_MODEL
    package = model_name(name)
    return MODELS_DIR / package if package else Path(name)
