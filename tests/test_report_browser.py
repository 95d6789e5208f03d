"""The evaluation report in a real browser: Debian's headless Chromium, driven by playwright, opens the report of a
model trained by diabetes_xgboost_model on the bundled data set and compared with a champion, as phones (360,
375 px) and desktops (1280, 1600 px) show it.

Nothing may stick out to the side (a wide table scrolls inside its own box) and every chart must have loaded. The
screenshots are written to $ARTIFACTS_DIR (default: artifacts/, not committed) for CI to keep; docs/deck.png is the
1280 px one (docs/evaluation.md). Skipped, with the reason, only where /usr/bin/chromium is missing; a failure
instead when REQUIRE_BROWSER=1 or CI=true (.ci/run installs Chromium).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from flyte.report import SECTIONS
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Known to work as root in a container; playwright adds --headless and a fresh --user-data-dir of its own.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# (width, is_mobile): phones (a phone lays out a page without a viewport tag 980 px wide) and desktop windows, from
# the narrowest to the widest the report is made for (docs/evaluation.md).
SCREENS = [(360, True), (375, True), (1280, False), (1600, False)]
# Every element outside a box that clips or scrolls sideways, whose box reaches past either side of the window.
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const insideScrollBox = (element) => {
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = [];
  for (const element of document.body.querySelectorAll('*')) {
    const box = element.getBoundingClientRect();
    if ((box.left < -0.5 || box.right > width + 0.5) && !insideScrollBox(element)) {
      out.push(`<${element.tagName.toLowerCase()}> ${element.id} ${Math.round(box.left)}..${Math.round(box.right)}`);
    }
  }
  return out;
}"""
CHARTS = """() => [...document.images].map(image => ({
  alt: image.alt, complete: image.complete, natural: [image.naturalWidth, image.naturalHeight],
  shown: [image.getBoundingClientRect().width, image.getBoundingClientRect().height],
  section: image.closest('section').id,
}))"""


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("ARTIFACTS_DIR", REPO_ROOT / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not CHROMIUM.is_file():
        reason = f"no {CHROMIUM} here; `apt-get install -y chromium` (Debian's package) installs it"
        if os.environ.get("REQUIRE_BROWSER") == "1" or os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The `report` output of a real run on the bundled data set with the default settings, compared with the
    champion that a weaker run made before it (the comparison's table, with the champion's SHA-256, is the page's
    widest content)."""
    from flyte.hyperparameters import Hyperparameters
    from flyte.registry import REGISTRY_ENVIRONMENT_VARIABLE
    from flyte.workflows.example import diabetes_xgboost_model

    with pytest.MonkeyPatch.context() as patch:  # a registry of this module's own (conftest's is per test)
        patch.setenv(REGISTRY_ENVIRONMENT_VARIABLE, str(tmp_path_factory.mktemp("model-registry")))
        diabetes_xgboost_model(hyperparameters=Hyperparameters(n_estimators=1, max_depth=1))
        trained = diabetes_xgboost_model()
    assert trained.promoted
    return Path(trained.report.path)


@pytest.mark.parametrize(("width", "is_mobile"), SCREENS, ids=[f"{width}px" for width, _ in SCREENS])
def test_the_report_reads_whole_in_a_browser(browser, report, width, is_mobile):
    context = browser.new_context(viewport={"width": width, "height": 900}, is_mobile=is_mobile)
    try:
        page = context.new_page()
        page.goto(report.as_uri(), wait_until="load")
        screenshot = artifacts_dir() / f"evaluation-report-{width}px.png"
        page.screenshot(path=screenshot, full_page=True)

        assert page.evaluate("[...document.querySelectorAll('section')].map(section => section.id)") == list(SECTIONS)
        assert "Champion SHA-256" in page.inner_text("#champion-comparison")
        charts = page.evaluate(CHARTS)
        assert [chart["section"] for chart in charts] == [
            "confusion-matrix", "roc-curve", "precision-recall-curve", "feature-importances"
        ]
        for chart in charts:
            assert chart["complete"] and min(chart["natural"]) > 0, chart  # decoded: the SVG data URI is valid
            assert 0 < chart["shown"][0] <= width and chart["shown"][1] > 0, chart
        assert page.evaluate("document.documentElement.clientWidth") == width
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate(STICKING_OUT) == []
    finally:
        context.close()
    with Image.open(screenshot) as image:  # what a user sees: the page at the window's width, charts and all
        assert image.width == width, image.size
