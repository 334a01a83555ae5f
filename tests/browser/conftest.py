"""Browser tests: Playwright drives the system Chromium (never a downloaded browser) against
pytest-django's live server. Without /usr/bin/chromium every test here is skipped, saying so.

Playwright's sync API runs an asyncio event loop in this thread, and Django refuses ORM calls while a
loop is running (SynchronousOnlyOperation) although every call here is synchronous; hence
DJANGO_ALLOW_ASYNC_UNSAFE, set only while the browser is up (package scope) and restored after."""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connections

CHROMIUM = os.environ.get("CRYPTOSATX_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parents[2] / "screenshots"  # /screenshots/ is in .gitignore
MISSING = (f"browser tests skipped: no Chromium at {CHROMIUM} (install it with `apt-get install chromium`; "
           f".ci/run does)")
TIMEOUT_MS = 10_000


def chromium_missing() -> str | None:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return MISSING
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: the playwright package is not installed (make install)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = chromium_missing()
    if reason:
        for item in items:
            if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    reason = chromium_missing()
    if reason and any("tests/browser/" in r.nodeid for r in terminalreporter.stats.get("skipped", [])):
        terminalreporter.write_line(f"NOTE: {reason}", yellow=True, bold=True)


def carry_connections_over(before: dict) -> None:
    """Django keeps connections in an asgiref Local, which follows the running event loop's context:
    once Playwright's loop runs, this thread gets new connection objects. The test database's
    serialized contents (what a serialized rollback restores: the rows the migrations wrote, such as
    the alert rules) live on the old ones, so they are handed over and the old ones closed."""
    for alias, old in before.items():
        new = connections[alias]
        if new is old:
            continue
        if hasattr(old, "_test_serialized_contents"):
            new._test_serialized_contents = old._test_serialized_contents
        old.close()


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    SHOTS.mkdir(exist_ok=True)
    try:
        before = {alias: connections[alias] for alias in connections}
        with sync_playwright() as playwright:
            carry_connections_over(before)
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context on the live server. Requests anywhere else are refused (the app must
    work offline: no CDN); JavaScript errors and refused requests fail the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    ours = urlsplit(live_server.url).netloc
    problems: list[str] = []

    def only_ours(route):
        if urlsplit(route.request.url).netloc == ours:
            route.continue_()
        else:
            problems.append(f"request outside the app: {route.request.url}")
            route.abort()

    context.route("**/*", only_ours)
    tab = context.new_page()
    tab.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))

    def console(message):
        where = (message.location or {}).get("url", "")
        expected = "favicon" in where or (  # a page answering a bad form with its 400, as it should
            where == tab.url and re.search(r"status of 4\d\d", message.text))
        if message.type == "error" and not expected:
            problems.append(f"console error: {message.text} ({where})")

    tab.on("console", console)
    yield tab
    context.close()
    assert not problems, "\n".join(problems)


def off_the_browser_loop(fn, *args, **kwargs):
    """Call fn in a thread of its own: code that uses async_to_sync (the scan engine) refuses to run in
    a thread whose event loop is running, as Playwright's is in this one. The connections it opens are
    closed when it ends (with SQLite the in-memory test database is shared between connections)."""
    outcome: dict = {}
    ours = {id(c) for c in connections.all(initialized_only=True)}

    def run():
        try:
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            outcome["error"] = exc
        finally:
            # Close only the connections this thread opened: the test's own (which carries the
            # serialized rollback's data) can be visible here too, and must stay as it is.
            for connection in connections.all(initialized_only=True):
                if id(connection) not in ours:
                    connection.close()

    worker = threading.Thread(target=run, name=f"seed-{getattr(fn, '__name__', 'call')}")
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def shot(page, name: str) -> Path:
    """A full-page screenshot for review, in <repo>/screenshots/ (not committed)."""
    path = SHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def canvas_painted(page, selector: str) -> int:
    """The number of non-transparent pixels of the canvas, once its chart has drawn (waits up to the
    default timeout for at least one; a canvas that stays blank fails with a timeout)."""
    painted = """s => {
        const c = document.querySelector(s);
        if (!c || !c.width || !c.height) return 0;
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) n++;
        return n;
    }"""
    page.wait_for_function(painted, arg=selector)
    return page.evaluate(painted, selector)
