"""Bounded memory for long CPU trainings: a fixed mmap threshold for glibc's malloc.

Issue 9, item 4.

A training step allocates the transformer's activations in shapes that change
with every batch. glibc's malloc raises its mmap threshold each time a large
block is freed, so after a few steps those blocks come from the heap, whose
free space fragments and is never given back: ``configs/ner_cpu.cfg``'s
resident memory grew by 5 MB a step (2.7 to 3.9 GB in 225 steps,
``benchmarks/training_speed.py``; 14 MB a step with ``batch_by_words``) and
the first run of the recipe was killed for memory at 24 GB near the end of
its 1,000 steps. With the threshold fixed, blocks of at least ``threshold``
bytes are mapped and unmapped on their own.

The threshold trades time for memory. At 128 KB (the configs until
2026-12-02) resident memory stayed flat (the recipe's first stage at most
2.3 GB), but every block above it was mapped and zeroed anew: a quarter of
the training process's CPU time went to the kernel (140,000 page faults a
second). At 4 MB (the transformer configs now; sm_cpu.cfg keeps 128 KB)
``ner_cpu_update.cfg`` runs 1.46 -> 1.24 s a step (100 steps, the same
batches), 0.97 with PyTorch's huge pages (``THP_MEM_ALLOC_ENABLE=1``, set by
project.yml), and its 1,500 steps under ``spacy train`` peaked at 3.0 GB,
growing by under 0.5 MB a step after the first thousand (README, "Training
speed and memory").
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
def make_mmap_threshold(threshold: int = 4194304) -> Callable[[Language], Language]:
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
