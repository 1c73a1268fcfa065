"""`zhie annotate` end to end on a generated archive of every input kind.

The model is a rule-based pipeline saved to a temporary folder (blank zh +
entity_ruler), so these tests exercise reading, decoding, offsets, output
formats, resumption and the Ray engine without the transformer.
"""

import csv
import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from spacy.language import Language
from typer.testing import CliRunner

from rule_pipeline import rule_nlp as rules
from pipeline.app.annotate import LocalEngine, Outputs, annotate_files
from pipeline.app.archive import (DocumentReader, InputError, UndecodableError, decode_bytes, detect_encoding,
                              errors_path, summary_path, table_path)
from pipeline.app.cli import app

PATTERNS = {"TITLE": ["市委书记"], "PERSON": ["史根治", "王堃"], "MONEY": ["3000万元"], "ORG": ["国务院"]}
TEXT_A = "面对形势，市\n委书记史根治指出。"
TEXT_B = "市 领 导 王 堃出席，投资3000 万元。"


def rule_nlp() -> Language:
    return rules(PATTERNS)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "rules"
    rule_nlp().to_disk(path)
    return path


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar_gz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _parquet_bytes(columns: dict[str, list]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def make_corpus(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Write one file of every kind under ``root``.

    Returns the texts by expected id, and the expected problems (id -> a word of the reason).
    """
    import datasets

    root.mkdir(parents=True, exist_ok=True)
    texts: dict[str, str] = {}

    def txt(rel: str, text: str, data: bytes) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        texts[rel] = text

    txt("txt/utf8.txt", TEXT_A, TEXT_A.encode("utf-8"))
    txt("txt/utf8_bom.txt", TEXT_B, b"\xef\xbb\xbf" + TEXT_B.encode("utf-8"))
    txt("txt/gb18030.txt", TEXT_A + "\r\n" + TEXT_B, (TEXT_A + "\r\n" + TEXT_B).encode("gb18030"))
    txt("txt/utf16.txt", TEXT_B, TEXT_B.encode("utf-16"))  # with BOM
    nobom = "Page 1\n" + TEXT_A + "\n2024-05-01 edition\n"
    txt("txt/utf16le_nobom.txt", nobom, nobom.encode("utf-16-le"))
    txt("txt/one_line.txt", "史根治", "史根治".encode())
    txt("txt/empty.txt", "", b"")

    jsonl = [{"id": "j1", "text": TEXT_A}, {"text": TEXT_B}, {"id": "dup", "text": "王堃"}, {"id": "dup", "text": "史根治"}]
    (root / "table.jsonl").write_text(
        "\n".join(json.dumps(o, ensure_ascii=False) for o in jsonl[:2]) + "\n\nnot json\n"
        + "\n".join(json.dumps(o, ensure_ascii=False) for o in jsonl[2:]) + "\n", encoding="utf-8")
    texts.update({"j1": TEXT_A, "table.jsonl:2": TEXT_B, "dup": "王堃", "dup#2": "史根治"})

    with (root / "table.csv").open("w", encoding="gb18030", newline="") as f:  # Excel on a Chinese Windows
        w = csv.writer(f)
        w.writerow(["编号", "text"])
        w.writerow(["", TEXT_A])
        w.writerow(["", "第一行\r\n国务院，第二行"])
    texts.update({"table.csv:2": TEXT_A, "table.csv:3": "第一行\r\n国务院，第二行"})

    (root / "table.parquet").write_bytes(_parquet_bytes({"id": [7, 8, 9], "text": [TEXT_B, None, "国务院"]}))
    texts.update({"7": TEXT_B, "9": "国务院"})

    inner_tar = root / "inner.tar.gz.tmp"
    _tar_gz(inner_tar, {"deep.txt": "史根治".encode("utf-16")})
    (root / "news.zip").write_bytes(_zip_bytes({
        "2024/a.txt": TEXT_A.encode(), "2024/b.txt": TEXT_B.encode("gbk"),
        "rows.jsonl": json.dumps({"id": "z1", "text": "国务院"}, ensure_ascii=False).encode(),
        "rows.parquet": _parquet_bytes({"text": ["王堃"]}), "inner.tar.gz": inner_tar.read_bytes(),
        "notes.md": "# 国务院\n".encode(), "scan.pdf": b"%PDF-1.4 not a document kind: listed as skipped"}))
    inner_tar.unlink()
    texts.update({"news.zip/2024/a.txt": TEXT_A, "news.zip/2024/b.txt": TEXT_B, "z1": "国务院",
                  "news.zip/rows.parquet:0": "王堃", "news.zip/inner.tar.gz/deep.txt": "史根治",
                  "news.zip/notes.md": "# 国务院\n"})

    _tar_gz(root / "news.tar.gz", {"./x.txt": TEXT_B.encode("gb18030"),
                                   "sub/y.csv": ('text\n"' + TEXT_A + '"\n').encode("utf-8-sig")})
    texts.update({"news.tar.gz/x.txt": TEXT_B, "news.tar.gz/sub/y.csv:2": TEXT_A})

    datasets.Dataset.from_dict({"id": ["ds1", "ds2"], "text": [TEXT_A, "王堃"]}).save_to_disk(str(root / "hf"))
    texts.update({"ds1": TEXT_A, "ds2": "王堃"})

    bad = root / "bad"
    bad.mkdir()
    (bad / "undecodable.txt").write_bytes(b"abc \x81\x30\xff\xff def")
    (bad / "truncated.zip").write_bytes(_zip_bytes({"a.txt": TEXT_A.encode() * 50})[:100])
    (bad / "scan.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)))
    problems = {"bad/undecodable.txt": "not UTF-8", "bad/truncated.zip": "BadZipFile", "bad/scan.txt": "binary",
                "table.jsonl:4": "not a JSON object", "table.parquet:1": "not text", "dup#2": "duplicate",
                "news.zip/scan.pdf": "skipped: unsupported type"}
    return texts, problems


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus") / "in"
    texts, problems = make_corpus(root)
    return root, texts, problems


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def run_cli(*args: str) -> None:
    result = CliRunner().invoke(app, ["annotate", *map(str, args), "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)


# ---------------------------------------------------------------- decoding

@pytest.mark.parametrize("data,encoding", [
    ("史根治".encode(), "utf-8"),
    (b"\xef\xbb\xbf" + "史根治".encode(), "utf-8-sig"),
    ("史根治".encode("utf-16"), "utf-16"),
    ("Page 1\n史根治\n".encode("utf-16-le"), "utf-16-le"),
    ("Page 1\n史根治\n".encode("utf-16-be"), "utf-16-be"),
    ("市委书记史根治".encode("gbk"), "gb18030"),
    ("𠀀市委".encode("gb18030"), "gb18030"),
    (b"", "utf-8"),
])
def test_detect_encoding(data, encoding):
    assert detect_encoding(data) == encoding


@pytest.mark.parametrize("data,reason", [(b"abc \x81\x30\xff\xff", "not UTF-8"), (b"\x89PNG\r\n\x1a\n\x00\x00\x01", "binary"),
                                         (b"ab\x01\x02\x03\x04\x05cd", "binary")])
def test_undecodable_bytes_say_why(data, reason):
    with pytest.raises(UndecodableError, match=reason):
        decode_bytes(data)


# ---------------------------------------------------------------- reading

def test_reader_finds_every_kind_and_reports_bad_files(corpus):
    root, texts, problems = corpus
    reported = []
    docs = list(DocumentReader([root], on_problem=reported.append))
    assert {d.id: d.text for d in docs} == texts
    assert len(docs) == len(texts)  # ids are unique
    got = {p.id: p.error for p in reported}
    assert set(got) == set(problems)
    for doc_id, word in problems.items():
        assert word in got[doc_id], (doc_id, got[doc_id])
    again = [d.id for d in DocumentReader([root], on_problem=lambda p: None)]
    assert again == [d.id for d in docs]  # stable order


def test_reader_without_problem_sink_raises(corpus):
    root, _, _ = corpus
    with pytest.raises(InputError, match=r"scan\.txt: binary"):
        list(DocumentReader([root / "bad"]))


def test_truncated_tar_gz_keeps_the_members_before_the_cut(tmp_path):
    import random

    rng = random.Random(0)
    noise = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(20000)).encode()  # does not compress
    _tar_gz(tmp_path / "whole.tar.gz", {"a.txt": "史根治".encode(), "b.txt": noise})
    data = (tmp_path / "whole.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[:len(data) // 2])
    reported = []
    docs = list(DocumentReader([tmp_path / "cut.tar.gz"], on_problem=reported.append))
    assert [(d.id, d.text) for d in docs] == [("cut.tar.gz/a.txt", "史根治")]
    assert reported and all(p.id.startswith("cut.tar.gz") for p in reported)


def test_include_and_exclude_globs(corpus):
    root, texts, _ = corpus
    ids = [d.id for d in DocumentReader([root], include=["*.txt"], exclude=["bad/*", "*/2024/*"],
                                        on_problem=lambda p: None)]
    assert ids and all(i.endswith(".txt") for i in ids)
    assert "news.zip/inner.tar.gz/deep.txt" in ids and "news.tar.gz/x.txt" in ids
    assert not any(i.startswith("bad/") or "/2024/" in i for i in ids)


def test_single_files_and_archives_as_inputs(corpus):
    root, texts, _ = corpus
    docs = list(DocumentReader([root / "news.zip", root / "txt" / "gb18030.txt", root / "hf"]))
    assert [d.id for d in docs][:2] == ["news.zip/2024/a.txt", "news.zip/2024/b.txt"]
    assert docs[-3].id == "gb18030.txt" and docs[-3].text == texts["txt/gb18030.txt"]
    assert [d.id for d in docs[-2:]] == ["ds1", "ds2"]


# ---------------------------------------------------------------- the run

def test_annotate_archive_end_to_end(corpus, model_dir, tmp_path):
    root, texts, problems = corpus
    out = tmp_path / "out.jsonl"
    report = tmp_path / "report.html"
    run_cli(root, "--output", out, "--model", model_dir, "--format", "parquet", "--format", "csv",
            "--report", report, "--batch-size", "3")
    records = read_jsonl(out)
    assert [r["id"] for r in records] == [d.id for d in DocumentReader([root], on_problem=lambda p: None)]
    for rec in records:
        assert set(rec) == {"id", "source", "date", "entities", "relations", "events"}
        text = texts[rec["id"]]
        for e in rec["entities"]:
            assert text[e["start"]:e["end"]] == e["text"], (rec["id"], e)
    by_id = {r["id"]: r for r in records}
    assert [(e["label"], e["text"]) for e in by_id["txt/gb18030.txt"]["entities"]] == [
        ("TITLE", "市\n委书记"), ("PERSON", "史根治"), ("PERSON", "王 堃"), ("MONEY", "3000 万元")]
    assert by_id["txt/empty.txt"]["entities"] == []
    assert by_id["news.zip/2024/b.txt"]["source"].endswith("news.zip/2024/b.txt")

    errors = {e["id"]: e for e in read_jsonl(errors_path(out))}
    assert set(errors) == set(problems)
    summary = json.loads(summary_path(out).read_text(encoding="utf-8"))
    assert summary["documents"] == len(texts) and summary["failures"] == 0
    assert summary["unreadable"] == len(problems) - 2 and summary["renamed_duplicates"] == 1
    assert summary["skipped"] == 1 and summary["too_large"] == 0 and summary["warnings"] == 0
    n_ents = sum(len(r["entities"]) for r in records)
    assert sum(summary["entities"].values()) == n_ents

    import pyarrow.parquet as pq

    ents = pq.read_table(table_path(out, "entities", "parquet")).to_pylist()
    assert len(ents) == n_ents and ents[0]["doc_id"] == records[0]["id"]
    assert pq.read_table(table_path(out, "relations", "parquet")).num_rows == 0
    raw = table_path(out, "entities", "csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == n_ents and {r["text"] for r in rows} >= {"市\n委书记", "王 堃"}
    assert report.exists()


def test_original_file_bytes_offsets(corpus, model_dir, tmp_path):
    """Offsets are into the text decoded from the file's bytes (BOM dropped, \\r\\n kept)."""
    root, _, _ = corpus
    out = tmp_path / "out.jsonl"
    run_cli(root / "txt", "--output", out, "--model", model_dir)
    encodings = {"utf8.txt": "utf-8", "utf8_bom.txt": "utf-8-sig", "gb18030.txt": "gb18030", "utf16.txt": "utf-16",
                 "utf16le_nobom.txt": "utf-16-le", "one_line.txt": "utf-8", "empty.txt": "utf-8"}
    records = read_jsonl(out)
    assert sorted(r["id"] for r in records) == sorted(encodings)
    for rec in records:
        text = (root / "txt" / rec["id"]).read_bytes().decode(encodings[rec["id"]])
        for e in rec["entities"]:
            assert text[e["start"]:e["end"]] == e["text"]
    assert sum(len(r["entities"]) for r in records) == 13


_interrupt_after = {"n": None}


@Language.component("test_archive_interrupt")
def _interrupt(doc):
    if _interrupt_after["n"] is not None:
        _interrupt_after["n"] -= 1
        if _interrupt_after["n"] < 0:
            raise KeyboardInterrupt
    return doc


def test_interrupted_run_resumes_without_loss_or_duplicates(tmp_path):
    src = tmp_path / "in.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for i in range(40):
            f.write(json.dumps({"id": f"d{i}", "text": f"第{i}篇。" + (TEXT_A if i % 2 else TEXT_B)}, ensure_ascii=False) + "\n")
    nlp = rule_nlp()
    nlp.add_pipe("test_archive_interrupt")
    full = tmp_path / "full.jsonl"
    annotate_files(DocumentReader([src]), LocalEngine(nlp, batch_size=4), Outputs(full), progress=False)

    out = tmp_path / "out.jsonl"
    _interrupt_after["n"] = 13
    try:
        with pytest.raises(KeyboardInterrupt):
            annotate_files(DocumentReader([src]), LocalEngine(nlp, batch_size=4), Outputs(out), progress=False)
    finally:
        _interrupt_after["n"] = None
    first = read_jsonl(out)  # whole lines only
    assert 0 < len(first) < 40
    assert json.loads(summary_path(out).read_text())["interrupted"] is True
    with out.open("ab") as f:
        f.write(b'{"id": "d99", "source": "')  # a crash in the middle of a line
    report = tmp_path / "report.html"
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp, batch_size=4), Outputs(out, resume=True, report=report, report_docs=100), progress=False) == 40 - len(first)
    assert read_jsonl(out) == read_jsonl(full)
    assert report.read_text(encoding="utf-8").count('<section class="doc"') == 40  # both runs' documents
    summary = json.loads(summary_path(out).read_text())
    assert summary["already_done"] == len(first) and summary["interrupted"] is False


