"""Gold relations from the shared corpora, for training the relation extractor.

Every reader yields records in the shape of ``data/gold`` (``pipeline.training.gold``):
``{"id", "source", "split", "text", "entities": [{"id", "start", "end",
"label", "text"}], "relations": [{"head", "tail", "label"}], "judged": [...]}``.
``judged`` lists the relation labels the record decides: for those labels every
candidate pair (allowed head/tail labels, same sentence) without a relation is
a negative. Labels not in ``judged`` are unknown (missing, not negative), and a
record carries no relations of them. A record that judges nothing is not
yielded; a record that fails ``gold.validate`` is dropped and counted.

==========  =========================================  ===========================
source      relations (rule)                            judged where
==========  =========================================  ===========================
cluener     has_title: TITLE chain + PERSON (、list);   every TITLE that shares a
            PERSON + TITLE. member_of: company/org      sentence with a PERSON is
            ORG fused before a linked TITLE (D1)        linked (same for ORG)
resume      the one PERSON of a sentence holds every    the same
            TITLE of it; member_of to ORGs fused
            before a TITLE (lines joined to sentences)
fewfc       agreement_with / amount from deal events    the deal events give both
            (``FEWFC_DEALS``), D7 direction, D8 amount  sides / the money a party
duie        member_of from 董事长/校长/创始人 triples;   always member_of; has_title
            has_title where the post word adjoins       where a post was found
==========  =========================================  ===========================

The rules and the measured precision of has_title are in
``data/relation_rules/README.md``. Readers take ``counts`` (a Counter) to report
drops and skips; ``relation_stats`` sums everything per source, split, label.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..components.schema import RELATION_TYPES, sentence_index
from ..paths import GOLD_DIR, corpora_dir
from .corpora import MONEY_PATTERN, fewfc_documents, is_gpe, read_cluener, read_resume
from .gold import validate

Record = dict
Span = tuple[int, int]
Rel = tuple[Span, Span, str]

# ------------------------------------------------------------ vocabulary

# Words the corpora tag as position but that are no office, post or job
# (GUIDELINES: TITLE = the post a person holds; D6: memberships and honours are
# not TITLEs): kinds of people, degrees, hobbies, roles in a film or a market.
# Such a span is left out of the relation record, so it yields no pair at all.
NON_POST = frozenset(
    "学生 大学生 中小学生 小学生 中学生 留学生 研究生 硕士生 博士生 博士 硕士 学士 收藏家 藏家 收藏者 鉴赏家 "
    "投资者 战略投资者 股民 散户 大师 艺术大师 鉴宝大师 名家 名人 名人名家 明星 球星 演艺明星 体育明星 影帝 兵王 "
    "玩家 职业玩家 黑客 球迷 网友 粉丝 庄家 开发商 供应商 片商 发行商 生产商 中介 组织者 设计者 主角 男主角 "
    "女主角 男配角 女配角 主演 嘉宾 作者 笔者 小编 白领 会员 注册会员 PMIMember PMP 劳动模范 先进工作者 "
    "党员 中共党员 团员 群众 公民 市民 村民 居民 游客 消费者 业主 患者 老人 家长 孩子 鉴藏家".split())
NON_POST_SUFFIX = re.compile(r"(?:专家|会员|党员|模范|标兵|爱好者)$")
# Not a PERSON (D2, D16): a lone surname (Resume tags 王 in 王先生), surname +
# honorific or post (高书记, 杜先生, 王总), anonymised names (唐某, 张某某), 老王, 小李.
NOT_A_NAME = re.compile(r"^(?:.|[老小].|.(?:先生|女士|小姐|太太|夫人|总|老|某|某某|老师|教授|博士|书记|主席|主任|局长|部长"
                        r"|厅长|处长|科长|经理|总裁|董事长|院长|校长|市长|省长|县长|区长|记者|律师|医生|师傅))$")
# A body named by a pronoun or a bare noun is no ORG (D3, D1: 该公司总经理孟超
# links the named company, not 该公司).
GENERIC_ORG = frozenset(
    "公司 本公司 该公司 任公司 上市公司 集团 本集团 该集团 集团公司 总公司 分公司 子公司 母公司 本行 该行 银行 "
    "股东 大股东 控股股东 机构 外资 北向资金 南向资金 沪股通 深股通 陆股通 港股通 国家队 社保基金".split())
# Party and government bodies fused before a post stay inside the TITLE (D1:
# 市委书记, 国务院总理, 矿务局局长); companies, schools, banks are split off.
GOV_BODY = re.compile(r"(?:政府|人大|人大常委会|政协|党委|党组|纪委|委|委员会|常委会|局|厅|署|法院|检察院"
                      r"|国务院|中央|军委|办公厅|办公室|省委|市委|县委|区委|公安部|外交部|财政部|商务部|国防部)$")


def _is_post(word: str) -> bool:
    # a bracketed span (杨振生（文物鉴藏家）) is a gloss, not a post written next to the name
    return word not in NON_POST and not NON_POST_SUFFIX.search(word) and word[0] not in "（(" and word[-1] not in "）)"


# --------------------------------------------------------- record building


def _same_sentence(text: str) -> Callable[[Span, Span], bool]:
    sent = sentence_index(text)
    return lambda a, b: sent[a[0]] == sent[b[0]]


def _build(rid: str, source: str, split: str, text: str, ents: dict[Span, str],
           rels: Iterable[Rel], judged: Iterable[str]) -> Record:
    order = sorted(ents)
    ids = {sp: f"e{k + 1}" for k, sp in enumerate(order)}
    judged = set(judged)
    return {
        "id": rid, "source": source, "split": split, "text": text,
        "entities": [{"id": ids[sp], "start": sp[0], "end": sp[1], "label": ents[sp],
                      "text": text[sp[0]:sp[1]]} for sp in order],
        "relations": [{"head": ids[h], "tail": ids[t], "label": lab}
                      for h, t, lab in sorted(set(rels)) if lab in judged],
        "judged": [lab for lab in RELATION_TYPES if lab in judged],
    }


def _checked(rec: Record, counts: Counter | None) -> Record | None:
    """The record if it judges something and validates; else None (counted)."""
    if not rec["judged"]:
        return None
    if validate(rec):
        _count(counts, "dropped_invalid")
        return None
    return rec


def _count(counts: Counter | None, key: str, n: int = 1) -> None:
    if counts is not None:
        counts[key] += n


# ------------------------------------------------- posts (CLUENER, Resume)

Ent = list  # [start, end, label, is_body]


def _prepare(text: str, ents: list[Ent]) -> list[Ent]:
    """Entities as GUIDELINES wants them around posts: non-posts, generic ORGs
    and non-names (D16) out; a leading 原/前 outside the TITLE (D15); a
    government body or a place written fused before a TITLE merged into it
    (D1: 石家庄市副市长, 国务院总理 are one TITLE)."""
    out: list[Ent] = []
    for s, e, label, body in sorted(ents):
        word = text[s:e]
        if label == "TITLE":
            if word[0] in "原前" and len(word) > 2:
                s, word = s + 1, word[1:]
            if not _is_post(word):
                continue
            if word == "老师" and out and out[-1][2] == "PERSON" and out[-1][1] == s:
                continue  # 金庸老师, 于晓强老师: a form of address, not the post held
            while out and out[-1][1] == s and (out[-1][2] == "GPE" or (out[-1][2] == "ORG" and out[-1][3])):
                s = out.pop()[0]
        elif (label == "ORG" and word in GENERIC_ORG) or (label == "PERSON" and NOT_A_NAME.match(word)):
            continue
        elif label == "PERSON" and text.startswith(("家族", "一家"), e):
            continue  # 盖达马克家族: a family, not a named individual
        out.append([s, e, label, body])
    return out


def _org_units(text: str, E: list[Ent], t: int) -> tuple[list[int], int]:
    """ORGs written fused before TITLE ``E[t]`` (a 、-list of them may share the
    post: A公司、B公司副总经理), and the index where that unit starts."""
    orgs, m = [], t
    if t > 0 and E[t - 1][2] == "ORG" and E[t - 1][1] == E[t][0]:
        m = t - 1
        orgs.append(m)
        while m > 0 and E[m - 1][2] == "ORG" and text[E[m - 1][1]:E[m][0]] == "、":
            m -= 1
            orgs.append(m)
    return orgs, m


VERB_AFTER = ("的", "了", "过", "《", "“")


def _post_adjacency(text: str, E: list[Ent]) -> tuple[set[Rel], set[int], set[int]]:
    """CLUENER rule. (1) A chain of posts, each optionally with its company
    fused before it, joined by 、 or 兼, written directly before a name (or a
    、-list of names) belongs to every name: 中央美术学院院长、全国美术家协会主席
    靳尚谊; 市领导王堃、刘保新 (rule 3, rule 8). (2) A name directly followed by a
    post that is not itself followed by a name: 王东升记者, 贺龙元帅, unless the
    post word is used as a verb (陈嘉上导演的《画皮》). Nothing else links: 的,
    commas and verbs in between leave the pair undecided."""
    rels: set[Rel] = set()
    linked_titles: set[int] = set()
    linked_orgs: set[int] = set()
    span = [(x[0], x[1]) for x in E]

    def gap(i: int, j: int) -> str:
        return text[E[i][1]:E[j][0]]

    before_name = set()
    for i in range(len(E) - 1):
        if E[i][2] != "TITLE" or E[i + 1][2] != "PERSON" or gap(i, i + 1):
            continue
        before_name.add(i)
        persons, j = [i + 1], i + 1
        while j + 1 < len(E) and E[j + 1][2] == "PERSON" and gap(j, j + 1) == "、":
            j += 1
            persons.append(j)
        titles, orgs, k = [i], [], i
        while True:
            unit_orgs, m = _org_units(text, E, k)
            orgs += unit_orgs
            if m > 0 and E[m - 1][2] == "TITLE" and gap(m - 1, m) in ("、", "兼"):
                k = m - 1
                titles.append(k)
                continue
            break
        for p in persons:
            rels.update((span[p], span[t], "has_title") for t in titles)
            rels.update((span[p], span[o], "member_of") for o in orgs)
        linked_titles.update(titles)
        linked_orgs.update(orgs)
    for i in range(len(E) - 1):
        if (E[i][2] == "PERSON" and E[i + 1][2] == "TITLE" and not gap(i, i + 1) and i + 1 not in before_name
                and not text.startswith(VERB_AFTER, E[i + 1][1])):
            rels.add((span[i], span[i + 1], "has_title"))
            linked_titles.add(i + 1)
    return rels, linked_titles, linked_orgs


def _resume_subject(text: str, E: list[Ent]) -> tuple[set[Rel], set[int], set[int]]:
    """Resume rule. A résumé sentence that names exactly one person is about
    that person: every post in it is one they hold or held (D15 links former
    posts too), and every ORG written fused before a post (or heading a
    、-list that shares it) is one they work or worked for."""
    sent = sentence_index(text)
    people: dict[int, list[int]] = {}
    for i, x in enumerate(E):
        if x[2] == "PERSON":
            people.setdefault(sent[x[0]], []).append(i)
    rels: set[Rel] = set()
    linked_titles: set[int] = set()
    linked_orgs: set[int] = set()
    for i, x in enumerate(E):
        who = people.get(sent[x[0]], [])
        if x[2] != "TITLE" or len(who) != 1:
            continue
        p = (E[who[0]][0], E[who[0]][1])
        rels.add((p, (x[0], x[1]), "has_title"))
        linked_titles.add(i)
        orgs, _ = _org_units(text, E, i)
        rels.update((p, (E[o][0], E[o][1]), "member_of") for o in orgs)
        linked_orgs.update(orgs)
    return rels, linked_titles, linked_orgs


def _post_record(rid: str, source: str, split: str, text: str, ents: list[Ent],
                 rule: Callable[[str, list[Ent]], tuple[set[Rel], set[int], set[int]]]) -> Record:
    E = _prepare(text, ents)
    rels, titles, orgs = rule(text, E)
    sent = sentence_index(text)
    with_person = {sent[x[0]] for x in E if x[2] == "PERSON"}
    judged = []
    # judged only where the rule decided every post (every ORG) that could
    # belong to a named person of its sentence; a pair the rule cannot place
    # (张三任董事长, 副董事长兼总裁张三 where 副董事长 …) leaves the record unjudged
    for label, kind, linked in (("has_title", "TITLE", titles), ("member_of", "ORG", orgs)):
        open_ = [i for i, x in enumerate(E) if x[2] == kind and sent[x[0]] in with_person and i not in linked]
        if linked and not open_:
            judged.append(label)
    return _build(rid, source, split, text, {(x[0], x[1]): x[2] for x in E}, rels, judged)


def read_cluener_relations(root: Path, split: str, counts: Counter | None = None) -> Iterator[Record]:
    """has_title / member_of from CLUENER name–position adjacency (see ``_post_adjacency``).
    Entities are those of ``corpora.read_cluener``; CLUENER's own type tells
    government bodies (fused into the post) from companies and organisations."""
    fname = {"train": "train.json", "dev": "dev.json"}[split]
    with (root / "cluener2020" / fname).open(encoding="utf-8") as raw:
        for rec, line in zip(read_cluener(root, split), raw):
            gov = {(s, e + 1) for ps in json.loads(line).get("label", {}).get("government", {}).values()
                   for s, e in ps}
            ents = [[x["start"], x["end"], x["label"],
                     (x["start"], x["end"]) in gov or bool(GOV_BODY.search(rec["text"][x["start"]:x["end"]]))]
                    for x in rec["entities"]]
            out = _checked(_post_record(rec["id"], "cluener", split, rec["text"], ents, _post_adjacency), counts)
            if out:
                yield out


def _resume_sentences(root: Path, split: str) -> Iterator[tuple[str, str, list[Ent]]]:
    """Resume's sentences (``corpora.read_resume`` joins the corpus's lines back:
    it breaks them at commas and semicolons too, and a line with no final
    punctuation ends a résumé, so the next person's lines are never joined on)."""
    for rec in read_resume(root, split):
        text = rec["text"]
        yield rec["id"], text, [[x["start"], x["end"], x["label"],
                                 x["label"] == "ORG" and bool(GOV_BODY.search(text[x["start"]:x["end"]]))]
                                for x in rec["entities"]]


