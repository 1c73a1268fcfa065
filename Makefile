# Fresh machine to working: `make samples` (the main job) and `make test`.
# Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
export ZHIE_CORPORA ?= $(SHARED)/corpora
export HF_HUB_OFFLINE := 1

.PHONY: install samples test evaluate benchmark corpus train package

# pip takes torch 2.13.0's CPU build from this machine's disk (see pyproject.toml).
# Everything: the transformer pipeline and training (`train` includes `trf`);
# `pip install zhie` alone is the torch-free install of the sm pipeline.
$(BIN)/zhie: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[train,test,dev]'
	touch $@

install: $(BIN)/zhie

# The main job: annotate the sample front pages with the shipped model.
samples: install
	$(BIN)/zhie annotate $(SHARED)/samples --include '*.txt' --output build/samples.jsonl
	@echo "entities per document:"; $(BIN)/python -c "import json; [print(' ', d['id'], len(d['entities'])) for d in map(json.loads, open('build/samples.jsonl'))]"

test: install
	$(BIN)/python -m pytest -q

evaluate: install
	$(BIN)/zhie evaluate --output build/scores.json --floors data/score_floors.json

benchmark: install
	$(BIN)/python benchmarks/throughput.py

corpus: install
	$(BIN)/zhie corpus convert corpus

train: corpus
	THP_MEM_ALLOC_ENABLE=1 $(BIN)/python -m spacy train configs/ner_cpu.cfg --output training/ner_cpu

# Installable wheels in build/dist: the shipped pipeline as the spaCy package
# zh_zhie_news (its components come from zhie's entry points) and zhie itself.
# Install both (`pip install build/dist/*.whl`) and `pipeline.load()` or
# `spacy.load("zh_zhie_news")` work from any folder.
package: install
	mkdir -p build/packages build/dist
	$(BIN)/python -m spacy package models/zh_zhie_news build/packages --build wheel --force
	cp build/packages/zh_zhie_news-*/dist/*.whl build/dist/
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir build/dist .
