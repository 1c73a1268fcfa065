"""`zhie timeline`: roles, visits and events of a small dated archive, checked row by row.

The records are made by the annotation's own record builder (``_record``:
dates, keys and events as ``zhie annotate`` writes them) from hand-placed
entities and relations, so no model runs; the last test runs the shipped
model end to end over a few dated texts.
"""

import csv
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

import pipeline
from pipeline.app.annotate import LocalEngine, Outputs, _record, annotate_files
from pipeline.app.archive import DocumentReader
from pipeline.app.cli import app
from pipeline.components.layout import clean
from pipeline.app.timeline import build_timeline
from pipeline.app.timeline_sql import EVENT_COLUMNS, ROLE_COLUMNS, VISIT_COLUMNS
from pipeline.app.timeline_page import doc_file, document_texts, person_file

D = dt.date


def record(doc_id: str, text: str, mentions: list[tuple[str, str]], relations: list[tuple[int, int, str]] = (),
           source: str | None = None, date=None) -> dict:
    """A record as annotate writes it: ``mentions`` (surface as written, label) found in order in ``text``."""
    cleaned = clean(text)
    spans, pos = [], 0
    for surface, label in mentions:
        start = cleaned.text.index(clean(surface).text, pos)
        end = start + len(clean(surface).text)
        spans.append((start, end, label))
        pos = end
    rels = [(spans[h][:2], spans[t][:2], label, 0.9) for h, t, label in relations]
    return _record(doc_id, source or f"/archive/{doc_id}", cleaned, spans, rels, date)


# One person (刘涛) moves from 市委副书记 / 市长 to 市委书记; 张三 is 行长 of two banks; 孟超's company comes
# from member_of; one document is undated; one is dated by its dateline with the year of its folder.
DOCS = [
    record("2024/03/15/a.txt", "市委副书记、市长刘涛出席会议。中原银行行长张三出席。",
           [("市委副书记", "TITLE"), ("市长", "TITLE"), ("刘涛", "PERSON"), ("中原银行", "ORG"), ("行长", "TITLE"),
            ("张三", "PERSON")],
           [(2, 0, "has_title"), (2, 1, "has_title"), (5, 4, "has_title")]),
    record("2024/09/02/b.txt", "市长刘 涛到建安区调研。",
           [("市长", "TITLE"), ("刘 涛", "PERSON"), ("建安区", "GPE")], [(1, 0, "has_title"), (1, 2, "visits")]),
    record("2025/01/20/c.txt", "德通智能召开会议，市委书记刘涛出席，该公司总经理孟超介绍情况。",
           [("德通智能", "ORG"), ("市委书记", "TITLE"), ("刘涛", "PERSON"), ("总经理", "TITLE"), ("孟超", "PERSON")],
           [(2, 1, "has_title"), (4, 3, "has_title"), (4, 0, "member_of")]),
    record("misc/undated.txt", "市委书记刘涛会见客商。", [("市委书记", "TITLE"), ("刘涛", "PERSON")], [(1, 0, "has_title")]),
    record("2025/06/10/e.txt", "许昌恒生制药有限公司与郑州银行股份有限公司达成预授信1000万元。郑 州银行行长张三出席。",
           [("许昌恒生制药有限公司", "ORG"), ("郑州银行股份有限公司", "ORG"), ("1000万元", "MONEY"), ("郑 州银行", "ORG"),
            ("行长", "TITLE"), ("张三", "PERSON")],
           [(0, 1, "agreement_with"), (0, 2, "amount"), (1, 2, "amount"), (5, 4, "has_title")]),
    record("2025/f.txt", "本报讯 11 月 3\n日，市委书记刘涛到许昌市调研，王堃一行陪同。",
           [("市委书记", "TITLE"), ("刘涛", "PERSON"), ("许昌市", "GPE"), ("王堃一行", "PERSON")],
           [(1, 0, "has_title"), (1, 2, "visits"), (3, 2, "visits")]),
]
TEXTS = {
    "2024/03/15/a.txt": "市委副书记、市长刘涛出席会议。中原银行行长张三出席。",
    "2025/f.txt": "本报讯 11 月 3\n日，市委书记刘涛到许昌市调研，王堃一行陪同。",
}


