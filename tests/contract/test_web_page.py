"""The web page in a real browser (Debian's Chromium) against a served DEVON and the test
hub: the journeys a person takes, the key prompt, errors, a lost server, a KITT-like proxy."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devon_testhub import TestHub
from tests.contract.browser import (
    PHONE,
    chromium,
    kitt_like_proxy,
    open_page,
    served_devon,
)
from tests.contract.hf_helpers import TINY, WIDGET

KEY = "page-key"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def search_for(page: Page, text: str, **filters: str) -> None:
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Search text").fill(text)
    for label, value in filters.items():
        control = page.get_by_label(label, exact=True)
        if control.evaluate("node => node.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.get_by_role("button", name="Search", exact=True).click()


def download_from_results(page: Page, model_id: str) -> None:
    page.get_by_role("button", name=f"Download {model_id}").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=model_id))
    expect(row.get_by_role("status")).to_contain_text("Download")
    expect(row.get_by_role("status")).not_to_contain_text("Starting")


def open_details(page: Page, model_id: str) -> None:
    page.get_by_role("link", name="Models").click()
    page.get_by_label("Filter models").fill(model_id)
    page.get_by_role("button", name=model_id, exact=True).click()
    expect(page.get_by_role("dialog")).to_be_visible()


def delete_from_details(page: Page, model_id: str) -> None:
    page.get_by_role("dialog").get_by_role("button", name="Delete…").click()
    confirm = page.locator("#confirm-dialog")
    expect(confirm).to_contain_text(model_id)
    confirm.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text=f"Deleted {model_id}")).to_be_visible()
    expect(page.get_by_role("button", name=model_id, exact=True)).to_have_count(0)


def test_search_download_see_details_and_delete(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        search_for(page, "Widget", Format="gguf")
        expect(page.get_by_role("link", name=WIDGET)).to_be_visible()
        expect(page.get_by_label(f"Files of {WIDGET} to download")).to_have_value("Q4_K_M")
        download_from_results(page, WIDGET)

        open_details(page, WIDGET)
        details = page.get_by_role("dialog")
        expect(details).to_contain_text("widget-8b.Q4_K_M.gguf")
        expect(details).not_to_contain_text("widget-8b.Q8_0.gguf")
        expect(details).to_contain_text(str(devon.storage / "huggingface" / WIDGET))
        delete_from_details(page, WIDGET)
        assert not (devon.storage / "huggingface" / WIDGET).exists()
        assert page.script_errors == []  # type: ignore[attr-defined]


def test_an_api_error_is_shown_as_its_detail_next_to_the_form(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, f"{devon.url}/#/search")
        page.get_by_label("Parameters").fill("lots")
        page.get_by_role("button", name="Search", exact=True).click()
        detail = httpx.get(f"{devon.url}/api/v1/search", params={"params": "lots"}).json()
        expect(page.locator("form").get_by_role("status")).to_have_text(detail["detail"])


def test_the_key_is_asked_once_on_401_and_a_wrong_one_is_refused(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub, api_key=KEY) as devon:
        page = open_page(browser, devon.url)
        prompt = page.get_by_role("dialog", name="API key needed")
        expect(prompt).to_be_visible()
        page.get_by_role("textbox", name="API key").fill("not-the-key")
        page.get_by_role("button", name="Use this key").click()
        expect(prompt.get_by_role("alert")).to_contain_text("refused that key")
        page.get_by_role("textbox", name="API key").fill(KEY)
        page.get_by_role("button", name="Use this key").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator(".cards")).to_contain_text("Models")

        page.get_by_role("link", name="Models").click()
        expect(page.get_by_text("The vault is empty")).to_be_visible()
        page.reload()
        expect(page.get_by_text("The vault is empty")).to_be_visible()
        expect(prompt).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('devon.apiKey')") == KEY


def test_without_a_key_nothing_is_asked(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        expect(page.locator(".cards")).to_contain_text("Models")
        expect(page.get_by_role("dialog", name="API key needed")).to_be_hidden()


def test_a_lost_server_shows_a_banner_that_clears_when_it_is_back(
    browser: Browser, test_hub: TestHub, tmp_path: object
) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        expect(page.locator(".cards")).to_contain_text("Models")
    page.get_by_role("link", name="Models").click()
    banner = page.get_by_role("alert").filter(has_text="cannot be reached")
    expect(banner).to_be_visible()
    port = int(devon.url.rsplit(":", 1)[1])
    with served_devon(test_hub, port=port, storage=devon.storage):
        expect(banner).to_be_hidden()
        expect(page.get_by_text("The vault is empty")).to_be_visible()


def test_the_journey_through_a_kitt_like_proxy(browser: Browser, test_hub: TestHub) -> None:
    with (
        served_devon(test_hub, api_key=KEY) as devon,
        kitt_like_proxy(devon.url, api_key=KEY) as proxy,
    ):
        page = open_page(browser, proxy.url)
        search_for(page, "Tiny")
        download_from_results(page, TINY)
        open_details(page, TINY)
        delete_from_details(page, TINY)
        expect(page.get_by_role("dialog", name="API key needed")).to_be_hidden()
        assert "GET /ui/app.js" in proxy.requests
        assert "GET /api/v1/models" in proxy.requests
        assert page.script_errors == []  # type: ignore[attr-defined]


def test_every_page_fits_a_phone_width(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url, viewport=PHONE)
        for view in ("Overview", "Models", "Search", "Downloads", "Clean", "Export"):
            page.get_by_role("link", name=view).click()
            expect(page.get_by_role("heading", name=view, level=1)).to_be_visible()
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{view} is {overflow} px wider than a phone"
