"""Idefics3 / SmolVLM image splitting: costmodel's plan against transformers' own helpers.

transformers 5.23.0 (no download): `Idefics3ImageProcessorPil.get_number_of_image_patches`
gives the tiles, `Idefics3Processor._get_num_multimodal_tokens` the tokens per image and
`Idefics3Processor.replace_image_token` the prompt string. The processor is built without a
tokenizer; its one tokenizer call (how many tokens '\\n\\n' is) is answered as SmolVLM's
SmolLM2 byte-level BPE does: one token (idefics3_tokens.DOUBLE_NEWLINE_EXTRA = 0).
"""

from __future__ import annotations

import pytest

from costmodel.core.idefics3_tokens import resize_longest, split_grid, text_tokens
from costmodel.core.visual_tokens import plan_images
from costmodel.loading.load import load_model

SIZES = [(512, 512), (1000, 300), (300, 1000), (1920, 1080), (1080, 1920), (640, 480),
         (100, 80), (4000, 100), (100, 4000), (2048, 2048), (513, 512), (7, 5), (1, 1),
         (3000, 2999), (1024, 1537), (5000, 5000)]


def test_hand_worked_example():
    # 1000x300 -> longest edge 2048: height int(2048 / (1000/300)) = 614 (even) -> rows
    # ceil(614/512) = 2, cols 2048/512 = 4: 8 tiles + 1 global = 9 passes of 1024 patches;
    # 9 x 64 <image> + 8 x 2 (<fake><row_r_col_c>) + 2 row '\n' + 3 global wrappers = 597.
    assert resize_longest(1000, 300, 2048) == (2048, 614)
    assert split_grid(1000, 300, 2048, 512) == (2, 4)
    assert text_tokens(2, 4) == 21 and text_tokens(0, 0) == 3
    plan = plan_images(load_model("smolvlm-500m"), 1, 1000, 300)
    assert (plan.crops, plan.seq_per_crop, plan.projector_rows, plan.llm_tokens) == (
        9, 1024, 9 * 1024, 597)
    # smolvlm-2b (SmolVLM-Instruct): longest edge 1536 -> 1536 x int(460.8) = 460; rows
    # ceil(460/384) = 2, cols 4: 9 passes of (384 // 14)^2 = 27^2 = 729 patches; pixel shuffle 3:
    # 729 / 9 = 81 per pass; 9 x 81 + the same 21 wrapper tokens = 750.
    assert resize_longest(1000, 300, 1536) == (1536, 460)
    plan = plan_images(load_model("smolvlm-2b"), 1, 1000, 300)
    assert (plan.crops, plan.seq_per_crop, plan.llm_tokens) == (9, 729, 9 * 81 + 21)


transformers = pytest.importorskip("transformers", minversion="5.23")


class _SmolLM2Newlines:
    """Stands in for the tokenizer in `_get_num_multimodal_tokens`: '\\n\\n' is one token."""

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict:
        assert text == "\n\n"
        return {"input_ids": [1]}


# (model, size longest_edge, max_image_size longest_edge, image_seq_len): each repo's
# preprocessor_config.json / processor_config.json (costmodel/zoo_configs/SOURCES.md)
REPOS = [("smolvlm-500m", 2048, 512, 64), ("smolvlm-2b", 1536, 384, 81)]


def _processor(size: int = 2048, tile: int = 512, seq: int = 64):
    from transformers.models.idefics3.image_processing_pil_idefics3 import (
        Idefics3ImageProcessorPil,
    )
    from transformers.models.idefics3.processing_idefics3 import Idefics3Processor

    p = object.__new__(Idefics3Processor)  # no tokenizer download: set what the helpers read
    p.image_processor = Idefics3ImageProcessorPil(size={"longest_edge": size},
                                                  max_image_size={"longest_edge": tile})
    p.image_seq_len, p.tokenizer = seq, _SmolLM2Newlines()
    p.fake_image_token, p.image_token = "<fake_token_around_image>", "<image>"
    p.global_image_tag = "<global-img>"
    return p


@pytest.mark.parametrize(("model", "size", "tile", "seq"), REPOS)
def test_plans_equal_transformers_over_sizes(model, size, tile, seq):
    spec, proc = load_model(model), _processor(size, tile, seq)
    got = proc._get_num_multimodal_tokens(image_sizes=[(h, w) for w, h in SIZES])
    for (w, h), tokens, patches in zip(SIZES, got.num_image_tokens, got.num_image_patches,
                                       strict=True):
        plan = plan_images(spec, 1, w, h)
        assert plan.llm_tokens == tokens, (w, h)
        assert plan.crops == max(patches, 1), (w, h)  # transformers says 0 for an unsplit image


def test_prompt_string_agrees():
    """The processor's prompt for each image: image_seq_len <image> per encoder pass (64 for
    SmolVLM-500M, 81 for SmolVLM-Instruct), and the wrappers
    costmodel counts (each special tag one token, '\\n\\n' one token)."""
    for model, size, tile, seq in REPOS:
        _prompt_agrees(load_model(model), _processor(size, tile, seq), seq)


def _prompt_agrees(spec, proc, seq: int) -> None:
    for w, h in SIZES:
        _, rows, cols = proc.image_processor.get_number_of_image_patches(h, w, {})
        s = proc.replace_image_token({"rows": [[rows]], "cols": [[cols]]}, 0)
        n_image = s.count("<image>")
        rest = s.replace("<image>", "")
        tags = rest.count("<fake_token_around_image>") + rest.count("<global-img>") + \
            sum(rest.count(f"<row_{r}_col_{c}>") for r in range(1, 7) for c in range(1, 7))
        newlines = rest.count("\n") - rest.count("\n\n")  # '\n\n' is one token
        plan = plan_images(spec, 1, w, h)
        assert n_image == plan.crops * seq
        assert n_image + tags + newlines == plan.llm_tokens, (w, h)
