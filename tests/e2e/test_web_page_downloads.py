"""The Downloads page in a real browser against the jobs API: live progress from the event
stream, and from polling behind a proxy that returns whole answers; cancel; a failed job
with its error."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from devon_testhub import TestHub
from tests.support.browser import chromium, kitt_like_proxy, open_page, served_devon
from tests.support.hf_helpers import SHARDY, TINY

KEY = "page-key"
SLOW_BYTES_PER_SECOND = 24 * 1024
"""The hub's pace while a test watches a download: shardy-7b (~240 KB) takes ~10 s."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def start_download(page: Page, model_id: str) -> Locator:
    """Search for the model, click its Download button, open its job on Downloads."""
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Search text").fill(model_id.split("/")[1])
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("button", name=f"Download {model_id}", exact=True).click()
    page.get_by_role("link", name="Downloads").last.click()
    return page.locator(".job").filter(has=page.get_by_text(model_id, exact=True)).first


def bar_value(job: Locator) -> float:
    value = job.get_by_role("progressbar").get_attribute("value")
    return float(value) if value else 0.0


def wait_for_partial_progress(page: Page, job: Locator) -> None:
    expect(job.locator(".status")).to_have_text("downloading")
    page.wait_for_function(
        "el => el.value > 0 && el.value < 1",
        arg=job.get_by_role("progressbar").element_handle(),
        timeout=20_000,
    )


def test_a_download_shows_live_progress_until_it_completes(
    browser: Browser, test_hub: TestHub
) -> None:
    test_hub.faults.set_bandwidth(SLOW_BYTES_PER_SECOND)
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        job = start_download(page, SHARDY)
        wait_for_partial_progress(page, job)
        expect(job.locator(".progress-text")).to_contain_text(" of ")
        expect(job.locator(".progress-text")).to_contain_text("left")
        test_hub.faults.set_bandwidth(0)
        expect(job.locator(".status")).to_have_text("completed")
        assert bar_value(job) == 1.0
        page.get_by_role("link", name="Models").click()
        expect(page.get_by_role("button", name=SHARDY, exact=True)).to_be_visible()


def test_cancel_stops_a_download_and_nothing_is_listed(browser: Browser, test_hub: TestHub) -> None:
    test_hub.faults.set_bandwidth(SLOW_BYTES_PER_SECOND / 2)
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        job = start_download(page, SHARDY)
        expect(job.locator(".status")).to_have_text("downloading")
        job.get_by_role("button", name=f"Cancel the download of {SHARDY}").click()
        expect(job.locator(".status")).to_have_text("cancelled")
        expect(job.get_by_role("button", name=f"Cancel the download of {SHARDY}")).to_be_hidden()
        page.get_by_role("link", name="Models").click()
        expect(page.get_by_text("The vault is empty")).to_be_visible()


def test_a_failed_download_shows_its_error(browser: Browser, test_hub: TestHub) -> None:
    test_hub.faults.corrupt(TINY, "model.safetensors")
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        job = start_download(page, TINY)
        expect(job.locator(".status")).to_have_text("failed")
        expect(job.locator(".message.error")).to_contain_text("model.safetensors")


def test_progress_behind_a_buffering_proxy_comes_from_polling(
    browser: Browser, test_hub: TestHub
) -> None:
    test_hub.faults.set_bandwidth(SLOW_BYTES_PER_SECOND)
    with (
        served_devon(test_hub, api_key=KEY) as devon,
        kitt_like_proxy(devon.url, api_key=KEY) as proxy,
    ):
        page = open_page(browser, proxy.url)
        job = start_download(page, SHARDY)
        wait_for_partial_progress(page, job)
        test_hub.faults.set_bandwidth(0)
        expect(job.locator(".status")).to_have_text("completed")
        job_id = job.get_attribute("data-job")
        assert f"GET /api/v1/downloads/{job_id}" in proxy.requests
