"""The axes of a sweep (costmodel/analysis/sweep.py): which visual input varies, and the
flat grid columns the prepare step takes.

One main axis, the request's visual input: visual tokens (given directly), images per request
(at the workload's or the model's image size), video frames, or video seconds at an fps (the
frames the model's video processor samples, costmodel/core/video.py). Beside images or a
video, an axis of image (frame) sizes; beside video seconds, an axis of fps. The axes are
crossed with each other and with the batch: the points run (image size, fps, main axis,
batch), the batch fastest, and every device repeats them (hardware-major, in sweep.py).

How a point's token plan is computed (analysis/prepare.py `points`): visual tokens in one
vectorised `plan_token_arrays` call over all points; images and videos once per distinct
(count, W, H) or (frames, W, H) with the scalar planners one request uses (`plan_images`,
`plan_video`; their integer rounding of the geometry does not vectorise), the frames of a
(seconds, fps) pair once each, and the results spread back over the points by index (numpy),
so a sweep point equals `estimate` at that workload.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from costmodel.analysis.arguments import grid_values
from costmodel.core.ops import Arr
from costmodel.errors import CostmodelError
from costmodel.specs.model import ModelSpec
from costmodel.specs.workload import MAX_SIDE, Workload, parse_image_size

MAIN = ("visual_tokens", "images", "video_frames", "video_seconds")
WORDS = {"visual_tokens": "visual tokens", "images": "images", "video_frames": "video frames",
         "video_seconds": "video seconds"}
# How the user named each axis: Python keywords here; the CLI passes its options.
PYTHON_NAMES = {k: k for k in (*MAIN, "image_sizes", "video_fps")}
# The columns that describe a point's visual input in the frame, in their order there.
DISPLAY = ("image_size", "images", "video_fps", "video_seconds", "video_frames")


@dataclass(frozen=True)
class Axes:
    """kind: the main axis (one of MAIN). dims: (name, values) outer to inner, before the
    batch; 'image_size' values are [n, 2] (W, H) rows. workload: the sweep's workload at the
    first point (so every check sees the kind of input: a video, images)."""

    kind: str
    dims: tuple[tuple[str, np.ndarray], ...]
    workload: Workload

    @property
    def points(self) -> int:
        """Points per device and batch size."""
        return math.prod(len(v) for _, v in self.dims)

    def values(self, name: str) -> np.ndarray | None:
        return next((v for n, v in self.dims if n == name), None)

    @property
    def shows_size(self) -> bool:
        """An image_size column: an images axis, or several sizes."""
        return self.kind == "images" or self.values("image_size") is not None

    def columns(self, batch: Arr) -> dict[str, Arr]:
        """The grid flattened to prepare's columns [P x B], batch fastest."""
        lens = [len(v) for _, v in self.dims] + [len(batch)]
        idx = np.indices(lens).reshape(len(lens), -1)
        out: dict[str, Arr] = {}
        for (name, values), i in zip(self.dims, idx, strict=False):
            if name == "image_size":
                out["image_width"], out["image_height"] = values[i, 0], values[i, 1]
            else:
                out[name] = values[i]
        out["batch"] = np.asarray(batch, dtype=float)[idx[-1]]
        return out

    def check(self, spec: ModelSpec) -> None:
        """Several image sizes on a model whose plan ignores the size: one line."""
        from costmodel.core.video import frame_size_ignored
        from costmodel.core.visual_tokens import image_size_ignored

        if self.values("image_size") is None:
            return
        images = self.kind == "images"
        why = image_size_ignored(spec) if images else frame_size_ignored(spec)
        if why:
            suits = ("dynamic, anyres, tiles and splits token schemes" if images else
                     "the videos of Qwen2-VL, Qwen2.5-VL and Qwen3-VL")
            raise CostmodelError(f"image_sizes: {spec.name}'s tokens do not depend on the image "
                                 f"size ({why}), so each size gives the same point; give one "
                                 f"size (several sizes suit {suits})")


def real_values(name: str, values: Any) -> np.ndarray:
    """A sweep axis of positive numbers (video seconds, fps): one or a non-empty sequence."""
    items = [values] if isinstance(values, numbers.Real) else values
    items = items.tolist() if hasattr(items, "tolist") else items
    ok = isinstance(items, Sequence) and not isinstance(items, str) and len(items) > 0 and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and float(v) > 0
        for v in items)
    if not ok:
        raise CostmodelError(f"{name}: {str(values)[:40]} is not a positive number or a "
                             "non-empty list of them, e.g. [4, 8, 16]")
    return np.asarray(items, dtype=float).reshape(-1)


