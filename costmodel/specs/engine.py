"""An inference engine: how a serving stack runs the operators (the expected latency).

YAML (costmodel/engines/<id>.yaml, or a user's file) in human units (`_us`); `Engine` holds base
units (seconds). Every figure has a source under `sources`. How the fields enter the latency
(docs/methodology.md, "Inference engines"):

- kernels: 'bound' prices every operator at the datasheet peaks (the roofline bound, what
  LLM-Viewer computes); 'measured' at the device's achievable efficiency (the profile's
  efficiencies, curves and fitted kernel figures).
- launch_per_kernel: the host launches each kernel (eager): every kernel instance pays the
  device's kernel_launch_overhead_us plus host_overhead_per_kernel_us (framework dispatch).
  decode_cuda_graphs: decode steps replay a captured graph (no per-kernel cost in decode).
  fused_op_classes: operator classes fused into a neighbouring kernel (no launch of their own;
  their memory traffic is still counted).
- step_overhead_us per decode step (scheduling, sampling, detokenisation) and
  prefill_overhead_us per prefill (request scheduling, input preparation): fixed host times.
- flash_attention: the engine's attention kernel when the workload leaves it unset.
- host_overlap: 'serial' (default) adds every kernel's launch time to its device time;
  'async' lets the host run ahead of the device (CUDA launches are asynchronous), so a
  stage, and each decode step, takes max(device time, host launch time) plus the fixed
  overheads. Set to 'async', it needs a source (sources.host_overlap).
- kv_append: how a decode step stores its new K and V: 'in_place' (default: a preallocated or
  paged cache written at the token's slot) or 'concat' (transformers' DynamicCache: torch.cat
  copies the layer's whole cache every step). gqa_expand: the attention path copies K and V
  out to every query head before the kernel (transformers' repeat_kv) when heads > KV heads;
  default false. Both priced as the engine's own traffic (core/engine_traffic.py); set to a
  value other than the default, each needs a source. copy_fraction: the share of the device's
  memory-bound kernel rate those copies (torch.cat, the expand + reshape copy) achieve; default
  1; set, it needs a source.
- decode_max_group: the largest group of query heads per KV head the engine's decode attention
  kernel packs into one CTA; larger groups run one CTA per query head, each reading K and V
  itself (core/decode_kernel.decode_attention_time_s). None (default): the device's figure set
  says (TensorRT-LLM's XQA: 32). 1: every grouped-query layer runs per query head (TensorRT-LLM
  before XQA). Set, it needs a source (sources.decode_max_group).
- fused_gemms: groups of linear operators over the same input that the engine's model code
  runs as ONE GEMM of their summed output width: 'qkv' (the q, k, v projections) and
  'gate_up' (a gated MLP's gate and up projections). Default none. A fused group is priced
  as one kernel (core/efficiency.fused_gemm_time_s: one fixed cost, one tile/wave
  quantisation, one launch), split across its operators by output width; their names, FLOPs
  and bytes are unchanged. Set, it needs a source (sources.fused_gemms: the model code).
- int4_format: the engine's own int4 weight layout, {group: G, group_bytes: B}: G weights per
  quantisation group with B bytes of scale (and zero) per group (core/quant.py); it prices an
  int4 workload that sets no --weight-group / --weight-group-bytes of its own. Default none:
  the global default (units.INT4_GROUP, units.SCALE_BYTES). Set, it needs a source
  (sources.int4_format: the engine's quantisation format).
- weight_parts: the weight parts (specs/quantization.py: vision, layers, lm_head, embed) a
  quantised --weight-dtype covers on this engine when neither the workload nor a quantised
  config.json names them (analysis/weights.py); the rest are stored in 16 bits. Default none:
  every part. Set, it needs a source (sources.weight_parts: how the engine stores them).
- prefill_attention_dtype: the element type a prefill (context) attention kernel holds Q and
  O in: 'activation' (default) or 'kv_cache' (TensorRT-LLM forces its FP8 context FMHA when
  the KV cache is fp8). Priced by core/efficiency.prefill_qo_bytes; set to 'kv_cache', it
  needs a source (sources.prefill_attention_dtype).
- prefill_chunk_tokens: the engine runs a long prompt's prefill as chunks of this many tokens
  (vLLM 0.6's chunked prefill), where the request's sequence (prompt + output tokens) exceeds
  prefill_chunk_over_tokens and the prompt is longer than one chunk; None (default): one pass.
  prefill_chunk_text_only: the engine chunks text-only models alone (a multimodal model's
  prefill runs in one pass).
  prefill_chunk_attention_block: the query rows per CTA of each chunk's attention kernel
  (default efficiency.BLOCK = 128). Priced by core/chunked.py; set off their defaults, each
  needs a source.
- packed_attention: how the engine runs a ViT whose passes are packed into one sequence split
  by cu_seqlens (the Qwen2-VL family): 'varlen' (default: one FlashAttention varlen call over
  all of them), 'per_sequence' (one attention call per image, frame pair or window:
  transformers' SDPA and eager paths) or 'masked' (one call per image, a windowed layer
  attending over the whole image under an additive window mask: llama.cpp's CLIP code).
  Priced by core/packed.py and core/masked_windows.py; set off 'varlen', it needs a source.
- vision_graph: 'batched' (default: a request's ViT passes, every image or tile, run as one
  batch through each kernel) or 'per_pass' (each pass its own graph, one after another:
  llama.cpp's CLIP code). Priced by core/per_pass.py; set to 'per_pass', it needs a source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from costmodel.specs.base import FileModel, NonBlank
from costmodel.specs.quantization import WeightPart, ordered_parts
from costmodel.units import MAX_GROUP_BYTES, MAX_WEIGHT_GROUP, MICRO

ATTENTION_BLOCK = 128  # query rows per CTA: core/efficiency.BLOCK (specs may not import core)

FusableClass = Literal["norm", "activation", "elementwise", "rope", "embedding"]
FusedGemm = Literal["qkv", "gate_up"]  # core/ops.fuse_gemms groups
ENGINE_SOURCED = ("kernels", "launch_per_kernel", "host_overhead_per_kernel_us",
                  "step_overhead_us", "prefill_overhead_us", "decode_cuda_graphs",
                  "fused_op_classes")
OPTIONAL_SOURCED = ("host_overlap", "kv_append", "gqa_expand", "fused_gemms",  # sourced when
                    "prefill_attention_dtype", "decode_max_group", "int4_format",  # not default
                    "weight_parts", "copy_fraction", "flash_attention", "prefill_chunk_tokens",
                    "prefill_chunk_over_tokens", "prefill_chunk_attention_block",
                    "prefill_chunk_text_only", "packed_attention", "vision_graph")


class Int4Format(FileModel):
    """An engine's int4 weight layout: `group` weights per group, `group_bytes` bytes of scale
    (and zero, where the format keeps one) per group."""

    group: int = Field(ge=1, le=MAX_WEIGHT_GROUP)
    group_bytes: float = Field(ge=0.0, le=MAX_GROUP_BYTES, allow_inf_nan=False)


class EngineFile(FileModel):
    """One engine YAML file (human units)."""

    id: NonBlank
    name: NonBlank
    kernels: Literal["bound", "measured"]
    launch_per_kernel: bool
    host_overhead_per_kernel_us: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    decode_cuda_graphs: bool = False
    fused_op_classes: tuple[FusableClass, ...] = ()
    step_overhead_us: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    prefill_overhead_us: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    flash_attention: bool = True
    host_overlap: Literal["serial", "async"] = "serial"
    kv_append: Literal["in_place", "concat"] = "in_place"
    gqa_expand: bool = False
    copy_fraction: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    fused_gemms: tuple[FusedGemm, ...] = ()
    prefill_attention_dtype: Literal["activation", "kv_cache"] = "activation"
    decode_max_group: int | None = Field(default=None, ge=1)
    int4_format: Int4Format | None = None
    weight_parts: tuple[WeightPart, ...] | None = None
    prefill_chunk_tokens: int | None = Field(default=None, ge=1)
    prefill_chunk_over_tokens: int = Field(default=0, ge=0)
    prefill_chunk_attention_block: int = Field(default=ATTENTION_BLOCK, ge=1)
    prefill_chunk_text_only: bool = False
    packed_attention: Literal["varlen", "per_sequence", "masked"] = "varlen"
    vision_graph: Literal["batched", "per_pass"] = "batched"
    # whose per-device attention figures it runs (a hardware profile's
    # decode_kernel_by_engine and attention_kernel_by_engine key); None = its own id. A copy
    # of vllm.yaml under another id keeps vLLM's kernels by naming them here.
    kernel_figures: str | None = None
    sources: dict[str, str]
    notes: str = ""

    @field_validator("weight_parts", mode="before")
    @classmethod
    def _parts(cls, v: object) -> object:
        return v if v is None else ordered_parts(v)

    @model_validator(mode="after")
    def _sourced(self) -> EngineFile:
        keys = ENGINE_SOURCED + tuple(k for k in OPTIONAL_SOURCED  # sourced unless the default
                                      if getattr(self, k) != type(self).model_fields[k].default)
        missing = [k for k in keys if not self.sources.get(k, "").strip()]
        if missing:
            raise ValueError(f"sources: no source for {', '.join(missing)}; add "
                             "sources.<key>: where the figure comes from")
        return self


class Engine(BaseModel):
    """An engine in base units (built from an EngineFile)."""

    model_config = ConfigDict(frozen=True)
    id: str
    name: str
    kernels: Literal["bound", "measured"]
    launch_per_kernel: bool
    host_overhead_per_kernel_s: float
    decode_cuda_graphs: bool
    fused_op_classes: frozenset[str]
    step_overhead_s: float
    prefill_overhead_s: float
    flash_attention: bool
    kernel_figures: str
    host_overlap: Literal["serial", "async"]
    kv_append: Literal["in_place", "concat"] = "in_place"
    gqa_expand: bool = False
    copy_fraction: float = 1.0
    fused_gemms: frozenset[str] = frozenset()
    prefill_attention_dtype: Literal["activation", "kv_cache"]
    decode_max_group: int | None
    int4_format: Int4Format | None = None
    weight_parts: tuple[WeightPart, ...] | None = None  # quantised parts; None: every part
    prefill_chunk_tokens: int | None = None  # tokens per prefill chunk; None: one pass
    prefill_chunk_over_tokens: int = 0  # chunk where prompt + output tokens exceed it
    prefill_chunk_attention_block: int = ATTENTION_BLOCK  # query rows per attention CTA
    prefill_chunk_text_only: bool = False  # a multimodal model's prefill is one pass
    packed_attention: Literal["varlen", "per_sequence", "masked"] = "varlen"  # core/packed.py
    vision_graph: Literal["batched", "per_pass"] = "batched"  # core/per_pass.py
    source_file: EngineFile

    @classmethod
    def from_file(cls, f: EngineFile) -> Engine:
        return cls(id=f.id, name=f.name, kernels=f.kernels, launch_per_kernel=f.launch_per_kernel,
                   host_overhead_per_kernel_s=f.host_overhead_per_kernel_us * MICRO,
                   decode_cuda_graphs=f.decode_cuda_graphs,
                   fused_op_classes=frozenset(f.fused_op_classes),
                   step_overhead_s=f.step_overhead_us * MICRO,
                   prefill_overhead_s=f.prefill_overhead_us * MICRO,
                   flash_attention=f.flash_attention, kernel_figures=f.kernel_figures or f.id,
                   host_overlap=f.host_overlap, kv_append=f.kv_append,
                   gqa_expand=f.gqa_expand, copy_fraction=f.copy_fraction,
                   fused_gemms=frozenset(f.fused_gemms),
                   prefill_attention_dtype=f.prefill_attention_dtype,
                   decode_max_group=f.decode_max_group, int4_format=f.int4_format,
                   weight_parts=f.weight_parts,
                   prefill_chunk_tokens=f.prefill_chunk_tokens,
                   prefill_chunk_over_tokens=f.prefill_chunk_over_tokens,
                   prefill_chunk_attention_block=f.prefill_chunk_attention_block,
                   prefill_chunk_text_only=f.prefill_chunk_text_only,
                   packed_attention=f.packed_attention, vision_graph=f.vision_graph,
                   source_file=f)

    def launches(self, stage: str, op_class: str, share: float = 1.0) -> float:
        """Kernel launches paid per instance of an operator of this class in this stage;
        share: the operator's share of a fused GEMM it runs in (its output width over the
        GEMM's, fused_share), so a fused group pays one launch in all."""
        if not self.launch_per_kernel or op_class in self.fused_op_classes:
            return 0.0
        return 0.0 if (stage == "decode" and self.decode_cuda_graphs) else share

    def fused_share(self, fuse: str, gemm_n: float, fused_n: float) -> float:
        """An operator's share (output width / the fused GEMM's) of the one GEMM it runs in
        when the engine fuses its group (fused_gemms; core/ops.fuse_gemms), else 1."""
        return gemm_n / fused_n if fuse in self.fused_gemms and fused_n > 0 else 1.0


# The roofline bound as an engine (the same figures as costmodel/engines/ideal.yaml, which
# users select with --engine ideal); the core prices the bound with it.
IDEAL = Engine.from_file(EngineFile(
    id="ideal", name="ideal (roofline bound)", kernels="bound", launch_per_kernel=False,
    sources={k: "definition: the roofline bound (docs/methodology.md)" for k in ENGINE_SOURCED}))
