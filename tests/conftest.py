from __future__ import annotations

from pathlib import Path

import pytest

from costmodel.loading.load import hardware_file, read_yaml
from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import LLMSpec, ModelSpec, ProjectorSpec, VisionSpec

DATA = Path(__file__).parent / "data"

LLAMA2_7B = LLMSpec(hidden_size=4096, num_layers=32, num_heads=32, num_kv_heads=32,
                    intermediate_size=11008, vocab_size=32000)
CLIP_L336 = VisionSpec(num_layers=24, hidden_size=1024, num_heads=16, intermediate_size=4096,
                       patch_size=14, image_size=336, pre_norm=True, feature_layer=-2)
LLAVA15_7B = ModelSpec(name="llava-test", llm=LLAMA2_7B, vision=CLIP_L336,
                       projector=ProjectorSpec(kind="mlp2x_gelu", input_dim=1024, output_dim=4096))


@pytest.fixture
def gpu() -> HardwareProfile:
    """Round-number device: 300 TFLOP/s bf16, 20 TFLOP/s fp32, 2000 GB/s, 80 GB."""
    path = DATA / "my-gpu.yaml"
    return HardwareProfile.from_file(hardware_file(read_yaml(path), str(path)))


@pytest.fixture
def llava() -> ModelSpec:
    return LLAVA15_7B


@pytest.fixture
def llama2() -> ModelSpec:
    return ModelSpec(name="llama-test", llm=LLAMA2_7B)
