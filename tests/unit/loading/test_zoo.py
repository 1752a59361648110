"""Every zoo model loads from its own config.json and has the exact published parameter count.

Published totals (sources in costmodel/zoo_configs/SOURCES.md): safetensors index sizes / 2 for
the bf16/fp16 checkpoints, or the model card. The three marked 'hand' have no exact published
figure; their totals equal a build of the real transformers classes on the meta device
(transformers 5.23; test_zoo_transformers.py checks that for every zoo model) and are kept as
regression values.
"""

from __future__ import annotations

import pytest

from costmodel.core.visual_tokens import plan_images
from costmodel.loading.load import load_model, model_ids

PUBLISHED = {
    "llava-1.5-7b": 7_063_427_072,  # llava-hf port (vocab 32064); safetensors index
    "qwen2-vl-2b": 2_208_985_600,
    "qwen2-vl-7b": 8_291_375_616,  # safetensors index
    "llama-2-7b": 6_738_415_616,
    "llama-3-8b": 8_030_261_248,  # safetensors index
    "llava-1.5-13b": 13_351_494_656,  # hand
    "llava-next-vicuna-7b": 7_063_431_168,  # hand: llava-1.5-7b + image_newline (4096)
    "llava-onevision-0.5b": 893_675_552,  # hand
    # hand: LlavaOnevisionForConditionalGeneration on meta; the Hub's "8.03B" and the four fp16
    # shards (4.91 + 4.99 + 4.93 + 1.23 GB = 16.06 GB = 2 B x 8.03e9) agree but give no exact
    # integer; config RECONSTRUCTED, vocab 152128 from the converter's resize (SOURCES.md)
    "llava-onevision-7b": 8_030_807_584,
    # hand: InternVLForConditionalGeneration on meta with the separate lm_head the -hf
    # checkpoints store (top-level tie_word_embeddings false): the tied build 1,855,986,176 /
    # 7,400,774,144 + 151674 x h; x 2 B = 4.178 GB, the 4.18 GB bf16 model.safetensors of
    # InternVL3-2B-hf's Hub listing (SOURCES.md).
    "internvl3-2b": 1_855_986_176 + 151_674 * 1536,
    "internvl3-8b": 7_400_774_144 + 151_674 * 3584,
    # Hub safetensors parameter_count (BF16) of meta-llama/Llama-3.2-11B-Vision-Instruct, as
    # tabled in floschne/gimmick (SOURCES.md); = MllamaForConditionalGeneration on meta
    "llama-3.2-11b-vision": 10_670_220_835,
    # google/gemma-3-4b-it / -12b-it: Hugging Face safetensors totals (bf16 index total_size
    # / 2: 8,600,158,944 B for 4B); equal to Gemma3ForConditionalGeneration on meta (SOURCES.md).
    "gemma-3-4b": 4_300_079_472,
    "gemma-3-12b": 12_187_325_040,
    # gemma-3-27b-it: the count a public model table gives for unsloth/gemma-3-27b-it (a copy of
    # google's), a llama.cpp n_params and keras-hub's medgemma_instruct_27b (same architecture);
    # equal to Gemma3ForConditionalGeneration on meta (SOURCES.md); config RECONSTRUCTED (minimal)
    "gemma-3-27b": 27_432_406_640,
    # mixture of experts: safetensors index total_size / 2 (bf16), SOURCES.md section 8
    "mixtral-8x7b": 46_702_792_704,  # 93,405,585,408 / 2
    "qwen3-30b-a3b": 30_532_122_624,  # 61,064,245,248 / 2
    # Qwen2.5-VL / Qwen3-VL (SOURCES.md): Hub numParameters / loaded-model counts, and a count
    # of the Qwen3-VL-8B-Instruct safetensors tensors.
    "qwen2.5-vl-3b": 3_754_622_976,
    "qwen2.5-vl-7b": 8_292_166_656,
    "qwen3-vl-8b": 8_767_123_696,
    # hand: Qwen2_5_VLForConditionalGeneration on meta (transformers 5.23) = the LLM's
    # 72,706,203,648 (Qwen2.5-72B-Instruct's published safetensors total; same 80-layer shape and
    # vocab) + vision tower and merger 704,573,696; the Hub shows "73.4B params"
    # (mlx-community/Qwen2.5-VL-72B-Instruct-bf16, a bf16 conversion); config RECONSTRUCTED
    "qwen2.5-vl-72b": 73_410_777_344,
    # Qwen3-VL-30B-A3B-Instruct: the sum of its 882 bf16 safetensors tensors (a model report of
    # the checkpoint) = Fireworks' paramCount for the model (SOURCES.md).
    "qwen3-vl-30b-a3b": 31_070_754_032,
    # Hub API safetensors total of HuggingFaceTB/SmolVLM-500M-Instruct, quoted in several public
    # repositories with the split text 361,944,000 + vision 86,433,024 + connector 11,796,480 +
    # lm_head 47,308,800 (SOURCES.md); the config.json is RECONSTRUCTED
    "smolvlm-500m": 507_482_304,
    # hand: Idefics3ForConditionalGeneration on meta (transformers 5.23): text 1,711,382,528 +
    # lm_head 49155 x 2048 + vision 412,987,248 + connector 21,233,664; the Hub says "2.25B
    # params" (mlx-community/SmolVLM-Instruct-bf16) and model.safetensors 4.49 GB bf16
    "smolvlm-2b": 2_246_272_880,
}
# Parameters one token uses (ModelSpec.param_counts()["active"]), published to 0.1 B (rounded
# or cut: 12,879,925,248 and 3,353,032,704 here): Mixtral
# "only uses 12.9B parameters per token" (mistral.ai/news/mixtral-of-experts), Qwen3-30B-A3B "3.3B
# activated" (its model card).
PUBLISHED_ACTIVE_B = {"mixtral-8x7b": 12.9, "qwen3-30b-a3b": 3.3}


