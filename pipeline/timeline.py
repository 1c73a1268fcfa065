"""Who held which post, when; which deals, for how much; who went where: ``zhie timeline``.

Reads the JSONL records of ``zhie annotate`` (any number of files) and writes
to a folder:

* ``roles.parquet`` / ``roles.csv``: one row per person, title and
  organisation or place, from every ``has_title`` relation: ``person_key``,
  ``person``, ``title_key``, ``title``, ``org_key``, ``org``, ``org_label``,
  ``first_date``, ``last_date`` (of the dated documents stating it),
  ``documents``, ``undated_documents``, ``mentions`` and ``evidence`` (up to 5:
  the 3 earliest and the 2 latest statements, each ``{date, doc_id, source,
  start, end}`` with ``[start, end)`` covering the person and the title in the
  original text). The organisation is the ORG or GPE written directly before
  the title (at most one character, a layout space, between them: 中原银行行长),
  else the one ORG the same person mention is ``member_of`` in the document
  (该公司总经理孟超 → 德通智能), else empty: never a guess across sentences.
* ``visits.parquet`` / ``visits.csv``: one row per person, place or body and
  document date, from ``visits`` relations: ``person_key``, ``person``,
  ``place_key``, ``place``, ``place_label``, ``date``, ``documents``, ``evidence``.
* ``events.parquet`` / ``events.csv``: one row per event of a document
  (``pipeline.events``): ``date`` (the document's), ``date_text`` (the date
  the sentence writes, as written), ``type``, ``trigger``, ``parties`` (``[{key,
  name, label, role}]``), ``amount_value``, ``currency``, ``approximate``,
  ``score``, ``doc_id``, ``source``, ``start``, ``end`` (the span from the first
  to the last of trigger, amount and parties).
* ``index.html``, ``people/*.html`` (a page per person: a timeline of posts and
  visits, sortable tables) and ``docs/*.html`` (the documents cited as
  evidence on those pages, entities highlighted, the evidence marked):
  :mod:`pipeline.timeline_page`.

In the CSV files lists are JSON (``evidence``) or ``;``-joined text
(``parties``); they are UTF-8 with a BOM, as Excel needs for Chinese.

Entities are grouped by their ``"key"`` (:mod:`pipeline.entity_keys`); records
written before keys existed are keyed by label and text without whitespace.
Dates are the records' ``"date"`` (:mod:`pipeline.dates`); an undated
document counts in ``documents`` but sets no first or last date.

**Engine: DuckDB.** ``read_json`` with a declared schema streams the JSONL
files (in parallel, without inferring a schema or building Python objects
per record), the entities and relations of a record are joined with list
lambdas inside the row (``list_filter(entities, e -> e.id = r.head)``), so no
archive-wide join of entity rows is needed, and the GROUP BYs, the sort of
the events and the Parquet / CSV writers run in DuckDB's own operators,
which spill to a temporary folder under ``memory_limit``. Memory is thus
bounded by that limit (default 1 GB) and not by the archive. Polars' lazy
``scan_ndjson`` would do the scan as well, but its streaming engine does not
cover every operation on lists of structs used here (element lookups inside
lists, top-N aggregation per group), so a large archive could fall back to
in-memory execution; DuckDB's out-of-core operators and ``min_by(x, k, n)``
keep the bound explicit. Three passes over the JSONL: relations, events,
document counts (and a fourth, filtered to the cited documents, for the HTML).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

ENTITY = 'STRUCT(id VARCHAR, "start" BIGINT, "end" BIGINT, label VARCHAR, "text" VARCHAR, "key" VARCHAR)'
SPAN = 'STRUCT("start" BIGINT, "end" BIGINT, "text" VARCHAR)'
RELATION = "STRUCT(head VARCHAR, tail VARCHAR, label VARCHAR, score DOUBLE)"
EVENT = (f'STRUCT(type VARCHAR, "trigger" {SPAN}, parties STRUCT(entity VARCHAR, role VARCHAR)[], '
         f"amount STRUCT(entity VARCHAR, value DOUBLE, currency VARCHAR, approximate BOOLEAN), date {SPAN}, "
         "score DOUBLE)")
COLUMNS = {"id": "VARCHAR", "source": "VARCHAR", "date": "VARCHAR", "entities": f"{ENTITY}[]",
           "relations": f"{RELATION}[]", "events": f"{EVENT}[]"}
MAX_RECORD_BYTES = 1 << 25  # 32 MiB: a record of a very long document holds many thousand entities (DuckDB buffers twice that per thread)

ROLE_COLUMNS = ("person_key", "person", "title_key", "title", "org_key", "org", "org_label", "first_date", "last_date",
                "documents", "undated_documents", "mentions", "evidence")
VISIT_COLUMNS = ("person_key", "person", "place_key", "place", "place_label", "date", "documents", "evidence")
EVENT_COLUMNS = ("date", "date_text", "type", "trigger", "parties", "amount_value", "currency", "approximate", "score",
                 "doc_id", "source", "start", "end")

# A mention's key; records from before keys existed get label:text without whitespace.
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO ekey(e) AS coalesce(e."key", e.label || ':' || regexp_replace(e."text", '\s+', '', 'g'));
CREATE OR REPLACE TEMP MACRO kname(k) AS substr(k, strpos(k, ':') + 1);
CREATE OR REPLACE TEMP MACRO ent(entities, eid) AS list_filter(entities, lambda e: e.id = eid)[1];
"""

