"""The static HTML of ``zhie timeline``: an index, a page per person, the cited documents.

Rendered here, on the server side, from the tables :mod:`pipeline.app.timeline`
built in DuckDB; the pages fetch nothing (no fonts, styles or scripts from
anywhere) and work from ``file://``. Every table is sortable by clicking a
column head (a few lines of inline script; without it the tables read in
their default order). Bounded: pages for the ``max_people`` people named in
the most documents, and for at most ``max_doc_pages`` documents, those cited
as evidence on the pages written, in the order they are first cited.

* ``index.html``: counts, the people (links to their pages), the latest events.
* ``people/<hash>.html``: a timeline of the person's posts (a bar from the
  first to the last dated document stating each) and visits (a dot per
  date), then the roles, visits and events tables with their evidence.
* ``docs/<hash>.html``: the document's text as written (layout noise and all,
  the offsets refer to it) with the entities highlighted (their key on
  hover), an anchor at each evidence start (``#o<offset>``, outlined when
  followed) and the relations. The text is read again from the record's
  ``source``: a text file, a member of a zip or tar archive, or a row of a
  JSONL / CSV / Parquet file or dataset (``text_field``, ``id_field``); where
  it cannot be (moved, relative to another folder), the page lists the
  entities instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tarfile
import zipfile
from collections import defaultdict
from html import escape
from itertools import groupby
from pathlib import Path
from typing import Iterable, Sequence

from .archive import DocumentReader, decode_bytes, file_kind, is_dataset_folder
from .timeline_sql import ROLE_ORDER, VISIT_ORDER, scan_sql, sql_string

LABEL_COLORS = {"PERSON": "#aa9cfc", "TITLE": "#7aecec", "ORG": "#feca74", "GPE": "#ff9561", "MONEY": "#e4e7d2"}
EVENTS_ON_INDEX = 300
EVENTS_PER_PERSON = 200

_STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; cursor: pointer; user-select: none; white-space: nowrap; }
th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
td.n { text-align: right; }
.meta { color: #666; font-size: 0.9em; }
a.ev { font-size: 0.85em; margin-right: 0.4em; white-space: nowrap; }
.tl { margin: 1em 0 2em; }
.tl .lane { display: flex; align-items: center; margin: 0.25em 0; }
.tl .label { width: 16em; flex: none; font-size: 0.9em; padding-right: 0.5em; overflow: hidden; white-space: nowrap;
             text-overflow: ellipsis; }
.tl .track { position: relative; flex: 1; height: 1.2em; background: #f6f6f6; border-radius: 3px; }
.tl .bar { position: absolute; top: 0.15em; height: 0.9em; background: #5b8def; border-radius: 3px; min-width: 6px; }
.tl .dot { position: absolute; top: 0.2em; width: 0.8em; height: 0.8em; margin-left: -0.4em; border-radius: 50%;
           background: #e8590c; }
.tl .track.axis { background: none; border-top: 1px solid #999; border-radius: 0; height: 1.4em; font-size: 0.8em;
                  color: #666; }
.tl .tick { position: absolute; top: 0; border-left: 1px solid #999; padding-left: 2px; height: 1.2em;
            white-space: nowrap; }
.tl .tick.end { border-left: none; border-right: 1px solid #999; padding: 0 2px 0 0; transform: translateX(-100%); }
.text { white-space: pre-wrap; line-height: 1.9; border: 1px solid #ddd; padding: 1em; }
mark { padding: 0.1em 0.15em; border-radius: 0.25em; }
mark.ev { outline: 2px solid #333; }
a.anchor:target + mark { outline: 3px solid #d00; }
"""

