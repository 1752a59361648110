"""The measurement, not the kernel: which measured decode rows read V from DRAM. An edge module
(costmodel.calibration.kernel_tables re-exports its names); estimates never use it.

aiconfigurator's TensorRT-LLM collector (collector/trtllm/collect_attn.py) built its KV cache as
CacheType.SELFKONLY in every version read up to its TensorRT-LLM 1.3.0rc15 one; its version
pinned to `trtllm>=1.3.0rc20` builds CacheType.SELF ("SELFKONLY is reserved for MLA ... Regular
GQA/MHA has separate K and V tensors"; after ai-dynamo/aiconfigurator issue #1379, 2026-07-17).
TensorRT-LLM's WindowBlockManager::setOffsets (batch_manager/kvCacheManager.cpp) gives a
SELFKONLY block's V the K field (fieldIdx 0): V is K's memory, so a V read that follows the
same K read while K is still in L2 costs no DRAM traffic:
  XQA (cpp/kernels/xqa/mha.cu) streams a CTA's KV tile by tile, K and V through two buffers
      each (nbKBuffers = nbVBuffers = 2): a tile's V read follows its K read and hits L2.
      DRAM moves K only, always.
  masked MHA (kernels/decoderMaskedMultiheadAttention/decoderMaskedMultiheadAttentionTemplate.h,
      2a9abd9) runs its key loop over the CTA's whole tile, then, after __syncthreads, its
      "Value cache loops": V is read after every K of the tile. It hits L2 when the K the
      kernel reads in the meantime stays there; taken as: the row's K (b * kvh * L * d *
      kv_bytes, bytes) fits the device's L2 (the profile's l2_cache_MB, datasheet). DRAM then
      moves K only, else K and V.
Any kernel not known (a set without TensorRT-LLM's dispatch) keeps K and V.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from costmodel.calibration.kernel_io import column

if TYPE_CHECKING:
    import pandas as pd

V_ALIASES_K_BELOW = {"TRTLLM": (1, 3, 0, 20)}  # framework -> first version with separate V


def _version_key(version: str) -> tuple[float, ...] | None:
    """'1.3.0rc20' -> (1, 3, 0, 20); '1.0.0' -> (1, 0, 0, inf) (a release follows its rcs);
    None for other forms."""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)(?:rc(\d+))?(?:\.post\d+)?", version.strip())
    if m is None:
        return None
    return tuple(float(x) if x is not None else np.inf for x in m.groups())


def v_aliases_k(frame: pd.DataFrame) -> np.ndarray:
    """True for rows measured with V aliasing K (V_ALIASES_K_BELOW: the framework and a
    version below the first with separate V); False where the version does not parse."""
    pairs = np.char.add(np.char.add(column(frame, "framework", "").astype(str), "|"),
                        column(frame, "version", "").astype(str))
    uniq, inv = np.unique(pairs, return_inverse=True)  # a table holds one or a few pairs
    alias = np.zeros(len(uniq), dtype=bool)
    for i, pair in enumerate(uniq):
        fw, _, ver = str(pair).partition("|")
        key, first = _version_key(ver), V_ALIASES_K_BELOW.get(fw.upper())
        alias[i] = key is not None and first is not None and key < first
    return alias[inv.reshape(-1)]


def kv_dram_streams(aliased: np.ndarray, xqa: np.ndarray, masked: np.ndarray,
                    k_bytes: np.ndarray, l2_bytes: float | None) -> np.ndarray:
    """K/V streams per KV head that DRAM moves (2: K and V; 1: K only) per row (module
    docstring): 1 on aliased rows run by XQA, and by masked MHA when the row's K (bytes) fits
    the L2 (bytes; None: not known, K and V); else 2. masked: the row's kernel is known to be
    masked MHA (False where no dispatch rule names the kernel)."""
    fits = np.zeros(len(k_bytes), dtype=bool) if l2_bytes is None else k_bytes <= l2_bytes
    return np.where(aliased & (xqa | (masked & fits)), 1.0, 2.0)
