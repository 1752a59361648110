"""Issue 14: every command answers a bad input with one line on stderr naming the option,
file, row or field, exit code 2, no traceback, and leaves the working directory as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA, run

M, H = "llava-1.5-7b", "a100-80gb"
EST = ["estimate", M, "-H", H]
CC = ["compare-compression", M, "-H", H]
SW = ["sweep", M, "-H", H, "--visual-tokens", "576"]
PROF = ["profile", "--tiny", "--visual-tokens", "4", "--repeats", "1", "--warmup", "0"]
CAL = ["calibrate", "--from-vidur", "vidur_header.csv", "--base", H]
LONG = "x" * 5000

FILES = {
    "bin.yaml": b"\xff\xfe\x00bad: \xc3\x28\n", "bin.csv": b"\xff\xfe\x00a,b\n",
    "bin.json": b"\xff\xfe{}", "empty.csv": b"",
    "tag.yaml": b"!!python/object:os.system\nid: x\n",
    "basemiss.yaml": b"base: missing.yaml\nmemory_GB: 10\n",
    "engine_short.yaml": b"id: e1\nname: mine\nkernels: measured\n",
    "engine_noid.yaml": b"name: mine\nkernels: measured\nlaunch_per_kernel: false\n"
                        b"sources: {kernels: x, launch_per_kernel: x}\n",
    "link.yaml": b"base: h100-sxm\ninterconnect: {kind: infinity-fabric}\n",
    "baseid.yaml": b"base: h100-sx\nmemory_GB: 10\n",
    "dup.yaml": b"base: a100-80gb\nmemory_GB: 10\nmemory_GB: 20\n",
    "inf.yaml": b"base: a100-80gb\nmemory_bandwidth_GBps: .inf\n",
    "nan.yaml": b"base: a100-80gb\nmemory_bandwidth_GBps: .nan\n",
    "prof_abc.csv": b"model,batch,visual_tokens,text_tokens,stage,context_tokens,median_s\n"
                    b"tiny,1,64,16,prefill,81,abc\n",
    "prof_empty.csv": b"model,batch,visual_tokens,text_tokens,stage,context_tokens,median_s\n",
    "bool_layers.json": b'{"model_type": "llama", "num_hidden_layers": true}',
    "weird_act.json": b'{"model_type": "llava", "text_config": {"model_type": "llama"}, '
                      b'"vision_config": {"hidden_act": "weird"}}',
    "no_hidden.json": b'{"model_type": "llama", "num_attention_heads": 12}',
    "vfl_x.json": b'{"model_type": "llava", "vision_feature_layer": "x"}',
    "pins_x.json": b'{"model_type": "llava_next", "image_grid_pinpoints": "x"}',
    "text_list.json": b'{"model_type": "llava", "text_config": [1]}',
    "mt_list.json": b'{"model_type": ["llama"]}',
    "deep.json": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep.yaml": b"a: " + b"[" * 5_000 + b"]" * 5_000 + b"\n",
    "layers.json": b'{"model_type": "llama", "num_hidden_layers": 1000000000}',
    "split.csv": b"id,model,hardware,engine,weight_dtype,act_dtype,kv_dtype,batch,visual_tokens,"
                 b"text_tokens,output_tokens,tp,metric,value,source,split\n"
                 b"a,llama-2-7b,a100-80gb,hf-eager,bf16,bf16,bf16,1,0,5,20,1,ttft_s,0.1,x,heldout\n",
}

CASES = [
    # 1. files that are not UTF-8, unreadable or refused YAML
    (EST[:3] + ["bin.yaml"], "bin.yaml: not UTF-8"),
    (["hardware", "show", "bin.yaml"], "bin.yaml: not UTF-8"),
    (["validate", "-m", "bin.csv", "-H", H], "--measurements: bin.csv: not UTF-8"),
    (["estimate", "bin.json", "-H", H], "bin.json: not UTF-8"),
    (CAL[:3] + ["--base", "bin.yaml", "-o", "c.yaml"], "bin.yaml: not UTF-8"),
    (EST[:3] + ["tag.yaml"], "not allowed"),
    (EST[:3] + ["basemiss.yaml"], "basemiss.yaml: base: no file missing.yaml"),
    (EST[:3] + ["link.yaml"], "link.yaml: interconnect.kind: Input should be 'nvlink', 'pcie' "
     "or 'none'; the kind sets only the default link latency: another GPU-to-GPU link"),
    (EST + ["--engine", "engine_short.yaml"], "engine_short.yaml: launch_per_kernel: Field "
     "required (+1 more); add launch_per_kernel: and its source under sources: (`costmodel "
     "engines show vllm`"),
    # id needs no source (it said 'add id: and its source under sources:')
    (EST + ["--engine", "engine_noid.yaml"], "engine_noid.yaml: id: Field required; add id: "
     "(`costmodel engines show vllm` prints a complete engine)"),
    # an unknown bundled id under base: names the file that gives it (said 'hardware: unknown')
    (EST[:3] + ["baseid.yaml"], "baseid.yaml: base: unknown 'h100-sx'; did you mean h100-sxm"),
    (EST[:3] + ["dup.yaml"], "key 'memory_GB' is given twice"),
    (EST[:3] + ["inf.yaml"], "memory_bandwidth_GBps: inf must be a finite number > 0"),
    (EST[:3] + ["nan.yaml"], "must be a finite number > 0"),
    (["estimate", LONG, "-H", H], "unknown '" + "x" * 40 + "...'"),
    (EST[:3] + [LONG], "unknown '" + "x" * 40 + "...'"),
    # measurement files
    (["validate", "-m", "prof_abc.csv", "-H", H], "row 1, median_s: 'abc' is not"),
    (["validate", "-m", "vidur_header.csv", "-H", H, "--kind", "profile"], "lacks column"),
    (["validate", "-m", "prof_empty.csv", "-H", H], "no measurements in prof_empty.csv"),
    (["validate", "-m", "empty.csv", "-H", H], "no measurements in empty.csv"),
    (["validate", "-m", "vidur_header.csv", "-H", H], "no measurements in vidur_header.csv"),
    (CAL + ["-o", "c.yaml"], "--from-vidur: no measurements"),
    # output paths, checked before any work
    (SW + ["--plot", "/proc/x.png"], "--plot: cannot write"),
    (SW + ["--plot", "adir"], "--plot: 'adir' is a directory"),
    (SW + ["--plot", "x.txt"], "--plot: 'x.txt' has suffix '.txt'"),
    (["plot", "breakdown", M, "-H", H, "-o", "/proc/x.png"], "--output: cannot write"),
    (["plot", "roofline", M, "-H", H, "-o", "adir"], "--output: 'adir' is a directory"),
    (["compare", M, "-H", H, "--plot", "/proc/x.png"], "--plot: cannot write"),
    (CC + ["--keep", "0.5", "--plot", "adir"], "--plot: 'adir' is a directory"),
    (["validate", "-m", str(DATA / "vidur" / "a100_Llama-2-7b-hf_mlp.csv"), "-H", H,
      "--plot", "x.txt"], "--plot: 'x.txt'"),
    (PROF + ["-o", "/proc/x.csv"], "--output: cannot write"),
    # a file option on a command that prints (said 'No such option: -o' and no more)
    (EST + ["-o", "x.json"], "No such option: -o; this command prints to stdout: redirect it"),
    (["plan", M, "-H", H, "--ttft", "1", "--plot", "x.png"],
     "; --plot draws beside sweep, compare, compare-compression and validate"),
    (PROF + ["-o", "adir"], "--output: 'adir' is a directory"),
    (PROF + ["--kernels", "k.txt"], "--kernels: 'k.txt' needs the suffix .csv"),
    (CAL + ["-o", "/proc/c.yaml"], "--output: cannot write"),
    (CAL + ["-o", "adir"], "--output: 'adir' is a directory"),
    (CAL + ["-o", "nodir/c.yaml"], "--output: directory 'nodir' does not exist"),
    # 3. counts, grids, figures, clashes
    (SW[:-1] + ["576", "--batch", "99999999999999999999"], "--batch: 99999999999999999999 is "
     "outside 1..65536"),
    (SW[:-1] + ["9223372036854775807"], "--visual-tokens: 9223372036854775807 is outside"),
    (SW[:-1] + ["0:100000000:1"], "--visual-tokens"),
    (["plot", "sweep", M, "-H", H, "--visual-tokens", "0:100000000:1", "-o", "s.png"],
     "--visual-tokens"),
    (EST + ["--batch", "99999999999999999999"], "--batch"),
    (EST + ["--visual-tokens", "9223372036854775807"], "--visual-tokens"),
    (EST + ["--set", "memory_bandwidth_GBps=inf"], "'inf' must be a finite number > 0"),
    (EST + ["--set", "memory_bandwidth_GBps=1e400"], "'1e400' must be a finite number > 0"),
    (EST + ["--set", "memory_bandwidth_GBps=nan"], "'nan' must be a finite number > 0"),
    (EST + ["--set", "memory_bandwidth_GBps=x1e400"], "must be a finite number > 0"),
    (["estimate", "llama-2-7b", "-H", H, "--visual-tokens", "100"],
     "--visual-tokens: llama-2-7b has no vision tower"),
    (EST + ["--visual-tokens", "100", "--images", "3"], "--images:"),
    (EST + ["--visual-tokens", "100", "--image-size", "672x672"],
     "--image-size: --visual-tokens already gives the tokens"),  # said 'visual_tokens
    (EST + ["--batch", "4", "--microbatches", "4"], "--microbatches: only a pipeline"),
    (["compare", M, "-H", H, "--at", "vit"], "--at: 'vit' places a compression; give --keep"),
    (CC + ["--at", "vit"], "--keep: --at vit needs"),
    (CC + ["--keep", "1000"], "--keep: 1000 tokens kept, but llava-1.5-7b has 576"),
    (CC + ["--keep", "0.5", "--at", "vit", "--merge-per-layer", "1000"], "not both"),
    (CC + ["--at", "vit", "--merge-per-layer", "1000"], "--merge-per-layer: 1000 per layer"),
    (CC + ["--keep", "0.5", "--merge-per-layer", "2"], "--merge-per-layer: only --at vit"),
    (CC, "--keep: give the visual tokens kept"),
    (["estimate", "bool_layers.json", "-H", H], "num_hidden_layers: True is not a whole"),
    (["estimate", "weird_act.json", "-H", H], "vision_config.hidden_act 'weird'"),
    (["estimate", "no_hidden.json", "-H", H], "hidden_size=4096"),
    # 5. config.json of the wrong type / shape, huge, deeply nested; empty list entries
    (["estimate", "vfl_x.json", "-H", H], "vision_feature_layer: 'x' is not a whole number"),
    (["estimate", "pins_x.json", "-H", H], "image_grid_pinpoints: x is not a list"),
    (["estimate", "text_list.json", "-H", H], "text_config: expected an object"),
    (["estimate", "mt_list.json", "-H", H], "model_type: ['llama'] is not a string"),
    (["estimate", "deep.json", "-H", H], "deep.json: nested too deeply to read as JSON"),
    (EST[:3] + ["deep.yaml"], "deep.yaml: nested too deeply to read as YAML"),
    (["hardware", "show", "deep.yaml"], "nested too deeply to read as YAML"),
    (["estimate", "layers.json", "-H", H], "num_layers: Input should be less than or equal"),
    (EST + ["--engine", ""], "--engine: empty"),
    (["sweep", M + ",", "-H", H, "--visual-tokens", "576", "--plot", "s.png"],
     "MODEL: 'llava-1.5-7b,' has an empty entry"),
    (["sweep", M, "-H", H + ",", "--visual-tokens", "576"], "--hardware: 'a100-80gb,' has an"),
    (["plot", "sweep", M + ",", "-H", H, "--visual-tokens", "576", "-o", "s.png"],
     "has an empty entry"),
    (["models", "show", "llama-2-7b", "--image-size", "672x672"],
     "--image-size: llama-2-7b has no vision tower"),
    (["validate", "--published", "split.csv"], "column split: 'heldout'"),
    # 4. messages
    (EST + ["-f", "xml"], "'xml' is not one of 'table', 'json', 'csv'"),
    (EST + ["--overlap", "foo"], "--overlap: 'foo' is not one of roofline, serial"),
    (EST + ["--logits", "foo"], "--logits: 'foo' is not one of last, all"),
    (EST + ["--set", "memory_bandwith_GBps=5"], "did you mean memory_bandwidth_GBps?"),
    (EST + ["--convention", "llm-viewer", "--tp", "2"], "--convention: llm-viewer models one"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, data in FILES.items():
        (tmp_path / name).write_bytes(data)
    header = (DATA / "vidur" / "a100_Llama-2-7b-hf_mlp.csv").read_text().splitlines()[0]
    (tmp_path / "vidur_header.csv").write_text(header + "\n")
    (tmp_path / "adir").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def listing(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")}


@pytest.mark.parametrize("args, needle", CASES, ids=[" ".join(a)[:70] for a, _ in CASES])
def test_bad_input_one_line_exit_2_nothing_left(args, needle, workdir, capsys):
    before = listing(workdir)
    code, out, err = run(args, capsys)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err, err
    assert "Traceback" not in err + out
    assert listing(workdir) == before


def test_context_longer_than_the_model_warns_in_one_line(capsys):
    code, out, err = run(EST + ["--visual-tokens", "5000"], capsys)
    assert code == 0 and "TTFT" in out
    assert err.count("\n") == 1 and err.startswith("warning: llava-1.5-7b: a sequence of 5191")
    assert "max_position_embeddings 4096" in err


def test_version_and_short_help(capsys):
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("costmodel ")
    for args in (["-h"], ["estimate", "-h"], ["models", "show", "-h"]):
        code, out, _ = run(args, capsys)
        assert code == 0 and out.startswith("Usage:")


@pytest.mark.parametrize("args, first", [(["models", "show", M], "name,llava-1.5-7b"),
                                         (["hardware", "show", H], "id,a100-80gb")])
def test_show_csv_is_key_value_rows(args, first, capsys):
    code, out, _ = run(args + ["-f", "csv"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "key,value" and lines[1] == first


@pytest.mark.parametrize("args, needle", [
    (PROF + ["--batch", "99999999999999999999", "-o", "p.csv"], "--batch:"),
    (["batching", M, "-H", H, "--batch", "1:99999999999999999999"], "--batch:"),
    (["plan", M, "-H", H, "--ttft", "inf"], "--ttft: inf is not a positive finite number"),
    (["estimate", M, "-H", H, "--image-size", "99999999x2"], "--image-size:"),
])
def test_more_counts_bounded(args, needle, workdir, capsys):
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err


@pytest.mark.parametrize("args", [
    ["plot", "roofline", M, "-H", H, "-o"],  # plot writes its file with -o
    ["sweep", M, "-H", H, "--visual-tokens", "5", "--plot"],  # sweep draws with --plot
])
def test_a_file_option_without_its_value_gets_no_missing_option_fix(args, capsys):
    """'Option -o requires an argument' on a command that has -o: the fix for a command
    without it ('prints to stdout', 'draws beside sweep, ...') was appended there too."""
    code, _, err = run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "requires an argument" in err, err
    assert "prints to stdout" not in err and "draws beside" not in err, err
