"""Screenshots of each page of DEVON's web page for docs/ui.md, from a real run.

Starts the test hub and a DEVON on a temporary vault (with a quota, so the quota bar shows),
downloads a few of the hub's models through the library, then opens every page in Debian's
Chromium and saves PNGs to docs/ui/. Run from the repository root::

    .venv/bin/python scripts/ui_screenshots.py
"""

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

# Before huggingface_hub is imported: a throw-away cache, no telemetry or progress bars.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="devon-ui-shots-hf-")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import Page, expect
from tests.support.browser import LAPTOP, PHONE, chromium, open_page

from devon_app import Settings, build_devon
from devon_http import create_app
from devon_http.serve import running
from devon_testhub import TestHub

MODELS = ["acme/shardy-7b", "tinyco/Tiny-0.5B-Instruct", "oldco/legacy-gpt-1.3b"]
GGUF = ("acme/Widget-8B-GGUF", ["*Q4_K_M*"])
SLOW = "acme/Widget-8B-GGUF"
FAILING = "acme/shardy-7b-AWQ"
CANCELLED = "tinyco/Lynx-8B-Chat-v23"


def shoot(page: Page, out: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    print(f"wrote {out / name}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/ui"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with TestHub() as hub, tempfile.TemporaryDirectory(prefix="devon-ui-shots-") as storage:
        settings = Settings(
            storage_path=Path(storage), hf_endpoint=hub.url, max_storage_bytes=4 * 1024**2
        )
        devon = build_devon(settings)
        for model_id in MODELS:
            devon.download(model_id)
        devon.download(GGUF[0], include_patterns=GGUF[1])
        devon.info(MODELS[1])  # used once, so "Last used" has a value
        with running(create_app(devon)) as url, chromium() as browser:
            page = open_page(browser, url, viewport=LAPTOP)
            expect(page.locator(".cards")).to_contain_text("Models")
            shoot(page, args.out, "overview")

            page.get_by_role("link", name="Models").click()
            expect(page.get_by_role("button", name=MODELS[0], exact=True)).to_be_visible()
            shoot(page, args.out, "models")
            page.get_by_role("button", name=GGUF[0], exact=True).click()
            expect(page.get_by_role("dialog")).to_be_visible()
            page.screenshot(path=str(args.out / "model-details.png"))
            print(f"wrote {args.out}/model-details.png")
            page.keyboard.press("Escape")

            page.get_by_role("link", name="Search").click()
            page.get_by_label("Search text").fill("Widget")
            page.get_by_label("Format").select_option("gguf")
            page.get_by_role("button", name="Search", exact=True).click()
            expect(page.get_by_role("link", name=GGUF[0])).to_be_visible()
            shoot(page, args.out, "search")

            # One download that failed (a damaged file), one cancelled, one running slowly
            # enough to be seen.
            hub.faults.corrupt(FAILING, "model.safetensors")
            devon.start_download(FAILING)
            hub.faults.set_bandwidth(10 * 1024)
            devon.cancel(devon.start_download(CANCELLED).id)
            page.get_by_label(f"Files of {SLOW} to download").select_option("Q8_0")
            page.get_by_role("button", name=f"Download {SLOW}", exact=True).click()
            page.get_by_role("link", name="Downloads").last.click()
            running_job = page.locator(".job").filter(has=page.get_by_text(SLOW, exact=True))
            expect(running_job.locator(".progress-text")).to_contain_text("left")
            expect(page.locator(".job .status").filter(has_text="failed")).to_be_visible()
            expect(
                page.get_by_role("button", name=f"Restart the download of {CANCELLED}")
            ).to_be_visible()
            page.screenshot(path=str(args.out / "downloads.png"), full_page=True)
            print(f"wrote {args.out}/downloads.png")
            page.get_by_role("link", name="Overview").click()
            expect(page.locator(".running")).to_contain_text(SLOW)
            shoot(page, args.out, "overview-downloading")
            hub.faults.set_bandwidth(0)
            hub.faults.reset()

            page.get_by_role("link", name="Clean").click()
            page.get_by_label("Every model in the vault").check()
            page.get_by_label("Unfinished downloads", exact=False).check()
            page.get_by_role("button", name="Show what would be removed").click()
            expect(page.get_by_role("button", name=re.compile("^Remove \\d"))).to_be_visible()
            shoot(page, args.out, "clean")

            page.get_by_role("link", name="Export").click()
            expect(page.get_by_role("heading", name="Export")).to_be_visible()
            shoot(page, args.out, "export")

            phone = open_page(browser, f"{url}/#/models", viewport=PHONE)
            expect(phone.get_by_role("button", name=MODELS[0], exact=True)).to_be_visible()
            shoot(phone, args.out, "models-phone")


if __name__ == "__main__":
    main()
