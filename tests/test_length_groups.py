"""The transformer's training pass in length groups: the same outputs and gradients as one padded pass."""

import numpy
import pytest

from pipeline.components.length_groups import length_groups


@pytest.mark.parametrize("lengths, ratio, groups", [
    ([10, 40, 12, 100, 45], 1.25, [[0, 2], [1, 4], [3]]),
    ([10, 40, 12, 100, 45], 10.0, [[0, 2, 1, 4, 3]]),
    ([30, 0, 31, 0], 1.25, [[1, 3, 0, 2]]),  # documents without a window ride with the first group
    ([0, 0], 1.25, [[0, 1]]),
    ([], 1.25, []),
])
def test_length_groups(lengths, ratio, groups):
    assert length_groups(lengths, ratio) == groups


@pytest.mark.needs_model
def test_grouped_pass_gives_the_outputs_and_gradients_of_one_padded_pass(model_dir):
    import spacy
    import torch
    from spacy_transformers.layers.transformer_model import forward as one_pass

    from pipeline.components.length_groups import length_grouped, piece_lengths, window_piece_lengths

    nlp = spacy.load(model_dir)
    model = nlp.get_pipe("transformer").model
    hf = model.layers[0].shims[0]._model
    for module in hf.modules():  # dropout off (the layers' and SDPA attention's): both passes see one network
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if hasattr(module, "dropout_prob"):
            module.dropout_prob = 0.0
    texts = ["市长刘涛在许昌调研。", "国务院总理李强会见来访的新加坡总理黄循财，双方签署了2025年至2030年合作协议。" * 3,
             "新华社北京电", "ABC公司与XYZ银行达成1710万元预授信。", "中共中央政治局常委、国务院副总理丁薛祥出席会议并讲话。" * 6]
    docs = [nlp.make_doc(t) for t in texts]
    assert len(length_groups(piece_lengths(model, docs), 1.25)) >= 3

    def run(forward):
        hf.zero_grad()
        output, backprop = forward(model, docs, True)
        data = output.doc_data
        grads = []
        for d in data:
            mask = d.wordpieces.attention_mask[:, :, None]  # the gradient at real pieces only
            grads.append([d.tensors[0] * mask] + [numpy.zeros_like(t) for t in d.tensors[1:]])
        backprop(output.unsplit_by_doc(grads))
        return data, {n: p.grad.clone() for n, p in hf.named_parameters() if p.grad is not None}

    data_one, grads_one = run(one_pass)
    # the lengths the groups are cut by are the pieces the encoder sees, window by window
    assert window_piece_lengths(model, docs) == [d.wordpieces.attention_mask.sum(axis=1).tolist() for d in data_one]
    data_grouped, grads_grouped = run(length_grouped(1.25))
    for one, grouped in zip(data_one, data_grouped):
        real = one.wordpieces.attention_mask.astype(bool)
        length = grouped.tensors[0].shape[1]  # its group's longest window: no real piece beyond
        assert not real[:, length:].any()
        assert numpy.allclose(one.tensors[0][:, :length][real[:, :length]], grouped.tensors[0][real[:, :length]], atol=1e-4)
    assert grads_one.keys() == grads_grouped.keys() and grads_one
    for name, grad in grads_one.items():
        assert torch.allclose(grad, grads_grouped[name], atol=1e-3, rtol=1e-3), name
