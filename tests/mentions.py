"""Entities of a test sentence from their mentions, for the list and 分别 tables."""


def offsets(text: str, mentions: list[tuple[str, str]]) -> list[tuple[int, int, str]]:
    """(start, end, label) of each (mention, label), found in reading order."""
    out, pos = [], 0
    for mention, label in mentions:
        start = text.index(mention, pos)
        out.append((start, start + len(mention), label))
        pos = start + len(mention)
    return out
