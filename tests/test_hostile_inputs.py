"""`zhie annotate` against hostile but realistic inputs (issue 10).

Each numbered case of the issue, and each minor one, with generated inputs:
nothing written before is lost, no input is modified, every other document
is annotated exactly once, and each problem is a clear error naming the
file. The model is a rule-based stand-in (blank zh + entity_ruler); the
200 MB and 2 GB members are generated as streams, in tests marked slow
(they still run by default, each in well under a minute). Peak memory of the
real command on these inputs: benchmarks/hostile_memory.py.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

from rule_pipeline import rule_nlp as rules
from pipeline.app.annotate import LocalEngine, Outputs, annotate_files, chunk_spans, grapheme_boundary, whole_graphemes
from pipeline.app.processes import children, running
from pipeline.app.archive import (DocumentReader, OutputLock, OutputLocked, TooLarge, decode, detect_encoding, errors_path, lock_path,
                              read_text, summary_path)
from pipeline.app.cli import app

ROOT = Path(__file__).resolve().parents[1]
PATTERNS = {"TITLE": ["市委书记"], "PERSON": ["史根治", "王堃"], "ORG": ["国务院"]}
LINE = "面对复杂形势，市委书记史根治指出，要坚持稳中求进工作总基调，推动高质量发展取得新成效，切实保障民生。"  # 50 chars


def rule_nlp() -> Language:
    return rules(PATTERNS)


@pytest.fixture(scope="module")
def nlp() -> Language:
    return rule_nlp()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "rules"
    rule_nlp().to_disk(path)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def errors_of(out: Path) -> list[dict]:
    return read_jsonl(errors_path(out)) if errors_path(out).exists() else []


def summary_of(out: Path) -> dict:
    return json.loads(summary_path(out).read_text(encoding="utf-8"))


def cli(*args: object):
    return CliRunner().invoke(app, ["annotate", *map(str, args), "--no-progress"])


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------ 1, 2: the output is never an input

def test_1_output_equal_to_an_input_is_refused_before_anything_is_touched(tmp_path, model_dir):
    src = tmp_path / "x.jsonl"
    write_jsonl(src, [{"id": f"d{i}", "text": LINE} for i in range(5)])
    before = src.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(src)
    for output in (src, tmp_path / "link.jsonl", tmp_path / "." / "x.jsonl"):
        result = cli(src, "-o", output, "--model", model_dir)
        assert result.exit_code == 1 and "is the input" in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    # an output inside an input file (its parent is an input file), the report as an input
    assert "inside the input file" in cli(src, "-o", src / "out.jsonl", "--model", model_dir).output
    assert "is the input" in cli(src, "-o", tmp_path / "o.jsonl", "--report", src, "--model", model_dir).output
    with pytest.raises(ValueError, match="is the input"):
        annotate_files(DocumentReader([src]), LocalEngine(rule_nlp()), Outputs(src), progress=False)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.jsonl", "x.jsonl"]  # no lock, errors or summary


def test_2_output_inside_an_input_folder_is_never_read_back(tmp_path, nlp):
    d = tmp_path / "d"
    d.mkdir()
    for i in range(40):
        (d / f"{i:02d}.txt").write_text(f"第{i}篇。{LINE}", encoding="utf-8")
    out = d / "out.jsonl"
    t0 = time.perf_counter()
    assert annotate_files(DocumentReader([d]), LocalEngine(nlp, batch_size=4), Outputs(out, formats=["csv", "parquet"], report=d / "page.html"), progress=False) == 40
    assert time.perf_counter() - t0 < 30
    assert [r["id"] for r in read_jsonl(out)] == [f"{i:02d}.txt" for i in range(40)]
    assert errors_of(out) == [] and summary_of(out)["documents"] == 40
    # the same command again: its own outputs (now all present) are still not inputs
    assert annotate_files(DocumentReader([d]), LocalEngine(nlp, batch_size=4), Outputs(out, formats=["csv", "parquet"], report=d / "page.html"), progress=False) == 40
    assert len(read_jsonl(out)) == 40 and errors_of(out) == []
    # resumed: nothing left to do, nothing read twice
    assert annotate_files(DocumentReader([d]), LocalEngine(nlp, batch_size=4), Outputs(out, resume=True), progress=False) == 0
    assert len(read_jsonl(out)) == 40
    # a later run over d/ into another file: the earlier run's files are listed as skipped, never read
    other = tmp_path / "other.jsonl"
    assert annotate_files(DocumentReader([d]), LocalEngine(nlp, batch_size=4), Outputs(other), progress=False) == 40
    skipped = {e["id"]: e for e in errors_of(other)}
    assert set(skipped) == {"out.jsonl", "out.jsonl.errors.jsonl", "out.jsonl.summary.json", "out.entities.csv",
                            "out.entities.parquet", "out.relations.parquet", "page.html"}
    assert all(e["kind"] == "skipped" for e in skipped.values())
    assert "out.jsonl.summary.json" in skipped["out.jsonl"]["error"] and "report page" in skipped["page.html"]["error"]
    assert summary_of(other)["documents"] == 40


# ------------------------------------------------------------ 3: bounded work per document

class _Endless(io.RawIOBase):
    """An endless text stream that counts the bytes taken from it."""

    def __init__(self, unit: bytes) -> None:
        self.unit, self.taken = unit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = len(buffer)
        data = (self.unit * (n // len(self.unit) + 1))[:n]
        buffer[:n] = data
        self.taken += n
        return n


def test_3_a_stream_is_read_only_up_to_max_doc_chars():
    stream = _Endless("国务院常务会议。".encode())
    with pytest.raises(TooLarge, match="more than 10,000 characters"):
        read_text(io.BufferedReader(stream), 10_000)
    assert stream.taken < 10_000 * 3 + (1 << 19)  # the bound plus one read ahead, not the endless rest


def test_3_too_large_documents_are_reported_and_the_rest_annotated(tmp_path, nlp):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("史根治。" * 10, encoding="utf-8")
    (src / "b_huge.txt").write_text("国务院。" * 5_000, encoding="utf-8")  # 20,000 characters
    (src / "c_huge.html").write_text("<p>" + "王堃。" * 8_000 + "</p>", encoding="utf-8")
    zip_members = {"big.txt": ("史根治" * 10_000).encode(), "ok.txt": "王堃".encode()}
    with zipfile.ZipFile(src / "d.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in zip_members.items():
            z.writestr(name, data)
    write_jsonl(src / "e.jsonl", [{"text": "史根治"}, {"text": "国" * 20_000}, {"text": "王堃"},
                                  {"text": "国" * 20_000, "pad": "x" * 200_000}, {"text": "国务院"}])
    with (src / "f.csv").open("w", encoding="utf-8", newline="") as f:
        f.write("id,text\n" + "r1,史根治\n" + "r2," + "国" * 100_000 + "\n" + "r3,王堃\n")
    (src / "g.json").write_text(json.dumps([{"text": "史根治"}, {"text": "x" * 200_000}, {"text": "王堃"}]),
                                encoding="utf-8")
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([src], max_doc_chars=10_000), LocalEngine(nlp), Outputs(out), progress=False)
    assert [r["id"] for r in read_jsonl(out)] == ["a.txt", "d.zip/ok.txt", "e.jsonl:1", "e.jsonl:3", "e.jsonl:5",
                                                  "r1", "r3", "g.json:0", "g.json:2"]
    too_large = {e["id"]: e["error"] for e in errors_of(out) if e["kind"] == "too_large"}
    assert set(too_large) == {"b_huge.txt", "c_huge.html", "d.zip/big.txt", "e.jsonl:2", "e.jsonl:4", "f.csv:3",
                              "g.json:1"}
    assert all(e.startswith("too large") for e in too_large.values())
    assert summary_of(out)["too_large"] == 7 and summary_of(out)["documents"] == 9


def test_3_declared_sizes_refuse_a_member_without_reading_it(tmp_path, nlp):
    with tarfile.open(tmp_path / "t.tar", "w") as t:
        for name, data in {"big.txt": b"a" * 50_000, "ok.txt": "史根治".encode()}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([tmp_path / "t.tar"], max_doc_chars=1_000), LocalEngine(nlp), Outputs(out), progress=False)
    assert [r["id"] for r in read_jsonl(out)] == ["t.tar/ok.txt"]
    (err,) = errors_of(out)
    assert err["id"] == "t.tar/big.txt" and "50,000 bytes" in err["error"] and err["kind"] == "too_large"


_chunk_lengths: list[int] = []


@Language.component("test_hostile_chunk_length")
def _chunk_length(doc):
    _chunk_lengths.append(len(doc.text))
    return doc


def test_3_a_2mb_line_without_punctuation_is_hard_cut_into_chunks(tmp_path):
    rng = random.Random(0)
    line = "".join(chr(rng.randrange(0x4E00, 0x9FA5)) for _ in range(700_000))  # 2.1 MB of UTF-8
    (tmp_path / "line.txt").write_text(line, encoding="utf-8")
    nlp = spacy.blank("zh")
    nlp.add_pipe("test_hostile_chunk_length")
    _chunk_lengths.clear()
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([tmp_path / "line.txt"]), LocalEngine(nlp), Outputs(out), progress=False) == 1
    assert max(_chunk_lengths) == 5000 and sum(_chunk_lengths) == len(line)
    spans = chunk_spans("甲乙丙，丁戊己庚辛壬癸" * 3, 10)  # a clause mark is a better cut than the limit
    assert spans[0] == (0, 4)


def _zip_stream(path: Path, size: int, after: dict[str, bytes]) -> None:
    """A zip whose first member ``big.txt`` holds ``size`` bytes of text, written as a stream, then ``after``."""
    block = ("国务院办公厅关于进一步加强政务公开工作的通知" * 3000).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("big.txt", "w", force_zip64=True) as f:
            written = 0
            while written < size:
                f.write(block[:size - written])
                written += len(block[:size - written])
        for name, data in after.items():
            z.writestr(name, data)


def _run_measured(args: list[str], timeout: float = 120) -> tuple[int, float, float, str]:
    """Run a command; (exit status, seconds, peak RSS in MiB of it and its waited-for children, output)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pytest.fail(f"{args} ran over {timeout} s")
        time.sleep(0.05)
    output = proc.stdout.read().decode("utf-8", "replace")
    return os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_maxrss / 1024, output


