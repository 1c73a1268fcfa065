"""Dynamic int8 quantisation of the transformer pipeline's encoder (issue 11).

``torch.quantization.quantize_dynamic`` replaces every ``torch.nn.Linear`` of
the Hugging Face encoder inside spacy-transformers' shim by an int8 one
(weights int8, activations quantised per batch on the fly); embeddings,
layer norms and the NER / relation heads stay float32. For inference only.

It is not the default: issue 11 asks for every score within 0.5 points and
≥ 1.3× the speed, and on this 2-core CPU it cost 2-3.4 entity points and 8-9
relation points on the gold sets for ~1.3-1.5× (``benchmarks/int8.py``,
``benchmarks/compare.py --int8``; figures in the README). Use it with
``pipeline.load("trf", int8=True)``.
"""

from __future__ import annotations

from spacy.language import Language


def encoder_modules(nlp: Language) -> list:
    """The PyTorch shims (holding a torch module) of every component of ``nlp``: the transformer's encoder."""
    shims = []
    for _, pipe in nlp.pipeline:
        model = getattr(pipe, "model", None)
        if model is None:
            continue
        for node in model.walk():
            for shim in node.shims:
                if hasattr(shim, "_model") and shim._model is not None and hasattr(shim._model, "modules"):
                    shims.append(shim)
    return shims


def quantize_int8(nlp: Language) -> int:
    """Quantise the Linear layers of ``nlp``'s transformer(s) in place; the number of layers replaced."""
    import torch

    n = 0
    for shim in encoder_modules(nlp):
        module = shim._model
        n += sum(isinstance(m, torch.nn.Linear) for m in module.modules())
        module.eval()
        shim._model = torch.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    if not n:
        raise ValueError("no transformer Linear layers to quantise in this pipeline")
    return n
