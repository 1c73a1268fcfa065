"""The n-ary event view (GUIDELINES.md, "Events") assembled from a record's entities and relations.

Events are derived, never annotated: one per MONEY that has ``amount``
relations, and one per ``agreement_with`` pair that no such MONEY covers.
Relations carry the structure, so distributive phrasing comes out right on its
own: in 恒生分别与邮储银行、郑州银行达成预授信1000万元、610万元 the amount
relations group 恒生 + 邮储银行 around 1000万元 and 恒生 + 郑州银行 around
610万元, and each agreement pair is then covered by one of those events.

An event::

    {"type": "预授信", "trigger": {"start", "end", "text"} | None,
     "parties": [{"entity": "e1", "role": "receiver" | "grantor" | "party"}],
     "amount": {"entity", "value", "currency", "approximate", "low", "high"} | None,
     "date": {"start", "end", "text"} | None,
     "relations": [indices into record["relations"]],
     "score": min of the supporting relations' scores (only when they carry one)}

An agreement pair of which only one side is linked to an amount is not
merged into that amount's event (the relations do not say it is the same
deal); it gets its own agreement event.

Roles follow agreement_with (D7): head = receiver, tail = grantor; a party
with no agreement in the event is "party".
"""

from __future__ import annotations

import re
from dataclasses import asdict

from spacy.language import Language
from spacy.tokens import Doc

from .extensions import install_extensions
from .money import money_at
from .schema import sentence_index

# Type words, matched longest first (预授信 before 授信). The type of an event is
# the one nearest its amount (or its parties) in the same sentence.
TRIGGERS = (
    "预授信", "授信", "贷款", "借款", "投资", "注资", "融资", "募集", "签约", "签订", "签署", "合作", "协议",
    "合同", "对接", "收购", "并购", "捐赠", "捐款", "捐", "援助", "罚款", "罚金", "没收", "赔偿", "销售额",
    "营业收入", "营收", "收入", "净利润", "利润", "利税", "产值", "业绩增长", "补助", "资助", "补贴", "拨款",
    "受贿", "行贿", "贪污", "挪用", "回扣", "出口", "损失", "悬赏",
)
TRIGGER = re.compile("|".join(sorted(TRIGGERS, key=len, reverse=True)))

# Date expressions: 2019年11月20日, 6月10日, １月２３日, 上半年, 今年一季度, 2013年末, and X至Y.
_DIG = "[0-9０-９]"
_MONTH = rf"(?:{_DIG}{{1,2}}|十[一二]?|[一二三四五六七八九])月(?:份|上旬|中旬|下旬|初|底|末)?"
_DAY = rf"(?:{_DIG}{{1,2}}|[一二三]?十[一二三四五六七八九]?|[一二三四五六七八九])日"
_MONTH_DAY = rf"{_MONTH}(?:{_DAY}|{_DIG}{{1,2}}号)?"
_PART = r"(?:上半年|下半年|年初|年底|年末|前三季度|第?[一二三四1-4１-４]季度)"
_YEAR = rf"(?:{_DIG}{{4}}|[零〇一二三四五六七八九]{{4}}|[今去明前当同])年"
_ONE = (rf"(?:{_YEAR}(?:{_MONTH_DAY}|上半年|下半年|初|底|末|前三季度|第?[一二三四1-4１-４]季度)?"
        rf"|{_PART}|{_MONTH_DAY}|{_DAY}|昨天|今天|前天|昨日|今日)")
DATE = re.compile(rf"{_ONE}(?:[至到—-]{_ONE})?")


def _span(text: str, start: int, end: int) -> dict:
    return {"start": start, "end": end, "text": text[start:end]}


def _free(start: int, end: int, entities: list[dict]) -> bool:
    """A match inside an entity (投资 in 中国投资有限公司) is part of a name, not a word of the sentence."""
    return all(end <= e["start"] or start >= e["end"] for e in entities)


def _in_sentence(sent: list[int], k: int, start: int, end: int) -> bool:
    return sent[start] == k and sent[end - 1] == k


def _trigger(text: str, sent: list[int], k: int, lo: int, hi: int, entities: list[dict]) -> dict | None:
    """The trigger nearest the anchor span [lo, hi) in sentence k; before wins a tie."""
    best, best_key = None, None
    for m in TRIGGER.finditer(text):
        if not _in_sentence(sent, k, m.start(), m.end()) or not _free(m.start(), m.end(), entities):
            continue
        gap = lo - m.end() if m.end() <= lo else m.start() - hi if m.start() >= hi else 0
        key = (gap, m.start() >= hi)
        if best_key is None or key < best_key:
            best, best_key = m, key
    return _span(text, best.start(), best.end()) if best else None


def _date(text: str, sent: list[int], k: int, before: int, entities: list[dict]) -> dict | None:
    """The last date expression of sentence k that ends before ``before``."""
    found = None
    for m in DATE.finditer(text):
        if m.end() <= before and _in_sentence(sent, k, m.start(), m.end()) and _free(m.start(), m.end(), entities):
            found = m
    return _span(text, found.start(), found.end()) if found else None


