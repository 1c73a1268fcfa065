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
  (``pipeline.components.events``): ``date`` (the document's), ``date_text`` (the date
  the sentence writes, as written), ``type``, ``trigger``, ``parties`` (``[{key,
  name, label, role}]``), ``amount_value``, ``currency``, ``approximate``,
  ``score``, ``doc_id``, ``source``, ``start``, ``end`` (the span from the first
  to the last of trigger, amount and parties).
* ``index.html``, ``people/*.html`` (a page per person: a timeline of posts and
  visits, sortable tables) and ``docs/*.html`` (the documents cited as
  evidence on those pages, entities highlighted, the evidence marked):
  :mod:`pipeline.app.timeline_page`.

In the CSV files lists are JSON (``evidence``) or ``;``-joined text
(``parties``); they are UTF-8 with a BOM, as Excel needs for Chinese.

Entities are grouped by their ``"key"`` (:mod:`pipeline.app.entity_keys`); records
written before keys existed are keyed by label and text without whitespace.
Dates are the records' ``"date"`` (:mod:`pipeline.app.dates`); an undated
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

from .timeline_sql import EVENTS_SQL, FACTS_SQL, ROLE_ORDER, ROLES_SQL, VISIT_ORDER, VISITS_SQL, connect, scan_sql, sql_string


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
        con.execute(FACTS_SQL.format(scan=scan))
        con.execute(ROLES_SQL)
        con.execute(VISITS_SQL)
        written += _write_table(con, "roles", output, ROLE_ORDER, json_columns=("evidence",))
        written += _write_table(con, "visits", output, VISIT_ORDER, json_columns=("evidence",))
        events = output / "events.parquet"
        con.execute(EVENTS_SQL.format(scan=scan, path=str(events).replace("'", "''")))
        written += [events, _write_csv(con, f"SELECT * REPLACE ({_PARTIES_TEXT} AS parties) "
                                            f"FROM read_parquet({sql_string(str(events))})", output / "events.csv")]
        docs, dated = con.execute(f"SELECT count(*), count(TRY_CAST(date AS DATE)) FROM "
                                  f"{scan_sql(files, {'id': 'VARCHAR', 'date': 'VARCHAR'})}").fetchone()
        summary = {
            "inputs": [str(f) for f in files], "documents": docs, "dated_documents": dated,
            "roles": _count(con, "roles"), "people_with_roles": _count(con, "roles", "DISTINCT person_key"),
            "visits": _count(con, "visits"),
            "events": con.execute(f"SELECT count(*) FROM read_parquet({sql_string(str(events))})").fetchone()[0],
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
    con.execute(f"COPY (SELECT * FROM {table} ORDER BY {order}) TO {sql_string(str(parquet))} (FORMAT parquet)")
    replace = ", ".join(f"to_json({c}) AS {c}" for c in json_columns)
    query = (f"SELECT * REPLACE ({replace}) FROM {table}" if replace else f"SELECT * FROM {table}") + f" ORDER BY {order}"
    return [parquet, _write_csv(con, query, output / f"{table}.csv")]


def _write_csv(con, query: str, path: Path) -> Path:
    """``query`` as CSV, UTF-8 with a BOM (Excel), written to a temporary file and renamed."""
    body = path.with_name(path.name + ".body")
    con.execute(f"COPY ({query}) TO {sql_string(str(body))} (FORMAT csv, HEADER)")
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out, body.open("rb") as f:
        out.write(b"\xef\xbb\xbf")
        shutil.copyfileobj(f, out, 1 << 20)
    body.unlink()
    os.replace(tmp, path)
    return path
