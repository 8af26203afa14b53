"""The search page in a real browser: headless Chromium (Debian's) driven by Selenium against a running server
with scoped keys and a fake Gemini: type the key and a query, see passages with the match highlighted, and an
answer stream in with citations that link to their passages. Hostile document text stays text."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.embedding import Embedder
from tests.live_server import served_with_gemini

KEY = "page-key"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Chromium and its driver: apt-get install chromium chromium-driver"
)


@pytest.fixture
def page_url(tmp_path: Path, embedder: Embedder) -> Iterator[str]:
    records = [
        {"_id": "penguins", "title": "Penguins", "text": "Penguins live in the southern hemisphere."},
        {"_id": "owls", "title": "Owls", "text": "Owls hunt at night. <img src=x onerror=alert(1)>"},
        {"_id": "tides", "title": "Tides", "text": "The moon's gravity pulls the oceans."},
    ]
    with served_with_gemini(tmp_path / "data", embedder, records, api_keys=KEY) as (base, _):
        yield f"{base}/"


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_search_and_streamed_cited_answer(page_url: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(page_url)
    key = browser.find_element(By.ID, "key")
    key.send_keys(KEY)
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
    wait.until(lambda d: Select(d.find_element(By.ID, "collection")).options)
    assert Select(browser.find_element(By.ID, "collection")).first_selected_option.text.startswith("documents")

    browser.find_element(By.ID, "query").send_keys("where do penguins live")
    browser.find_element(By.CSS_SELECTOR, "#search button").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results li")))
    # The list is drawn again as the search and then the answer come in: read it once the page has settled
    # (reading it earlier raced with a redraw: a stale element).
    wait.until(lambda d: "rerank" in d.find_element(By.ID, "answer-meta").text)
    wait.until(lambda d: "rerank: ok" in d.find_element(By.ID, "status").text)
    first = browser.find_element(By.CSS_SELECTOR, "#results li")
    assert "Penguins" in first.find_element(By.CLASS_NAME, "title").text
    assert [m.text.lower() for m in first.find_elements(By.TAG_NAME, "mark")] == ["penguins", "live"]

    answer = browser.find_element(By.ID, "answer-text")
    citation = answer.find_element(By.CSS_SELECTOR, "a.citation")
    assert citation.text == "[1]" and answer.text.endswith("[1].")  # the fake answers "... covered in [1]."
    assert "cited" in first.get_attribute("class")
    citation.click()
    assert browser.current_url.endswith("#passage-1")
    # Document text is shown as text: the <img onerror> inside a passage never became an element.
    assert not browser.find_elements(By.CSS_SELECTOR, "#results img")
    if os.environ.get("SCREENSHOT_DIR"):  # how docs/search-page.png was made
        browser.save_screenshot(str(Path(os.environ["SCREENSHOT_DIR"]) / "search-page.png"))


def test_a_wrong_key_is_said_on_the_page(page_url: str, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page_url)
    key = browser.find_element(By.ID, "key")
    key.send_keys("wrong")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
    WebDriverWait(browser, 30).until(lambda d: "401" in d.find_element(By.ID, "status").text)
