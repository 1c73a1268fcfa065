"""Weight interpolation between two pipelines of one lineage (WiSE-FT).

Continuing the shipped pipeline on the gold mix gains on the gold splits but
loses on the newspaper front pages it was not trained on (README, "Tried and
not shipped"). Averaging the weights of a model and its fine-tuned
continuation, ``(1 - w) * base + w * tuned``, keeps much of the fine-tuning's
gain and the base's robustness out of its training distribution (Wortsman et
al., "Robust fine-tuning of zero-shot models", CVPR 2022). It works only for
two models of one lineage (the tuned one started from the base), so that
their weights lie in one basin: here the continue configs, which source every
component from ``paths.base_model``.

Every weight is interpolated: thinc parameters of every component (NER and
relation heads, the gazetteer boundary embedding) and the floating-point
tensors of the transformer's PyTorch modules. The two pipelines must have the
same components with the same architecture and shapes; anything else is a
:class:`ValueError` naming what differs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from spacy.language import Language
from thinc.api import Model


def interpolate_pipelines(base: Language, tuned: Language, weight: float) -> Language:
    """Set every weight of ``tuned`` to ``(1 - weight) * base + weight * tuned``, in place; return ``tuned``.

    weight (float): 0 gives the base's weights, 1 leaves the tuned ones.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1], not {weight}")
    base_pipes = dict(base.pipeline)
    if set(base_pipes) != set(tuned.pipe_names):
        raise ValueError(f"the pipelines have different components: {base.pipe_names} vs {tuned.pipe_names}")
    for name, pipe in tuned.pipeline:
        model = getattr(pipe, "model", None)
        if isinstance(model, Model):
            interpolate_models(base_pipes[name].model, model, weight, where=name)
    return tuned


def interpolate_models(base: Model, tuned: Model, weight: float, where: str = "model") -> None:
    """Interpolate ``tuned``'s parameters and PyTorch tensors towards ``base``'s, in place."""
    base_nodes, tuned_nodes = list(base.walk()), list(tuned.walk())
    if [n.name for n in base_nodes] != [n.name for n in tuned_nodes]:
        raise ValueError(f"{where}: the two models have different layers")
    for b, t in zip(base_nodes, tuned_nodes):
        for param in t.param_names:
            if not t.has_param(param):
                continue
            if not b.has_param(param):
                raise ValueError(f"{where}/{t.name}: {param} is set in one model only")
            old, new = b.get_param(param), t.get_param(param)
            if old.shape != new.shape:
                raise ValueError(f"{where}/{t.name}: {param} has shape {old.shape} vs {new.shape}")
            t.set_param(param, (1.0 - weight) * old + weight * new)
        if len(b.shims) != len(t.shims):
            raise ValueError(f"{where}/{t.name}: different PyTorch modules")
        for b_shim, t_shim in zip(b.shims, t.shims):
            _interpolate_torch(getattr(b_shim, "_model", None), getattr(t_shim, "_model", None), weight,
                               f"{where}/{t.name}")


def _interpolate_torch(base, tuned, weight: float, where: str) -> None:
    import torch

    if base is None or tuned is None or not hasattr(tuned, "state_dict"):
        return
    base_state, tuned_state = base.state_dict(), tuned.state_dict()
    if base_state.keys() != tuned_state.keys():
        raise ValueError(f"{where}: the PyTorch modules have different tensors")
    done: set[int] = set()
    with torch.no_grad():
        for key, tensor in tuned_state.items():
            if not tensor.is_floating_point():  # position ids, token types
                continue
            if tensor.data_ptr() in done:  # a tied weight, listed under two names: interpolate it once
                continue
            done.add(tensor.data_ptr())
            old = base_state[key]
            if old.shape != tensor.shape:
                raise ValueError(f"{where}: {key} has shape {tuple(old.shape)} vs {tuple(tensor.shape)}")
            tensor.lerp_(old.to(tensor.dtype), 1.0 - weight)  # in place: tensor += (1 - w) (old - tensor)


def write_interpolated(base: Path, tuned: Path, output: Path, weight: float) -> Path:
    """Load two pipeline directories, interpolate, and write the result to ``output``.

    Written to ``output.partial`` and renamed, so a stopped run never leaves a
    half-written pipeline under ``output``; never written over either input.
    """
    import spacy

    if output.resolve() in (base.resolve(), tuned.resolve()):
        raise ValueError(f"{output} is one of the inputs; write the interpolated pipeline elsewhere")
    nlp = interpolate_pipelines(spacy.load(base), spacy.load(tuned), weight)
    nlp.meta.setdefault("zhie", {})["interpolated"] = {"base": str(base), "tuned": str(tuned), "weight": weight}
    partial = output.with_name(output.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    nlp.to_disk(partial)
    if output.exists():
        shutil.rmtree(output)
    partial.rename(output)
    return output
