"""An HTML page for reading a sample of annotation results in a browser.

Entities are highlighted with displaCy (``style="ent"``, ``manual=True``)
on the original text, relations are listed under each document, and counts
per label over the whole output head the page. The page is self-contained:
no scripts, no fonts or styles fetched from anywhere.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from html import escape
from pathlib import Path

from spacy import displacy

LABEL_COLORS = {"PERSON": "#aa9cfc", "TITLE": "#7aecec", "ORG": "#feca74", "GPE": "#ff9561", "MONEY": "#e4e7d2"}

_PAGE = """<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       max-width: 60em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
td.n {{ text-align: right; }}
section.doc {{ border-top: 2px solid #ddd; margin-top: 2em; }}
.meta {{ color: #666; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>{title}</h1>
{summary}
<h2>{n} sampled documents</h2>
{documents}
</body>
</html>
"""


class Sample:
    """A uniform random sample of at most ``size`` documents' (id, text) (reservoir sampling).

    Seeded, so the same inputs give the same sample; kept in input order.
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self._seen = 0
        self._items: list[tuple[int, str, str]] = []
        self._rng = random.Random(seed)

    def add(self, doc_id: str, text: str) -> None:
        self._seen += 1
        if len(self._items) < self.size:
            self._items.append((self._seen, doc_id, text))
        else:
            k = self._rng.randrange(self._seen)
            if k < self.size:
                self._items[k] = (self._seen, doc_id, text)

    def texts(self) -> dict[str, str]:
        """Sampled texts by id, in input order."""
        return {doc_id: text for _, doc_id, text in sorted(self._items)}


def render_document(record: dict, text: str) -> str:
    """One document: displaCy's entity markup of ``text``, then its relations."""
    ents = [{"start": e["start"], "end": e["end"], "label": e["label"]} for e in record["entities"]]
    marked = displacy.render({"text": text, "ents": ents, "title": None}, style="ent", manual=True,
                             page=False, jupyter=False, options={"colors": LABEL_COLORS})
    by_id = {e["id"]: e for e in record["entities"]}
    relations = "".join(
        f"<li>{_mention(by_id.get(r['head']), r['head'])} — <b>{escape(r['label'])}</b> → "
        f"{_mention(by_id.get(r['tail']), r['tail'])}"
        + (f" <span class=\"meta\">({r['score']:.2f})</span>" if r.get("score") is not None else "")
        + "</li>"
        for r in record["relations"])
    return (f'<section class="doc" data-id="{escape(record["id"])}">\n'
            f'<h3>{escape(record["id"])}</h3>\n<p class="meta">{escape(record["source"])} · '
            f'{len(text)} characters · {len(record["entities"])} entities</p>\n{marked}\n'
            + (f"<h4>Relations</h4>\n<ul>{relations}</ul>\n" if relations else "")
            + "</section>")


def _mention(entity: dict | None, entity_id: str) -> str:
    if entity is None:
        return escape(entity_id)
    return f"{escape(entity['text'])} <span class=\"meta\">{escape(entity['label'])}</span>"


def _counts_table(counts: dict[str, Counter]) -> str:
    html = []
    for kind in ("entities", "relations"):
        rows = "".join(f"<tr><td>{escape(k)}</td><td class=\"n\">{v}</td></tr>" for k, v in sorted(counts[kind].items()))
        html.append(f"<h3>{kind.capitalize()} per label</h3>\n<table><tr><th>label</th><th>count</th></tr>"
                    + (rows or "<tr><td colspan=\"2\">none</td></tr>") + "</table>")
    return "\n".join(html)


def write_report(path: Path, output: Path, sample: Sample) -> None:
    """The page for the results in the JSONL ``output``: counts over all of it, the sampled documents in full.

    One streaming pass over ``output``; sampled documents that have no
    record there (they failed) are left out.
    """
    texts = sample.texts()
    counts: dict[str, Counter] = {"entities": Counter(), "relations": Counter()}
    records: dict[str, dict] = {}
    n_docs = 0
    with output.open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            n_docs += 1
            counts["entities"].update(e["label"] for e in record["entities"])
            counts["relations"].update(r["label"] for r in record["relations"])
            if record["id"] in texts:
                records[record["id"]] = record
    shown = [(records[i], t) for i, t in texts.items() if i in records]
    title = f"zhie annotation: {output.name}"
    summary = (f"<p>{n_docs} documents in <code>{escape(str(output))}</code>; "
               f"{len(shown)} sampled below.</p>\n{_counts_table(counts)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_PAGE.format(title=escape(title), summary=summary, n=len(shown),
                                 documents="\n".join(render_document(r, t) for r, t in shown)), encoding="utf-8")
