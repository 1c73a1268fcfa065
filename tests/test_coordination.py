"""Coordinated entities share their relations (pipeline/components/coordination.py)."""

import pytest

from pipeline.components.coordination import SHARED_SIDES, list_mates, share_coordinated
from mentions import offsets


def rel(ents, h, t, label, score=0.9):
    return {"head": ents[h][:2], "tail": ents[t][:2], "label": label, "score": score}


def triples(rels):
    return {(r["head"], r["tail"], r["label"]) for r in rels}


# (sentence, entities in reading order, the classifier's relations, the relations after sharing)
TABLE = [
    # a visit to a list of places: every place
    ("哈钦森一行是在结束了对深圳、桂林和上海的访问后于17日抵京的。",
     [("哈钦森", "PERSON"), ("深圳", "GPE"), ("桂林", "GPE"), ("上海", "GPE"), ("京", "GPE")],
     [(0, 1, "visits"), (0, 4, "visits")],
     [(0, 1, "visits"), (0, 2, "visits"), (0, 3, "visits"), (0, 4, "visits")]),
    # a list of visitors
    ("王敏、李强来到许昌市调研。",
     [("王敏", "PERSON"), ("李强", "PERSON"), ("许昌市", "GPE")],
     [(1, 2, "visits")],
     [(0, 2, "visits"), (1, 2, "visits")]),
    # visitors and places: from one pair to all four
    ("王敏和李强先后前往襄城县、长葛市。",
     [("王敏", "PERSON"), ("李强", "PERSON"), ("襄城县", "GPE"), ("长葛市", "GPE")],
     [(0, 2, "visits")],
     [(0, 2, "visits"), (0, 3, "visits"), (1, 2, "visits"), (1, 3, "visits")]),
    # one company signs with a list of partners
    ("平安好医生即与中国移动、北京汽车、中信银行达成战略合作。",
     [("平安好医生", "ORG"), ("中国移动", "ORG"), ("北京汽车", "ORG"), ("中信银行", "ORG")],
     [(0, 1, "agreement_with")],
     [(0, 1, "agreement_with"), (0, 2, "agreement_with"), (0, 3, "agreement_with")]),
    # A与B: B's only list mate is the head, nothing to add, nothing reversed
    ("中国移动与中广传播签订排他性协议。",
     [("中国移动", "ORG"), ("中广传播", "ORG")],
     [(0, 1, "agreement_with")],
     [(0, 1, "agreement_with")]),
    # posts and memberships are left to the classifier (a wrong link would go to the whole list)
    ("会议选举游德馨为省政协主席，刘金美、王良为省政协副主席。",
     [("游德馨", "PERSON"), ("省政协主席", "TITLE"), ("刘金美", "PERSON"), ("王良", "PERSON"), ("省政协副主席", "TITLE")],
     [(0, 1, "has_title"), (2, 1, "has_title")],
     [(0, 1, "has_title"), (2, 1, "has_title")]),
    # ... except a post heading a list of names joined by 、: every name holds it,
    # not the membership
    ("中原银行董事张三、李四出席。",
     [("中原银行", "ORG"), ("董事", "TITLE"), ("张三", "PERSON"), ("李四", "PERSON")],
     [(2, 0, "member_of"), (2, 1, "has_title")],
     [(2, 0, "member_of"), (2, 1, "has_title"), (3, 1, "has_title")]),
    # the samples' standing-committee list, column breaks and spaced characters
    # included, linked in the middle only
    ("市委常\n委马正兰、方婷、黄旭东、王志宏、\n王自合出席。市 领 导 王 堃 、 刘 保 新 列席。",
     [("市委常\n委", "TITLE"), ("马正兰", "PERSON"), ("方婷", "PERSON"), ("黄旭东", "PERSON"),
      ("王志宏", "PERSON"), ("王自合", "PERSON"), ("市 领 导", "TITLE"), ("王 堃", "PERSON"), ("刘 保 新", "PERSON")],
     [(2, 0, "has_title"), (7, 6, "has_title")],
     [(1, 0, "has_title"), (2, 0, "has_title"), (3, 0, "has_title"), (4, 0, "has_title"), (5, 0, "has_title"),
      (7, 6, "has_title"), (8, 6, "has_title")]),
    # a post not heading the list (a comma, another entity, or no post before the
    # first name) is not shared
    ("市长，张三、李四出席。",
     [("市长", "TITLE"), ("张三", "PERSON"), ("李四", "PERSON")],
     [(1, 0, "has_title")],
     [(1, 0, "has_title")]),
    ("副市长张三、许昌市长李四、王五出席。",
     [("副市长", "TITLE"), ("张三", "PERSON"), ("许昌市长", "TITLE"), ("李四", "PERSON"), ("王五", "PERSON")],
     [(1, 0, "has_title"), (3, 2, "has_title")],
     [(1, 0, "has_title"), (3, 2, "has_title"), (4, 2, "has_title")]),
    ("董事长张三、李四与许昌银行行长王五、赵六签约。",
     [("董事长", "TITLE"), ("张三", "PERSON"), ("李四", "PERSON"), ("许昌银行", "ORG"), ("行长", "TITLE"),
      ("王五", "PERSON"), ("赵六", "PERSON")],
     [(1, 0, "has_title"), (5, 0, "has_title")],
     [(1, 0, "has_title"), (2, 0, "has_title"), (5, 0, "has_title")]),
    # a body seated in a list of places (D41)
    ("中原银行在许昌市、郑州市设立分行。",
     [("中原银行", "ORG"), ("许昌市", "GPE"), ("郑州市", "GPE")],
     [(0, 1, "located_in")],
     [(0, 1, "located_in"), (0, 2, "located_in")]),
    # a comma ends a clause more often than it continues a list
    ("王敏来到襄城县，长葛市的干部陪同。",
     [("王敏", "PERSON"), ("襄城县", "GPE"), ("长葛市", "GPE")],
     [(0, 1, "visits")],
     [(0, 1, "visits")]),
    # no list: unchanged
    ("王敏来到许昌市调研。",
     [("王敏", "PERSON"), ("许昌市", "GPE")],
     [(0, 1, "visits")],
     [(0, 1, "visits")]),
    # a member_of tail list is not shared (the gold shares it 16 of 21 times)
    ("张三是中原银行、许昌银行的股东。",
     [("张三", "PERSON"), ("中原银行", "ORG"), ("许昌银行", "ORG")],
     [(0, 1, "member_of")],
     [(0, 1, "member_of")]),
    # amounts are not shared (分别 and the classifier decide them)
    ("许昌市、郑州市获得资金3亿元。",
     [("许昌市", "GPE"), ("郑州市", "GPE"), ("3亿元", "MONEY")],
     [(0, 2, "amount")],
     [(0, 2, "amount")]),
    # entities of different labels side by side are not a list
    ("王敏、许昌市长李强来到许昌市。",
     [("王敏", "PERSON"), ("许昌市长", "TITLE"), ("李强", "PERSON"), ("许昌市", "GPE")],
     [(0, 3, "visits")],
     [(0, 3, "visits")]),
]


