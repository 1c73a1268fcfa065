"""A document's date: from a field, from its path, or from its dateline; never a guess.

:func:`document_date` gives the ISO date (``"2025-10-31"``) of a document or
None, trying in this order:

1. the ``--date-field`` value of a table or JSONL row (:func:`date_from_value`:
   ``2025-10-31``, ``2025/10/31``, ``2025.10.31``, ``20251031``,
   ``2025年10月31日``, an ISO timestamp, a ``datetime.date``);
2. a date in the path (the document id, else its source): ``2025/10/31/a.txt``,
   ``20251031.txt``, ``news-2025-10-31.jsonl``, ``2025_10_31``,
   ``2025-10/31.txt`` (a year-month folder and a day file), ``2025/1031.txt``
   (:func:`date_from_path`). Two different dates in one path: none;
3. a dateline in the first lines of the text, the month and day written
   there and the year from the text itself, the field or the path
   (:func:`dateline_date`): ``本报讯（记者高伟山）6 月 10\\n日，…`` (layout
   spaces and line breaks are removed first, :mod:`pipeline.components.layout`),
   ``新华社北京6月11日电``, ``本报北京6月10日讯``, a line ``2026年6月11日 星期四``,
   ``１９９８年１月１０日`` (full-width digits), ``一九九八年一月十日`` (Chinese
   numerals), ``发布时间：2026-06-11 08:30``.

"First lines" are the headline block (the paragraphs before the first one
longer than :data:`LEAD_MIN` characters) and the first :data:`LEAD_HEAD`
characters of that first body paragraph. A date there counts only in a
dateline position: at the start of a paragraph (after an optional byline in
brackets), right after 讯 / 消息 / 报道, or followed by 电 / 讯. So the
``5 月 27 日`` inside a sentence of the body (会议强调，要认真学习…在5月27日…)
is never taken. A month and day with no year from anywhere gives None, and
so does an impossible date (2月30日, 13月1日): the first dateline found
decides, an invalid one is not replaced by a later guess.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import PurePosixPath

from ..components.layout import clean

MIN_YEAR, MAX_YEAR = 1900, 2100
LEAD_MIN = 30  # a paragraph this long (cleaned characters) is the first body paragraph
LEAD_HEAD = 60  # characters of the first body paragraph searched for a dateline
HEAD_CHARS = 400  # cleaned characters looked at in all


def _iso(year: int | None, month: int, day: int) -> str | None:
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _valid_year(year: int) -> int | None:
    return year if MIN_YEAR <= year <= MAX_YEAR else None


# ---------------------------------------------------------------- Chinese numerals

_CN_DIGITS = {"〇": 0, "零": 0, "○": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_small(s: str) -> int | None:
    """一 … 三十一 (also 十, 十二, 二十, 廿一 is not handled) -> int; None if not such a number."""
    if s.isdigit():
        return int(s)
    if "十" not in s:
        return _CN_DIGITS.get(s) if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    t = 1 if tens == "" else _CN_DIGITS.get(tens)
    o = 0 if ones == "" else _CN_DIGITS.get(ones)
    if t is None or o is None or len(tens) > 1 or len(ones) > 1:
        return None
    return 10 * t + o


def _cn_year(s: str) -> int | None:
    """1998 or 一九九八 -> 1998."""
    if s.isdigit():
        return int(s)
    digits = [_CN_DIGITS.get(c) for c in s]
    return None if None in digits else int("".join(map(str, digits)))


# ---------------------------------------------------------------- field values

_FIELD = re.compile(r"^\s*(\d{4})\s*(?:[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?)?\s*月?)?(?:[T\s].*)?$")
_FIELD_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:[T\s].*)?$")


def date_from_value(value: object) -> tuple[str | None, int | None]:
    """``(ISO date or None, year or None)`` of a date field's value.

    A year alone (``2025``) or a year and month give the year only (for a
    dateline's month and day); anything unreadable gives ``(None, None)``.
    """
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return _iso(value.year, value.month, value.day), _valid_year(value.year)
    if hasattr(value, "to_pydatetime"):  # pandas / numpy timestamps
        return date_from_value(value.to_pydatetime())
    s = unicodedata.normalize("NFKC", str(value))
    m = _FIELD_COMPACT.match(s) or _FIELD.match(s)
    if not m:
        return None, None
    year = _valid_year(int(m.group(1)))
    if year is None or m.group(2) is None or m.group(3) is None:
        return None, year
    if not 1 <= int(m.group(2)) <= 12:
        return None, None  # 2025-13-01 is not a date, nor a year we can trust
    return _iso(year, int(m.group(2)), int(m.group(3))), year


# ---------------------------------------------------------------- paths

_SEP = r"[-_./]"
# A year, month and day with separators (each its own: 2025-10/31), not inside a longer number.
_PATH_SEPARATED = re.compile(rf"(?<!\d)(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})(?!\d)")
_PATH_COMPACT = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")  # 20251031
_PATH_YEAR_SLASH_MMDD = re.compile(r"(?<!\d)(\d{4})/(\d{2})(\d{2})(?!\d)")  # 2025/1031
_PATH_CHINESE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_PATH_YEAR = re.compile(r"^(\d{4})(?:年|[-_.]\d{1,2})?$")  # a folder 2025, 2025年, 2025-10


def date_from_path(path: str | None) -> tuple[str | None, int | None]:
    """``(ISO date or None, year or None)`` written in a path.

    Every valid date in the path counts; if they disagree, there is none
    (the year stays if they share it). Without a date, the year is that of a
    path component that is a year (``2025/``, ``2025年/``, ``2025-10/``).
    Numbers that are not dates (``20251399``, ``12345678.txt``,
    ``13812345678``) are ignored.
    """
    if not path:
        return None, None
    s = unicodedata.normalize("NFKC", str(path)).replace("\\", "/")
    dates = set()
    for pattern in (_PATH_SEPARATED, _PATH_COMPACT, _PATH_YEAR_SLASH_MMDD, _PATH_CHINESE):
        for m in pattern.finditer(s):
            iso = _iso(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if iso:
                dates.add(iso)
    if len(dates) == 1:
        iso = dates.pop()
        return iso, int(iso[:4])
    if dates:
        years = {d[:4] for d in dates}
        return None, int(years.pop()) if len(years) == 1 else None
    years = set()
    for part in PurePosixPath(s).parts:
        part = re.sub(r"\.[A-Za-z0-9]+$", "", part)  # 2025.txt
        m = _PATH_YEAR.match(part)
        if m and _valid_year(int(m.group(1))):
            years.add(int(m.group(1)))
    return None, years.pop() if len(years) == 1 else None


# ---------------------------------------------------------------- datelines

_D = r"[0-9]"
_CN = "〇零○一二三四五六七八九十两"
_YEAR_RE = rf"(?P<year>{_D}{{4}}|[〇零○一二三四五六七八九]{{4}})年"
_MONTH_RE = rf"(?P<month>{_D}{{1,2}}|[{_CN}]{{1,2}})月"
_DAY_RE = rf"(?P<day>{_D}{{1,2}}|[{_CN}]{{1,3}})日"
_DATE_RE = rf"(?:{_YEAR_RE})?{_MONTH_RE}{_DAY_RE}"
_BYLINE = r"(?:[(\[【][^()\[\]【】]{0,30}[)\]】])?"  # （记者高伟山）
_BARE_BYLINE = r"(?:(?:记者|通讯员)[\u4e00-\u9fff、]{1,12}?)?"  # 本报讯 记者高伟山 6月10日
_NUMERIC = rf"(?P<nyear>{_D}{{4}})[-/.](?P<nmonth>{_D}{{1,2}})[-/.](?P<nday>{_D}{{1,2}})(?!{_D})"
_DATELINES = (
    # 新华社北京6月11日电, 本报北京6月10日讯, 新华社北京2026年6月11日电
    re.compile(rf"(?<![0-9〇零○一二三四五六七八九十两年月]){_DATE_RE}(?:电|讯)"),
    # 本报讯（记者高伟山）6月10日，
    re.compile(rf"(?:讯|消息|报道)[:：]?{_BYLINE}{_BARE_BYLINE}{_DATE_RE}"),
    # a paragraph that starts with the date: 6月10日，… / 2026年6月11日 星期四 / （记者X）6月10日
    re.compile(rf"^{_BYLINE}{_DATE_RE}"),
    # 2026-06-11 08:30 at a paragraph start / 发布时间：2026-06-11 (also after a source line)
    re.compile(rf"(?:^|时间[:：]|日期[:：]){_NUMERIC}"),
)


def _head_paragraphs(text: str) -> list[str]:
    """The headline block and the start of the first body paragraph, layout noise removed, NFKC."""
    head = clean(text[: HEAD_CHARS * 4]).text[:HEAD_CHARS]
    out = []
    for para in head.split("\n"):
        para = unicodedata.normalize("NFKC", para).strip()
        if not para:
            continue
        if len(para) >= LEAD_MIN:
            out.append(para[:LEAD_HEAD])
            break
        out.append(para)
    return out


def dateline_date(text: str, year: int | None = None) -> str | None:
    """The ISO date of the dateline in ``text``'s first lines; ``year`` is used when it writes none."""
    for para in _head_paragraphs(text):
        for pattern in _DATELINES:
            m = pattern.search(para)
            if m is None:
                continue
            if m.groupdict().get("nyear"):
                return _iso(int(m.group("nyear")), int(m.group("nmonth")), int(m.group("nday")))
            month, day = _cn_small(m.group("month")), _cn_small(m.group("day"))
            written = _cn_year(m.group("year")) if m.group("year") else None
            if month is None or day is None:
                return None
            return _iso(written if written is not None else year, month, day)
    return None


# ---------------------------------------------------------------- all together

def document_date(doc_id: str | None, source: str | None, text: str, field: object = None) -> str | None:
    """The document's ISO date: the field, else a date in the id's or the source's path, else its dateline."""
    field_date, field_year = date_from_value(field)
    if field_date:
        return field_date
    year = field_year
    for path in (doc_id, source):
        path_date, path_year = date_from_path(path)
        if path_date:
            return path_date
        year = year or path_year
    return dateline_date(text, year)