def read_resume_relations(root: Path, split: str, counts: Counter | None = None) -> Iterator[Record]:
    """has_title / member_of from Resume NER (see ``_resume_subject``)."""
    for rid, text, ents in _resume_sentences(root, split):
        out = _checked(_post_record(rid, "resume", split, text, ents, _resume_subject), counts)
        if out:
            yield out


# ----------------------------------------------------------------- FewFC

# Deal events and D7's direction: which side is the head (the party that
# receives: borrower, company, contractor); the other side grants (lender,
# investor, guarantor, client). "first": a symmetric deal, head = mentioned first.
#   质押 pledgor (sub) pledges shares to the pledgee (obj: bank, broker) for a loan
#   担保 the guarantor (sub) stands surety for the guaranteed company (obj)
#   签署合同 two parties sign a contract: symmetric
#   中标 the winner (sub) gets a contract from the client (obj)
#   股份股权转让 the transferor (sub) sells to the transferee (obj), who pays (investor)
#   投资 with an injection trigger: the investee (obj) receives capital from sub
FEWFC_DEALS = {"质押": "sub", "担保": "obj", "签署合同": "first", "中标": "sub", "股份股权转让": "sub"}
INJECTION_TRIGGERS = frozenset("投资 增资 参股 入股 注资 出资 认购 融资".split())
# One-sided events: only sub is a party (the buyer, or the seller on the
# market); obj is the company acquired or traded, whose shareholders, not
# itself, are the other side, so it is left out (neither a party nor a negative).
ACQUISITION_TRIGGERS = frozenset("收购 购买 并购 受让 拿下 取得 控股 买入 增持 新进 增仓 持有 减持 出售 卖出".split())
# Not deals: a lawsuit or a judgment between two parties is a negative for agreement_with.
NON_DEALS = {"起诉", "判决"}
PARTY_ROLES = {"sub-org": ("sub", "ORG"), "obj-org": ("obj", "ORG"), "sub-per": ("sub", "PERSON"),
               "obj-per": ("obj", "PERSON"), "sub": ("sub", None), "obj": ("obj", None)}
