"""Weight interpolation between a pipeline and its continuation (pipeline/training/interpolate.py)."""

import numpy as np
import pytest
import spacy
from thinc.api import Linear, PyTorchWrapper, chain, fix_random_seed

from pipeline.training.interpolate import interpolate_models, interpolate_pipelines, write_interpolated

torch = pytest.importorskip("torch")


def _model(seed: int):
    fix_random_seed(seed)
    model = chain(Linear(4, 3), PyTorchWrapper(torch.nn.Linear(4, 2)))
    model.initialize(X=np.zeros((2, 3), dtype="f"))
    return model


def _weights(model):
    thinc = {(i, p): node.get_param(p).copy() for i, node in enumerate(model.walk())
             for p in node.param_names if node.has_param(p)}
    shim = model.layers[1].shims[0]._model
    return thinc, {k: v.detach().clone() for k, v in shim.state_dict().items()}


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_models_interpolate_thinc_and_torch_weights(weight):
    base, tuned = _model(0), _model(1)
    (base_thinc, base_torch), (tuned_thinc, tuned_torch) = _weights(base), _weights(tuned)
    assert not np.allclose(base_thinc[(1, "W")], tuned_thinc[(1, "W")])
    interpolate_models(base, tuned, weight)
    got_thinc, got_torch = _weights(tuned)
    for key, value in got_thinc.items():
        np.testing.assert_allclose(value, (1 - weight) * base_thinc[key] + weight * tuned_thinc[key], rtol=1e-6)
    for key, value in got_torch.items():
        expected = (1 - weight) * base_torch[key] + weight * tuned_torch[key]
        assert torch.allclose(value, expected, atol=1e-6)
    # the base is read, never written
    assert np.array_equal(_weights(base)[0][(1, "W")], base_thinc[(1, "W")])
    # the interpolated model still runs
    assert tuned.predict(np.ones((1, 3), dtype="f")).shape == (1, 2)


def test_models_of_another_shape_are_refused():
    fix_random_seed(0)
    other = chain(Linear(4, 5), PyTorchWrapper(torch.nn.Linear(4, 2)))
    other.initialize(X=np.zeros((2, 5), dtype="f"))
    with pytest.raises(ValueError, match="shape"):
        interpolate_models(_model(0), other, 0.5)


def _nlp(seed: int, labels=("PERSON", "ORG")):
    fix_random_seed(seed)
    nlp = spacy.blank("zh")
    ner = nlp.add_pipe("ner")
    for label in labels:
        ner.add_label(label)
    nlp.initialize()
    return nlp


def test_pipelines_interpolate_every_component_and_still_annotate():
    base, tuned = _nlp(0), _nlp(1)
    half = interpolate_pipelines(base, _nlp(1), 0.5)
    for b, t, h in zip(base.get_pipe("ner").model.walk(), tuned.get_pipe("ner").model.walk(),
                       half.get_pipe("ner").model.walk()):
        for p in h.param_names:
            if h.has_param(p):
                np.testing.assert_allclose(h.get_param(p), 0.5 * b.get_param(p) + 0.5 * t.get_param(p), rtol=1e-5)
    assert half("习近平在北京考察").text == "习近平在北京考察"


def test_pipelines_of_other_components_or_weights_are_refused():
    with pytest.raises(ValueError, match="components"):
        interpolate_pipelines(_nlp(0), spacy.blank("zh"), 0.5)
    with pytest.raises(ValueError, match="shape"):
        interpolate_pipelines(_nlp(0), _nlp(1, labels=("PERSON", "ORG", "GPE")), 0.5)
    with pytest.raises(ValueError, match="weight"):
        interpolate_pipelines(_nlp(0), _nlp(1), 1.5)


def test_written_pipeline_loads_with_the_interpolated_weights(tmp_path):
    base_dir, tuned_dir, out = tmp_path / "base", tmp_path / "tuned", tmp_path / "out"
    _nlp(0).to_disk(base_dir)
    _nlp(1).to_disk(tuned_dir)
    out.mkdir()
    (out / "stale").write_text("from an earlier run")
    write_interpolated(base_dir, tuned_dir, out, 0.25)
    assert not (out / "stale").exists() and not (tmp_path / "out.partial").exists()
    nlp = spacy.load(out)
    assert nlp.meta["zhie"]["interpolated"]["weight"] == 0.25
    got = next(n.get_param("W") for n in nlp.get_pipe("ner").model.walk() if n.has_param("W"))
    b, t = (next(n.get_param("W") for n in spacy.load(d).get_pipe("ner").model.walk() if n.has_param("W"))
            for d in (base_dir, tuned_dir))
    np.testing.assert_allclose(got, 0.75 * b + 0.25 * t, rtol=1e-5)
    with pytest.raises(ValueError, match="one of the inputs"):
        write_interpolated(base_dir, tuned_dir, tuned_dir, 0.5)


def test_a_tied_torch_weight_is_interpolated_once():
    def tied(seed):
        torch.manual_seed(seed)
        module = torch.nn.Sequential(torch.nn.Linear(3, 3, bias=False), torch.nn.Linear(3, 3, bias=False))
        module[1].weight = module[0].weight  # one tensor, two names in the state dict
        model = PyTorchWrapper(module)
        model.initialize(X=np.zeros((1, 3), dtype="f"))
        return model

    base, tuned = tied(0), tied(1)
    before = tuned.shims[0]._model[0].weight.detach().clone()
    interpolate_models(base, tuned, 0.5)
    expected = 0.5 * base.shims[0]._model[0].weight.detach() + 0.5 * before
    assert torch.allclose(tuned.shims[0]._model[1].weight.detach(), expected, atol=1e-6)
