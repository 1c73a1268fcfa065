"""Reading and writing JSON Lines: one object per line, UTF-8, Chinese as written.

A leaf module (it imports nothing from the package), so every layer may use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable


def read_jsonl(path: Path, *, partial: bool = False) -> list[dict]:
    """Every record of ``path``; a line that is not JSON raises ``ValueError`` naming file and line.

    ``partial``: the file may be a running or stopped writer's (a ``zhie
    annotate`` output read while it grows): an unfinished last line, one
    without its newline that is not JSON, is left out.
    """
    out = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as err:
                    if partial and not line.endswith("\n"):
                        break
                    raise ValueError(f"{path}:{n}: invalid JSON ({err})") from err
    return out


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Write ``records`` to ``path`` atomically (through ``path.partial``), creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(path)