MONEY_ROLES = {"money", "amount"}
ORG_SUFFIX = re.compile(r"(?:公司|集团|银行|证券|基金|信托|保险|资本|控股|投资|股份|科技|实业|医院|大学|学院|研究院"
                        r"|研究所|中心|协会|委员会|管理局|事务所|合伙企业|有限合伙|Limited|Ltd\.?|Inc\.?|Corp\.?"
                        r"|AG|GmbH|LLC|PLC|plc)[)）]?$")


@lru_cache(maxsize=4)
def _fewfc_types(root: str) -> dict[str, str]:
    """Words FewFC types consistently elsewhere (sub-org, obj-per …): they type
    the bare sub / obj of 投资, 减持 and 中标."""
    seen: dict[str, set[str]] = {}
    for fname in ("train_base.json", "train_trans.json"):
        path = Path(root) / "fewfc" / fname
        if not path.exists():
            continue
        for line in path.open(encoding="utf-8"):
            for ev in json.loads(line)["events"]:
                for m in ev["mentions"]:
                    typ = "ORG" if m["role"] in ("target-company", "share-org") else PARTY_ROLES.get(m["role"], ("", None))[1]
                    if typ:
                        seen.setdefault(m["word"], set()).add(typ)
    return {w: next(iter(t)) for w, t in seen.items() if len(t) == 1}


