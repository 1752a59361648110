#!/usr/bin/env bash
# Wheels the device machine's image lacks (docs: /work/.library/device/KINDS.md lists its
# packages: numpy, pandas, typer, pyyaml, matplotlib and torch are there; pydantic is not),
# saved in .whl/ (git-ignored) for benchmarks/gpu_session.sh. Run here, once, before a GPU
# session; the versions are this venv's, the platform the device's (Python 3.12, x86-64).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
mkdir -p .whl
for name in pydantic pydantic_core annotated-types typing-inspection typing_extensions; do
  v=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "$name==$v"
done
ls .whl
