"""The whole console journey of a new developer, in Chromium against the
production build: sign up -> free credits -> create a key in the dialog ->
call /v1 with the openai client -> see the request in usage and its exact
cost in the ledger -> filter and export CSV -> disable the key (403) ->
change password -> sign in again. Saves a screenshot of every console page at
desktop and phone width under test-output/screenshots/."""

from __future__ import annotations

import csv
import io
import re

import openai
import pytest
from playwright.sync_api import Page, expect

from apiany.core.money import format_credits
from apiany.services.pricing import TokenPrices, TokenUsage, token_cost
from tests.e2e.test_signup import DASHBOARD, PASSWORD, SCREENSHOTS, _email, _log_in, _log_out, _sign_up

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a brand new passphrase"
SANDBOX_CHAT = TokenPrices(input_per_m=1_000_000, cached_input_per_m=500_000, output_per_m=2_000_000)
PAGES = ["/dashboard", "/keys", "/models", "/usage", "/credits", "/docs", "/settings"]


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tag = "desktop" if page.viewport_size["width"] > 800 else "phone"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{tag}.png"), full_page=True)


def _create_key(page: Page, name: str) -> str:
    page.get_by_role("button", name="Create key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Requests per minute").fill("abc")
    dialog.get_by_role("button", name="Create key").click()
    expect(dialog.get_by_text("Enter a whole number of requests per minute")).to_be_visible()
    dialog.get_by_label("Requests per minute").fill("600")
    dialog.get_by_role("button", name="Create key").click()
    secret_box = page.get_by_role("textbox", name="New API key")
    expect(secret_box).to_have_value(re.compile(r"^sk-"))
    expect(page.get_by_text("it is shown once")).to_be_visible()
    _shot(page, "journey-keys-new-secret")
    secret = secret_box.input_value()
    page.get_by_role("button", name="I have copied it").click()
    expect(page.get_by_role("table", name="API keys").get_by_text(name)).to_be_visible()
    return secret


def _call(app, secret: str):
    client = openai.OpenAI(base_url=app.url("/v1"), api_key=secret, max_retries=0, timeout=30)
    raw = client.chat.completions.with_raw_response.create(
        model="sandbox-chat", messages=[{"role": "user", "content": "Hello from the console journey"}])
    body = raw.parse()
    details = body.usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    units = token_cost(SANDBOX_CHAT, TokenUsage(prompt_tokens=body.usage.prompt_tokens, cached_tokens=cached,
                                                completion_tokens=body.usage.completion_tokens))
    client.embeddings.create(model="sandbox-embed", input="a second request to filter out")
    return raw.headers["x-request-id"], units, client


def _filter_and_export(page: Page, request_id: str) -> None:
    page.get_by_label("Model").select_option("sandbox-chat")
    page.get_by_label("Status").select_option("success")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_test_id("row-count")).to_have_text("1 row")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert [r["request_id"] for r in rows] == [request_id]
    assert rows[0]["model"] == "sandbox-chat" and rows[0]["status"] == "success"