@pytest.mark.parametrize("text,mentions,predicted,expected", TABLE, ids=[t[0][:10] for t in TABLE])
def test_list_members_share_the_relation(text, mentions, predicted, expected):
    ents = offsets(text, mentions)
    got = share_coordinated(text, ents, [rel(ents, h, t, lab) for h, t, lab in predicted])
    assert triples(got) == {(ents[h][:2], ents[t][:2], lab) for h, t, lab in expected}


def test_copies_take_the_score_of_their_source_and_keep_a_higher_one():
    text = "王敏来到襄城县、长葛市、禹州市。"
    ents = offsets(text, [("王敏", "PERSON"), ("襄城县", "GPE"), ("长葛市", "GPE"), ("禹州市", "GPE")])
    got = share_coordinated(text, ents, [rel(ents, 0, 1, "visits", 0.8), rel(ents, 0, 2, "visits", 0.95)])
    scores = {r["tail"]: r["score"] for r in got}
    assert scores == {ents[1][:2]: 0.95, ents[2][:2]: 0.95, ents[3][:2]: 0.95}


def test_list_mates_and_unscored_relations():
    text = "襄城县和长葛市、禹州市，许昌市"
    ents = offsets(text, [("襄城县", "GPE"), ("长葛市", "GPE"), ("禹州市", "GPE"), ("许昌市", "GPE")])
    mates = list_mates(text, ents)
    assert mates[ents[0][:2]] == [ents[1][:2], ents[2][:2]] and ents[3][:2] not in mates
    assert share_coordinated(text, ents, []) == []
    got = share_coordinated("王敏来到" + text, [(s + 4, e + 4, lab) for s, e, lab in ents[:3]] + [(0, 2, "PERSON")],
                            [{"head": (0, 2), "tail": (4, 7), "label": "visits"}])
    assert all("score" not in r for r in got) and len(got) == 3


def test_every_shared_label_is_a_relation_label():
    from pipeline.components.schema import RELATION_LABELS

    assert set(SHARED_SIDES) <= set(RELATION_LABELS)
    assert all(set(sides) <= {"head", "tail"} for sides in SHARED_SIDES.values())
