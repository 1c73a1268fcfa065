"""The ``relation_extractor`` component: directed, labelled relations between entities.

For every candidate pair of entities (:func:`candidate_pairs`) the model
(:func:`build_relation_model`) reads the shared transformer's token vectors
through a listener, pools the head span, the tail span and the text between
them, adds embeddings of a few structural features (label pair, order,
distance, entities in between, the characters in between), and gives one
independent probability per relation label. Labels a pair's entity types do
not allow (ANNOTATION.md: has_title is PERSON -> TITLE only, ...) are never
scored. Relations at or above ``threshold`` are written to ``doc._.relations``
as ``{"head": (start_char, end_char), "tail": (...), "label", "score"}``;
being a ``Doc`` extension they travel with ``Doc.to_bytes`` and ``DocBin``
(``store_user_data``); the extension's getter gives heads and tails back as
tuples after either, so ``Doc.from_bytes(doc.to_bytes())._.relations ==
doc._.relations``.

Training examples carry their gold relations in the same extension on the
reference Doc, and ``doc._.relations_judged``: the labels the source decides
(None: all). A candidate pair without a gold relation is a negative only for
judged labels; for the others it is missing and adds nothing to the loss.
Candidates are drawn from the reference entities during training (the NER's
errors are not the relation model's to learn) and from ``doc.ents`` when
predicting, so the scores ``spacy train`` logs are end to end.
"""

from __future__ import annotations

from dataclasses import asdict
from itertools import islice
from typing import Callable, Iterable, Optional

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Linear, Model, Ops, Optimizer, Relu, chain, set_dropout_rate
from thinc.types import Floats2d, Ints2d

from .distributive import pair_distributive
from .events import assemble_events
from .gold import ENTITY_LABELS, RELATION_TYPES, sentence_index
from .money import money_at

RELATION_LABELS = tuple(RELATION_TYPES)


def allowed_labels(head_label: str, tail_label: str) -> tuple[str, ...]:
    """Relation labels that may join a ``head_label`` entity to a ``tail_label`` one."""
    return tuple(lab for lab, (heads, tails) in RELATION_TYPES.items() if head_label in heads and tail_label in tails)


# ------------------------------------------------------------ Doc extensions


def _doc_events(doc: Doc) -> list[dict]:
    return assemble_events(doc_as_record(doc))


def _span_money(span: Span) -> Optional[dict]:
    if span.label_ != "MONEY":
        return None
    money = money_at(span.doc.text, span.start_char, span.end_char)
    return None if money is None else asdict(money)


# ``doc._.relations`` is kept in ``doc.user_data`` under the key a plain
# ``default=None`` extension would use (DocBins written before read the same),
# but read through a getter: msgpack hands the spans back as lists (Doc.from_bytes)
# or the list back as a tuple (DocBin), and the getter turns them back into
# tuples in a list, so relations compare equal after a round trip and a head
# can be a dict key.
_RELATIONS_KEY = ("._.", "relations", None, None)


def _normalised(rels) -> list[dict]:
    """``rels`` as a list whose relations have tuple heads and tails (dicts updated in place)."""
    rels = rels if type(rels) is list else list(rels)
    for r in rels:
        for key in ("head", "tail"):
            if type(r.get(key)) is not tuple and r.get(key) is not None:
                r[key] = tuple(r[key])
    return rels


def _get_relations(doc: Doc) -> Optional[list[dict]]:
    rels = doc.user_data.get(_RELATIONS_KEY)
    if rels is None:
        return None
    if type(rels) is not list or any(type(r.get("head")) is not tuple or type(r.get("tail")) is not tuple
                                     for r in rels):
        rels = doc.user_data[_RELATIONS_KEY] = _normalised(rels)
    return rels


def _set_relations(doc: Doc, rels) -> None:
    doc.user_data[_RELATIONS_KEY] = None if rels is None else _normalised(rels)


for _name, _kwargs in (("relations", {"getter": _get_relations, "setter": _set_relations}),
                       ("relations_judged", {"default": None}), ("events", {"getter": _doc_events})):
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, **_kwargs)
if not Span.has_extension("money"):
    Span.set_extension("money", getter=_span_money)