def _party_label(word: str, typed: str | None, root: Path, strict: bool) -> str | None:
    """ORG / PERSON for a party argument, None where it cannot be told (then the
    argument is left out and the event's side is incomplete)."""
    if word in GENERIC_ORG or word != word.strip() or not word:
        return None
    if typed == "ORG" and is_gpe(word, str(root)):
        return None  # 签约 … 与重庆南岸区: FewFC types the district as an organisation
    if typed:
        return typed
    known = _fewfc_types(str(root)).get(word)
    if known:
        return known
    if is_gpe(word, str(root)):
        return None  # 中标 三亚市崖州区: a place, not an organisation
    if ORG_SUFFIX.search(word):
        return "ORG"
    # listed companies' short names have four characters (龙马环卫); Chinese
    # personal names two or three, foreign ones a middle dot
    return "ORG" if not strict and len(word) >= 4 and "·" not in word else None


def _fewfc_event(ev: dict, root: Path) -> tuple[str, dict[Span, str], set[Span], set[Rel], bool]:
    """(kind, entities, withheld spans, relations, complete) of one event.
    kind: deal, one_sided, non_deal or undecided; complete: a deal names both
    sides, any event with money names at least one party."""
    etype = ev["type"]
    trigger = next((m["word"] for m in ev["mentions"] if m["role"] == "trigger"), "")
    if etype in FEWFC_DEALS:
        kind, head_side = "deal", FEWFC_DEALS[etype]
    elif etype == "投资" and trigger in INJECTION_TRIGGERS:
        kind, head_side = "deal", "obj"
    elif etype == "收购" or (etype in ("投资", "减持") and trigger in ACQUISITION_TRIGGERS):
        kind, head_side = "one_sided", ""
    elif etype in NON_DEALS:
        kind, head_side = "non_deal", ""
    else:
        kind, head_side = "undecided", ""
    ents: dict[Span, str] = {}
    withheld: set[Span] = set()
    sides: dict[str, list[Span]] = {"sub": [], "obj": []}
    money: list[Span] = []
    for m in ev["mentions"]:
        s, e = m["span"]
        if m["role"] in MONEY_ROLES:
            # the MONEY span inside the argument (D5/D11: 人民币1亿元 → 1亿元; 200亿 is none)
            hits = list(MONEY_PATTERN.finditer(m["word"]))
            if len(hits) == 1 and kind != "undecided" and etype != "判决":
                sp = (s + hits[0].start(), s + hits[0].end())
                ents[sp] = "MONEY"
                money.append(sp)
            else:
                withheld.add((s, e))  # a fine's payer (判决) is not given: no amount either way
        elif m["role"] in PARTY_ROLES:
            side, typed = PARTY_ROLES[m["role"]]
            if kind == "undecided" or (kind == "one_sided" and side == "obj"):
                withheld.add((s, e))
                continue
            label = _party_label(m["word"], typed, root, strict=(etype == "中标" and side == "obj"))
            if label is None:
                withheld.add((s, e))
                continue
            ents[(s, e)] = label
            sides[side].append((s, e))
        elif m["role"] in ("target-company", "share-org", "institution"):
            withheld.add((s, e))  # the company whose shares move, the court: no party
    if etype == "质押" and any(ents[p] == "PERSON" for p in sides["sub"]):
        # 高德红外发布公告,实际控制人黄立…质押: beside a named pledgor, a sub-org is
        # (in FewFC's noise) the listed company whose shares are pledged
        withheld.update(p for p in sides["sub"] if ents[p] == "ORG")
        for p in [p for p in sides["sub"] if ents[p] == "ORG"]:
            del ents[p]
        sides["sub"] = [p for p in sides["sub"] if p in ents]
    rels: set[Rel] = set()
    if kind == "deal":
        for a in sides["sub"]:
            for b in sides["obj"]:
                if ents[a] == ents[b] == "ORG" and a != b:
                    head, tail = (a, b) if head_side == "sub" else (b, a)
                    if head_side == "first":
                        head, tail = min(a, b), max(a, b)
                    rels.add((head, tail, "agreement_with"))
    parties = sides["sub"] + sides["obj"]
    rels.update((p, m, "amount") for p in parties for m in money)
    complete = (kind != "deal" or (sides["sub"] and sides["obj"])) and (not money or parties)
    return kind, ents, withheld, rels, bool(complete)


