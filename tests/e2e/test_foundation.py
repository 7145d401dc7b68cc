"""What people click, in a real browser: sign in, Wie is wie, htmx forms, a phone invitation."""

from __future__ import annotations

import re

from tests.e2e.conftest import PHONE, screenshot, sign_in


def test_coordinator_adds_a_person_without_a_page_reload(demo_server, new_context):
    page = new_context().new_page()
    sign_in(page, demo_server.base_url, "fatima@demo.kring.nl")
    page.get_by_role("link", name="Familie Bakker").click()
    page.wait_for_selector("#people")
    # A marker on window survives only if htmx swapped a fragment instead of loading a page.
    page.evaluate("window.__sameDocument = true")
    form = page.locator(
        "form", has=page.get_by_role("heading", name=re.compile("Iemand toevoegen"))
    )
    form.get_by_label("Naam").fill("Ayla")
    form.get_by_label("het netwerk (een belangrijke ander)").check()
    form.get_by_label("Wie is dit voor het gezin?").fill("vriendin van Noor")
    form.get_by_role("button", name="Toevoegen").click()
    page.locator(".person", has_text="Ayla").wait_for()
    assert page.evaluate("window.__sameDocument") is True
    # And with an error, the fragment comes back with what was typed.
    form = page.locator(
        "form", has=page.get_by_role("heading", name=re.compile("Iemand toevoegen"))
    )
    form.get_by_label("Naam").fill("Bram")
    form.get_by_label("Geboortejaar (mag leeg)").fill("ooit")
    form.get_by_role("button", name="Toevoegen").click()
    page.get_by_text("Vul een geboortejaar in").wait_for()
    assert page.get_by_label("Naam").first.input_value() == "Bram"
    assert page.evaluate("window.__sameDocument") is True


def test_forms_work_without_javascript(demo_server, new_context):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page, demo_server.base_url, "fatima@demo.kring.nl")
    page.get_by_role("link", name="Familie Bakker").click()
    form = page.locator(
        "form", has=page.get_by_role("heading", name=re.compile("Iemand toevoegen"))
    )
    form.get_by_label("Naam").fill("Zonder JS")
    form.get_by_label("het gezin (woont er of hoort erbij)").check()
    form.get_by_role("button", name="Toevoegen").click()
    page.wait_for_url(re.compile(r"/cases/[0-9a-f-]+#people$"))
    assert page.locator(".person", has_text="Zonder JS").count() == 1


def test_a_13_year_old_joins_from_her_phone(demo_server, new_context):
    phone = new_context(**PHONE).new_page()
    phone.goto(demo_server.invitations["Noor"])
    phone.get_by_role("button", name="Doorgaan").click()
    phone.wait_for_url(re.compile(r"/cases/[0-9a-f-]+$"))
    assert phone.get_by_role("heading", name="Familie Bakker").is_visible()
    assert phone.get_by_role("heading", name="Wie is wie").is_visible()
    # No horizontal scrolling on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Members see no forms to manage people.
    assert phone.get_by_role("button", name="Laten stoppen").count() == 0
    screenshot(phone, "phone-noor-case")
    # Her link, forwarded to someone else, does not work there.
    other = new_context(**PHONE).new_page()
    other.goto(demo_server.invitations["Noor"])
    other.get_by_role("button", name="Doorgaan").click()
    assert other.get_by_text("al gebruikt op een ander apparaat").is_visible()


def test_keyboard_users_can_skip_to_content_and_see_focus(demo_server, new_context):
    page = new_context().new_page()
    page.goto(f"{demo_server.base_url}/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Naar de inhoud")
    assert skip.evaluate("el => el === document.activeElement")
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"
