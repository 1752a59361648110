#!/usr/bin/env bash
# The prepared on-device check, one command for the device tool's 15 minutes of GPU time:
#  1. ViT (encoder) attention timed on an idle GPU (benchmarks/gpu_encoder_attention.py:
#     PyTorch's FlashAttention-2, not vLLM's kernel) and checked with `validate --kernels`:
#     issue 9's last target, which the shared H100 table cannot settle (docs/validation.md,
#     "Prefill attention": outside-load pauses).
#  2. `calibrate --device cuda` against the h200 datasheet profile.
#  3. `profile` of the LLaVA-1.5-7B reference model (random bf16 weights) at 64, 576 and 2880
#     visual tokens, batch 1 and 8, eager and CUDA-graph decode, and `validate` of it against
#     the datasheet profile and the calibrated one (the checks issue 13 asked for).
#  4. A windowed ViT layer's attention as transformers' SDPA path runs it, one call per window,
#     against one call (benchmarks/gpu_packed_vit.py; printed into session.log): the cost of a
#     call against hf-eager's per-launch figure (core/packed.py).
# Every step runs under its own time cap and the next one runs whatever it returned; at most
# 8 files come back (the device tool's limit), each named in session.log.
#
# Here, once:   bash benchmarks/gpu_wheels.sh      (.whl/: pydantic & co., not on the device)
# Dry run here: OUT=/tmp/gpu-dry bash benchmarks/gpu_session.sh --cpu   (about a minute)
# On the device (run tool, carry [".whl"], timeout_s 540):  bash benchmarks/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."
CPU=0; [ "${1:-}" = "--cpu" ] && CPU=1
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
LOG="$OUT/session.log"; : >"$LOG"
PY=${PYTHON:-python3}
if [ -d .whl ] && [ "$CPU" = 0 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export PYTHONUNBUFFERED=1
CM=("$PY" -m costmodel)
HW=h200

step() {  # step NAME SECONDS CMD...: run with a time cap, log the command, its output and rc
  local name=$1 cap=$2; shift 2
  echo "== $name: $* (cap ${cap}s)" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$cap" "$@" 2>&1 | tee -a "$LOG"
  echo "== $name: rc ${PIPESTATUS[0]} in $((SECONDS - t0)) s" | tee -a "$LOG"
}

step_to() {  # step_to NAME SECONDS FILE CMD...: as step, its stdout to FILE
  local name=$1 cap=$2 file=$3; shift 3
  echo "== $name: $* > $file (cap ${cap}s)" | tee -a "$LOG"
  local t0=$SECONDS
  timeout "$cap" "$@" >"$file" 2>>"$LOG"
  echo "== $name: rc $? in $((SECONDS - t0)) s" | tee -a "$LOG"
}

{ date -u; nvidia-smi -L 2>/dev/null || echo "no nvidia-smi";
  "$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())"; } 2>&1 | tee -a "$LOG"

if [ "$CPU" = 1 ]; then
  ENC=(--device cpu --quick --reps 1 --replays 2); CAL=(--device cpu --quick)
  PACK=(--device cpu --quick)
  PROF=(--tiny --device cpu --visual-tokens 16,64 --batch 1 --repeats 2 --warmup 1)
  HW=a100-80gb  # any profile: a CPU dry run checks the steps, not the figures
else
  ENC=(); CAL=(--device cuda --base "$HW"); PACK=(--device cuda); PROF=(llava-1.5-7b --device cuda
    --visual-tokens 64,576,2880 --batch 1,8)
fi

step encoder-attention 180 "$PY" benchmarks/gpu_encoder_attention.py --out "$OUT/enc.csv" "${ENC[@]}"
step validate-encoder 60 "${CM[@]}" validate --kernels "$OUT/enc.csv" -H "$HW"
step_to validate-encoder-rows 60 "$OUT/enc_validate.json" "${CM[@]}" validate --kernels \
  "$OUT/enc.csv" -H "$HW" --per-row -f json
step calibrate 150 "${CM[@]}" calibrate "${CAL[@]}" -o "$OUT/calibrated.yaml"
step profile 200 "${CM[@]}" profile "${PROF[@]}" -o "$OUT/profile.csv"
step validate-profile 60 "${CM[@]}" validate -m "$OUT/profile.csv" -H "$HW" \
  --plot "$OUT/profile_vs_datasheet.png"
step_to validate-profile-json 60 "$OUT/profile_validate.json" "${CM[@]}" validate \
  -m "$OUT/profile.csv" -H "$HW" -f json
step_to validate-calibrated 60 "$OUT/calibrated_validate.json" "${CM[@]}" validate \
  -m "$OUT/profile.csv" -H "$OUT/calibrated.yaml" -f json
step packed-vit 60 "$PY" benchmarks/gpu_packed_vit.py "${PACK[@]}"
ls -la "$OUT" | tee -a "$LOG"
