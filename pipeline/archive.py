"""Documents in from folders, files and archives; annotation results out.

Reading (:class:`DocumentReader`) streams: archives are read member by
member without unpacking, tables batch by batch, so memory holds one
document (or one batch of rows) at a time, never a whole archive. Inputs:

========================  ===================================================
input                     documents and their ids
========================  ===================================================
folder                    every supported file below it, in path order; ids
                          are paths relative to the folder (``a/b.txt``)
``.txt``                  one document; id = its path
``.jsonl``                one per line: ``text_field``, id = ``id_field`` or
                          ``file.jsonl:LINE``
``.csv``                  one per row (header first): id = ``id_field`` or
                          ``file.csv:ROW``, ROW as a spreadsheet numbers it
``.parquet``              one per row: id = ``id_field`` or ``file:INDEX``
                          (0-based, as ``table[i]``)
``.zip``, ``.tar.gz``,    every supported member, nested archives included;
``.tgz``, ``.tar``        ids continue the path: ``news.zip/2024/a.txt``
Hugging Face dataset      a ``save_to_disk`` folder (``dataset_info.json`` +
                          ``state.json``, or ``dataset_dict.json``): one per
                          row, id = ``id_field`` or ``folder[/split]:INDEX``
========================  ===================================================

Text files are decoded by :func:`decode_bytes` (UTF-8 with or without BOM,
UTF-16, GB18030/GBK). Whatever cannot be read (undecodable or binary file,
broken archive, row without text) is reported as a :class:`Problem` and
skipped; a repeated id is made unique (``id#2``) and reported too.

Writing: :class:`ResultWriter` appends complete JSON lines, so an
interrupted run leaves only whole records and ``resume`` can continue it;
:func:`export_tables` derives Parquet / CSV tables from the finished JSONL.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import tarfile
import zipfile
from dataclasses import asdict, dataclass, replace
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, Callable, Collection, Iterable, Iterator, Sequence

# ---------------------------------------------------------------- decoding

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# UTF-16 without a BOM is recognised by its NUL bytes (the high byte of ASCII
# characters): at least 1 byte in 100, nearly all on one side of the pairs.
_UTF16_MIN_NULS = 0.01
_UTF16_PARITY = 0.9
# C0 controls other than tab, line breaks and form feed: binary, not text.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BINARY_CONTROL_SHARE = 0.01
_HEAD = 1 << 16  # bytes sniffed to detect a stream's encoding


class UndecodableError(ValueError):
    """Bytes that are not text in any encoding we accept."""


def detect_encoding(data: bytes, *, final: bool = True) -> str:
    """The encoding of ``data``: BOM, then strict UTF-8, UTF-16 by NUL bytes, then GB18030.

    ``final=False`` allows ``data`` to end inside a character (the head of a
    stream). Raises :class:`UndecodableError` with the reason.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    nuls = data.count(0)
    if not nuls:
        for encoding in ("utf-8", "gb18030"):  # GBK is a subset of GB18030
            if _decodes(data, encoding, final):
                return encoding
        raise UndecodableError("not UTF-8, UTF-16 or GB18030 text")
    odd = data[1::2].count(0)
    if nuls >= _UTF16_MIN_NULS * len(data):
        for encoding, share in (("utf-16-le", odd), ("utf-16-be", nuls - odd)):
            if share >= _UTF16_PARITY * nuls and _decodes(data, encoding, final):
                return encoding
    raise UndecodableError("binary content (NUL bytes)")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a whole file; the BOM, if any, is not part of the text."""
    encoding = detect_encoding(data)
    text = data.decode(encoding)
    head = text[:_HEAD]
    if len(_CONTROL.findall(head)) > _BINARY_CONTROL_SHARE * len(head):
        raise UndecodableError(f"binary content (control characters when read as {encoding})")
    return text, encoding


def _decodes(data: bytes, encoding: str, final: bool) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)
        return True
    except UnicodeDecodeError:
        return False


def open_text(f: BinaryIO) -> io.TextIOWrapper:
    """A text stream over a binary one, its encoding detected from the first 64 KiB.

    ``newline=""``: line ends stay as written (csv needs that, and offsets
    must count ``\\r``). A decoding error further on raises there.
    """
    head = f.read(_HEAD)
    encoding = detect_encoding(head, final=len(head) < _HEAD)
    return io.TextIOWrapper(io.BufferedReader(_Prefixed(head, f)), encoding=encoding, newline="")


class _Prefixed(io.RawIOBase):
    """``head`` (already read from ``rest``) followed by the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


