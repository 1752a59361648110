"""Data types, SI constants and display formatting.

Base units everywhere in code: FLOPs, bytes, seconds, bytes/s, FLOP/s. Human units
(GB/s, TFLOP/s, GB, MB) appear only in YAML keys (converted once at load) and in display.
Convention: GB = 1e9 bytes, MB = 1e6 bytes, TFLOP/s = 1e12 FLOP/s (vendor datasheet units),
except cache sizes, which vendors quote in binary units: l2_cache_MB is MiB (MEBI; the A100's
"40 MB" L2 is 40,960 KB = 41,943,040 bytes, CUDA deviceQuery's "L2 Cache Size").
"""

from __future__ import annotations

from enum import Enum

KILO = 1e3
MEGA = 1e6
MEBI = 2.0**20  # cache sizes only (module docstring)

# Default int4 weight group (weights) and bytes stored per group (one fp16 scale): GPTQ / AWQ
# style g128 without zeros (core/quant.py, specs/workload.py). gpt-fast's int4 (quantize.py,
# WeightOnlyInt4Linear) stores bf16 scales_and_zeros [K / groupsize, N, 2]: 4 bytes per group,
# groupsize 32 by default.
INT4_GROUP = 128
SCALE_BYTES = 2.0  # fp16 scale
MAX_WEIGHT_GROUP = 1_048_576  # weights per int4 quantisation group (any positive count)
MAX_GROUP_BYTES = 1_024.0  # bytes of scale (+ zero) per int4 group
GIGA = 1e9
TERA = 1e12
MICRO = 1e-6


class DType(str, Enum):
    """Numeric formats. The value is the id users type."""

    fp32 = "fp32"
    tf32 = "tf32"
    bf16 = "bf16"
    fp16 = "fp16"
    fp8 = "fp8"
    int8 = "int8"
    int4 = "int4"

    @property
    def bytes_per_element(self) -> float:
        """Storage bytes per element (int4 packs two per byte: 0.5)."""
        return _BYTES[self]


_BYTES = {
    DType.fp32: 4.0,
    DType.tf32: 4.0,  # tf32 is stored as fp32
    DType.bf16: 2.0,
    DType.fp16: 2.0,
    DType.fp8: 1.0,
    DType.int8: 1.0,
    DType.int4: 0.5,
}

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _rounded(value: float, digits: int) -> float:
    """|value| as it prints with `digits` significant digits (999.9 -> 1000 at 3), so the
    unit is chosen from the printed number: never '1e+03 GFLOP' for 999.9 GFLOP."""
    return abs(float(f"{value:.{digits}g}"))


def si(value: float, unit: str, digits: int = 3) -> str:
    """Format a base-unit value with an SI prefix, e.g. si(1.5e12, 'FLOP') -> '1.5 TFLOP'."""
    mag = _rounded(value, digits)
    for scale, prefix in _PREFIXES:
        if mag >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def seconds(value: float) -> str:
    """Format a duration in s / ms / us for display (the unit of the printed number)."""
    mag = _rounded(value, 3)
    if mag >= 1.0:
        return f"{value:.3g} s"
    if mag >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} us"


def count(value: float) -> str:
    """A count (tokens, encoder passes, frames) for display: a whole number in full
    (1000000, where `:g` prints '1e+06' from a million up); else as `:g` below a million
    (57.5) and with one decimal from there."""
    v = float(value)
    if v.is_integer():
        return str(int(v))
    return f"{v:g}" if abs(v) < 1e6 else f"{v:.1f}"
