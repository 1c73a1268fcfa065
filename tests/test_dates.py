"""Document dates (pipeline/app/dates.py): a table of the forms accepted and refused."""

import datetime as dt

import pytest

from pipeline.app.dates import date_from_path, date_from_value, dateline_date, document_date

STANDING_COMMITTEE = (" 本 报 讯 （记 者 高 伟 山） 6 月 10\n日，市委常委会召开会议，传达学习\n"
                      "习近平总书记重要讲话和重要文章精\n神。\n\n会议强调，要认真学习贯彻习近\n"
                      "平总书记在 5 月 27 日中央政治局会议\n上的重要讲话。")
BODY_DATE_ONLY = "会议强调，要认真学习贯彻习近平总书记在5月27日中央政治局会议上的重要讲话，坚持党的全面领导。"

# (doc_id, source, text, field, expected date)
FORMS = [
    # the field wins, in any of its spellings
    ("a.jsonl:1", "a.jsonl", "正文。", "2025-10-31", "2025-10-31"),
    ("a.jsonl:2", "a.jsonl", "正文。", "2025/10/31", "2025-10-31"),
    ("a.jsonl:3", "a.jsonl", "正文。", "20251031", "2025-10-31"),
    ("a.jsonl:4", "a.jsonl", "正文。", "2025年10月31日", "2025-10-31"),
    ("a.jsonl:5", "a.jsonl", "正文。", "2025-10-31T08:30:00+08:00", "2025-10-31"),
    ("a.jsonl:6", "a.jsonl", "正文。", dt.date(2025, 10, 31), "2025-10-31"),
    ("a.jsonl:7", "a.jsonl", "正文。", dt.datetime(2025, 10, 31, 23, 59), "2025-10-31"),
    ("a.jsonl:8", "a.jsonl", "正文。", 20251031, "2025-10-31"),
    ("2024/01/01/x.txt", "s", "正文。", "2025-10-31", "2025-10-31"),  # field before path
    # paths
    ("2025/10/31/a.txt", "s", "正文。", None, "2025-10-31"),
    ("news.zip/2025/10/31/a.txt", "s", "正文。", None, "2025-10-31"),
    ("20251031.txt", "s", "正文。", None, "2025-10-31"),
    ("web/20251031-001.txt", "s", "正文。", None, "2025-10-31"),
    ("2025-10-31/a.txt", "s", "正文。", None, "2025-10-31"),
    ("2025-10/31.txt", "s", "正文。", None, "2025-10-31"),
    ("2025_10_31_a.txt", "s", "正文。", None, "2025-10-31"),
    ("1998/0110/a.txt", "s", "正文。", None, "1998-01-10"),
    ("a.txt", "/data/2025/10/31/a.txt", "正文。", None, "2025-10-31"),  # the source's path
    ("daily-2025-10-31.jsonl:4", "daily-2025-10-31.jsonl", "正文。", None, "2025-10-31"),
    # dateline, year from the path or the field
    ("2026/a.txt", "s", STANDING_COMMITTEE, None, "2026-06-10"),
    ("a.jsonl:1", "a.jsonl", STANDING_COMMITTEE, "2026", "2026-06-10"),
    ("2026年/a.txt", "s", "新华社北京6月11日电 国务院总理主持召开国务院常务会议，研究部署有关工作。", None, "2026-06-11"),
    ("2026-06/a.txt", "s", "本报北京6月10日讯（记者王刚）国务院新闻办公室今天举行新闻发布会，介绍有关情况。", None,
     "2026-06-10"),
    ("2026/a.txt", "s", "本报讯 记者 高伟山 6 月 10 日，市委常委会召开会议，传达学习重要讲话精神，研究有关工作。", None,
     "2026-06-10"),
    ("2026/a.txt", "s", "6月10日，市委常委会召开会议，传达学习重要讲话精神，研究有关工作。", None, "2026-06-10"),
    # dateline with its own year
    ("a.txt", "s", "干部要想干会干能干\n\n2026年6月11日 星期四\n\n本报讯 市委常委会召开会议，传达学习重要讲话精神，研究工作。",
     None, "2026-06-11"),
    ("a.txt", "s", "新华社北京2026年6月11日电 国务院总理主持召开国务院常务会议，研究部署有关工作。", None, "2026-06-11"),
    ("a.txt", "s", "１９９８年１月１０日，国务院召开会议，研究部署有关工作，会议由国务院总理主持。", None, "1998-01-10"),
    ("a.txt", "s", "一九九八年一月十日，国务院召开会议，研究部署有关工作，会议由国务院总理主持。", None, "1998-01-10"),
    ("a.txt", "s", "本报讯（记者张三）二〇二六年六月二十一日，市委常委会召开会议，研究有关工作，部署任务。", None,
     "2026-06-21"),
    ("a.txt", "s", "来源：许昌日报\n发布时间：2026-06-11 08:30\n\n市委常委会召开会议，传达学习重要讲话精神，研究有关工作。",
     None, "2026-06-11"),
    # refused: never a guess
    ("a.txt", "s", STANDING_COMMITTEE, None, None),  # month-day, no year anywhere
    ("2026/a.txt", "s", BODY_DATE_ONLY, None, None),  # a date inside a body sentence is no dateline
    ("2026/a.txt", "s", "本报讯（记者高伟山）2月30日，市委常委会召开会议，研究有关工作，部署下一步任务。", None, None),
    ("2026/a.txt", "s", "本报讯（记者高伟山）13月1日，市委常委会召开会议，研究有关工作，部署下一步任务。", None, None),
    ("a.txt", "s", "2025年2月29日，市委常委会召开会议，研究有关工作，部署下一步任务，会议由市委书记主持。", None, None),
    ("20251399.txt", "s", "正文。", None, None),  # not a date
    ("12345678.txt", "s", "正文。", None, None),  # year 1234 is out of range
    ("tel-13812345678.txt", "s", "正文。", None, None),  # an 11-digit number holds no date
    ("2025/10/31/20240101.txt", "s", "正文。", None, None),  # two different dates in one path
    ("a.jsonl:1", "a.jsonl", "正文。", "not a date", None),
    ("a.jsonl:1", "a.jsonl", "正文。", "2025-13-01", None),
    ("a.jsonl:1", "a.jsonl", "正文。", "", None),
    ("a.txt", "s", "", None, None),  # empty document
    ("a.txt", "s", "市委常委会召开会议。会议在1998年1月10日举行，研究有关工作，部署下一步任务。", None, None),
]


