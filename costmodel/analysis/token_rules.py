"""A model's token scheme in words: a short rule and a worked example computed by the real
token-plan code (costmodel.core.visual_tokens), for `costmodel models list|show`.

Data-driven: RULES maps a TokenScheme kind to a one-line template over `_fields(spec)` and,
optionally, the intermediate steps of a worked example. A kind without an entry (a family
added later) still gets a rule (its kind and the scheme fields that differ from the defaults)
and an example (image -> encoder passes -> patch features -> tokens, from `plan_images`). The
final token count of every example is `plan_images(...).llm_tokens`, never recomputed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from costmodel.analysis import prepare
from costmodel.core import mllama_tiles
from costmodel.core import tiles as internvl_tiles
from costmodel.core import visual_tokens as vt
from costmodel.core.idefics3_tokens import resize_longest, split_grid, text_tokens
from costmodel.specs.mllama import MllamaVisionSpec
from costmodel.specs.model import ModelSpec, TokenScheme
from costmodel.specs.workload import Workload
from costmodel.units import count

Steps = Callable[[ModelSpec, int, int], list[str]]


class Rule(NamedTuple):
    template: str  # str.format over _fields(spec)
    steps: Steps | None = None  # intermediate steps of the worked example (before the tokens)


def _fields(spec: ModelSpec) -> dict[str, Any]:
    v, pj, ts = spec.vision, spec.projector, spec.token_scheme
    assert v is not None and pj is not None
    m = pj.merge_size
    return {"image": v.image_size, "patch": v.patch_size, "side": v.image_size // v.patch_size,
            "merge": m, "merge2": m * m, "factor": v.patch_size * m, "min_pixels": ts.min_pixels,
            "max_pixels": ts.max_pixels, "pins": len(ts.grid_pinpoints),
            "cls": (" + 1 CLS (kept: 'full' features)" if v.feature_keeps_cls
                    else ", CLS dropped" if v.cls_token else ""),
            "newline": " + 1 newline per row" if ts.newline_token else "",
            "cap": f", capped (anyres_max_{ts.anyres_max_patches})" if ts.anyres_max_patches else "",
            "min_tiles": ts.min_tiles, "max_tiles": ts.max_tiles,
            "per_tile": v.patches_per_image // (m * m), "text": ts.image_text_tokens}


def _fixed_steps(spec: ModelSpec, width: int, height: int) -> list[str]:
    f = _fields(spec)
    return [f"resized to {f['image']}x{f['image']}",
            f"{f['side']}x{f['side']} patches of {f['patch']} px{f['cls']}"]


def _anyres_steps(spec: ModelSpec, width: int, height: int) -> list[str]:
    f, ts = _fields(spec), spec.token_scheme
    ph, pw = vt.best_resolution(width, height, ts.grid_pinpoints)
    gr, gc = ph // f["image"], pw // f["image"]
    side = f["side"]
    rows, cols = vt._unpadded(gr * side, gc * side, width, height)
    steps = [f"best pinpoint {pw}x{ph} (of {f['pins']}) -> {gr}x{gc} tiles of {f['image']} px "
             f"+ 1 base crop = {1 + gr * gc} encoder passes",
             f"base crop {side}x{side} = {side * side} features; tile grid {gr * side}x{gc * side} "
             f"unpadded to {rows}x{cols}"]
    capped = vt.anyres_max(rows, cols, side, ts.anyres_max_patches)
    if capped != (rows, cols):
        steps.append(f"anyres_max_{ts.anyres_max_patches} downscales {rows}x{cols} to "
                     f"{capped[0]}x{capped[1]}")
    r, c = capped
    feats = f"{side * side} + {r}x{c}" if f["merge2"] == 1 else f"({side * side} + {r}x{c}) / {f['merge2']}"
    steps.append(feats + (f" + {r} newline tokens" if ts.newline_token else ""))
    return steps


def _dynamic_steps(spec: ModelSpec, width: int, height: int) -> list[str]:
    f = _fields(spec)
    w, h = vt.smart_resize(width, height, f["factor"], f["min_pixels"], f["max_pixels"])
    gw, gh = w // f["patch"], h // f["patch"]
    return [f"smart_resize to {w}x{h} (multiples of {f['factor']} px)",
            f"{gw}x{gh} = {gw * gh} patches of {f['patch']} px",
            f"{gw * gh} / {f['merge2']} ({f['merge']}x{f['merge']} patch merger)"]


def _splits_steps(spec: ModelSpec, width: int, height: int) -> list[str]:
    f, ts = _fields(spec), spec.token_scheme
    longest = ts.resize_longest_edge or 4 * f["image"]
    w, h = resize_longest(width, height, longest)
    rows, cols = split_grid(width, height, longest, f["image"])
    passes = rows * cols + 1
    per = f["side"] ** 2 // f["merge2"]
    return [f"longest edge to {longest}: {w}x{h}",
            f"{rows}x{cols} tiles of {f['image']} px + 1 global image = {passes} encoder passes"
            if rows else f"fits one {f['image']} px tile: 1 encoder pass",
            f"{passes} x {per} <image> tokens + {text_tokens(rows, cols)} wrapper text tokens"]


def _tiles_steps(spec: ModelSpec, width: int, height: int) -> list[str]:
    f, ts = _fields(spec), spec.token_scheme
    cols, rows = internvl_tiles.optimal_grid(width, height, f["image"], ts.min_tiles,
                                             ts.max_tiles)
    n = internvl_tiles.tile_count(width, height, f["image"], ts.min_tiles, ts.max_tiles)
    grid = (f"closest grid {cols}x{rows} (columns x rows) of {f['image']} px tiles"
            + (f" + 1 thumbnail = {n} encoder passes" if n > 1 else ": 1 encoder pass"))
    return [grid, f"{n} x {f['per_tile']} tokens + {f['text']} text tokens (<img>, </img>)"]


RULES: dict[str, Rule] = {
    "fixed": Rule("resize to {image}x{image} px -> ({image}/{patch})^2 = {side}^2 patches{cls}",
                  _fixed_steps),
    "anyres": Rule("{image} px base crop + tiles of the best of {pins} pinpoints; {side}^2 + "
                   "unpadded tile grid{newline}{cap}", _anyres_steps),
    "dynamic": Rule("smart_resize to multiples of {factor} px within [{min_pixels}, {max_pixels}] "
                    "pixels; {patch} px patches / {merge2}", _dynamic_steps),
    "splits": Rule("longest edge resized, cut into {image} px tiles + 1 global image; "
                   "({image}/{patch})^2 / {merge2} tokens per pass + wrapper text tokens",
                   _splits_steps),
    "tiles": Rule("closest-aspect grid of {min_tiles}-{max_tiles} tiles of {image} px + 1 "
                  "thumbnail when more than one; ({image}/{patch})^2 patches{cls}, pixel shuffle "
                  "/ {merge2} = {per_tile} tokens a tile; + {text} text tokens an image",
                  _tiles_steps),
}


def _generic_rule(ts: TokenScheme) -> str:
    """An unknown kind: its name and the scheme fields that differ from the defaults."""
    set_fields = ts.model_dump(exclude_defaults=True, exclude={"kind"})
    shown = ", ".join(f"{k}={v}" for k, v in set_fields.items())
    return f"{ts.kind} token scheme" + (f" ({shown})" if shown else "")


def _cross_rule(v: MllamaVisionSpec) -> str:
    """Llama-3.2-Vision: visual tokens feed cross-attention, not the prompt."""
    return (f"tiles of {v.image_size} px (best canvas of up to {v.max_num_tiles}, padded to "
            f"{v.max_num_tiles}); ({v.image_size}/{v.patch_size})^2 + 1 CLS = "
            f"{v.tokens_per_tile} tokens a tile, into the cross-attention K/V (not the prompt)")


def _cross_steps(v: MllamaVisionSpec, width: int, height: int) -> list[str]:
    tiles = mllama_tiles.image_tiles(v, width, height)
    return [f"{tiles} tile(s) of {v.image_size} px carry the image, padded to {v.max_num_tiles}",
            f"{v.max_num_tiles} x {v.tokens_per_tile} cross-attention tokens "
            f"({tiles * v.tokens_per_tile} of them the image's); 0 prompt tokens"]


def rule(spec: ModelSpec) -> str:
    """The one-line token rule of a model ('text only' for an LLM)."""
    if spec.cross_vision is not None:
        return _cross_rule(spec.cross_vision)
    if spec.vision is None:
        return "text only"
    entry = RULES.get(spec.token_scheme.kind)
    return entry.template.format(**_fields(spec)) if entry else _generic_rule(spec.token_scheme)


def example_size(spec: ModelSpec) -> tuple[int, int]:
    """(width, height) `estimate` uses without --image-size."""
    return prepare.image_size(spec, Workload())


def worked_example(spec: ModelSpec, width: int, height: int) -> dict[str, Any]:
    """One image of width x height through the token plan: its steps and the token count."""
    plan = vt.plan_images(spec, 1, width, height)
    entry = RULES.get(spec.token_scheme.kind)
    if spec.cross_vision is not None:
        steps = _cross_steps(spec.cross_vision, width, height)
    elif entry and entry.steps:
        steps = entry.steps(spec, width, height)
    else:
        steps = [f"{count(plan.crops)} encoder pass(es) of {count(plan.seq_per_crop)} positions",
                 f"{count(plan.projector_rows)} patch features into the projector"]
    tokens = int(plan.llm_tokens)
    return {"image": f"{width}x{height}", "steps": steps, "tokens": tokens,
            "encoder_passes": int(plan.crops),
            "text": " -> ".join([f"{width}x{height} image", *steps, f"{tokens} tokens"])}