# One row per has_title / visits relation whose entities have the right labels,
# with the organisation of a title (module docstring).
_FACTS = """
CREATE TEMP TABLE facts AS
WITH src AS (
    SELECT id AS doc_id, coalesce(source, '') AS source, TRY_CAST(date AS DATE) AS date, entities, relations
    FROM {scan} WHERE len(relations) > 0
), rels AS (
    SELECT doc_id, source, date, entities, relations, unnest(relations) AS r FROM src
), pairs AS (
    SELECT doc_id, source, date, entities, relations, r, ent(entities, r.head) AS h, ent(entities, r.tail) AS t
    FROM rels WHERE r.label IN ('has_title', 'visits')
), checked AS (
    SELECT * FROM pairs
    WHERE h.label = 'PERSON' AND ((r.label = 'has_title' AND t.label = 'TITLE')
                                  OR (r.label = 'visits' AND t.label IN ('GPE', 'ORG')))
), with_org AS (
    SELECT *,
        CASE WHEN r.label = 'has_title' THEN list_filter(entities, lambda e: e.label IN ('ORG', 'GPE')
                                                         AND e."end" <= t."start" AND t."start" - e."end" <= 1)[-1]
        END AS before,
        CASE WHEN r.label = 'has_title' THEN list_filter(
            list_transform(list_filter(relations, lambda m: m.label = 'member_of' AND m.head = r.head),
                           lambda m: ent(entities, m.tail)),
            lambda o: o.label = 'ORG')
        END AS member_of
    FROM checked
)
SELECT doc_id, source, date, r.label AS relation,
    ekey(h) AS person_key, h."start" AS h_start, h."end" AS h_end,
    ekey(t) AS target_key, t.label AS target_label, t."start" AS t_start, t."end" AS t_end,
    CASE WHEN before IS NOT NULL THEN before
         WHEN len(list_distinct(list_transform(member_of, lambda o: ekey(o)))) = 1 THEN member_of[1]
    END AS org
FROM with_org
"""

_EVIDENCE = """{'date': date, 'doc_id': doc_id, 'source': source,
                'start': least(h_start, t_start), 'end': greatest(h_end, t_end)}"""
# earliest first (undated last), and latest first (undated last) for max_by
_EARLY = "{'d': coalesce(date, DATE '9999-12-31'), 'i': doc_id, 's': least(h_start, t_start)}"
_LATE = "{'d': coalesce(date, DATE '0001-01-01'), 'i': doc_id, 's': least(h_start, t_start)}"

