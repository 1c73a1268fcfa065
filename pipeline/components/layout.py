"""Remove newspaper layout noise from a text while keeping offsets to the original.

The model must see clean text (no line breaks inside names, no spaced-out
characters), but every offset we output must point into the ORIGINAL text,
because that is what annotators and downstream users see.  So cleaning only
ever *deletes* whitespace characters: every kept character is a copy of an
original one, and one int array maps cleaned positions back to the original.

Cleaning rules, applied to each maximal run of whitespace (``\\s+``, which
includes ``\\n``, ``\\r``, tabs and U+3000 full-width spaces):

1. A run at the start or end of the text is removed.
2. Paragraph break: a run holding a blank line (two or more line breaks,
   ``\\r\\n`` counting as one) is kept as ONE line-break character (the
   first ``\\n`` in the run, else the first ``\\r``) only when the text before
   it ends a paragraph: its last character is sentence-final punctuation
   (PARA_END), or its last line is headline-like, i.e. has fewer than
   HEADLINE_MAX non-space characters.  Layout wraps lines at 12-16
   characters, so a blank line after a full line is a page/column break in
   the middle of a sentence (the samples' ``力\\n\\n量。``).
3. Otherwise, if the character on either side of the run is CJK (Han, CJK
   punctuation, full-width forms, Chinese quotes/dashes), the run is removed:
   line breaks inside words (``市\\n委书记``), spaced characters (``王 堃``),
   a number split from its unit (``3000 万元``).
   So is a lone line break between two digits: the paper wraps lines inside
   numbers too (``171\n0万元``).
4. Otherwise (both sides Latin letters, digits or other non-CJK) the run is
   kept as ONE character, the first ASCII space in it if any (``Li  Qiang``
   -> ``Li Qiang``), else its first character.
Nothing else changes: no NFKC, no replacement, so ``text[i] ==
original[starts[i]]`` for every i.  One regex pass + O(1) work per run, plus
a backwards look over one line per blank line: linear time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

PARA_END = frozenset("。！？；：”）)")
HEADLINE_MAX = 12  # narrowest layout column seen in the paper
_WS_RUN = re.compile(r"\s+")
# Chinese quotes, dashes, ellipsis and middle dot live outside the CJK blocks.
_CJK_EXTRA = frozenset("“”‘’—…·")


def _is_cjk(ch: str) -> bool:
    """Han ideographs, CJK symbols/punctuation (、。《》「」…) and full-width forms (，（）：)."""
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3000 <= o <= 0x303F or 0xFF00 <= o <= 0xFFEF
            or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x3FFFF
            or ch in _CJK_EXTRA)


@dataclass(frozen=True)
class CleanText:
    """A cleaned text together with the map back to the text it came from."""

    original: str
    text: str  # the cleaned text the model sees
    # starts[i] = original index of text[i]; starts[len(text)] = end of the last
    # kept char (0 if none), so an empty span at the end never covers trailing
    # removed whitespace.  Strictly increasing, read-only.
    starts: np.ndarray = field(repr=False, compare=False)

    def _check(self, start: int, end: int, n: int) -> None:
        if not 0 <= start <= end <= n:
            raise ValueError(f"bad span [{start}, {end}) for length {n}")

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Cleaned [start, end) -> original [start, end).

        The end is mapped from the last covered char (``starts[end-1] + 1``), not
        from ``starts[end]``, so a span never swallows whitespace removed after it.
        An empty span maps to the empty span before the char at ``start``.
        """
        self._check(start, end, len(self.text))
        s = int(self.starts[start])
        return (s, s) if start == end else (s, int(self.starts[end - 1]) + 1)

    def to_clean(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) -> smallest cleaned span covering the kept chars in it.

        A span holding only removed whitespace maps to an empty span at the next
        kept char.  For a span that starts and ends on non-space characters,
        ``to_original(*to_clean(s, e)) == (s, e)``.
        """
        self._check(start, end, len(self.original))
        kept = self.starts[:-1]
        cs = int(np.searchsorted(kept, start, "left"))
        ce = int(np.searchsorted(kept, end, "left"))
        return (cs, max(cs, ce))


def _keeps_paragraph(original: str, s: int) -> bool:
    """Whether the blank line starting at ``s`` ends a paragraph (rule 2)."""
    if original[s - 1] in PARA_END:
        return True
    line = original[max(original.rfind("\n", 0, s), original.rfind("\r", 0, s)) + 1:s]
    return len(line) - sum(c.isspace() for c in line) < HEADLINE_MAX


def clean(text: str) -> CleanText:
    """Apply the layout rules (module docstring) and record the offset map."""
    n = len(text)
    keep = np.ones(n, dtype=bool)
    pieces: list[str] = []
    pos = 0
    for m in _WS_RUN.finditer(text):
        s, e = m.span()
        run = m.group()
        keep[s:e] = False
        pieces.append(text[pos:s])
        pos = e
        if s == 0 or e == n:
            continue  # rule 1
        k = -1
        breaks = run.count("\n") + run.count("\r") - run.count("\r\n")
        if breaks >= 2 and _keeps_paragraph(text, s):
            k = run.find("\n")  # rule 2
            k = run.find("\r") if k < 0 else k
        elif not (_is_cjk(text[s - 1]) or _is_cjk(text[e])
                  or (text[s - 1].isdigit() and text[e].isdigit() and run.strip(" ") == "\n")):
            k = max(run.find(" "), 0)  # rule 4; rule 3 removes the run
        if k >= 0:
            keep[s + k] = True
            pieces.append(run[k])
    pieces.append(text[pos:])
    idx = np.flatnonzero(keep)
    starts = np.append(idx, idx[-1] + 1 if len(idx) else 0).astype(np.int64)
    starts.flags.writeable = False
    return CleanText(original=text, text="".join(pieces), starts=starts)
