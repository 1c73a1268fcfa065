"""Canonical entity keys: the mentions of one entity share one ``"key"``, in a document and across an archive.

A key is the label and a canonical name, ``"PERSON:王堃"``, ``"ORG:郑州银行"``,
``"GPE:许昌市"``, ``"TITLE:市委书记"``. It is built from the mention's text in
three steps, and nothing else (no knowledge base: two different people with
one name share a key, and two names of one body that the document does not
connect keep two):

1. **Layout and width** (:func:`normalize`): NFKC folds full-width letters,
   digits and brackets to their usual forms (``ＩＢＭ`` → ``IBM``, ``（`` → ``(``);
   whitespace next to a CJK character is layout noise and removed
   (``郑\\n州银行``, ``王 堃`` → ``郑州银行``, ``王堃``), other whitespace runs
   become one space (``Li  Qiang`` → ``Li Qiang``); the dots of foreign names
   (``·•・‧``) become ``·``.
2. **Fixed forms** (:func:`base_name`): an ORG's trailing legal form
   (股份有限公司, 有限责任公司, 有限公司, 股份公司) is dropped, so
   ``郑州银行股份有限公司`` and ``郑州银行`` have one key in every document; a
   PERSON followed by 一行 / 同志 (``王堃一行``) is the person (``王堃``), and
   by 等 / 等人 only where the document also names the person alone.
3. **Short forms in the document** (:func:`entity_keys`): a mention takes
   the name of an *earlier* mention of the same label of which it is a short
   form, when exactly one earlier name qualifies (otherwise it keeps its
   own name; the same text always gets the same key in a document):

   * ORG: the earlier name ends with it and it is at least half as long
     (``中国人民银行`` … ``人民银行``; ``许昌恒生制药有限公司`` … ``恒生制药``);
     a name is never shortened at its end, so ``中国银行`` is not
     ``中国银行保险监督管理委员会``, and ``党中央`` is not ``中共中央``;
   * GPE: the earlier name is it plus an administrative suffix
     (``许昌市`` … ``许昌``) or a larger area before it (``河南省许昌市`` … ``许昌市``);
   * PERSON: a part of an earlier foreign name written with ``·``
     (``唐纳德·特朗普`` … ``特朗普``); Chinese names are never shortened (王刚
     and 王刚强 are different people; a surname alone is not a PERSON);
   * TITLE and MONEY: steps 1–2 only.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Sequence

from ..components.layout import _is_cjk

_WS_RUN = re.compile(r"\s+")
_DOTS = re.compile(r"[·•・‧･]")
LEGAL_FORMS = ("股份有限公司", "有限责任公司", "有限公司", "股份公司")
GPE_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "地区", "省", "市", "县", "区", "州", "盟", "旗", "镇", "乡")
PARENT_AREA_ENDS = ("省", "市", "自治区", "自治州")
PERSON_PARTY_SUFFIXES = ("一行", "同志")  # 王堃一行: the person and those with him
PERSON_LIST_SUFFIXES = ("等人", "等")  # 王堃等: only if 王堃 is named alone in the document too
MIN_SHORT = 2
SHORTENED = frozenset({"ORG", "GPE", "PERSON"})  # labels whose short forms are resolved (step 3)


def normalize(text: str) -> str:
    """The mention's text without layout noise, width-folded (step 1)."""
    s = unicodedata.normalize("NFKC", text)

    def space(m: re.Match) -> str:
        before = s[m.start() - 1] if m.start() else ""
        after = s[m.end()] if m.end() < len(s) else ""
        if not before or not after or _is_cjk(before) or _is_cjk(after):
            return ""
        return " "

    s = _WS_RUN.sub(space, s)
    return _DOTS.sub("·", s)


def _strip_legal_form(name: str) -> str:
    for form in LEGAL_FORMS:
        if name.endswith(form) and len(name) - len(form) >= MIN_SHORT:
            return name[: -len(form)]
    return name


def base_name(label: str, name: str, person_names: Iterable[str] = ()) -> str:
    """Step 2 on a normalized name; ``person_names``: the PERSON names of the document (for 等)."""
    if label == "ORG":
        return _strip_legal_form(name)
    if label == "PERSON":
        for suffix in PERSON_PARTY_SUFFIXES:
            if name.endswith(suffix) and len(name) - len(suffix) >= MIN_SHORT:
                return name[: -len(suffix)]
        for suffix in PERSON_LIST_SUFFIXES:
            stem = name[: -len(suffix)]
            if name.endswith(suffix) and len(stem) >= MIN_SHORT and stem in person_names:
                return stem
    return name


def is_short_form(label: str, short: str, full: str) -> bool:
    """Whether ``short`` is a short form of the earlier ``full`` (step 3; both after steps 1–2)."""
    if len(short) < MIN_SHORT or len(short) >= len(full):
        return False
    if label == "ORG":
        return full.endswith(short) and 2 * len(short) >= len(full)
    if label == "GPE":
        if full.startswith(short) and full[len(short):] in GPE_SUFFIXES:
            return True
        return full.endswith(short) and full[: -len(short)].endswith(PARENT_AREA_ENDS)
    if label == "PERSON":
        parts = full.split("·")
        return len(parts) > 1 and short in (parts[0], parts[-1])
    return False


def entity_keys(entities: Sequence[dict]) -> list[str]:
    """The key of each entity (``{"label", "text"}``, in text order) of one document."""
    names = [normalize(e["text"]) for e in entities]
    person_names = {n for e, n in zip(entities, names) if e["label"] == "PERSON"}
    canonical: dict[str, dict[str, str]] = {}  # label -> name -> canonical name, first decision kept
    keys = []
    for e, name in zip(entities, names):
        label = e["label"]
        name = base_name(label, name, person_names)
        seen = canonical.setdefault(label, {})
        if name not in seen:
            fulls = set()
            if label in SHORTENED:
                fulls = {c for earlier, c in seen.items() if name in earlier and is_short_form(label, name, earlier)}
            seen[name] = fulls.pop() if len(fulls) == 1 else name
        keys.append(f"{label}:{seen[name]}")
    return keys


def key_name(key: str) -> str:
    """``"PERSON:王堃"`` -> ``"王堃"``."""
    return key.partition(":")[2]
