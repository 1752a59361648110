"""The page in a real browser: headless Chromium (Debian's chromium + chromium-driver, no
download) driven by Selenium. Loads the page, changes the visual-token count and the
compression, and checks the displayed TTFT against the CLI's JSON; a bad value shows the
CLI's line next to its field. Skipped, saying why, where chromium or chromedriver is absent
(.ci/run installs them)."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

REQUIRED = os.environ.get("COSTMODEL_REQUIRE_BROWSER") == "1"  # set by .ci/run: no skipping
if not REQUIRED:
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    pytest.importorskip("selenium.webdriver")
from selenium import webdriver  # noqa: E402

from costmodel.ui import server  # noqa: E402
from costmodel.units import seconds  # noqa: E402
from tests.ui.conftest import run_cli  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and (CHROMIUM is None or DRIVER is None),
                       reason="needs Debian's chromium and chromium-driver "
                              "(apt-get install -y chromium chromium-driver; .ci/run does)"),
]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    import uvicorn

    sock = server.bind("127.0.0.1", 0)
    srv = uvicorn.Server(uvicorn.Config(server.create_app(), log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield server.address(sock)
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM and DRIVER, "COSTMODEL_REQUIRE_BROWSER=1 but chromium/chromedriver are absent"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver: Any, predicate: Any, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.execute_script(predicate):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {predicate}")


def settled(driver: Any, *parts: str) -> None:
    """Wait until the page has answered for a query holding every part."""
    checks = " && ".join(f"q.includes({json.dumps(p)})" for p in parts)
    wait_for(driver, "const b = document.body, q = b.dataset.query || ''; "
                     f"return b.dataset.status !== 'loading' && {checks};")


def type_into(driver: Any, element_id: str, text: str) -> None:
    driver.execute_script(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1]; "
        "e.dispatchEvent(new Event('change', {bubbles: true}));", element_id, text)


def test_page_follows_the_inputs_and_matches_the_cli(browser, base_url, capsys):
    browser.get(base_url)
    settled(browser, "model=llava-1.5-7b")
    type_into(browser, "visual_tokens", "144")
    settled(browser, "visual_tokens=144")
    browser.execute_script("document.getElementById('at_where').value = 'llm-layer';")
    type_into(browser, "at_layer", "2")
    type_into(browser, "keep", "0.1")
    settled(browser, "visual_tokens=144", "keep=0.1", "at=llm-layer%3A2")
    assert browser.find_element("tag name", "body").get_attribute("data-status") == "ready"
    command = browser.find_element("id", "commands").text.splitlines()[1]
    assert command.startswith("costmodel compare-compression llava-1.5-7b")
    code, out, _ = run_cli(capsys, command, "-f", "json")
    cli = json.loads(out)
    for element, doc in (("ttft-base", cli["baseline"]), ("ttft-comp", cli["compressed"])):
        shown = browser.find_element("id", element)
        assert shown.text == seconds(doc["ttft_s"])
        assert float(shown.get_attribute("data-value")) == doc["ttft_s"]
    assert "visual_tokens=144" in browser.current_url  # the link holds the state


def test_bad_value_shows_the_cli_line_next_to_its_field(browser, base_url, capsys):
    browser.get(f"{base_url}?visual_tokens=144&keep=")
    settled(browser, "visual_tokens=144")
    type_into(browser, "batch", "0")
    settled(browser, "batch=0")
    shown = browser.find_element("id", "err-batch").text
    command = browser.find_element("id", "commands").text.splitlines()[0]
    code, _, err = run_cli(capsys, command)
    assert code == 2 and err == f"error: {shown}\n"