# ---------------------------------------------------------------- reading

@dataclass(frozen=True)
class Document:
    id: str
    text: str  # as decoded: every output offset refers to it
    source: str  # the file it came from (archive members: archive path/member)


@dataclass(frozen=True)
class Problem:
    """Something a run could not do, as written to ``OUT.errors.jsonl``."""

    id: str  # document id, or the path of a file that yielded none
    source: str
    error: str
    kind: str = "unreadable"  # unreadable | duplicate | failed


class InputError(ValueError):
    """A problem, raised (readers without ``on_problem``)."""


SUFFIX_KINDS = {".txt": "txt", ".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet", ".zip": "zip",
                ".tar": "tar", ".tgz": "tar", ".tar.gz": "tar"}
CONTAINERS = {"zip", "tar"}  # opened unless excluded; --include filters their members


def file_kind(name: str) -> str | None:
    """The reader for a file name (by suffix, case-insensitive), None if unsupported."""
    lower = name.lower()
    if lower.endswith(".tar.gz"):
        return "tar"
    return SUFFIX_KINDS.get(os.path.splitext(lower)[1])


def is_dataset_folder(path: Path) -> bool:
    """A Hugging Face ``save_to_disk`` folder (Dataset or DatasetDict)."""
    return ((path / "dataset_info.json").is_file() and (path / "state.json").is_file()) \
        or (path / "dataset_dict.json").is_file()


