"""The package's three layers import one way and nothing imports in a circle;
loading the shipped model imports only the components layer; the entry points
are read from the installed package metadata, not from what tests imported."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pipeline"
LEAVES = {"pipeline.paths", "pipeline.jsonl"}
# what each layer may import from the package (besides itself)
ALLOWED = {
    "leaf": set(),
    # pipeline/__init__.py: load(int8=True) quantises with components.quantize (imported when asked)
    "pipeline": LEAVES | {"pipeline.components"},
    "components": {"pipeline.components"},
    "training": {"pipeline.components", "pipeline.training"} | LEAVES,
    "app": {"pipeline.components", "pipeline.training", "pipeline.app", "pipeline"} | LEAVES,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path) -> set[str]:
    """Modules of the package ``path`` imports anywhere (function-level imports included)."""
    name = module_name(path)
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pipeline"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[:len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "pipeline":
                continue
            for a in node.names:  # `from . import x` may name a module
                sub = f"{target}.{a.name}"
                found.add(sub if (ROOT / Path(*sub.split("."))).with_suffix(".py").exists()
                          or (ROOT / Path(*sub.split("."))).is_dir() else target)
    return found


GRAPH = {module_name(p): package_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in LEAVES:
        return "leaf"
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ("components", "training", "app")) else "pipeline"


def test_the_graph_sees_the_package():
    assert {"pipeline.components.relations", "pipeline.training.gold", "pipeline.app.cli"} <= set(GRAPH)
    assert "pipeline.components.schema" in GRAPH["pipeline.components.relations"]


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_each_module_imports_only_its_own_and_lower_layers(module):
    allowed = ALLOWED[layer(module)]
    bad = {m for m in GRAPH[module] if m != module and not any(m == a or m.startswith(a + ".") for a in allowed)
           and not (layer(module) == "pipeline" and m in LEAVES)}
    assert not bad, f"{module} ({layer(module)}) imports {sorted(bad)}"


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: all of size one."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH or w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


LOAD_AND_SCORE = r"""
import json, sys
import spacy
from spacy.training import Example
nlp = spacy.load(sys.argv[1])
doc = nlp("市长刘涛在许昌调研。")
ref = nlp.make_doc(doc.text)
ref.ents = [ref.char_span(e.start_char, e.end_char, label=e.label_) for e in doc.ents]
ref._.relations = []
scores = nlp.evaluate([Example(nlp.make_doc(doc.text), ref)])
print(json.dumps({"modules": sorted(sys.modules), "pipes": nlp.pipe_names, "rel_f": scores["rel_micro_f"],
                  "analysis": nlp.analyze_pipes()["summary"]}))
"""


@pytest.mark.needs_model
def test_loading_and_scoring_the_shipped_model_imports_no_training_or_app_code(model_dir):
    out = subprocess.run([sys.executable, "-c", LOAD_AND_SCORE, str(model_dir)], capture_output=True, text=True,
                         cwd="/", check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    modules = set(got["modules"])
    assert "pipeline.components.relations" in modules  # found through the entry points
    assert not modules & {"datasets", "pyarrow", "duckdb"}
    assert not [m for m in modules if m.startswith(("pipeline.training", "pipeline.app"))]
    assert got["pipes"] == ["gazetteer", "transformer", "ner", "drop_nameless_titles", "relation_extractor", "event_assembler"]
    assert got["rel_f"] is not None
    # the whole flow, as spaCy sees it
    assert got["analysis"]["relation_extractor"]["requires"] == ["doc.ents"]
    assert got["analysis"]["relation_extractor"]["assigns"] == ["doc._.relations"]
    assert got["analysis"]["event_assembler"]["requires"] == ["doc.ents", "doc._.relations"]
    assert got["analysis"]["event_assembler"]["assigns"] == ["doc._.events"]


ENTRY_POINTS = r"""
import json
from importlib.metadata import entry_points
print(json.dumps({g: sorted(f"{e.name}={e.value}" for e in entry_points(group=g))
                  for g in ("spacy_factories", "spacy_architectures", "spacy_scorers", "spacy_misc", "spacy_callbacks", "console_scripts")}))
"""


def test_entry_points_are_declared_and_resolve():
    """Read from the installed metadata in a fresh interpreter (no test module has registered anything)."""
    out = subprocess.run([sys.executable, "-c", ENTRY_POINTS], capture_output=True, text=True, cwd="/", check=True)
    groups = {g: dict(e.split("=", 1) for e in v) for g, v in json.loads(out.stdout).items()}
    want = {
        "spacy_factories": {"relation_extractor": "pipeline.components.relations:make_relation_extractor",
                            "event_assembler": "pipeline.components.events:make_event_assembler",
                            "drop_nameless_titles": "pipeline.components.titles:make_drop_nameless_titles"},
        "spacy_architectures": {"zhie.Transformer.v1": "pipeline.components.architectures:create_transformer",
                                "zhie.TransformerListener.v1": "pipeline.components.architectures:create_listener",
                                "zhie.RelationModel.v1": "pipeline.components.relations:build_relation_model"},
        "spacy_scorers": {"zhie.relation_scorer.v1": "pipeline.components.scorer:make_relation_scorer"},
        "spacy_misc": {"zhie.resolve_backbone.v1": "pipeline.training.backbone:resolve",
                       "zhie.relation_candidates.v1": "pipeline.components.relations:make_candidate_pairs"},
        "spacy_callbacks": {"zhie.listeners_last.v1": "pipeline.training.listeners:make_listeners_last"},
    }
    for group, entries in want.items():
        for name, target in entries.items():
            assert groups[group].get(name) == target, (group, name)
    assert groups["console_scripts"].get("zhie") == "pipeline.app.cli:app"
    # and each one loads, in a fresh interpreter, through spaCy's registries
    check = ("import spacy\n"
             "nlp = spacy.blank('zh')\n"
             "assert nlp.add_pipe('event_assembler').name == 'event_assembler'\n"
             "assert nlp.add_pipe('drop_nameless_titles').name == 'drop_nameless_titles'\n"
             "assert type(nlp.add_pipe('relation_extractor')).__name__ == 'RelationExtractor'\n"
             "for reg, name in [('architectures', 'zhie.RelationModel.v1'), ('architectures', 'zhie.Transformer.v1'),"
             " ('scorers', 'zhie.relation_scorer.v1'), ('misc', 'zhie.relation_candidates.v1'),"
             " ('misc', 'zhie.resolve_backbone.v1'), ('callbacks', 'zhie.listeners_last.v1')]:\n"
             "    assert getattr(spacy.registry, reg).get(name) is not None, name\n")
    subprocess.run([sys.executable, "-c", check], check=True, cwd="/")