def read_fewfc_relations(root: Path, split: str, counts: Counter | None = None) -> Iterator[Record]:
    """agreement_with and amount from FewFC events (see ``FEWFC_DEALS``).
    Entities are the event arguments only (the records are partial for
    entities, complete for the judged relations among them). Every tenth
    document is dev (``corpora.fewfc_documents``)."""
    for fname, i, d in fewfc_documents(root, split):
        text = d["content"]
        ents: dict[Span, str] = {}
        withheld: set[Span] = set()
        rels: set[Rel] = set()
        conflict, complete, kinds = False, True, set()
        for ev in d["events"]:
            kind, e_ents, e_withheld, e_rels, e_complete = _fewfc_event(ev, root)
            for sp, label in e_ents.items():
                conflict |= ents.setdefault(sp, label) != label
            withheld |= e_withheld
            rels |= e_rels
            complete &= e_complete
            kinds.add(kind)
        # an argument left out by one event (a target, a fine) but an entity
        # of another would turn an undecided pair into a negative: judge nothing
        conflict |= any(a < we and ws < b for a, b in ents for ws, we in withheld)
        if conflict:
            _count(counts, "unjudged_conflict")
            continue
        same = _same_sentence(text)
        crossing = {r for r in rels if not same(r[0], r[1])}
        _count(counts, "cross_sentence_relations", len(crossing))  # not relations (GUIDELINES)
        rels -= crossing
        judged = []
        if complete and sum(1 for lab in ents.values() if lab == "ORG") >= 2 and kinds & {"deal", "non_deal"}:
            judged.append("agreement_with")
        if complete and any(lab == "amount" for *_, lab in rels):
            judged.append("amount")
        out = _checked(_build(f"fewfc/{fname}/{i}", "fewfc", split, text, ents, rels, judged), counts)
        if out:
            yield out


