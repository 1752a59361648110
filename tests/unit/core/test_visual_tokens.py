"""Images -> visual tokens, checked against the transformers algorithms' known outputs."""

from __future__ import annotations

from costmodel.core.visual_tokens import best_resolution, plan_images, plan_tokens, smart_resize
from costmodel.specs.model import ModelSpec, ProjectorSpec, TokenScheme, VisionSpec
from tests.helpers import CLIP_L336, LLAMA2_7B, LLAVA15_7B

PINS = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))
NEXT = ModelSpec(name="next", llm=LLAMA2_7B, vision=CLIP_L336, projector=LLAVA15_7B.projector,
                 token_scheme=TokenScheme(kind="anyres", grid_pinpoints=PINS, newline_token=True))


def test_llava15_fixed_576():
    p = plan_images(LLAVA15_7B, 1, 1024, 768)
    assert p.llm_tokens == 576 and p.crops == 1 and p.seq_per_crop == 577


def test_anyres_672_square_is_2928():
    # base 24x24 = 576, grid 2x2 tiles -> 48x48 features + 48 newline tokens = 2352.
    p = plan_images(NEXT, 1, 672, 672)
    assert p.llm_tokens == 576 + 48 * 49 and p.crops == 5


def test_anyres_wide_image_unpads():
    assert best_resolution(1000, 500, PINS) == (336, 672)
    p = plan_images(NEXT, 1, 1000, 500)
    # 1x2 tiles -> 24x48 grid; a 2:1 image fills 48 columns x 24 rows exactly.
    assert p.llm_tokens == 576 + 24 * 49 and p.crops == 3


def test_qwen2vl_smart_resize():
    assert smart_resize(672, 672, 28, 3136, 12845056) == (672, 672)
    assert smart_resize(500, 300, 28, 3136, 12845056) == (504, 308)
    w, h = smart_resize(4000, 3000, 28, 3136, 28 * 28 * 1280)
    assert w * h <= 28 * 28 * 1280 and w % 28 == 0 and h % 28 == 0


def _qwen_like() -> ModelSpec:
    vit = VisionSpec(num_layers=2, hidden_size=64, num_heads=4, intermediate_size=256,
                     patch_size=14, image_size=28, temporal_patch_size=2, cls_token=False,
                     learned_pos_embedding=False, rope2d=True, post_norm=False)
    return ModelSpec(name="q", llm=LLAMA2_7B.model_copy(update={"hidden_size": 4096}), vision=vit,
                     projector=ProjectorSpec(kind="patch_merger", input_dim=64, output_dim=4096,
                                             merge_size=2),
                     token_scheme=TokenScheme(kind="dynamic"))


def test_dynamic_tokens_are_patches_over_four():
    p = plan_images(_qwen_like(), 1, 672, 672)
    assert p.seq_per_crop == 48 * 48 and p.llm_tokens == 576


def test_plan_tokens_fixed_rounds_up_crops():
    p = plan_tokens(LLAVA15_7B, 600)
    assert p.crops == 2 and p.llm_tokens == 600 and p.projector_rows == 600
    assert plan_tokens(LLAVA15_7B, 0).crops == 0


def test_plan_tokens_dynamic():
    p = plan_tokens(_qwen_like(), 100)
    assert p.projector_rows == 400 and p.seq_per_crop == 400


def test_patch_merger_with_fixed_scheme_merges_tokens():
    # A merger with fixed-size images (e.g. InternVL-style pixel shuffle): m^2 patches -> 1 token.
    spec = _qwen_like().model_copy(update={"token_scheme": TokenScheme(kind="fixed")})
    p = plan_images(spec, 1, 28, 28)
    assert p.projector_rows == 4 and p.llm_tokens == 1
    t = plan_tokens(spec, 10)
    assert t.projector_rows == 40 and t.llm_tokens == 10 and t.crops == 10


def test_onevision_several_images_are_base_crops():
    """transformers 5.23 `LlavaOnevisionImageProcessor._preprocess` ("only single image
    patching is supported": need_patching = batch_num_images == 1), `pack_image_features` (a
    one-crop image is its 729 features + image_newline) and `LlavaOnevisionProcessor.
    replace_image_token` (num_image_tokens + 1 when the sample has several images): each image
    of a several-image request is one 384 px crop of 27^2 + 1 tokens, not anyres."""
    from costmodel.loading.load import load_model

    ov = load_model("llava-onevision-0.5b")
    for images in (2, 3):
        p = plan_images(ov, images, 1280, 720)
        assert (p.crops, p.seq_per_crop, p.projector_rows, p.llm_tokens) == (
            images, 729, images * 729, images * 730)
    one = plan_images(ov, 1, 1280, 720)
    assert (one.crops, one.llm_tokens) == (1 + 2 * 4, 5967)  # a single image keeps anyres


def test_next_several_images_keep_anyres():
    """LLaVA-NeXT's processor tiles every image whatever their number."""
    from costmodel.loading.load import load_model

    nxt = load_model("llava-next-vicuna-7b")
    one, two = plan_images(nxt, 1, 1280, 720), plan_images(nxt, 2, 1280, 720)
    assert (two.crops, two.llm_tokens) == (2 * one.crops, 2 * one.llm_tokens) == (10, 3896)
