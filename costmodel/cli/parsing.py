"""The one grid grammar of every command: `start:stop:step` (stop included when on the grid;
step 1 by default) and comma lists of numbers or ranges, bounded and sized before any grid is
built; whole numbers (tokens, images, frames, batch) or, for video seconds and fps, decimals;
and comma lists of image sizes WIDTHxHEIGHT."""

from __future__ import annotations

import re

import numpy as np

from costmodel.errors import CostmodelError
from costmodel.specs.workload import MAX_TOKENS
from costmodel.specs.workload import parse_image_size as parse_image_size_as

_RANGE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*(?::\s*(\d+)\s*)?$")
_REAL = r"(\d+(?:\.\d*)?|\.\d+)"  # 4, 2.5, .5: decimal digits, no sign, no exponent
_REAL_ONE = re.compile(rf"^\s*{_REAL}\s*$")
_REAL_RANGE = re.compile(rf"^\s*{_REAL}\s*:\s*{_REAL}\s*(?::\s*{_REAL}\s*)?$")
MAX_POINTS = 50_000_000


def _ranges(text: str, option: str) -> list[tuple[int, int, int]]:
    """'0:512:128,1024' -> [(0, 512, 128), (1024, 1024, 1)]: parsed, not yet built."""
    out = []
    for part in text.split(","):
        m = _RANGE.match(part)
        if m:
            start, stop, step = int(m[1]), int(m[2]), int(m[3] or 1)
            if step == 0 or stop < start:
                raise CostmodelError(f"{option}: '{part.strip()[:40]}' needs start <= stop and "
                                     "step >= 1, e.g. 0:2880:64")
            out.append((start, stop, step))
        elif part.strip().isdigit():
            out.append((int(part), int(part), 1))
        else:
            raise CostmodelError(f"{option}: '{part.strip()[:40]}' is not a whole number or "
                                 "start:stop[:step] (step 1 by default), e.g. 0:2880:64 or 1,8")
    return out


def parse_grid(text: str, option: str, minimum: int = 0, maximum: int = MAX_TOKENS) -> np.ndarray:
    """'0:2880:64' (start:stop:step, stop included when on the grid; step 1 by default) and
    comma lists of numbers or ranges, e.g. '1,8' or '0:512:128,1024' -> sorted unique ints.
    Bounds and the grid's size are checked before it is built."""
    ranges = _ranges(text, option)
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if low < minimum or high > maximum:
        bad = low if low < minimum else high
        raise CostmodelError(f"{option}: {bad} is outside {minimum}..{maximum}")
    size = sum((stop - start) // step + 1 for start, stop, step in ranges)
    if size > MAX_POINTS:
        raise CostmodelError(f"{option}: {size} values exceed {MAX_POINTS}; use a coarser step")
    return np.unique(np.concatenate([np.arange(a, b + 1, c) for a, b, c in ranges]))


def parse_real_grid(text: str, option: str, maximum: float) -> np.ndarray:
    """Positive decimals as parse_grid takes whole numbers: '4,8,16', '0.5,1.5' or '2:30:2'
    (stop included when on the grid, to 1e-9 of a step) -> sorted unique floats in
    (0, maximum] (video seconds, fps)."""
    ranges = [_real_range(part, option) for part in text.split(",")]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if low <= 0 or high > maximum:
        raise CostmodelError(f"{option}: {low if low <= 0 else high:g} is outside 0 < x <= "
                             f"{maximum:g}; give positive values, e.g. 4,8,16")
    counts = [int(np.floor((b - a) / c + 1e-9)) + 1 for a, b, c in ranges]
    if sum(counts) > MAX_POINTS:
        raise CostmodelError(f"{option}: {sum(counts)} values exceed {MAX_POINTS}; use a "
                             "coarser step")
    values = [a + c * np.arange(n) for (a, _, c), n in zip(ranges, counts, strict=True)]
    return np.unique(np.round(np.concatenate(values), 9))


def _real_range(part: str, option: str) -> tuple[float, float, float]:
    """'2:30:2' -> (2.0, 30.0, 2.0); '2.5' -> (2.5, 2.5, 1.0)."""
    m, one = _REAL_RANGE.match(part), _REAL_ONE.match(part)
    if m is None and one is None:
        raise CostmodelError(f"{option}: '{part.strip()[:40]}' is not a number or "
                             "start:stop[:step] (step 1 by default), e.g. 4,8,16 or 2:30:2")
    if m is None:
        assert one is not None
        return float(one[1]), float(one[1]), 1.0
    start, stop, step = float(m[1]), float(m[2]), float(m[3] or 1)
    if step == 0 or stop < start:
        raise CostmodelError(f"{option}: '{part.strip()[:40]}' needs start <= stop and "
                             "step > 0, e.g. 2:30:2")
    return start, stop, step


def parse_image_sizes(text: str, option: str = "--image-size") -> list[tuple[int, int]]:
    """'448x448,896x896' -> [(448, 448), (896, 896)] (W, H), each once, in the order given."""
    return list(dict.fromkeys(parse_image_size_as(part.strip(), option)
                              for part in text.split(",")))


def parse_image_size(text: str | None) -> tuple[int, int] | None:
    """'672x448' -> (672, 448) as (width, height) (specs/workload.py, as image_size= from Python)."""
    return None if text is None else parse_image_size_as(text, "--image-size")


def id_list(text: str, option: str) -> list[str]:
    """'a100-80gb,h100-sxm' -> ['a100-80gb', 'h100-sxm'] (the models or devices of sweep,
    compare, plot sweep); an empty entry (a stray comma) is refused, not dropped."""
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        example = {"MODEL": "llava-1.5-7b,qwen2-vl-7b",
                   "--engine": "vllm,trtllm"}.get(option, "a100-80gb,h100-sxm")
        raise CostmodelError(f"{option}: '{text[:80]}' has an empty entry; give ids separated "
                             f"by commas, e.g. {example}")
    return names