def doc_as_record(doc: Doc) -> dict:
    """The Doc's entities and relations in the shape of ``data/gold`` (char offsets into ``doc.text``)."""
    entities = [{"id": f"e{i}", "start": e.start_char, "end": e.end_char, "label": e.label_, "text": e.text}
                for i, e in enumerate(sorted(doc.ents, key=lambda e: (e.start_char, e.end_char)), 1)]
    ids = {(e["start"], e["end"]): e["id"] for e in entities}
    relations = []
    for r in doc._.relations or []:
        head, tail = ids.get(tuple(r["head"])), ids.get(tuple(r["tail"]))
        if head and tail:
            rel = {"head": head, "tail": tail, "label": r["label"]}
            if r.get("score") is not None:
                rel["score"] = r["score"]
            relations.append(rel)
    return {"text": doc.text, "entities": entities, "relations": relations}


# ------------------------------------------------------------ candidates

# Discrete features of a pair, each an index into one embedding table. The gap
# (characters between the two spans) says most about a post and its holder:
# 市长刘涛 (nothing), 市委常委马正兰、方婷 (a list), 刘涛主持 ... 市长 (far).
DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
COUNT_BUCKETS = 4  # 0, 1, 2, 3 or more entities of a label between the two
GAP_HASHES = 256
_PAIR_IDS = {(h, t): i for i, (h, t) in enumerate((h, t) for h in ENTITY_LABELS for t in ENTITY_LABELS)}
_FEATURE_SIZES = (
    2 * len(_PAIR_IDS),                          # label pair x order
    2 * (len(DISTANCE_BUCKETS) + 1),             # distance bucket x order
    len(ENTITY_LABELS) * COUNT_BUCKETS,          # entities of each label between the two (5 features)
    GAP_HASHES,                                  # the gap itself when at most 3 characters
    8,                                           # punctuation in the gap: none, 、, ，/,, ；, 的, 和/与/及, 。, other
    4,                                           # tail is the nearest of its label to the head; head nearest to the tail
)
FEATURE_ROWS = sum(_FEATURE_SIZES)
_TABLE_STARTS = numpy.cumsum((0,) + _FEATURE_SIZES)[:-1]
# where each feature's rows start in the table (the five counts share one part)
_OFFSETS = numpy.array([_TABLE_STARTS[0], _TABLE_STARTS[1]] + [_TABLE_STARTS[2]] * len(ENTITY_LABELS)
                       + list(_TABLE_STARTS[3:]), dtype="i")
N_FEATURES = len(_OFFSETS)
_GAP_MARKS = (("、", 1), ("，", 2), (",", 2), ("；", 3), ("的", 4), ("和", 5), ("与", 5), ("及", 5), ("。", 6))


def _bucket(n: int) -> int:
    return sum(n >= b for b in DISTANCE_BUCKETS)


def _gap_mark(gap: str) -> int:
    if not gap:
        return 0
    for mark, k in _GAP_MARKS:
        if mark in gap:
            return k
    return 7


def _stable_hash(s: str) -> int:
    h = 2166136261
    for ch in s.encode("utf-8"):
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def candidate_pairs(doc: Doc, ents: Iterable[Span], max_distance: int) -> list[tuple[Span, Span]]:
    """Ordered (head, tail) pairs a relation may join: same sentence, allowed labels, close enough.

    The bound: a sentence with k entities gives at most k * (k - 1) pairs, and
    the label table cuts that to the typed pairs (PERSON x TITLE, PERSON x ORG,
    ...); ``max_distance`` (characters between the spans) caps k for very long
    sentences such as name lists, so the count grows with the text, not with
    its square.
    """
    ents = sorted(ents, key=lambda e: (e.start_char, e.end_char))
    if len(ents) < 2:
        return []
    sent = sentence_index(doc.text)
    pairs = []
    for i, a in enumerate(ents):
        for b in ents[i + 1:]:
            if b.start_char - a.end_char > max_distance:
                break
            if sent[a.start_char] != sent[b.start_char] or b.start_char < a.end_char:
                continue
            if allowed_labels(a.label_, b.label_):
                pairs.append((a, b))
            if allowed_labels(b.label_, a.label_):
                pairs.append((b, a))
    return pairs