class DocumentReader:
    """Every document under ``inputs``, in a stable order, with unique ids.

    ``include`` / ``exclude``: glob patterns (``fnmatch``: ``*`` also
    crosses ``/``) matched against a document file's path as it appears in
    ids (``2024/a.txt``, ``news.zip/2024/a.txt``); archives are opened
    unless excluded, and the patterns filter their members; files named as
    inputs are always read. ``on_problem`` receives every problem; without
    it the first problem raises :class:`InputError`. ``bytes_read`` /
    ``total_bytes`` measure progress.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike], *, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), text_field: str = "text", id_field: str = "id",
                 on_problem: Callable[[Problem], None] | None = None) -> None:
        self.inputs = [Path(p) for p in inputs]
        for path in self.inputs:
            if not path.exists():
                raise FileNotFoundError(f"input {path} does not exist")
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.text_field, self.id_field = text_field, id_field
        self.on_problem = on_problem
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Document]:
        seen: set[str] = set()
        for doc in self._documents():
            if doc.id in seen:
                k = 2
                while f"{doc.id}#{k}" in seen:
                    k += 1
                new = replace(doc, id=f"{doc.id}#{k}")
                self._report(Problem(new.id, doc.source, f"duplicate id {doc.id!r} renamed {new.id!r}", "duplicate"))
                doc = new
            seen.add(doc.id)
            yield doc

    @cached_property
    def total_bytes(self) -> int:
        """Size of every file that will be read (one walk over the inputs)."""
        total = 0
        for path, _, kind in self._files():
            if kind == "dataset":
                total += sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            else:
                total += path.stat().st_size
        return total

    # -- walking

    def _files(self) -> Iterator[tuple[Path, str, str | None]]:
        """``(path, id path, kind)`` of every input file, folders walked in path order."""
        for root in self.inputs:
            if root.is_dir() and not is_dataset_folder(root):
                yield from self._walk(root, "")
            else:
                yield root, root.name, "dataset" if root.is_dir() else file_kind(root.name)

    def _walk(self, folder: Path, prefix: str) -> Iterator[tuple[Path, str, str]]:
        # Files and folders interleaved by name: the order of sorted(rglob()).
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path, rel = Path(entry.path), prefix + entry.name
            if entry.is_dir(follow_symlinks=False):  # a linked folder could loop
                if is_dataset_folder(path):
                    if self._wanted(rel, "dataset"):
                        yield path, rel, "dataset"
                else:
                    yield from self._walk(path, rel + "/")
            elif entry.is_file():
                kind = file_kind(entry.name)
                if kind and self._wanted(rel, kind):
                    yield path, rel, kind

    def _wanted(self, rel: str, kind: str) -> bool:
        if any(fnmatchcase(rel, p) for p in self.exclude):
            return False
        return kind in CONTAINERS or not self.include or any(fnmatchcase(rel, p) for p in self.include)

    def _documents(self) -> Iterator[Document]:
        for path, rel, kind in self._files():
            if kind is None:
                self._report(Problem(rel, str(path), f"unsupported file type (supported: {', '.join(SUFFIX_KINDS)}, "
                                                    "Hugging Face dataset folders)"))
            elif kind == "dataset":
                yield from self._guarded(self._dataset(path, rel), rel, str(path))
            else:
                yield from self._guarded(self._open_file(path, rel, kind), rel, str(path))

    def _open_file(self, path: Path, rel: str, kind: str) -> Iterator[Document]:
        with io.BufferedReader(_Counting(path, self), buffer_size=1 << 18) as f:
            yield from self._read(f, rel, str(path), kind)

    def _guarded(self, docs: Iterator[Document], rel: str, source: str) -> Iterator[Document]:
        """``docs``, but a failure reading them is reported, not raised (documents already read stay)."""
        try:
            yield from docs
        except InputError:
            raise
        except Exception as err:  # any failure inside one file must not end the run
            self._report(Problem(rel, source, _describe(err)))

    def _report(self, problem: Problem) -> None:
        if self.on_problem is None:
            raise InputError(f"{problem.id}: {problem.error} ({problem.source})")
        self.on_problem(problem)

    # -- formats; ``f`` is an open binary stream

    def _read(self, f: BinaryIO, rel: str, source: str, kind: str) -> Iterator[Document]:
        if kind == "txt":
            yield Document(rel, decode_bytes(f.read())[0], source)
        elif kind == "jsonl":
            yield from self._jsonl(f, rel, source)
        elif kind == "csv":
            yield from self._csv(f, rel, source)
        elif kind == "parquet":
            yield from self._parquet(f, rel, source)
        elif kind == "zip":
            yield from self._zip(f, rel, source)
        elif kind == "tar":
            yield from self._tar(f, rel, source)

    def _member(self, open_member: Callable[[], BinaryIO], rel: str, source: str) -> Iterator[Document]:
        kind = file_kind(rel)
        if kind is None or not self._wanted(rel, kind):
            return

        def docs() -> Iterator[Document]:
            with open_member() as f:
                yield from self._read(f, rel, source, kind)

        yield from self._guarded(docs(), rel, source)

    def _zip(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        with zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    name = _zip_member_name(info)
                    yield from self._member(lambda info=info: archive.open(info), f"{rel}/{name}",
                                            f"{source}/{name}")

    def _tar(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        # "r:*" (not the stream mode "r|*"): members are seekable, which
        # Parquet and nested zip files need; gzip is still decompressed lazily.
        with tarfile.open(fileobj=f, mode="r:*") as archive:
            while (info := archive.next()) is not None:
                archive.members.clear()  # tarfile keeps every header; we need none
                if info.isfile():
                    name = info.name.removeprefix("./")
                    yield from self._member(lambda info=info: archive.extractfile(info), f"{rel}/{name}",
                                            f"{source}/{name}")

    def _jsonl(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        with open_text(f) as lines:
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    text = obj[self.text_field]
                    if not isinstance(text, str):
                        raise TypeError(f"{self.text_field!r} is {type(text).__name__}")
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    self._report(Problem(f"{rel}:{n}", source,
                                         f"not a JSON object with a string {self.text_field!r} field ({err})"))
                    continue
                yield Document(_id(obj.get(self.id_field), f"{rel}:{n}"), text, source)

    def _csv(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # whole articles in one cell
        with open_text(f) as lines:
            rows = csv.reader(lines)
            header = next(rows, None)
            if header is None:
                return  # empty file
            text_col = _column(header, self.text_field)
            id_col = header.index(self.id_field) if self.id_field in header else None
            for n, row in enumerate(rows, 2):
                if not row:
                    continue
                if text_col >= len(row):
                    self._report(Problem(f"{rel}:{n}", source, f"row {n} has no {self.text_field!r} cell"))
                    continue
                doc_id = row[id_col] if id_col is not None and id_col < len(row) and row[id_col] else None
                yield Document(_id(doc_id, f"{rel}:{n}"), row[text_col], source)

    def _parquet(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(f)
        names = table.schema_arrow.names
        _column(names, self.text_field)
        columns = [self.text_field] + ([self.id_field] if self.id_field in names else [])
        batches = (b.to_pydict() for b in table.iter_batches(batch_size=1024, columns=columns))
        yield from self._rows(batches, rel, source)

    def _dataset(self, folder: Path, rel: str) -> Iterator[Document]:
        import datasets

        loaded = datasets.load_from_disk(str(folder))  # memory-mapped Arrow
        splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
        folder_bytes = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        total_rows = max(sum(ds.num_rows for _, ds in splits), 1)
        for split, ds in splits:
            _column(ds.column_names, self.text_field)
            columns = [self.text_field] + ([self.id_field] if self.id_field in ds.column_names else [])
            batches = ds.select_columns(columns).iter(batch_size=1024)
            prefix = rel if split is None else f"{rel}/{split}"
            for doc in self._rows(batches, prefix, str(folder)):
                yield doc
                self.bytes_read += folder_bytes // total_rows  # memory-mapped: no reads to count

    def _rows(self, batches: Iterable[dict[str, list]], rel: str, source: str) -> Iterator[Document]:
        index = 0
        for batch in batches:
            ids = batch.get(self.id_field) or [None] * len(batch[self.text_field])
            for text, doc_id in zip(batch[self.text_field], ids):
                if isinstance(text, str):
                    yield Document(_id(doc_id, f"{rel}:{index}"), text, source)
                else:
                    self._report(Problem(f"{rel}:{index}", source, f"{self.text_field!r} is {text!r}, not text"))
                index += 1


def _id(value: object, default: str) -> str:
    return default if value is None or value == "" else str(value)


def _column(names: Sequence[str], name: str) -> int:
    if name not in names:
        raise InputError(f"no {name!r} column (columns: {', '.join(map(str, names))}); see --text-field")
    return list(names).index(name)


def _describe(err: Exception) -> str:
    if isinstance(err, (UndecodableError, InputError)):
        return str(err)
    if isinstance(err, UnicodeDecodeError):
        return f"cannot decode as {err.encoding} at byte {err.start} past the detected head"
    return f"{type(err).__name__}: {err}"


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """The member's name; names without the UTF-8 flag are often GBK (Windows zip tools)."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")  # how zipfile decoded it
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            pass
    return info.filename


