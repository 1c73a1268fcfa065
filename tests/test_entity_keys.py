"""Canonical entity keys (pipeline/app/entity_keys.py)."""

import pytest

from pipeline.app.entity_keys import entity_keys, key_name, normalize


def keys(*mentions: tuple[str, str]) -> list[str]:
    return entity_keys([{"label": label, "text": text} for label, text in mentions])


@pytest.mark.parametrize("text, expected", [
    ("郑\n州银行", "郑州银行"),
    ("王 堃", "王堃"),
    ("王\u3000堃", "王堃"),
    ("市\r\n委书记", "市委书记"),
    ("3000 万元", "3000万元"),
    ("ＩＢＭ中国有限公司", "IBM中国有限公司"),
    ("（中国）有限公司", "(中国)有限公司"),
    ("１７１０万元", "1710万元"),
    ("Li  Qiang", "Li Qiang"),
    ("唐纳德・特朗普", "唐纳德·特朗普"),
    ("唐纳德•特朗普", "唐纳德·特朗普"),
    (" 许昌市 ", "许昌市"),
])
def test_normalize_removes_layout_noise_and_folds_width(text, expected):
    assert normalize(text) == expected


def test_layout_variants_share_a_key():
    assert keys(("ORG", "郑州银行"), ("ORG", "郑\n州银行"), ("ORG", "郑 州 银 行"), ("PERSON", "王 堃"),
                ("PERSON", "王堃")) == ["ORG:郑州银行"] * 3 + ["PERSON:王堃"] * 2


def test_short_forms_take_the_full_name_they_follow():
    assert keys(("ORG", "郑州银行股份有限公司"), ("ORG", "郑州银行")) == ["ORG:郑州银行", "ORG:郑州银行"]
    assert keys(("ORG", "许昌恒生制药有限公司"), ("ORG", "恒生制药"), ("ORG", "恒生制药有限公司")) == \
        ["ORG:许昌恒生制药"] * 3
    assert keys(("ORG", "中国人民银行"), ("ORG", "人民银行")) == ["ORG:中国人民银行"] * 2
    assert keys(("GPE", "许昌市"), ("GPE", "许昌")) == ["GPE:许昌市"] * 2
    assert keys(("GPE", "河南省许昌市"), ("GPE", "许昌市")) == ["GPE:河南省许昌市"] * 2
    assert keys(("PERSON", "唐纳德·特朗普"), ("PERSON", "特朗普")) == ["PERSON:唐纳德·特朗普"] * 2
    # the same text keeps the key it got first in the document
    assert keys(("ORG", "恒生制药"), ("ORG", "许昌恒生制药有限公司"), ("ORG", "恒生制药")) == \
        ["ORG:恒生制药", "ORG:许昌恒生制药", "ORG:恒生制药"]


def test_person_with_his_party_is_the_person():
    assert keys(("PERSON", "王堃"), ("PERSON", "王堃一行")) == ["PERSON:王堃", "PERSON:王堃"]
    assert keys(("PERSON", "王堃一行"),) == ["PERSON:王堃"]
    assert keys(("PERSON", "王堃同志"),) == ["PERSON:王堃"]
    assert keys(("PERSON", "刘涛等"), ("PERSON", "刘涛")) == ["PERSON:刘涛", "PERSON:刘涛"]
    assert keys(("PERSON", "何等"),) == ["PERSON:何等"]  # 等 is stripped only where the name stands alone too


def test_what_stays_separate():
    assert keys(("ORG", "中共中央"), ("ORG", "党中央")) == ["ORG:中共中央", "ORG:党中央"]
    assert keys(("ORG", "中国银行保险监督管理委员会"), ("ORG", "中国银行")) == \
        ["ORG:中国银行保险监督管理委员会", "ORG:中国银行"]
    assert keys(("ORG", "郑州银行郑东新区支行"), ("ORG", "郑州银行")) == ["ORG:郑州银行郑东新区支行", "ORG:郑州银行"]
    assert keys(("PERSON", "王刚强"), ("PERSON", "王刚")) == ["PERSON:王刚强", "PERSON:王刚"]
    assert keys(("PERSON", "王堃"), ("GPE", "王堃")) == ["PERSON:王堃", "GPE:王堃"]  # labels never mix
    # a short form before its full name keeps its own name (only names it follows count)
    assert keys(("GPE", "许昌"), ("GPE", "许昌市")) == ["GPE:许昌", "GPE:许昌市"]
    # two full names it could shorten: ambiguous, kept
    assert keys(("ORG", "中共中央"), ("ORG", "党中央"), ("ORG", "中央")) == ["ORG:中共中央", "ORG:党中央", "ORG:中央"]
    assert keys(("TITLE", "市委书记"), ("TITLE", "书记")) == ["TITLE:市委书记", "TITLE:书记"]
    assert keys(("MONEY", "１０００万元"), ("MONEY", "1000 万元")) == ["MONEY:1000万元"] * 2


def test_key_name():
    assert key_name("PERSON:王堃") == "王堃" and key_name("ORG:a:b") == "a:b"
