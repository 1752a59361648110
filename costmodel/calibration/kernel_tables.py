"""Measured kernel tables (aiconfigurator format): read (costmodel.calibration.kernel_io, re-exported
here), predict, fit, summarise. An edge module.

Format (ai-dynamo/aiconfigurator, `systems/data/<gpu>/<kind>/<framework>/<version>/`): one row
per kernel call, `latency` in milliseconds. `op_name` (or, without it, the columns) gives the
kind:
  gemm                  m, n, k, gemm_dtype          C[m,n] = A[m,k] B[k,n], FLOPs 2mnk
  context_attention     batch_size, isl, num_heads, num_key_value_heads, head_dim (causal)
  generation_attention  the same + step (cached tokens; the step attends over step + 1)
  encoder_attention     batch_size, isl, num_heads, head_dim (non-causal ViT attention)
Optional: attn_dtype, kv_cache_dtype (bfloat16 | float16 | fp8 | int8), window_size (0 = none),
framework. Predictions use costmodel.core.efficiency; the bound is the bare roofline
max(FLOPs / peak, bytes / bandwidth) at the datasheet figures. Attention runs at the bf16
(or fp16) peak whatever attn_dtype is: the fp8 context rows on H100 are not 2x faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from costmodel.calibration.kernel_io import (
    ELEM_BYTES,
    GEMM_DTYPES,
    KINDS,
    REQUIRED,
    column,
    read_table,
    read_tables,
)
from costmodel.calibration.kv_alias import V_ALIASES_K_BELOW, kv_dram_streams, v_aliases_k
from costmodel.calibration.lsq import least_squares
from costmodel.core import efficiency as eff
from costmodel.errors import CostmodelError
from costmodel.specs.hardware import HardwareProfile
from costmodel.units import DType

if TYPE_CHECKING:
    import pandas as pd

__all__ = [  # this module's names and, re-exported, kernel_io's and kv_alias's
    "DECODE_RULES", "ELEM_BYTES", "ENGINE_OF_FRAMEWORK", "GEMM_DTYPES", "GROUPS", "KINDS",
    "MAX_FIT_ROWS", "ONLY_WITH", "QUANTISED_INPUT", "REQUIRED", "SMALL_S", "START", "DType",
    "V_ALIASES_K_BELOW", "device", "engine_of", "fit", "fit_attention", "fit_decode", "held_out",
    "kv_dram_streams", "labels", "predict", "read_table", "read_tables", "summarise", "v_aliases_k",
    "yaml_line",
]

SMALL_S = 10e-6  # rows whose bound is below this are reported as kind '<kind><10us'


def device(hw: HardwareProfile) -> eff.Device:
    if hw.sm_count is None:
        raise CostmodelError(f"sm_count: {hw.id} has none; add `sm_count:` (and its source) "
                             "to the profile")
    return eff.Device(hw.memory_bytes_per_s, hw.sm_count,
                      np.inf if hw.exp_per_s is None else hw.exp_per_s, _attn_peak(hw))


def _bytes(frame: pd.DataFrame, name: str) -> np.ndarray:
    import pandas as pd

    return pd.Series(column(frame, name, "bfloat16")).astype(str).map(ELEM_BYTES).to_numpy(float)


def _attn_peak(hw: HardwareProfile) -> float:
    return hw.peak_flops_per_s(DType.bf16 if hw.supports(DType.bf16) else DType.fp16)


# gemm_dtype of the rows whose call quantises its bf16 input first: the collectors time the
# framework's linear layer on a bf16 x (aiconfigurator collector/vllm/collect_gemm.py,
# RowParallelLinear(quant_config=Fp8Config).forward(x); collector/trtllm/collect_gemm.py,
# Linear(quant_config=QuantConfig(FP8 / FP8_BLOCK_SCALES)).forward(x)), which casts x to fp8
# (one pass: 2 bytes read, 1 written per element) before the fp8 GEMM
QUANTISED_INPUT = ("fp8", "fp8_block")


def _gemm(f: pd.DataFrame, hw: HardwareProfile, p: eff.KernelParams) -> tuple[np.ndarray, ...]:
    dtypes = column(f, "gemm_dtype", "bfloat16").astype(str)
    spec = [GEMM_DTYPES[x] for x in dtypes]
    peak = np.array([hw.peak_flops_per_s_by_dtype.get(s[0], np.nan) for s in spec])
    a, w, o = (np.array([s[i] for s in spec]) for i in (1, 2, 3))
    m, n, k = (f[c].to_numpy(float) for c in "mnk")
    fp8, dev, pred = np.array([s[0] == DType.fp8 for s in spec]), device(hw), np.empty(len(f))
    for is8 in (True, False):  # each row once, fp8 ones at gemm_fraction_fp8
        r = fp8 == is8
        pred[r] = eff.gemm_time_s(m[r], n[r], k[r], peak[r], a[r], w[r], o[r], dev,
                                  eff.for_fp8(p, is8))
    quant = np.isin(dtypes, QUANTISED_INPUT)
    pred = pred + np.where(quant, eff.memory_bound_time_s(3.0 * m * k, dev, p), 0.0)
    return pred, eff.gemm_bound_s(m, n, k, peak, a, w, o, hw.memory_bytes_per_s)


def _prefill(f: pd.DataFrame, hw: HardwareProfile, p: eff.KernelParams,
             causal: bool, in_kv_dtype: bool = False) -> tuple[np.ndarray, ...]:
    """in_kv_dtype: the engine runs its context attention in the KV cache's dtype
    (Engine.prefill_attention_dtype; eff.prefill_qo_bytes)."""
    b, s, h, d = (f[c].to_numpy(float) for c in ("batch_size", "isl", "num_heads", "head_dim"))
    kvh = f["num_key_value_heads"].to_numpy(float) if causal else h
    win = column(f, "window_size", 0.0).astype(float)
    kvb = _bytes(f, "kv_cache_dtype")
    qo = eff.prefill_qo_bytes(_bytes(f, "attn_dtype"), kvb,
                              column(f, "kv_cache_dtype", "bfloat16").astype(str) == "fp8",
                              in_kv_dtype and causal, hw.supports(DType.fp8))
    by = b * s * d * (2.0 * h * qo + 2.0 * kvh * kvb)
    peak = _attn_peak(hw)
    pred = eff.prefill_attention_time_s(b, s, s, h, d, causal, win, peak, by, device(hw), p)
    flops = eff.attention_flops(b, s, s, h, d, causal, win)
    # the bound of the row as labelled (the engine's kernel choice is not the bound's, as in
    # the core, whose ideal engine has no rules)
    written = b * s * d * (2.0 * h * _bytes(f, "attn_dtype") + 2.0 * kvh * kvb)
    return pred, np.maximum(flops / peak, written / hw.memory_bytes_per_s)


def _decode(f: pd.DataFrame, hw: HardwareProfile, p: eff.KernelParams) -> tuple[np.ndarray, ...]:
    b, h, kvh, d = (f[c].to_numpy(float) for c in ("batch_size", "num_heads",
                                                    "num_key_value_heads", "head_dim"))
    win = column(f, "window_size", 0.0).astype(float)
    kv_len = f["step"].to_numpy(float) + 1.0
    kv_len = np.where(win > 0, np.minimum(kv_len, win), kv_len)
    kvb, ab = _bytes(f, "kv_cache_dtype"), _bytes(f, "attn_dtype")
    dev, peak = device(hw), _attn_peak(hw)
    dispatch = p.decode_xqa > 0  # TensorRT-LLM's rule: the row's kernel is known
    # its (CTAs, XQA?) once: the XQA rows pick the DRAM streams, and the time uses both
    trtllm = (eff.trtllm_decode_ctas(b, h, kvh, kv_len, dev.sm_count, p.decode_max_group)
              if dispatch else None)
    xqa = trtllm[1] if trtllm is not None else np.zeros(len(f), dtype=bool)
    streams = kv_dram_streams(v_aliases_k(f), xqa, dispatch & ~xqa, b * kvh * kv_len * d * kvb,
                              hw.l2_cache_bytes)
    pred = eff.decode_attention_time_s(b, kv_len, h, kvh, d, kvb, ab, dev, p, peak, streams,
                                       trtllm)
    by = eff.decode_kv_bytes(b, kv_len, h, kvh, d, kvb, ab)
    flops = 4.0 * b * h * d * kv_len
    return pred, np.maximum(flops / peak, by / hw.memory_bytes_per_s)


# the `framework` column of the aiconfigurator tables -> costmodel engine id
ENGINE_OF_FRAMEWORK = {"VLLM": "vllm", "TRTLLM": "trtllm", "SGLANG": "sglang"}


def engine_of(frame: pd.DataFrame) -> np.ndarray:
    """Engine id per row ('' where the table names no framework costmodel knows)."""
    fw = column(frame, "framework", "").astype(str)
    return np.array([ENGINE_OF_FRAMEWORK.get(x.upper(), "") for x in fw], dtype=object)


def _per_engine(f: pd.DataFrame, hw: HardwareProfile, p: eff.KernelParams,
                by_engine: dict[str, eff.KernelParams], kind: str) -> tuple[np.ndarray, ...]:
    """Attention rows priced with their engine's figures (decode and prefill / ViT sets)
    where the device has them, else the device's."""
    pred, bound = np.full(len(f), np.nan), np.full(len(f), np.nan)
    engines = engine_of(f)
    for e in set(engines):
        idx = np.flatnonzero(engines == e)
        pe = by_engine.get(e, p)
        pred[idx], bound[idx] = (_decode(f.iloc[idx], hw, pe) if kind == "generation_attention"
                                 else _prefill(f.iloc[idx], hw, pe, kind == "context_attention",
                                               _in_kv_dtype(str(e))))
    return pred, bound


