"""Documents in from folders, files and archives; annotation results out.

Reading (:class:`DocumentReader`) streams: archives are read member by
member without unpacking, tables batch by batch, so memory holds one
document (or one batch of rows) at a time, never a whole archive. Inputs:

========================  ===================================================
input                     documents and their ids
========================  ===================================================
folder                    every supported file below it, in path order; ids
                          are paths relative to the folder (``a/b.txt``)
``.txt``, ``.md``         one document; id = its path
``.html``, ``.htm``       one document: the page's text (tags stripped with
                          ``html.parser``; offsets refer to that text)
``.json``                 one object (id = ``id_field`` or its path) or an
                          array of objects (id = ``id_field`` or
                          ``file.json:INDEX``, 0-based)
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

Text is decoded by :func:`detect_encoding`'s rules (UTF-8 with or without
BOM, UTF-16, GB18030/GBK only where UTF-8 clearly fails); bytes that are not
valid in the chosen encoding become U+FFFD and are reported as a warning.
Every read is bounded: files and members are decoded a piece at a time, a
document past ``max_doc_chars`` is reported as too large without reading the
rest, JSONL / CSV lines and JSON values are bounded too. Whatever cannot be
read (undecodable or binary file, broken archive, row without text, a file of
another type, a link) is reported as a :class:`Problem` and skipped; a
repeated id is made unique (``id#2``) and reported too.

Writing: :class:`ResultWriter` appends complete JSON lines, so an
interrupted run leaves only whole records and ``resume`` can continue it;
:class:`OutputLock` keeps a second run off the same output;
:func:`check_output` refuses an output that is an input;
:func:`export_tables` derives Parquet / CSV tables from the finished JSONL.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import socket
import stat
import sys
import tarfile
import threading
import time
import zipfile
from dataclasses import asdict, dataclass, replace
from fnmatch import fnmatchcase
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO, Callable, Collection, Iterable, Iterator, Sequence

try:
    import fcntl
except ImportError:  # not POSIX: OutputLock falls back to an exclusive create
    fcntl = None

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
_CHUNK = 1 << 18  # bytes read at a time
_ASCII = bytes(range(128))
# UTF-8 "clearly" fails when more than 1 in 5 of the non-ASCII bytes are not
# valid UTF-8. Chinese in GBK / GB18030 measures 0.2-0.9 (5,000 CLUENER
# sentences: median 0.66, 1st percentile 0.48), because GBK byte pairs often
# happen to form 2-byte UTF-8 characters; UTF-8 that lost a byte measures 2
# bytes over the whole text (a 51-character line: 0.013; 2,000 short
# sentences: 99th percentile 0.09). GB18030 decodes almost any byte pairs,
# so decoding cleanly is no evidence on its own.
_UTF8_FAILS = 0.2
# More than half of the non-ASCII bytes replaced: not text in that encoding.
_MAX_REPLACED = 0.5

_replaced = threading.local()  # bytes replaced so far on this thread by the "zhie.count" error handler


def _count_replaced(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    _replaced.n = getattr(_replaced, "n", 0) + err.end - err.start
    return "\ufffd", err.end


codecs.register_error("zhie.count", _count_replaced)


def _replaced_so_far() -> int:
    return getattr(_replaced, "n", 0)


class UndecodableError(ValueError):
    """Bytes that are not text in any encoding we accept."""


class TooLarge(ValueError):
    """A document past ``--max-doc-chars`` (or a line or JSON value past its bound): reported, never read whole."""


class Decoder:
    """Decodes one stream piece by piece; bytes not valid in ``encoding`` become U+FFFD and are counted."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._decoder = codecs.getincrementaldecoder(encoding)("zhie.count")
        self.replaced = 0  # bytes replaced by U+FFFD
        self.read = 0
        self.non_ascii = 0

    def decode(self, data: bytes, final: bool = False) -> str:
        before = _replaced_so_far()
        text = self._decoder.decode(data, final)
        self.replaced += _replaced_so_far() - before
        self.read += len(data)
        self.non_ascii += len(data.translate(None, _ASCII))
        return text

    def check(self) -> None:
        """Raise :class:`UndecodableError` if so many bytes were replaced that this is not text in the encoding."""
        base = self.read if self.encoding.startswith("utf-16") else self.non_ascii
        if self.replaced > _MAX_REPLACED * base:
            raise UndecodableError(f"not {_ENCODING_NAMES.get(self.encoding, self.encoding)} text "
                                   f"({self.replaced} of {base} bytes invalid)")

    @property
    def warning(self) -> str | None:
        """What to report when bytes were replaced."""
        if not self.replaced:
            return None
        return (f"decoded with {self.replaced} replaced bytes (not valid "
                f"{_ENCODING_NAMES.get(self.encoding, self.encoding)}; each bad run is one U+FFFD)")


_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030", "utf-16": "UTF-16",
                   "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}


def _bad_bytes(data: bytes, encoding: str, final: bool) -> int:
    decoder = Decoder(encoding)
    decoder.decode(data, final)
    return decoder.replaced


