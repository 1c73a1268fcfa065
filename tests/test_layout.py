"""Tests for pipeline.components.layout: cleaning rules and offset mapping back to the original."""
import json

import numpy as np
import pytest

from pipeline.paths import corpora_dir
from pipeline.components.layout import PARA_END, clean

SAMPLES = corpora_dir().parent / "samples"  # ../shared/samples beside the corpora
SAMPLE_FILES = ["standing-committee-meeting.txt", "signed-commentary.txt"]


def _read(name: str) -> str:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"missing sample {path}")
    return path.read_text(encoding="utf-8")


def _gold() -> list[dict]:
    return [json.loads(line) for line in _read("front_page_gold.jsonl").splitlines() if line.strip()]


def _check_invariants(original: str) -> None:
    c = clean(original)
    starts = c.starts
    assert c.original == original
    assert len(starts) == len(c.text) + 1
    assert np.all(np.diff(starts) > 0)  # strictly increasing, hence injective
    assert all(c.text[i] == original[starts[i]] for i in range(len(c.text)))
    # Only whitespace is ever dropped: every non-space original char survives.
    dropped = np.ones(len(original), dtype=bool)
    dropped[starts[:-1]] = False
    assert all(original[i].isspace() for i in np.flatnonzero(dropped))
    assert c.text == c.text.strip()
    assert "  " not in c.text and "\u3000" not in c.text and "\n\n" not in c.text
    for i in range(len(c.text)):
        assert c.to_original(i, i + 1) == (starts[i], starts[i] + 1)
        assert c.to_clean(starts[i], starts[i] + 1) == (i, i + 1)
    if c.text:
        assert c.to_original(0, len(c.text)) == (starts[0], starts[-2] + 1)
        assert original[starts[-2] + 1:].strip() == ""


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_invariants(name):
    _check_invariants(_read(name))


def test_standing_committee_cleaned_strings():
    c = clean(_read("standing-committee-meeting.txt"))
    for s in ["史根治", "习近平总书记", "出席会议", "市领导王堃、刘保新", "本报讯（记者高伟山）6月10日",
              "智慧力量。各级党委（党组）", "《努力建设人与自然和谐共生的现代化》"]:
        assert s in c.text, s
    # Paragraph breaks survive only after sentence-final punctuation here.
    lines = c.text.split("\n")
    assert len(lines) >= 8
    assert all(line[-1] in PARA_END for line in lines[:-1])


def test_commentary_cleaned_strings():
    c = clean(_read("signed-commentary.txt"))
    assert "市委书记史根治明确指出" in c.text
    assert "遇水架桥”，主动" in c.text  # blank line inside a sentence removed
    assert c.text.startswith("面对严峻复杂形势和艰巨发展任务，")


def test_gold_entities_round_trip():
    docs = _gold()
    assert docs
    n = 0
    for doc in docs:
        c = clean(doc["text"])
        for ent in doc["entities"]:
            s, e = ent["start"], ent["end"]
            assert doc["text"][s:e] == ent["text"]
            cs, ce = c.to_clean(s, e)
            assert c.to_original(cs, ce) == (s, e), ent
            assert c.text[cs:ce] == "".join(ent["text"].split()), ent
            n += 1
    assert n >= 40


def test_gold_noisy_entities_become_clean():
    doc = {d["id"]: d for d in _gold()}["standing-committee-meeting"]
    c = clean(doc["text"])
    cleaned = {c.text[slice(*c.to_clean(e["start"], e["end"]))] for e in doc["entities"]}
    assert {"高伟山", "记者", "史根治", "王堃", "刘保新", "楚雷", "习近平", "市领导"} <= cleaned


def test_span_across_removed_line_break():
    t = "市委书记史\n根治主持。"
    c = clean(t)
    assert c.text == "市委书记史根治主持。"
    i = c.text.index("史根治")
    assert c.to_original(i, i + 3) == (4, 8)
    assert t[4:8] == "史\n根治"
    assert c.to_clean(4, 8) == (i, i + 3)
    assert c.to_clean(5, 6) == (5, 5)  # only the removed "\n": empty span at next kept char


def test_span_across_removed_blank_line():
    # The line before the blank line is a full layout line (16 chars), so the
    # blank line is a column break, not a paragraph end (a short line would be).
    t = "和“五个强市”建设凝聚强大智慧力\n\n量。各级党委"
    c = clean(t)
    assert c.text == "和“五个强市”建设凝聚强大智慧力量。各级党委"
    i = c.text.index("力量")
    assert c.to_original(i, i + 2) == (t.index("力"), t.index("量") + 1)
    assert c.to_clean(0, len(t)) == (0, len(c.text))


def test_paragraph_break_kept_after_sentence_end():
    for sep in ["\n\n", "\n  \n", "\n\u3000\n\n", "\r\n\r\n"]:
        t = f"主持并讲话。{sep}市委副书记"
        c = clean(t)
        assert c.text == "主持并讲话。\n市委副书记", repr(sep)
        _check_invariants(t)
    assert clean("会议还研究了其他事项\n\n史根治").text == "会议还研究了其他事项\n史根治"  # short headline line
    assert clean("讲话。\n市委").text == "讲话。市委"  # a single line break is always layout


def test_trailing_removed_whitespace_not_swallowed():
    t = "王 堃 、刘 保 新"
    c = clean(t)
    assert c.text == "王堃、刘保新"
    assert c.to_original(0, 2) == (0, 3)
    assert c.to_original(3, 6) == (5, 10)
    assert c.to_original(2, 2) == (4, 4)


def test_fullwidth_space_and_number_unit():
    t = "市领导\u3000王堃，投资3000 万元"
    c = clean(t)
    assert c.text == "市领导王堃，投资3000万元"
    i = c.text.index("王堃")
    assert c.to_original(i, i + 2) == (4, 6)
    assert clean("出\n席 会 议 。 市 领 导 王 堃").text == "出席会议。市领导王堃"


def test_latin_words_keep_one_space():
    t = "COVID 19 疫情，Li  Qiang 会见"
    c = clean(t)
    assert c.text == "COVID 19疫情，Li Qiang会见"
    i = c.text.index("Li Qiang")
    s, e = c.to_original(i, i + 8)
    assert t[s:e] == "Li  Qiang"
    _check_invariants(t)


@pytest.mark.parametrize("t", ["", " ", " \n\u3000\t\r\n "])
def test_empty_and_whitespace_only(t):
    c = clean(t)
    assert c.text == ""
    assert list(c.starts) == [0]
    assert c.to_original(0, 0) == (0, 0)
    assert c.to_clean(0, len(t)) == (0, 0)


def test_clean_text_is_identity():
    t = "市委书记史根治主持会议。COVID 19"
    c = clean(t)
    assert c.text == t
    assert np.array_equal(c.starts, np.arange(len(t) + 1))
    for s, e in [(0, 0), (0, 4), (4, 7), (12, len(t))]:
        assert c.to_original(s, e) == (s, e)
        assert c.to_clean(s, e) == (s, e)


def test_bad_spans_rejected_and_starts_read_only():
    c = clean("王 堃")
    for span in [(-1, 1), (2, 1), (0, 3)]:
        with pytest.raises(ValueError):
            c.to_original(*span)
    with pytest.raises(ValueError):
        c.to_clean(0, 4)
    with pytest.raises(ValueError):
        c.starts[0] = 1


def test_line_break_inside_a_number_is_layout():
    c = clean("预授信171\n0万元，COVID\n19")
    assert c.text == "预授信1710万元，COVID\n19"
    assert c.to_original(3, 9) == (3, 10)
