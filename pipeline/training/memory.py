"""Bounded memory for long CPU trainings: a fixed mmap threshold for glibc's malloc (issue 9, item 4).

A training step allocates the transformer's activations in shapes that change
with every batch. glibc's malloc raises its mmap threshold each time a large
block is freed, so after a few steps those blocks come from the heap, whose
free space fragments and is never given back: ``configs/ner_cpu.cfg``'s
resident memory grew by 5 MB a step (2.7 to 3.9 GB in 225 steps,
``benchmarks/training_speed.py``; 14 MB a step with ``batch_by_words``) and
the first run of the recipe was killed for memory at 24 GB near the end of
its 1,000 steps. With the threshold fixed, blocks of at least ``threshold``
bytes are mapped and unmapped on their own: 150 steps stay at 1.96-1.97 GB,
2.0 GB with the length groups, and the recipe's whole first stage at most
2.3 GB. 512 KB ran 14 % faster in one run but still grew by
0.9 MB a step, so the configs take 128 KB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

from spacy.language import Language
from spacy.util import registry

# mallopt's parameter number for M_MMAP_THRESHOLD (glibc malloc.h)
M_MMAP_THRESHOLD = -3


@registry.callbacks("zhie.mmap_threshold.v1")
def make_mmap_threshold(threshold: int = 131072) -> Callable[[Language], Language]:
    """``[initialize] before_init``: fix malloc's mmap threshold at ``threshold`` bytes before
    training starts (only where the C library is glibc; elsewhere nothing changes)."""

    def before_init(nlp: Language) -> Language:
        set_mmap_threshold(threshold)
        return nlp

    return before_init


def set_mmap_threshold(threshold: int) -> bool:
    """Whether glibc's ``mallopt`` took the threshold (False on another C library)."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return False
    return libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1
