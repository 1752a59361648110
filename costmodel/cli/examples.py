"""Examples shown at the end of every command's --help (one registry, keyed by the command as
typed after `costmodel`; a group's --help shows one of each of its commands).
tests/cli/test_examples.py checks that every command has some and runs each one that finishes
in seconds on a CPU (in a scratch folder: they may write files)."""

from __future__ import annotations

M, H = "llava-1.5-7b", "a100-80gb"
EXAMPLES: dict[str, tuple[str, ...]] = {
    "estimate": (
        f"costmodel estimate {M} -H {H}",
        "costmodel estimate qwen2-vl-7b -H h100-sxm --image-size 672x672 --engine vllm -f json",
        f"costmodel estimate {M} -H {H} --keep 0.1 --kv-dtype int8 --per-op",
        "costmodel estimate ./config.json -H ./my-gpu.yaml --set memory_bandwidth_GBps=x2",
    ),
    "sweep": (
        f"costmodel sweep {M} -H {H},h100-sxm --visual-tokens 0:2880:576 --batch 1,8 -f csv",
        f"costmodel sweep {M},qwen2-vl-7b -H l4 --visual-tokens 64,576 --keep 0.25",
        f"costmodel sweep qwen2-vl-7b -H {H} --images 1,2,4,8 --image-size 448x448,896x896",
        f"costmodel sweep qwen2-vl-7b -H {H} --seconds 4,8,16,32 --fps 2 -f csv",
    ),
    "compare-compression": (
        f"costmodel compare-compression {M} -H {H} --keep 0.1",
        f"costmodel compare-compression {M} -H {H} --keep 0.1,0.25,0.5",
        f"costmodel compare-compression {M} -H {H} --method fastv --keep 0.5 --at llm-layer:2",
        f"costmodel compare-compression {M} -H {H} --schedule 0:576,8:288,16:144 -f csv",
    ),
    "compare": (
        "costmodel compare llava-next-vicuna-7b -H a100-80gb,h100-sxm,l4 --visual-tokens 2880",
    ),
    "energy": (f"costmodel energy {M} -H jetson-agx-orin-64gb --power-mode 30W",),
    "plan": (f"costmodel plan {M} -H {H},h100-sxm,l4 --ttft 0.3 --tpot 0.05",),
    "batching": (f"costmodel batching {M} -H {H},h100-sxm --batch 1:256",),
    "capacity": (
        f"costmodel capacity {M} -H {H},h100-sxm --engine vllm --keep 0.1 --max-batch 2048",
        f"costmodel capacity {M} -H {H} --ttft 1 --tpot 0.05 --kv-keep 0.5",
    ),
    "models list": ("costmodel models list",),
    "models show": ("costmodel models show qwen2-vl-7b",
                    "costmodel models show llava-next-vicuna-7b --image-size 640x480"),
    "hardware list": ("costmodel hardware list",),
    "hardware show": ("costmodel hardware show h100-sxm",
                      "costmodel hardware show rtx-4090 --set memory_GB=48 -f json"),
    "engines list": ("costmodel engines list",),
    "engines show": ("costmodel engines show vllm",),
    "plot roofline": (f"costmodel plot roofline {M} -H {H} -o roofline.png",),
    "plot breakdown": (f"costmodel plot breakdown {M} -H {H} --keep 0.1 -o breakdown.svg",),
    "plot sweep": (f"costmodel plot sweep {M} -H {H},h100-sxm --visual-tokens 0:2880:288 "
                   "-o sweep.png",
                   f"costmodel plot sweep qwen2-vl-7b -H {H} --images 1,2,4,8 --image-size "
                   "448x448,896x896 -o images.png",
                   f"costmodel plot sweep qwen2-vl-7b -H {H} --seconds 4,8,16,32 --fps 1,2 "
                   "-o video.png"),
    "plot savings": (f"costmodel compare-compression {M} -H {H} --keep 0.1 -f csv > s.csv",
                     "costmodel plot savings --from s.csv -o savings.png"),
    "validate": (
        "costmodel validate --published costmodel/calibration/data/published_runs.csv",
        "costmodel validate --kernels gemm_perf.csv.gz -H h100-sxm --held-out",
        "costmodel validate -m prof.csv -H cpu.yaml",
    ),
    "profile": (f"costmodel profile {M} --device cuda --visual-tokens 64,576 -o prof.csv",),
    "calibrate": (
        "costmodel calibrate --device cpu -o cpu.yaml",
        "costmodel calibrate --device cuda --base h100-sxm -o h100-cal.yaml",
        "costmodel calibrate --from-vidur mlp.csv --base a100-80gb -o a100-vidur.yaml",
    ),
    "ui": ("costmodel ui", "costmodel ui --port 0"),
}


def epilog(command: str) -> str:
    """The examples of `command` as a help epilog; click keeps the lines of a paragraph that
    starts with a \\b line as they are (no rewrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])


def group_epilog(group: str) -> str:
    """A command group's epilog (`costmodel models -h`): the first example of each of its
    commands that runs that command."""
    lines = [next(x for x in xs if f"{x} ".startswith(f"costmodel {c} "))
             for c, xs in EXAMPLES.items() if c.startswith(f"{group} ")]
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)
