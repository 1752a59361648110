from __future__ import annotations

from pathlib import Path

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


# Modules that build or run the real transformers classes and processors, or the torch
# reference model (the exact-count and FlopCounterMode cross-checks): importing transformers
# costs ~10 s of CPU per process and the torch cross-checks ~25 s in all, so they
# run in their own CI step (`python -m pytest -q -m xcheck`), not in the default run.
XCHECK_MODULES = {  # paths under tests/
    "cli/test_models_catalog.py", "unit/core/test_idefics3_tokens.py",
    "unit/core/test_internvl_tokens.py", "unit/core/test_qwen_vl_tokens.py",
    "unit/core/test_token_rules.py", "unit/core/test_video.py", "unit/core/test_video_families.py",
    "unit/loading/test_idefics3.py", "unit/loading/test_mllama.py",
    "unit/loading/test_zoo_transformers.py", "unit/reference/test_gemma3.py",
    "unit/reference/test_idefics3_flops.py", "unit/reference/test_internvl_flops.py",
    "unit/reference/test_mllama_flops.py", "unit/reference/test_moe.py",
    "unit/reference/test_qwen3_vl_moe.py", "unit/reference/test_qwen_vl.py",
    "unit/reference/test_transformers_flops.py", "unit/reference/test_video_families_flops.py",
    "unit/reference/test_video_flops.py", "unit/reference/test_crosscheck.py",
}
# Modules that render matplotlib figures (every plot command and figure title): matplotlib's
# first import and the rendering take most of their time; CI runs them in the same own step
# (`python -m pytest -q -m "xcheck or figures"`).
FIGURE_MODULES = {"cli/test_figures.py", "cli/test_plot_cmd.py"}
TESTS = Path(__file__).resolve().parent


MARKERS = ("slow", "gpu", "browser", "xcheck", "figures")  # pyproject's [tool.pytest] markers


def _never_selected(config: pytest.Config, marker: str) -> bool:
    """Whether the -m expression deselects every test carrying `marker`, whatever other
    markers it carries (so `-m slow` still collects an xcheck module's slow tests)."""
    if not config.option.markexpr:
        return False
    from itertools import combinations

    from _pytest.mark.expression import Expression

    expr = Expression.compile(config.option.markexpr)
    others = [m for m in MARKERS if m != marker]
    return not any(expr.evaluate(lambda name, names={marker, *extra}, **_: name in names)
                   for r in range(len(others) + 1) for extra in combinations(others, r))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The default run does not import the xcheck and figures modules it would deselect
    whole (transformers alone costs ~2 s a worker); a path given on the command line is
    collected as always (pytest does not ask this of its arguments)."""
    try:
        where = collection_path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return None
    if where in XCHECK_MODULES and _never_selected(config, "xcheck"):
        return True
    if where in FIGURE_MODULES and _never_selected(config, "figures"):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        where = Path(str(item.fspath)).resolve().relative_to(TESTS).as_posix()
        if where in XCHECK_MODULES:
            item.add_marker(pytest.mark.xcheck)
        if where in FIGURE_MODULES or item.name == "test_tutorial_plot_commands_write_pngs":
            item.add_marker(pytest.mark.figures)
