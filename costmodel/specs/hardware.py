"""Hardware profiles.

Two layers, as in Calculon: `HardwareFile` mirrors the YAML on disk (human units in the keys:
GB, GB/s, TFLOP/s, MB, W, us) and is what validation errors refer to; `HardwareProfile` is the
same device in base units (bytes, bytes/s, FLOP/s, s), converted once by `HardwareProfile.from_file`.
All peak figures are dense (no 2:4 sparsity). GB = 1e9 bytes, TFLOP/s = 1e12 FLOP/s.
This module never imports the model specs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from costmodel.errors import CostmodelError
from costmodel.specs.base import FROZEN, FileModel, NonBlank, NonNegativeFloat, PositiveFloat
from costmodel.units import GIGA, MEBI, MICRO, TERA, DType, si

# Figures that must carry a source when present (keys of the YAML file).
SOURCED_KEYS = (
    "memory_GB",
    "memory_bandwidth_GBps",
    "peak_tflops",
    "l2_cache_MB",
    "tdp_W",
    "interconnect",
    "power_modes_W",
    "sm_count",
    "kernel_efficiency",
    "decode_kernel_by_engine",
    "attention_kernel_by_engine",
    "flop_per_exp",
    "host_cpu",
)
# Figures with a neutral default (1, none, 0 us): sourced when a file sets them otherwise.
DEFAULT_SOURCED = ("efficiency", "efficiency_curves", "kernel_launch_overhead_us")


class PeakTflops(FileModel):
    """Dense peak throughput per dtype in TFLOP/s (TOPS for int). null = not supported."""

    fp32: PositiveFloat | None = None
    tf32: PositiveFloat | None = None
    bf16: PositiveFloat | None = None
    fp16: PositiveFloat | None = None
    fp8: PositiveFloat | None = None
    int8: PositiveFloat | None = None
    int4: PositiveFloat | None = None


class Interconnect(FileModel):
    """GPU-to-GPU link: bandwidth per direction per GPU, and one-way latency."""

    kind: Literal["nvlink", "pcie", "none"] = "none"
    bandwidth_GBps: PositiveFloat | None = None
    latency_us: NonNegativeFloat = 0.0


class EfficiencyFile(FileModel):
    """Achievable fraction of the datasheet peak; 1.0 = the bare roofline."""

    compute: float = Field(default=1.0, gt=0.0, le=1.0)
    memory: float = Field(default=1.0, gt=0.0, le=1.0)
    attention: float = Field(default=1.0, gt=0.0, le=1.0)


class DecodeFields(FileModel):
    """The decode-attention figures and kernel rules (core/decode_kernel.decode_attention_time_s),
    shared by a device's KernelEfficiencyFile and each engine's DecodeKernelFile."""

    decode_fraction: float = Field(default=1.0, gt=0.0, le=3.0)  # asymptote (decode_kernel.py)
    decode_tile_us: float = Field(default=0.0, ge=0.0)
    decode_fixed_us: float = Field(default=0.0, ge=0.0)
    decode_half_ctas: float = Field(default=0.0, ge=0.0)
    decode_compute_fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    decode_split_mha: bool = True
    decode_max_group: int = Field(default=0, ge=0)
    decode_xqa: bool = False  # TensorRT-LLM's XQA / masked-MHA dispatch (core/decode_kernel.py)
    decode_mmha_tile_us: float = Field(default=0.0, ge=0.0)  # its masked-MHA CTAs, per wave
    decode_xqa_sm90: bool = False  # decode_xqa on SM90: fp8 caches run mha_sm90 (decode_kernel.py)
    # SM work per K/V element loaded (FLOP-equivalents at the dense peak; core/decode_kernel.py)
    decode_flop_per_element: float = Field(default=0.0, ge=0.0)


class AttentionFields(FileModel):
    """The prefill / ViT attention figures (core/efficiency.
    prefill_attention_time_s), shared by a device's KernelEfficiencyFile and each engine's
    AttentionKernelFile."""

    attention_fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    attention_tile_us: float = Field(default=0.0, ge=0.0)
    attention_fixed_us: float = Field(default=0.0, ge=0.0)
    attention_io_flop_per_byte: float = Field(default=0.0, ge=0.0)  # FLOP / Q,K,V,O byte
    attention_overlap: float = Field(default=0.0, ge=0.0, le=2.0)
    attention_exp_overlap: float = Field(default=0.0, ge=0.0, le=2.0)

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        if isinstance(data, dict) and "attention_memory_fraction" in data:
            raise ValueError("attention_memory_fraction was replaced by attention_io_flop_per_byte"
                             " = bf16 peak / (bandwidth x fraction) (docs/methodology.md)")
        return data


class KernelEfficiencyFile(DecodeFields, AttentionFields):
    """Kernel-level efficiency figures (costmodel.core.efficiency.KernelParams) in YAML units.

    Fractions are of the datasheet peak (FLOP/s of the math dtype, or bandwidth); `_us` are
    microseconds; `_overlap` in [0, 2] (0 = max(compute, memory), 1 = their sum). The decode
    figures are DecodeFields'.
    """

    gemm_fraction: float = Field(gt=0.0, le=1.0)
    # large fp8 GEMMs, of the fp8 dense peak (MAMF fp8 / peak); 0: gemm_fraction
    gemm_fraction_fp8: float = Field(default=0.0, ge=0.0, le=1.0)
    memory_fraction: float = Field(gt=0.0, le=1.0)
    gemm_tile_us: float = Field(default=0.0, ge=0.0)
    gemm_fixed_us: float = Field(default=0.0, ge=0.0)
    gemm_overlap: float = Field(default=0.0, ge=0.0, le=2.0)


class DecodeKernelFile(DecodeFields):
    """One engine's decode-attention kernel on this device (`decode_kernel_by_engine.<id>`):
    the decode figures of KernelEfficiencyFile, which replace the device's for that engine
    (decode_fraction must be given)."""

    decode_fraction: float = Field(gt=0.0, le=3.0)


class AttentionKernelFile(AttentionFields):
    """One engine's prefill / ViT attention kernel on this device
    (`attention_kernel_by_engine.<id>`): the attention figures of KernelEfficiencyFile, which
    replace the device's for that engine (attention_fraction must be given)."""

    attention_fraction: float = Field(gt=0.0, le=1.0)