def detect_encoding(data: bytes, *, final: bool = True) -> str:
    """The encoding of ``data``: a BOM; UTF-16 by its NUL bytes; UTF-8; GB18030 only when UTF-8 clearly fails.

    Strict UTF-8 first. GB18030 (which includes GBK) is chosen only when it
    decodes every byte and UTF-8 clearly does not (more than ``_UTF8_FAILS``
    of the non-ASCII bytes invalid); otherwise UTF-8 with at most half of
    its non-ASCII bytes broken is still UTF-8 (a text that lost a byte: the
    bad bytes become U+FFFD and the caller reports them), never GB18030
    mojibake. ``final=False`` allows ``data`` to end inside a character (the
    head of a stream). Raises :class:`UndecodableError` with the reason.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    nuls = data.count(0)
    if nuls:
        odd = data[1::2].count(0)
        if nuls >= _UTF16_MIN_NULS * len(data):
            for encoding, share in (("utf-16-le", odd), ("utf-16-be", nuls - odd)):
                if share >= _UTF16_PARITY * nuls and _bad_bytes(data, encoding, final) == 0:
                    return encoding
        raise UndecodableError("binary content (NUL bytes)")
    bad = _bad_bytes(data, "utf-8", final)
    if bad == 0:
        return "utf-8"
    non_ascii = len(data.translate(None, _ASCII))
    if bad > _UTF8_FAILS * non_ascii and _bad_bytes(data, "gb18030", final) == 0:
        return "gb18030"
    if bad <= _MAX_REPLACED * non_ascii:
        return "utf-8"
    raise UndecodableError("not UTF-8, UTF-16 or GB18030 text")


@dataclass(frozen=True)
class Decoded:
    text: str  # the BOM, if any, is not part of it
    encoding: str
    replaced: int = 0  # bytes not valid in ``encoding``, decoded as U+FFFD


def decode(data: bytes) -> Decoded:
    """A whole file's text (:func:`detect_encoding`); raises :class:`UndecodableError`."""
    decoder = Decoder(detect_encoding(data))
    text = decoder.decode(data, final=True)
    _check_binary(text, decoder.encoding)
    decoder.check()
    return Decoded(text, decoder.encoding, decoder.replaced)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of a whole file (:func:`decode`)."""
    decoded = decode(data)
    return decoded.text, decoded.encoding


def _check_binary(text: str, encoding: str) -> None:
    head = text[:_HEAD]
    if len(_CONTROL.findall(head)) > _BINARY_CONTROL_SHARE * len(head):
        raise UndecodableError(f"binary content (control characters when read as {encoding})")


def read_text(f: BinaryIO, max_chars: int) -> tuple[str, Decoder]:
    """The text of the stream ``f``, decoded a piece at a time; the decoder says what was replaced.

    Raises :class:`TooLarge` as soon as the text passes ``max_chars``
    characters (the rest is never read), :class:`UndecodableError` for
    binary or undecodable content.
    """
    head = f.read(_HEAD)
    decoder = Decoder(detect_encoding(head, final=len(head) < _HEAD))
    pieces = [decoder.decode(head)]
    _check_binary(pieces[0], decoder.encoding)
    n = len(pieces[0])
    while n <= max_chars:
        data = f.read(_CHUNK)
        if not data:
            pieces.append(decoder.decode(b"", final=True))
            n += len(pieces[-1])
            break
        pieces.append(decoder.decode(data))
        n += len(pieces[-1])
    if n > max_chars:
        raise TooLarge(f"too large: more than {max_chars:,} characters (--max-doc-chars); not read further")
    decoder.check()
    return "".join(pieces), decoder


def _text_pieces(f: BinaryIO, decoder_out: list) -> Iterator[str]:
    """The decoded text of ``f`` a piece at a time; ``decoder_out`` receives the :class:`Decoder`."""
    head = f.read(_HEAD)
    decoder = Decoder(detect_encoding(head, final=len(head) < _HEAD))
    decoder_out.append(decoder)
    first = decoder.decode(head)
    _check_binary(first, decoder.encoding)
    yield first
    while data := f.read(_CHUNK):
        yield decoder.decode(data)
    yield decoder.decode(b"", final=True)
    decoder.check()


def open_text(f: BinaryIO) -> io.TextIOWrapper:
    """A text stream over a binary one, its encoding detected from the first 64 KiB.

    ``newline=""``: line ends stay as written. Bytes not valid in that
    encoding become U+FFFD.
    """
    head = f.read(_HEAD)
    encoding = detect_encoding(head, final=len(head) < _HEAD)
    return io.TextIOWrapper(io.BufferedReader(_Prefixed(head, f)), encoding=encoding, errors="replace", newline="")


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


class _Lines:
    """The lines of a text stream (line ends kept), each at most ``limit`` bytes, decoded one by one.

    Iterating gives ``(line number, text, bytes replaced)``; a line longer
    than ``limit`` gives ``(number, None, 0)`` and is skipped a chunk at a
    time, never held whole. UTF-8 and GB18030 are ASCII-compatible (a
    ``\\n`` byte is always a line end), so they are split as bytes and each
    line decoded on its own: a bad byte costs that line a U+FFFD, not the
    rest of the file. UTF-16 is decoded as a stream.
    """

    def __init__(self, f: BinaryIO, limit: int) -> None:
        head = f.read(_HEAD)
        self.encoding = detect_encoding(head, final=len(head) < _HEAD)
        _check_binary(Decoder(self.encoding).decode(head), self.encoding)
        self._stream = io.BufferedReader(_Prefixed(head, f), _CHUNK)
        self.limit = limit

    def __iter__(self) -> Iterator[tuple[int, str | None, int]]:
        if self.encoding.startswith("utf-16"):
            text = io.TextIOWrapper(self._stream, encoding=self.encoding, errors="zhie.count", newline="")
            read, ends = text.readline, ("\n", "\r")
        else:
            read, ends = self._stream.readline, b"\n"
        encoding = self.encoding
        n = 0
        while True:
            before = _replaced_so_far()
            line = read(self.limit + 1)
            if not line:
                return
            n += 1
            if len(line) > self.limit:
                while line and not line.endswith(ends):
                    line = read(_CHUNK)
                yield n, None, 0
                continue
            if isinstance(line, bytes):
                line = line.decode(encoding, "zhie.count")
                encoding = "utf-8" if encoding == "utf-8-sig" else encoding  # the BOM starts the first line only
            yield n, line, _replaced_so_far() - before


class _RecordLines:
    """``_Lines`` as csv.reader reads them: raises TooLarge for a line, or a record, over ``limit``."""

    def __init__(self, lines: _Lines, limit: int) -> None:
        self._lines = iter(lines)
        self.limit = limit
        self.used = 0
        self.replaced = 0

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        _, line, replaced = next(self._lines)
        if line is None or self.used + len(line) > self.limit:
            self.used = 0
            raise TooLarge(f"too large: a row over {self.limit:,} characters; skipped unread")
        self.used += len(line)
        self.replaced += replaced
        return line

    def record_done(self) -> int:
        """Bytes replaced in the record just read (and start counting the next)."""
        replaced, self.replaced, self.used = self.replaced, 0, 0
        return replaced


class _HTMLText(HTMLParser):
    """The text of an HTML page: character data (entities decoded) outside script and style.

    Block elements become a blank line (a paragraph break for layout
    cleaning), ``<br>`` a line break; everything else is dropped.
    """

    BLOCKS = frozenset("address article aside blockquote caption dd div dl dt figcaption footer h1 h2 h3 h4 h5 h6 "
                       "header hr li main nav ol p pre section table td th title tr ul".split())
    HIDDEN = frozenset({"script", "style", "noscript", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.chars = 0
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._add("\n")
        elif tag in self.BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        elif tag in self.BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._add(data)

    def _break(self) -> None:
        if self.parts and not self.parts[-1].endswith("\n\n"):
            self._add("\n\n")

    def _add(self, text: str) -> None:
        self.parts.append(text)
        self.chars += len(text)


_JSON_SPACE = re.compile(r"[ \t\r\n]*")
_JSON_DECODER = json.JSONDecoder()
_JSON_STRING_STOP = re.compile(r'["\\]')
_JSON_NESTED_STOP = re.compile(r'["\[\]{}]')
_JSON_SCALAR_STOP = re.compile(r'[,\]}\s]')


class _JSONStream:
    """The values of a JSON text read a piece at a time: one top-level value, or each element of a top-level array.

    A value longer than ``limit`` characters raises :class:`TooLarge` and
    is skipped without being held (the elements after it are still read).
    """

    def __init__(self, pieces: Iterator[str], limit: int) -> None:
        self._pieces = pieces
        self.limit = limit
        self._buf, self._pos, self._eof = "", 0, False

    def _more(self) -> bool:
        piece = next(self._pieces, None)
        if piece is None:
            self._eof = True
            return False
        self._buf = self._buf[self._pos:] + piece
        self._pos = 0
        return True

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            self._pos = _JSON_SPACE.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._more():
                return ""

    def _value(self) -> object:
        while True:
            try:
                value, end = _JSON_DECODER.raw_decode(self._buf, self._pos)
                if end < len(self._buf) or self._eof:  # a number at the end of the buffer may go on
                    self._pos = end
                    return value
            except ValueError:  # JSONDecodeError, or an integer too long to convert
                if self._eof:
                    raise
            size = len(self._buf) - self._pos
            if size > self.limit:
                self._skip_value()
                raise TooLarge(f"too large: a JSON value over {self.limit:,} characters; skipped unread")
            while len(self._buf) - self._pos <= 2 * size and self._more():
                pass

    def _skip_value(self) -> None:
        """Move past the value at the current position, a piece at a time."""
        depth, in_string = 0, False
        while True:
            buf, i = self._buf, self._pos
            while i < len(buf):
                if in_string:
                    m = _JSON_STRING_STOP.search(buf, i)
                    if m is None:
                        i = len(buf)
                        break
                    if m.group() == "\\":
                        if m.end() == len(buf):  # the escaped character is in the next piece
                            i = m.start()
                            break
                        i = m.end() + 1
                        continue
                    in_string, i = False, m.end()
                    if depth == 0:
                        self._pos = i
                        return
                elif depth == 0 and buf[i] not in '"[{':
                    m = _JSON_SCALAR_STOP.search(buf, i)
                    if m is not None:
                        self._pos = m.start()
                        return
                    i = len(buf)
                else:
                    m = _JSON_NESTED_STOP.search(buf, i)
                    if m is None:
                        i = len(buf)
                        break
                    ch, i = m.group(), m.end()
                    if ch == '"':
                        in_string = True
                    elif ch in "[{":
                        depth += 1
                    else:
                        depth -= 1
                        if depth == 0:
                            self._pos = i
                            return
            self._buf, self._pos = buf[i:], 0
            if not self._more():
                self._pos = len(self._buf)
                return

    def values(self) -> Iterator[tuple[int | None, object]]:
        """``(None, value)`` for a top-level value that is not an array, else ``(index, element)``.

        An element that is too large yields ``(index, TooLarge)``; invalid
        JSON raises ValueError.
        """
        first = self._peek()
        if first == "":
            raise ValueError("empty: no JSON value")
        if first != "[":
            value = self._value()
            if self._peek() != "":
                raise ValueError("extra data after the JSON value")
            yield None, value
            return
        self._pos += 1
        index = 0
        if self._peek() == "]":
            self._pos += 1
        else:
            while True:
                try:
                    yield index, self._value()
                except TooLarge as err:
                    yield index, err
                index += 1
                sep = self._peek()
                self._pos += 1
                if sep == "]":
                    break
                if sep != ",":
                    raise ValueError(f"expected ',' or ']' after element {index - 1}")
                self._peek()
        if self._peek() != "":
            raise ValueError("extra data after the JSON array")


# ---------------------------------------------------------------- reading

# The default --max-doc-chars. A news article is a few thousand characters
# and a government work report about 40,000; 1,000,000 is a whole novel (红楼梦
# is about 900,000). Held as text, offset maps and results that is some 40 MB,
# and the shipped model annotates it in about 3 minutes on 2 CPU cores.
# Anything longer is not one document but a dump to split first: reported as
# too large, and only the first max_doc_chars characters' worth of bytes are read.
DEFAULT_MAX_DOC_CHARS = 1_000_000
# Bound on the bytes of one JSONL / CSV line or JSON value, in units of
# max_doc_chars: JSON escapes a character in up to 6 bytes (\uXXXX).
_LINE_BYTES_PER_CHAR = 6
# Markup an HTML page may carry per character of text.
_HTML_MARKUP = 16
# Bytes per character at most (UTF-8, GB18030): a file larger than
# max_doc_chars times this is too large without reading it.
_MAX_BYTES_PER_CHAR = 4
_SURROGATES = re.compile("[\ud800-\udfff]")
_MAX_VALUE_CHARS = 200  # of an offending value quoted in a message
_REPORT_TITLE = b"<title>zhie annotation: "  # how pipeline.app.report's pages begin


@dataclass(frozen=True)
class Document:
    id: str
    text: str  # as decoded: every output offset refers to it
    source: str  # the file it came from (archive members: archive path/member)
    date: object = None  # the row's --date-field value, as read (pipeline.app.dates reads it)


@dataclass(frozen=True)
class Problem:
    """Something a run could not do, or did with a caveat, as written to ``OUT.errors.jsonl``."""

    id: str  # document id, or the path of a file that yielded none
    source: str
    error: str
    # unreadable | too_large | skipped (a file of no supported type, a link) |
    # warning (annotated, but see error) | duplicate | failed
    kind: str = "unreadable"


class InputError(ValueError):
    """A problem, raised (readers without ``on_problem``), or no input can be read at all."""


SUFFIX_KINDS = {".txt": "txt", ".md": "txt", ".html": "html", ".htm": "html", ".json": "json", ".jsonl": "jsonl",
                ".csv": "csv", ".parquet": "parquet", ".zip": "zip", ".tar": "tar", ".tgz": "tar", ".tar.gz": "tar"}
CONTAINERS = {"zip", "tar"}  # opened unless excluded; --include filters their members
_TEXT_KINDS = {"txt", "html"}  # one document per file


def file_kind(name: str) -> str | None:
    """The reader for a file name (by suffix, case-insensitive), None if unsupported."""
    lower = name.lower()
    if lower.endswith(".tar.gz"):
        return "tar"
    return SUFFIX_KINDS.get(os.path.splitext(lower)[1])


def is_dataset_folder(path: Path) -> bool:
    """A Hugging Face ``save_to_disk`` folder (Dataset or DatasetDict); False for a folder that cannot be read."""
    try:
        return ((path / "dataset_info.json").is_file() and (path / "state.json").is_file()) \
            or (path / "dataset_dict.json").is_file()
    except OSError:
        return False


def _unsupported(name: str) -> str:
    suffix = os.path.splitext(name)[1] or "no suffix"
    return (f"skipped: unsupported type ({suffix}; supported: {', '.join(SUFFIX_KINDS)}, "
            "Hugging Face dataset folders)")


def _short(value: object) -> str:
    """``repr(value)``, cut to about 200 characters."""
    text = repr(value)
    if len(text) <= _MAX_VALUE_CHARS:
        return text
    size = f"{len(value):,} {'bytes' if isinstance(value, (bytes, bytearray)) else 'characters'}" \
        if isinstance(value, (str, bytes, bytearray)) else type(value).__name__
    return f"{text[:_MAX_VALUE_CHARS]}... ({size})"


def _clip(text: str) -> str:
    """``text``, cut to about 200 characters."""
    return text if len(text) <= _MAX_VALUE_CHARS else f"{text[:_MAX_VALUE_CHARS]}... ({len(text):,} characters)"


def escape_surrogates(text: str) -> str:
    """``text`` with unpaired surrogates (not text: they cannot be written as UTF-8) as ``\\udc80`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATES.search(text) else text


@dataclass(frozen=True)
class _Entry:
    path: Path
    rel: str  # the path as in ids
    kind: str  # a SUFFIX_KINDS value or "dataset"
    size: int


class DocumentReader:
    """Every document under ``inputs``, in a stable order, with unique ids.

    ``include`` / ``exclude``: glob patterns (``fnmatch``: ``*`` also
    crosses ``/``) matched against a document file's path as it appears in
    ids (``2024/a.txt``, ``news.zip/2024/a.txt``); archives are opened
    unless excluded, and the patterns filter their members; files named as
    inputs are always read. ``on_problem`` receives every problem; without
    it the first one that loses a document raises :class:`InputError`
    (skipped files and warnings do not). ``bytes_read`` /
    ``total_bytes`` measure progress.

    ``skip``: files never read (the run's own outputs); files that an
    earlier run wrote beside its ``X.summary.json`` are skipped too, and
    reported. ``max_doc_chars``: a longer document is reported as too large
    (kind ``too_large``) and not read further. :meth:`check` walks the
    inputs and checks what can be checked before reading (each file opens;
    CSV, Parquet and dataset columns; sizes); iterating calls it first.
    """

    def __init__(self, inputs: Iterable[str | os.PathLike], *, include: Sequence[str] = (),
                 exclude: Sequence[str] = (), text_field: str = "text", id_field: str = "id",
                 date_field: str | None = None, on_problem: Callable[[Problem], None] | None = None,
                 max_doc_chars: int = DEFAULT_MAX_DOC_CHARS, skip: Iterable[str | os.PathLike] = ()) -> None:
        self.inputs = [Path(p) for p in inputs]
        for path in self.inputs:
            if not path.exists():
                raise FileNotFoundError(f"input {path} does not exist")
        self.include, self.exclude = tuple(include), tuple(exclude)
        self.text_field, self.id_field = text_field, id_field
        self.date_field = date_field  # optional per row; a table without the column is an input error
        self.on_problem = on_problem
        if max_doc_chars < 1:
            raise ValueError("--max-doc-chars must be at least 1")
        self.max_doc_chars = max_doc_chars
        self._line_limit = _LINE_BYTES_PER_CHAR * max_doc_chars + (1 << 16)
        self._skip: dict[str, set[str]] = {}  # real folder path -> names in it
        self._entries: list[_Entry] | None = None
        self.skip_files(skip)
        self._total: int | None = None
        self.bytes_read = 0

    def skip_files(self, paths: Iterable[str | os.PathLike]) -> None:
        """Never read ``paths`` (a run's own outputs); before :meth:`check` walks the inputs."""
        if self._entries is not None:
            raise RuntimeError("skip_files after the inputs were walked")
        for p in paths:
            self._skip.setdefault(os.path.realpath(Path(p).parent), set()).add(Path(p).name)

    def __iter__(self) -> Iterator[Document]:
        self.check()
        seen: set[str] = set()
        for doc in self._documents():
            doc = self._sanitised(doc)
            if doc.id in seen:
                k = 2
                while f"{doc.id}#{k}" in seen:
                    k += 1
                new = replace(doc, id=f"{doc.id}#{k}")
                self._report(Problem(new.id, doc.source, f"duplicate id {_short(doc.id)} renamed {_short(new.id)}",
                                     "duplicate"))
                doc = new
            seen.add(doc.id)
            yield doc

    @property
    def total_bytes(self) -> int:
        """Size of every file that will be read."""
        self.check()
        if self._total is None:
            self._total = sum(e.size for e in self._entries)
        return self._total

    def check(self) -> None:
        """Walk the inputs once and check every file that can be checked before reading.

        Unreadable folders and files, CSV / Parquet / dataset files without
        the text (or date) column, text files too large by their size, and
        files of other types are reported and left out. Raises
        :class:`InputError` when there were files but none is left.
        """
        if self._entries is not None:
            return
        found, failed = [], []
        self._entries = []  # a problem sink that reads total_bytes sees an empty walk, not a second one
        for entry in self._walk_inputs(failed):
            problem = self._precheck(entry)
            if problem is None:
                found.append(entry)
            else:
                failed.append(problem)
                self._report(problem)
        self._entries, self._total = found, None
        if failed and not found:
            shown = "; ".join(f"{p.id}: {p.error}" for p in failed[:3])
            more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
            raise InputError(f"no input can be read: {shown}{more}")

    # -- walking

    def _walk_inputs(self, failed: list[Problem]) -> Iterator[_Entry]:
        """Every input file, folders walked in path order; problems reported and added to ``failed``."""
        def report(problem: Problem) -> None:
            failed.append(problem)
            self._report(problem)

        for root in self.inputs:
            if root.is_dir() and not is_dataset_folder(root):
                yield from self._walk(root, "", report)
            elif root.is_dir():
                yield _Entry(root, root.name, "dataset", 0)
            else:
                kind = file_kind(root.name)
                if kind is None:
                    report(Problem(root.name, str(root), _unsupported(root.name), "skipped"))
                else:
                    yield _Entry(root, root.name, kind, 0)

    def _walk(self, folder: Path, prefix: str, report: Callable[[Problem], None]) -> Iterator[_Entry]:
        # Files and folders interleaved by name: the order of sorted(rglob()).
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            report(Problem(prefix.rstrip("/") or folder.name, str(folder),
                           f"cannot read folder: {err.strerror or err}"))
            return
        skip = self._skip.get(os.path.realpath(folder), set())
        earlier = _earlier_outputs(folder, [e.name for e in entries])
        for entry in entries:
            path, rel = Path(entry.path), prefix + entry.name
            if entry.name in skip:
                continue  # this run's own output
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
                linked_dir = not is_dir and entry.is_symlink() and entry.is_dir()
            except OSError as err:
                report(Problem(rel, str(path), f"cannot read: {err.strerror or err}"))
                continue
            if is_dir:
                if is_dataset_folder(path):
                    if self._wanted(rel, "dataset"):
                        yield _Entry(path, rel, "dataset", 0)
                else:
                    yield from self._walk(path, rel + "/", report)
                continue
            kind = file_kind(entry.name) if is_file else None
            if not self._wanted(rel, kind or ""):
                continue
            if linked_dir:
                report(Problem(rel, str(path), "skipped: a link to a folder (not followed)", "skipped"))
            elif not is_file:
                report(Problem(rel, str(path), "skipped: not a regular file (a device, socket, FIFO or broken link)",
                               "skipped"))
            elif entry.name in earlier:
                report(Problem(rel, str(path), f"skipped: written by an earlier zhie annotate run "
                                               f"(see {earlier[entry.name]})", "skipped"))
            elif kind is None:
                report(Problem(rel, str(path), _unsupported(entry.name), "skipped"))
            else:
                yield _Entry(path, rel, kind, 0)

    def _wanted(self, rel: str, kind: str) -> bool:
        if any(fnmatchcase(rel, p) for p in self.exclude):
            return False
        return kind in CONTAINERS or not self.include or any(fnmatchcase(rel, p) for p in self.include)

    def _precheck(self, entry: _Entry) -> Problem | None:
        """Why ``entry`` cannot be read, found without reading it; None if it looks readable. Sets its size."""
        path, rel, source = entry.path, entry.rel, str(entry.path)
        try:
            if entry.kind == "dataset":
                object.__setattr__(entry, "size", _folder_bytes(path))
                missing = self._dataset_columns_missing(path)
                return Problem(rel, source, missing) if missing else None
            object.__setattr__(entry, "size", path.stat().st_size)
            too_large = self._too_large(entry.kind, entry.size)
            if too_large:
                return Problem(rel, source, too_large, "too_large")
            with open(path, "rb") as f:
                if entry.kind == "csv":
                    header = next(csv.reader(_RecordLines(_Lines(f, self._line_limit), self._line_limit)), None)
                    if header is not None:
                        self._columns(header)
                elif entry.kind == "parquet":
                    import pyarrow.parquet as pq

                    self._columns(pq.ParquetFile(f).schema_arrow.names)
                elif entry.kind == "html" and _REPORT_TITLE in f.read(1 << 10):
                    return Problem(rel, source, "skipped: a report page written by zhie annotate --report", "skipped")
        except OSError as err:
            return Problem(rel, source, f"cannot read: {err.strerror or err}")
        except (InputError, UndecodableError, TooLarge) as err:
            return Problem(rel, source, str(err), "too_large" if isinstance(err, TooLarge) else "unreadable")
        except Exception as err:  # noqa: BLE001 - a broken file is reported here, not when read
            return Problem(rel, source, _describe(err))
        return None

    def _too_large(self, kind: str, size: int | None) -> str | None:
        """Why a file of ``size`` bytes is too large to be one document, by its size alone."""
        if kind not in _TEXT_KINDS or size is None:
            return None
        limit = _MAX_BYTES_PER_CHAR * self.max_doc_chars * (_HTML_MARKUP if kind == "html" else 1) + 4
        if size <= limit:
            return None
        return (f"too large: {size:,} bytes, more than --max-doc-chars {self.max_doc_chars:,} characters can take; "
                "not read")

    def _dataset_columns_missing(self, folder: Path) -> str | None:
        """Why a saved dataset lacks a needed column (from its dataset_info.json files), else None."""
        infos = [folder / "dataset_info.json"] if (folder / "dataset_info.json").is_file() else \
            sorted(folder.glob("*/dataset_info.json"))
        for info in infos:
            features = json.loads(info.read_text(encoding="utf-8")).get("features")
            if isinstance(features, dict):
                try:
                    self._columns(list(features))
                except InputError as err:
                    where = info.parent.name if info.parent != folder else folder.name
                    return f"{where}: {err}"
        return None

    def _columns(self, names: Sequence[str]) -> tuple[int, int | None, int | None]:
        """Indexes of the text, id and date columns in ``names``; InputError if text (or a named date) is missing."""
        names = list(names)
        text_col = _column(names, self.text_field)
        id_col = names.index(self.id_field) if self.id_field in names else None
        date_col = _column(names, self.date_field, "--date-field") if self.date_field else None
        return text_col, id_col, date_col

    def _documents(self) -> Iterator[Document]:
        for entry in self._entries:
            if entry.kind == "dataset":
                yield from self._guarded(self._dataset(entry.path, entry.rel), entry.rel, str(entry.path))
            else:
                yield from self._guarded(self._open_file(entry), entry.rel, str(entry.path))

    def _open_file(self, entry: _Entry) -> Iterator[Document]:
        with io.BufferedReader(_Counting(entry.path, self), buffer_size=_CHUNK) as f:
            yield from self._read(f, entry.rel, str(entry.path), entry.kind, entry.size)

    def _guarded(self, docs: Iterator[Document], rel: str, source: str) -> Iterator[Document]:
        """``docs``, but a failure reading them is reported, not raised (documents already read stay)."""
        try:
            yield from docs
        except InputError:
            if self.on_problem is None:
                raise  # already the report of a problem
            self._report(Problem(rel, source, str(sys.exc_info()[1])))
        except TooLarge as err:
            self._report(Problem(rel, source, str(err), "too_large"))
        except Exception as err:  # any failure inside one file must not end the run
            self._report(Problem(rel, source, _describe(err)))

    def _report(self, problem: Problem) -> None:
        problem = Problem(escape_surrogates(problem.id), escape_surrogates(problem.source),
                          escape_surrogates(problem.error), problem.kind)
        if self.on_problem is None:
            if problem.kind in ("skipped", "warning"):
                return  # nothing is lost: no reason to stop a reader without a sink
            raise InputError(f"{problem.id}: {problem.error} ({problem.source})")
        self.on_problem(problem)

    def _sanitised(self, doc: Document) -> Document:
        """``doc`` with unpaired surrogates (from JSON ``\\udc80`` escapes or undecodable file names) made valid."""
        if _SURROGATES.search(doc.id) or _SURROGATES.search(doc.source):
            new_id = escape_surrogates(doc.id)
            if new_id != doc.id:
                self._report(Problem(new_id, escape_surrogates(doc.source),
                                     f"id {_short(doc.id)} has unpaired surrogates; written as {_short(new_id)}",
                                     "warning"))
            doc = replace(doc, id=new_id, source=escape_surrogates(doc.source))
        if _SURROGATES.search(doc.text):
            n = len(_SURROGATES.findall(doc.text))
            self._report(Problem(doc.id, doc.source, f"text has {n} unpaired surrogates, each replaced by U+FFFD "
                                                     "(offsets unchanged)", "warning"))
            doc = replace(doc, text=_SURROGATES.sub("\ufffd", doc.text))
        return doc

    def _document(self, doc_id: object, default_id: str, text: str, source: str, date: object = None,
                  replaced: int = 0) -> Document | None:
        """A row's document, or None (reported) if its text is too large; ``replaced`` bytes are reported."""
        if len(text) > self.max_doc_chars:
            self._report(Problem(default_id, source, f"too large: {len(text):,} characters, more than "
                                                     f"--max-doc-chars {self.max_doc_chars:,}", "too_large"))
            return None
        if replaced:
            self._report(Problem(default_id, source, f"decoded with {replaced} replaced bytes (each bad run is one "
                                                     "U+FFFD)", "warning"))
        return Document(_id(doc_id, default_id), text, source, date)

    # -- formats; ``f`` is an open binary stream

    def _read(self, f: BinaryIO, rel: str, source: str, kind: str, size: int | None = None) -> Iterator[Document]:
        too_large = self._too_large(kind, size)
        if too_large:
            raise TooLarge(too_large)
        if kind == "txt":
            text, decoder = read_text(f, self.max_doc_chars)
            if decoder.warning:
                self._report(Problem(rel, source, decoder.warning, "warning"))
            yield Document(rel, text, source)
        elif kind == "html":
            yield from self._html(f, rel, source)
        elif kind == "json":
            yield from self._json(f, rel, source)
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

    def _member(self, open_member: Callable[[], BinaryIO], rel: str, source: str,
                size: int | None = None) -> Iterator[Document]:
        kind = file_kind(rel)
        if not self._wanted(rel, kind or ""):
            return
        if kind is None:
            self._report(Problem(rel, source, _unsupported(rel), "skipped"))
            return

        def docs() -> Iterator[Document]:
            with open_member() as f:
                yield from self._read(f, rel, source, kind, size)

        yield from self._guarded(docs(), rel, source)

    def _zip(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        with zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                name = _zip_member_name(info)
                if stat.S_ISLNK(info.external_attr >> 16):
                    if self._wanted(f"{rel}/{name}", ""):
                        self._report(Problem(f"{rel}/{name}", f"{source}/{name}",
                                             "skipped: a symbolic link in the zip (not followed)", "skipped"))
                    continue
                yield from self._member(lambda info=info: archive.open(info), f"{rel}/{name}", f"{source}/{name}",
                                        info.file_size)

    def _tar(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        # "r:*" (not the stream mode "r|*"): members are seekable, which
        # Parquet and nested zip files need; gzip is still decompressed lazily.
        with tarfile.open(fileobj=f, mode="r:*") as archive:
            while (info := archive.next()) is not None:
                archive.members.clear()  # tarfile keeps every header; we need none
                name = info.name.removeprefix("./")
                if info.isfile():
                    yield from self._member(lambda info=info: archive.extractfile(info), f"{rel}/{name}",
                                            f"{source}/{name}", info.size)
                elif not info.isdir() and self._wanted(f"{rel}/{name}", ""):
                    what = ("a hard link to " + info.linkname if info.islnk() else
                            "a symbolic link to " + info.linkname if info.issym() else
                            "a device" if info.ischr() or info.isblk() else "a FIFO" if info.isfifo() else
                            "a special member")
                    self._report(Problem(f"{rel}/{name}", f"{source}/{name}",
                                         f"skipped: {_clip(what)} in the tar (not followed)", "skipped"))

    def _html(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        parser, decoder = _HTMLText(), []
        raw, limit = 0, _HTML_MARKUP * self.max_doc_chars
        for piece in _text_pieces(f, decoder):
            raw += len(piece)
            parser.feed(piece)
            if parser.chars > self.max_doc_chars or raw > limit:
                raise TooLarge(f"too large: more than {self.max_doc_chars:,} characters of text (--max-doc-chars) "
                               f"or {limit:,} of HTML; not read further")
        parser.close()
        if decoder[0].warning:
            self._report(Problem(rel, source, decoder[0].warning, "warning"))
        yield Document(rel, "".join(parser.parts), source)

    def _json(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        decoder: list[Decoder] = []
        stream = _JSONStream(_text_pieces(f, decoder), self._line_limit)
        for index, value in stream.values():
            row = rel if index is None else f"{rel}:{index}"
            if isinstance(value, TooLarge):
                self._report(Problem(row, source, str(value), "too_large"))
                continue
            text = value.get(self.text_field) if isinstance(value, dict) else None
            if not isinstance(text, str):
                what = f"{self.text_field!r} is {_short(text)}" if isinstance(value, dict) else \
                    f"a JSON {type(value).__name__}"
                self._report(Problem(row, source, f"not a JSON object with a string {self.text_field!r} field "
                                                  f"({what})"))
                continue
            doc = self._document(value.get(self.id_field), row, text, source,
                                 value.get(self.date_field) if self.date_field else None)
            if doc is not None:
                yield doc
        if decoder and decoder[0].warning:
            self._report(Problem(rel, source, decoder[0].warning, "warning"))

    def _jsonl(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        for n, line, replaced in _Lines(f, self._line_limit):
            row = f"{rel}:{n}"
            if line is None:
                self._report(Problem(row, source, f"too large: a line over {self._line_limit:,} bytes; skipped unread",
                                     "too_large"))
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise TypeError(f"a JSON {type(obj).__name__}")
                text = obj[self.text_field]
                if not isinstance(text, str):
                    raise TypeError(f"{self.text_field!r} is {type(text).__name__}")
            except (ValueError, KeyError, TypeError) as err:  # ValueError: JSONDecodeError, a number too long
                self._report(Problem(row, source,
                                     f"not a JSON object with a string {self.text_field!r} field ({_clip(str(err))})"))
                continue
            doc = self._document(obj.get(self.id_field), row, text, source,
                                 obj.get(self.date_field) if self.date_field else None, replaced)
            if doc is not None:
                yield doc

    def _csv(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # whole articles in one cell; rows are bounded below
        lines = _RecordLines(_Lines(f, self._line_limit), self._line_limit)
        header = next(csv.reader(lines), None)
        if header is None:
            return  # empty file
        lines.record_done()
        text_col, id_col, date_col = self._columns(header)
        n = 1  # the header's row, as a spreadsheet numbers it
        while True:
            try:
                for row in csv.reader(lines):  # a new reader after a row too large to read
                    n += 1
                    replaced = lines.record_done()
                    if not row:
                        continue
                    if text_col >= len(row):
                        self._report(Problem(f"{rel}:{n}", source, f"row {n} has no {self.text_field!r} cell"))
                        continue
                    doc_id = row[id_col] if id_col is not None and id_col < len(row) and row[id_col] else None
                    date = row[date_col] if date_col is not None and date_col < len(row) else None
                    doc = self._document(doc_id, f"{rel}:{n}", row[text_col], source, date, replaced)
                    if doc is not None:
                        yield doc
                return
            except TooLarge as err:
                n += 1
                lines.record_done()
                self._report(Problem(f"{rel}:{n}", source, str(err), "too_large"))

    def _parquet(self, f: BinaryIO, rel: str, source: str) -> Iterator[Document]:
        import pyarrow.parquet as pq

        table = pq.ParquetFile(f)
        names = table.schema_arrow.names
        _column(names, self.text_field)
        columns = [self.text_field] + ([self.id_field] if self.id_field in names else []) + self._date_column(names)
        batches = (b.to_pydict() for b in table.iter_batches(batch_size=256, columns=columns))
        yield from self._rows(batches, rel, source)

    def _dataset(self, folder: Path, rel: str) -> Iterator[Document]:
        import datasets

        loaded = datasets.load_from_disk(str(folder))  # memory-mapped Arrow
        splits = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(None, loaded)]
        folder_bytes = _folder_bytes(folder)
        total_rows = max(sum(ds.num_rows for _, ds in splits), 1)
        for split, ds in splits:
            _column(ds.column_names, self.text_field)
            columns = [self.text_field] + ([self.id_field] if self.id_field in ds.column_names else []) \
                + self._date_column(ds.column_names)
            batches = ds.select_columns(columns).iter(batch_size=256)
            prefix = rel if split is None else f"{rel}/{split}"
            for doc in self._rows(batches, prefix, str(folder)):
                yield doc
                self.bytes_read += folder_bytes // total_rows  # memory-mapped: no reads to count

    def _date_column(self, names: Sequence[str]) -> list[str]:
        if not self.date_field:
            return []
        _column(names, self.date_field, "--date-field")
        return [self.date_field] if self.date_field not in (self.text_field, self.id_field) else []

    def _rows(self, batches: Iterable[dict[str, list]], rel: str, source: str) -> Iterator[Document]:
        index = 0
        for batch in batches:
            ids = batch.get(self.id_field) or [None] * len(batch[self.text_field])
            dates = batch.get(self.date_field) if self.date_field else None
            dates = dates or [None] * len(batch[self.text_field])
            for text, doc_id, date in zip(batch[self.text_field], ids, dates):
                row, replaced = f"{rel}:{index}", 0
                index += 1
                if isinstance(text, (bytes, bytearray)):  # a binary column: decoded like a file
                    try:
                        decoded = decode(bytes(text))
                    except UndecodableError as err:
                        self._report(Problem(row, source, f"{self.text_field!r} is {_short(bytes(text))}: {err}"))
                        continue
                    text, replaced = decoded.text, decoded.replaced
                if isinstance(doc_id, (bytes, bytearray)):
                    doc_id = bytes(doc_id).decode("utf-8", "backslashreplace")
                if isinstance(text, str):
                    doc = self._document(doc_id, row, text, source, date, replaced)
                    if doc is not None:
                        yield doc
                else:
                    self._report(Problem(row, source, f"{self.text_field!r} is {_short(text)}, not text"))


def _id(value: object, default: str) -> str:
    return default if value is None or value == "" else str(value)


def _column(names: Sequence[str], name: str, option: str = "--text-field") -> int:
    if name not in names:
        shown = ", ".join(map(str, names))
        raise InputError(f"no {name!r} column (columns: {_clip(shown)}); see {option}")
    return list(names).index(name)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _earlier_outputs(folder: Path, names: Sequence[str]) -> dict[str, str]:
    """Files in ``folder`` written by an earlier ``zhie annotate`` (name -> its summary's name).

    Recognised by ``X.summary.json`` (a summary: it names its output) beside
    them: X, X.errors.jsonl, X.summary.json, X.lock, X's tables and their
    temporary files. (Report pages are recognised by their title: ``_precheck``.)
    """
    found: dict[str, str] = {}
    present = set(names)
    for name in names:
        if not name.endswith(".summary.json"):
            continue
        try:
            with open(folder / name, "rb") as f:
                summary = json.loads(f.read(1 << 16))
        except (OSError, ValueError):
            continue
        if not (isinstance(summary, dict) and "output" in summary and "documents" in summary):
            continue
        for path in output_paths(folder / name[:-len(".summary.json")]):
            if path.name in present:
                found[path.name] = name
    return found


def _describe(err: Exception) -> str:
    if isinstance(err, (UndecodableError, InputError, TooLarge)):
        return str(err)
    if isinstance(err, UnicodeDecodeError):
        return f"cannot decode as {err.encoding} at byte {err.start}"
    return _clip(f"{type(err).__name__}: {err}")


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


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


def output_paths(output: Path, report: Path | None = None) -> list[Path]:
    """Every file a run writing ``output`` may create: OUT, its errors, summary, lock and tables, their
    temporary files, and the report."""
    output = Path(output)
    paths = [output, errors_path(output), summary_path(output), lock_path(output)]
    paths += [table_path(output, table, fmt) for fmt in ("parquet", "csv") for table in ("entities", "relations")]
    if report is not None:
        paths.append(Path(report))
    return paths + [p.with_name(p.name + ".tmp") for p in paths]


def check_output(output: Path, inputs: Iterable[str | os.PathLike], report: Path | None = None) -> None:
    """Refuse (ValueError) an output that is an input file or inside one, or a folder, before anything is touched.

    An output inside an input *folder* is fine: the reader skips it.
    """
    output = Path(output)
    if output.is_dir():
        raise ValueError(f"output {output} is a folder; name a file, e.g. {output / 'annotations.jsonl'}")
    inputs = [Path(p) for p in inputs]
    for path in output_paths(output, report):
        real = Path(os.path.realpath(path))
        for given in inputs:
            source = Path(os.path.realpath(given))
            if real == source or (path.exists() and given.exists() and os.path.samefile(path, given)):
                raise ValueError(f"output {path} is the input {given}: it would be overwritten before it is read; "
                                 "write to another file")
            if source in real.parents and not source.is_dir():
                raise ValueError(f"output {path} would be inside the input file {given}; write to another file")


class OutputLocked(RuntimeError):
    """Another live run is writing the same output."""


class OutputLock:
    """``OUT.lock``: one run writes OUT at a time.

    The file holds the owner's pid and host (JSON) and is locked with
    ``flock`` while the run lasts: the kernel drops that lock when the owner
    dies, even by SIGKILL, so a lock file left by a dead run is stale and
    taken over (``stale`` then holds what it said), while one held by a live
    run is refused with :class:`OutputLocked` naming the file and the
    owner. Where ``fcntl`` is missing, the file is created exclusively and
    an existing one is stale when its pid is not running on this host.
    """

    def __init__(self, output: Path) -> None:
        self.output = Path(output)
        self.path = lock_path(self.output)
        self.stale: dict | None = None
        self._fd = -1

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode()
        for _ in range(10):
            fd = self._open_locked()
            if fd < 0:
                continue  # the file was replaced while we locked it: again
            previous = _read_owner(fd)
            if previous and previous.get("pid") != os.getpid():
                self.stale = previous
            os.ftruncate(fd, 0)
            os.pwrite(fd, me, 0)
            self._fd = fd
            return
        raise OutputLocked(f"could not lock {self.path}")

    def _open_locked(self) -> int:
        if fcntl is None:
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                fd = os.open(self.path, os.O_RDONLY)
                owner = _read_owner(fd)
                os.close(fd)
                if owner and owner.get("host") == socket.gethostname() and not _alive(owner.get("pid")):
                    self.path.unlink(missing_ok=True)
                    return -1
                raise OutputLocked(self._refusal(owner)) from None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = _read_owner(fd)
            os.close(fd)
            raise OutputLocked(self._refusal(owner)) from None
        # The owner before us unlinks the file when it ends: the one we locked must still be the one named.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            return -1
        return fd

    def _refusal(self, owner: dict | None) -> str:
        who = f"pid {owner.get('pid')} on {owner.get('host')}" if owner else "another process"
        return (f"{self.output} is being written by another zhie annotate run ({who}; lock file {self.path}); "
                "wait for it to end or write to another file")

    def release(self) -> None:
        if self._fd >= 0:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = -1


def _read_owner(fd: int) -> dict | None:
    try:
        owner = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _LineFile:
    """Append-only JSONL: each write() is whole lines, so a crash can cut at most the last one."""

    def __init__(self, path: Path, *, resume: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | (0 if resume else os.O_TRUNC), 0o644)
        os.lseek(self._fd, 0, os.SEEK_END)
        self._pending: list[bytes] = []

    def add(self, obj: dict) -> None:
        # backslashreplace: an unpaired surrogate that got this far is written as its JSON escape
        self._pending.append(json.dumps(obj, ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n")

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


_RECORD_LIMIT = 1 << 28  # bytes of one output line at most (a whole max_doc_chars document's record is far less)


def read_complete_lines(path: Path) -> Iterator[dict]:
    """The records of a JSONL file a run wrote, cutting off a trailing partial line (a crash's).

    Truncates the file after its last complete line. A file that is not
    such output (binary content, a line that is not a JSON object with an
    ``"id"``, a broken line before the last) raises ValueError naming the
    file and line, and is left as it is.
    """
    if not path.exists():
        return
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a JSONL file; cannot resume from it")
    good = 0
    with path.open("rb") as f:
        n = 0
        while line := f.readline(_RECORD_LIMIT):
            n += 1
            if not line.endswith(b"\n"):
                # a crash's half-written record: the last line, and it starts like one
                if len(line) < _RECORD_LIMIT and line.startswith(b'{"id": ') and not f.read(1):
                    break
                raise ValueError(f"{path}:{n} is not a complete JSON line (not written by zhie annotate?); "
                                 "cannot resume from it")
            try:
                obj = json.loads(line)
            except ValueError:  # JSONDecodeError, UnicodeDecodeError
                obj = None
            if not (isinstance(obj, dict) and "id" in obj):
                raise ValueError(f"{path}:{n} is not a record of zhie annotate (a JSON object with an \"id\"); "
                                 "cannot resume from it")
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

