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

from .coordination import share_coordinated
from .distributive import pair_distributive
from .extensions import install_extensions
from .schema import ENTITY_LABELS, RELATION_LABELS, RELATION_TYPES, allowed_labels, sentence_index

# ------------------------------------------------------------ candidates

# Discrete features of a pair, each an index into one embedding table. The gap
# (characters between the two spans) says most about a post and its holder:
# 市长刘涛 (nothing), 市委常委马正兰、方婷 (a list), 刘涛主持 ... 市长 (far).
DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
COUNT_BUCKETS = 4  # 0, 1, 2, 3 or more entities of a label between the two
GAP_HASHES = 256


class PairFeatureLayout:
    """Where each discrete pair feature's rows start in the model's one embedding
    table, for a component's entity labels (``cfg["entity_labels"]``)."""

    def __init__(self, entity_labels: Iterable[str]) -> None:
        self.entity_labels = tuple(entity_labels)
        labels = self.entity_labels
        self.pair_ids = {(h, t): i for i, (h, t) in enumerate((h, t) for h in labels for t in labels)}
        sizes = (
            2 * len(self.pair_ids),                      # label pair x order
            2 * (len(DISTANCE_BUCKETS) + 1),             # distance bucket x order
            len(labels) * COUNT_BUCKETS,                 # entities of each label between the two
            GAP_HASHES,                                  # the gap itself when at most 3 characters
            8,                                           # punctuation in the gap: none, 、, ，/,, ；, 的, 和/与/及, 。, other
            4,                                           # tail is the nearest of its label to the head; head nearest to the tail
        )
        self.rows = int(sum(sizes))
        starts = numpy.cumsum((0,) + sizes)[:-1]
        # where each feature's rows start in the table (the per-label counts share one part)
        self.offsets = numpy.array([starts[0], starts[1]] + [starts[2]] * len(labels) + list(starts[3:]), dtype="i")
        self.n_features = len(self.offsets)


FEATURE_ROWS = PairFeatureLayout(ENTITY_LABELS).rows  # the table size for ANNOTATION.md's five labels
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


def candidate_pairs(doc: Doc, ents: Iterable[Span], max_distance: int = 80) -> list[tuple[Span, Span]]:
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


@registry.misc("zhie.relation_candidates.v1")
def make_candidate_pairs(max_distance: int = 80) -> Callable[[Doc, Iterable[Span]], list[tuple[Span, Span]]]:
    """The candidate generator of ``relation_extractor``: :func:`candidate_pairs`
    with at most ``max_distance`` characters between head and tail."""

    def get_candidates(doc: Doc, ents: Iterable[Span]) -> list[tuple[Span, Span]]:
        return candidate_pairs(doc, ents, max_distance)

    return get_candidates


