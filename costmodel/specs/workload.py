"""The workload: what is run (batch, tokens, images, dtypes, attention kernel, overlap mode)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from costmodel.errors import CostmodelError
from costmodel.specs.base import InputModel
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.engine import Int4Format
from costmodel.specs.quantization import WEIGHT_PARTS, WeightPart, ordered_parts
from costmodel.units import INT4_GROUP, MAX_GROUP_BYTES, MAX_WEIGHT_GROUP, SCALE_BYTES, DType

Overlap = Literal["roofline", "serial"]

# Largest counts accepted anywhere (CLI options, grids, the Python API): far above any real
# request, small enough that every count stays exact in float64 and int64 arithmetic.
MAX_BATCH = 65_536
MAX_TOKENS = 1_048_576
MAX_IMAGES = 4_096
MAX_GPUS = 1_024
MAX_FRAMES = 16_384  # video frames per request
MAX_FPS = 1_000.0
MAX_SECONDS = 86_400.0  # one day of video
MAX_SIDE = 65_536  # pixels, either side of an image or frame


def parse_image_size(text: str, name: str, example: str = "672x448") -> tuple[int, int]:
    """'672x448' (or '672*448', any case) -> (672, 448) as (width, height), each 1..MAX_SIDE
    pixels; anything else one CostmodelError line naming `name` (--image-size from the CLI,
    image_size from Python) and the form it takes."""
    parts = text.lower().replace("*", "x").split("x")
    ok = all(p.strip().isascii() and p.strip().isdecimal() and 0 < int(p) <= MAX_SIDE
             for p in parts)  # ASCII digits only: int() takes other scripts' digits
    if len(parts) != 2 or not ok:
        raise CostmodelError(f"{name}: '{text[:40]}' is not WIDTHxHEIGHT in pixels "
                             f"(1..{MAX_SIDE} each), e.g. {example}")
    return int(parts[0]), int(parts[1])


class Parallelism(InputModel):
    """How one model replica is spread over GPUs (see costmodel/core/parallel/tensor.py).

    tp: tensor-parallel degree (Megatron-style split of every decoder layer; two all-reduces a
    layer). pp: pipeline stages (layers split into pp contiguous stages). microbatches: the
    batch is split into this many microbatches for the pipelined prefill (None = 1; must divide
    the batch). ep: expert-parallel degree (mixture-of-experts models: each GPU holds E/ep of
    every layer's routed experts, two all-to-alls a layer; attention and every other weight
    replicated over the ep GPUs, no data parallelism among them; core/moe.py).
    GPUs used = tp * pp * ep.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    tp: PositiveInt = Field(default=1, le=MAX_GPUS)
    pp: PositiveInt = Field(default=1, le=MAX_GPUS)
    ep: PositiveInt = Field(default=1, le=MAX_GPUS)
    microbatches: PositiveInt | None = Field(default=None, le=MAX_BATCH)

    @model_validator(mode="after")
    def _check(self) -> Parallelism:
        if (self.microbatches or 1) > 1 and self.pp == 1:
            raise ValueError("microbatches: only a pipeline (pp > 1) splits the batch into "
                             "microbatches; add --pp or drop --microbatches")
        return self

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.ep

    @property
    def m(self) -> int:
        return self.microbatches or 1


