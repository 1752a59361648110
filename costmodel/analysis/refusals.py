"""Workload options that mean nothing for the model, refused in one line before any work
(the CLI, the web page and `costmodel.estimate` call `refuse_unused`). The messages name the
CLI option; the Python field is the option's name with underscores (--visual-tokens is
visual_tokens, --keep/--at/--method/--schedule are compression=)."""

from __future__ import annotations

from typing import Any

from costmodel.errors import CostmodelError


def refuse_unused(spec: Any, w: Any) -> None:
    """Options that mean nothing for this model: visual tokens, images or a visual-token
    compression on a text-only model, --images with --visual-tokens where the token scheme does
    not split tokens over images. Every CLI command that estimates and `costmodel.estimate`
    refuse them; `costmodel.sweep.sweep` accepts them (a grid over several models may include
    text-only ones)."""
    if not spec.is_vlm and (w.visual_tokens or 0) > 0:
        raise CostmodelError(f"--visual-tokens: {spec.name} has no vision tower; drop "
                             "--visual-tokens (or give 0)")
    if not spec.is_vlm and not w.has_video:  # a video: refuse_video names the video options
        _refuse_images(spec.name, w)
    elif not w.has_video and (w.visual_tokens == 0 or (w.visual_tokens is None and w.images == 0)):
        _refuse_token_compression(w, "this request has no visual tokens to compress "
                                  "(--visual-tokens 0 or --images 0)")
    if w.visual_tokens is not None and w.images != 1 and spec.token_scheme.kind != "dynamic":
        raise CostmodelError(f"--images: {spec.name} takes --visual-tokens as the total (its "
                             f"{spec.token_scheme.kind} token scheme ignores images); give "
                             "--visual-tokens or --images, not both")
    refuse_video(spec, w)


def _refuse_images(name: str, w: Any) -> None:
    """Images, an image size or a visual-token compression on a text-only model: one line."""
    if w.images > 1 or w.image_size is not None:
        option = "--images" if w.images > 1 else "--image-size"
        raise CostmodelError(f"{option}: {name} has no vision tower; drop --images and "
                             "--image-size")
    _refuse_token_compression(w, f"{name} has no vision tower, so no visual tokens to compress")


def _refuse_token_compression(w: Any, why: str) -> None:
    """A visual-token compression where there are no visual tokens: one line."""
    from costmodel.specs.compression import as_plan

    plan = as_plan(w.compression)
    if plan is not None and plan.stages:
        option = "--schedule" if plan.stages[0].schedule is not None else "--keep"
        raise CostmodelError(f"{option}: {why}; drop "
                             "--keep/--at/--method/--schedule (--kv-keep and --sparse-decode "
                             "work on text)")


def refuse_video(spec: Any, w: Any) -> None:
    """A video on a model whose family has no video rule: one line (costmodel/core/video.py)."""
    from costmodel.core.video import video_rule

    if w.has_video:
        video_rule(spec)