def size_values(name: str, sizes: Any) -> np.ndarray:
    """Image sizes: a list of (W, H) pairs or 'WxH' texts -> [n, 2], each once, in order."""
    sizes = sizes.tolist() if hasattr(sizes, "tolist") else sizes  # numpy [n, 2]
    if isinstance(sizes, str) or not isinstance(sizes, Sequence) or not sizes:
        raise CostmodelError(f"{name}: {str(sizes)[:40]} is not a non-empty list of sizes, "
                             "e.g. [(448, 448), (896, 896)] or ['448x448', '896x896']")
    pairs = [_size(name, s) for s in sizes]
    return np.asarray(list(dict.fromkeys(pairs)), dtype=float).reshape(-1, 2)


def _size(name: str, size: Any) -> tuple[int, int]:
    """One (W, H) pair or 'WxH' text, each side 1..MAX_SIDE pixels."""
    if isinstance(size, str):
        return parse_image_size(size, name, "'672x448' or (672, 448)")
    size = size.tolist() if hasattr(size, "tolist") else size  # a numpy row
    ok = isinstance(size, Sequence) and len(size) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and 0 < int(v) <= MAX_SIDE
        for v in size)
    if not ok:
        raise CostmodelError(f"{name}: {str(size)[:40]} is not (WIDTH, HEIGHT) in pixels "
                             f"(1..{MAX_SIDE} each), e.g. (672, 448) or '672x448'")
    return int(size[0]), int(size[1])


def resolve(w: Workload, visual_tokens: Any = None, images: Any = None, image_sizes: Any = None,
            video_frames: Any = None, video_seconds: Any = None, video_fps: Any = None,
            names: Mapping[str, str] = PYTHON_NAMES) -> Axes:
    """The sweep's axes from what was given (None = not given): one main axis among visual
    tokens, images, video frames and video seconds, refused in one line naming `names` (the
    Python keywords, or the CLI's options) otherwise. `w` fixes the rest; its own visual
    input is replaced by the axes (its image_size is the size when no sizes are swept)."""
    given = [a for a, v in (("visual_tokens", visual_tokens), ("video_frames", video_frames),
                            ("video_seconds", video_seconds)) if v is not None]
    if len(given) > 1:
        a, b = given[:2]
        raise CostmodelError(f"{names[b]}: a sweep varies one visual input and the {WORDS[a]} "
                             f"are its axis here; give {names[a]} or {names[b]}, not both")
    if video_fps is not None and video_frames is not None:
        raise CostmodelError(f"{names['video_fps']}: a sweep over video frames gives the frames; "
                             f"drop {names['video_fps']}")
    if video_fps is not None and video_seconds is None:
        raise CostmodelError(f"{names['video_fps']}: an fps samples a clip of given seconds; add "
                             f"{names['video_seconds']} (or give {names['video_frames']})")
    sizes = None if image_sizes is None else size_values(names["image_sizes"], image_sizes)
    if sizes is not None and w.image_size is not None:
        raise CostmodelError("image_size: image_sizes is the sweep's axis of sizes; give "
                             "image_sizes or image_size, not both")
    kind = given[0] if given else ("images" if images is not None or sizes is not None else None)
    if kind is None:
        raise CostmodelError(f"{names['visual_tokens']}: a sweep needs an axis; give "
                             f"{names['visual_tokens']}, {names['images']} (and/or "
                             f"{names['image_sizes']}), {names['video_frames']}, or "
                             f"{names['video_seconds']} with {names['video_fps']}")
    if kind == "visual_tokens":
        return _tokens(w, visual_tokens, images, sizes, names)
    if images is not None and kind != "images":
        raise CostmodelError(f"{names['images']}: a request carries one video or images, not "
                             f"both; drop {names['images']}")
    if kind == "images":
        return _images(w, images, sizes, names)
    return _video(w, kind, video_frames if kind == "video_frames" else video_seconds,
                  video_fps, sizes, names)


