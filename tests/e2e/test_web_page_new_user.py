"""The web page where a new user tripped (issue 31, item 6 and the page's part of 2, 5, 8),
in Debian's Chromium against a served DEVON and the test hub."""

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from devon_testhub import TestHub
from tests.support.browser import PHONE, chromium, open_page, served_devon
from tests.support.hf_helpers import SHARDY, WIDGET

SLOW_BYTES_PER_SECOND = 12 * 1024


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def download(url: str, model_id: str) -> None:
    response = httpx.post(f"{url}/api/v1/downloads", json={"model_id": model_id}, timeout=60)
    assert response.status_code == 200, response.text


def open_details(page: Page, model_id: str) -> None:
    page.get_by_role("link", name="Models").click()
    page.get_by_role("button", name=model_id, exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def test_the_model_s_web_page_link_follows_the_configured_hub(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        download(devon.url, f"{WIDGET}:Q4_K_M")
        page = open_page(browser, devon.url)
        open_details(page, WIDGET)
        link = page.get_by_role("dialog").get_by_role("link", name=f"{test_hub.url}/{WIDGET}")
        expect(link).to_have_attribute("href", f"{test_hub.url}/{WIDGET}")


def test_the_models_table_shows_quantisations_held_and_last_use_as_the_cli_does(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        download(devon.url, f"{WIDGET}:Q4_K_M")
        page = open_page(browser, f"{devon.url}/#/models")
        row = page.get_by_role("row").filter(has=page.get_by_role("button", name=WIDGET))
        expect(row.locator("td.quant")).to_have_text("Q4_K_M 44.0 KiB")
        expect(row).to_contain_text("(added)")
        expect(row).not_to_contain_text("never")


def test_the_clean_page_removes_unfinished_downloads(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        staging = devon.storage / ".devon" / "staging" / "huggingface" / SHARDY
        staging.mkdir(parents=True)
        (staging / "config.json").write_text("{}")
        page = open_page(browser, f"{devon.url}/#/clean")
        page.get_by_label("No model").check()
        page.get_by_label(re.compile("^Unfinished downloads")).check()
        page.get_by_role("button", name="Show what would be removed").click()
        expect(page.get_by_text(f"huggingface/{SHARDY} (unfinished download)")).to_be_visible()
        page.get_by_role("button", name="Remove 1 unfinished download").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Remove").click()
        expect(page.get_by_text("Removed 1 unfinished download")).to_be_visible()
        assert not staging.exists()


def test_a_cancelled_job_shows_one_state_and_can_be_restarted(
    browser: Browser, test_hub: TestHub
) -> None:
    test_hub.faults.set_bandwidth(SLOW_BYTES_PER_SECOND)
    with served_devon(test_hub) as devon:
        answer = httpx.post(
            f"{devon.url}/api/v1/downloads", json={"model_id": SHARDY, "wait": False}
        ).json()
        page = open_page(browser, f"{devon.url}/#/downloads")
        job = page.locator(f'.job[data-job="{answer["id"]}"]')
        expect(job.locator(".status")).to_have_text("downloading")
        job.get_by_role("button", name=f"Cancel the download of {SHARDY}").click()
        expect(job.locator(".status")).to_have_text("cancelled")
        expect(job.locator(".message:visible")).to_have_count(0)  # no error box, no note

        test_hub.faults.set_bandwidth(0)
        job.get_by_role("button", name=f"Restart the download of {SHARDY}").click()
        fresh = page.locator(".job").first
        expect(fresh.locator(".status")).to_have_text("completed")
        assert fresh.get_attribute("data-job") != answer["id"]
        expect(page.locator(f'.job[data-job="{answer["id"]}"]')).to_have_count(0)


def test_finished_jobs_can_be_cleared_from_the_list(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        download(devon.url, SHARDY)
        page = open_page(browser, f"{devon.url}/#/downloads")
        expect(page.locator(".job .status")).to_have_text("completed")
        page.get_by_role("button", name="Clear finished").click()
        expect(page.locator(".job")).to_have_count(0)
        page.reload()
        expect(page.get_by_text("No downloads yet")).to_be_visible()
        expect(page.locator(".job")).to_have_count(0)


def test_search_never_breaks_a_model_id_inside_its_name(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, f"{devon.url}/#/search", viewport=PHONE)
        page.get_by_label("Search text").fill("Instruct")
        page.get_by_role("button", name="Search", exact=True).click()
        names = page.locator("table th[scope=row] a .id-part")
        expect(names.first).to_be_visible()
        lines = names.evaluate_all("parts => parts.map(p => p.getClientRects().length)")
        assert lines
        assert set(lines) == {1}


def test_the_page_loads_with_a_favicon_and_no_console_error(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        context = browser.new_context()
        page = context.new_page()
        errors: list[str] = []

        def seen(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", seen)
        page.goto(devon.url)
        expect(page.locator(".cards")).to_contain_text("Models")
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert httpx.get(f"{devon.url}/{icon}").status_code == 200
        page.wait_for_timeout(500)  # the browser asks for the icon after the load
        assert errors == []


def test_a_search_that_fills_its_limit_says_more_may_match(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, f"{devon.url}/#/search")
        page.get_by_label("Search text").fill("Instruct")
        page.get_by_label("Limit").fill("1")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("form").get_by_role("status")).to_contain_text("raise Limit")


def test_the_overview_counts_the_bytes_that_arrived_not_the_room_reserved(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        partial = devon.storage / ".devon/staging/huggingface" / SHARDY / ".cache/devon/partial"
        partial.mkdir(parents=True)
        with (partial / "model.safetensors.part").open("wb") as part:
            part.write(b"x" * 60 * 1024)
            part.truncate(2 * 1024**2)
        spans = {"revision": "abc", "size": 2 * 1024**2, "spans": [[0, 60 * 1024]]}
        (partial / "model.safetensors.part.json").write_text(json.dumps(spans))
        page = open_page(browser, devon.url)
        card = page.locator(".cards div").filter(has_text="Unfinished downloads")
        expect(card).to_contain_text(re.compile(r"60\.\d KiB arrived \(2\.0 MiB on disk\)"))