def ev(doc_id: str, date, start: int, end: int) -> dict:
    return {"date": date, "doc_id": doc_id, "source": f"/archive/{doc_id}", "start": start, "end": end}


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def table(path: Path) -> list[dict]:
    cur = duckdb.execute(f"SELECT * FROM read_parquet('{path}')")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("timeline")
    write_jsonl(tmp / "a.jsonl", DOCS[:3])
    write_jsonl(tmp / "b.jsonl", DOCS[3:])
    (tmp / "a.jsonl.errors.jsonl").write_text('{"id": "x", "source": "s", "error": "e", "kind": "failed"}\n')
    build_timeline([tmp], tmp / "site", max_people=10, threads=1)
    return tmp / "site"


def test_records_carry_dates_and_keys():
    assert [r["date"] for r in DOCS] == ["2024-03-15", "2024-09-02", "2025-01-20", None, "2025-06-10", "2025-11-03"]
    assert [e["key"] for e in DOCS[1]["entities"]] == ["TITLE:市长", "PERSON:刘涛", "GPE:建安区"]
    assert DOCS[1]["entities"][1]["text"] == "刘 涛"
    keys = [e["key"] for e in DOCS[4]["entities"]]
    assert keys == ["ORG:许昌恒生制药", "ORG:郑州银行", "MONEY:1000万元", "ORG:郑州银行", "TITLE:行长", "PERSON:张三"]
    assert DOCS[5]["entities"][3]["key"] == "PERSON:王堃"


def test_roles_rows_dates_and_keys(site):
    rows = table(site / "roles.parquet")
    assert [r for r in rows[0]] == list(ROLE_COLUMNS)
    got = [(r["person_key"], r["title"], r["org_key"], r["first_date"], r["last_date"], r["documents"],
            r["undated_documents"]) for r in rows]
    assert got == [
        ("PERSON:刘涛", "市委副书记", None, D(2024, 3, 15), D(2024, 3, 15), 1, 0),
        ("PERSON:刘涛", "市长", None, D(2024, 3, 15), D(2024, 9, 2), 2, 0),
        ("PERSON:刘涛", "市委书记", None, D(2025, 1, 20), D(2025, 11, 3), 3, 1),
        ("PERSON:孟超", "总经理", "ORG:德通智能", D(2025, 1, 20), D(2025, 1, 20), 1, 0),  # member_of
        ("PERSON:张三", "行长", "ORG:中原银行", D(2024, 3, 15), D(2024, 3, 15), 1, 0),  # the ORG before the title
        ("PERSON:张三", "行长", "ORG:郑州银行", D(2025, 6, 10), D(2025, 6, 10), 1, 0),  # 郑 州银行 -> 郑州银行
    ]
    secretary = rows[2]
    assert secretary["person"] == "刘涛" and secretary["title_key"] == "TITLE:市委书记" and secretary["mentions"] == 3
    assert secretary["evidence"] == [ev("2025/01/20/c.txt", D(2025, 1, 20), 9, 15), ev("2025/f.txt", D(2025, 11, 3), 13, 19),
                                     ev("misc/undated.txt", None, 0, 6)]
    mayor = rows[1]
    assert mayor["evidence"] == [ev("2024/03/15/a.txt", D(2024, 3, 15), 6, 10), ev("2024/09/02/b.txt", D(2024, 9, 2), 0, 5)]
    assert TEXTS["2024/03/15/a.txt"][6:10] == "市长刘涛"
    assert rows[4]["org"] == "中原银行" and rows[4]["org_label"] == "ORG"