class Workload(InputModel):
    """One inference request shape.

    visual_tokens: tokens that enter the LLM per sample; if None they follow from `images`
    at `image_size` (W, H) through the model's token scheme (default: the model's own size).
    weight_dtype None = act_dtype; kv_dtype None = act_dtype. Math runs in act_dtype (so
    weight-only quantisation uses the activation dtype's peak).
    weight_parts: the weights weight_dtype applies to, any of 'vision' (encoder and
    projector), 'layers' (the LLM's decoder layers), 'lm_head', 'embed'
    (specs/quantization.py); the others are stored in act_dtype (bf16 under 8-bit
    activations). None: every part, or what a
    quantised checkpoint's quantization_config quantises (analysis/weights.py).
    weight_group, weight_group_bytes: int4 weights are stored in groups of weight_group
    weights with weight_group_bytes of scale (and zero, where the format keeps one) per group:
    0.5 + weight_group_bytes / weight_group bytes per weight (core/quant.py). None (default):
    the engine's own int4 format (engine YAML int4_format: llama.cpp Q4_0 and MLC q4f16_1 32
    and 2, gpt-fast 32 and 4), else 128 and 2 (one fp16 scale per 128; `int4_group`). Other
    weight dtypes store no groups: a value with them is refused.
    overlap: 'roofline' = max(compute, memory) per operator; 'serial' = their sum.
    logits: 'last' computes the lm_head for the last prompt token only; 'all' for every one.
    convention: a registered counting convention (costmodel.conventions: 'costmodel', this
    model's count, or 'llm-viewer', LLM-Viewer's, for regenerating published tables); the
    prepare step refuses an unknown name and the fields a convention cannot honour.
    flash_attention: FlashAttention-style fused attention I/O; None follows the convention
    (costmodel: on; llm-viewer: off, LLM-Viewer's own default).
    engine: the inference engine the expected latency is for (a bundled id, e.g. 'hf-eager',
    'vllm', 'trtllm', or an engine YAML path, str or pathlib.Path; costmodel/engines/); None =
    the convention's default ('hf-eager' for costmodel, 'ideal' for llm-viewer). The roofline
    bound is always reported beside it.
    compression: where visual tokens are removed and how many remain, one stage or a plan of
    several with KV-cache compression (specs/compression.py).
    video_frames: one video of this many frames per sample, each frame image_size (W, H)
    (default: the model's image size); or video_seconds at video_fps, sampled as the model's
    video processor samples (costmodel/core/video.py). A video is the request's visual input:
    it excludes visual_tokens and more than one image (images 0 or 1 are not used with it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    batch: PositiveInt = Field(default=1, le=MAX_BATCH)
    visual_tokens: NonNegativeInt | None = Field(default=None, le=MAX_TOKENS)
    images: NonNegativeInt = Field(default=1, le=MAX_IMAGES)
    image_size: tuple[PositiveInt, PositiveInt] | None = None
    text_tokens: NonNegativeInt = Field(default=64, le=MAX_TOKENS)
    output_tokens: PositiveInt = Field(default=128, le=MAX_TOKENS)
    act_dtype: DType = DType.bf16
    weight_dtype: DType | None = None
    weight_parts: tuple[WeightPart, ...] | None = None
    weight_group: PositiveInt | None = Field(default=None, le=MAX_WEIGHT_GROUP)
    weight_group_bytes: float | None = Field(default=None, ge=0, le=MAX_GROUP_BYTES,
                                             allow_inf_nan=False)
    kv_dtype: DType | None = None
    flash_attention: bool | None = None  # None: the convention's default
    overlap: Overlap = "roofline"
    logits: Literal["last", "all"] = "last"
    convention: str = "costmodel"
    parallel: Parallelism = Parallelism()
    engine: str | None = None
    compression: Compression | CompressionPlan | None = None  # token compression (None = none)
    video_frames: PositiveInt | None = Field(default=None, le=MAX_FRAMES)
    video_fps: PositiveFloat | None = Field(default=None, le=MAX_FPS)
    video_seconds: PositiveFloat | None = Field(default=None, le=MAX_SECONDS)

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_path(cls, v: object) -> object:
        """An engine YAML given as a pathlib.Path is its path string; an empty one is refused
        (None, not '', means the convention's default engine), and so is a list (one engine)."""
        fspath = getattr(v, "__fspath__", None)  # os.PathLike, without importing os (pure core)
        v = fspath() if callable(fspath) else v
        if isinstance(v, str) and not v.strip():
            raise ValueError("engine: empty; give an engine id (`costmodel engines list`) or a "
                             "YAML path, or leave it out for the default engine")
        if v is not None and not isinstance(v, str):
            raise ValueError(f"engine: got {type(v).__name__}; give one engine id or YAML path "
                             "(several engines: one call each, docs/python-api.md 'Engines side "
                             "by side')")
        return v

    @field_validator("compression", mode="before")
    @classmethod
    def _compression_type(cls, v: object) -> object:
        """Anything but a Compression, a CompressionPlan (or their fields as a dict) is refused
        naming what to give, not pydantic's union of two models."""
        if v is None or isinstance(v, Compression | CompressionPlan | dict):
            return v
        raise ValueError(f"compression: got {type(v).__name__} {str(v)[:30]!r}; give "
                         "Compression(where='llm_layer', layer=2, keep_ratio=0.5, "
                         "method='fastv') or CompressionPlan(...) (compare_compression takes "
                         "the CLI's text: keep=, at=, method=)")

    @field_validator("weight_parts", mode="before")
    @classmethod
    def _parts(cls, v: object) -> object:
        """'layers,lm_head' (the CLI's --weight-parts) or a sequence, in WEIGHT_PARTS order."""
        return None if v is None else ordered_parts(v)

    @field_validator("image_size", mode="before")
    @classmethod
    def _image_size_text(cls, v: object) -> object:
        """'1280x720' as the CLI's --image-size takes it is (1280, 720)."""
        return parse_image_size(v, "image_size", "'672x448' or (672, 448)") if isinstance(
            v, str) else v

    @model_validator(mode="after")
    def _check(self) -> Workload:
        self._check_video()
        self._check_group()
        if (self.visual_tokens is None and self.images == 0 and self.text_tokens == 0
                and not self.has_video):
            raise ValueError("text_tokens: a prompt needs at least one token (or an image)")
        if self.visual_tokens is not None and self.image_size is not None:
            raise ValueError("image_size: --visual-tokens already gives the tokens; give "
                             "--visual-tokens or --image-size, not both")
        if self.visual_tokens == 0 and self.text_tokens == 0:
            raise ValueError("text_tokens: a prompt needs at least one token")
        if self.batch % self.parallel.m:
            raise ValueError(f"parallel.microbatches: {self.parallel.m} does not divide batch "
                             f"{self.batch}; choose a divisor of the batch")
        return self

    def _check_group(self) -> None:
        """A group with a weight dtype other than int4 is refused; with none named, the
        prepare step decides (a quantised checkpoint may store int4: analysis/weights.py)."""
        if self.weight_dtype is None or self.weights is DType.int4 or not self.custom_weight_group:
            return
        for field in ("weight_group", "weight_group_bytes"):
            if getattr(self, field) is not None:
                raise ValueError(f"{field}: only int4 weights are stored in groups here (weights "
                                 f"are {self.weights.value}); add --weight-dtype int4 or drop "
                                 f"--{field.replace('_', '-')}")

    def _check_video(self) -> None:
        if (self.video_fps is None) != (self.video_seconds is None):
            raise ValueError("video_fps: goes with --seconds (transformers' video processors "
                             "set no default fps); give --fps and --seconds, or --video-frames")
        if self.video_frames is not None and self.video_fps is not None:
            raise ValueError("video_frames: give --video-frames or --fps with --seconds, not both")
        if not self.has_video:
            stages = (self.compression.stages if isinstance(self.compression, CompressionPlan)
                      else (self.compression,))
            if any(c is not None and c.is_video for c in stages):
                raise ValueError("video_frames: the video compression methods (tempmerge, "
                                 "dycoke) act on a video's frames; give --video-frames or "
                                 "--seconds with --fps")
            return
        if self.visual_tokens is not None:
            raise ValueError("video_frames: a video gives the visual tokens itself; give "
                             "--visual-tokens or a video, not both")
        if self.images > 1:
            raise ValueError("images: a request here carries one video or images, not both; "
                             "drop --images (or the video options)")

    @property
    def custom_weight_group(self) -> bool:
        """weight_group or weight_group_bytes set by the workload (not left to the engine)."""
        return self.weight_group is not None or self.weight_group_bytes is not None

    def int4_group(self, engine_format: Int4Format | None) -> tuple[int, float]:
        """(weights per group, bytes per group) of int4 weights: each of the workload's own
        values, else the engine's int4 format (specs/engine.py), else the global default
        (units.INT4_GROUP, units.SCALE_BYTES)."""
        group, nbytes = ((engine_format.group, engine_format.group_bytes) if engine_format
                         else (INT4_GROUP, SCALE_BYTES))
        return (self.weight_group if self.weight_group is not None else group,
                self.weight_group_bytes if self.weight_group_bytes is not None else nbytes)

    @property
    def has_video(self) -> bool:
        return self.video_frames is not None or self.video_fps is not None

    @property
    def weights(self) -> DType:
        return self.weight_dtype or self.act_dtype

    @property
    def parts(self) -> tuple[WeightPart, ...]:
        """The parts stored in the weight dtype (weight_parts, default all)."""
        return self.weight_parts or WEIGHT_PARTS

    def part_dtype(self, part: WeightPart) -> DType:
        """The storage dtype of one weight part: the weight dtype; outside the parts the
        activation dtype, or bf16 under 8-bit activations (a checkpoint's unquantised modules
        are stored in 16 bits: an fp8 checkpoint's bf16 lm_head is not read as fp8)."""
        if part in self.parts:
            return self.weights
        return self.act_dtype if self.act_dtype.bytes_per_element >= 2 else DType.bf16

    @property
    def kv(self) -> DType:
        return self.kv_dtype or self.act_dtype


class VisualPlan(BaseModel):
    """How many encoder passes an input needs and how many tokens reach the LLM (per sample)."""

    model_config = ConfigDict(frozen=True)
    # Counts are ints (a whole float such as 576.0 is taken as 576; a fraction is refused).
    crops: int = Field(ge=0)  # encoder passes (images or tiles)
    # Encoder sequence length per pass (incl. CLS): a float, since N visual tokens given
    # directly to a dynamic-resolution model spread over `images` passes average
    # N x merge^2 / images patches a pass, which need not be whole (core/visual_tokens.py).
    seq_per_crop: float = Field(ge=0)
    projector_rows: int = Field(ge=0)  # patch features into the projector
    # the request's visual tokens into the LLM, before any token compression (what enters
    # under one: Estimate.llm_visual_tokens)
    llm_tokens: int = Field(ge=0)
    # Patch columns of each encoder pass (dynamic resolution); 0 = not known. Windowed ViT
    # attention (Qwen2.5-VL) depends on the grid, not only on seq_per_crop.
    grid_w: int = Field(default=0, ge=0)
