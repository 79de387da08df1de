"""Sign-up, dashboard, logout and login in Chromium against the production build."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery"
DASHBOARD = re.compile(r"/dashboard/?$")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def _email() -> str:
    return f"dev-{uuid.uuid4().hex[:10]}@example.com"


def _submit_signup(page: Page, app, email: str) -> None:
    page.goto(app.url("/signup"))
    expect(page.get_by_text("Free credits, no card required")).to_be_visible()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def _sign_up(page: Page, app, email: str) -> None:
    _submit_signup(page, app, email)
    expect(page).to_have_url(DASHBOARD)


def _log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/?$"))


def _log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def test_signup_dashboard_logout_login(live_app, browser_page):
    page, email = browser_page, _email()
    _sign_up(page, live_app, email)

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_label("Free credits")).to_have_text("100 credits")
    expect(page.get_by_label("Balance")).to_have_text("100 credits")
    expiry = (datetime.now(UTC) + timedelta(days=30)).date()
    expect(page.get_by_test_id("next-expiry")).to_have_text(
        re.compile(rf"Next expiry: ({expiry:%Y-%m-%d}|{expiry - timedelta(days=1):%Y-%m-%d})"))
    expect(page.get_by_role("link", name="Create API key")).to_have_attribute("href", "/keys")
    expect(page.get_by_role("link", name="Add credits")).to_have_attribute("href", "/billing")
    expect(page.get_by_text(email).first).to_be_visible()

    session = [c for c in page.context.cookies() if c["name"] == "apiany_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Lax"
    assert "apiany_session" not in page.evaluate("document.cookie")

    _log_out(page)
    assert not [c for c in page.context.cookies() if c["name"] == "apiany_session"]

    page.goto(live_app.url("/dashboard"))
    expect(page).to_have_url(re.compile(r"/login/?\?next=%2Fdashboard"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    _log_in(page, email)
    expect(page).to_have_url(DASHBOARD)
    expect(page.get_by_label("Free credits")).to_have_text("100 credits")


def test_wrong_password_shows_the_error(live_app, browser_page):
    page, email = browser_page, _email()
    _sign_up(page, live_app, email)
    _log_out(page)

    _log_in(page, email, "not the password")
    expect(page).to_have_url(re.compile(r"/login/?\?error="))
    expect(page.get_by_role("alert")).to_have_text("Incorrect email or password")
    assert not [c for c in page.context.cookies() if c["name"] == "apiany_session"]


def test_duplicate_signup_shows_the_error(live_app, browser_page):
    page, email = browser_page, _email()
    _sign_up(page, live_app, email)
    _log_out(page)
    _submit_signup(page, live_app, email)
    expect(page.get_by_role("alert")).to_contain_text("already exists")


def test_root_redirects_by_session(live_app, browser_page):
    page = browser_page
    page.goto(live_app.url("/"))
    expect(page).to_have_url(re.compile(r"/login/?$"))
    _sign_up(page, live_app, _email())
    page.goto(live_app.url("/"))
    expect(page).to_have_url(DASHBOARD)
    page.goto(live_app.url("/login"))  # a signed-in visitor skips the form
    expect(page).to_have_url(DASHBOARD)


def test_admin_sees_the_admin_section(live_app, browser_page):
    page, email = browser_page, _email()
    live_app.cli("users", "create", "--email", email, "--password", PASSWORD, "--admin")
    page.goto(live_app.url("/login"))
    _log_in(page, email)
    expect(page).to_have_url(DASHBOARD)
    admin_nav = page.get_by_role("navigation", name="Admin")
    expect(admin_nav.get_by_role("link", name="Users")).to_have_attribute("href", "/admin/users")
    expect(admin_nav.get_by_role("link", name="Finance")).to_be_visible()


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_screenshots_and_navigation(live_app, browser_page, width, height):
    """Saves login/signup/dashboard screenshots to test-output/screenshots/ at
    both widths and checks which navigation each width shows."""
    page, shots = browser_page, SCREENSHOTS
    shots.mkdir(parents=True, exist_ok=True)
    tag = "desktop" if width > 800 else "phone"
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_app.url("/login"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.screenshot(path=str(shots / f"login-{tag}.png"), full_page=True)
    _sign_up(page, live_app, _email())
    page.goto(live_app.url("/signup?error=Enter%20a%20valid%20email%20address"))
    expect(page).to_have_url(DASHBOARD)  # signed in: the form is skipped
    page.context.clear_cookies()
    page.goto(live_app.url("/signup?error=Enter%20a%20valid%20email%20address"))
    expect(page.get_by_role("alert")).to_have_text("Enter a valid email address")
    page.screenshot(path=str(shots / f"signup-{tag}.png"), full_page=True)

    _sign_up(page, live_app, _email())
    expect(page.get_by_label("Free credits")).to_have_text("100 credits")
    if tag == "desktop":
        nav = page.get_by_role("navigation", name="Console")
        expect(nav.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")
        expect(nav.get_by_role("link", name="API keys")).to_be_visible()
        expect(page.get_by_role("navigation", name="Admin")).to_have_count(0)
    else:
        expect(page.get_by_role("navigation", name="Console")).to_be_hidden()
        page.get_by_role("button", name="Open navigation").click()
        expect(page.get_by_role("menuitem", name="Usage")).to_be_visible()
        page.screenshot(path=str(shots / "dashboard-phone-menu.png"))
        page.keyboard.press("Escape")
    page.screenshot(path=str(shots / f"dashboard-{tag}.png"), full_page=True)


def test_dark_mode_toggle(live_app, browser_page):
    page = browser_page
    _sign_up(page, live_app, _email())
    html = page.locator("html")
    start_dark = "dark" in (html.get_attribute("class") or "")
    page.get_by_role("button", name="Switch between light and dark mode").first.click()
    if start_dark:
        expect(html).not_to_have_class(re.compile(r"\bdark\b"))
    else:
        expect(html).to_have_class(re.compile(r"\bdark\b"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-toggled-theme-desktop.png"), full_page=True)
