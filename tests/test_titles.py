"""GUIDELINES rule 8 on the pipeline's output: drop_nameless_titles."""

import pytest
import spacy
from spacy.tokens import Span

from pipeline.components.titles import drop_nameless_titles

from mentions import offsets

# (text, entities as (mention, label) in text order, the TITLEs that stay)
CASES = [
    # a post next to its holder stays
    ("市委书记王堃出席会议。", [("市委书记", "TITLE"), ("王堃", "PERSON")], ["市委书记"]),
    # no name in the sentence: 记者从……了解到, a résumé's career, a list of unnamed posts
    ("记者从增城气象台了解到，雨势较大。", [("记者", "TITLE"), ("增城气象台", "ORG")], []),
    ("曾任砀山县副县长、县委副书记。", [("砀山县", "GPE"), ("副县长", "TITLE"), ("县委副书记", "TITLE")], []),
    ("国务委员，最高人民法院院长出席会议。", [("国务委员", "TITLE"), ("最高人民法院", "ORG"), ("院长", "TITLE")], []),
    # a name in another sentence does not hold a post: sentences end at 。！？
    ("王堃出席。市长讲话！", [("王堃", "PERSON"), ("市长", "TITLE")], []),
    # a name anywhere in the sentence keeps every post of it (whose post it is, the relations say)
    ("被告人赵立民身为村支书，违反规定。", [("赵立民", "PERSON"), ("村支书", "TITLE")], ["村支书"]),
    ("市长在会上说，王堃同志出席。", [("市长", "TITLE"), ("王堃", "PERSON")], ["市长"]),
]


@pytest.mark.parametrize("text,mentions,kept", CASES)
def test_drop_nameless_titles(text, mentions, kept):
    ents = offsets(text, mentions)
    out = drop_nameless_titles(text, ents)
    assert [text[s:e] for s, e, label in out if label == "TITLE"] == kept
    assert [x for x in out if x[2] != "TITLE"] == [x for x in ents if x[2] != "TITLE"]


def test_component_sets_doc_ents():
    nlp = spacy.blank("zh")
    nlp.add_pipe("drop_nameless_titles")
    assert nlp.get_pipe_meta("drop_nameless_titles").assigns == ["doc.ents"]
    doc = nlp.make_doc("记者了解到。市长王堃出席。")
    doc.ents = [Span(doc, 0, 2, "TITLE"), Span(doc, 6, 8, "TITLE"), Span(doc, 8, 10, "PERSON")]
    doc = nlp.get_pipe("drop_nameless_titles")(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("市长", "TITLE"), ("王堃", "PERSON")]
    assert [t.ent_iob_ for t in doc[:2]] == ["O", "O"]   # decided: outside, not missing
    again = nlp.get_pipe("drop_nameless_titles")(nlp.make_doc("没有实体。"))
    assert again.ents == ()