def _in_kv_dtype(engine: str) -> bool:
    """True when the bundled engine `engine` runs its prefill attention in the KV cache's
    dtype (its YAML's prefill_attention_dtype); False for rows of no known engine."""
    from costmodel.loading.load import engine_ids, load_engine

    return engine in engine_ids() and load_engine(engine).prefill_attention_dtype == "kv_cache"


def predict(frame: pd.DataFrame, hw: HardwareProfile, p: eff.KernelParams,
            by_engine: dict[str, eff.KernelParams] | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(predicted_s, bound_s) per row; NaN where the device lacks the row's dtype peak.
    by_engine: attention figures per engine id (the row's framework column picks them)."""
    pred, bound = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
    for kind, idx in frame.groupby("kind").indices.items():
        f = frame.iloc[idx]
        if kind == "gemm":
            pred[idx], bound[idx] = _gemm(f, hw, p)
        else:
            pred[idx], bound[idx] = _per_engine(f, hw, p, by_engine or {}, str(kind))
    return pred, bound


def yaml_line(name: str, value: float, indent: str = "  ") -> str:
    """One KernelParams figure as the profiles' YAML writes it: *_s figures in microseconds
    under their *_us key, 4 significant digits."""
    if name.endswith("_s"):
        return f"{indent}{name[:-2]}_us: {value * 1e6:.4g}"
    return f"{indent}{name}: {value:.4g}"


# --- held-out split ---------------------------------------------------------------------
_NOT_SHAPE = {"latency", "measured_s", "framework", "version", "device", "kernel_source",
              "source", "kind", "op_name"}


def held_out(frame: pd.DataFrame) -> np.ndarray:
    """True for the rows fits must not see: odd hash of the row's shape and dtype columns
    (stable across runs and machines, about half of every table). The columns are hashed in
    a canonical form (numbers as float64, text as str), so a row's half does not depend on
    which other tables were read with it (a table read alone keeps integer columns that
    read_tables' concat turns into floats)."""
    import pandas as pd

    out = np.zeros(len(frame), dtype=bool)
    for _, idx in frame.groupby("source").indices.items():
        f = frame.iloc[idx]
        cols = [c for c in f.columns if c not in _NOT_SHAPE and f[c].notna().all()]
        canon = pd.DataFrame({c: f[c].astype("float64") if pd.api.types.is_numeric_dtype(f[c])
                              else f[c].astype(str).astype(object) for c in cols})
        out[idx] = pd.util.hash_pandas_object(canon, index=False).to_numpy() % 2 == 1
    return out


# --- fitting ------------------------------------------------------------------------------
LOG_FRACTION = (np.log(0.02), 0.0)
LOG_TIME = (np.log(1e-9), np.log(1e-3))
OVERLAP = (0.0, 2.0)
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gemm": (("gemm",), ("gemm_fraction", "memory_fraction", "gemm_tile_s", "gemm_fixed_s",
                         "gemm_overlap")),
    "attention": (("context_attention",),
                  ("attention_fraction", "attention_tile_s", "attention_fixed_s",
                   "attention_io_flop_per_byte", "attention_overlap", "attention_exp_overlap")),
    "decode": (("generation_attention",), ("decode_fraction", "decode_tile_s",
                                           "decode_fixed_s", "decode_half_ctas",
                                           "decode_compute_fraction", "decode_mmha_tile_s",
                                           "decode_flop_per_element")),
}
ONLY_WITH = {"decode_mmha_tile_s": "decode_xqa"}  # figures fitted only under that rule
# kernel rules: given, never fitted
DECODE_RULES = ("decode_split_mha", "decode_max_group", "decode_xqa", "decode_xqa_sm90")
START = {"fraction": 0.7, "_s": 2e-6, "overlap": 0.5, "per_byte": 300.0}
MAX_FIT_ROWS = 20000  # larger groups are thinned to every n-th row (deterministic)


