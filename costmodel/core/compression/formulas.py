"""The numbers token-compression papers print, computed their way next to costmodel's count:
"average visual tokens per layer" and the LLM prefill FLOPs ratio under each paper's
per-layer formula (n tokens in a layer, hidden d, FFN size m; LLM decoder layers only, no
vision encoder, projector, norms, lm_head or the method's own cost).
Formula and sources: docs/methodology.md, section "Token compression", "Formulas papers use".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from costmodel.core.compression.points import compress_points
from costmodel.core.inputs import Points
from costmodel.core.ops import Arr
from costmodel.core.stages import layer_groups
from costmodel.specs.compression import AnyCompression
from costmodel.specs.model import LLMSpec, ModelSpec


@dataclass(frozen=True)
class PaperFormula:
    name: str
    source: str
    per_layer: Callable[[Arr, int, int], Arr]  # (n, d, m) -> FLOPs of one decoder layer


PAPER_FORMULAS: tuple[PaperFormula, ...] = (
    PaperFormula("FastV", "arXiv 2403.06764 Eq. 5: 4nd^2 + 2n^2d + 2ndm",
                 lambda n, d, m: 4 * n * d**2 + 2 * n**2 * d + 2 * n * d * m),
    PaperFormula("PyramidDrop", "arXiv 2410.17247: 4nd^2 + 2n^2d + 3ndm (3 FFN matrices; "
                 "author in FastV issue #29)",
                 lambda n, d, m: 4 * n * d**2 + 2 * n**2 * d + 3 * n * d * m),
    PaperFormula("Dynamic-LLaVA", "arXiv 2412.00876 Eq. 13: 32nd^2 + 4n^2d (FFN as 4d; "
                 "author in dynamic_llava issue #4)",
                 lambda n, d, m: 32 * n * d**2 + 4 * n**2 * d),
)


def visual_per_layer(m: LLMSpec, pts: Points) -> list[Arr]:
    """Visual tokens each LLM layer sees (prompt of its layer group minus the text)."""
    out: list[Arr] = []
    for lo, hi, s in layer_groups(m, pts):
        out += [s - pts.text] * (hi - lo)
    return out


def visual_token_counts(spec: ModelSpec, pts: Points,
                        comp: AnyCompression | None) -> tuple[Arr, Arr]:
    """(entering, average) from one compress_points: the visual tokens entering the LLM's
    first layer under `comp` (a projector-level keep's kept count; the request's where the
    compression acts inside the LLM, FastV at layer K), and the sum over LLM layers of the
    visual tokens the layer sees / layers (PyramidDrop's 'average tokens', PyramidDrop
    issue #22)."""
    seen = visual_per_layer(spec.llm, compress_points(spec, pts, comp))
    return np.asarray(seen[0], dtype=float), np.asarray(sum(seen), dtype=float) / len(seen)



def paper_flops_ratio(f: PaperFormula, spec: ModelSpec, pts: Points,
                      comp: AnyCompression | None) -> Arr:
    """sum_l f(text + visual_l) / (L f(text + visual uncompressed)), over the LLM layers."""
    m = spec.llm
    d, ffn = m.hidden_size, m.intermediate_size
    seen = visual_per_layer(m, compress_points(spec, pts, comp))
    base = len(seen) * f.per_layer(pts.text + pts.visual, d, ffn)
    new = sum(f.per_layer(pts.text + v, d, ffn) for v in seen)
    return np.divide(new, base, out=np.ones_like(np.asarray(base, dtype=float)), where=base > 0)