# ------------------------------------------------------------------ DuIE

# DuIE predicates with a person object and a company / school subject (all of
# them in duie_schema.json but 代言人, a brand's spokesperson, who is no
# member): member_of person → organisation; the post word for has_title
# (创始人 founds, it is no office: member_of only).
DUIE_PREDICATES = {"董事长": "董事长", "校长": "校长", "创始人": None}
# Words before the post word that make it another post (副董事长, 名誉校长,
# 执行董事长, 常务副校长, 代理校长).
POST_PREFIX = ("副", "名誉", "荣誉", "执行", "常务", "代理", "代")


def _unique(text: str, word: str) -> Span | None:
    at = text.find(word)
    if not word or at < 0 or text.find(word, at + 1) >= 0:
        return None
    return at, at + len(word)


def _duie_post(text: str, post: str, person: Span, org: Span, taken: list[Span]) -> Span | None:
    """The post word written next to the person (董事长周海明, 刘京京…董事长) or
    fused after the organisation (百世集团董事长兼CEO周韶宁) and not part of a
    longer post (副董事长, 董事长助理)."""
    for s in (person[0] - len(post), person[1], org[1]):
        e = s + len(post)
        if s < 0 or text[s:e] != post or text[:s].endswith(POST_PREFIX):
            continue
        after = text[e:e + 1]
        if after and re.match(r"[\u4e00-\u9fff]", after) and after not in "兼、和及" and e != person[0]:
            continue  # 董事长助理, 校长办公室
        if any(s < b and a < e for a, b in taken):
            continue
        return s, e
    return None