def _space(name: str) -> tuple[float, tuple[float, float], bool]:
    """(start, bounds, log?) of one parameter in the fit's coordinates."""
    if name.endswith("overlap"):
        return START["overlap"], OVERLAP, False
    if name.endswith("_ctas"):  # CTAs per wave at half bandwidth
        return np.log(50.0), (np.log(0.01), np.log(1e5)), True
    if name == "decode_compute_fraction":  # start low: at 0.7 no decode row is compute-bound
        return np.log(0.1), LOG_FRACTION, True  # and the fit would never move it
    if name == "decode_fraction":  # an asymptote: may exceed 1 (core/decode_kernel.py)
        return np.log(START["fraction"]), (LOG_FRACTION[0], np.log(3.0)), True
    if name.endswith("_s"):
        return np.log(START["_s"]), LOG_TIME, True
    if name == "decode_flop_per_element":  # FLOP-equivalents per K/V element: 1e-3 .. 1e4
        return np.log(START["per_byte"]), (np.log(1e-3), np.log(1e4)), True
    if name.endswith("_per_byte"):  # FLOP-equivalents per byte: 1 .. 1e5
        return np.log(START["per_byte"]), (0.0, np.log(1e5)), True
    return np.log(START["fraction"]), LOG_FRACTION, True


