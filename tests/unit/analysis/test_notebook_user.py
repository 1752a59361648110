"""What a notebook user meets first: the workload and compression models built by hand refuse
a bad value in one CostmodelError line (still pydantic's ValidationError), True / False is not a
count, a kept count above the request's visual tokens is refused by `estimate` as the CLI
refuses it, and the Python spelling each refusal suggests for a CLI option runs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

import costmodel
from costmodel import Compression, CompressionPlan, CostmodelError, KVCompression, Workload
from costmodel.analysis.arguments import CLI_NAMES
from costmodel.specs.workload import Parallelism


@pytest.mark.parametrize(("build", "says"), [
    (lambda: Workload(batch=0), r"^batch: Input should be greater than 0$"),
    (lambda: Compression(where="projector", keep_ratio=2),
     r"^keep_ratio: Input should be less than or equal to 1$"),
    (lambda: Compression(where="llm_layer", keep_ratio=0.5),
     r"^layer: pruning inside the LLM needs the layer K"),
    (lambda: Compression(where="llm-layer", layer=2), r"^where: Input should be 'projector'"),
    (lambda: KVCompression(keep_ratio=1.5), r"^keep_ratio: Input should be less than or equal"),
    (lambda: CompressionPlan(), r"^stages: give at least one stage"),
    (lambda: Parallelism(tp=0), r"^tp: Input should be greater than 0$"),
    (lambda: Workload(compression={"where": "projector", "keep_ratio": 2}),
     r"^compression\.keep_ratio: Input should be less than or equal to 1"),
])
def test_a_model_built_by_hand_refuses_in_one_line(build, says):
    """Compression(where='llm_layer', keep_ratio=0.5) printed pydantic's five-line dump with a
    URL and was no CostmodelError; the location no longer carries pydantic's validator tags
    ('compression.function-after[_check(), Compression].keep_ratio')."""
    with pytest.raises(CostmodelError, match=says) as e:
        build()
    assert isinstance(e.value, ValidationError)  # `except ValidationError` still catches it
    assert "\n" not in str(e.value) and "pydantic" not in str(e.value)
    assert e.value.errors()  # pydantic's details stay


@pytest.mark.parametrize("given", ["fastv", 0.5, ("llm_layer", 2)])
def test_compression_of_the_wrong_type_names_what_to_give(given):
    with pytest.raises(CostmodelError, match=r"^compression: got \w+ .*; give Compression\("):
        costmodel.estimate("llava-1.5-7b", "a100-80gb", compression=given)


@pytest.mark.parametrize("fields", [{"batch": True}, {"visual_tokens": False},
                                    {"image_size": (True, 336)}, {"parallel": {"tp": True}}])
def test_true_or_false_is_not_a_count(fields):
    """pydantic's lax mode read batch=True as a batch of 1."""
    with pytest.raises(CostmodelError, match="True / False is not a number here"):
        costmodel.estimate("llava-1.5-7b", "a100-80gb", **fields)
    with pytest.raises(CostmodelError, match="True / False"):
        Compression(where="llm_layer", layer=True, keep_ratio=0.5)


def test_true_and_false_still_set_the_switches():
    w = Workload(flash_attention=False,
                 compression=Compression(where="projector", keep_ratio=0.5, overhead=False))
    assert w.flash_attention is False and w.compression.overhead is False


def test_estimate_refuses_a_kept_count_above_the_visual_tokens_as_the_cli_does():
    """estimate() ran keep_tokens=1000 of 576 as the uncompressed request labelled 'keep 1000';
    `costmodel estimate --keep 1000` and compare_compression refuse it."""
    says = "^--keep: 1000 tokens kept, but llava-1.5-7b has 576 visual tokens here"
    with pytest.raises(CostmodelError, match=says):
        costmodel.estimate("llava-1.5-7b", "a100-80gb",
                           compression=Compression(where="projector", keep_tokens=1000))
    with pytest.raises(CostmodelError, match=says):
        costmodel.compare_compression("llava-1.5-7b", "a100-80gb", keep=1000)
    kept_all = costmodel.estimate("llava-1.5-7b", "a100-80gb",
                                  compression=Compression(where="projector", keep_tokens=576))
    assert kept_all.plan.llm_tokens == 576


@pytest.mark.parametrize("option", sorted(n for n, s in CLI_NAMES.items()
                                          if s.startswith(("compression=", "parallel=", "act_"))))
def test_the_python_spelling_a_refusal_suggests_runs(option):
    """The line for method= suggested Compression(where='projector', method='visionzip'),
    which is refused (VisionZip prunes after the encoder)."""
    keyword, _, value = CLI_NAMES[option].partition("=")
    names = {"Compression": Compression, "CompressionPlan": CompressionPlan,
             "KVCompression": KVCompression}
    model = "qwen3-30b-a3b" if option == "ep" else "llava-1.5-7b"  # experts to split
    est = costmodel.estimate(model, "a100-80gb", batch=2,
                             **{keyword: eval(value, names)})  # noqa: S307 - our own text
    assert est.ttft_s > 0