def _zhie() -> str:
    return str(Path(sys.executable).with_name("zhie"))


@pytest.mark.slow
@pytest.mark.parametrize("size", [200 << 20, 2 << 30], ids=["200MB", "2GB"])
def test_3_zip_bomb_member_is_too_large_and_the_documents_after_it_come_out(tmp_path, model_dir, size):
    bomb = tmp_path / "bomb.zip"
    _zip_stream(bomb, size, {"after.txt": "市委书记史根治指出。".encode()})
    assert bomb.stat().st_size < size / 100
    out = tmp_path / "out.jsonl"
    status, seconds, peak_mb, output = _run_measured(
        [_zhie(), "annotate", str(bomb), "-o", str(out), "--model", str(model_dir), "--no-progress"])
    assert status == 0, output
    assert [r["id"] for r in read_jsonl(out)] == ["bomb.zip/after.txt"]
    (err,) = errors_of(out)
    assert err["id"] == "bomb.zip/big.txt" and err["kind"] == "too_large"
    assert seconds < 60 and peak_mb < 2500, (seconds, peak_mb)


@pytest.mark.slow
def test_3_member_past_max_doc_chars_is_cut_off_while_streaming(tmp_path, model_dir):
    """The declared size allows it, so the member is read as a stream until --max-doc-chars is passed."""
    bomb = tmp_path / "bomb.zip"
    _zip_stream(bomb, 200 << 20, {"after.txt": "市委书记史根治指出。".encode()})
    out = tmp_path / "out.jsonl"
    status, seconds, peak_mb, output = _run_measured(
        [_zhie(), "annotate", str(bomb), "-o", str(out), "--model", str(model_dir), "--no-progress",
         "--max-doc-chars", "60000000"])
    assert status == 0, output
    assert [r["id"] for r in read_jsonl(out)] == ["bomb.zip/after.txt"]
    (err,) = errors_of(out)
    assert err["kind"] == "too_large" and "more than 60,000,000 characters" in err["error"]
    assert seconds < 60 and peak_mb < 2500, (seconds, peak_mb)


