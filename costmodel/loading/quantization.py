"""config.json's `quantization_config` (a quantised checkpoint) -> ModelSpec.quantization
(specs/quantization.py): what it stores, the weight dtype and int4 groups, and which weight
parts are quantised. A workload that names no weight dtype / parts takes them from here
(analysis/weights.py); a method not read here is refused unless the workload names the dtype.

Formats (transformers' quantizer configs, utils/quantization_config.py; storage per group of G
weights along the input) and the parts each quantises:
  awq         AwqConfig(bits=4, group_size=128, zero_point=True): an fp16 scale and a packed
              4-bit zero per group (AutoAWQ's qzeros) -> int4, G, 2.5 bytes (2 without zeros).
              Parts: layers (AutoAWQ quantises the LLM's decoder layers only; the embedding,
              lm_head and a VLM's vision tower stay in 16 bits: Qwen2.5-VL-AWQ's
              modules_to_not_convert ["visual"])
  gptq        GPTQConfig(bits, group_size=128; -1 = one group per input row): an fp16 scale and
              a packed zero (qzeros, bits wide) per group -> int4 (bits 4) with 2 + bits / 8
              bytes, int8 (bits 8). Parts: layers (optimum's block_name_to_quantize, the
              decoder layers), and lm_head when GPTQModel's `lm_head: true`
  fp8         FineGrainedFP8Config (block scales, one fp32 per 128 x 128 block) -> fp8.
              Parts: vision and layers (every nn.Linear but the lm_head, which transformers'
              get_keys_to_not_convert keeps, and modules_to_not_convert)
  compressed-tensors  config_groups.*.weights: num_bits 4 (int) -> int4 with its group_size
              (an fp16 scale, and a packed zero if not symmetric), 8 (float) -> fp8, 8 (int) ->
              int8. Parts: vision, layers, lm_head (its targets are Linear layers) less those
              its `ignore` list names
  bitsandbytes  BitsAndBytesConfig (quant_method may be absent in older configs): load_in_4bit
              -> int4, blocks of 64 with an fp32 absmax (4 bytes; 1 + 4/256 with double
              quantisation); load_in_8bit -> int8. Parts: vision and layers (nn.Linear but
              the lm_head, less llm_int8_skip_modules)
The embedding table (an nn.Embedding, not a Linear) is never quantised by these methods. A list
entry naming a vision module (visual, vision_tower, vision_model, multi_modal_projector,
mm_projector, ...) keeps the vision part (encoder and projector together) unquantised; one
naming lm_head keeps the lm_head. Any other method is reported without a dtype.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from costmodel.loading.config_fields import Cfg, ConfigError
from costmodel.specs.quantization import QuantizedCheckpoint
from costmodel.units import DType

# bitsandbytes' 4-bit blocksize (BitsAndBytesConfig / bnb.functional.quantize_4bit default)
BNB_BLOCK = 64
# Module names that mean a VLM's vision tower or projector in a skip / ignore list (transformers'
# attribute names: Qwen-VL `visual`, LLaVA `vision_tower` / `multi_modal_projector`, mllama
# `vision_model`, LLaVA's original `mm_projector`, MiniCPM-V `vpm` / `resampler`).
VISION_NAMES = ("visual", "vision", "multi_modal_projector", "mm_projector", "vpm", "resampler")


class _Found(NamedTuple):
    """What a reader found: the words, and the weight dtype and int4 group (None: unknown)."""

    stores: str
    dtype: DType | None = None
    group: int | None = None
    group_bytes: float | None = None


def quantization_config(cfg: Cfg) -> QuantizedCheckpoint | None:
    """The checkpoint's quantisation from quantization_config (or text_config's); None when
    the config has none or an empty one."""
    q = cfg.get("quantization_config")
    if q is None:
        text = cfg.get("text_config")
        q = text.get("quantization_config") if isinstance(text, dict) else None
    if q is None:
        return None
    if not isinstance(q, dict):
        raise ConfigError("config.json: quantization_config is not an object; fix the file")
    if not q:
        return None  # an empty object quantises nothing
    bnb = q.get("load_in_4bit") or q.get("load_in_8bit")  # older bitsandbytes: no quant_method
    method = str(q.get("quant_method", "bitsandbytes" if bnb else "unknown"))[:40]
    found = _READERS.get(method, _unknown)(q)
    skip = _skipped(q, method)
    kept = f"; {', '.join(skip[:4])} kept unquantised" if skip else ""
    return QuantizedCheckpoint(
        method=method, stores=f"{method}, {found.stores}{kept}", flags=_flags(found),
        weight_dtype=found.dtype, weight_group=found.group, weight_group_bytes=found.group_bytes,
        weight_parts=_parts(method, q, skip))


def _skipped(q: Cfg, method: str) -> list[str]:
    """The module names the checkpoint keeps unquantised (each cut to 30 characters)."""
    key = {"bitsandbytes": "llm_int8_skip_modules", "compressed-tensors": "ignore"}.get(
        method, "modules_to_not_convert")
    skip = q.get(key)
    return [str(m)[:30] for m in skip] if isinstance(skip, list) else []


def _parts(method: str, q: Cfg, skip: list[str]) -> tuple[Any, ...]:
    """The weight parts the method quantises (module docstring), less the skipped ones."""
    if method in ("awq", "gptq"):
        return ("layers", "lm_head") if method == "gptq" and q.get("lm_head") is True \
            else ("layers",)
    names = [s.lower() for s in skip]
    parts = ["layers"]
    if not any(v in n for n in names for v in VISION_NAMES):
        parts.insert(0, "vision")
    if method == "compressed-tensors" and not any("lm_head" in n for n in names):
        parts.append("lm_head")
    return tuple(parts)


def _flags(found: _Found) -> str:
    """The CLI options that cost what the checkpoint stores ('' when its dtype is unknown)."""
    if found.dtype is None:
        return ""
    if found.dtype is not DType.int4:
        return f"--weight-dtype {found.dtype.value}"
    if found.group is None or found.group_bytes is None:
        return "--weight-dtype int4 (with its --weight-group)"
    return (f"--weight-dtype int4 --weight-group {found.group} "
            f"--weight-group-bytes {found.group_bytes:g}")


def _as_whole(x: Any) -> int | None:
    """A whole number as the config writes it (4 or "4"), else None."""
    if isinstance(x, bool):
        return None
    try:
        value = int(str(x))
    except ValueError:
        return None
    return value


def _text(x: Any) -> str:
    return str(x)[:20]


def _int4(stores: str, group: Any, group_bytes: float) -> _Found:
    """int4 in groups of `group` weights with group_bytes each (the group None when the
    config's is not a count >= 1: GPTQ's -1, one group per input row, depends on the layer
    and is not read; its bytes per group still are)."""
    g = _as_whole(group)
    return _Found(stores, DType.int4, g if g is not None and g > 0 else None, group_bytes)


def _awq(q: Cfg) -> _Found:
    bits, group = q.get("bits", q.get("w_bit", 4)), q.get("group_size", q.get("q_group_size", 128))
    scale_zero = 2.0 + (0.5 if q.get("zero_point", True) else 0.0)
    stores = f"{_text(bits)}-bit, group {_text(group)}"
    return _int4(stores, group, scale_zero) if _as_whole(bits) == 4 else _Found(stores)


def _gptq(q: Cfg) -> _Found:
    bits, group = q.get("bits", 4), q.get("group_size", 128)
    stores = f"{_text(bits)}-bit, group {_text(group)}"
    if _as_whole(bits) == 8:
        return _Found(stores, DType.int8)
    return _int4(stores, group, 2.0 + 0.5) if _as_whole(bits) == 4 else _Found(stores)


def _fp8(q: Cfg) -> _Found:
    return _Found(f"fp8 weights (blocks {_text(q.get('weight_block_size'))})", DType.fp8)


def _compressed(q: Cfg) -> _Found:
    groups = q.get("config_groups")
    first = next(iter(groups.values()), None) if isinstance(groups, dict) else None
    weights = first.get("weights") if isinstance(first, dict) else None
    if not isinstance(weights, dict):
        return _Found("weights of an unread scheme")
    bits, kind, group = _as_whole(weights.get("num_bits")), weights.get("type"), weights.get("group_size")
    if bits == 4 and kind == "int":  # an fp16 scale a group, a packed 4-bit zero if asymmetric
        zero = 0.0 if weights.get("symmetric", True) else 0.5
        return _int4(f"4-bit int, group {_text(group)}", group, 2.0 + zero)
    if bits == 8:
        return _Found(f"8-bit {_text(kind)}", DType.fp8 if kind == "float" else DType.int8)
    return _Found(f"{_text(bits)}-bit {_text(kind)}")


def _bnb(q: Cfg) -> _Found:
    if q.get("load_in_4bit"):
        # an fp32 absmax a block; double quantisation stores it in 8 bits with one fp32
        # constant per 256 blocks (Dettmers et al., QLoRA, 2023: 0.127 bits a weight)
        double = bool(q.get("bnb_4bit_use_double_quant"))
        absmax = 1.0 + 4.0 / 256.0 if double else 4.0
        return _int4(f"4-bit {_text(q.get('bnb_4bit_quant_type', 'fp4'))}, blocks of {BNB_BLOCK}"
                     f"{', double quantisation' if double else ''}", BNB_BLOCK, absmax)
    if q.get("load_in_8bit"):
        return _Found("8-bit (LLM.int8)", DType.int8)
    return _Found("no load_in_4bit / load_in_8bit")


def _unknown(q: Cfg) -> _Found:
    return _Found("a method not read here")


_READERS = {"awq": _awq, "gptq": _gptq, "fp8": _fp8, "compressed-tensors": _compressed,
            "bitsandbytes": _bnb}
