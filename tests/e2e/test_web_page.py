"""The web page in a real browser (Debian's Chromium) against a served DEVON and the test
hub: the journeys a person takes, the key prompt, errors, a lost server, a KITT-like proxy."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from devon_http import create_app
from devon_http.serve import running
from devon_testhub import TestHub
from tests.support.browser import (
    PHONE,
    chromium,
    kitt_like_proxy,
    open_page,
    served_devon,
)
from tests.support.hf_helpers import TINY, WIDGET
from tests.support.http_support import fake_devon

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
    """Click Download and wait until the model is in the vault: on the Downloads page when
    the server answers with a job, else in the row itself."""
    page.get_by_role("button", name=f"Download {model_id}", exact=True).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=model_id))
    note = row.get_by_role("status")
    expect(note).to_contain_text(re.compile("Downloaded|follow it in Downloads"))
    if "Downloaded" in note.inner_text():
        return
    note.get_by_role("link", name="Downloads").click()
    job = page.get_by_role("listitem").filter(has=page.get_by_text(model_id, exact=True)).first
    expect(job.locator(".status")).to_have_text("completed")


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
        choice = page.get_by_label(f"Files of {WIDGET} to download")
        expect(choice).to_have_value("Q4_K_M")
        expect(choice.locator("option:checked")).to_have_text("Q4_K_M (44.0 KiB)")
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
        assert "GET /api/v1/models?quantizations=true" in proxy.requests
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


def test_a_vault_of_10000_models_is_drawn_100_rows_at_a_time(browser: Browser) -> None:
    model_ids = [f"org{n % 50}/model-{n:05d}" for n in range(10_000)]
    with running(create_app(fake_devon(local=model_ids))) as url:
        page = open_page(browser, f"{url}/#/models")
        expect(page.get_by_text("10,000 of 10,000 models")).to_be_visible()
        expect(page.locator("tbody tr")).to_have_count(100)
        expect(page.get_by_text("Page 1 of 100")).to_be_visible()
        page.get_by_role("button", name="Size").click()
        page.get_by_label("Filter models").fill("model-09999")
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.get_by_role("button", name="org49/model-09999", exact=True)).to_be_visible()


def test_every_form_control_has_a_label(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        for view in ("Models", "Search", "Clean"):
            page.get_by_role("link", name=view).click()
            expect(page.get_by_role("heading", name=view, level=1)).to_be_visible()
            unlabelled = page.evaluate(
                """() => [...document.querySelectorAll('main input, main select')]
                    .filter((el) => !el.labels || el.labels.length === 0)
                    .map((el) => el.outerHTML)"""
            )
            assert unlabelled == [], f"{view}: {unlabelled}"


def test_the_keyboard_reaches_pages_and_details(browser: Browser) -> None:
    with running(create_app(fake_devon(local=[TINY]))) as url:
        page = open_page(browser, url)
        expect(page.locator(".cards")).to_contain_text("Models")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Models")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Models", level=1)).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Filter models")).to_be_focused()
        name = page.get_by_role("button", name=TINY, exact=True)
        name.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("dialog", name=TINY)).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.get_by_role("dialog", name=TINY)).to_have_count(0)
        expect(name).to_be_focused()


CONTRAST_SCRIPT = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  }).reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = rgb(getComputedStyle(node).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const worst = [];
  for (const el of document.querySelectorAll('body *')) {
    const hasText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!el.offsetParent || !hasText) continue;
    if (el.closest('[disabled]')) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const what = `${el.tagName} "${el.textContent.trim().slice(0, 30)}"`;
    if (ratio < 4.5) worst.push(`${what}: ${ratio.toFixed(2)}`);
  }
  return worst;
}"""


def test_text_has_at_least_aa_contrast_on_every_page(browser: Browser, test_hub: TestHub) -> None:
    with served_devon(test_hub) as devon:
        page = open_page(browser, devon.url)
        for view in ("Overview", "Models", "Search", "Downloads", "Clean", "Export"):
            page.get_by_role("link", name=view).click()
            expect(page.get_by_role("heading", name=view, level=1)).to_be_visible()
            page.wait_for_load_state("networkidle")
            assert page.evaluate(CONTRAST_SCRIPT) == [], view


def test_models_revalidates_the_listing_with_if_none_match_on_a_second_visit(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        httpx.post(
            f"{devon.url}/api/v1/downloads", json={"model_id": TINY}, timeout=60
        ).raise_for_status()
        page = open_page(browser, f"{devon.url}/#/models")
        expect(page.get_by_role("button", name=TINY, exact=True)).to_be_visible()
        answers: list[tuple[int, str | None]] = []
        page.on(
            "response",
            lambda response: (
                answers.append((response.status, response.request.headers.get("if-none-match")))
                if response.url.startswith(f"{devon.url}/api/v1/models")
                else None
            ),
        )

        page.get_by_role("link", name="Overview").click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("link", name="Models").click()
        expect(page.get_by_role("button", name=TINY, exact=True)).to_be_visible()

        revalidated = [(status, tag) for status, tag in answers if tag is not None]
        assert revalidated, answers
        assert revalidated[-1][0] == 304


def test_clean_says_it_keeps_the_models_placed_by_hand(browser: Browser) -> None:
    from tests.support.fakes import local_model

    devon = fake_devon(local=[TINY])
    devon.store.add(local_model("my-finetune", source="local"))  # type: ignore[attr-defined]
    with running(create_app(devon)) as url:
        page = open_page(browser, url)
        page.get_by_role("link", name="Clean").click()
        page.get_by_label("Every model in the vault").check()
        page.get_by_role("button", name="Show what would be removed").click()

        expect(page.get_by_role("heading", level=2)).to_contain_text("1 model would go")
        expect(page.locator("main")).to_contain_text(
            "1 local model (placed in the vault by hand) is kept"
        )
        expect(page.locator("ul.files")).not_to_contain_text("local/my-finetune")