def pair_features(doc: Doc, pairs: list[tuple[Span, Span]], ents: list[Span]) -> Ints2d:
    """One row per pair: token offsets of head, tail and gap, then the feature-table rows."""
    rows = numpy.zeros((len(pairs), 6 + N_FEATURES), dtype="i")
    starts = numpy.array([e.start_char for e in ents], dtype="i")
    labels = [e.label_ for e in ents]
    text = doc.text
    for n, (h, t) in enumerate(pairs):
        first, second = (h, t) if h.start < t.start else (t, h)
        order = int(h.start > t.start)
        gap = text[first.end_char:second.start_char]
        inside = [labels[k] for k in range(len(ents)) if first.end_char <= starts[k] < second.start_char]
        nearest_tail = _nearest(h, t, ents)
        nearest_head = _nearest(t, h, ents)
        feats = [
            2 * _PAIR_IDS[(h.label_, t.label_)] + order,
            2 * _bucket(len(gap)) + order,
            *(i * COUNT_BUCKETS + min(inside.count(lab), COUNT_BUCKETS - 1) for i, lab in enumerate(ENTITY_LABELS)),
            _stable_hash(gap) % GAP_HASHES if len(gap) <= 3 else GAP_HASHES - 1,
            _gap_mark(gap),
            2 * int(nearest_tail) + int(nearest_head),
        ]
        rows[n, :6] = (h.start, h.end, t.start, t.end, first.end, second.start)
        rows[n, 6:] = numpy.array(feats, dtype="i") + _OFFSETS
    return rows


def _nearest(a: Span, b: Span, ents: list[Span]) -> bool:
    """Is ``b`` the entity of its label nearest to ``a`` on ``b``'s side?"""
    if b.start > a.start:
        return not any(e.label_ == b.label_ and a.end <= e.start < b.start for e in ents)
    return not any(e.label_ == b.label_ and b.end <= e.start < a.start for e in ents)


# ------------------------------------------------------------ model


@registry.architectures("zhie.RelationModel.v1")
def build_relation_model(tok2vec: Model[list[Doc], list[Floats2d]], hidden_width: int = 256,
                         feature_width: int = 64, dropout: float = 0.1,
                         nO: Optional[int] = None) -> Model[tuple[list[Doc], list[Ints2d]], Floats2d]:
    """(docs, pair rows per doc) -> one logit per pair and relation label."""
    pool = Model("relation_pairs", _pairs_forward, layers=[tok2vec], init=_pairs_init,
                 params={"E": None}, dims={"nE": feature_width, "nF": FEATURE_ROWS})
    return chain(pool, Relu(hidden_width, dropout=dropout), Linear(nO))


def _pairs_init(model: Model, X=None, Y=None) -> None:
    tok2vec = model.layers[0]
    if X is not None:
        tok2vec.initialize(X=X[0])
    else:
        tok2vec.initialize()
    shape = (model.get_dim("nF"), model.get_dim("nE"))
    model.set_param("E", model.ops.asarray2f(numpy.random.default_rng(0).normal(0, 0.1, shape).astype("f")))


