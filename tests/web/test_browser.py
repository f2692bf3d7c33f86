"""The inbox in a real browser: headless Chromium (Debian's, driven by Playwright), the real
identity provider, the real service, and guarded agents in other processes.

Holds: a reviewer signs in through the provider (code flow with PKCE), sees a suspended call
appear in the pending list without reloading, and approves, denies with a reason, or edits it;
the agent's tool runs once (approve, edit) or never (deny). Arguments carrying script or
``javascript:`` URLs render as text: no dialog opens, no script runs. The decision forms work
from the keyboard alone, every field labelled. The request page's screenshot in docs/ is taken
here.
"""

from __future__ import annotations

import os
import shutil

import pytest

from .harness import ROOT, Agent, Service, identity_provider

pytestmark = [
    pytest.mark.timeout(300),
    # .ci/run installs Debian's chromium; without it these tests fail rather than skip.
]

SCREENSHOT = ROOT / "docs" / "images" / "inbox-request.png"
UPDATE = "GUARDRAILS_UPDATE_SCREENSHOT"  # tests/conftest.py lets this run write SCREENSHOT
XSS = "<img src=x onerror=alert(1)><script>alert(2)</script>"


@pytest.fixture(scope="module")
def idp():
    with identity_provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def service(idp, tmp_path_factory):
    running = Service(tmp_path_factory.mktemp("web-browser"), idp)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, service):
    """A signed-in reviewer (bob) on the inbox; every dialog is recorded (and dismissed)."""
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    tab.goto(service.url + "/inbox")
    tab.click("#sign-in")
    tab.fill("input[name=sub]", "bob")
    tab.click("button:has-text('Authorize')")
    tab.wait_for_url(service.url + "/inbox")
    assert "Signed in as" in tab.content()
    yield tab
    context.close()


def _open_when_listed(page, service, tool: str, marker: str) -> None:
    """Wait on the inbox, never reloading it (the list follows the event stream), until the
    agent's request is listed, then open it."""
    link = page.locator("#pending a", has_text=tool)
    link.first.wait_for(timeout=60_000)
    hrefs = [link.nth(i).get_attribute("href") for i in range(link.count())]
    for href in hrefs:
        page.goto(service.url + href)
        if marker in page.inner_text("#args"):
            return
    raise AssertionError(f"no listed {tool} request shows {marker!r}")


def test_approve_in_the_browser_runs_the_tool_once_and_payloads_stay_inert(page, service, tmp_path):
    args = {
        "to": "ana.lopez@acme-mail.com",  # shown partly (reviewer_view: partial)
        "subject": XSS,
        "body": "see javascript:alert(3) and <a href=javascript:alert(4)>here</a>",
    }
    agent = Agent(service, "send_email", args, "b-approve")
    _open_when_listed(page, service, "send_email", "javascript:alert(3)")
    shown = page.inner_text("#args")
    assert XSS in shown  # the payload is on the page as text
    assert "ana.lopez" not in shown and "@acme-mail.com" in shown
    # An edit starts from the bound arguments (a placeholder), never from the partial view.
    assert "a***@acme-mail.com" not in page.input_value("#edit-args")
    assert page.locator("#args img, #args script, #args a").count() == 0
    shot = tmp_path / "inbox-request.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get(UPDATE) == "1":  # `make screenshot`: the picture in docs/ kept current
        shutil.copyfile(shot, SCREENSHOT)
    page.click("#approve")
    page.wait_for_selector("#status:has-text('approved')")
    result = agent.result()
    assert result["allowed"] and result["ran"] == [args]
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_deny_with_a_reason_in_the_browser_never_runs_the_tool(page, service):
    agent = Agent(service, "send_email", {"to": "x@example.org", "body": "deny me"}, "b-deny")
    _open_when_listed(page, service, "send_email", "deny me")
    page.fill("#deny-reason", "wrong recipient")
    page.click("#deny")
    page.wait_for_selector("#status:has-text('denied')")
    result = agent.result()
    assert not result["allowed"] and result["ran"] == []
    assert "wrong recipient" in result["message"]


def test_edit_in_the_browser_runs_the_edited_call_once(page, service):
    agent = Agent(service, "send_email", {"to": "x@example.org", "body": "edit me"}, "b-edit")
    _open_when_listed(page, service, "send_email", "edit me")
    page.fill("#edit-args", "{not json")
    page.click("#edit")  # the browser refuses: the field is invalid, nothing is posted
    assert page.locator("#status").inner_text() == "pending"
    page.fill("#edit-args", '{"to": "ops@example.org", "body": "edited"}')
    page.click("#edit")
    page.wait_for_selector("#status:has-text('approved')")
    result = agent.result()
    assert result["allowed"] and result["ran"] == [{"to": "ops@example.org", "body": "edited"}]


def test_the_request_page_works_from_the_keyboard_and_every_field_has_a_label(page, service):
    """Tab walks the decision forms in reading order (approve reason, Approve, deny reason,
    Deny, edited arguments, edit reason, Approve edited), every field has a label, and a deny
    typed and submitted with Enter alone decides the request."""
    agent = Agent(service, "send_email", {"to": "x@example.org", "body": "keys only"}, "b-keys")
    _open_when_listed(page, service, "send_email", "keys only")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll(
                 'input:not([type=hidden]), textarea, select, button')]
               .filter(e => !(e.labels && e.labels.length) && !e.textContent.trim()
                            && !e.getAttribute('aria-label'))
               .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    focused = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.id"))
        if focused[-1] == "edit":
            break
    order = ["approve-reason", "approve", "deny-reason", "deny", "edit-args", "edit-reason", "edit"]
    assert focused[focused.index("approve-reason") :] == order
    page.focus("#deny-reason")
    page.keyboard.type("not from the keyboard test")
    page.keyboard.press("Enter")
    page.wait_for_selector("#status:has-text('denied')")
    result = agent.result()
    assert not result["allowed"] and result["ran"] == []