@pytest.mark.parametrize("doc_id, source, text, field, expected", FORMS)
def test_document_date_forms(doc_id, source, text, field, expected):
    assert document_date(doc_id, source, text, field) == expected


def test_table_has_twenty_forms_and_negatives():
    assert len(FORMS) >= 20 and sum(1 for *_, e in FORMS if e is None) >= 10


def test_value_and_path_give_the_year_alone_for_a_dateline():
    assert date_from_value("2026") == (None, 2026)
    assert date_from_value("2026-06") == (None, 2026)
    assert date_from_value(None) == (None, None)
    assert date_from_path("archive/2026/a.txt") == (None, 2026)
    assert date_from_path("archive/2026-06/a.txt") == (None, 2026)
    assert date_from_path("archive/a-2026.txt") == (None, None)  # a year inside a name is not a folder of the year
    assert date_from_path("2026/a/2027/b.txt") == (None, None)  # two years: none
    assert date_from_path("2025/10/31/20251031-a.txt") == ("2025-10-31", 2025)  # the same date twice


def test_dateline_looks_only_at_the_first_lines():
    long_first = "市委常委会召开会议，传达学习重要讲话精神，研究居民住宅区消防安全等工作，会议强调要在6月10日前完成。"
    assert dateline_date(long_first, 2026) is None
    assert dateline_date("标题\n\n副标题\n\n6月10日，" + long_first, 2026) == "2026-06-10"
    assert dateline_date(STANDING_COMMITTEE, 2026) == "2026-06-10"


# ---------------------------------------------------------------- through zhie annotate

def test_annotate_dates_rows_paths_and_datelines(tmp_path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    import spacy

    from pipeline.app.annotate import LocalEngine, Outputs, annotate_files
    from pipeline.app.archive import DocumentReader

    nlp = spacy.blank("zh")
    inputs = tmp_path / "in"
    (inputs / "2024" / "05").mkdir(parents=True)
    (inputs / "2024" / "05" / "07.txt").write_text("市长刘涛出席。", encoding="utf-8")
    (inputs / "2026").mkdir()
    (inputs / "2026" / "a.txt").write_text(STANDING_COMMITTEE, encoding="utf-8")
    (inputs / "rows.jsonl").write_text(
        json.dumps({"id": "r1", "text": "正文。", "published": "2025-10-31"}) + "\n"
        + json.dumps({"id": "r2", "text": STANDING_COMMITTEE, "published": "2023"}) + "\n"
        + json.dumps({"id": "r3", "text": "正文。"}) + "\n", encoding="utf-8")
    (inputs / "rows.csv").write_text("id,text,published\nc1,正文。,2025/01/02\nc2,正文。,\n", encoding="utf-8")
    pq.write_table(pa.table({"id": ["p1"], "text": ["正文。"], "published": [dt.date(2022, 2, 2)]}),
                   inputs / "rows.parquet")
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([inputs], date_field="published"), LocalEngine(nlp), Outputs(out), progress=False)
    dates = {r["id"]: r["date"] for r in map(json.loads, out.open(encoding="utf-8"))}
    assert dates == {"2024/05/07.txt": "2024-05-07", "2026/a.txt": "2026-06-10", "r1": "2025-10-31",
                     "r2": "2023-06-10", "r3": None, "c1": "2025-01-02", "c2": None, "p1": "2022-02-02"}
    # without --date-field the rows have no date (no date in their path, no dateline)
    annotate_files(DocumentReader([inputs / "rows.jsonl"]), LocalEngine(nlp), Outputs(out), progress=False)
    assert [r["date"] for r in map(json.loads, out.open(encoding="utf-8"))] == [None, None, None]
