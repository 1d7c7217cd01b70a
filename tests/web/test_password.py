"""Two-step verification in the web client: set in the settings, asked for at sign-in after
the code (with its hint), and removed again; and the code sent again the next way
(auth.resendCode) when the first one does not arrive."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.server import TEST_CODE, ServerProcess
from tests.web.conftest import Browsing, sign_up


def test_password_set_asked_at_sign_in_and_removed(
    own_server: ServerProcess, browsing: Browsing
) -> None:
    # Voice calls on: the code goes by SMS first and can then be sent again by a call.
    server = own_server
    server.extra_env["CHAPAR_CODE_VOICE_CALLS"] = "true"
    server.start()
    acc = sign_up(server.url, "Parisa")
    page = browsing.page(server.url, account=acc)

    # Settings: turn two-step verification on, with a hint.
    page.get_by_label("Menu and settings").click()
    two = page.locator(".two-step")
    expect(two.locator(".two-step-state")).to_contain_text("Off.")
    form = two.locator(".set-password")
    form.get_by_label("New password", exact=True).fill("kooh-e damavand 5610")
    form.get_by_label("Repeat the new password").fill("kooh-e damavand 5609")
    form.get_by_role("button", name="Set password").click()
    expect(form.locator(".form-status")).to_have_text("The passwords do not match.")
    form.get_by_label("Repeat the new password").fill("kooh-e damavand 5610")
    form.get_by_label("Hint (optional)").fill("the highest peak")
    form.get_by_role("button", name="Set password").click()
    expect(two.locator(".two-step-notice")).to_have_text("Password saved")
    expect(two.locator(".two-step-state")).to_contain_text("On.")

    # Another browser signs in: the code went by SMS; after the timer it can be sent again
    # by a call (auth.resendCode), and then nothing further is offered.
    def fake_clock(p: Page) -> None:
        p.clock.install()

    other = browsing.page(server.url, before=fake_clock)
    other.locator("#phone").fill(acc.phone)
    other.locator("#phone").press("Enter")
    hint = other.locator(".auth-card .hint")
    expect(hint).to_contain_text("Enter the code we sent to")
    expect(other.locator(".resend")).to_contain_text(re.compile(r"Resend in \d:\d\d"))
    other.clock.fast_forward("01:05")
    other.get_by_role("button", name="Send again by a call").click()
    expect(hint).to_contain_text("We are calling")
    other.clock.fast_forward("01:05")
    expect(other.get_by_role("button", name="Send the code again")).to_be_visible()

    # The code is right, so the password is asked for, with its hint.
    other.locator("#code").fill(TEST_CODE)
    other.locator("#code").press("Enter")
    expect(other.locator("h1")).to_have_text("Two-step verification")
    expect(other.locator(".auth-card")).to_contain_text("Hint: the highest peak")
    other.locator("#password").fill("damavand")
    other.locator("#password").press("Enter")
    expect(other.locator("#auth-error")).to_have_text("The password is wrong.")
    other.locator("#password").fill("kooh-e damavand 5610")
    other.locator("#password").press("Enter")
    expect(other.locator(".sidebar")).to_be_visible()

    # Removing it needs the current password.
    remove = two.locator(".remove-password")
    remove.get_by_label("Current password").fill("wrong")
    remove.get_by_role("button", name="Remove password").click()
    expect(remove.locator(".form-status")).to_have_text("The password is wrong.")
    remove.get_by_label("Current password").fill("kooh-e damavand 5610")
    remove.get_by_role("button", name="Remove password").click()
    expect(two.locator(".two-step-notice")).to_have_text("Password removed")
    expect(two.locator(".two-step-state")).to_contain_text("Off.")