def _amount(text: str, money: dict) -> dict:
    """The MONEY normalised, with the hedges around the span (近3000万元) taken into account."""
    m = money_at(text, money["start"], money["end"])
    return {"entity": money["id"], **(asdict(m) if m else dict.fromkeys(("value", "currency", "approximate", "low", "high")))}


def _event(record: dict, sent: list[int], kind: str, party_ids: list[str], money: dict | None,
           rel_idx: list[int], ents: dict[str, dict]) -> dict:
    text, rels = record["text"], record["relations"]
    roles: dict[str, str] = {}
    for i in rel_idx:  # agreement_with gives the roles; first assignment wins
        r = rels[i]
        if r["label"] == "agreement_with":
            roles.setdefault(r["head"], "receiver")
            roles.setdefault(r["tail"], "grantor")
    # the anchor is the amount, or for an agreement the stretch from one party to the other
    spans = [money] if money else [ents[p] for p in party_ids]
    lo, hi = min(e["start"] for e in spans), max(e["end"] for e in spans)
    k = sent[lo]
    entities = record["entities"]
    trigger = _trigger(text, sent, k, lo, hi, entities)
    event = {
        "type": trigger["text"] if trigger else kind,
        "trigger": trigger,
        "parties": [{"entity": p, "role": roles.get(p, "party")} for p in sorted(party_ids, key=lambda p: ents[p]["start"])],
        "amount": _amount(text, money) if money else None,
        "date": _date(text, sent, k, trigger["start"] if trigger else lo, entities),
        "relations": sorted(rel_idx),
    }
    scores = [rels[i]["score"] for i in rel_idx if rels[i].get("score") is not None]
    if scores:
        event["score"] = min(scores)
    return event


def assemble_events(record: dict) -> list[dict]:
    """Events of one record (gold or predicted), in text order of their amount or first party."""
    ents = {e["id"]: e for e in record.get("entities", [])}
    rels = record.get("relations", [])
    sent = sentence_index(record["text"])
    valid = [i for i, r in enumerate(rels) if r["head"] in ents and r["tail"] in ents]
    agreements = [i for i in valid if rels[i]["label"] == "agreement_with"]

    events, covered = [], set()
    for money in sorted((e for e in ents.values() if e["label"] == "MONEY"), key=lambda e: e["start"]):
        amount_idx = [i for i in valid if rels[i]["label"] == "amount" and rels[i]["tail"] == money["id"]]
        if not amount_idx:
            continue
        parties = list(dict.fromkeys(rels[i]["head"] for i in amount_idx))
        # an agreement between two parties of this amount is the deal the amount belongs to
        deal = [i for i in agreements if rels[i]["head"] in parties and rels[i]["tail"] in parties]
        covered.update(frozenset((rels[i]["head"], rels[i]["tail"])) for i in deal)
        events.append(_event(record, sent, "amount", parties, money, amount_idx + deal, ents))

    pairs: dict[frozenset, list[int]] = {}
    for i in agreements:
        pair = frozenset((rels[i]["head"], rels[i]["tail"]))
        if pair not in covered and len(pair) == 2:
            pairs.setdefault(pair, []).append(i)
    for idx in pairs.values():
        first = rels[idx[0]]
        events.append(_event(record, sent, "agreement", [first["head"], first["tail"]], None, idx, ents))

    def position(ev: dict) -> int:
        return ents[ev["amount"]["entity"]]["start"] if ev["amount"] else min(ents[p["entity"]]["start"] for p in ev["parties"])

    return sorted(events, key=position)


# ------------------------------------------------------------ component


def doc_as_record(doc: Doc) -> dict:
    """The Doc's entities and relations in the shape of ``data/gold`` (char offsets into ``doc.text``)."""
    entities = [{"id": f"e{i}", "start": e.start_char, "end": e.end_char, "label": e.label_, "text": e.text}
                for i, e in enumerate(sorted(doc.ents, key=lambda e: (e.start_char, e.end_char)), 1)]
    ids = {(e["start"], e["end"]): e["id"] for e in entities}
    relations = []
    for r in doc._.relations or []:
        head, tail = ids.get(tuple(r["head"])), ids.get(tuple(r["tail"]))
        if head and tail:
            rel = {"head": head, "tail": tail, "label": r["label"]}
            if r.get("score") is not None:
                rel["score"] = r["score"]
            relations.append(rel)
    return {"text": doc.text, "entities": entities, "relations": relations}


@Language.factory("event_assembler", requires=["doc.ents", "doc._.relations"], assigns=["doc._.events"])
def make_event_assembler(nlp: Language, name: str) -> "EventAssembler":
    """Create an ``event_assembler``: the events of a Doc from its entities and relations (no settings, no weights)."""
    return EventAssembler(name)


class EventAssembler:
    """Write :func:`assemble_events` of each Doc to ``doc._.events``.

    Events refer to entities by the ids of :func:`doc_as_record` (e1, e2, ...
    in text order) and to the relations by their index in that record.
    """

    def __init__(self, name: str = "event_assembler") -> None:
        install_extensions()
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        doc._.events = assemble_events(doc_as_record(doc))
        return doc