# ------------------------------------------------------------ 4: one writer per output

_SLOW_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import spacy
    from spacy.language import Language
    from pipeline.app.annotate import LocalEngine, Outputs, annotate_files
    from pipeline.app.archive import DocumentReader

    @Language.component("slow")
    def slow(doc):
        time.sleep(float(sys.argv[4]))
        return doc

    nlp = spacy.blank("zh")
    nlp.add_pipe("slow")
    annotate_files(DocumentReader([sys.argv[1]]), LocalEngine(nlp, batch_size=2, n_process=int(sys.argv[3])),
                   Outputs(Path(sys.argv[2])), progress=False)
""")


def _start_slow_run(src: Path, out: Path, n_process: int, delay: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _SLOW_RUN, str(src), str(out), str(n_process), str(delay)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out")
        time.sleep(0.05)


def test_4_a_second_run_on_the_same_output_is_refused(tmp_path, nlp, model_dir):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": f"d{i}", "text": f"{i}史根治"} for i in range(40)])
    out = tmp_path / "out.jsonl"
    first = _start_slow_run(src, out, 1, 0.1)
    try:
        _wait_for(lambda: lock_path(out).exists() and lock_path(out).read_text().strip() != "")
        owner = json.loads(lock_path(out).read_text())
        assert owner["pid"] == first.pid
        with pytest.raises(OutputLocked, match=f"pid {first.pid}.*{lock_path(out).name}"):
            annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out), progress=False)
        result = cli(src, "-o", out, "--model", model_dir)
        assert result.exit_code == 1 and str(lock_path(out)) in result.output and "Traceback" not in result.output
        assert first.wait(120) == 0, first.stderr.read()
    finally:
        first.kill()
    assert [r["id"] for r in read_jsonl(out)] == [f"d{i}" for i in range(40)]  # all 40, once, whole lines
    assert not lock_path(out).exists()
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out, resume=True), progress=False) == 0  # resumable, nothing to do


def test_4_a_stale_lock_is_taken_over_and_a_live_one_refused(tmp_path, nlp):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"text": "史根治"}])
    out = tmp_path / "out.jsonl"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock_path(out).write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out), progress=False) == 1
    assert not lock_path(out).exists()
    with OutputLock(out):  # held by this (live) process
        with pytest.raises(OutputLocked, match=f"pid {os.getpid()}"):
            annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out), progress=False)
    assert len(read_jsonl(out)) == 1


# ------------------------------------------------------------ 5: an unreadable subfolder

def _tree(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    (root / "a" / "1.txt").write_text("史根治", encoding="utf-8")
    (root / "locked").mkdir()
    (root / "locked" / "secret.txt").write_text("王堃", encoding="utf-8")
    (root / "z.txt").write_text("国务院", encoding="utf-8")


def _assert_unreadable_folder_run(out: Path, root: Path) -> None:
    assert [r["id"] for r in read_jsonl(out)] == ["a/1.txt", "z.txt"]
    (err,) = errors_of(out)
    assert err["id"] == "locked" and err["source"] == str(root / "locked") and "Permission denied" in err["error"]
    summary = summary_of(out)
    assert summary["documents"] == 2 and summary["unreadable"] == 1 and summary["interrupted"] is False


def test_5_unreadable_subfolder_is_reported_and_the_run_goes_on(tmp_path, nlp, monkeypatch):
    root = tmp_path / "in"
    _tree(root)
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "old"}\n')
    import pipeline.app.archive as archive

    real_scandir, real_is_file = os.scandir, Path.is_file

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def is_file(self):  # pathlib raises on EACCES: the dataset-folder check once crashed here
        if self.parent.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(archive.os, "scandir", scandir)
    monkeypatch.setattr(Path, "is_file", is_file)
    assert annotate_files(DocumentReader([root]), LocalEngine(nlp), Outputs(out), progress=False) == 2
    _assert_unreadable_folder_run(out, root)


def _without_root_powers() -> list[str] | None:
    """A command prefix that runs a process without root's power to read anything, or None if there is none."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]  # root, but permissions apply