def test_zoo_ids_cover_the_required_models():
    assert set(model_ids()) == set(PUBLISHED)


@pytest.mark.parametrize("mid", sorted(PUBLISHED))
def test_param_count_exact(mid):
    assert load_model(mid).param_counts()["total"] == PUBLISHED[mid]


@pytest.mark.parametrize("mid", sorted(PUBLISHED_ACTIVE_B))
def test_active_params_published(mid):
    counts = load_model(mid).param_counts()
    assert abs(counts["active"] / 1e9 - PUBLISHED_ACTIVE_B[mid]) < 0.1  # the figure's last digit
    assert "active" not in load_model("llama-3-8b").param_counts()  # dense: total only


def test_llava_hf_vs_original_vocab():
    # The original liuhaotian/llava-v1.5-7b (vocab 32000) + CLIP tower = 7,062,902,784; the hf port
    # pads the vocab to 32064: +64 rows in both embedding and lm_head.
    assert PUBLISHED["llava-1.5-7b"] - 7_062_902_784 == 2 * 64 * 4096


def test_components():
    c = load_model("llava-1.5-7b").param_counts()
    assert c["vision"] == 303_507_456 and c["projector"] == 20_979_712
    q = load_model("qwen2-vl-7b")
    assert q.llm.qkv_bias and q.vision.rope2d and q.projector.kind == "patch_merger"
    assert load_model("qwen2-vl-2b").llm.tie_embeddings
    q25, q3 = load_model("qwen2.5-vl-3b"), load_model("qwen3-vl-8b")
    assert q25.llm.tie_embeddings and q25.llm.qkv_bias and q25.vision.window_size == 112
    assert q25.vision.fullatt_blocks == (7, 15, 23, 31) and q25.projector.norm_kind == "rmsnorm"
    assert q3.llm.qk_norm and not q3.llm.qkv_bias and q3.llm.head_dim == 128
    assert q3.projector.deepstack == 3 and q3.vision.num_position_embeddings == 2304


def test_token_counts_from_sources():
    # SOURCES.md section 6: LLaVA-NeXT 672x672 -> 2928, 336x336 -> 1176;
    # Qwen2-VL 672x672 -> 576; OneVision 384x384 -> 1485 (no anyres_max_9 cap needed),
    # 1080x1920 (H x W) -> 7269 and 2304x2304 -> 7371 (capped by the anyres_max_9 downscaling).
    nxt = load_model("llava-next-vicuna-7b")
    assert plan_images(nxt, 1, 672, 672).llm_tokens == 2928
    assert plan_images(nxt, 1, 336, 336).llm_tokens == 1176
    assert plan_images(load_model("qwen2-vl-7b"), 1, 672, 672).llm_tokens == 576
    ov = load_model("llava-onevision-0.5b")
    assert plan_images(ov, 1, 384, 384).llm_tokens == 1485
    assert plan_images(ov, 1, 672, 672).llm_tokens == 3699
    assert plan_images(ov, 1, 640, 480).llm_tokens == 2929
    assert plan_images(ov, 1, 1024, 899).llm_tokens == 6551
    assert plan_images(ov, 1, 1920, 1080).llm_tokens == 7269
    assert plan_images(ov, 1, 2304, 2304).llm_tokens == 7371


def test_gemma3_components():
    # transformers Gemma3ForConditionalGeneration on meta (SOURCES.md, Gemma 3): SigLIP tower
    # 416,866,032; projector 1152 x 2560 + RMSNorm(1152) = 2,950,272; 5 of 34 layers full.
    g = load_model("gemma-3-4b")
    c = g.param_counts()
    assert (c["vision"], c["projector"], c["llm"]) == (416_866_032, 2_950_272, 3_880_263_168)
    assert g.llm.head_dim == 256 and g.llm.sliding_window == 1024 and g.llm.tie_embeddings
    assert [i for i in range(34) if g.llm.window(i) is None] == [5, 11, 17, 23, 29]
    assert plan_images(g, 1, 1024, 768).llm_tokens == 256


