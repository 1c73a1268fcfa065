"""The gazetteer features: place names from maintained sources, and where each
character stands in them as the NER's input (issue 9, whole names)."""

import numpy
import pytest
import spacy
from spacy.util import registry

from pipeline.training.gazetteer import LABELS, country_names, gazetteer_patterns


@pytest.fixture(scope="module")
def patterns(corpora):
    if not (corpora / "jionlp_gazetteer_money" / "china_location.zip").exists():
        pytest.skip(f"no jionlp gazetteer in {corpora}")
    return gazetteer_patterns(corpora)


def test_patterns_hold_full_and_short_names_of_each_level(patterns):
    pairs = {(p["label"], p["pattern"]) for p in patterns}
    assert {("PROVINCE", "新疆维吾尔自治区"), ("PROVINCE", "新疆"), ("CITY", "许昌市"), ("CITY", "许昌"),
            ("COUNTY", "嘉定区"), ("COUNTY", "嘉定"), ("COUNTRY", "莫桑比克"), ("COUNTRY", "德意志联邦共和国")} <= pairs
    # towns and villages are left out (generic names), and so are one-character short forms
    assert not {n for l, n in pairs if n in ("华亭镇", "北新村")}
    assert all(len(p["pattern"]) >= 2 for p in patterns)
    assert {p["label"] for p in patterns} == set(LABELS)
    assert patterns == sorted(patterns, key=lambda p: (p["label"], p["pattern"]))  # reproducible file


def test_country_names_are_chinese_translations_current_and_historic():
    names = country_names()
    assert {"德国", "美国", "朝鲜", "科特迪瓦", "南斯拉夫社会主义联邦共和国", "苏维埃社会主义共和国联盟"} <= names
    assert not any(n.isascii() for n in names)  # an untranslated English name is not kept


def _gazetteer_nlp(patterns):
    nlp = spacy.blank("zh")  # the char segmenter: one token per character
    ruler = nlp.add_pipe("span_ruler", name="gazetteer",
                         config={"spans_key": "gazetteer", "spans_filter": None, "scorer": None})
    ruler.add_patterns(patterns)
    return nlp


def test_span_ruler_marks_every_name_overlaps_kept():
    nlp = _gazetteer_nlp([{"label": "PROVINCE", "pattern": "新疆"},
                          {"label": "PROVINCE", "pattern": "新疆维吾尔自治区"},
                          {"label": "COUNTRY", "pattern": "莫桑比克"}])
    doc = nlp("新疆维吾尔自治区代表团访问莫桑比克。")
    spans = sorted((s.start, s.end, s.label_) for s in doc.spans["gazetteer"])
    assert spans == [(0, 2, "PROVINCE"), (0, 8, "PROVINCE"), (13, 17, "COUNTRY")]


def test_boundary_features_say_begin_inside_last_and_unit_per_label():
    nlp = _gazetteer_nlp([{"label": "PROVINCE", "pattern": "新疆"},
                          {"label": "PROVINCE", "pattern": "新疆维吾尔自治区"},
                          {"label": "COUNTRY", "pattern": "莫桑比克"}])
    doc = nlp("新疆维吾尔自治区代表团访问莫桑比克。")
    layer = registry.architectures.get("zhie.SpanBoundaryEmbed.v1")(
        spans_key="gazetteer", labels=["PROVINCE", "CITY", "COUNTY", "COUNTRY"], width=8)
    features = layer.layers[0]
    (X,), _ = features([doc], is_train=False)
    assert X.shape == (len(doc), 16)
    province, country = X[:, 0:4], X[:, 12:16]
    # 新 begins both spans, 疆 ends the short one and is inside the long one, 区 ends the long one
    assert province[0].tolist() == [1, 0, 0, 0]
    assert province[1].tolist() == [0, 1, 1, 0]
    assert province[2:7, 1].tolist() == [1] * 5 and province[7].tolist() == [0, 0, 1, 0]
    assert province[8:].sum() == 0 and X[:, 4:12].sum() == 0
    assert country[13].tolist() == [1, 0, 0, 0] and country[16].tolist() == [0, 0, 1, 0]
    assert country[14:16, 1].tolist() == [1, 1] and country[:13].sum() == 0


def test_boundary_embedding_has_its_width_and_zeros_without_the_spans():
    layer = registry.architectures.get("zhie.SpanBoundaryEmbed.v1")(
        spans_key="gazetteer", labels=["PROVINCE", "COUNTRY"], width=8)
    nlp = spacy.blank("zh")
    docs = [nlp("没有地名的一句话。"), nlp("中国")]
    layer.initialize(X=docs)
    Y = layer.predict(docs)
    assert [y.shape for y in Y] == [(9, 8), (2, 8)]
    (X, _), _ = layer.layers[0](docs, is_train=False)
    assert not numpy.asarray(X).any()  # no gazetteer spans: the features are all zero