@Language.component("test_archive_fail_on_boom")
def _fail_on_boom(doc):
    if "BOOM" in doc.text:
        raise ValueError("cannot handle BOOM")
    return doc


@pytest.mark.parametrize("n_process", [1, 2])
def test_failing_document_is_logged_and_run_goes_on(tmp_path, n_process):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": "BOOM" if i == 5 else f"{i}史根治"}) + "\n"
                           for i in range(12)), encoding="utf-8")
    nlp = rule_nlp()
    nlp.add_pipe("test_archive_fail_on_boom")
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp, batch_size=2, n_process=n_process), Outputs(out), progress=False) == 11
    assert [r["id"] for r in read_jsonl(out)] == [f"d{i}" for i in range(12) if i != 5]
    assert all(len(r["entities"]) == 1 for r in read_jsonl(out))
    (err,) = read_jsonl(errors_path(out))
    assert err["id"] == "d5" and "cannot handle BOOM" in err["error"] and err["source"].endswith("in.jsonl")
    assert json.loads(summary_path(out).read_text())["failures"] == 1


def test_missing_input_fails_before_touching_output(tmp_path, model_dir):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "keep"}\n')
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "nope"), "--output", str(out), "--model",
                                      str(model_dir), "--no-progress"])
    assert result.exit_code == 1 and "does not exist" in result.output
    assert out.read_text() == '{"id": "keep"}\n'