CURVE_KEYS = ("roofline_us", "flop_per_byte", "gemm_k")  # what a curve's knots are in
CURVE_CLASSES = ("linear", "attention", "norm", "activation", "elementwise", "rope", "embedding",
                 "linear_memory", "attention_memory")


class EfficiencyCurveFile(FileModel):
    """Efficiency by operator size: piecewise-linear in log10 of the key, clamped at the ends.

    Key (exactly one): `roofline_us`, the operator's bare-roofline time max(compute, memory) at
    efficiency 1 in microseconds; `flop_per_byte`, its arithmetic intensity (FLOPs / bytes
    moved), which for a GEMM of m rows grows with m whatever its width, so a curve over it
    tells a 64-row GEMM from a 512-row one of the same roofline time; or `gemm_k`, a GEMM's
    input width (the reduction length; a CPU GEMV streams long rows faster than short ones). Knots strictly
    increasing; `efficiency` the fraction of the roofline the device achieves there, in
    (0, 1]. See docs/validation.md, "Efficiency curves" and "Calibrating a profile".
    """

    roofline_us: list[PositiveFloat] | None = Field(default=None, min_length=1)
    flop_per_byte: list[PositiveFloat] | None = Field(default=None, min_length=1)
    gemm_k: list[PositiveFloat] | None = Field(default=None, min_length=1)
    efficiency: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> EfficiencyCurveFile:
        given = [k for k in CURVE_KEYS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"{', '.join(CURVE_KEYS)}: give exactly one of them (the knots)")
        key = given[0]
        knots = list(getattr(self, key))
        if len(knots) != len(self.efficiency):
            raise ValueError(f"efficiency: give one value per {key} knot")
        if any(b <= a for a, b in zip(knots[:-1], knots[1:], strict=True)):
            raise ValueError(f"{key}: knots must be strictly increasing")
        if any(not 0.0 < e <= 1.0 for e in self.efficiency):
            raise ValueError("efficiency: every value must be in (0, 1]")
        return self


