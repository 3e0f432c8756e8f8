"""The web page's Fleet view: the hosts that report to this DEVON and its placements."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from devon_testhub import TestHub
from tests.support.browser import PHONE, chromium, open_page, served_devon
from tests.support.hf_helpers import TINY


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


def test_the_fleet_page_shows_each_host_and_each_placement(
    browser: Browser, test_hub: TestHub
) -> None:
    with served_devon(test_hub) as devon:
        beat = {
            "url": "http://gpu1.lan:8000",
            "free_bytes": 5 * 1024**3,
            "capacity_bytes": 8 * 1024**3,
        }
        httpx.post(f"{devon.url}/api/v1/hosts/gpu1/heartbeat", json=beat).raise_for_status()
        placed = {"model_id": TINY, "hosts": ["gpu1", "gpu2"], "pin": True}
        httpx.put(f"{devon.url}/api/v1/placements", json=placed).raise_for_status()
        page = open_page(browser, devon.url, viewport=PHONE)
        page.get_by_role("link", name="Fleet").click()

        expect(page.get_by_role("heading", name="Fleet", level=1)).to_be_visible()
        hosts = page.get_by_role("region", name="Hosts").locator("tbody tr")
        expect(hosts).to_have_count(1)
        expect(hosts.first).to_contain_text("gpu1")
        expect(hosts.first).to_contain_text("online")
        expect(hosts.first).to_contain_text("http://gpu1.lan:8000")
        placements = page.get_by_role("region", name="Placements").locator("tbody tr")
        expect(placements).to_have_count(2)
        expect(placements.nth(1)).to_contain_text(f"{TINY}gpu2pendingyes")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
