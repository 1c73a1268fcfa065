"""The place names behind the NER's gazetteer features (issue 9: whole names).

Two maintained sources, no hand lists:

- China's administrative divisions from jionlp's tree
  (``jionlp_gazetteer_money/china_location.zip``, Apache-2.0): provinces,
  prefectures and counties, each with its full name and the short form jionlp
  gives (新疆维吾尔自治区 and 新疆, 许昌市 and 许昌);
- the countries and territories of ISO 3166, current and historic, in the
  Simplified Chinese translations that ship with ``pycountry`` (德国,
  德意志联邦共和国, 莫桑比克, 南斯拉夫社会主义联邦共和国).

:func:`gazetteer_patterns` turns them into patterns for spaCy's
``span_ruler``. In the pipeline that component (named ``gazetteer``) marks
every occurrence in ``doc.spans["gazetteer"]``, overlaps kept, and the NER
reads where each character stands in those spans
(``zhie.SpanBoundaryEmbed.v1``): a prior it learns to trust per kind, not an
override (a county's short name is often an ordinary word).
"""

from __future__ import annotations

import gettext
import zipfile
from pathlib import Path
from typing import Iterator

import srsly

from ..paths import corpora_dir

# Depth in jionlp's tree -> label; towns and villages (depth 3, 4) are left
# out: tens of thousands of generic names (胜利村) that would teach noise.
LEVELS = ("PROVINCE", "CITY", "COUNTY")
LABELS = (*LEVELS, "COUNTRY")


def china_locations(corpora: str | Path | None = None) -> Iterator[tuple[int, str, str]]:
    """``(depth, full name, short name or "")`` of every line of jionlp's tree
    (0 province, 1 prefecture, 2 county, 3 town, 4 village)."""
    zpath = corpora_dir(corpora) / "jionlp_gazetteer_money" / "china_location.zip"
    with zipfile.ZipFile(zpath) as z:
        for line in z.read("china_location.txt").decode("utf-8").splitlines():
            cols = line.strip().split("\t")
            if cols[0]:
                yield len(line) - len(line.lstrip("\t")), cols[0], cols[2] if len(cols) >= 3 else ""


def country_names() -> set[str]:
    """Chinese names of ISO 3166-1 countries (name, official and common name)
    and ISO 3166-3 former countries, from pycountry's zh_CN translations."""
    import pycountry

    names = set()
    for domain, records, fields in (("iso3166-1", pycountry.countries, ("name", "official_name", "common_name")),
                                    ("iso3166-3", pycountry.historic_countries, ("name",))):
        zh = gettext.translation(domain, pycountry.LOCALES_DIR, languages=["zh_CN"])
        for rec in records:
            for field in fields:
                english = getattr(rec, field, None)
                translated = zh.gettext(english) if english else english
                # an untranslated name comes back in English: not a Chinese name
                if translated and translated != english:
                    names.add(translated)
    return names


def gazetteer_patterns(corpora: str | Path | None = None) -> list[dict]:
    """``span_ruler`` patterns ``{"label", "pattern"}``, sorted, one per name and kind."""
    pairs = set()
    for depth, full, short in china_locations(corpora):
        if depth < len(LEVELS):
            pairs.add((LEVELS[depth], full))
            if len(short) >= 2:
                pairs.add((LEVELS[depth], short))
    pairs.update(("COUNTRY", name) for name in country_names())
    return [{"label": label, "pattern": name} for label, name in sorted(pairs)]


def write_gazetteer(path: Path, corpora: str | Path | None = None) -> int:
    """Write the patterns as one JSON list (the training configs' ``paths.gazetteer``,
    read with ``srsly.read_json.v1``: the span ruler wants a list, not a stream); their number."""
    patterns = gazetteer_patterns(corpora)
    path.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(path, patterns)
    return len(patterns)
