"""`costmodel models list|show`: families, parameter counts, token rules and worked examples
computed by the token-plan code (checked against transformers' own helpers where it is
installed). CliRunner for the output; the console entry point for exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from costmodel.analysis import token_rules
from costmodel.cli import app
from costmodel.core.visual_tokens import plan_images
from costmodel.loading.load import _PKG, _load_model, load_model, model_ids
from costmodel.loading.zoo import ZOO
from costmodel.specs.model import ModelSpec
from tests.helpers import run

runner = CliRunner()


def _json(args: list[str]) -> object:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _model_type(mid: str) -> str:
    return json.loads((_PKG / "zoo_configs" / ZOO[mid].config_file).read_text())["model_type"]


def test_list_json_one_record_per_zoo_model_grouped_by_family():
    recs = _json(["models", "list", "-f", "json"])
    assert sorted(r["id"] for r in recs) == sorted(model_ids())
    families = [r["family"] for r in recs]
    assert families == sorted(families)  # each family's models are together
    for r in recs:
        spec = load_model(r["id"])
        assert r["family"] == _model_type(r["id"])
        counts = spec.param_counts()  # MoE specs add "active"; a dense model's is its total
        assert r["params"] == counts["total"]
        assert r["active_params"] == counts.get("active", counts["total"])
        assert r["token_scheme"]["kind"] == (spec.token_scheme.kind if spec.is_vlm else "none")
        assert r["token_scheme"]["rule"] == token_rules.rule(spec)


def test_list_table_names_each_family_once():
    r = runner.invoke(app, ["models", "list"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()[2:]
    firsts = [ln.split()[0] for ln in lines if not ln.startswith(" ")]
    assert sorted(firsts) == sorted({_model_type(m) for m in model_ids()})
    assert "qwen2-vl-7b" in r.stdout and "smart_resize" in r.stdout
    csv = runner.invoke(app, ["models", "list", "-f", "csv"]).stdout.splitlines()
    assert csv[0].startswith("id,family,kind,params,active_params") and len(csv) == len(ZOO) + 1


def test_list_reads_active_params_when_a_spec_gives_them(monkeypatch):
    total = ModelSpec.param_counts

    def with_active(self: ModelSpec) -> dict[str, int]:
        c = total(self)
        return {**c, "active": c["total"] // 3}

    monkeypatch.setattr(ModelSpec, "param_counts", with_active)
    rec = next(r for r in _json(["models", "list", "-f", "json"]) if r["id"] == "llama-2-7b")
    assert rec["active_params"] == rec["params"] // 3


# token figures from costmodel/zoo_configs/SOURCES.md section 6
@pytest.mark.parametrize("mid, size, tokens, seen", [
    ("qwen2-vl-7b", None, 576, ["672x672 image", "48x48 = 2304 patches", "2304 / 4"]),
    ("llava-1.5-7b", None, 576, ["336x336", "24x24 patches"]),
    ("llava-next-vicuna-7b", "672x672", 2928, ["2x2 tiles", "576 + 48x48 + 48 newline tokens"]),
    ("llava-onevision-0.5b", "1920x1080", 7269, ["anyres_max_9 downscales"]),
])
def test_show_worked_example(mid, size, tokens, seen):
    args = ["models", "show", mid, "-f", "json"] + (["--image-size", size] if size else [])
    ex = _json(args)["tokens"]["example"]
    w, h = map(int, ex["image"].split("x"))
    assert ex["tokens"] == tokens == plan_images(load_model(mid), 1, w, h).llm_tokens
    assert ex["text"].endswith(f"-> {tokens} tokens")
    for s in seen:
        assert s in ex["text"]


@pytest.mark.parametrize("size", [(672, 672), (640, 480), (1920, 1080), (100, 3000), (13, 1000)])
def test_example_steps_match_transformers_helpers(size):
    pytest.importorskip("transformers", minversion="5.23")
    from transformers.image_processing_utils import select_best_resolution
    from transformers.models.llava_next.processing_llava_next import LlavaNextProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    w, h = size
    q = load_model("qwen2-vl-7b")
    rh, rw = smart_resize(h, w, 28, q.token_scheme.min_pixels, q.token_scheme.max_pixels)
    ex = token_rules.worked_example(q, w, h)
    assert f"smart_resize to {rw}x{rh} " in ex["text"] and ex["tokens"] == rh * rw // 28 ** 2
    nxt = load_model("llava-next-vicuna-7b")
    ph, pw = select_best_resolution((h, w), [list(p) for p in nxt.token_scheme.grid_pinpoints])
    feats, rows = LlavaNextProcessor._get_unpadded_features(None, h, w, 24, 24, ph // 336, pw // 336)
    ex = token_rules.worked_example(nxt, w, h)
    assert f"best pinpoint {pw}x{ph} " in ex["text"]
    assert f"unpadded to {rows}x{feats // rows} " in ex["text"]
    assert ex["tokens"] == 24 * 24 + feats + rows  # base crop (CLS dropped) + grid + newlines


def test_a_kind_without_a_rule_entry_falls_back_to_its_fields(monkeypatch):
    monkeypatch.delitem(token_rules.RULES, "dynamic")
    q = load_model("qwen2-vl-7b")
    assert token_rules.rule(q) == ("dynamic token scheme (max_pixels=12845056, "
                                   "default_image_size=(672, 672))")  # the fields not at defaults
    ex = token_rules.worked_example(q, 672, 672)
    assert ex["tokens"] == 576
    assert ex["steps"] == ["1 encoder pass(es) of 2304 positions", "2304 patch features into the projector"]


def test_show_text_model_and_table_format():
    r = runner.invoke(app, ["models", "show", "llama-3-8b"])
    assert r.exit_code == 0 and "rule: text only" in r.stdout and "example" not in r.stdout
    r = runner.invoke(app, ["models", "show", "qwen2-vl-7b"])
    assert "672x672 image -> smart_resize to 672x672" in r.stdout


@pytest.mark.parametrize("args, needle", [
    (["models", "show", "qwen2-vl-7b", "--image-size", "12"], "--image-size"),
    (["models", "show", "no-such-model"], "NAME: unknown"),
    (["models", "show", "someorg/absent-model"], "hf download someorg/absent-model"),
])
def test_show_bad_input_one_line_exit_2(args, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    _load_model.cache_clear()
    code, out, err = run(args, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and needle in err