_ROLES = f"""
CREATE TEMP TABLE roles AS
SELECT person_key, kname(person_key) AS person, target_key AS title_key, kname(target_key) AS title,
    ekey(org) AS org_key, kname(ekey(org)) AS org, org.label AS org_label,
    min(date) AS first_date, max(date) AS last_date,
    count(DISTINCT (source, doc_id)) AS documents,
    count(DISTINCT (source, doc_id)) FILTER (WHERE date IS NULL) AS undated_documents,
    count(*) AS mentions,
    list_sort(list_distinct(list_concat(min_by({_EVIDENCE}, {_EARLY}, 3),
                                        max_by({_EVIDENCE}, {_LATE}, 2)))) AS evidence
FROM facts WHERE relation = 'has_title'
GROUP BY person_key, target_key, ekey(org), org.label
"""
ROLE_ORDER = "person_key, first_date NULLS LAST, title_key, org_key NULLS FIRST"

_VISITS = f"""
CREATE TEMP TABLE visits AS
SELECT person_key, kname(person_key) AS person, target_key AS place_key, kname(target_key) AS place,
    target_label AS place_label, date, count(DISTINCT (source, doc_id)) AS documents,
    list_sort(min_by({_EVIDENCE}, {_EARLY}, 5)) AS evidence
FROM facts WHERE relation = 'visits'
GROUP BY person_key, target_key, target_label, date
"""
VISIT_ORDER = "person_key, date NULLS LAST, place_key"

_EVENTS = """
COPY (
    WITH src AS (
        SELECT id AS doc_id, coalesce(source, '') AS source, TRY_CAST(date AS DATE) AS date, entities, events
        FROM {scan} WHERE len(events) > 0
    ), ev AS (
        SELECT doc_id, source, date, entities, unnest(events) AS ev FROM src
    ), resolved AS (
        SELECT doc_id, source, date, ev,
            list_transform(ev.parties, lambda p: {{'e': ent(entities, p.entity), 'role': p.role}}) AS ps,
            ent(entities, ev.amount.entity) AS money
        FROM ev
    ), spans AS (
        SELECT *, list_concat(list_transform(ps, lambda p: [p.e."start", p.e."end"]),
                              [[money."start", money."end"], [ev."trigger"."start", ev."trigger"."end"]]) AS sp
        FROM resolved
    )
    SELECT date, ev.date."text" AS date_text, ev.type AS type, ev."trigger"."text" AS "trigger",
        list_transform(list_filter(ps, lambda p: p.e IS NOT NULL),
                       lambda p: {{'key': ekey(p.e), 'name': kname(ekey(p.e)), 'label': p.e.label, 'role': p.role}})
            AS parties,
        ev.amount.value AS amount_value, ev.amount.currency AS currency, ev.amount.approximate AS approximate,
        ev.score AS score, doc_id, source,
        list_min(list_transform(sp, lambda s: s[1])) AS "start", list_max(list_transform(sp, lambda s: s[2])) AS "end"
    FROM spans
    ORDER BY date NULLS LAST, doc_id, source, "start"
) TO '{path}' (FORMAT parquet)
"""


@dataclass
class Timeline:
    """What ``build_timeline`` wrote, with counts."""

    output: Path
    files: list[Path]
    summary: dict


def input_files(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """The JSONL files named, folders expanded to their ``*.jsonl`` (not ``*.errors.jsonl``)."""
    files = []
    for p in map(Path, inputs):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.jsonl") if not f.name.endswith(".errors.jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"input {p} does not exist")
    if not files:
        raise ValueError("no JSONL files to read")
    return files


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def scan_sql(files: Sequence[Path], columns: dict[str, str] = COLUMNS) -> str:
    """``read_json`` over ``files`` with the declared schema (unknown keys ignored, missing ones NULL)."""
    names = ", ".join(_sql_string(str(f)) for f in files)
    cols = ", ".join(f"{_sql_string(k)}: {_sql_string(v)}" for k, v in columns.items())
    return (f"read_json([{names}], format = 'newline_delimited', columns = {{{cols}}}, "
            f"maximum_object_size = {MAX_RECORD_BYTES})")


def connect(output: Path, memory_limit: str = "1GB", threads: int | None = None):
    import duckdb

    tmp = output / ".duckdb_tmp"
    con = duckdb.connect(config={"memory_limit": memory_limit, "temp_directory": str(tmp),
                                 "preserve_insertion_order": False,
                                 **({"threads": threads} if threads else {})})
    con.execute(_MACROS)
    return con


