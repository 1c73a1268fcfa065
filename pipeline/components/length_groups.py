"""The transformer's training pass in groups of similar length (issue 9, item 4: waste).

spacy-transformers runs a training batch through the encoder as one tensor,
every window padded to the batch's longest. spaCy's ``batch_by_padded``
batcher sorts the items by their length in characters, but a window's length
in word pieces varies by half either way (digits and Latin words are one
piece for many characters), so 35 % of the encoder's input on the training
corpus was still padding. The forward of ``length_grouped`` sorts the documents
of a training batch by the word pieces of their longest window and runs the
encoder once per group whose lengths stay within ``ratio`` of its shortest
(1.25: 9 % padding, three passes a batch on the training corpus). Padding
changes no output of a real piece (the attention mask hides it), so the
result is the same; prediction keeps spacy-transformers' own batching.
"""

from __future__ import annotations

from typing import Callable

from spacy.tokens import Doc
from spacy_transformers.data_classes import FullTransformerBatch, TransformerData
from spacy_transformers.layers.transformer_model import forward as transformer_forward
from thinc.api import Model


def length_grouped(ratio: float) -> Callable:
    """A TransformerModel forward that trains in length groups (``ratio`` <= 1: one group)."""

    def forward(model: Model, docs: list[Doc], is_train: bool):
        if not is_train or ratio <= 1.0 or len(docs) < 2:
            return transformer_forward(model, docs, is_train)
        groups = length_groups(piece_lengths(model, docs), ratio)
        if len(groups) < 2:
            return transformer_forward(model, docs, is_train)
        passes = [transformer_forward(model, [docs[i] for i in group], is_train) for group in groups]
        batch = LengthGroupedBatch(groups, [output for output, _ in passes], len(docs))

        def backprop(d_batch: LengthGroupedBatch) -> list[Doc]:
            for (_, backprop_group), d_group in zip(passes, d_batch.outputs):
                backprop_group(d_group)
            return docs

        return batch, backprop

    return forward


def window_piece_lengths(model: Model, docs: list[Doc], spans: list[list] | None = None) -> list[list[int]]:
    """The word pieces of each window the transformer cuts from each document
    (``spans``: those windows, when the caller already has them)."""
    spans = model.attrs["get_spans"](docs) if spans is None else spans
    flat = [span.text for doc_spans in spans for span in doc_spans]
    ids = iter(model.tokenizer(flat)["input_ids"]) if flat else iter(())
    return [[len(next(ids)) for _ in doc_spans] for doc_spans in spans]


def piece_lengths(model: Model, docs: list[Doc]) -> list[int]:
    """The word pieces of each document's longest window (0 for a document without one)."""
    return [max(windows, default=0) for windows in window_piece_lengths(model, docs)]


def length_groups(lengths: list[int], ratio: float) -> list[list[int]]:
    """Document indices sorted by length, cut where a length exceeds ``ratio`` times its group's first.
    Documents without a window join the first group that has one (they add nothing to a pass)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    empty = [i for i in order if lengths[i] == 0]
    groups: list[list[int]] = []
    for i in order:
        if lengths[i] == 0:
            continue
        if groups and lengths[i] <= lengths[groups[-1][0]] * ratio:
            groups[-1].append(i)
        else:
            groups.append([i])
    if not groups:
        return [empty] if empty else []
    groups[0] = empty + groups[0]
    return groups


class LengthGroupedBatch:
    """What the Transformer component reads of a ``FullTransformerBatch`` (``doc_data``,
    ``unsplit_by_doc``) for a batch whose groups ran as separate passes."""

    def __init__(self, groups: list[list[int]], outputs: list[FullTransformerBatch], n_docs: int):
        self.groups, self.outputs, self.n_docs = groups, outputs, n_docs
        self._doc_data: list[TransformerData] | None = None

    @property
    def doc_data(self) -> list[TransformerData]:
        """The outputs per document, in the batch's order."""
        if self._doc_data is None:
            data: list = [None] * self.n_docs
            for group, output in zip(self.groups, self.outputs):
                for i, doc_data in zip(group, output.doc_data):
                    data[i] = doc_data
            self._doc_data = data
        return self._doc_data

    def unsplit_by_doc(self, arrays: list[list]) -> "LengthGroupedBatch":
        """The gradient, per document in batch order, back into one batch per group."""
        d_outputs = [output.unsplit_by_doc([arrays[i] for i in group]) for group, output in zip(self.groups, self.outputs)]
        return LengthGroupedBatch(self.groups, d_outputs, len(arrays))