def _fit_rows(frame: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    sel = frame["kind"].isin(kinds)
    if "gemm_dtype" in frame:  # the large-GEMM fraction is per dtype: fit bf16 / fp16 only
        sel &= frame["gemm_dtype"].fillna("bfloat16").isin(["bfloat16", "float16"])
    rows = frame[sel]
    step = max(1, len(rows) // MAX_FIT_ROWS)
    return rows.iloc[::step]


def fit(frame: pd.DataFrame, hw: HardwareProfile, fixed: dict[str, float] | None = None,
        start: eff.KernelParams | None = None) -> eff.KernelParams:
    """Least squares on log(predicted / measured) per group (GEMM, prefill + ViT attention,
    decode attention) over the frame's rows; `fixed` parameters (e.g. gemm_fraction from
    MAMF) are held. Groups without rows keep `start` (default: the bare bound)."""
    values = dict(vars(start or eff.KernelParams()))
    fixed = fixed or {}
    values.update(fixed)
    for kinds, names in GROUPS.values():
        rows = _fit_rows(frame, kinds)
        free = [n for n in names if n not in fixed and values.get(ONLY_WITH.get(n, ""), 1) > 0
                and _identifiable(n, rows)]
        if not len(rows) or not free:
            continue
        values.update(_fit_group(rows, hw, values, free))
    return eff.KernelParams(**values)


def _identifiable(name: str, rows: pd.DataFrame) -> bool:
    """decode_flop_per_element (SM work per K/V element) is told apart from the bandwidth only by rows
    with K/V elements of more than one size (bf16 and fp8 caches); on rows of one size it is
    held where it starts (0 in the shipped profiles without it)."""
    if name != "decode_flop_per_element":
        return True
    return "kv_cache_dtype" in rows and rows["kv_cache_dtype"].astype(str).nunique() > 1


def fit_decode(frame: pd.DataFrame, hw: HardwareProfile, base: eff.KernelParams,
               rules: dict[str, float] | None = None) -> eff.KernelParams:
    """`base` with its decode figures fitted on the frame's generation_attention rows under
    the given kernel rules (DECODE_RULES: e.g. decode_split_mha 0 for FlashAttention-2's
    varlen path, decode_max_group 32 and decode_xqa 1 for TensorRT-LLM's XQA / masked-MHA
    dispatch, which alone fits decode_mmha_tile_s); nothing else moves."""
    fixed = {k: v for k, v in vars(base).items() if k not in GROUPS["decode"][1]}
    fixed.update(rules or {})
    return fit(frame[frame["kind"] == "generation_attention"], hw, fixed=fixed, start=base)


def fit_attention(frame: pd.DataFrame, hw: HardwareProfile,
                  base: eff.KernelParams) -> eff.KernelParams:
    """`base` with its prefill attention figures fitted on the frame's context_attention
    rows (e.g. one engine's: attention_kernel_by_engine); nothing else moves."""
    fixed = {k: v for k, v in vars(base).items() if k not in GROUPS["attention"][1]}
    return fit(frame[frame["kind"] == "context_attention"], hw, fixed=fixed, start=base)


def _fit_group(rows: pd.DataFrame, hw: HardwareProfile, values: dict[str, float],
               free: list[str]) -> dict[str, float]:
    spaces = [_space(n) for n in free]
    logs = [s[2] for s in spaces]
    measured = rows["measured_s"].to_numpy(float)

    def unpack(x: np.ndarray) -> dict[str, float]:
        return {n: float(np.exp(v) if lg else v) for n, v, lg in zip(free, x, logs, strict=True)}

    def resid(x: np.ndarray) -> np.ndarray:
        pred, _ = predict(rows, hw, eff.KernelParams(**{**values, **unpack(x)}))
        return np.nan_to_num(np.log(pred / measured), nan=0.0)

    lo = np.array([s[1][0] for s in spaces])
    hi = np.array([s[1][1] for s in spaces])
    return unpack(least_squares(resid, np.array([s[0] for s in spaces]), lo, hi))


# --- summary ------------------------------------------------------------------------------
def labels(frame: pd.DataFrame, bound_s: np.ndarray) -> np.ndarray:
    """Reporting kind per row: the table kind, `gemm:<dtype>` for non-bf16/fp16 GEMMs, and a
    `<10us` suffix where the bound is below SMALL_S."""
    kind = frame["kind"].to_numpy().astype(object)
    if "gemm_dtype" in frame:
        dt = frame["gemm_dtype"].fillna("bfloat16").astype(str).to_numpy()
        other = (kind == "gemm") & ~np.isin(dt, ["bfloat16", "float16"])
        kind = np.where(other, "gemm:" + dt.astype(object), kind)
    return np.where(bound_s < SMALL_S, kind + "<10us", kind)


def summarise(label: np.ndarray, predicted_s: np.ndarray,
              measured_s: np.ndarray) -> dict[str, dict[str, float]]:
    """Per label: rows, median / p90 / max |predicted - measured| / measured (fractions), and
    rows skipped (the device has no peak for their dtype). Labels in KINDS order, then the
    rest alphabetically."""
    err = np.abs(predicted_s - measured_s) / measured_s
    order = sorted(set(label), key=lambda s: (s.split("<")[0].split(":")[0] not in KINDS,
                                               KINDS.index(s.split("<")[0].split(":")[0])
                                               if s.split("<")[0].split(":")[0] in KINDS else 0,
                                               s))
    out = {}
    for name in order:
        e = err[label == name]
        ok = e[np.isfinite(e)]
        out[name] = {"rows": int(ok.size), "skipped": int(e.size - ok.size),
                     "median_abs_error": _q(ok, 0.5), "p90_abs_error": _q(ok, 0.9),
                     "max_abs_error": float(ok.max()) if ok.size else float("nan")}
    return out


def _q(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if x.size else float("nan")
