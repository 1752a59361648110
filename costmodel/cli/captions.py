"""Figure titles: what a figure shows, built from what the command estimated (the plots take
the text, they compute nothing). Every title names the model, the device, the workload (visual,
text and output tokens, batch, dtypes), the engine and the compression, on two lines:

    <kind>: <model> on <device>
    <visual> visual + <text> text -> <output> output tokens | batch <b> | <dtypes> |
    engine <engine> | compression: <label or none>
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from costmodel.analysis.labels import compression_text, dtype_text, weight_text
from costmodel.units import count

__all__ = ["caption", "compression_text", "device_text", "dtype_text", "estimate_caption",
           "frame_caption", "listed", "priced_dtypes", "request_text", "video_text",
           "visual_tokens", "vtext_caption", "weight_text", "workload_fields"]


def caption(kind: str, model: str, device: str, *, visual: str, text: object, output: object,
            batch: object, dtypes: str, engine: str, compression: str) -> str:
    return (f"{kind}: {model} on {device}\n{visual} visual + {text} text -> {output} output "
            f"tokens | batch {batch} | {dtypes} | engine {engine} | compression: {compression}")


def device_text(hw: Any) -> str:
    """'NAME (ID)', with a what-if device's changes (--set) after it: the device as estimate's
    and compare-compression's first lines, the web page and the figures name it."""
    changes = getattr(hw, "changes", ())
    return f"{hw.name} ({hw.id})" + (f" [changed: {', '.join(changes)}]" if changes else "")


def workload_fields(w: Any, visual: str, batch: object | None = None,
                    spec: Any = None, dtypes: str | None = None) -> dict[str, Any]:
    """The keyword pieces of `caption` from a Workload (batch overridable: a sweep's grid);
    with the model's spec, a video's frames and the text its processor writes around them.
    dtypes: the weights as priced (a sweep of several models: priced_dtypes), else dtype_text
    on the parts `spec` has (one of the two is needed)."""
    if dtypes is None and spec is None:
        raise TypeError("workload_fields: give the model's spec or the dtypes text")
    text: object = w.text_tokens
    if spec is not None and w.has_video:
        from costmodel.analysis.prepare import video_text as video_text_tokens

        visual = f"{visual} ({video_text(spec, w)})"
        n = video_text_tokens(spec, w)
        text = f"{w.text_tokens} + {n} video" if n else text
    return {"visual": visual, "text": text, "output": w.output_tokens,
            "batch": w.batch if batch is None else batch,
            "dtypes": dtype_text(w, spec) if dtypes is None else dtypes,
            "compression": compression_text(w)}


def priced_dtypes(specs: Iterable[Any], w: Any) -> str:
    """The dtypes of `w` as each model prices them (a quantised checkpoint fills the weights
    the workload leaves unset, else the engine's quantised parts: analysis/weights.py);
    distinct texts joined by ' / '."""
    from costmodel import conventions
    from costmodel.analysis.weights import resolve_weights
    from costmodel.loading.load import load_engine

    engine = load_engine(w.engine or conventions.get(w.convention).default_engine)
    return " / ".join(dict.fromkeys(dtype_text(resolve_weights(s, w, engine), s) for s in specs))


def video_text(spec: Any, w: Any) -> str:
    """'video: 16 frames of 448x448' for a video workload ('' otherwise): the frames the
    model's video processor takes (--video-frames, or sampled from --seconds at --fps)."""
    if not w.has_video:
        return ""
    from costmodel.analysis.prepare import image_size, video_frames
    from costmodel.core.video import video_rule

    width, height = image_size(spec, w)
    frames = video_frames(spec, w)
    rate = f" ({w.video_seconds:g} s at {w.video_fps:g} fps)" if w.video_fps is not None else ""
    rw, rh = video_rule(spec).resize(spec, frames, width, height)
    resized = f", resized to {rw}x{rh}" if (rw, rh) != (width, height) else ""
    noun = "frame" if frames == 1 else "frames"
    return f"video: {frames} {noun} of {width}x{height}{rate}{resized}"


def vtext_caption(spec: Any, w: Any) -> str:
    """' + N video text tokens (timestamps / frame labels)' when the model's processor writes
    text around the workload's video (core/video_text.py); '' otherwise."""
    from costmodel.analysis.prepare import video_text

    n = video_text(spec, w)
    return f" + {n} video text tokens (timestamps / frame labels)" if n else ""


def visual_tokens(spec: Any, w: Any) -> float:
    """Visual tokens of one request as the model's token rule gives them for the workload's
    images, video or --visual-tokens (before any compression): estimate's count."""
    from costmodel.analysis.prepare import points

    return float(points(spec, w, {}, 1).visual[0, 0])


def request_text(spec: Any, w: Any) -> str:
    """'2880 visual + 64 text -> 128 output tokens' (a video's frames and text after it, as
    figure titles give them; no visual part for a text-only model): one request of the
    several-device tables' first line."""
    f = workload_fields(w, "", spec=spec)
    video = f" ({video_text(spec, w)})" if w.has_video else ""
    visual = f"{count(visual_tokens(spec, w))} visual{video} + " if spec.is_vlm else ""
    return f"{visual}{f['text']} text -> {f['output']} output tokens"


def estimate_caption(kind: str, est: Any) -> str:
    """Title of a figure of one estimate (roofline, breakdown)."""
    return caption(kind, est.model.name, device_text(est.hardware),
                   engine=est.prepared.engine.id,
                   **workload_fields(est.workload, count(est.plan.llm_tokens),
                                     spec=est.model))


def listed(values: Iterable[Any], most: int = 4) -> str:
    """'a, b, c' (first `most`, then '+N more'); numbers as a range when there are many."""
    vals = list(dict.fromkeys(values))
    if all(isinstance(v, (int, float)) for v in vals):
        vals = sorted(vals)
        if len(vals) > most:
            return f"{count(min(vals))}-{count(max(vals))}"
    text = ", ".join(count(v) if isinstance(v, float) else str(v) for v in vals[:most])
    return text + (f" +{len(vals) - most} more" if len(vals) > most else "")


def frame_caption(kind: str, frame: Any, device: str, engine: str,
                  model: str | None = None) -> str:
    """Title of a figure over many measured points: each workload field listed from the
    frame's columns where it has them ('per row' where it does not)."""
    def col(*names: str) -> str:
        for n in names:
            if n in frame.columns:
                return listed(frame[n].dropna().tolist())
        return "per row"

    dtypes = col("dtype", "act_dtype")
    return caption(kind, model or col("model"), device, visual=col("visual_tokens"),
                   text=col("text_tokens", "num_tokens"), output=col("output_tokens"), batch=col("batch"),
                   dtypes=dtypes, engine=engine, compression=col("compression") if
                   "compression" in frame.columns else "none")
