"""Token compression: reshaped points (points.py), each method's own operators (overhead.py;
opbuild.py builds them), video's per-frame keep and temporal merge (video.py), KV-cache
compression after prefill (kv.py), and the FLOPs formulas papers print (formulas.py).
Formula: docs/methodology.md, section "Token compression".
"""

from costmodel.core.compression.overhead import overhead_ops
from costmodel.core.compression.points import compress_points, kept, tome_r

__all__ = ["compress_points", "kept", "overhead_ops", "tome_r"]