@pytest.mark.skipif(not hasattr(os, "geteuid") or _without_root_powers() is None,
                    reason="POSIX permissions; as root, needs setpriv to drop CAP_DAC_OVERRIDE")
def test_5_unreadable_subfolder_with_real_permissions(tmp_path):
    """The same with a real mode-000 folder (as root: in a subprocess without CAP_DAC_OVERRIDE)."""
    root = tmp_path / "in"
    _tree(root)
    os.chmod(root / "locked", 0o000)
    out = tmp_path / "out.jsonl"
    script = textwrap.dedent(f"""
        import spacy
        from pathlib import Path
        from pipeline.app.annotate import LocalEngine, Outputs, annotate_files
        from pipeline.app.archive import DocumentReader
        annotate_files(DocumentReader([{str(root)!r}]), LocalEngine(spacy.blank("zh")), Outputs(Path({str(out)!r})),
                       progress=False)
    """)
    try:
        done = subprocess.run([*_without_root_powers(), sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    finally:
        os.chmod(root / "locked", 0o755)
    assert done.returncode == 0, done.stderr
    _assert_unreadable_folder_run(out, root)


# ------------------------------------------------------------ 6: unpaired surrogates

def test_6_lone_surrogates_in_ids_and_text_do_not_stop_the_run(tmp_path, nlp):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "x\\udc80", "text": "史根治\\ud800讲话"}\n'
                   + "".join(json.dumps({"id": f"d{i}", "text": "王堃"}) + "\n" for i in range(5)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp, batch_size=2), Outputs(out), progress=False) == 6
    records = read_jsonl(out)
    out.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    assert [r["id"] for r in records] == ["x\\udc80"] + [f"d{i}" for i in range(5)]
    assert [(e["text"], e["start"]) for e in records[0]["entities"]] == [("史根治", 0)]  # offsets unchanged
    warnings = [e for e in errors_of(out) if e["kind"] == "warning"]
    assert len(warnings) == 2 and any("written as" in w["error"] for w in warnings)
    summary = summary_of(out)
    assert summary["documents"] == 6 and summary["warnings"] == 2 and summary["failures"] == 0
    assert annotate_files(DocumentReader([src]), LocalEngine(nlp), Outputs(out, resume=True), progress=False) == 0  # the escaped id is recognised