def build_timeline(inputs: Iterable[str | os.PathLike], output: str | os.PathLike, *, html: bool = True,
                   memory_limit: str = "1GB", threads: int | None = None, max_people: int = 1000,
                   max_doc_pages: int = 2000, text_field: str = "text", id_field: str = "id") -> Timeline:
    """Write the tables (and with ``html`` the pages) for the records in ``inputs`` into the folder ``output``."""
    import duckdb

    started = time.perf_counter()
    files = input_files(inputs)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    con = connect(output, memory_limit, threads)
    scan = scan_sql(files)
    written: list[Path] = []
    try:
        con.execute(_FACTS.format(scan=scan))
        con.execute(_ROLES)
        con.execute(_VISITS)
        written += _write_table(con, "roles", output, ROLE_ORDER, json_columns=("evidence",))
        written += _write_table(con, "visits", output, VISIT_ORDER, json_columns=("evidence",))
        events = output / "events.parquet"
        con.execute(_EVENTS.format(scan=scan, path=str(events).replace("'", "''")))
        written += [events, _write_csv(con, f"SELECT * REPLACE ({_PARTIES_TEXT} AS parties) "
                                            f"FROM read_parquet({_sql_string(str(events))})", output / "events.csv")]
        docs, dated = con.execute(f"SELECT count(*), count(TRY_CAST(date AS DATE)) FROM "
                                  f"{scan_sql(files, {'id': 'VARCHAR', 'date': 'VARCHAR'})}").fetchone()
        summary = {
            "inputs": [str(f) for f in files], "documents": docs, "dated_documents": dated,
            "roles": _count(con, "roles"), "people_with_roles": _count(con, "roles", "DISTINCT person_key"),
            "visits": _count(con, "visits"),
            "events": con.execute(f"SELECT count(*) FROM read_parquet({_sql_string(str(events))})").fetchone()[0],
        }
        if html:
            from .timeline_page import write_site

            written += write_site(con, output, files, events, max_people=max_people, max_doc_pages=max_doc_pages,
                                  text_field=text_field, id_field=id_field, summary=summary)
    except duckdb.OutOfMemoryException as err:
        raise ValueError(f"{err}\n(raise --memory-limit, or lower --threads)") from err
    except (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException) as err:
        raise ValueError(f"cannot read the records: {err}") from err
    finally:
        con.close()
        shutil.rmtree(output / ".duckdb_tmp", ignore_errors=True)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    (output / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return Timeline(output, written + [output / "summary.json"], summary)


_PARTIES_TEXT = ("array_to_string(list_transform(parties, lambda p: p.name || ' (' || p.label || ', ' || p.role || ')'),"
                 " '; ')")


def _count(con, table: str, what: str = "*") -> int:
    return con.execute(f"SELECT count({what}) FROM {table}").fetchone()[0]


def _write_table(con, table: str, output: Path, order: str, json_columns: Sequence[str] = ()) -> list[Path]:
    parquet = output / f"{table}.parquet"
    con.execute(f"COPY (SELECT * FROM {table} ORDER BY {order}) TO {_sql_string(str(parquet))} (FORMAT parquet)")
    replace = ", ".join(f"to_json({c}) AS {c}" for c in json_columns)
    query = (f"SELECT * REPLACE ({replace}) FROM {table}" if replace else f"SELECT * FROM {table}") + f" ORDER BY {order}"
    return [parquet, _write_csv(con, query, output / f"{table}.csv")]


def _write_csv(con, query: str, path: Path) -> Path:
    """``query`` as CSV, UTF-8 with a BOM (Excel), written to a temporary file and renamed."""
    body = path.with_name(path.name + ".body")
    con.execute(f"COPY ({query}) TO {_sql_string(str(body))} (FORMAT csv, HEADER)")
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out, body.open("rb") as f:
        out.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(f, out, 1 << 20)
    body.unlink()
    os.replace(tmp, path)
    return path
