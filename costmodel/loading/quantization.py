"""config.json's `quantization_config` (a quantised checkpoint) -> ModelSpec.quantization: what
it stores and the weight options that cost it. Read, never applied by itself: the workload's
dtypes decide the bytes, and a workload that names no weight dtype is refused for a quantised
model (analysis/prepare.py), so a 4-bit checkpoint is never costed as bf16 unannounced.

Formats (transformers' quantizer configs, utils/quantization_config.py; storage per group of G
weights along the input):
  awq         AwqConfig(bits=4, group_size=128, zero_point=True): an fp16 scale and a packed
              4-bit zero per group (AutoAWQ's qzeros) -> int4, G, 2.5 bytes (2 without zeros)
  gptq        GPTQConfig(bits, group_size=128; -1 = one group per input row): an fp16 scale and
              a packed zero (qzeros, bits wide) per group -> int4 (bits 4) with 2 + bits / 8
              bytes, int8 (bits 8)
  fp8         FineGrainedFP8Config (block scales, one fp32 per 128 x 128 block) -> fp8
  compressed-tensors  config_groups.*.weights: num_bits 4 (int) -> int4 with its group_size
              (an fp16 scale, and a packed zero if not symmetric), 8 (float) -> fp8, 8 (int) ->
              int8
  bitsandbytes  BitsAndBytesConfig (quant_method may be absent in older configs): load_in_4bit
              -> int4, blocks of 64 with an fp32 absmax (4 bytes; 1 + 4/256 with double
              quantisation); load_in_8bit -> int8
Any other method is reported without a suggestion (give --weight-dtype yourself).
"""

from __future__ import annotations

from typing import Any

from costmodel.loading.config_fields import Cfg, ConfigError

# bitsandbytes' 4-bit blocksize (BitsAndBytesConfig / bnb.functional.quantize_4bit default)
BNB_BLOCK = 64


def quantization_hint(cfg: Cfg) -> tuple[str, str] | None:
    """(what the checkpoint stores, the CLI options that cost it) from quantization_config;
    None when the config has none."""
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
    skip = q.get("modules_to_not_convert")
    kept = f"; {', '.join(str(m)[:30] for m in skip[:4])} kept unquantised" \
        if isinstance(skip, list) and skip else ""
    return f"{method}, {found[0]}{kept}", found[1]


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


def _int4(group: Any, group_bytes: float) -> str:
    g = _as_whole(group)
    if g is not None and g > 0:
        return f"--weight-dtype int4 --weight-group {g} --weight-group-bytes {group_bytes:g}"
    return "--weight-dtype int4 (with its --weight-group)"


def _awq(q: Cfg) -> tuple[str, str]:
    bits, group = q.get("bits", q.get("w_bit", 4)), q.get("group_size", q.get("q_group_size", 128))
    scale_zero = 2.0 + (0.5 if q.get("zero_point", True) else 0.0)
    flags = _int4(group, scale_zero) if _as_whole(bits) == 4 else ""
    return f"{_text(bits)}-bit, group {_text(group)}", flags


def _gptq(q: Cfg) -> tuple[str, str]:
    bits, group = q.get("bits", 4), q.get("group_size", 128)
    if _as_whole(bits) == 8:
        return f"8-bit, group {_text(group)}", "--weight-dtype int8"
    flags = _int4(group, 2.0 + 0.5) if _as_whole(bits) == 4 else ""
    return f"{_text(bits)}-bit, group {_text(group)}", flags


def _fp8(q: Cfg) -> tuple[str, str]:
    return f"fp8 weights (blocks {q.get('weight_block_size')})", "--weight-dtype fp8"


def _compressed(q: Cfg) -> tuple[str, str]:
    groups = q.get("config_groups")
    first = next(iter(groups.values()), None) if isinstance(groups, dict) else None
    weights = first.get("weights") if isinstance(first, dict) else None
    if not isinstance(weights, dict):
        return "weights of an unread scheme", ""
    bits, kind, group = _as_whole(weights.get("num_bits")), weights.get("type"), weights.get("group_size")
    if bits == 4 and kind == "int":  # an fp16 scale a group, a packed 4-bit zero if asymmetric
        zero = 0.0 if weights.get("symmetric", True) else 0.5
        return f"4-bit int, group {_text(group)}", _int4(group, 2.0 + zero)
    if bits == 8:
        return (f"8-bit {_text(kind)}",
                "--weight-dtype fp8" if kind == "float" else "--weight-dtype int8")
    return f"{_text(bits)}-bit {_text(kind)}", ""


def _bnb(q: Cfg) -> tuple[str, str]:
    if q.get("load_in_4bit"):
        # an fp32 absmax a block; double quantisation stores it in 8 bits with one fp32
        # constant per 256 blocks (Dettmers et al., QLoRA, 2023: 0.127 bits a weight)
        double = bool(q.get("bnb_4bit_use_double_quant"))
        absmax = 1.0 + 4.0 / 256.0 if double else 4.0
        return (f"4-bit {_text(q.get('bnb_4bit_quant_type', 'fp4'))}, blocks of {BNB_BLOCK}"
                f"{', double quantisation' if double else ''}", _int4(BNB_BLOCK, absmax))
    if q.get("load_in_8bit"):
        return "8-bit (LLM.int8)", "--weight-dtype int8"
    return "no load_in_4bit / load_in_8bit", ""


def _unknown(q: Cfg) -> tuple[str, str]:
    return "a method not read here", ""


_READERS = {"awq": _awq, "gptq": _gptq, "fp8": _fp8, "compressed-tensors": _compressed,
            "bitsandbytes": _bnb}