class EfficiencyCurvesFile(FileModel):
    """Optional curve per operator class (costmodel.core.ops.OpClass; lm_head uses `linear`).
    Real kernels of the same roofline size differ by class (an RMSNorm reaches about a third
    of the bandwidth a residual add does), so one curve per class, not one for all."""

    linear: EfficiencyCurveFile | None = None
    attention: EfficiencyCurveFile | None = None
    norm: EfficiencyCurveFile | None = None
    activation: EfficiencyCurveFile | None = None
    elementwise: EfficiencyCurveFile | None = None
    rope: EfficiencyCurveFile | None = None
    embedding: EfficiencyCurveFile | None = None
    # Memory-bound matrix products (a decode GEMV streaming its weights; decode attention
    # reading the KV cache) reach a different fraction of the bandwidth than compute-bound ones
    # of the same roofline time reach of the peak: where given, these curves price operators of
    # that class whose bare roofline is memory-bound (costmodel.core.roofline.op_times).
    linear_memory: EfficiencyCurveFile | None = None
    attention_memory: EfficiencyCurveFile | None = None


class HardwareFile(FileModel):
    """A hardware profile exactly as written in YAML (units in the keys)."""

    id: NonBlank
    name: NonBlank
    category: Literal["datacenter", "workstation", "consumer", "edge"]
    memory_GB: PositiveFloat
    memory_bandwidth_GBps: PositiveFloat
    peak_tflops: PeakTflops
    l2_cache_MB: PositiveFloat | None = None
    tdp_W: PositiveFloat | None = None
    interconnect: Interconnect = Interconnect()
    power_modes_W: dict[str, PositiveFloat] | None = None
    efficiency: EfficiencyFile = EfficiencyFile()
    efficiency_curves: EfficiencyCurvesFile = EfficiencyCurvesFile()
    kernel_launch_overhead_us: NonNegativeFloat = 0.0
    sm_count: int | None = Field(default=None, gt=0)
    kernel_efficiency: KernelEfficiencyFile | None = None
    decode_kernel_by_engine: dict[str, DecodeKernelFile] | None = None
    attention_kernel_by_engine: dict[str, AttentionKernelFile] | None = None
    # dense bf16 tensor FLOPs per SFU exponential (per clock per SM): the SFU exp rate is
    # peak_bf16 / flop_per_exp (core/efficiency.py, prefill attention's softmax)
    flop_per_exp: PositiveFloat | None = None
    # the module's own host CPU, in words, where it is part of the device (a Jetson SoC): a
    # description, scaling nothing (docs/methodology.md, "The host CPU")
    host_cpu: str | None = Field(default=None, min_length=1)
    sources: dict[str, str]
    notes: str = ""

    @model_validator(mode="after")
    def _every_figure_has_a_source(self) -> HardwareFile:
        present = [k for k in SOURCED_KEYS if getattr(self, k) is not None] + [
            k for k in DEFAULT_SOURCED if getattr(self, k) != type(self).model_fields[k].default]
        if self.interconnect.kind == "none":
            present.remove("interconnect")
        missing = [k for k in present if not self.sources.get(k, "").strip()]
        if missing:
            raise ValueError(f"sources: add a source for {', '.join(missing)} "
                             "(sources.<key>: where the figure comes from)")
        if self.kernel_efficiency is not None and self.sm_count is None:
            raise ValueError("kernel_efficiency: needs sm_count (the SMs its kernel waves are "
                             "counted on; without it the figures are ignored); add sm_count: "
                             "N with its source, or drop kernel_efficiency")
        for key in ("decode_kernel_by_engine", "attention_kernel_by_engine"):
            if getattr(self, key) and self.kernel_efficiency is None:
                raise ValueError(f"{key}: needs kernel_efficiency (the device's figures it "
                                 "replaces part of); add it or drop this")
        if self.peak_tflops.bf16 is None and self.peak_tflops.fp16 is None:
            raise ValueError("peak_tflops: give at least fp16 or bf16")
        return self