# Click a column head to sort by it (numbers as numbers, data-v when given); again to reverse.
_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach((th, i) => th.addEventListener("click", () => {
  const body = th.closest("table").tBodies[0], dir = th.dataset.dir === "asc" ? -1 : 1;
  th.closest("tr").querySelectorAll("th").forEach(h => delete h.dataset.dir);
  th.dataset.dir = dir === 1 ? "asc" : "desc";
  const v = r => { const c = r.cells[i], s = c.dataset.v ?? c.textContent.trim(), n = Number(s);
                   return s !== "" && !isNaN(n) ? n : s; };
  const rows = [...body.rows].sort((a, b) => { const x = v(a), y = v(b);
    return (typeof x === typeof y ? (x > y) - (x < y) : typeof x === "number" ? -1 : 1) * dir; });
  body.append(...rows);
}));
"""


def _page(title: str, body: str, up: str = "") -> str:
    label_css = "".join(f"mark.{k} {{ background: {v}; }}\n" for k, v in LABEL_COLORS.items())
    return (f'<!DOCTYPE html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{_STYLE}{label_css}</style>\n</head>\n<body>\n"
            + (f'<p class="meta"><a href="{up}index.html">← index</a></p>\n' if up else "")
            + f"<h1>{escape(title)}</h1>\n{body}\n<script>{_SCRIPT}</script>\n</body>\n</html>\n")


def _ref(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def person_file(person_key: str) -> str:
    return f"people/{_ref(person_key)}.html"


def doc_file(source: str, doc_id: str) -> str:
    return f"docs/{_ref(source + chr(0) + doc_id)}.html"


def _date(d) -> str:
    return d.isoformat() if d else ""


def _table(headers: Sequence[str], rows: Iterable[Sequence], numeric: Sequence[int] = ()) -> str:
    """A sortable table; cells are HTML already (escape before), or ``(html, sort value)``."""
    def cell(i: int, c) -> str:
        html, value = c if isinstance(c, tuple) else (c, None)
        attrs = (' class="n"' if i in numeric else "") + (f' data-v="{escape(str(value))}"' if value is not None else "")
        return f"<td{attrs}>{html}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(row)) + "</tr>\n" for row in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>'


class _Docs:
    """The documents cited as evidence that get a page (the first ``limit`` cited)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spans: dict[tuple[str, str], set[tuple[int, int]]] = {}

    def cite(self, source: str, doc_id: str, start: int, end: int) -> bool:
        key = (source, doc_id)
        if key not in self.spans:
            if len(self.spans) >= self.limit:
                return False
            self.spans[key] = set()
        self.spans[key].add((start, end))
        return True

    def links(self, evidence: Sequence[dict] | None, up: str) -> str:
        out = []
        for ev in evidence or []:
            label = f"{ev['doc_id']} {ev['start']}–{ev['end']}"
            if self.cite(ev["source"], ev["doc_id"], ev["start"], ev["end"]):
                href = f"{up}{doc_file(ev['source'], ev['doc_id'])}#o{ev['start']}"
                out.append(f'<a class="ev" href="{escape(href)}" title="{escape(_date(ev.get("date")))}">'
                           f"{escape(label)}</a>")
            else:
                out.append(f'<span class="ev meta">{escape(label)}</span>')
        return "".join(out)