def test_evidence_cites_the_earliest_and_the_latest_of_many(tmp_path):
    docs = [record(f"{2000 + y}/01/01/d.txt", "市长刘涛出席。", [("市长", "TITLE"), ("刘涛", "PERSON")], [(1, 0, "has_title")])
            for y in range(10)]
    build_timeline([write_jsonl(tmp_path / "o.jsonl", docs)], tmp_path / "site", html=False)
    (row,) = table(tmp_path / "site" / "roles.parquet")
    assert row["documents"] == 10 and (row["first_date"], row["last_date"]) == (D(2000, 1, 1), D(2009, 1, 1))
    assert [e["date"].year for e in row["evidence"]] == [2000, 2001, 2002, 2008, 2009]


def test_visits_rows(site):
    rows = table(site / "visits.parquet")
    assert [r for r in rows[0]] == list(VISIT_COLUMNS)
    assert [(r["person_key"], r["place_key"], r["place_label"], r["date"], r["documents"]) for r in rows] == [
        ("PERSON:刘涛", "GPE:建安区", "GPE", D(2024, 9, 2), 1),
        ("PERSON:刘涛", "GPE:许昌市", "GPE", D(2025, 11, 3), 1),
        ("PERSON:王堃", "GPE:许昌市", "GPE", D(2025, 11, 3), 1),  # 王堃一行
    ]
    assert rows[0]["evidence"] == [ev("2024/09/02/b.txt", D(2024, 9, 2), 2, 9)]


def test_events_rows(site):
    rows = table(site / "events.parquet")
    assert [r for r in rows[0]] == list(EVENT_COLUMNS)
    (e,) = rows
    assert (e["date"], e["type"], e["trigger"], e["amount_value"], e["currency"], e["approximate"]) == \
        (D(2025, 6, 10), "预授信", "预授信", 10_000_000, "CNY", False)
    assert e["parties"] == [{"key": "ORG:许昌恒生制药", "name": "许昌恒生制药", "label": "ORG", "role": "receiver"},
                            {"key": "ORG:郑州银行", "name": "郑州银行", "label": "ORG", "role": "grantor"}]
    assert (e["doc_id"], e["start"], e["end"]) == ("2025/06/10/e.txt", 0, 32)


