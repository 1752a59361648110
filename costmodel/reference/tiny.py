"""The built-in tiny VLM spec (no torch: `costmodel validate` reloads it by the name `tiny`)."""

from __future__ import annotations

from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec


def tiny_spec() -> ModelSpec:
    """A LLaVA-shaped VLM small enough to run in CI on a CPU (685,440 parameters): a
    2-layer CLIP-style ViT (64 patches + CLS) and a 2-layer GQA LLaMA-style decoder."""
    llm = LLMSpec(hidden_size=128, num_layers=2, num_heads=4, num_kv_heads=2,
                  intermediate_size=256, vocab_size=1000)
    vit = VisionSpec(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=128,
                     patch_size=14, image_size=112, pre_norm=True, feature_layer=-1)
    proj = ProjectorSpec(kind="mlp2x_gelu", input_dim=64, output_dim=128)
    return ModelSpec(name="tiny", llm=llm, vision=vit, projector=proj, source="built in")
