"""Normalising MONEY entity texts (GUIDELINES.md, rule 6, D5, D11, D12) to a value and currency.

A MONEY span is number + magnitude + currency unit, written as the article has
it: layout whitespace inside (``3000 万元``), full-width digits and dots
(``３．２亿元``), thousands separators (``7,583.51万元``), Chinese and financial
numerals (``一千七百一十万元``, ``壹佰万元``), approximations inside the span
(``9万余元``) and ranges under one unit (``5000-10000万元``).

Conventions (chosen so that a value is always a number an analyst can sum):

* ``value`` is exact: arithmetic is done in ``decimal.Decimal`` and the result
  is an ``int`` when whole, else the nearest ``float`` (so ``0.3`` stays
  ``0.3``, never ``0.30000000000000004``).
* Approximations take the round base as ``value`` and set ``approximate``:
  ``9万余元`` → 90000, ``７亿多元`` → 7e8, ``数千万元`` / ``几百万元`` → 1000万 /
  100万 (数 / 几 read as one of the magnitude), ``二十几万元`` → 20万.
  A bare magnitude is exact: ``百万元`` → 1000000.
* Ranges set ``low`` / ``high`` and ``value = low`` with ``approximate``:
  ``4-5万元`` (the unit of the last number carries to a bare first one),
  ``4.5万到10.5万美元``, ``二、三千元``, adjacent numerals ``一两百万元``, ``三四万元``.
* Hedges outside the span (rule 6 keeps them out) are passed as
  ``context_before`` / ``context_after``; see ``HEDGES_BEFORE``.
* 毛 / 角 are 0.1 yuan, 分 0.01 (only inside a compound such as ``3元5角2分``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

# Longest first, so that 美元 wins over 元 and 块钱 over 块.
CURRENCIES: dict[str, str] = dict(sorted({
    "元": "CNY", "圆": "CNY", "人民币": "CNY", "块": "CNY", "块钱": "CNY", "元钱": "CNY", "毛": "CNY", "毛钱": "CNY", "角": "CNY",
    "美元": "USD", "美金": "USD", "欧元": "EUR", "英镑": "GBP", "日元": "JPY", "日圆": "JPY",
    "港元": "HKD", "港币": "HKD", "韩元": "KRW", "韩币": "KRW", "卢布": "RUB", "泰铢": "THB", "铢": "THB",
    "新台币": "TWD", "台币": "TWD", "澳元": "AUD", "加元": "CAD", "新加坡元": "SGD", "澳门元": "MOP",
    # the pre-euro currencies of People's Daily 1998 (GUIDELINES D11 accepts them); a bare 法郎 there is the French franc
    "马克": "DEM", "德国马克": "DEM", "法郎": "FRF", "法国法郎": "FRF", "瑞士法郎": "CHF", "里拉": "ITL",
    "卢比": "INR", "镑": "GBP", "円": "JPY",
}.items(), key=lambda kv: -len(kv[0])))
SYMBOLS = {"¥": "CNY", "$": "USD", "€": "EUR", "£": "GBP"}
SUBUNIT = {"毛": Decimal("0.1"), "毛钱": Decimal("0.1"), "角": Decimal("0.1")}

# Hedges before the span that make a figure approximate. 达 (reaches) and 累计
# (in total) are left out on purpose: they introduce a stated, exact figure.
HEDGES_BEFORE = ("近", "将近", "接近", "约", "大约", "约合", "大概", "超", "超过", "逾", "多达",
                 "不到", "不足", "不超过", "不少于", "至少", "上")
HEDGES_AFTER = ("左右", "上下", "以上", "以下", "多")
# Words ending in a hedge character that are not hedges (节约3000元 is a saving).
NOT_HEDGES = ("节约", "签约", "违约", "履约", "预约", "合约", "特约", "解约", "续约", "集约", "最近", "附近", "邻近")

DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")}
DIGITS.update({"〇": 0, "两": 2, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9})
SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
BIG = {"万": Decimal(10) ** 4, "萬": Decimal(10) ** 4, "亿": Decimal(10) ** 8, "億": Decimal(10) ** 8}
MAGNITUDES = "十拾百佰千仟万萬亿億"
NUMERAL = re.compile(r"^[\d.零〇一二两三四五六七八九壹贰叁肆伍陆柒捌玖十拾百佰千仟万萬亿億点]+$")
COMPOUND = re.compile(r"(?:(?P<yuan>[^元块角毛分]+)[元块])?(?:(?P<jiao>[^元块角毛分]+)[角毛])?"
                      r"(?:(?P<fen>[^元块角毛分钱]+)分?)?")
RANGE_SEP = re.compile(r"(?<=.)(?:-|—|–|―|~|～|至|到|、)")


@dataclass(frozen=True)
class Money:
    """An amount: ``value`` in units of ``currency`` (ISO 4217); ``low`` / ``high`` only for ranges."""

    value: int | float
    currency: str
    approximate: bool = False
    low: int | float | None = None
    high: int | float | None = None


def _number(d: Decimal) -> int | float:
    """int when whole, else the float nearest the exact decimal."""
    return int(d) if d == d.to_integral_value() else float(d)


def _normalise(text: str) -> str:
    """Full-width to ASCII, layout whitespace and thousands separators out."""
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"(?<=\d)[·・•](?=\d)", ".", s)  # １·４亿元: a middle dot used as decimal point
    # People's Daily 1998 writes the numeral zero as a circle (一百点○五亿元)
    return s.replace(",", "").replace("○", "〇").replace("◯", "〇")


def _small(s: str) -> Decimal:
    """A numeral below 万: 三千五百, 8千, 2016, 二〇一六, 零点五, 1.5千."""
    if not s:
        return Decimal(0)
    if re.fullmatch(r"\d*\.?\d+|\d+\.?", s):
        return Decimal(s)
    if "点" in s:  # Chinese decimal point: 零点五, 一点二
        whole, frac = s.split("点", 1)
        if not frac or any(c not in DIGITS for c in frac):
            raise ValueError(s)
        return _small(whole) + Decimal("0." + "".join(str(DIGITS[c]) for c in frac))
    if all(c in DIGITS for c in s) and len(s) > 1:  # digit by digit: 二〇〇〇
        return Decimal("".join(str(DIGITS[c]) for c in s))
    total, num, last_unit = Decimal(0), None, None
    for tok in re.findall(r"\d*\.?\d+|.", s):
        if tok in SMALL:
            total += (num if num is not None else 1) * SMALL[tok]
            num, last_unit = None, SMALL[tok]
        elif tok in DIGITS:
            num = Decimal(DIGITS[tok])
            if tok in "零〇":
                last_unit = None  # 一千零五: the 5 is units, not hundreds
        elif re.fullmatch(r"\d*\.?\d+", tok):
            num = Decimal(tok)
        else:
            raise ValueError(s)
    if num is not None:
        # 三千五 = 3500: a trailing digit takes the next unit down
        total += num * (Decimal(last_unit) / 10 if last_unit and last_unit > 10 and not re.search(r"\d", s) else 1)
    return total


def _numeral(s: str) -> Decimal:
    """A numeral with 万 / 亿 sections: 1.2万亿, 一万二千, 3亿5000万, 一万二."""
    for big in ("亿", "億", "万", "萬"):
        if big in s:
            left, right = s.split(big, 1)
            head = _numeral(left) if left else Decimal(1)
            if len(right) == 1 and right in DIGITS and right not in "零〇":
                return head * BIG[big] + DIGITS[right] * BIG[big] / 10  # 一万二 = 12000
            return head * BIG[big] + (_numeral(right) if right else 0)
    return _small(s)


def _split_currency(s: str) -> tuple[str, str, Decimal] | None:
    """``(amount part, ISO code, subunit factor)`` for a normalised text, or None."""
    for sym, code in SYMBOLS.items():
        if s.startswith(sym):
            return s[len(sym):], code, Decimal(1)
    if s.startswith("人民币"):  # D5: 人民币1亿元 (the span keeps it out, but be lenient)
        s = s[3:]
    if s.endswith("人民币") and len(s) > 3 and s[-4] in "元块":  # D12: ２亿元人民币
        s = s[:-3]
    for word, code in CURRENCIES.items():
        if s.endswith(word) and len(s) > len(word):
            return s[: -len(word)].removesuffix("个"), code, SUBUNIT.get(word, Decimal(1))
    return None


def _compound_yuan(s: str) -> Decimal | None:
    """3元5角2分, 三块五, 两毛五 (yuan, jiao and fen written together), else None."""
    m = COMPOUND.fullmatch(s)
    if not m or sum(g is not None for g in m.groups()) < 2:
        return None
    try:
        yuan, jiao, fen = (_part(g)[0] if g else Decimal(0) for g in m.groups())
    except ValueError:
        return None  # 2亿元人民币: not a compound after all
    if m.group("fen") and not m.group("jiao") and not s.endswith("分"):
        jiao, fen = fen, Decimal(0)  # 三块五: the digit after 块 is jiao
    return yuan + jiao / 10 + fen / 100


def _hedged(context_before: str, context_after: str) -> bool:
    before = re.sub(r"\s+", "", context_before)[-4:]
    after = re.sub(r"\s+", "", context_after)[:2]
    if any(before.endswith(w) for w in NOT_HEDGES):
        return False
    return any(before.endswith(h) for h in HEDGES_BEFORE) or any(after.startswith(h) for h in HEDGES_AFTER)


def _part(s: str) -> tuple[Decimal, bool]:
    """One number of a span (currency removed, no range): its value and whether it is approximate."""
    approx = False
    if s[:1] and s[:1] in "近约超逾上":  # a hedge written inside a range: 数千至近万元
        s, approx = s[1:], True
    if s[:1] and s[:1] in "几数" and s[1:2] and s[1:2] in MAGNITUDES:
        s, approx = "一" + s[1:], True  # 数千万 → 一千万, the round base
    stripped = re.sub(r"(?<=[十拾])[几数]|[余多来]", "", s)
    if not stripped or not NUMERAL.fullmatch(stripped) or not re.search(r"[^.点]", stripped):
        raise ValueError(s)
    return _numeral(stripped), approx or stripped != s


def _adjacent_range(s: str) -> tuple[str, str] | None:
    """一两百万 / 三四万 / 十七八万: two neighbouring digits side by side are a range."""
    if not any(c in MAGNITUDES for c in s) and len(s) != 2:
        return None  # 二〇一二 is a number written digit by digit
    for i in range(len(s) - 1):
        a, b = s[i], s[i + 1]
        if a in DIGITS and b in DIGITS and DIGITS[b] == DIGITS[a] + 1 and a not in "零〇":
            return s[:i + 1] + s[i + 2:], s[:i] + s[i + 1:]
    return None


def _range(parts: list[str], factor: Decimal) -> tuple[Decimal, Decimal]:
    left, right = (next((p[: -len(c)] for c in CURRENCIES if p.endswith(c) and len(p) > len(c)), p) for p in parts)
    if not any(c in MAGNITUDES for c in left):
        left += re.search(f"[{MAGNITUDES}]*$", right).group()  # 4-5万元: 4 means 4万
    return _part(left)[0] * factor, _part(right)[0] * factor


# Characters either side of a span that money_at hands to the hedge check
# (layout spaces count, the check itself skips whitespace).
CONTEXT = 4


def money_at(text: str, start: int, end: int) -> Money | None:
    """The value of the MONEY span ``text[start:end]``, with the hedges around it in ``text``."""
    return normalise_money(text[start:end], text[max(0, start - CONTEXT):start], text[end:end + CONTEXT])


def normalise_money(text: str, context_before: str = "", context_after: str = "") -> Money | None:
    """The value of a MONEY span, or None when ``text`` is not an amount of money.

    ``context_before`` / ``context_after`` are the characters around the span in
    the article: a hedge there (近3000万元, 3000元左右) marks the value approximate.
    """
    s = _normalise(text)
    for tail in ("左右", "上下"):  # a hedge the span happened to take in
        if s.endswith(tail):
            s, context_after = s[: -len(tail)], tail
    hedged = _hedged(context_before, context_after)
    try:
        if (compound := _compound_yuan(s)) is not None:
            return Money(_number(compound), "CNY", hedged)
        if (split := _split_currency(s)) is None:
            return None
        amount, currency, factor = split
        sign = -1 if amount.startswith("-") else 1  # -0.115元 (a loss per share)
        amount = amount.lstrip("-")
        parts = RANGE_SEP.split(amount)
        if len(parts) == 1 and (adjacent := _adjacent_range(amount)):
            parts = list(adjacent)
        if len(parts) == 2:
            low, high = _range(parts, factor)
            return Money(_number(low), currency, True, _number(low), _number(high))
        if len(parts) > 2:
            return None
        value, approx = _part(amount)
    except (ValueError, ArithmeticError):
        return None
    return Money(_number(sign * value * factor), currency, approx or hedged)