def _eg(names: Mapping[str, str], key: str, value: str) -> str:
    """An example of a setting as the user writes it: video_fps=2, or --fps 2."""
    return f"{key}={value}" if names[key] == key else f"{names[key]} {value}"


def _with(w: Workload, **update: Any) -> Workload:
    """The workload with its visual input replaced (validated again, at prepare, with the
    grid's extremes: model_copy does not validate)."""
    clear = {"visual_tokens": None, "video_frames": None, "video_seconds": None,
             "video_fps": None}
    return w.model_copy(update={**clear, **update})


def _first_size(sizes: np.ndarray | None) -> dict[str, Any]:
    """One size swept: the workload's image_size, no axis (as a size given alone)."""
    return {} if sizes is None or len(sizes) > 1 else {
        "image_size": (int(sizes[0, 0]), int(sizes[0, 1]))}


def _size_dim(sizes: np.ndarray | None) -> tuple[tuple[str, np.ndarray], ...]:
    return (("image_size", sizes),) if sizes is not None and len(sizes) > 1 else ()


def _tokens(w: Workload, tokens: Any, images: Any, sizes: np.ndarray | None,
            names: Mapping[str, str]) -> Axes:
    """Visual tokens given directly; one image count (the images a dynamic-resolution model
    spreads the tokens over, as estimate's --images with --visual-tokens), no size."""
    if sizes is not None or w.image_size is not None:
        head = names["image_sizes"] if sizes is not None else "image_size"
        raise CostmodelError(f"{head}: the visual tokens are the sweep's axis, so no image "
                             f"size sets them; drop {head} (or sweep {names['images']})")
    update: dict[str, Any] = {}  # a video of the workload stays: prepare refuses it
    if images is not None:
        counts = grid_values(names["images"], images)
        if len(counts) > 1:
            raise CostmodelError(f"{names['images']}: beside {names['visual_tokens']} the images "
                                 "are one count (the images a dynamic-resolution model spreads "
                                 f"the tokens over); sweep {names['images']} without "
                                 f"{names['visual_tokens']}")
        update["images"] = int(counts[0])
    axis = grid_values(names["visual_tokens"], tokens)
    return Axes("visual_tokens", (("visual_tokens", axis),), w.model_copy(update=update))


def _images(w: Workload, images: Any, sizes: np.ndarray | None,
            names: Mapping[str, str]) -> Axes:
    """Images per request (the workload's count when only sizes are given) at each size."""
    if w.has_video:
        raise CostmodelError(f"{names['images']}: the workload carries a video, and a request "
                             "carries one video or images; drop its video fields (or sweep "
                             f"{names['video_frames']})")
    counts = (np.array([float(w.images)]) if images is None
              else grid_values(names["images"], images))
    wl = _with(w, images=int(counts[0]), **_first_size(sizes))
    return Axes("images", (*_size_dim(sizes), ("images", counts)), wl)


def _video(w: Workload, kind: str, axis: Any, fps: Any, sizes: np.ndarray | None,
           names: Mapping[str, str]) -> Axes:
    """Video frames, or video seconds at each fps (fps: given, else the workload's)."""
    if kind == "video_frames":
        if w.video_fps is not None:
            raise CostmodelError(f"video_fps: a sweep over video frames gives the frames; drop "
                                 f"{names['video_fps']} and {names['video_seconds']}")
        frames = grid_values(names["video_frames"], axis)
        wl = _with(w, video_frames=int(frames[0]), **_first_size(sizes))
        return Axes(kind, (*_size_dim(sizes), ("video_frames", frames)), wl)
    if w.video_frames is not None:
        raise CostmodelError(f"video_frames: give {names['video_frames']} or "
                             f"{names['video_seconds']} with {names['video_fps']}, not both")
    fps = w.video_fps if fps is None else fps
    if fps is None:
        raise CostmodelError(f"{names['video_seconds']}: needs {names['video_fps']} "
                             "(transformers' video processors set no default fps); add "
                             f"{_eg(names, 'video_fps', '2')}")
    seconds, rates = real_values(names["video_seconds"], axis), real_values(names["video_fps"], fps)
    wl = _with(w, video_seconds=float(seconds[0]), video_fps=float(rates[0]), **_first_size(sizes))
    return Axes(kind, (*_size_dim(sizes), ("video_fps", rates), ("video_seconds", seconds)), wl)