def _pairs_forward(model: Model, inputs: tuple[list[Doc], list[Ints2d]], is_train: bool):
    docs, rows = inputs
    ops: Ops = model.ops
    tokvecs, backprop_tok2vec = model.layers[0](docs, is_train)
    lengths = [len(v) for v in tokvecs]
    X = ops.flatten(tokvecs) if tokvecs else ops.alloc2f(0, 1)
    offsets = numpy.cumsum([0] + lengths[:-1])
    R = numpy.concatenate([r + numpy.array([offsets[k]] * 6 + [0] * N_FEATURES, dtype="i")
                           for k, r in enumerate(rows)]) if rows else numpy.zeros((0, 6 + N_FEATURES), dtype="i")
    spans = []  # (token indices, lengths) for head, tail, gap
    for col in (0, 2, 4):
        starts, ends = R[:, col], R[:, col + 1]
        lens = numpy.maximum(ends - starts, 0).astype("i")
        idx = numpy.concatenate([numpy.arange(s, s + n) for s, n in zip(starts, lens)]).astype("i") if len(R) else numpy.zeros(0, "i")
        spans.append((ops.asarray1i(idx), ops.asarray1i(lens)))
    # (a batch whose gaps are all empty has no rows to pool: reduce_mean needs one)
    pooled = [ops.reduce_mean(X[idx], lens) if len(idx) else ops.alloc2f(len(R), X.shape[1]) for idx, lens in spans]
    head, tail, gap = pooled
    E = model.get_param("E")
    feats = ops.asarray2i(R[:, 6:])
    F = E[feats].sum(axis=1) if len(R) else ops.alloc2f(0, E.shape[1])
    out = ops.xp.hstack([head, tail, head * tail, gap, F])
    width = X.shape[1]

    def backprop(d_out: Floats2d):
        d_head, d_tail, d_prod, d_gap = (d_out[:, i * width:(i + 1) * width] for i in range(4))
        d_head = d_head + d_prod * tail
        d_tail = d_tail + d_prod * head
        dX = ops.alloc2f(*X.shape)
        for (idx, lens), d in zip(spans, (d_head, d_tail, d_gap)):
            if len(idx):
                ops.scatter_add(dX, idx, ops.backprop_reduce_mean(ops.xp.ascontiguousarray(d), lens))
        dF = d_out[:, 4 * width:]
        dE = ops.alloc2f(*E.shape)
        for k in range(feats.shape[1]):
            ops.scatter_add(dE, feats[:, k], dF)
        model.inc_grad("E", dE)
        return backprop_tok2vec(ops.unflatten(dX, lengths))

    return out, backprop


# ------------------------------------------------------------ component


@Language.factory(
    "relation_extractor",
    default_config={
        "model": {
            "@architectures": "zhie.RelationModel.v1",
            "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0,
                        "pooling": {"@layers": "reduce_mean.v1"}, "upstream": "*"},
            "hidden_width": 256, "feature_width": 64, "dropout": 0.1, "nO": None,
        },
        "threshold": 0.5,
        "max_distance": 80,
        "distributive": True,
        "scorer": {"@scorers": "zhie.relation_scorer.v1"},
    },
    default_score_weights={"rel_micro_f": 1.0, "rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_f_per_type": None},
)
def make_relation_extractor(nlp: Language, name: str, model: Model, threshold: float, max_distance: int,
                            distributive: bool, scorer: Optional[Callable]) -> "RelationExtractor":
    """``distributive``: pair the n-th party with the n-th amount after 分别
    (``pipeline.distributive``) instead of trusting every predicted pair."""
    return RelationExtractor(nlp.vocab, model, name, threshold=threshold, max_distance=max_distance,
                             distributive=distributive, scorer=scorer)


