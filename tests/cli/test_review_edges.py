"""A new user's review: options that were silently dropped, errors that named a catalog
instead of the option typed, and outputs that read oddly."""

from __future__ import annotations

import pytest

from tests.helpers import run

QWEN = ["qwen2.5-vl-7b", "-H", "a100-80gb"]
NO_IMAGE = ["--images", "0", "--image-size", "672x672"]
SIZE_UNUSED = ("error: --image-size: --images 0 sends no image, so the size would go unused; "
               "drop --image-size, or give --images 1 or more")


@pytest.mark.parametrize("cmd", [
    ["estimate", *QWEN], ["sweep", *QWEN], ["compare", *QWEN], ["energy", *QWEN],
    ["plan", *QWEN, "--ttft", "1"], ["batching", *QWEN, "--batch", "1,2"],
    ["capacity", *QWEN], ["compare-compression", *QWEN, "--kv-keep", "0.5"],
    ["sweep", *QWEN, "--images", "0", "--image-size", "448x448,672x672"],
])
def test_an_image_size_with_no_image_is_refused(cmd, capsys):
    """Was: 0 visual tokens priced and --image-size silently ignored."""
    args = cmd if "--images" in cmd else cmd + NO_IMAGE
    code, out, err = run(args, capsys)
    assert (code, out, err.strip()) == (2, "", SIZE_UNUSED)


def test_an_image_size_still_goes_with_a_video_or_some_images(capsys):
    """The frame size of a video, and a sweep whose other points carry images, use it."""
    for args in (["estimate", *QWEN, *NO_IMAGE, "--video-frames", "8"],
                 ["sweep", *QWEN, "--images", "0,1", "--image-size", "672x672"]):
        code, _, err = run(args, capsys)
        assert code == 0, err


def test_the_python_api_refuses_it_too():
    import costmodel
    from costmodel.sweep import sweep

    with pytest.raises(costmodel.CostmodelError, match=r"^image_size: --images 0 sends no "):
        costmodel.estimate("qwen2.5-vl-7b", "a100-80gb", images=0, image_size=(672, 672))
    with pytest.raises(costmodel.CostmodelError, match=r"^image_size: --images 0 sends no "):
        sweep(["qwen2.5-vl-7b"], ["a100-80gb"], images=[0], image_sizes=[(672, 672)])