def test_qwen25_vl_72b_by_hand():
    # Published shape (SOURCES.md): LLM = Qwen2.5-72B (8192 hidden, 29568 MLP, 80 layers, 64
    # heads, 8 KV heads, head 128, vocab 152064, lm_head untied, q/k/v biases); ViT as the 7B's
    # but MLP 3456 (not 3420), merger 5120 -> 5120 -> 8192.
    m = load_model("qwen2.5-vl-72b")
    llm, c = m.llm, m.param_counts()
    assert not llm.tie_embeddings and llm.qkv_bias and llm.kv_dim == 8 * 128
    h, f, v, kv = 8192, 29568, 152064, 1024
    layer = h * (h + 2 * kv) + (h + 2 * kv) + h * h + 3 * h * f + 2 * h
    assert c["llm"] == 80 * layer + 2 * v * h + h == 72_706_203_648
    merger = 1280 + 5120 * 5120 + 5120 + 5120 * 8192 + 8192
    assert c["projector"] == merger == 68_172_032
    block = 2 * 1280 + 1280 * 3840 + 3840 + 1280 * 1280 + 1280 + 3 * 1280 * 3456 + 2 * 3456 + 1280
    assert c["vision"] == 3 * 2 * 14 * 14 * 1280 + 32 * block == 636_401_664
    # KV cache per token, bf16: 2 (K, V) x 80 layers x 8 KV heads x 128 x 2 B
    assert 2 * llm.num_layers * llm.kv_dim * 2 == 2 * 80 * 8 * 128 * 2 == 327_680


def test_gemma3_27b_by_hand():
    # text_config (SOURCES.md): hidden 5376, MLP 21504, 62 layers, 32 heads, 16 KV heads,
    # head_dim 128 (not the 256 default), vocab 262,208, lm_head tied; q/k RMSNorm [128] and four
    # RMSNorms a layer. Vision and projector as the 4B/12B but projected to 5376.
    g = load_model("gemma-3-27b")
    c = g.param_counts()
    h, f, q, kv, d = 5376, 21504, 32 * 128, 16 * 128, 128
    layer = h * q + 2 * h * kv + q * h + 3 * h * f + 4 * h + 2 * d
    assert c["llm"] == 62 * layer + 262_208 * h + h == 27_009_346_304
    assert c["projector"] == 1152 * h + 1152 == 6_194_304 and c["vision"] == 416_866_032
    assert g.llm.tie_embeddings and g.llm.head_dim == 128 and g.llm.sliding_window == 1024
    assert [i for i in range(62) if g.llm.window(i) is None] == list(range(5, 62, 6))
    # KV per token of a full-attention layer, bf16: 2 x 16 KV heads x 128 x 2 B = 8,192 B
    assert 2 * g.llm.kv_dim * 2 == 8_192


def test_llava_onevision_7b_by_hand():
    # SOURCES.md (llava-onevision-7b.json): LLM = Qwen2-7B-Instruct (3584 hidden, 18944 MLP, 28
    # layers, 28 heads, 4 KV heads, head 128, q/k/v biases, lm_head untied), vocab 152064 + 2
    # (<image>, <video>) padded to a multiple of 64 = 152128; the 0.5B's SigLIP tower unchanged;
    # projector 1152 -> 3584 -> 3584 plus the image_newline vector.
    m, small = load_model("llava-onevision-7b"), load_model("llava-onevision-0.5b")
    llm, c = m.llm, m.param_counts()
    assert not llm.tie_embeddings and llm.qkv_bias and llm.kv_dim == 4 * 128
    h, f, v, kv = 3584, 18944, 152128, 512
    layer = h * (h + 2 * kv) + (h + 2 * kv) + h * h + 3 * h * f + 2 * h
    assert c["llm"] == 28 * layer + 2 * v * h + h == 7_616_075_264
    assert c["projector"] == 1152 * h + h + h * h + h + h == 16_984_576
    assert c["vision"] == small.param_counts()["vision"]
    # KV cache per token, bf16: 2 (K, V) x 28 layers x 4 KV heads x 128 x 2 B
    assert 2 * llm.num_layers * llm.kv_dim * 2 == 2 * 28 * 4 * 128 * 2 == 57_344
    # same tower, grid and anyres_max_9 as the 0.5B: 384x384 -> 729 + 27 x 27 + 27 = 1485 tokens
    for hw in [(384, 384), (672, 672), (1920, 1080)]:
        assert plan_images(m, 1, *hw).llm_tokens == plan_images(small, 1, *hw).llm_tokens
    assert plan_images(m, 1, 384, 384).llm_tokens == 1485