class HardwareProfile(BaseModel):
    """A device in base units (bytes, bytes/s, FLOP/s, s). Build with `from_file` (or
    loading.load_hardware); the figures are checked again when a profile edited by hand
    (model_copy) is given to the API (analysis/arguments.hardware_arg)."""

    model_config = FROZEN
    id: str
    name: str
    category: str
    memory_bytes: PositiveFloat
    memory_bytes_per_s: PositiveFloat
    peak_flops_per_s_by_dtype: dict[DType, PositiveFloat]
    l2_cache_bytes: float | None
    tdp_W: float | None
    interconnect_kind: str
    interconnect_bytes_per_s: PositiveFloat | None
    interconnect_latency_s: NonNegativeFloat
    power_modes_W: dict[str, float]
    compute_efficiency: float = Field(gt=0.0, le=1.0)
    memory_efficiency: float = Field(gt=0.0, le=1.0)
    attention_efficiency: float = Field(gt=0.0, le=1.0)
    kernel_launch_overhead_s: NonNegativeFloat
    sm_count: int | None = None
    # costmodel.core.efficiency.KernelParams as a dict in base units (s); None = not fitted
    kernel_params: dict[str, float] | None = None
    # engine id -> kernel_params with that engine's decode-attention figures
    kernel_params_by_engine: dict[str, dict[str, float]] = {}
    # SFU exponentials per second (peak_bf16 / flop_per_exp); None = not modelled
    exp_per_s: float | None = None
    host_cpu: str | None = None  # HardwareFile.host_cpu
    # op class -> (roofline-time knots in s, efficiency at each knot); empty = no curve.
    efficiency_curves: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    # op class -> (arithmetic-intensity knots in FLOP/byte, efficiency); a class here is priced
    # by intensity instead of roofline time.
    intensity_curves: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    # op class -> (input-width knots, efficiency): a GEMM priced by its reduction length k
    width_curves: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    changes: tuple[str, ...] = ()
    source_file: HardwareFile

    @classmethod
    def from_file(cls, f: HardwareFile, changes: tuple[str, ...] = ()) -> HardwareProfile:
        peaks = {DType(k): v * TERA for k, v in f.peak_tflops.model_dump().items() if v is not None}
        ic = f.interconnect
        return cls(
            id=f.id,
            name=f.name,
            category=f.category,
            memory_bytes=f.memory_GB * GIGA,
            memory_bytes_per_s=f.memory_bandwidth_GBps * GIGA,
            peak_flops_per_s_by_dtype=peaks,
            l2_cache_bytes=None if f.l2_cache_MB is None else f.l2_cache_MB * MEBI,
            tdp_W=f.tdp_W,
            interconnect_kind=ic.kind,
            interconnect_bytes_per_s=None if ic.bandwidth_GBps is None else ic.bandwidth_GBps * GIGA,
            interconnect_latency_s=ic.latency_us * MICRO,
            power_modes_W=dict(f.power_modes_W or {}),
            compute_efficiency=f.efficiency.compute,
            memory_efficiency=f.efficiency.memory,
            attention_efficiency=f.efficiency.attention,
            kernel_launch_overhead_s=f.kernel_launch_overhead_us * MICRO,
            sm_count=f.sm_count,
            kernel_params=_kernel_params(f.kernel_efficiency),
            kernel_params_by_engine=_by_engine(f),
            exp_per_s=_exp_per_s(f, peaks),
            host_cpu=f.host_cpu,
            efficiency_curves=_curves(f.efficiency_curves, "roofline_us", MICRO),
            intensity_curves=_curves(f.efficiency_curves, "flop_per_byte", 1.0),
            width_curves=_curves(f.efficiency_curves, "gemm_k", 1.0),
            changes=changes,
            source_file=f,
        )

    def supports(self, dtype: DType) -> bool:
        return dtype in self.peak_flops_per_s_by_dtype

    def peak_flops_per_s(self, dtype: DType) -> float:
        """Dense peak FLOP/s for math in `dtype`; raises UnsupportedDtype if the device lacks it."""
        if dtype not in self.peak_flops_per_s_by_dtype:
            have = ", ".join(d.value for d in self.peak_flops_per_s_by_dtype)
            raise UnsupportedDtype(f"{self.id} has no {dtype.value} peak (has {have}); "
                                   "choose one of those")
        return self.peak_flops_per_s_by_dtype[dtype]

    @property
    def ridge_flops_per_byte(self) -> float:
        """FLOP per byte where the bf16 (or fp16) roofline turns compute-bound."""
        dt = DType.bf16 if DType.bf16 in self.peak_flops_per_s_by_dtype else DType.fp16
        return self.peak_flops_per_s(dt) / self.memory_bytes_per_s

    def __repr__(self) -> str:
        """One line (pydantic's repr prints every curve and source, about 11 kB in a notebook
        cell); the fields and `source_file` hold the rest."""
        peaks = ", ".join(f"{d.value} {si(v, 'FLOP/s')}" for d, v in
                          self.peak_flops_per_s_by_dtype.items() if d in (DType.bf16, DType.fp16))
        changed = f" | what-if: {'; '.join(self.changes)}" if self.changes else ""
        return (f"<HardwareProfile {self.id}: {self.name}, {si(self.memory_bytes, 'B')} at "
                f"{si(self.memory_bytes_per_s, 'B/s')}, {peaks}{changed}>")

    __str__ = __repr__  # print() too (pydantic's str is its repr without the class name)


