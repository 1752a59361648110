"""What the core evaluates: evaluation points, precision and options (bundled with rates and
a convention into `costmodel.core.evaluate.Prepared`).

Every entry point builds a `Prepared` through one function, `costmodel.analysis.prepare`
(a workload and devices -> points, precision, rates, options, convention) and hands it to
`costmodel.core.evaluate.evaluate`. Shapes: points are rows [1, K] (K grid columns: token
counts, batch sizes, ...), device rates and capacities columns [D, 1]; results broadcast to
[D, K].
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from costmodel.core.ops import Arr
from costmodel.specs.compression import Compression, CompressionPlan
from costmodel.specs.workload import Overlap, Parallelism


@dataclass(frozen=True)
class Precision:
    """Bytes per element of weights (incl. quantisation scales), activations and KV cache;
    dequant_flops: vector FLOPs per weight element each time a linear reads it (quant.py).
    The weight figures are the LLM decoder layers'; `parts` holds (part, bytes per element,
    dequant FLOPs) of the weight parts stored otherwise ('vision', 'lm_head', 'embed':
    specs/quantization.py); `part(name)` is the precision the part's operators are built in."""

    weight_bytes_per_element: float
    act_bytes_per_element: float
    kv_bytes_per_element: float
    dequant_flops: float = 0.0
    parts: tuple[tuple[str, float, float], ...] = ()

    def part(self, name: str) -> Precision:
        """This precision with weight part `name`'s bytes per element and dequant FLOPs."""
        if not self.parts:
            return self
        for part, nbytes, dequant in self.parts:
            if part == name:
                return replace(self, weight_bytes_per_element=nbytes, dequant_flops=dequant,
                               parts=())
        return replace(self, parts=())


@dataclass(frozen=True)
class SparseDecode:
    """Sparse decode attention (TidalDecode, core/decode_caps.py): every layer outside `dense`
    and `select` reads `top_k` keys; `select` layers run full attention and pick them."""

    top_k: float
    dense: tuple[int, ...]
    select: tuple[int, ...]

    def full(self, layer: int) -> bool:
        return layer in self.dense or layer in self.select


@dataclass(frozen=True)
class Points:
    """Evaluation points: every field is an array of the same shape (per sample counts)."""

    batch: Arr
    crops: Arr  # encoder passes per sample
    seq_per_crop: Arr  # encoder sequence length per pass
    projector_rows: Arr  # patch features into the projector per sample
    visual: Arr  # visual tokens entering the LLM per sample
    text: Arr
    output: Arr
    # Prompt tokens seen per LLM layer range, when layers differ (FastV-style pruning inside
    # the LLM): ((lo, hi, tokens), ...) covering 0..num_layers. None = all layers see `prompt`.
    layer_prompt: tuple[tuple[int, int, Arr], ...] | None = None
    # Prompt tokens kept in each layer range's KV cache after prefill, when KV-cache
    # compression evicts some: same form as layer_prompt. None = what the layer saw.
    layer_kv: tuple[tuple[int, int, Arr], ...] | None = None
    # Rolling KV cache (sink_window kept during decode): tokens each kv group's cache holds
    # at most, aligned with layer_kv (None = it grows by one token a step).
    kv_cap: tuple[Arr, ...] | None = None
    # Sparse decode attention (TidalDecode); None = every layer reads all its keys.
    sparse: SparseDecode | None = None
    # ToMe inside the ViT: tokens merged per layer per pass (None = no merging).
    vit_merge: Arr | None = None
    # False for cross-attention VLMs (Llama-3.2-Vision): the visual tokens feed the
    # cross-attention layers' K/V (core/cross_attention.py) and the prompt is the text only.
    visual_in_prompt: bool = True
    # Patch columns per encoder pass (VisualPlan.grid_w; None or 0 = not known).
    grid_w: Arr | None = None

    @property
    def prompt(self) -> Arr:
        return self.visual + self.text if self.visual_in_prompt else self.text


@dataclass(frozen=True)
class Options:
    """How the operators are counted and priced, resolved from the workload and convention.

    flash: FlashAttention-style fused attention I/O; overlap: 'roofline' (max of compute and
    memory per operator) or 'serial' (their sum); all_logits: lm_head over every prompt token;
    compression: the token-compression scenario; parallel: tensor / pipeline degrees."""

    flash: bool = True
    overlap: Overlap = "roofline"
    all_logits: bool = False
    compression: Compression | CompressionPlan | None = None
    parallel: Parallelism = Parallelism()
