#!/usr/bin/env bash
# The transformer pipeline's characters/s on one lent GPU (issue 11), following ../shared/GPU.md.
# Not run yet: no GPU was lent to the session that wrote it.
#
# The device machine has Python 3.12, torch (CUDA), cupy and numpy but no spaCy,
# and nothing can be downloaded there; one call carries at most 64 MiB of ignored
# files. So, three steps:
#
#   bash benchmarks/gpu.sh prepare      # here (CPU machine): wheels for CPython 3.12 in two
#                                       # carry-sized folders, the model with a float16 encoder
#                                       # (~37 MB) and 3,000 People's Daily articles
#   # device call 1 (carry build/gpu/wheels1):
#   bash benchmarks/gpu.sh install build/gpu/wheels1
#   # device call 2, at once (carry build/gpu/wheels2, build/gpu/model, build/gpu/docs.json):
#   bash benchmarks/gpu.sh install build/gpu/wheels2 && bash benchmarks/gpu.sh run
#   # -> $OUT/gpu.json: chars/s per batch size (doubling from 32 until the GPU is full or
#   #    the throughput stops rising), fp32 and fp16 encoder, peak GPU memory
#   # then give the machine back.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?prepare | install DIR | run}
PY=${PYTHON:-.venv/bin/python}

case "$mode" in
  prepare)
    mkdir -p build/gpu/wheels1 build/gpu/wheels2
    dl() { "$PY" -m pip download --quiet --no-deps --python-version 3.12 --platform manylinux2014_x86_64 \
             --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --only-binary=:all: -d "$@"; }
    # the versions installed here (one consistent set, ../shared/BACKBONE.md); the image has torch and numpy
    pins() { "$PY" -m pip freeze 2>/dev/null | grep -i -E "^($1)==" ; }
    # the largest two (spacy 35.5 MB, blis 14.3 MB) travel in the first call, the rest in the second
    dl build/gpu/wheels1 $(pins 'spacy|blis')
    dl build/gpu/wheels2 $(pins 'spacy-transformers|transformers|thinc|tokenizers|pydantic|pydantic_core|typing-inspection|typing_extensions|annotated-types|safetensors|huggingface_hub|cymem|preshed|murmurhash|srsly|catalogue|wasabi|weasel|confection|typer|click|rich|shellingham|cloudpathlib|smart_open|spacy-legacy|spacy-loggers|spacy-alignments|regex|tqdm|PyYAML|filelock|fsspec|packaging|Jinja2|MarkupSafe|requests|markdown-it-py|mdurl|pygments')
    "$PY" benchmarks/gpu.py prepare build/gpu
    du -sh build/gpu/*
    ;;
  install)
    python3 -m pip install --quiet --no-deps --no-index "${2:?wheel folder}"/*.whl
    ;;
  run)
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    # pipeline/ is imported from the working tree (gpu.py registers its architectures itself)
    python3 benchmarks/gpu.py measure build/gpu/model build/gpu/docs.json "${OUT:-build/gpu}/gpu.json"
    ;;
  *) echo "usage: $0 prepare | install DIR | run" >&2; exit 2 ;;
esac