def _kernel_params(k: BaseModel | None) -> dict[str, float] | None:
    """YAML units -> base units: `x_us` becomes `x_s` (seconds), fractions stay."""
    if k is None:
        return None
    return {(n[:-3] + "_s" if n.endswith("_us") else n): float(v * MICRO if n.endswith("_us") else v)
            for n, v in k.model_dump().items()}


def _by_engine(f: HardwareFile) -> dict[str, dict[str, float]]:
    """Engine id -> the device's kernel_params with that engine's decode and attention sets."""
    base = _kernel_params(f.kernel_efficiency) or {}
    dec, att = f.decode_kernel_by_engine or {}, f.attention_kernel_by_engine or {}
    return {e: {**base, **(_kernel_params(dec.get(e)) or {}),
                **(_kernel_params(att.get(e)) or {})} for e in sorted(set(dec) | set(att))}


def _exp_per_s(f: HardwareFile, peaks: dict[DType, float]) -> float | None:
    """SFU exponentials per second: the bf16 (else fp16) dense peak / flop_per_exp."""
    if f.flop_per_exp is None:
        return None
    return peaks.get(DType.bf16, peaks.get(DType.fp16, 0.0)) / f.flop_per_exp


def _curves(c: EfficiencyCurvesFile, key: str, scale: float
            ) -> dict[str, tuple[tuple[float, ...], tuple[float, ...]]]:
    """The curves keyed by `key` (knots x `scale`: microseconds -> seconds)."""
    out = {}
    for cls in CURVE_CLASSES:
        curve = getattr(c, cls)
        if curve is not None and getattr(curve, key) is not None:
            out[cls] = (tuple(x * scale for x in getattr(curve, key)), tuple(curve.efficiency))
    return out


class UnsupportedDtype(CostmodelError):
    """The device has no peak figure for the requested math dtype. `detail` names device and
    dtype; the message names the CLI option, and a caller reading another input (a CSV
    column) words its own line from `detail`."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(f"--dtype: {detail} (or, for the device comparisons, leave --dtype "
                         "out: auto)")