# ------------------------------------------------------------ 7: a CSV without the text column

def test_7_csv_without_the_text_column_is_that_files_error(tmp_path, nlp):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,body\n1,史根治\n", encoding="utf-8")
    write_jsonl(tmp_path / "in" / "b.jsonl", [{"id": "b1", "text": "王堃"}])
    (tmp_path / "in" / "c.txt").write_text("国务院", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "old", "source": "", "entities": [], "relations": [], "events": []}\n')
    assert annotate_files(DocumentReader([tmp_path / "in"]), LocalEngine(nlp), Outputs(out), progress=False) == 2
    assert [r["id"] for r in read_jsonl(out)] == ["b1", "c.txt"]
    (err,) = errors_of(out)
    assert err["id"] == "a.csv" and "no 'text' column (columns: id, body)" in err["error"]


def test_7_when_no_input_can_be_read_the_output_is_not_touched(tmp_path, model_dir):
    (tmp_path / "a.csv").write_text("id,body\n1,史根治\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "keep"}\n')
    result = cli(tmp_path / "a.csv", "-o", out, "--model", model_dir)
    assert result.exit_code == 1 and "no input can be read: a.csv: no 'text' column" in result.output
    assert out.read_text() == '{"id": "keep"}\n'
    assert not errors_path(out).exists() and not lock_path(out).exists()


# ------------------------------------------------------------ 8, 9: decoding

def test_8_utf8_that_lost_a_byte_is_never_read_as_gb18030():
    data = LINE.encode("utf-8") + "。".encode()  # 51 characters, 153 bytes
    assert len(data) == 153
    full = LINE + "。"
    for i in range(len(data)):
        damaged = data[:i] + data[i + 1:]
        assert detect_encoding(damaged) == "utf-8", i
        decoded = decode(damaged)
        assert decoded.replaced == 2 and 1 <= decoded.text.count("\ufffd") <= 2
        c = i // 3  # the damaged character; every other one is intact
        assert decoded.text.replace("\ufffd", "") == full[:c] + full[c + 1:]


@pytest.mark.parametrize("text", ["中国", "市委书记史根治指出", LINE, "第1版 2024年5月1日 国务院常务会议"])
def test_8_gb18030_only_when_it_decodes_cleanly_and_utf8_clearly_does_not(text):
    assert detect_encoding(text.encode("gbk")) == "gb18030"
    assert detect_encoding(text.encode("gb18030")) == "gb18030"


def test_8_what_clearly_means():
    """More than 1 in 5 of the non-ASCII bytes invalid as UTF-8, and GB18030 decodes every byte: GB18030."""
    good = "市委书记".encode()  # 12 bytes, all non-ASCII
    gbk = "国务".encode("gbk")  # 4 bytes: as UTF-8, 2 or more of them invalid
    assert detect_encoding(good * 9 + gbk) == "utf-8"  # a few of 112 invalid: broken UTF-8, reported
    assert detect_encoding(good + gbk * 3) == "gb18030"  # many of 24 invalid, and GB18030 reads all 24
    with pytest.raises(Exception, match="not UTF-8, UTF-16 or GB18030"):
        detect_encoding(b"abc \x81\x30\xff\xff")  # neither


def test_8_a_file_with_a_lost_byte_is_annotated_and_reported(tmp_path, nlp):
    data = LINE.encode()
    (tmp_path / "a.txt").write_bytes(data[:4] + data[5:])  # a byte of 对 lost
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([tmp_path / "a.txt"]), LocalEngine(nlp), Outputs(out), progress=False) == 1
    (rec,) = read_jsonl(out)
    assert [e["text"] for e in rec["entities"]] == ["市委书记", "史根治"]  # not mojibake
    (err,) = errors_of(out)
    assert err["kind"] == "warning" and err["error"].startswith("decoded with 2 replaced bytes")


