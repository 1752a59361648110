"""Bundled models: one line each, id -> (the model's own config.json shipped in zoo_configs/,
Hugging Face repo it comes from, whether that file is a copy of the Hub's or reconstructed).
Specs are built from those files by `costmodel.loading.hf_config`.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# zoo_configs/SOURCES.md: VERBATIM (the published Hub file, byte for byte as far as could be
# checked) or RECONSTRUCTED (fields filled in from other copies and sources; which, from what:
# its entry there). tests/unit/loading/test_zoo_sources.py checks the two agree.
Config = Literal["verbatim", "reconstructed"]
R: Config = "reconstructed"


class ZooEntry(NamedTuple):
    config_file: str  # in costmodel/zoo_configs/
    source: str  # Hugging Face repo of the config.json
    kind: str  # vlm | llm
    note: str
    config: Config = "verbatim"  # the file's status in zoo_configs/SOURCES.md


ZOO: dict[str, ZooEntry] = {
    "llava-1.5-7b": ZooEntry("llava-1.5-7b.json", "llava-hf/llava-1.5-7b-hf", "vlm",
                             "Vicuna-7B v1.5 + CLIP ViT-L/14-336 + 2-layer MLP; 576 tokens/image"),
    "llava-1.5-13b": ZooEntry("llava-1.5-13b.json", "llava-hf/llava-1.5-13b-hf", "vlm",
                              "Vicuna-13B v1.5 + CLIP ViT-L/14-336 + 2-layer MLP"),
    "llava-next-vicuna-7b": ZooEntry("llava-next-vicuna-7b.json", "llava-hf/llava-v1.6-vicuna-7b-hf",
                                     "vlm", "LLaVA-NeXT (1.6): AnyRes tiles, up to 2928 tokens"),
    "qwen2-vl-2b": ZooEntry("qwen2-vl-2b.json", "Qwen/Qwen2-VL-2B-Instruct", "vlm",
                            "Qwen2-VL 2B: dynamic resolution, 2x2 patch merger", config=R),
    "qwen2-vl-7b": ZooEntry("qwen2-vl-7b.json", "Qwen/Qwen2-VL-7B-Instruct", "vlm",
                            "Qwen2-VL 7B: dynamic resolution, 2x2 patch merger", config=R),
    "qwen2.5-vl-3b": ZooEntry("qwen2.5-vl-3b.json", "Qwen/Qwen2.5-VL-3B-Instruct", "vlm",
                              "Qwen2.5-VL 3B: windowed RMSNorm/SwiGLU ViT, 2x2 patch merger"),
    "qwen2.5-vl-7b": ZooEntry("qwen2.5-vl-7b.json", "Qwen/Qwen2.5-VL-7B-Instruct", "vlm",
                              "Qwen2.5-VL 7B: windowed RMSNorm/SwiGLU ViT, 2x2 patch merger",
                              config=R),
    "qwen2.5-vl-72b": ZooEntry("qwen2.5-vl-72b.json", "Qwen/Qwen2.5-VL-72B-Instruct", "vlm",
                               "Qwen2.5-VL 72B: the 7B's ViT (MLP 3456) + Qwen2.5-72B LLM, "
                               "80 layers, GQA (8 KV heads)", config=R),
    "qwen3-vl-8b": ZooEntry("qwen3-vl-8b.json", "Qwen/Qwen3-VL-8B-Instruct", "vlm",
                            "Qwen3-VL 8B (dense): patch 16, DeepStack, Qwen3 LLM (q/k norm)"),
    "qwen3-vl-30b-a3b": ZooEntry("qwen3-vl-30b-a3b.json", "Qwen/Qwen3-VL-30B-A3B-Instruct", "vlm",
                                 "Qwen3-VL MoE: Qwen3-VL ViT + DeepStack, 128 experts, top-8"),
    "llava-onevision-0.5b": ZooEntry("llava-onevision-0.5b.json",
                                     "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", "vlm",
                                     "edge-sized: SigLIP-so400m + Qwen2-0.5B", config=R),
    "llava-onevision-7b": ZooEntry("llava-onevision-7b.json",
                                   "llava-hf/llava-onevision-qwen2-7b-ov-hf", "vlm",
                                   "SigLIP-so400m + Qwen2-7B; GQA (4 KV heads), untied lm_head",
                                   config=R),
    "internvl3-2b": ZooEntry("internvl3-2b.json", "OpenGVLab/InternVL3-2B-hf", "vlm",
                             "InternViT-300M + Qwen2.5-1.5B; 448 px tiles (1-12 + thumbnail), "
                             "256 tokens per tile", config=R),
    "internvl3-8b": ZooEntry("internvl3-8b.json", "OpenGVLab/InternVL3-8B-hf", "vlm",
                             "InternViT-300M + Qwen2.5-7B; 448 px tiles (1-12 + thumbnail), "
                             "256 tokens per tile", config=R),
    "llama-3.2-11b-vision": ZooEntry("llama-3.2-11b-vision.json",
                                     "meta-llama/Llama-3.2-11B-Vision-Instruct", "vlm",
                                     "Llama 3.1 8B + 8 cross-attention layers; 560 px tiles",
                                     config=R),
    "gemma-3-4b": ZooEntry("gemma-3-4b.json", "google/gemma-3-4b-it", "vlm",
                           "SigLIP 896 px + 4x4 avg-pool (256 tokens); 5 sliding (1024) : 1 full"),
    "gemma-3-12b": ZooEntry("gemma-3-12b.json", "google/gemma-3-12b-it", "vlm",
                            "SigLIP 896 px + 4x4 avg-pool (256 tokens); 5 sliding (1024) : 1 full",
                            config=R),
    "gemma-3-27b": ZooEntry("gemma-3-27b.json", "google/gemma-3-27b-it", "vlm",
                            "SigLIP 896 px + 4x4 avg-pool (256 tokens); 5 sliding (1024) : 1 full; "
                            "62 layers, head_dim 128", config=R),
    "smolvlm-500m": ZooEntry("smolvlm-500m.json", "HuggingFaceTB/SmolVLM-500M-Instruct", "vlm",
                             "Idefics3: SigLIP-B/16 512 px + SmolLM2-360M; image split into 512 px "
                             "tiles + global image, pixel shuffle 4 -> 64 tokens per tile",
                             config=R),
    "smolvlm-2b": ZooEntry("smolvlm-2b.json", "HuggingFaceTB/SmolVLM-Instruct", "vlm",
                           "Idefics3: SigLIP-so400m/14 384 px + SmolLM2-1.7B; image split into "
                           "384 px tiles + global image, pixel shuffle 3 -> 81 tokens per tile",
                           config=R),
    "llama-2-7b": ZooEntry("llama-2-7b.json", "meta-llama/Llama-2-7b-hf", "llm", "text only"),
    "llama-3-8b": ZooEntry("llama-3-8b.json", "meta-llama/Meta-Llama-3-8B", "llm",
                           "text only; GQA (8 KV heads)"),
    "mixtral-8x7b": ZooEntry("mixtral-8x7b.json", "mistralai/Mixtral-8x7B-v0.1", "llm",
                             "text only; mixture of experts, 8 experts, top-2"),
    "qwen3-30b-a3b": ZooEntry("qwen3-30b-a3b.json", "Qwen/Qwen3-30B-A3B", "llm",
                              "text only; mixture of experts, 128 experts, top-8, q/k norm"),
}
