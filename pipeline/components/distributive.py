"""分别 with parallel lists: the n-th party goes with the n-th amount.

In 甲公司分别与A银行、B银行达成800万元、500万元预授信 the sentence states two
deals, A银行 with 800万元 and B银行 with 500万元 (ANNOTATION.md, amount; the
subject 甲公司 takes part in both). A pair classifier sees each (bank, sum)
pair on its own and tends to link every bank to every sum; the word 分别
decides the pairing, so it is enforced here, after the classifier, on
character offsets:

- the party list: two or more entities of one label (ORG, GPE or PERSON)
  joined by list separators (、 和 及 以及 与 同 ，) right after 分别与 / 分别同 /
  分别向 / 分别为 / 分别对 / 分别给, or ending right before 分别 (A、B分别获得…);
- the amount list: the MONEY entities after 分别 in the same sentence, joined
  the same way;
- when both lists have the same length n ≥ 2 and the classifier linked at
  least one party of the list to one amount of the list, the amount
  relations inside that block become exactly the n pairs (i, i), each scored
  with the best score the classifier gave to its row. Relations outside the
  block (the subject's, other sentences') are left as they are.
"""

from __future__ import annotations

import re
from typing import Iterable

Span = tuple[int, int]
Entity = tuple[int, int, str]  # start, end, label

SEPARATOR = re.compile(r"\s*(?:、|，|,|和|及|以及|与|同|跟)\s*")
AFTER = re.compile(r"分别\s*(?:与|同|跟|和|向|为|对|给|从|在)?\s*")
BEFORE_GAP = re.compile(r"[^，。；！？,;\n]{0,8}")  # 两家银行 / 等 / 公司 between the list and 分别
PARTY_LABELS = ("ORG", "GPE", "PERSON")


def entity_lists(text: str, ents: list[Entity], separator: re.Pattern = SEPARATOR) -> list[list[Entity]]:
    """Maximal lists of ``ents`` (sorted): consecutive entities of one label with only a
    ``separator`` between them (single entities are lists of one)."""
    runs: list[list[Entity]] = []
    for e in ents:
        if runs:
            last = runs[-1][-1]
            if last[2] == e[2] and separator.fullmatch(text[last[1]:e[0]]):
                runs[-1].append(e)
                continue
        runs.append([e])
    return runs


def parallel_lists(text: str, entities: Iterable[Entity]) -> list[tuple[list[Entity], list[Entity]]]:
    """(parties, amounts) of every 分别 with two lists of the same length ≥ 2."""
    from .schema import sentence_index

    ents = sorted(entities)
    sent = sentence_index(text)
    found = []
    for m in re.finditer("分别", text):
        k = sent[m.start()]
        here = [e for e in ents if sent[e[0]] == k]
        moneys = [e for e in here if e[2] == "MONEY" and e[0] >= m.end()]
        amounts = next((r for r in entity_lists(text, moneys) if len(r) >= 2), None)
        if amounts is None:
            continue
        parties_around = [e for e in here if e[2] in PARTY_LABELS]
        runs = entity_lists(text, parties_around)
        after = AFTER.match(text, m.start()).end()
        parties = next((r for r in runs if r[0][0] == after and r[-1][1] <= amounts[0][0]), None)
        if parties is None or len(parties) < 2:
            parties = next((r for r in runs if r[-1][1] <= m.start()
                            and BEFORE_GAP.fullmatch(text[r[-1][1]:m.start()])), None)
        if parties is not None and len(parties) == len(amounts) >= 2:
            found.append((parties, amounts))
    return found


def pair_distributive(text: str, entities: Iterable[Entity], relations: list[dict]) -> list[dict]:
    """``relations`` (``{"head": (s, e), "tail": (s, e), "label", "score"?}``)
    with the amount relations of every 分别 block replaced by the n-th pairs."""
    for parties, amounts in parallel_lists(text, entities):
        heads = {p[:2]: i for i, p in enumerate(parties)}
        tails = {a[:2]: i for i, a in enumerate(amounts)}
        block = [r for r in relations if r["label"] == "amount"
                 and tuple(r["head"]) in heads and tuple(r["tail"]) in tails]
        if not block:
            continue
        scored = all("score" in r for r in block)
        kept = [r for r in relations if not any(r is b for b in block)]
        for i, (party, amount) in enumerate(zip(parties, amounts)):
            rel = {"head": party[:2], "tail": amount[:2], "label": "amount"}
            if scored:
                row = [r["score"] for r in block if heads[tuple(r["head"])] == i] or [r["score"] for r in block]
                rel["score"] = max(row)
            kept.append(rel)
        relations = kept
    return relations