def test_several_processes_on_one_gpu_are_refused(tmp_path, model_dir):
    with pytest.raises(ValueError, match="engine ray"):
        annotate_files(DocumentReader([tmp_path]), LocalEngine(model_dir, n_process=2, gpu_id=0), Outputs(tmp_path / "o.jsonl"), progress=False)


def test_ray_engine_without_ray_says_how_to_install_it(monkeypatch, tmp_path, model_dir):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    (tmp_path / "a.txt").write_text("史根治", encoding="utf-8")
    result = CliRunner().invoke(app, ["annotate", str(tmp_path / "a.txt"), "--output", str(tmp_path / "o.jsonl"),
                                      "--model", str(model_dir), "--engine", "ray", "--no-progress"])
    assert result.exit_code == 1 and "pip install 'zhie[ray]'" in result.output
    assert not (tmp_path / "o.jsonl").exists()


# ---------------------------------------------------------------- report

def _chromium() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


@pytest.mark.skipif(_chromium() is None, reason="chromium is not installed")
def test_report_shows_highlighted_entities_in_a_browser(corpus, model_dir, tmp_path):
    root, _, _ = corpus
    out, report = tmp_path / "out.jsonl", tmp_path / "report.html"
    run_cli(root / "txt", "--output", out, "--model", model_dir, "--report", report)
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<mark class=\"entity\"" in dom
    assert dom.count("<mark class=\"entity\"") == 13
    assert "史根治" in dom and "TITLE" in dom and "7 documents" in dom


