"""The shipped pipeline as installable wheels: built with `spacy package`,
installed with a zhie wheel into a fresh target, loaded from another folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LOAD = r"""
import json, sys
from importlib.metadata import distribution, entry_points
import pipeline, spacy
nlp = pipeline.load()
doc = nlp("市长刘涛在许昌调研。")
factory = next(e for e in entry_points(group="spacy_factories") if e.name == "relation_extractor")
print(json.dumps({"pipeline": pipeline.__file__, "package": str(spacy.util.get_package_path("zh_zhie_news")),
                  "factory_dist": str(factory.dist.locate_file("")), "ents": [(e.text, e.label_) for e in doc.ents],
                  "relations": [r["label"] for r in doc._.relations], "events": doc._.events,
                  "requirements": nlp.meta["requirements"]}))
"""


@pytest.mark.slow
@pytest.mark.needs_model
def test_model_and_zhie_wheels_install_together_and_load_elsewhere(tmp_path, model_dir):
    packages, dist, site, elsewhere = (tmp_path / d for d in ("packages", "dist", "site", "elsewhere"))
    for d in (packages, dist, elsewhere):
        d.mkdir()
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)  # noqa: E731
    run(sys.executable, "-m", "spacy", "package", str(model_dir), str(packages), "--build", "wheel", "--force")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(dist), ".")
    wheels = sorted(packages.glob("*/dist/*.whl")) + sorted(dist.glob("zhie-*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["zh_zhie_news", "zhie"]
    run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(site), *map(str, wheels))
    env = {k: v for k, v in os.environ.items() if k != "ZHIE_MODEL"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", LOAD], check=True, capture_output=True, text=True, cwd=elsewhere, env=env)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    # zhie, the model and the entry points all come from the installed wheels, not from the repo
    assert got["pipeline"].startswith(str(site)) and got["package"].startswith(str(site))
    assert got["factory_dist"].startswith(str(site))
    ents = {tuple(e) for e in got["ents"]}
    assert {("刘涛", "PERSON"), ("市长", "TITLE"), ("许昌", "GPE")} <= ents and "has_title" in got["relations"]
    assert got["events"] == []
    assert any(r.startswith("zhie") for r in got["requirements"])