def pair_features(doc: Doc, pairs: list[tuple[Span, Span]], ents: list[Span],
                  layout: Optional[PairFeatureLayout] = None) -> Ints2d:
    """One row per pair: token offsets of head, tail and gap, then the feature-table rows."""
    layout = layout or PairFeatureLayout(ENTITY_LABELS)
    rows = numpy.zeros((len(pairs), 6 + layout.n_features), dtype="i")
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
            2 * layout.pair_ids[(h.label_, t.label_)] + order,
            2 * _bucket(len(gap)) + order,
            *(i * COUNT_BUCKETS + min(inside.count(lab), COUNT_BUCKETS - 1) for i, lab in enumerate(layout.entity_labels)),
            _stable_hash(gap) % GAP_HASHES if len(gap) <= 3 else GAP_HASHES - 1,
            _gap_mark(gap),
            2 * int(nearest_tail) + int(nearest_head),
        ]
        rows[n, :6] = (h.start, h.end, t.start, t.end, first.end, second.start)
        rows[n, 6:] = numpy.array(feats, dtype="i") + layout.offsets
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
    """(docs, pair rows per doc) -> one logit per pair and relation label.

    tok2vec (Model[List[Doc], List[Floats2d]]): token vectors, e.g. a transformer or tok2vec listener.
    hidden_width (int): width of the hidden layer over the pooled pair.
    feature_width (int): width of the embeddings of the discrete pair features.
    dropout (float): dropout of the hidden layer.
    nO (Optional[int]): number of relation labels; set by the component.
    The feature table's size ``nF`` is set by the component from its entity labels.
    """
    pool = Model("relation_pairs", _pairs_forward, layers=[tok2vec], init=_pairs_init,
                 params={"E": None}, dims={"nE": feature_width, "nF": None})
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
    n_cols = rows[0].shape[1] if rows else 6
    R = numpy.concatenate([r + numpy.array([offsets[k]] * 6 + [0] * (n_cols - 6), dtype="i")
                           for k, r in enumerate(rows)]) if rows else numpy.zeros((0, n_cols), dtype="i")
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
    requires=["doc.ents"],
    assigns=["doc._.relations"],
    default_config={
        "model": {
            "@architectures": "zhie.RelationModel.v1",
            "tok2vec": {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0,
                        "pooling": {"@layers": "reduce_mean.v1"}, "upstream": "*"},
            "hidden_width": 256, "feature_width": 64, "dropout": 0.1, "nO": None,
        },
        "get_candidates": {"@misc": "zhie.relation_candidates.v1", "max_distance": 80},
        "entity_labels": list(ENTITY_LABELS),
        "threshold": 0.5,
        "coordination": True,
        "distributive": True,
        "scorer": {"@scorers": "zhie.relation_scorer.v1"},
    },
    default_score_weights={"rel_micro_f": 1.0, "rel_micro_p": 0.0, "rel_micro_r": 0.0, "rel_f_per_type": None},
)
def make_relation_extractor(nlp: Language, name: str, model: Model, get_candidates: Callable, entity_labels: list[str],
                            threshold: float, coordination: bool, distributive: bool,
                            scorer: Optional[Callable]) -> "RelationExtractor":
    """Create a ``relation_extractor``: labelled, directed relations between ``doc.ents``.

    model (Model): the pair model (``zhie.RelationModel.v1``), one logit per candidate pair and label.
    get_candidates (Callable[[Doc, Iterable[Span]], List[Tuple[Span, Span]]]): the (head, tail)
        pairs to score (``zhie.relation_candidates.v1``: same sentence, allowed labels, at most
        ``max_distance`` characters apart).
    entity_labels (List[str]): the NER labels the pair features distinguish; kept in the
        component's ``cfg`` and saved with it.
    threshold (float): the probability at or above which a relation is written.
    coordination (bool): give a relation found for one member of a list (A、B和C) to the
        other members on the sides the gold shares (``pipeline.components.coordination``).
    distributive (bool): pair the n-th party with the n-th amount after 分别
        (``pipeline.components.distributive``) instead of trusting every predicted pair.
    scorer (Optional[Callable]): the scoring method (``zhie.relation_scorer.v1``).
    """
    return RelationExtractor(nlp.vocab, model, name, get_candidates=get_candidates, entity_labels=entity_labels,
                             threshold=threshold, coordination=coordination, distributive=distributive,
                             scorer=scorer)


