# Fresh machine to working: `make samples` (the main job) and `make test`.
# Each target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= $(abspath ../shared)
export ZHIE_CORPORA ?= $(SHARED)/corpora
export HF_HUB_OFFLINE := 1

.PHONY: install samples test evaluate benchmark corpus train

# pip takes torch 2.13.0's CPU build from this machine's disk (see pyproject.toml).
$(BIN)/zhie: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
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
	$(BIN)/python -m spacy train configs/ner_cpu.cfg --output training/ner_cpu
