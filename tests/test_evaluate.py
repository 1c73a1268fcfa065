"""Entity scoring against hand-computed examples."""

import pytest

from spacy.scorer import PRFScore

from pipeline.app.evaluate import LabelScore, check_floors


def test_exact_span_and_label_micro_and_per_label():
    sc = LabelScore(("PERSON", "TITLE", "ORG"))
    gold = [(0, 3, "PERSON"), (3, 7, "TITLE"), (10, 15, "ORG")]
    pred = [(0, 3, "PERSON"),          # tp
            (3, 6, "TITLE"),           # wrong boundary: fp + fn
            (10, 15, "PERSON")]        # wrong label: fp (PERSON) + fn (ORG)
    sc.add(gold, pred)
    assert (sc.micro.tp, sc.micro.fp, sc.micro.fn) == (1, 2, 2)
    assert sc.micro.precision == pytest.approx(1 / 3)
    assert sc.micro.recall == pytest.approx(1 / 3)
    assert sc.micro.fscore == pytest.approx(1 / 3)
    person = sc.per_label["PERSON"]
    assert (person.tp, person.fp, person.fn) == (1, 1, 0)
    assert person.fscore == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert sc.per_label["ORG"].fscore == 0.0 and sc.per_label["ORG"].fn == 1


def test_labels_outside_the_set_and_ignored_ranges_do_not_count():
    sc = LabelScore(("PERSON", "ORG", "GPE"))
    gold = [(0, 2, "GPE"), (5, 8, "TITLE")]
    pred = [(0, 2, "GPE"), (5, 8, "TITLE"),   # TITLE is not judged by this set
            (20, 24, "ORG"),                  # inside a missing range: not counted
            (30, 33, "PERSON")]               # a real false positive
    sc.add(gold, pred, ignore=[(19, 26)])
    assert (sc.micro.tp, sc.micro.fp, sc.micro.fn) == (1, 1, 0)
    assert "TITLE" not in sc.per_label


def test_sums_over_documents():
    sc = LabelScore(("PERSON",))
    sc.add([(0, 2, "PERSON")], [(0, 2, "PERSON")])
    sc.add([(0, 2, "PERSON"), (4, 6, "PERSON")], [])
    assert sc.micro.tp == 1 and sc.micro.fn == 2
    assert sc.micro.precision == 1.0 and sc.micro.recall == pytest.approx(1 / 3)
    assert sc.micro.fscore == pytest.approx(0.5)


def test_empty_scores_are_zero_not_errors():
    from pipeline.components.scorer import prf_dict

    assert prf_dict(PRFScore()) == {"p": 0.0, "r": 0.0, "f": 0.0, "tp": 0, "fp": 0, "fn": 0}


def test_floors_report_each_regression():
    sc = LabelScore(("PERSON", "ORG"))
    sc.add([(0, 2, "PERSON"), (3, 5, "ORG")], [(0, 2, "PERSON")])
    results = {"cluener/dev": sc}
    assert check_floors(results, {"cluener/dev": {"PERSON": 0.9}}) == []
    failures = check_floors(results, {"cluener/dev": {"micro": 0.7, "ORG": 0.1}, "absent/set": {"micro": 1.0}})
    assert len(failures) == 2
    assert failures[0].startswith("cluener/dev micro: F 0.6667 < floor 0.7000")
    assert "ORG" in failures[1]


def test_floors_from_scores_keep_labels_with_enough_gold():
    from pipeline.app.evaluate import floors_from_scores

    sc = LabelScore(("PERSON", "ORG"))
    sc.add([(i, i + 1, "PERSON") for i in range(0, 40, 2)] + [(41, 43, "ORG")],
           [(i, i + 1, "PERSON") for i in range(0, 36, 2)] + [(41, 43, "ORG")])
    floors, lowered = floors_from_scores({"x/dev": sc.as_dict()})
    # PERSON: 20 gold, F 0.947; ORG: one gold item, no floor of its own; micro F 0.95
    assert floors == {"x/dev": {"micro": 0.93, "PERSON": 0.907}} and lowered == []
    assert check_floors({"x/dev": sc}, floors) == []
    # a ratchet: met floors stay (even above the rule's), a missed one is reset and named
    previous = {"_comment": "...", "x/dev": {"micro": 0.94, "PERSON": 0.96, "ORG": 0.5}, "y/dev": {"micro": 0.8}}
    floors, lowered = floors_from_scores({"x/dev": sc.as_dict()}, previous)
    assert floors == {"x/dev": {"micro": 0.94, "PERSON": 0.907, "ORG": 0.5}, "y/dev": {"micro": 0.8}}
    assert lowered == ["x/dev PERSON: 0.96 -> 0.907 (F 0.9474)"]
    # a missed floor of a label with too little gold for a floor of its own is reset, not dropped
    floors, lowered = floors_from_scores({"x/dev": sc.as_dict()}, {"x/dev": {"ORG": 1.01}})
    assert floors["x/dev"]["ORG"] == 0.96 and lowered == ["x/dev ORG: 1.01 -> 0.96 (F 1.0000)"]