def test_csv_tables_open_in_excel_and_match_the_parquet(site):
    raw = (site / "roles.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(ROLE_COLUMNS) and len(lines) == 7
    assert lines[3].startswith("PERSON:刘涛,刘涛,TITLE:市委书记,市委书记,,,,2025-01-20,2025-11-03,3,1,3,")
    evidence = json.loads(next(csv.reader([lines[3]]))[-1])
    assert evidence[0] == {"date": "2025-01-20", "doc_id": "2025/01/20/c.txt", "source": "/archive/2025/01/20/c.txt",
                           "start": 9, "end": 15}
    events = (site / "events.csv").read_text(encoding="utf-8-sig").splitlines()
    assert "许昌恒生制药 (ORG, receiver); 郑州银行 (ORG, grantor)" in events[1]
    summary = json.loads((site / "summary.json").read_text())
    assert (summary["documents"], summary["dated_documents"], summary["roles"], summary["visits"],
            summary["events"]) == (6, 5, 6, 3, 1)


def test_pages_link_people_and_evidence(site):
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "6 documents (5 dated)" in index and 'class="sortable"' in index and "http" not in index
    page = site / person_file("PERSON:刘涛")
    html = page.read_text(encoding="utf-8")
    assert f'href="{person_file("PERSON:刘涛")}"' in index
    assert html.count('class="bar"') == 3 and html.count('class="dot"') == 2  # three posts, two visit dates
    assert f'../{doc_file("/archive/2025/01/20/c.txt", "2025/01/20/c.txt")}#o9' in html
    assert "<script src" not in html and "<link" not in html  # nothing fetched
    # cited documents have a page (their text is gone: the entity list instead); an uncited one has none
    cited = site / doc_file("/archive/2025/01/20/c.txt", "2025/01/20/c.txt")
    assert 'id="o9"' in cited.read_text(encoding="utf-8")
    assert len(list((site / "docs").glob("*.html"))) == 6


def test_document_pages_highlight_the_text_when_it_can_be_read(tmp_path):
    folder = tmp_path / "news" / "2025"
    folder.mkdir(parents=True)
    text = TEXTS["2025/f.txt"]
    (folder / "f.txt").write_text(text, encoding="utf-8")
    rec = record("2025/f.txt", text, [("市委书记", "TITLE"), ("刘涛", "PERSON")], [(1, 0, "has_title")],
                 source=str(folder / "f.txt"))
    build_timeline([write_jsonl(tmp_path / "o.jsonl", [rec])], tmp_path / "site")
    html = (tmp_path / "site" / doc_file(str(folder / "f.txt"), "2025/f.txt")).read_text(encoding="utf-8")
    assert '<a class="anchor" id="o13"></a><mark class="TITLE ev" title="TITLE TITLE:市委书记">市委书记</mark>' in html
    assert "本报讯 11 月 3\n日，" in html  # the text as written


def test_document_texts_from_archives_and_rows(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("news/2025/a.txt", "甲文。".encode("gb18030"))
        z.writestr("news/2025/b.txt", "乙文。")
    (tmp_path / "n.zip").write_bytes(buf.getvalue())
    (tmp_path / "rows.jsonl").write_text('{"text": "丙文。"}\n{"text": "丁文。", "id": "d4"}\n', encoding="utf-8")
    (tmp_path / "t.txt").write_text("戊文。", encoding="utf-8")
    zsrc = str(tmp_path / "n.zip" / "news/2025/b.txt")
    wanted = [(zsrc, "n.zip/news/2025/b.txt"), (str(tmp_path / "rows.jsonl"), "sub/rows.jsonl:1"),
              (str(tmp_path / "rows.jsonl"), "d4"), (str(tmp_path / "t.txt"), "t.txt"),
              (str(tmp_path / "gone.txt"), "gone.txt")]
    assert document_texts(wanted) == {wanted[0]: "乙文。", wanted[1]: "丙文。", wanted[2]: "丁文。", wanted[3]: "戊文。"}


def test_cli(tmp_path):
    out = write_jsonl(tmp_path / "o.jsonl", DOCS)
    result = CliRunner().invoke(app, ["timeline", str(out), "--output", str(tmp_path / "site"), "--no-html"])
    assert result.exit_code == 0, result.output
    assert "6 documents (5 dated): 6 roles of 3 people, 3 visits, 1 events" in result.output
    assert not (tmp_path / "site" / "index.html").exists() and not (tmp_path / "site" / ".duckdb_tmp").exists()
    (tmp_path / "bad.jsonl").write_text('{"id": "x", "entities": [}\n')
    result = CliRunner().invoke(app, ["timeline", str(tmp_path / "bad.jsonl"), "--output", str(tmp_path / "s2")])
    assert result.exit_code == 1 and "cannot read the records" in result.output
    result = CliRunner().invoke(app, ["timeline", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "s3")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_records_without_keys_or_dates_still_count(tmp_path):
    """Outputs written before dates and keys existed: keyed by label and text without whitespace."""
    old = {k: v for k, v in DOCS[1].items() if k != "date"}
    old["entities"] = [{k: v for k, v in e.items() if k != "key"} for e in old["entities"]]
    build_timeline([write_jsonl(tmp_path / "o.jsonl", [old])], tmp_path / "site", html=False)
    (row,) = table(tmp_path / "site" / "roles.parquet")
    assert (row["person_key"], row["title"], row["first_date"], row["documents"], row["undated_documents"]) == \
        ("PERSON:刘涛", "市长", None, 1, 1)


# ---------------------------------------------------------------- the browser

def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_person_page_in_a_browser_sorts_its_tables(site, tmp_path):
    page = site / person_file("PERSON:刘涛")
    clicked = page.with_name("clicked.html")  # the page, with a click on "last date" twice (descending)
    clicked.write_text(page.read_text(encoding="utf-8").replace(
        "</body>", '<script>const h = document.querySelectorAll("th")[3]; h.click(); h.click();</script></body>'),
        encoding="utf-8")
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", clicked.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    clicked.unlink()
    posts = dom.split("<h2>Posts</h2>")[1].split("</table>")[0]
    assert re.findall(r"<tr><td>([^<]+)</td>", posts) == ["市委书记", "市长", "市委副书记"]
    assert 'data-dir="desc"' in posts
    assert dom.count('class="bar"') == 3


# ---------------------------------------------------------------- the shipped model

DATED_NEWS = {
    "2024/03/15/changwei.txt": "本报讯（记者李明）3月15日，市委常委会召开会议。市委书记史根治主持会议并讲话。\n"
                               "市委副书记、市长刘涛，市委常委马正兰出席会议。",
    "2024/09/02/diaoyan.txt": "本报讯 9 月 2 日，市长刘涛到建安区调研企业发展情况，市委常委马正兰陪同。\n"
                              "刘涛一行先后走访了许昌恒生制药有限公司等企业。",
    "2025/01/20/huiyi.txt": "本报讯（记者高伟山）1月20日，市委书记刘涛主持召开市委常委会会议。\n市委副书记、市长王 堃出席会议。",
    "2025/dateline.txt": "本报讯（记者高伟山）6 月 10\n日，市委常委会召开会议。市委书记刘涛主持并讲话。",
    "misc/20250610-qianyue.txt": "许昌恒生制药有限公司与郑州银行股份有限公司达成预授信1000万元。郑州银行行长张三出席签约仪式。",
    "misc/undated.txt": "市委书记刘涛会见了客商代表。",
}

MODEL = pipeline.model_path()


@pytest.mark.skipif(not (MODEL / "config.cfg").exists(), reason="no shipped model")
def test_every_has_title_of_the_shipped_model_is_in_roles(tmp_path):
    """The issue's target, on records of the shipped model over dated texts in a dated folder tree."""
    root = tmp_path / "news"
    for name, text in DATED_NEWS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([root]), LocalEngine(pipeline.load()), Outputs(out), progress=False)
    records = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert {r["id"]: r["date"] for r in records} == {
        "2024/03/15/changwei.txt": "2024-03-15", "2024/09/02/diaoyan.txt": "2024-09-02",
        "2025/01/20/huiyi.txt": "2025-01-20", "2025/dateline.txt": "2025-06-10",
        "misc/20250610-qianyue.txt": "2025-06-10", "misc/undated.txt": None}
    build_timeline([out], tmp_path / "site", html=False)
    roles = table(tmp_path / "site" / "roles.parquet")
    stated: dict[tuple[str, str], set] = {}
    for r in records:
        ents = {e["id"]: e for e in r["entities"]}
        for rel in r["relations"]:
            if rel["label"] == "has_title":
                person, title = ents[rel["head"]], ents[rel["tail"]]
                assert person["key"].startswith("PERSON:") and title["key"].startswith("TITLE:")
                stated.setdefault((person["key"], title["key"]), set()).add(r["date"])
    assert len(stated) >= 8, stated  # the model finds the posts of these texts
    for (person, title), dates in stated.items():
        rows = [x for x in roles if (x["person_key"], x["title_key"]) == (person, title)]
        assert rows, (person, title)
        dated = sorted(D.fromisoformat(d) for d in dates if d)
        firsts = [x["first_date"] for x in rows if x["first_date"]]
        lasts = [x["last_date"] for x in rows if x["last_date"]]
        assert (min(firsts, default=None), max(lasts, default=None)) == \
            ((dated[0], dated[-1]) if dated else (None, None)), (person, title)
    # one person, two posts in time: 刘涛 was 市长 before he was 市委书记
    mayor = [x for x in roles if (x["person_key"], x["title_key"]) == ("PERSON:刘涛", "TITLE:市长")]
    secretary = [x for x in roles if (x["person_key"], x["title_key"]) == ("PERSON:刘涛", "TITLE:市委书记")]
    assert mayor and secretary and max(x["last_date"] for x in mayor) < min(x["first_date"] for x in secretary)