def test_console_journey(live_app, browser_page):
    page, email = browser_page, _email()
    _sign_up(page, live_app, email)
    expect(page.get_by_label("Balance")).to_have_text("100 credits")
    _shot(page, "journey-dashboard")

    page.goto(live_app.url("/keys"))
    expect(page.get_by_text("No keys yet")).to_be_visible()
    secret = _create_key(page, "journey key")
    _shot(page, "journey-keys")

    request_id, units, client = _call(live_app, secret)
    cost = format_credits(units)

    page.goto(live_app.url("/dashboard"))
    expect(page.get_by_role("table", name="Recent requests").get_by_text(request_id)).to_be_visible()

    page.goto(live_app.url("/usage"))
    link = page.get_by_role("link", name=f"Request {request_id}")
    expect(link).to_be_visible()
    expect(page.get_by_role("row").filter(has=link).get_by_test_id("usage-credits")).to_have_text(cost)
    expect(page.get_by_test_id("row-count")).to_have_text("2 rows")
    _shot(page, "journey-usage")
    _filter_and_export(page, request_id)

    link.click()
    expect(page.get_by_text("Credits charged")).to_be_visible()
    expect(page.get_by_role("table", name="Credit movements").get_by_text(f"-{cost} credits")).to_be_visible()
    _shot(page, "journey-usage-detail")

    page.goto(live_app.url("/credits"))
    ref = page.get_by_role("link", name=f"request {request_id}")
    expect(ref).to_be_visible()
    expect(page.get_by_role("row").filter(has=ref).get_by_test_id("ledger-amount")).to_have_text(f"-{cost} credits")
    expect(page.get_by_label("Total grant")).to_have_text("+100 credits")
    _shot(page, "journey-credits")

    page.goto(live_app.url("/keys"))
    page.get_by_role("button", name="Disable journey key").click()
    expect(page.get_by_role("button", name="Enable journey key")).to_be_visible()
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="sandbox-chat", messages=[{"role": "user", "content": "hi"}])

    page.goto(live_app.url("/settings"))
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed")).to_be_visible()
    _shot(page, "journey-settings")
    _log_out(page)
    _log_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(DASHBOARD)


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_console_pages_render(live_app, browser_page, width, height):
    """Every console page renders its heading (and a screenshot) at both widths;
    the model detail shows examples with this deployment's base URL."""
    page = browser_page
    page.set_viewport_size({"width": width, "height": height})
    email = _email()
    _sign_up(page, live_app, email)
    live_app.cli("keys", "create", "--email", email, "--name", "cli key", "--rpm", "1200")  # a filled keys table
    for path in PAGES:
        page.goto(live_app.url(path))
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_label(re.compile("^Loading"))).to_have_count(0)
        _shot(page, path.strip("/"))
    page.goto(live_app.url("/models"))
    page.get_by_label("Search models").fill("embed")
    expect(page.get_by_role("button", name="Details for sandbox-chat")).to_have_count(0)
    page.get_by_role("button", name="Details for sandbox-embed").click()
    port = live_app.base_url.rsplit(":", 1)[1]  # settings.base_url: APIANY_PUBLIC_BASE_URL or localhost:PORT
    expect(page.get_by_label("sandbox-embed curl example", exact=True)).to_contain_text(
        re.compile(rf"curl http://(localhost|127\.0\.0\.1):{port}/v1/embeddings"))
    _shot(page, "models-detail")


def test_key_edit_and_revoke_with_confirmation(live_app, browser_page):
    page = browser_page
    _sign_up(page, live_app, _email())
    page.goto(live_app.url("/keys"))
    _create_key(page, "temp key")
    page.get_by_role("button", name="Edit temp key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Requests per minute")).to_have_value("600")
    dialog.get_by_label("Budget (credits)").fill("-1")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_text("Enter a positive number of credits")).to_be_visible()
    dialog.get_by_label("Budget (credits)").fill("12.5")
    dialog.get_by_label("Model scope").fill("sandbox-chat, no-such-model")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_text("unknown model id(s) in model_scope: no-such-model")).to_be_visible()
    dialog.get_by_label("Model scope").fill("sandbox-chat")
    dialog.get_by_role("button", name="Save changes").click()
    table = page.get_by_role("table", name="API keys")
    expect(table.get_by_text("0 / 12.5 credits")).to_be_visible()
    expect(table.get_by_text("sandbox-chat")).to_be_visible()

    page.get_by_role("button", name="Revoke temp key").click()
    confirm = page.get_by_role("alertdialog", name="Revoke key?")
    confirm.get_by_role("button", name="Cancel").click()
    expect(table.get_by_text("active")).to_be_visible()
    page.get_by_role("button", name="Revoke temp key").click()
    confirm.get_by_role("button", name="Revoke key").click()
    expect(table.get_by_text("revoked")).to_be_visible()
    expect(page.get_by_role("button", name="Edit temp key")).to_have_count(0)