def read_duie_relations(root: Path, split: str, counts: Counter | None = None) -> Iterator[Record]:
    """member_of (and has_title) from DuIE 2.0 triples, found in the text only
    where each name occurs exactly once; other triples are skipped and counted.
    DuIE has no dev split here: every tenth line is dev."""
    path = root / "duie2.0_sample5000" / "train_data_5000.json"
    for i, line in enumerate(path.open(encoding="utf-8")):
        if ("dev" if i % 10 == 9 else "train") != split:
            continue
        d = json.loads(line)
        text = d["text"]
        triples = [(spo["subject"], spo["object"]["@value"], spo["predicate"]) for spo in d["spo_list"]
                   if spo["predicate"] in DUIE_PREDICATES and spo["object_type"].get("@value") == "人物"]
        if not triples:
            continue
        # place every name that occurs once; a name used as both person and
        # organisation, or overlapping another name, is placed nowhere
        labels: dict[str, set[str]] = {}
        for org, person, _ in triples:
            labels.setdefault(org, set()).add("ORG")
            labels.setdefault(person, set()).add("PERSON")
        placed = {w: _unique(text, w) for w, labs in labels.items() if len(labs) == 1}
        placed = {w: sp for w, sp in placed.items() if sp and text[sp[0]:sp[1]].strip() == w}
        placed = {w: sp for w, sp in placed.items()
                  if not any(o != w and sp[0] < b and a < sp[1] for o, (a, b) in placed.items())}
        ents: dict[Span, str] = {sp: next(iter(labels[w])) for w, sp in placed.items()}
        rels: set[Rel] = set()
        same = _same_sentence(text)
        for org, person, pred in triples:
            if org not in placed or person not in placed:
                _count(counts, "skipped_triples")
                continue
            p, o = placed[person], placed[org]
            rels.add((p, o, "member_of"))
            post = DUIE_PREDICATES[pred]
            if post:
                t = _duie_post(text, post, p, o, list(ents))
                if t and same(p, t):
                    ents[t] = "TITLE"
                    rels.add((p, t, "has_title"))
        judged = ["member_of"] if rels else []
        if any(lab == "has_title" for *_, lab in rels):
            judged.append("has_title")
        out = _checked(_build(f"duie/{split}/{i}", "duie", split, text, ents, rels, judged), counts)
        if out:
            yield out


