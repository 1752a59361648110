from __future__ import annotations

import pytest

from costmodel.specs.hardware import HardwareProfile
from costmodel.specs.model import ModelSpec
from tests.helpers import LLAMA2_7B, LLAVA15_7B, my_gpu


@pytest.fixture
def gpu() -> HardwareProfile:
    """Round-number device: 300 TFLOP/s bf16, 20 TFLOP/s fp32, 2000 GB/s, 80 GB."""
    return my_gpu()


@pytest.fixture
def llava() -> ModelSpec:
    return LLAVA15_7B


@pytest.fixture
def llama2() -> ModelSpec:
    return ModelSpec(name="llama-test", llm=LLAMA2_7B)