def test_report_page_lists_relations_and_counts_per_label(tmp_path):
    from pipeline.app.report import Sample, write_report

    text = "市委书记史根治指出。"
    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"id": "d1", "source": "s", "entities": [
        {"id": "e1", "start": 0, "end": 4, "label": "TITLE", "text": "市委书记"},
        {"id": "e2", "start": 4, "end": 7, "label": "PERSON", "text": "史根治"}],
        "relations": [{"head": "e2", "tail": "e1", "label": "任职", "score": 0.9}], "events": []},
        ensure_ascii=False) + "\n" + json.dumps({"id": "d2", "source": "s", "entities": [], "relations": [],
                                                "events": []}) + "\n", encoding="utf-8")
    sample = Sample(5)
    sample.add("d1", text)
    page = tmp_path / "page.html"
    write_report(page, out, sample)
    html = page.read_text(encoding="utf-8")
    assert "2 documents in" in html and html.count('<section class="doc"') == 1
    assert "史根治 <span class=\"meta\">PERSON</span> — <b>任职</b> → 市委书记" in html
    assert "<td>PERSON</td><td class=\"n\">1</td>" in html and "<td>任职</td>" in html


# ---------------------------------------------------------------- Ray

@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray's own
def test_ray_engine_matches_local_run(local_ray, corpus, model_dir, tmp_path):
    root, texts, problems = corpus
    local, distributed = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    run_cli(root, "--output", local, "--model", model_dir, "--format", "parquet")
    run_cli(root, "--output", distributed, "--model", model_dir, "--format", "parquet", "--engine", "ray",
            "--n-process", "2", "--batch-size", "4")
    local_records, ray_records = read_jsonl(local), read_jsonl(distributed)
    assert len(ray_records) == len(texts)
    for a, b in zip(local_records, ray_records):
        assert a == b
    assert read_jsonl(errors_path(local)) == read_jsonl(errors_path(distributed))
    assert table_path(distributed, "entities", "parquet").read_bytes() == table_path(local, "entities", "parquet").read_bytes()