class RelationExtractor(TrainablePipe):
    def __init__(self, vocab: Vocab, model: Model, name: str = "relation_extractor", *, threshold: float = 0.5,
                 max_distance: int = 80, distributive: bool = True, scorer: Optional[Callable] = None) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.distributive = distributive
        self.cfg = {"labels": [], "threshold": threshold, "max_distance": max_distance}

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.cfg["labels"])

    def add_label(self, label: str) -> int:
        if label not in RELATION_TYPES:
            raise ValueError(f"[relation_extractor] unknown relation label {label!r}; ANNOTATION.md has {RELATION_LABELS}")
        if label in self.labels:
            return 0
        self.cfg["labels"].append(label)
        return 1

    # -- inputs

    def _instances(self, doc: Doc, ents: list[Span]) -> tuple[list[tuple[Span, Span]], Ints2d]:
        pairs = candidate_pairs(doc, ents, self.cfg["max_distance"])
        return pairs, pair_features(doc, pairs, sorted(ents, key=lambda e: e.start))

    def _mask(self, pairs: list[tuple[Span, Span]], judged: Optional[Iterable[str]] = None) -> numpy.ndarray:
        judged = set(self.labels if judged is None else judged)
        mask = numpy.zeros((len(pairs), len(self.labels)), dtype="f")
        for n, (h, t) in enumerate(pairs):
            ok = set(allowed_labels(h.label_, t.label_)) & judged
            for j, lab in enumerate(self.labels):
                mask[n, j] = lab in ok
        return mask

    # -- prediction

    def predict(self, docs: Iterable[Doc]) -> list[tuple[list[tuple[Span, Span]], numpy.ndarray]]:
        docs = list(docs)
        instances = [self._instances(doc, list(doc.ents)) for doc in docs]
        if not any(len(p) for p, _ in instances):
            return [(p, numpy.zeros((0, len(self.labels)), dtype="f")) for p, _ in instances]
        logits = self.model.ops.to_numpy(self.model.predict((docs, [rows for _, rows in instances])))
        probs = 1.0 / (1.0 + numpy.exp(-logits))
        out, i = [], 0
        for pairs, _ in instances:
            out.append((pairs, probs[i:i + len(pairs)] * self._mask(pairs)))
            i += len(pairs)
        return out

    def set_annotations(self, docs: Iterable[Doc], predictions) -> None:
        threshold = self.cfg["threshold"]
        for doc, (pairs, probs) in zip(docs, predictions):
            rels = []
            for (h, t), row in zip(pairs, probs):
                for j, p in enumerate(row):
                    if p >= threshold:
                        rels.append({"head": (h.start_char, h.end_char), "tail": (t.start_char, t.end_char),
                                     "label": self.labels[j], "score": round(float(p), 4)})
            if self.distributive and "分别" in doc.text:
                rels = pair_distributive(doc.text, [(e.start_char, e.end_char, e.label_) for e in doc.ents], rels)
            doc._.relations = rels

    # -- training

    def _gold_instances(self, eg: Example) -> tuple[list[tuple[Span, Span]], Ints2d, numpy.ndarray, numpy.ndarray]:
        """Candidates from the reference entities, placed on the predicted Doc; targets and mask."""
        pred = eg.predicted
        if eg.reference._.relations is None:  # not annotated for relations: judges nothing
            ents = []
        else:
            ents = [pred.char_span(e.start_char, e.end_char, label=e.label_) for e in eg.reference.ents]
            ents = [e for e in ents if e is not None]
        pairs, rows = self._instances(pred, ents)
        gold = {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in eg.reference._.relations or []}
        Y = numpy.zeros((len(pairs), len(self.labels)), dtype="f")
        for n, (h, t) in enumerate(pairs):
            for j, lab in enumerate(self.labels):
                Y[n, j] = ((h.start_char, h.end_char), (t.start_char, t.end_char), lab) in gold
        return pairs, rows, Y, self._mask(pairs, eg.reference._.relations_judged)

    def update(self, examples: Iterable[Example], *, drop: float = 0.0, sgd: Optional[Optimizer] = None,
               losses: Optional[dict[str, float]] = None) -> dict[str, float]:
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "RelationExtractor.update")
        instances = [self._gold_instances(eg) for eg in examples]
        if not any(len(p) for p, *_ in instances):
            return losses
        set_dropout_rate(self.model, drop)
        logits, backprop = self.model.begin_update(([eg.predicted for eg in examples], [i[1] for i in instances]))
        loss, d_logits = self._loss(self.model.ops.to_numpy(logits), instances)
        backprop(self.model.ops.asarray2f(d_logits))
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    @staticmethod
    def _loss(logits: numpy.ndarray, instances: list) -> tuple[float, numpy.ndarray]:
        """Binary cross-entropy over the scored (pair, label) cells of ``_gold_instances``, averaged over them."""
        Y = numpy.concatenate([i[2] for i in instances])
        M = numpy.concatenate([i[3] for i in instances])
        probs = 1.0 / (1.0 + numpy.exp(-logits))
        n = max(float(M.sum()), 1.0)
        eps = 1e-7
        loss = -(M * (Y * numpy.log(probs + eps) + (1 - Y) * numpy.log(1 - probs + eps))).sum() / n
        return float(loss), ((probs - Y) * M / n).astype("f")

    def get_loss(self, examples: Iterable[Example], scores) -> tuple[float, Floats2d]:
        return self._loss(self.model.ops.to_numpy(scores), [self._gold_instances(eg) for eg in examples])

    def initialize(self, get_examples: Callable[[], Iterable[Example]], *, nlp: Optional[Language] = None,
                   labels: Optional[list[str]] = None) -> None:
        validate_get_examples(get_examples, "RelationExtractor.initialize")
        for label in labels or RELATION_LABELS:
            self.add_label(label)
        # the first 50 examples with candidate pairs (a joint mix may open with NER-only corpora)
        instances = ((eg.predicted, self._gold_instances(eg)[1]) for eg in get_examples())
        sample = list(islice(((doc, rows) for doc, rows in instances if len(rows)), 50))
        if not sample:
            raise ValueError("[relation_extractor] no training example has a candidate pair: "
                             "do they carry entities and doc._.relations?")
        docs, rows = [d for d, _ in sample], [r for _, r in sample]
        n = sum(len(r) for r in rows)
        if self.model.layers[-1].has_dim("nO") is None:
            self.model.layers[-1].set_dim("nO", len(self.labels))
        self.model.initialize(X=(docs, rows), Y=self.model.ops.alloc2f(n, len(self.labels)))


