"""The SQL of ``zhie timeline``: the JSONL schema DuckDB reads, the facts,
roles, visits and events tables, and the connection (shared by
:mod:`pipeline.app.timeline`, which writes the tables, and
:mod:`pipeline.app.timeline_page`, which writes the pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

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
FACTS_SQL = """
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

ROLES_SQL = f"""
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

VISITS_SQL = f"""
CREATE TEMP TABLE visits AS
SELECT person_key, kname(person_key) AS person, target_key AS place_key, kname(target_key) AS place,
    target_label AS place_label, date, count(DISTINCT (source, doc_id)) AS documents,
    list_sort(min_by({_EVIDENCE}, {_EARLY}, 5)) AS evidence
FROM facts WHERE relation = 'visits'
GROUP BY person_key, target_key, target_label, date
"""
VISIT_ORDER = "person_key, date NULLS LAST, place_key"

EVENTS_SQL = """
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


def sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def scan_sql(files: Sequence[Path], columns: dict[str, str] = COLUMNS) -> str:
    """``read_json`` over ``files`` with the declared schema (unknown keys ignored, missing ones NULL)."""
    names = ", ".join(sql_string(str(f)) for f in files)
    cols = ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in columns.items())
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