@pytest.mark.parametrize("bad_row", [5, 900])  # inside the sniffed head, and far past it
def test_9_jsonl_over_64kb_with_one_bad_byte_loses_no_rows(tmp_path, nlp, bad_row):
    lines = [json.dumps({"id": f"d{i}", "text": f"第{i}条。{LINE}"}, ensure_ascii=False).encode() for i in range(1, 1001)]
    k = lines[bad_row - 1].index("史".encode())
    lines[bad_row - 1] = lines[bad_row - 1][:k] + b"\xff" + lines[bad_row - 1][k + 1:]
    (tmp_path / "rows.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    assert (tmp_path / "rows.jsonl").stat().st_size > 1 << 16
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([tmp_path / "rows.jsonl"]), LocalEngine(nlp), Outputs(out), progress=False) == 1000
    assert [r["id"] for r in read_jsonl(out)] == [f"d{i}" for i in range(1, 1001)]
    (err,) = errors_of(out)
    assert err["id"] == f"rows.jsonl:{bad_row}" and err["kind"] == "warning" and "replaced bytes" in err["error"]


# ------------------------------------------------------------ 10: workers die with their parent

@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_10_kill_9_of_the_parent_ends_the_workers(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"text": f"{i}史根治"} for i in range(2000)])
    parent = _start_slow_run(src, tmp_path / "out.jsonl", 2, 0.2)
    try:
        _wait_for(lambda: len(children(parent.pid)) >= 2)
        workers = children(parent.pid)
        time.sleep(0.5)  # the workers are past their initializer
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _wait_for(lambda: not any(running(w) for w in workers), timeout=5)
    finally:
        parent.kill()


# ------------------------------------------------------------ 11: relations through bytes and DocBin

def test_11_relations_round_trip_through_doc_bytes_and_docbin():
    from pipeline.components.extensions import install_extensions

    install_extensions()
    nlp = spacy.blank("zh")
    doc = nlp("市委书记史根治会见了许昌银行行长王五。")
    doc._.relations = [{"head": (4, 7), "tail": (0, 4), "label": "has_title", "score": 0.98},
                       {"head": (16, 18), "tail": (10, 14), "label": "member_of", "score": 0.7}]
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert again._.relations == doc._.relations
    db = DocBin(store_user_data=True)
    db.add(doc)
    (back,) = DocBin().from_bytes(db.to_bytes()).get_docs(nlp.vocab)
    assert back._.relations == doc._.relations
    assert all(type(r["head"]) is tuple and type(r["tail"]) is tuple for r in back._.relations)
    assert {r["head"]: r["label"] for r in back._.relations}[(4, 7)] == "has_title"  # a head is a dict key
    assert nlp("无")._.relations is None


# ------------------------------------------------------------ 12: other kinds of files