# ------------------------------------------------------------ scoring


def relation_triples(doc: Doc, labels: Iterable[str]) -> set[tuple[tuple[int, int], tuple[int, int], str]]:
    """(head span, tail span, label) of the Doc's relations whose label is in ``labels``."""
    labels = set(labels)
    return {(tuple(r["head"]), tuple(r["tail"]), r["label"]) for r in doc._.relations or [] if r["label"] in labels}


def score_relations(examples: Iterable[Example], **kwargs) -> dict:
    """Relation P / R / F, micro and per label: head span, tail span and label must all match.

    The predicted relations join the predicted entities, so during ``spacy
    train`` and ``spacy evaluate`` this is the end-to-end score. Reference Docs
    without relations (``doc._.relations`` None) are skipped; a reference that
    judges only some labels is scored on those.
    """
    from .evaluate import PRF

    micro, per_label = PRF(), {}
    for eg in examples:
        if eg.reference._.relations is None:
            continue
        judged = eg.reference._.relations_judged or RELATION_LABELS
        gold, pred = relation_triples(eg.reference, judged), relation_triples(eg.predicted, judged)
        for label in judged:
            prf = per_label.setdefault(label, PRF())
            g, q = {x for x in gold if x[2] == label}, {x for x in pred if x[2] == label}
            prf.tp, prf.fp, prf.fn = prf.tp + len(g & q), prf.fp + len(q - g), prf.fn + len(g - q)
        micro.tp, micro.fp, micro.fn = micro.tp + len(gold & pred), micro.fp + len(pred - gold), micro.fn + len(gold - pred)
    if not per_label:
        scores = dict.fromkeys(("rel_micro_p", "rel_micro_r", "rel_micro_f", "rel_f_per_type"))
    else:
        scores = {"rel_micro_p": micro.p, "rel_micro_r": micro.r, "rel_micro_f": micro.f,
                  "rel_f_per_type": {lab: {"p": prf.p, "r": prf.r, "f": prf.f} for lab, prf in sorted(per_label.items())}}
    # The same figures under the keys `spacy evaluate --spans-key rel` prints
    # (its table only knows the built-in components' keys).
    return {**scores, **{f"spans_rel_{k.removeprefix('rel_micro_').removeprefix('rel_f_')}": v for k, v in scores.items()}}


@registry.scorers("zhie.relation_scorer.v1")
def make_relation_scorer() -> Callable[..., dict]:
    return score_relations