def _rows(con, query: str, params: Sequence = ()) -> list[dict]:
    cur = con.execute(query, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def write_site(con, output: Path, files: Sequence[Path], events: Path, *, max_people: int, max_doc_pages: int,
               text_field: str, id_field: str, summary: dict) -> list[Path]:
    """Write index.html, people/*.html and docs/*.html from the connection's ``facts``, ``roles`` and ``visits``."""
    con.execute("""
        CREATE TEMP TABLE people AS
        SELECT person_key, kname(person_key) AS person, count(DISTINCT (source, doc_id)) AS documents,
            count(DISTINCT target_key) FILTER (WHERE relation = 'has_title') AS titles,
            count(DISTINCT (target_key, date)) FILTER (WHERE relation = 'visits') AS visits,
            min(date) AS first_date, max(date) AS last_date
        FROM facts GROUP BY person_key""")
    n_people = con.execute("SELECT count(*) FROM people").fetchone()[0]
    con.execute(f"CREATE TEMP TABLE shown AS SELECT * FROM people ORDER BY documents DESC, person_key LIMIT {int(max_people)}")
    people = _rows(con, "SELECT * FROM shown ORDER BY documents DESC, person_key")
    roles = _group(_rows(con, f"SELECT * FROM roles WHERE person_key IN (SELECT person_key FROM shown) ORDER BY {ROLE_ORDER}"))
    visits = _group(_rows(con, f"SELECT * FROM visits WHERE person_key IN (SELECT person_key FROM shown) ORDER BY {VISIT_ORDER}"))
    events_sql = f"read_parquet({sql_string(str(events))})"
    person_events = _group(_rows(con, f"""
        SELECT * FROM (SELECT unnest(parties).key AS person_key, * FROM {events_sql})
        WHERE person_key IN (SELECT person_key FROM shown)
        QUALIFY row_number() OVER (PARTITION BY person_key ORDER BY date DESC NULLS LAST, doc_id, "start")
                <= {EVENTS_PER_PERSON}
        ORDER BY person_key, date NULLS LAST, doc_id, "start" """))
    latest_events = _rows(con, f'SELECT * FROM {events_sql} ORDER BY date DESC NULLS LAST, doc_id, "start" '
                               f"LIMIT {EVENTS_ON_INDEX}")

    for folder in ("people", "docs"):  # pages of an earlier run into this folder would linger
        shutil.rmtree(output / folder, ignore_errors=True)
    docs = _Docs(max_doc_pages)
    pages: dict[str, str] = {}
    for p in people:  # most documents first: they get the document pages if the limit bites
        key = p["person_key"]
        pages[person_file(key)] = _person_page(p, roles.get(key, []), visits.get(key, []),
                                               person_events.get(key, []), docs)
    pages["index.html"] = _index_page(summary, people, n_people, latest_events, docs)
    written = []
    for name, html in pages.items():
        written.append(_write(output / name, html))
    written += _write_doc_pages(con, output, files, docs, text_field, id_field, scan_sql)
    return written


def _group(rows: list[dict]) -> dict[str, list[dict]]:
    return {k: list(g) for k, g in groupby(rows, key=lambda r: r["person_key"])}


def _write(path: Path, html: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path


def _index_page(summary: dict, people: list[dict], n_people: int, events: list[dict], docs: _Docs) -> str:
    counts = (f"<p>{summary['documents']} documents ({summary['dated_documents']} dated) in "
              f"{escape(', '.join(Path(f).name for f in summary['inputs']))}: {summary['roles']} roles of "
              f"{summary['people_with_roles']} people, {summary['visits']} visits, {summary['events']} events. "
              "Full tables: <a href=\"roles.csv\">roles.csv</a>, <a href=\"visits.csv\">visits.csv</a>, "
              "<a href=\"events.csv\">events.csv</a> (and .parquet).</p>")
    more = (f'<p class="meta">{len(people)} of {n_people} people shown (those named in the most documents); '
            "the others are in the tables.</p>" if n_people > len(people) else "")
    rows = [(f'<a href="{escape(person_file(p["person_key"]))}">{escape(p["person"])}</a>', str(p["titles"]),
             str(p["visits"]), str(p["documents"]), _date(p["first_date"]), _date(p["last_date"])) for p in people]
    body = (counts + f"<h2>People</h2>\n{more}"
            + _table(("person", "titles", "visits", "documents", "first date", "last date"), rows, numeric=(1, 2, 3))
            + f"<h2>Latest events</h2>\n<p class=\"meta\">the {len(events)} latest of {summary['events']}</p>\n"
            + _events_table(events, docs, ""))
    return _page("zhie timeline", body, up="")


def _events_table(events: list[dict], docs: _Docs, up: str) -> str:
    rows = []
    for e in events:
        parties = "、".join(f"{escape(p['name'])} <span class=\"meta\">{escape(p['role'])}</span>"
                           for p in e["parties"] or [])
        amount = "" if e["amount_value"] is None else f"{e['amount_value']:,.0f} {escape(e['currency'] or '')}"
        ev = {"date": e["date"], "doc_id": e["doc_id"], "source": e["source"], "start": e["start"], "end": e["end"]}
        rows.append((_date(e["date"]), escape(e["date_text"] or ""), escape(e["type"] or ""), parties,
                     (amount, e["amount_value"] or 0), docs.links([ev], up)))
    return _table(("date", "date in text", "type", "parties", "amount", "evidence"), rows, numeric=(4,))


def _person_page(p: dict, roles: list[dict], visits: list[dict], events: list[dict], docs: _Docs) -> str:
    up = "../"
    role_rows = [(escape(r["title"]), escape(r["org"] or ""), _date(r["first_date"]), _date(r["last_date"]),
                  str(r["documents"]), docs.links(r["evidence"], up)) for r in roles]
    visit_rows = [(escape(v["place"]), escape(v["place_label"]), _date(v["date"]), str(v["documents"]),
                   docs.links(v["evidence"], up)) for v in visits]
    body = (f'<p class="meta">{escape(p["person_key"])} · {p["documents"]} documents · '
            f'{_date(p["first_date"]) or "undated"} – {_date(p["last_date"])}</p>\n'
            + _timeline(roles, visits)
            + "<h2>Posts</h2>\n"
            + _table(("title", "organisation / place", "first date", "last date", "documents", "evidence"), role_rows,
                     numeric=(4,))
            + "<h2>Visits</h2>\n"
            + (_table(("place / body", "label", "date", "documents", "evidence"), visit_rows, numeric=(3,))
               if visit_rows else "<p class=\"meta\">none</p>")
            + "<h2>Events</h2>\n" + (_events_table(events, docs, up) if events else "<p class=\"meta\">none</p>"))
    return _page(p["person"], body, up=up)


def _timeline(roles: list[dict], visits: list[dict]) -> str:
    """Posts as bars from first to last date, visits as dots, on one date axis."""
    dates = [d for r in roles for d in (r["first_date"], r["last_date"]) if d] + [v["date"] for v in visits if v["date"]]
    if not dates:
        return '<p class="meta">No dated statements: no timeline.</p>\n'
    lo, hi = min(dates), max(dates)
    lo, hi = lo - dt.timedelta(days=15), hi + dt.timedelta(days=15)
    span = (hi - lo).days

    def x(d: dt.date) -> float:
        return round(100 * (d - lo).days / span, 2)

    lanes = []
    for r in roles:
        if not r["first_date"]:
            continue
        label = r["title"] + (f"（{r['org']}）" if r["org"] else "")
        tip = f"{label}: {_date(r['first_date'])} – {_date(r['last_date'])}, {r['documents']} documents"
        width = max(x(r["last_date"]) - x(r["first_date"]), 0.0)
        lanes.append(f'<div class="lane"><div class="label" title="{escape(label)}">{escape(label)}</div>'
                     f'<div class="track"><div class="bar" style="left:{x(r["first_date"])}%;width:{width}%" '
                     f'title="{escape(tip)}"></div></div></div>')
    dots = "".join(f'<div class="dot" style="left:{x(v["date"])}%" '
                   f'title="{escape(v["place"])} {_date(v["date"])}"></div>' for v in visits if v["date"])
    if dots:
        lanes.append(f'<div class="lane"><div class="label">visits</div><div class="track">{dots}</div></div>')
    ticks = [dt.date(y, 1, 1) for y in range(lo.year + 1, hi.year + 1)]
    if len(ticks) > 12:  # long careers: every few years
        ticks = ticks[:: -(-len(ticks) // 12)]
    first, last = lo + dt.timedelta(days=15), hi - dt.timedelta(days=15)
    axis = "".join(f'<span class="tick" style="left:{x(t)}%">{t.year}</span>' for t in ticks
                   if 8 < x(t) < 80)  # not over the first and last dates
    axis = (f'<span class="tick" style="left:{x(first)}%">{_date(first)}</span>{axis}'
            + (f'<span class="tick end" style="left:{x(last)}%">{_date(last)}</span>' if last > first else ""))
    lanes.append(f'<div class="lane"><div class="label"></div><div class="track axis">{axis}</div></div>')
    return f'<div class="tl">\n{"".join(lanes)}\n</div>\n'


# ---------------------------------------------------------------- document pages

def _write_doc_pages(con, output: Path, files: Sequence[Path], docs: _Docs, text_field: str, id_field: str,
                     scan_sql) -> list[Path]:
    if not docs.spans:
        return []
    con.execute("CREATE TEMP TABLE cited (source VARCHAR, doc_id VARCHAR)")
    con.executemany("INSERT INTO cited VALUES (?, ?)", list(docs.spans))
    records = _rows(con, f"""
        SELECT id AS doc_id, coalesce(source, '') AS source, TRY_CAST(date AS DATE) AS date, entities, relations
        FROM {scan_sql(files)} WHERE (coalesce(source, ''), id) IN (SELECT (source, doc_id) FROM cited)""")
    texts = document_texts([(r["source"], r["doc_id"]) for r in records], text_field=text_field, id_field=id_field)
    written, done = [], set()
    for r in records:
        key = (r["source"], r["doc_id"])
        if key in done:  # the same document in two outputs
            continue
        done.add(key)
        html = _doc_page(r, texts.get(key), docs.spans[key])
        written.append(_write(output / doc_file(*key), html))
    return written


def _doc_page(record: dict, text: str | None, evidence: set[tuple[int, int]]) -> str:
    entities = sorted(record["entities"] or [], key=lambda e: (e["start"], -e["end"]))
    inside = [(s, e) for s, e in evidence]

    def is_evidence(ent: dict) -> bool:
        return any(s <= ent["start"] and ent["end"] <= e for s, e in inside)

    meta = (f'<p class="meta">{escape(record["source"])} · {_date(record["date"]) or "undated"} · '
            f'{len(entities)} entities</p>\n')
    if text is not None and all(0 <= e["start"] <= e["end"] <= len(text) for e in entities):
        body = meta + f'<div class="text">{_highlight(text, entities, sorted({s for s, _ in evidence}), is_evidence)}</div>'
    else:
        rows = [(str(e["start"]), str(e["end"]), escape(e["label"]), escape(e["text"]), escape(e.get("key") or ""))
                for e in entities]
        body = (meta + f'<p class="meta">The text is not available here (its source {escape(record["source"])} '
                "could not be read); the entities:</p>\n"
                + "".join(f'<a class="anchor" id="o{s}"></a>' for s in sorted({s for s, _ in evidence}))
                + _table(("start", "end", "label", "text", "key"), rows, numeric=(0, 1)))
    by_id = {e["id"]: e for e in entities}
    rels = "".join(f"<li>{escape(by_id[r['head']]['text'])} — <b>{escape(r['label'])}</b> → "
                   f"{escape(by_id[r['tail']]['text'])}</li>"
                   for r in record["relations"] or [] if r["head"] in by_id and r["tail"] in by_id)
    body += f"<h2>Relations</h2>\n<ul>{rels}</ul>\n" if rels else ""
    return _page(record["doc_id"], body, up="../")


def _highlight(text: str, entities: list[dict], anchors: list[int], is_evidence) -> str:
    """``text`` escaped, entities in <mark> (overlaps skipped), an anchor before each evidence start."""
    inserts: list[tuple[int, int, str]] = [(a, 1, f'<a class="anchor" id="o{a}"></a>') for a in anchors]
    end = -1
    for e in entities:
        if e["start"] < end or e["start"] == e["end"]:
            continue
        end = e["end"]
        cls = e["label"] + (" ev" if is_evidence(e) else "")
        title = f"{e['label']} {e.get('key') or ''}".strip()
        inserts.append((e["start"], 2, f'<mark class="{escape(cls)}" title="{escape(title)}">'))
        inserts.append((e["end"], 0, "</mark>"))
    inserts.sort(key=lambda t: (t[0], t[1]))
    out, pos = [], 0
    for at, _, tag in inserts:
        out.append(escape(text[pos:at]))
        out.append(tag)
        pos = max(pos, at)
    out.append(escape(text[pos:]))
    return "".join(out)


def document_texts(wanted: Iterable[tuple[str, str]], *, text_field: str = "text",
                   id_field: str = "id") -> dict[tuple[str, str], str]:
    """The texts of the ``(source, doc_id)`` documents, read again from where they came from; missing ones left out.

    Each archive and table file is read once, up to its last wanted document.
    """
    texts: dict[tuple[str, str], str] = {}
    members: dict[Path, dict[str, tuple[str, str]]] = defaultdict(dict)
    rows: dict[Path, dict[str, tuple[str, str]]] = defaultdict(dict)
    for source, doc_id in wanted:
        path = Path(source)
        try:
            if path.is_file() and file_kind(path.name) == "txt":
                texts[(source, doc_id)] = decode_bytes(path.read_bytes())[0]
            elif path.is_file() or (path.is_dir() and is_dataset_folder(path)):
                rows[path][doc_id] = (source, doc_id)
            else:
                container = next((p for p in path.parents if p.is_file()), None)
                if container is not None and file_kind(container.name) in ("zip", "tar"):
                    member = path.relative_to(container).as_posix()
                    if file_kind(member) == "txt":
                        members[container][member] = (source, doc_id)
        except (OSError, ValueError):
            continue
    for archive, want in members.items():
        try:
            texts.update(_archive_texts(archive, want))
        except (OSError, ValueError, zipfile.BadZipFile, tarfile.TarError):
            continue
    for table, want in rows.items():
        texts.update(_table_texts(table, want, text_field, id_field))
    return texts


def _archive_texts(archive: Path, want: dict[str, tuple[str, str]]) -> dict[tuple[str, str], str]:
    from .archive import _zip_member_name

    found = {}
    if file_kind(archive.name) == "zip":
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                name = _zip_member_name(info)
                if name in want:
                    found[want[name]] = decode_bytes(z.read(info))[0]
    else:
        with tarfile.open(archive, "r:*") as t:
            while (info := t.next()) is not None and len(found) < len(want):
                t.members.clear()
                name = info.name.removeprefix("./")
                if info.isfile() and name in want:
                    found[want[name]] = decode_bytes(t.extractfile(info).read())[0]
    return found


def _table_texts(table: Path, want: dict[str, tuple[str, str]], text_field: str,
                 id_field: str) -> dict[tuple[str, str], str]:
    """Rows of one table file: an id matches as written, or by its end (``sub/file.jsonl:3`` ~ ``file.jsonl:3``)."""
    found = {}
    by_tail: dict[str, list[str]] = defaultdict(list)  # "file.jsonl:3" -> ["sub/file.jsonl:3"]
    for w in want:
        if "/" in w:
            by_tail[w.rsplit("/", 1)[1]].append(w)
    try:
        reader = DocumentReader([table], text_field=text_field, id_field=id_field, on_problem=lambda p: None)
        for doc in reader:
            for doc_id in [doc.id] * (doc.id in want) + by_tail.get(doc.id, []):
                if want[doc_id] not in found:
                    found[want[doc_id]] = doc.text
            if len(found) == len(want):
                break
    except (OSError, ValueError):
        pass
    return found

