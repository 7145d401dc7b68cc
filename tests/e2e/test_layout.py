"""Layout that holds on a small phone and on a wide screen (issue 19): nothing wider than a
360 px screen where the family answers, and no button drawn over another."""

from __future__ import annotations

from tests.e2e.conftest import sign_in

SMALL = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True}


def _too_wide(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Elements that stick out past the right edge of the screen."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                         && getComputedStyle(e).position !== 'fixed'
                         && !e.closest('.sr-only, details:not([open]) > :not(summary)'))
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').trim().slice(0, 40))"""
    )


def test_the_decision_page_and_the_plan_fit_a_small_phone(demo_server, new_context):
    page = new_context(**SMALL).new_page()
    sign_in(page, demo_server.base_url, "fatima@demo.kring.nl")
    page.get_by_role("link", name="Familie Bakker").click()
    page.get_by_role("link", name="Naar het gezinsplan").click()
    page.locator("#plan-head").wait_for()
    assert _too_wide(page) == []
    decision = page.locator("a[href*='/decisions/']").first.get_attribute("href")
    assert decision
    page.goto(demo_server.base_url + decision)
    page.locator("#decision").wait_for()
    assert _too_wide(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_persons_buttons_never_overlap_on_a_wide_screen(demo_server, new_context):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, demo_server.base_url, "fatima@demo.kring.nl")
    page.get_by_role("link", name="Familie Bakker").click()
    overlaps = page.evaluate(
        """() => {
            const out = []
            for (const person of document.querySelectorAll('.person')) {
              const boxes = [...person.querySelectorAll('button')].map(b => [b, b.getBoundingClientRect()])
                .filter(([, r]) => r.width > 0)
              for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
                const [a, r] = boxes[i], [b, s] = boxes[j]
                if (r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom)
                  out.push(a.textContent.trim() + ' / ' + b.textContent.trim())
              }
            }
            return out
        }"""
    )
    assert overlaps == []
