"""The token-compression method library: one record per named preset (`--method NAME`).

Each record says where the method acts, which of its own operators costmodel counts (the
`compress/...` operators of costmodel/core/compression/overhead.py), whether its scoring
needs the attention probabilities of a layer (then that layer cannot use FlashAttention: the
`compress/eager_attn` operator adds the eager layer's extra work), its defaults and its source.
Formulas: docs/methodology.md, section "Token compression", "Method library".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MethodInfo:
    """A preset. where: projector | llm_layer | vit | encoder (after the ViT, before the
    projector). eager: 'llm' (the LLM layer before each pruning layer), 'vit' (the last
    executed ViT layer) or None. layer: default pruning layer (llm_layer); keep: default
    ratio (None = --keep is required); stages: default PyramidDrop-style stage starts as
    fractions of the LLM depth."""

    name: str
    where: str
    operators: str
    source: str
    eager: str | None = None
    layer: int | None = None
    keep: float | None = None
    stages: tuple[float, ...] = ()
    notes: str = ""
    video: bool = False  # acts on the frames of a video (core/compression/video.py)


METHODS: dict[str, MethodInfo] = {m.name: m for m in (
    MethodInfo("select", "projector", "score against one query (2 N d) + top-k (N log2 N)",
               "generic top-k selection (costmodel's baseline operator)"),
    MethodInfo("cluster", "projector",
               "k-means in the LLM embedding space: I x (2 N k d + N k + N d)",
               "cluster aggregation, the seed paper of issue 12 (its arXiv id is not recorded "
               "in this repository)", notes="extra memory: the N x k distance matrix"),
    MethodInfo("merge", "projector", "ToMe bipartite matching on the visual tokens",
               "Bolya et al., Token Merging, ICLR 2023, arXiv 2210.09461"),
    MethodInfo("fastv", "llm_layer",
               "last token's attention over the prompt at layer K-1, mean over heads, top-k",
               "Chen et al., An Image is Worth 1/2 Tokens After Layer 2, ECCV 2024, "
               "arXiv 2403.06764", eager="llm", layer=2, keep=0.5,
               notes="reference code reads output_attentions: layer K-1 runs eager"),
    MethodInfo("pyramiddrop", "llm_layer",
               "per stage: last instruction token's attention over the image tokens, top-k",
               "Xing et al., PyramidDrop, CVPR 2025, arXiv 2410.17247", keep=0.5,
               stages=(0.25, 0.5, 0.75),
               notes="4 stages, each keeps lambda (default 0.5) of the previous one; the "
               "score is computed apart from the layer's attention, so FlashAttention stays"),
    MethodInfo("sparsevlm", "llm_layer",
               "text raters' attention over the visual tokens (mean over raters and heads), "
               "top-k", "Zhang et al., SparseVLM, ICML 2025, arXiv 2410.04417", eager="llm",
               layer=2, notes="token recycling (merging part of the pruned tokens back) is "
               "not modelled; multi-layer variants: --schedule"),
    MethodInfo("visionzip", "encoder",
               "dominant tokens by [CLS] attention of the last ViT layer used, contextual "
               "tokens merged by similarity (54:10 split of 64, scaled)",
               "Yang et al., VisionZip, CVPR 2025, arXiv 2412.04467", eager="vit"),
    MethodInfo("divprune", "projector",
               "N x N cosine similarity (2 N^2 d) + greedy max-min selection (k N)",
               "Alvar et al., DivPrune, CVPR 2025, arXiv 2503.02175",
               notes="extra memory: the N x N similarity matrix"),
    MethodInfo("prumerge", "encoder",
               "[CLS] attention outliers (IQR, a sort) + merge of each kept token's 32 "
               "nearest keys (2 k N d)",
               "Shang et al., LLaVA-PruMerge, arXiv 2403.15388", eager="vit"),
    MethodInfo("tempmerge", "projector",
               "per frame: keep ratio (score 2 n d + top-k); consecutive frames' kept tokens "
               "compared in full (2 k^2 d per pair), a share merged into the previous frame",
               "temporal merging across frames as in FastVID (Shen et al., NeurIPS 2025, arXiv "
               "2503.11187; acts between the projector and the LLM) and DyCoke's TTM",
               video=True, notes="extra memory: one k x k similarity matrix per frame pair; "
               "FastVID's own segmentation and density (DPC-kNN) scores are not modelled"),
    MethodInfo("dycoke", "projector",
               "DyCoke token temporal merging: cosine similarity of same-position tokens of "
               "consecutive frames (O(k d) per pair), the most similar share merged",
               "Tao et al., DyCoke, CVPR 2025, arXiv 2411.15024 (TTM in prefill, before the "
               "LLM)", video=True, notes="its decode-time dynamic KV-cache pruning is not "
               "modelled (use --kv-keep for a static stand-in)"),
    MethodInfo("tome", "vit", "bipartite matching in every ViT layer",
               "Bolya et al., Token Merging, ICLR 2023, arXiv 2210.09461"),
    MethodInfo("dymu", "vit", "ToMe-style matching in every ViT layer (DToMe thresholds "
               "fixed to r per layer)", "Wang et al., DyMU, arXiv 2504.17040",
               notes="virtual token unmerging (VTU) in the LLM is not modelled"),
)}

# Places in the order a request passes them, and the methods allowed at each.
ORDER: tuple[str, ...] = ("vit", "encoder", "projector", "llm_layer")
ALLOWED: dict[str, tuple[str, ...]] = {
    w: tuple(n for n, m in METHODS.items() if m.where == w) for w in ORDER}
DEFAULT_METHOD: dict[str, str] = {"projector": "select", "llm_layer": "fastv", "vit": "tome",
                                  "encoder": "visionzip"}