# ------------------------------------------------------------ registry

RelationReader = Callable[..., Iterator[Record]]
def read_gold_relations(root: Path, split: str, counts: Counter | None = None) -> Iterator[Record]:
    """The project's own gold (``data/gold``, not under ``root``): every label judged."""
    from ..jsonl import read_jsonl

    for rec in read_jsonl(GOLD_DIR / f"{split}.jsonl"):
        # complete for NER too: every token outside its entities is "outside"
        yield {**rec, "split": split, "judged": list(RELATION_TYPES), "complete": True}


RELATION_READERS: dict[str, tuple[RelationReader, tuple[str, ...]]] = {
    "zhie_gold": (read_gold_relations, ("train", "train_relayout", "dev", "test", "test_focus", "test_round4",
                                        "test_round5", "test_round6", "test_round7")),
    "cluener": (read_cluener_relations, ("train", "dev")),
    "resume": (read_resume_relations, ("train", "dev", "test")),
    "fewfc": (read_fewfc_relations, ("train", "dev")),
    "duie": (read_duie_relations, ("train", "dev")),
}


def candidate_pairs(rec: Record, label: str) -> set[tuple[str, str]]:
    """(head id, tail id) pairs a relation of ``label`` could join in ``rec``."""
    heads, tails = RELATION_TYPES[label]
    same = _same_sentence(rec["text"])
    ents = rec["entities"]
    return {(h["id"], t["id"]) for h in ents for t in ents
            if h is not t and h["label"] in heads and t["label"] in tails
            and same((h["start"], h["end"]), (t["start"], t["end"]))}


def relation_stats(corpora: str | Path | None = None) -> dict[str, dict[str, dict]]:
    """Per source and split: records; per label the records that judge it, its
    positives and negatives (candidate pairs without it); drops and skips."""
    root = corpora_dir(corpora)
    out: dict[str, dict[str, dict]] = {}
    for source, (reader, splits) in RELATION_READERS.items():
        for split in splits:
            counts: Counter = Counter()
            labels = {lab: Counter() for lab in RELATION_TYPES}
            n = 0
            try:
                for rec in reader(root, split, counts=counts):
                    n += 1
                    for lab in rec["judged"]:
                        pos = {(r["head"], r["tail"]) for r in rec["relations"] if r["label"] == lab}
                        labels[lab]["records"] += 1
                        labels[lab]["positives"] += len(pos)
                        labels[lab]["negatives"] += len(candidate_pairs(rec, lab) - pos)
            except FileNotFoundError:
                continue
            out.setdefault(source, {})[split] = {
                "records": n, "labels": {lab: dict(c) for lab, c in labels.items() if c}, **dict(counts)}
    return out


# ----------------------------------------------- has_title precision check


def sample_has_title(corpora: str | Path | None = None, n: int = 120, seed: int = 20250602) -> list[dict]:
    """``n`` has_title pairs drawn at random (fixed seed) from CLUENER train and
    Resume train, for hand-checking (data/relation_rules/has_title_check.jsonl)."""
    root = corpora_dir(corpora)
    pool = []
    for rec in list(read_cluener_relations(root, "train")) + list(read_resume_relations(root, "train")):
        by_id = {e["id"]: e for e in rec["entities"]}
        sent = sentence_index(rec["text"])
        for r in rec["relations"]:
            if r["label"] != "has_title":
                continue
            p, t = by_id[r["head"]], by_id[r["tail"]]
            k = sent[p["start"]]
            chars = [c for c, s in zip(rec["text"], sent) if s == k]
            pool.append({"id": rec["id"], "sentence": "".join(chars), "person": p["text"], "title": t["text"],
                         "person_start": p["start"], "title_start": t["start"], "rule_says": True})
    return random.Random(seed).sample(pool, n)