class _Counting(io.RawIOBase):
    """A file that adds the bytes read from it to ``reader.bytes_read`` (for progress)."""

    def __init__(self, path: Path, reader: DocumentReader) -> None:
        self._f = open(path, "rb", buffering=0)
        self._reader = reader

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._f.readinto(buffer)
        self._reader.bytes_read += n or 0
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()
        super().close()


# ---------------------------------------------------------------- writing

def errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


def summary_path(output: Path) -> Path:
    return output.with_name(output.name + ".summary.json")


def table_path(output: Path, table: str, fmt: str) -> Path:
    """``out.jsonl`` -> ``out.entities.parquet``."""
    stem = output.name[:-len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(f"{stem}.{table}.{fmt}")


class _LineFile:
    """Append-only JSONL: each write() is whole lines, so a crash can cut at most the last one."""

    def __init__(self, path: Path, *, resume: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | (0 if resume else os.O_TRUNC), 0o644)
        os.lseek(self._fd, 0, os.SEEK_END)
        self._pending: list[bytes] = []

    def add(self, obj: dict) -> None:
        self._pending.append(json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n")

    def flush(self) -> None:
        data = memoryview(b"".join(self._pending))
        self._pending.clear()
        while data:
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def read_complete_lines(path: Path) -> Iterator[dict]:
    """The JSON objects of a JSONL file, cutting off a trailing partial line (a crash's).

    Truncates the file after its last complete line; a broken line before
    that is not a crash's and raises ValueError.
    """
    if not path.exists():
        return
    good = 0
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            try:
                obj = json.loads(line) if line.endswith(b"\n") else None
            except json.JSONDecodeError:
                obj = None
            if obj is None:
                if f.read(1):
                    raise ValueError(f"{path}:{n} is not a JSON line; cannot resume from it")
                break
            good += len(line)
            yield obj
    if good < path.stat().st_size:
        os.truncate(path, good)


class ResultWriter(_LineFile):
    """The run's output JSONL. ``resume``: keep it, and know which ids it holds."""

    def __init__(self, path: Path, *, resume: bool = False) -> None:
        self.done_ids = {obj["id"] for obj in read_complete_lines(path)} if resume else set()
        super().__init__(path, resume=resume)


class ErrorLog(_LineFile):
    """``OUT.errors.jsonl``; on resume, a problem already logged is not logged again."""

    def __init__(self, path: Path, *, resume: bool = False) -> None:
        self._logged = {(o.get("id"), o.get("error")) for o in read_complete_lines(path)} if resume else set()
        super().__init__(path, resume=resume)

    def log(self, problem: Problem) -> None:
        if (problem.id, problem.error) not in self._logged:
            self._logged.add((problem.id, problem.error))
            self.add(asdict(problem))
            self.flush()


def write_json(path: Path, obj: dict) -> None:
    """Write a JSON file atomically (temporary file, then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


ENTITY_COLUMNS = ("doc_id", "source", "entity_id", "start", "end", "label", "text")
RELATION_COLUMNS = ("doc_id", "source", "head", "tail", "label", "score")
TABLE_FORMATS = ("parquet", "csv")
_ROWS_PER_GROUP = 50_000


def _table_rows(records: Iterable[dict], table: str) -> Iterator[tuple]:
    for r in records:
        if table == "entities":
            for e in r["entities"]:
                yield r["id"], r["source"], e["id"], e["start"], e["end"], e["label"], e["text"]
        else:
            for x in r["relations"]:
                yield r["id"], r["source"], x["head"], x["tail"], x["label"], x.get("score")


def export_tables(output: Path, formats: Collection[str]) -> list[Path]:
    """Entity and relation tables from the JSONL ``output``: Parquet (both), CSV (entities).

    Streams the JSONL; each table is written to a temporary file and renamed.
    The CSV is UTF-8 with a BOM, which Excel needs to show Chinese.
    """
    written = []
    for fmt in formats:
        tables = ("entities", "relations") if fmt == "parquet" else ("entities",)
        for table in tables:
            path = table_path(output, table, fmt)
            tmp = path.with_name(path.name + ".tmp")
            rows = _table_rows(map(json.loads, output.open(encoding="utf-8")), table)
            (_write_parquet if fmt == "parquet" else _write_csv)(tmp, table, rows)
            os.replace(tmp, path)
            written.append(path)
    return written


def _write_csv(path: Path, table: str, rows: Iterable[tuple]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(ENTITY_COLUMNS if table == "entities" else RELATION_COLUMNS)
        out.writerows(rows)


def _write_parquet(path: Path, table: str, rows: Iterable[tuple]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    s, i, f = pa.string(), pa.int64(), pa.float64()
    types = (s, s, s, i, i, s, s) if table == "entities" else (s, s, s, s, s, f)
    names = ENTITY_COLUMNS if table == "entities" else RELATION_COLUMNS
    schema = pa.schema(list(zip(names, types)))
    with pq.ParquetWriter(path, schema) as writer:
        group: list[tuple] = []
        for row in rows:
            group.append(row)
            if len(group) == _ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist([dict(zip(names, g)) for g in group], schema))
                group.clear()
        writer.write_table(pa.Table.from_pylist([dict(zip(names, g)) for g in group], schema))