def test_12_json_md_and_html_files_are_read_and_others_listed(tmp_path, nlp):
    d = tmp_path / "news"
    d.mkdir()
    (d / "a.json").write_text(json.dumps({"key": "A1", "content": "市委书记史根治"}, ensure_ascii=False),
                              encoding="utf-8")
    (d / "b.json").write_text(json.dumps([{"key": "B1", "content": "王堃"}, {"content": "国务院"}, {"x": 1}, 7],
                                         ensure_ascii=False), encoding="utf-8")
    (d / "c.md").write_text("# 标题\n\n国务院常务会议", encoding="utf-8")
    html = ("<!DOCTYPE html><html><head><title>要闻</title><style>p {color: red}</style>"
            "<script>var x = '史根治';</script></head><body><p>市委书记&amp;史根治</p><p>王<b>堃</b>出席</p>"
            "<br>国务院</body></html>")
    (d / "d.html").write_text(html, encoding="utf-8")
    (d / "e.htm").write_bytes("<p>国务院</p>".encode("gbk"))
    (d / "f.pdf").write_bytes(b"%PDF-1.7")
    (d / "g.docx").write_bytes(b"PK")
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([d], text_field="content", id_field="key"), LocalEngine(nlp), Outputs(out), progress=False)
    records = {r["id"]: r for r in read_jsonl(out)}
    assert list(records) == ["A1", "B1", "b.json:1", "c.md", "d.html", "e.htm"]
    page = records["d.html"]
    assert [(e["label"], e["text"]) for e in page["entities"]] == [
        ("TITLE", "市委书记"), ("PERSON", "史根治"), ("PERSON", "王堃"), ("ORG", "国务院")]
    # offsets refer to the text extracted from the page: no script, style or tags in it
    from pipeline.app.archive import _HTMLText

    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    assert "var x" not in text and "color" not in text and "<" not in text and "&amp;" not in text
    for e in page["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    errors = {e["id"]: e for e in errors_of(out)}
    assert errors["f.pdf"]["kind"] == errors["g.docx"]["kind"] == "skipped"
    assert errors["f.pdf"]["error"].startswith("skipped: unsupported type (.pdf")
    assert errors["b.json:2"]["kind"] == errors["b.json:3"]["kind"] == "unreadable"
    summary = summary_of(out)
    assert summary["documents"] == 6 and summary["skipped"] == 2 and summary["unreadable"] == 2


def test_12_json_arrays_are_streamed(tmp_path, nlp):
    rows = [{"id": f"n{i}", "text": f"第{i}条 史根治"} for i in range(3000)]
    (tmp_path / "big.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    (tmp_path / "broken.json").write_text('[{"text": "王堃"}, {"text": ', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    annotate_files(DocumentReader([tmp_path]), LocalEngine(nlp), Outputs(out), progress=False)
    assert [r["id"] for r in read_jsonl(out)] == [f"n{i}" for i in range(3000)] + ["broken.json:0"]
    (err,) = errors_of(out)
    assert err["id"] == "broken.json" and err["kind"] == "unreadable"


# ------------------------------------------------------------ minor cases

def test_minor_tar_links_and_devices_are_listed(tmp_path, nlp):
    with tarfile.open(tmp_path / "t.tar", "w") as t:
        def add(name: str, kind: bytes, data: bytes = b"", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.linkname = kind, len(data), link
            t.addfile(info, io.BytesIO(data) if data else None)

        add("a.txt", tarfile.REGTYPE, "史根治".encode())
        add("hard.txt", tarfile.LNKTYPE, link="a.txt")
        add("soft.txt", tarfile.SYMTYPE, link="/etc/passwd")
        add("dev.txt", tarfile.CHRTYPE)
        add("pipe.txt", tarfile.FIFOTYPE)
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([tmp_path / "t.tar"]), LocalEngine(nlp), Outputs(out), progress=False) == 1
    errors = {e["id"]: e["error"] for e in errors_of(out) if e["kind"] == "skipped"}
    assert errors == {"t.tar/hard.txt": "skipped: a hard link to a.txt in the tar (not followed)",
                      "t.tar/soft.txt": "skipped: a symbolic link to /etc/passwd in the tar (not followed)",
                      "t.tar/dev.txt": "skipped: a device in the tar (not followed)",
                      "t.tar/pipe.txt": "skipped: a FIFO in the tar (not followed)"}
    assert summary_of(out)["skipped"] == 4


def test_minor_read_only_output_folder_is_one_line_naming_the_file(tmp_path, model_dir, monkeypatch):
    (tmp_path / "a.txt").write_text("史根治", encoding="utf-8")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    prefix = _without_root_powers()
    try:
        if prefix is not None:  # real permissions, the command as a user runs it
            done = subprocess.run([*prefix, _zhie(), "annotate", str(tmp_path / "a.txt"), "-o", str(ro / "out.jsonl"),
                                   "--model", str(model_dir), "--no-progress"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=120)
            status, output = done.returncode, done.stdout + done.stderr
        else:  # root without setpriv: refuse as the kernel would for a user
            import pipeline.app.archive as archive

            real_open = os.open

            def open_(path, flags, *args, **kwargs):
                if Path(path).parent == ro and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                    raise PermissionError(13, "Permission denied", str(path))
                return real_open(path, flags, *args, **kwargs)

            monkeypatch.setattr(archive.os, "open", open_)
            result = cli(tmp_path / "a.txt", "-o", ro / "out.jsonl", "--model", model_dir)
            status, output = result.exit_code, result.output
    finally:
        os.chmod(ro, 0o755)
    assert status == 1 and "Traceback" not in output
    assert output.strip() == f"error: cannot access {ro / 'out.jsonl.lock'}: Permission denied"
    assert list(ro.iterdir()) == []


@pytest.mark.parametrize("content,where", [
    (b'{"a": 1}\n', ":1 is not a record"),
    (b'{"id": "x", "source": "", "entities": [], "relations": [], "events": []}\n[1, 2]\n', ":2 is not a record"),
    (bytes(range(11, 256)) * 8, ":1 is not a complete JSON line"),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4 + b"\n", ":1 is not a record"),
])
def test_minor_resume_from_an_output_that_is_not_ours_names_it_and_keeps_it(tmp_path, model_dir, content, where):
    (tmp_path / "a.txt").write_text("史根治", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_bytes(content)
    result = cli(tmp_path / "a.txt", "-o", out, "--model", model_dir, "--resume")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{out}{where}" in result.output and "cannot resume" in result.output
    assert out.read_bytes() == content  # not truncated
    assert not lock_path(out).exists()


@pytest.mark.parametrize("text,ent", [("中国🇨🇳代表团", "国🇨"), ("他🇯🇵🇨🇳都去过", "🇵🇨"), ("家庭👨\u200d👩\u200d👧成员", "庭👨"),
                                      ("e\u0301史根治", "\u0301史")])
def test_minor_entities_never_cut_through_a_grapheme(text, ent):
    nlp = spacy.blank("zh")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": [{"TEXT": c} for c in ent]}])
    from pipeline.app.annotate import annotate_text

    rec = annotate_text(nlp, text)
    for e in rec["entities"]:
        assert grapheme_boundary(text, e["start"]) and grapheme_boundary(text, e["end"]), (text, e)
        assert text[e["start"]:e["end"]] == e["text"]
    assert rec["entities"], text


def test_minor_grapheme_helpers():
    flags = "🇨🇳🇯🇵"
    assert [grapheme_boundary(flags, i) for i in range(5)] == [True, False, True, False, True]
    spans, rels = whole_graphemes(flags + "国", [(1, 3, "GPE"), (4, 5, "ORG")], [((1, 3), (4, 5), "x", 0.5)])
    assert spans == [(0, 4, "GPE"), (4, 5, "ORG")] and rels == [((0, 4), (4, 5), "x", 0.5)]
    spans, _ = whole_graphemes(flags, [(0, 1, "GPE"), (1, 2, "GPE")], [])  # widened into each other: one stays
    assert spans == [(0, 2, "GPE")]
    assert chunk_spans("🇨🇳" * 10, 5) == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20)]


def test_minor_binary_parquet_text_is_decoded_and_messages_stay_short(tmp_path, nlp):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(0)
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(9_992))
    pq.write_table(pa.table({"id": ["u", "g", "bad", "huge"],
                             "text": ["史根治".encode(), "王堃".encode("gbk"), garbage, b"\x00" * 100_000]}),
                   tmp_path / "t.parquet")
    out = tmp_path / "out.jsonl"
    assert annotate_files(DocumentReader([tmp_path / "t.parquet"]), LocalEngine(nlp), Outputs(out), progress=False) == 2
    assert [(r["id"], r["entities"][0]["text"]) for r in read_jsonl(out)] == [("u", "史根治"), ("g", "王堃")]
    errors = {e["id"]: e["error"] for e in errors_of(out)}
    assert set(errors) == {"t.parquet:2", "t.parquet:3"}
    assert all(len(message) < 400 for message in errors.values()), errors
    assert "10,000 bytes" in errors["t.parquet:2"] and "100,000 bytes" in errors["t.parquet:3"]