class RelationExtractor(TrainablePipe):
    """Predict relations between the entities of a Doc and write them to ``doc._.relations``."""

    def __init__(self, vocab: Vocab, model: Model, name: str = "relation_extractor", *,
                 get_candidates: Callable = candidate_pairs, entity_labels: Iterable[str] = ENTITY_LABELS,
                 threshold: float = 0.5, coordination: bool = True, distributive: bool = True,
                 scorer: Optional[Callable] = None) -> None:
        """Initialise the component.

        vocab (Vocab): the shared vocabulary.
        model (Model): the pair model.
        name (str): the component instance name, used for the losses.
        get_candidates (Callable): the candidate generator.
        entity_labels (Iterable[str]): the entity labels of the pair features (``cfg``).
        threshold (float): the minimum probability of a written relation (``cfg``).
        coordination (bool): share relations across the members of a list.
        distributive (bool): apply the 分别 pairing to the predictions.
        scorer (Optional[Callable]): the scoring method.
        """
        install_extensions()
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.coordination = coordination
        self.distributive = distributive
        self.get_candidates = get_candidates
        self.cfg = {"labels": [], "entity_labels": list(entity_labels), "threshold": threshold}

    @property
    def labels(self) -> tuple[str, ...]:
        """The relation labels the component predicts."""
        return tuple(self.cfg["labels"])

    @property
    def layout(self) -> PairFeatureLayout:
        """The pair-feature table layout of the component's entity labels."""
        labels = tuple(self.cfg["entity_labels"])
        if getattr(self, "_layout", None) is None or self._layout.entity_labels != labels:
            self._layout = PairFeatureLayout(labels)
        return self._layout

    def add_label(self, label: str) -> int:
        """Add a relation label of ANNOTATION.md; 1 if it was added, 0 if present."""
        if label not in RELATION_TYPES:
            raise ValueError(f"[relation_extractor] unknown relation label {label!r}; ANNOTATION.md has {RELATION_LABELS}")
        if label in self.labels:
            return 0
        self.cfg["labels"].append(label)
        return 1

    # -- inputs

    def _instances(self, doc: Doc, ents: list[Span]) -> tuple[list[tuple[Span, Span]], Ints2d]:
        known = set(self.cfg["entity_labels"])
        ents = [e for e in ents if e.label_ in known]
        pairs = self.get_candidates(doc, ents)
        return pairs, pair_features(doc, pairs, sorted(ents, key=lambda e: e.start), self.layout)

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
            ents = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            if self.coordination:
                rels = share_coordinated(doc.text, ents, rels)
            if self.distributive and "分别" in doc.text:
                rels = pair_distributive(doc.text, ents, rels)
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
        """Initialise the labels and the model's shapes.

        get_examples (Callable[[], Iterable[Example]]): training examples; the first 50
            with candidate pairs infer the shapes. With none (``spacy assemble``,
            ``nlp.initialize()`` without data) a made-up pair infers them, so the
            component initialises from its fixed labels alone.
        nlp (Optional[Language]): the pipeline.
        labels (Optional[List[str]]): the relation labels (default: all of ANNOTATION.md).
        """
        validate_get_examples(get_examples, "RelationExtractor.initialize")
        for label in labels or RELATION_LABELS:
            self.add_label(label)
        # the first 50 examples with candidate pairs (a joint mix may open with NER-only corpora)
        instances = ((eg.predicted, self._gold_instances(eg)[1]) for eg in get_examples())
        sample = list(islice(((doc, rows) for doc, rows in instances if len(rows)), 50)) or [self._shape_sample()]
        docs, rows = [d for d, _ in sample], [r for _, r in sample]
        n = sum(len(r) for r in rows)
        if self.model.layers[0].has_dim("nF") is None:
            self.model.layers[0].set_dim("nF", self.layout.rows)
        if self.model.layers[-1].has_dim("nO") is None:
            self.model.layers[-1].set_dim("nO", len(self.labels))
        self.model.initialize(X=(docs, rows), Y=self.model.ops.alloc2f(n, len(self.labels)))

    def _shape_sample(self) -> tuple[Doc, Ints2d]:
        """A two-token Doc with one candidate pair of the first allowed label pair, for shape inference only."""
        labels = self.cfg["entity_labels"]
        head, tail = next((h, t) for h in labels for t in labels if allowed_labels(h, t))
        doc = Doc(self.vocab, words=["甲", "乙"], spaces=[False, False])
        doc.ents = [Span(doc, 0, 1, label=head), Span(doc, 1, 2, label=tail)]
        return doc, self._instances(doc, list(doc.ents))[1]
