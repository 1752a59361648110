"""Text tokens the video processors write into the prompt (pure; no I/O).

They are ordinary text (not visual tokens): they cost prefill like any prompt token, are not
touched by visual-token compression, and are added to the prompt's text tokens by
`analysis/prepare.points`. Rules and sources: docs/methodology.md, "Video text tokens".

qwen3_vl (transformers 5.23 `Qwen3VLProcessor.replace_video_token`): before each temporal
  patch the string f"<{t:.1f} seconds>", t from `_calculate_timestamps` (the mean time of the
  patch's frames, frame index / video fps). Qwen2's pre-tokenizer (`tokenization_qwen2.py`
  PRETOKENIZE_REGEX, `\\p{N}` alone) cuts it into '<', one piece per digit, '.', the tenths
  digit, ' seconds', '>'; single-byte pieces are one token each in a byte-level BPE and
  ' seconds' is one token of the Qwen2.5 vocabulary (id 6486): 3 + len(f"{t:.1f}") tokens.
internvl (`InternVLProcessor.replace_video_token`): "\\n".join(f"Frame{i}: <img>...</img>"),
  i = 1..N: 'Frame', one piece per digit of i, ':', ' ' per frame and one '\\n' between frames:
  sum(3 + digits(i)) + (N - 1) tokens, taking 'Frame' as one token (ASSUMPTION: not checked
  against the vocabulary; each extra piece would add one token per frame).
"""

from __future__ import annotations

import numpy as np

# transformers' fps for a video whose metadata has none (Qwen3VLVideoProcessor.sample_frames,
# Qwen3VLProcessor.replace_video_token): costmodel's source clips are taken to run at it.
SOURCE_FPS = 24.0
# The Qwen3-VL repos' video_preprocessor_config.json fps: the rate `--video-frames N` alone is
# taken to have sampled its frames at (the clip lasts N / 2 s).
QWEN3_VL_DEFAULT_FPS = 2.0
TEXT_RULES = {
    "qwen3_vl": "each temporal patch adds '<t.t seconds>' = 3 + len('t.t') text tokens "
                "('<', one per digit, '.', ' seconds', '>'; Qwen2 pre-tokenizer, ' seconds' one "
                "token of the Qwen2.5 vocabulary); t from a source clip at 24 fps, and "
                "--video-frames alone taken as frames sampled at 2 fps",
    "internvl": "each frame adds 'Frame{i}: ' = 3 + digits(i) text tokens, plus one newline "
                "between frames (ASSUMPTION: 'Frame' is one token of the vocabulary)",
}


def qwen3_vl_timestamps(frames: int, seconds: float | None, temporal: int = 2) -> list[float]:
    """`_calculate_timestamps` of the frames `sample_frames` picks from a clip of `seconds`
    at SOURCE_FPS (None: frames / QWEN3_VL_DEFAULT_FPS seconds): indices = linspace(0,
    total - 1, frames).round(), padded to a multiple of `temporal` with the last, t = idx / fps,
    then the mean of the first and last index of each temporal patch."""
    if frames <= 0:
        return []
    clip_s = frames / QWEN3_VL_DEFAULT_FPS if seconds is None else seconds
    total = max(int(clip_s * SOURCE_FPS), frames)  # the clip holds at least the sampled frames
    idx = np.linspace(0, total - 1, frames).round().astype(int).tolist()
    idx += [idx[-1]] * (-len(idx) % temporal)
    t = [i / SOURCE_FPS for i in idx]
    return [(t[k] + t[k + temporal - 1]) / 2 for k in range(0, len(t), temporal)]


def timestamp_tokens(t: float) -> int:
    """Tokens of f"<{t:.1f} seconds>": '<', each character of '{t:.1f}' (digits and the point
    are single-byte pieces), ' seconds', '>'."""
    return 3 + len(f"{t:.1f}")


def qwen3_vl_text(frames: int, seconds: float | None, temporal: int = 2) -> int:
    """Timestamp tokens of a Qwen3-VL video: one '<t.t seconds>' per temporal patch."""
    return sum(timestamp_tokens(t) for t in qwen3_vl_timestamps(frames, seconds, temporal))


def internvl_text(frames: int) -> int:
    """'Frame{i}: ' for i = 1..N ('Frame', digits, ':', ' ') and N - 1 newlines."""
    if frames <= 0:
        return 0
    return sum(3 + len(str(i)) for i in range(1, frames + 1)) + frames - 1