def test_relations_end_to_end_need_both_spans_and_the_label():
    from pipeline.app.evaluate import RELATION_LABELS, triples

    gold = {"entities": [{"id": "e1", "start": 0, "end": 2, "label": "PERSON"},
                         {"id": "e2", "start": 2, "end": 4, "label": "TITLE"},
                         {"id": "e3", "start": 5, "end": 9, "label": "ORG"}],
            "relations": [{"head": "e1", "tail": "e2", "label": "has_title"},
                          {"head": "e1", "tail": "e3", "label": "member_of"}]}
    # the prediction cut the TITLE short: its has_title is wrong although the
    # relation component linked the right two words; ids differ from the gold's
    pred = {"entities": [{"id": "e1", "start": 0, "end": 2, "label": "PERSON"},
                         {"id": "e2", "start": 2, "end": 3, "label": "TITLE"},
                         {"id": "e3", "start": 5, "end": 9, "label": "ORG"}],
            "relations": [{"head": "e1", "tail": "e2", "label": "has_title", "score": 0.9},
                          {"head": "e1", "tail": "e3", "label": "member_of", "score": 0.8},
                          {"head": "e1", "tail": "e3", "label": "visits", "score": 0.6}]}
    assert triples(gold) == {((0, 2), (2, 4), "has_title"), ((0, 2), (5, 9), "member_of")}
    sc = LabelScore(RELATION_LABELS)
    sc.add(triples(gold), triples(pred))
    assert (sc.micro.tp, sc.micro.fp, sc.micro.fn) == (1, 2, 1)
    assert sc.micro.fscore == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert sc.per_label["member_of"].fscore == 1.0
    assert (sc.per_label["has_title"].fp, sc.per_label["has_title"].fn) == (1, 1)
    assert (sc.per_label["visits"].fp, sc.per_label["visits"].fn) == (1, 0)


def test_error_records_classify_entity_and_relation_errors():
    from pipeline.app.evaluate import error_records, error_summary

    text = "市长刘涛会见张胜利，许昌市委书记史根治出席。"
    ents = lambda *spans: [{"id": f"e{i}", "start": s, "end": e, "label": lab}  # noqa: E731
                           for i, (s, e, lab) in enumerate(spans)]
    gold = {"id": "d1", "text": text, "missing": [],
            "entities": ents((0, 2, "TITLE"), (2, 4, "PERSON"), (6, 9, "PERSON"), (10, 16, "TITLE"), (16, 19, "PERSON")),
            "relations": [{"head": "e1", "tail": "e0", "label": "has_title"},
                          {"head": "e4", "tail": "e3", "label": "has_title"}]}
    pred = {"id": "d1", "text": text,
            "entities": ents((0, 2, "TITLE"), (2, 4, "PERSON"), (6, 8, "PERSON"),  # 张胜|利 cut short
                             (10, 16, "ORG"), (16, 19, "PERSON")),                  # a TITLE labelled ORG
            "relations": [{"head": "e1", "tail": "e0", "label": "has_title"},
                          {"head": "e2", "tail": "e0", "label": "has_title"}]}       # spurious pair
    errs = error_records("s", gold, pred, ("PERSON", "TITLE", "ORG"), with_relations=True)
    got = {(e["what"], e["kind"], e["class"], e["label"], e.get("text") or e["head"]) for e in errs}
    assert got == {
        ("entity", "fn", "boundary", "PERSON", "张胜利"), ("entity", "fp", "boundary", "PERSON", "张胜"),
        ("entity", "fn", "label", "TITLE", "许昌市委书记"), ("entity", "fp", "label", "ORG", "许昌市委书记"),
        ("relation", "fn", "entity", "has_title", "史根治"),  # its tail is no TITLE in the prediction
        ("relation", "fp", "entity", "has_title", "张胜"),    # its head is no gold entity
    }
    boundary = next(e for e in errs if e["kind"] == "fn" and e["class"] == "boundary")
    assert boundary["context"] == "市长刘涛会见[张胜利]，许昌市委书记史根治出席。" and boundary["other"] == [6, 8, "PERSON"]
    assert error_summary(errs)["s"]["entity fn boundary PERSON"] == 1
