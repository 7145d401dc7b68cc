"""Markup in every field anyone can write, checked in Chromium (issue 14).

One ``kring demo`` for the module. A fresh case is filled through its real forms - Chromium
without JavaScript fills and submits each one, as a phone without it would - with payloads
in every text box: htmx attributes, images with onerror, quotes that close an attribute,
scripts, Markdown links to ``javascript:`` and ``data:``, Markdown images and raw HTML (see
``tests/e2e/payload_fields.py``). Organisations and users get theirs through ``kring org
add`` and ``kring user add``, run on the demo's data.

Then every page, fragment, shared screen, lobby, minutes and export that shows them is read
by the people who see them (coordinator and chair, a professional, a household member, guests,
colleagues in an intervision group, the team's manager; one in English), each with JavaScript
- after every live block has fetched itself again through htmx - and without (what
``<noscript>`` renders). Nothing of a payload may become markup, fire a request or run; every
payload must show as typed somewhere; every text box seen must be one the test fills, or be
listed with the reason it takes no free words."""

from __future__ import annotations

import contextlib
import fnmatch
import io
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e import payload_fields as pf
from tests.e2e.conftest import DEMO_PASSWORD, run_demo

#: What the content security policy refused (a payload that got in as markup and was then
#: stopped by the policy still shows up here).
CSP_WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(
  `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} ${e.sample || ''}`.trim()));
"""

#: Sets a form's fields - text, a select by value or by the words of an option, radios,
#: checkboxes; a name ending in * sets every field it starts - and says what it cannot find.
FILL_JS = r"""
(form, values) => {
  const missing = [];
  for (const [name, value] of Object.entries(values)) {
    const els = [...form.elements].filter(e => e.name === name
      || (name.endsWith('*') && e.name.startsWith(name.slice(0, -1))));
    if (!els.length) { missing.push(name); continue; }
    for (const el of els) {
      if (el.localName === 'select') {
        if (value !== null && typeof value === 'object') {
          const option = [...el.options].find(o => o.textContent.includes(value.label));
          if (!option) { missing.push(`${name}: no option with ${value.label}`); continue; }
          el.value = option.value;
        } else el.value = value;
      } else if (el.type === 'radio') el.checked = el.value === value;
      else if (el.type === 'checkbox') el.checked = Array.isArray(value) ? value.includes(el.value) : !!value;
      else el.value = value;
    }
  }
  return missing;
}
"""

FORM_INFO_JS = """
f => ({action: f.getAttribute('action') || '', method: f.getAttribute('method') || 'get',
       names: [...f.elements].filter(e => e.name).map(e => [e.name, e.localName,
         (e.getAttribute('type') || '').toLowerCase()])})
"""

TEXT_TYPES = {"text", "search", "url", "tel", "email", ""}

#: Whether a page (with JavaScript) has more in <noscript> than a hint.
NOSCRIPT_JS = r"""() => [...document.querySelectorAll('noscript')]
  .some(n => /<(?!\/|p class="hint")/.test(n.textContent))"""


def _norm(text: str) -> str:
    return " ".join(text.split())


def _path(page: Any) -> str:
    return urlsplit(page.url).path


def _last_id(path: str) -> str:
    return path.rsplit("/", 1)[1]


@dataclass
class Sent:
    """One payload in one field."""

    route: str
    name: str
    column: str
    marker: str
    value: str
    shown: str


def _app() -> Any:
    """The app (never started): to name the route each form's action goes to."""
    from workspace.app import create_app
    from workspace.config import Settings

    with tempfile.TemporaryDirectory() as where:
        return create_app(
            Settings(
                data_dir=Path(where),
                database_url=f"sqlite+aiosqlite:///{where}/unused.sqlite3",
                secret_key="unused",
            )
        )


class Run:
    """One demo: filled once, then read by everyone who may read it."""

    def __init__(self, browser: Any, base_url: str, data_dir: Path) -> None:
        self.browser = browser
        self.base = base_url
        self.data_dir = data_dir
        self.app = _app()
        #: Per person: their browser without JavaScript (False) and with it (True).
        self.contexts: dict[str, dict[bool, Any]] = {}
        #: What came from a payload as markup: where, as whom, what.
        self.bad: list[str] = []
        #: Requests to a payload's URLs, dialogs, window.__pwned, refusals of payloads.
        self.fired: list[str] = []
        #: What the content security policy refused that was Kring's own: told, not failed.
        self.csp: list[str] = []
        #: (where, the text a reader sees there).
        self.texts: list[tuple[str, str]] = []
        #: (route, name) of every text box seen -> the first page it was on.
        self.inventory: dict[tuple[str, str], str] = {}
        self.exports: list[str] = []
        self.export_problems: list[str] = []
        self.sent: list[Sent] = []
        self.pages = 0
        #: Live blocks fetched again through htmx, and elements rendered from Markdown in
        #: <noscript>: both must be many, or the checks looked at nothing.
        self.fragments = 0
        self.rendered = 0
        self._sent_count: Counter[tuple[str, str]] = Counter()

    # -- browsers ---------------------------------------------------------------------------

    def _watch(self, context: Any, who: str) -> None:
        context.set_default_timeout(20_000)

        def request(r: Any) -> None:
            if pf.MARK in r.url.lower() or r.url.lower().startswith("javascript:"):
                try:
                    origin = r.frame.url
                except Exception:  # a worker's request has no frame
                    origin = "?"
                self.fired.append(f"{who}: request {r.method} {r.url} (page {origin})")

        def page(p: Any) -> None:
            def dialog(d: Any) -> None:
                self.fired.append(f"{who}: a {d.type} dialog on {p.url}: {d.message}")
                d.dismiss()

            p.on("dialog", dialog)

        context.on("request", request)
        context.on("page", page)

    def person(self, who: str, *, like: str | None = None) -> Any:
        """Someone's browser without JavaScript (the one that fills forms); ``like``: signed
        in as that person already is (a second browser of theirs)."""
        state = self.contexts[like][False].storage_state() if like else None
        context = self.browser.new_context(
            locale="nl-NL", java_script_enabled=False, storage_state=state
        )
        self._watch(context, who)
        self.contexts[who] = {False: context}
        return context.new_page()

    def with_js(self, who: str) -> None:
        """The same person - same cookies, same device - in a browser with JavaScript."""
        old = self.contexts[who].pop(True, None)
        if old is not None:
            old.close()
        state = self.contexts[who][False].storage_state()
        context = self.browser.new_context(locale="nl-NL", storage_state=state)
        context.add_init_script(CSP_WATCH)
        self._watch(context, who)
        self.contexts[who][True] = context

    def close(self) -> None:
        for both in self.contexts.values():
            for context in both.values():
                with contextlib.suppress(Exception):
                    context.close()

    # -- filling ----------------------------------------------------------------------------

    def route_of(self, action: str, method: str) -> str:
        from starlette.routing import Match

        scope = {"type": "http", "path": urlsplit(action).path or "/", "method": method.upper()}
        for route in self.app.routes:
            if route.matches(scope)[0] == Match.FULL:
                return str(route.name)
        raise AssertionError(f"a form goes to {method} {action}: no route of the app has it")

    def _payload(self, route: str, name: str, field: pf.Field) -> str:
        n = self._sent_count[(route, name)]
        self._sent_count[(route, name)] += 1
        if field.limit == 0:
            for tag in pf.TAGS:
                self.sent.append(Sent(route, name, field.column, "", tag, "text"))
            return ", ".join(pf.TAGS)
        marker, text = pf.payload(field.code, field.limit, n)
        if field.column == "persons.name":
            text = pf.no_spaces(field.code, field.limit, n)
        self.sent.append(Sent(route, name, field.column, marker, text, field.shown))
        return text

    def sent_by_hand(self, route: str, name: str, value: str) -> None:
        """A field given its words by the scenario (words quoted from a copy, say)."""
        self._sent_count[(route, name)] += 1
        column = pf.FORM_FIELDS[(route, name)].column
        self.sent.append(Sent(route, name, column, "", value, "text"))

    def send(
        self, page: Any, form: Any, extra: dict[str, Any] | None = None, *, button: str = ""
    ) -> None:
        """Fill ``form`` (a selector or a locator on ``page``) - payloads in every field the
        table names, ``extra`` in the rest - and submit it as a browser without JavaScript."""
        self.inspect(page, f"{self._who(page)} {_path(page)} (no JS, filling)")
        extra = extra or {}
        locator = page.locator(form) if isinstance(form, str) else form
        assert locator.count() == 1, f"{locator.count()} forms match {form} on {page.url}"
        info = locator.evaluate(FORM_INFO_JS)
        route = self.route_of(info["action"], info["method"])
        values: dict[str, Any] = {}
        for name, tag, kind in info["names"]:
            if tag != "textarea" and not (tag == "input" and kind in TEXT_TYPES):
                continue
            found = pf.field_for(route, name)
            given = any(fnmatch.fnmatchcase(name, key) for key in extra)
            if found is not None and name not in values and not given:
                values[name] = self._payload(route, name, found)
        values.update(extra)
        missing = locator.evaluate(FILL_JS, values)
        assert not missing, f"{route} on {page.url}: nothing to fill for {missing}"
        with page.expect_navigation() as navigation:
            locator.evaluate("(f, b) => f.requestSubmit(b ? f.querySelector(b) : null)", button)
        status = navigation.value.status if navigation.value else None
        if status is None or status >= 400:
            errors = page.locator(".error").all_inner_texts()
            raise AssertionError(f"{route} answered {status}: {errors}")

    def _who(self, page: Any) -> str:
        return next(w for w, both in self.contexts.items() if page.context in both.values())

    # -- the command line -------------------------------------------------------------------

    def cli(self, *args: str, stdin: str = "") -> None:
        env = {k: v for k, v in os.environ.items() if k != "KRING_DATABASE_URL"}
        done = subprocess.run(
            [sys.executable, "-m", "workspace.cli", *args, "--data-dir", str(self.data_dir)],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def cli_payload(self, column: str, n: int) -> str:
        found = pf.CLI_FIELDS[column]
        marker, text = pf.payload(found.code, found.limit, n)
        if column == "users.name":
            text = pf.no_spaces(found.code, found.limit, n)
        self.sent.append(Sent("cli", column, column, marker, text, found.shown))
        return text

    def marker_of(self, column: str, n: int = 0) -> str:
        """The marker of the ``n``-th payload sent into ``column``."""
        return [s.marker for s in self.sent if s.column == column][n]

    # -- reading ----------------------------------------------------------------------------

    def inspect(self, page: Any, where: str) -> None:
        self.pages += 1
        info = page.evaluate(pf.INSPECT_JS)
        self.bad.extend(f"{where}: {b}" for b in info["bad"])
        self.rendered += info["rendered"]
        if info["pwned"] is not None:
            self.fired.append(f"{where}: window.__pwned = {info['pwned']}")
        for refusal in page.evaluate("() => window.__csp || []"):
            (self.fired if pf.MARK in refusal else self.csp).append(f"{where}: CSP {refusal}")
        self.texts.append((where, _norm(info["text"])))
        for form in info["forms"]:
            route = self.route_of(form["action"], form["method"])
            for name in form["fields"]:
                self.inventory.setdefault((route, name), where)

    def crawl(self, who: str, *paths: str, js: tuple[bool, ...] = (True, False)) -> None:
        """Load each of ``paths`` as ``who`` with JavaScript, and look; then without, if the
        page has anything for that (``<noscript>``: there Markdown is rendered by the server)."""
        for path in paths:
            for on in js:
                page = self.contexts[who][on].new_page()
                where = f"{who} {path}{'' if on else ' (no JS)'}"
                try:
                    response = page.goto(self.base + path)
                    if response is None or response.status != 200:
                        status = response.status if response else None
                        self.bad.append(f"{where}: answered {status}")
                    if on:
                        self._refetch(page, where)
                    self.inspect(page, where)
                    if on and not page.evaluate(NOSCRIPT_JS):
                        break
                finally:
                    page.close()

    def _refetch(self, page: Any, where: str) -> None:
        """Every live block of the page fetches itself again; each must answer."""
        answers: dict[str, int] = {}

        def answered(r: Any) -> None:
            if r.request.headers.get("hx-request") == "true":
                answers[r.url] = r.status

        page.on("response", answered)
        try:
            page.wait_for_function("() => !!window.htmx")
            again = page.evaluate(pf.REFETCH_JS)
            # A block htmx was fetching already (a live event) keeps its class till it is in.
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
        finally:
            page.remove_listener("response", answered)
        self.bad.extend(f"{where}: a block did not load: {f}" for f in again["failed"])
        self.bad.extend(f"{where}: no answer for {u}" for u in again["urls"] if u not in answers)
        self.bad.extend(f"{where}: {url} answered {s}" for url, s in answers.items() if s != 200)
        self.fragments += len(again["urls"])

    def export(self, who: str, path: str) -> None:
        """A Markdown or PDF export: it answers, holds the words as text, links nowhere."""
        context = self.contexts[who][True]
        response = context.request.get(self.base + path)
        where = f"{who} {path}"
        self.exports.append(where)
        if response.status != 200:
            self.export_problems.append(f"{where}: answered {response.status}")
        elif path.endswith(".pdf"):
            self._pdf(where, response.body())
        else:
            self._markdown(where, context, response.text())

    def _markdown(self, where: str, context: Any, text: str) -> None:
        from workspace.markdown import to_html

        self.texts.append((where, _norm(text)))
        if not any(v.format(m=pf.MARK)[:12] in text for v in pf.VECTORS[:3]):
            self.export_problems.append(f"{where}: holds no payload as typed")
        # What Kring's renderer makes of it (it makes the PDFs) is looked at too.
        page = context.new_page()
        try:
            page.goto(self.base + "/healthz")
            page.set_content(f"<!doctype html><html><body>{to_html(text)}</body></html>")
            self.inspect(page, f"{where}, rendered")
        finally:
            page.close()

    def _pdf(self, where: str, data: bytes) -> None:
        from pypdf import PdfReader

        if not data.startswith(b"%PDF"):
            self.export_problems.append(f"{where}: not a PDF")
            return
        if b"/JavaScript" in data or b"/JS " in data:
            self.export_problems.append(f"{where}: holds JavaScript")
        words = []
        for number, page in enumerate(PdfReader(io.BytesIO(data)).pages, 1):
            words.append(page.extract_text())
            for annotation in page.get("/Annots") or []:
                uri = str((annotation.get_object().get("/A") or {}).get("/URI", ""))
                if re.match(r"\s*(javascript|data|file|vbscript):", uri, re.I) or pf.MARK in uri:
                    self.export_problems.append(f"{where} page {number}: links to {uri}")
        self.texts.append((where, _norm(" ".join(words))))

    def shown(self, needle: str) -> bool:
        needle = _norm(needle)
        return any(needle in text for _, text in self.texts)


# -- the story ----------------------------------------------------------------------------------


@dataclass
class Story:
    """Where things are once they exist."""

    case: str = ""
    other_case: str = ""
    meeting: str = ""
    planned: str = ""
    code: str = ""
    invitation: str = ""
    colleagues: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)

    @property
    def minutes(self) -> str:
        return self.meeting + "/verslag"

    @property
    def in_meeting(self) -> str:
        return f"?overleg={_last_id(self.meeting)}"


def _sign_in(run: Run, who: str, email: str) -> Any:
    page = run.person(who)
    page.goto(f"{run.base}/login")
    run.send(page, 'form[action="/login"]', {"email": email, "password": DEMO_PASSWORD})
    assert _path(page) == "/cases", page.url
    run.with_js(who)
    return page


def _administrator(run: Run, story: Story) -> None:
    """Organisations and users with payloads, as an administrator adds them."""
    count = max(pf.CLI_FIELDS[c].times for c in pf.CLI_FIELDS)
    for n in range(count):
        name = run.cli_payload("organisations.name", n)
        kind = run.cli_payload("organisations.kind", n)
        run.cli("org", "add", "--name", name, "--kind", kind)
        email = f"collega{n}@demo.kring.nl"
        run.cli(
            "user", "add", "--email", email, "--name", run.cli_payload("users.name", n),
            "--organisation", name, "--job-title", run.cli_payload("users.job_title", n),
            "--password-stdin", stdin=DEMO_PASSWORD + "\n",
        )  # fmt: skip
        story.colleagues.append(email)


def _case(run: Run, story: Story, fatima: Any) -> None:
    """Two cases (for the title's payloads); the first gets people, notes, an invitation."""
    base = run.base
    for n in range(pf.times("create_case")):
        fatima.goto(base + "/cases")
        run.send(fatima, 'form[action="/cases"]')
        if n == 0:
            story.case = _path(fatima)
    story.other_case = _path(fatima)
    assert re.fullmatch(r"/cases/[0-9a-f-]{36}", story.case), story.case
    fatima.goto(base + story.case)
    kinds = ("household", "network")
    for n in range(max(pf.times("add_person"), len(kinds))):
        run.send(fatima, 'form[action$="/persons"]', {"kind": kinds[n % 2], "participates": True})
    for email in story.colleagues:
        run.send(fatima, 'form[action$="/participants"]', {"email": email, "role": "professional"})
    run.send(fatima, "form.notes-form")
    person = fatima.locator("li.person", has_text=run.marker_of("persons.name", 0))
    run.send(fatima, person.locator('form[action$="/invitations"]'))
    story.invitation = fatima.locator("#invite-url").input_value()
    assert "/uitnodiging/" in story.invitation


def _meeting(run: Run, story: Story, fatima: Any) -> None:
    """Two meetings; the first is opened and everything of the plan is made in it."""
    base = run.base
    starts = datetime.now().replace(second=0, microsecond=0)
    for n in range(pf.times("add_meeting")):
        fatima.goto(f"{base}{story.case}/meetings")
        when = (starts + timedelta(days=14 * n)).strftime("%Y-%m-%dT%H:%M")
        run.send(
            fatima,
            'form[action$="/meetings"]',
            {"starts_at": when, "chair_id": {"label": "Fatima"}},
        )
    fatima.goto(f"{base}{story.case}/meetings")
    links = [a.get_attribute("href") or "" for a in fatima.locator(".meetings .what a").all()]
    first = fatima.locator(".meetings .what a", has_text=run.marker_of("meetings.title", 0))
    story.meeting = first.get_attribute("href") or ""
    story.planned = next(link for link in links if link != story.meeting)
    fatima.goto(base + story.meeting)
    run.send(fatima, 'form[action$="/open"]')
    story.code = fatima.locator(".join-code strong").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6}", story.code), story.code

    def here(form: str, extra: dict[str, Any] | None = None) -> None:
        """A form of the meeting page: it answers with the meeting page again."""
        run.send(fatima, form, extra)
        assert _path(fatima) == story.meeting, fatima.url

    phase1 = ':has(input[name="phase"][value="1"])'
    everyone = {"audience": "all"}
    for route, form, extra in (
        ("add_section", f'form[action$="/plan/sections"]{phase1}', everyone),
        ("add_agreement", f'form[action$="/plan/agreements"]{phase1}', everyone),
        ("add_incident", 'form[action$="/plan/incidents"]', everyone),
        ("add_question", 'form[action$="/plan/questions"]', {}),
        ("add_evaluation", f'form[action$="/plan/evaluations"]{phase1}', everyone),
        ("meeting_agenda", 'form[action$="/agenda"]', {}),
    ):
        for _ in range(pf.times(route)):
            here(form, extra)
    question = {"label": run.marker_of("plan_score_questions.text")}
    here('form[action$="/plan/scores"]', {"question_id": question, "score-*": "6"})

    # Co-written texts, through the form that works without JavaScript: the added section, a
    # section of the plan's own, and the household member's ("Zo ziet <name> het").
    titled = {
        (s.locator("h4").text_content() or ""): s.get_attribute("id") or ""
        for s in fatima.locator("#sections-1 .plan-section").all()
    }
    added, member = run.marker_of("plan_sections.title"), run.marker_of("persons.name")
    story.sections = [
        next(i for t, i in titled.items() if added in t).removeprefix("section-"),
        next(i for t, i in titled.items() if pf.MARK not in t).removeprefix("section-"),
        next(i for t, i in titled.items() if member in t).removeprefix("section-"),
    ]
    for section in story.sections:
        here(f'form[action$="/sections/{section}/text"]')

    # Decisions; the first gets dissent, an answer, the family's response, a correction.
    for _ in range(pf.times("add_decision")):
        fatima.goto(f"{base}{story.case}/decisions/new?fase=1&overleg={_last_id(story.meeting)}")
        counter = {"label": run.marker_of("users.name")}
        choices = {"kind": "ordinary", "regime": "vrijwillig", "audience": "all"}
        run.send(fatima, 'form[action*="/decisions"]', {**choices, "counter_id": counter})
        story.decisions.append(_path(fatima))
    fatima.goto(base + story.decisions[0] + story.in_meeting)
    run.send(fatima, 'form[action*="/step"]:has([value="dissent"])', button='[value="dissent"]')
    entry = 'form[action*="/entries"]:has(input[name="kind"][value="{}"])'
    new = ':not(:has(input[name="supersedes"]))'
    run.send(fatima, entry.format("dissent") + new)
    run.send(fatima, entry.format("answer") + new)
    run.send(fatima, entry.format("response") + new, {"author_id": {"label": member}})
    run.send(fatima, entry.format("dissent") + ':has(input[name="supersedes"])')


def _people_join(run: Run, story: Story, fatima: Any) -> None:
    """The household member opens their invitation; guests join with the code, their names
    carrying the payloads, and the chair lets the first in as the second person."""
    base = run.base
    linda = run.person("household")
    linda.goto(story.invitation)
    run.send(linda, 'form[action="/uitnodiging"]')
    run.with_js("household")
    for n in range(pf.times("join_post")):
        who = f"guest {n}"
        guest = run.person(who)
        guest.goto(base + "/meedoen")
        run.send(guest, 'form[action="/meedoen"]', {"code": story.code})
        run.with_js(who)
        story.guests.append(who)
    fatima.goto(base + story.meeting)
    waiting = fatima.locator("#lobby .card", has_text=run.marker_of("meeting_guests.name"))
    second = {"label": run.marker_of("persons.name", 1)}
    run.send(fatima, waiting.locator('form[action$="/admit"]'), {"person_id": second})
    guest = run.contexts["guest 0"][False].pages[0]
    guest.goto(base + "/meedoen/wacht")
    run.send(guest, 'form[action="/meedoen/verder"]')
    run.with_js("guest 0")


def _read_case(run: Run, story: Story) -> None:
    run.crawl(
        "coordinator",
        "/cases",
        story.case,
        story.case + "/plan",
        story.case + "/timeline",
        story.case + "/audit",
        story.case + "/meetings",
        story.meeting,
        story.meeting + "/scherm",
        story.case + "/decisions/new?fase=1",
        *story.decisions,
    )


def _read_open_meeting(run: Run, story: Story, fatima: Any) -> None:
    base = run.base
    _read_case(run, story)
    run.crawl(
        "household",
        story.case,
        story.case + "/plan",
        story.meeting,
        story.meeting + "/scherm",
        story.decisions[0] + story.in_meeting,
    )
    run.crawl("guest 0", story.meeting, story.decisions[0] + story.in_meeting, "/meedoen/wacht")
    # The lobby is one page for every guest: with JavaScript for one of them.
    run.crawl(story.guests[1], "/meedoen/wacht")
    for who in story.guests[2:]:
        run.crawl(who, "/meedoen/wacht", js=(False,))

    # A name over a cursor in a co-written text (the editor draws it from the server's word).
    own = f"#section-{story.sections[2]}"
    watcher = run.contexts["coordinator"][True].new_page()
    writer = run.contexts["household"][True].new_page()
    for page in (watcher, writer):
        page.goto(f"{base}{story.case}/plan")
        page.locator(f'{own} [data-save-status][data-state="saved"]').wait_for()
    writer.locator(f"{own} .cm-content").click()
    label = watcher.locator(f"{own} .cm-ySelectionInfo")
    label.wait_for(state="attached")
    assert run.marker_of("persons.name") in (label.text_content() or "")
    run.inspect(watcher, "coordinator /plan, with the household member's cursor in a text")
    writer.close()
    watcher.close()

    # The chair puts each kind of agenda point on the shared screen (every point in someone's
    # own words), then the added text and a decision.
    fatima.goto(base + story.meeting)
    targets, kinds = [], set()
    for point in fatima.locator("#agenda li").all():
        anchor = re.sub(r"[0-9a-f-]{36}", "", point.locator("a").first.get_attribute("href") or "")
        focus = point.locator('form[action$="/focus"] input[name="item"]')
        if focus.count() and (anchor not in kinds or pf.MARK in point.inner_text()):
            kinds.add(anchor)
            targets.append(("item", focus.get_attribute("value") or ""))
    assert len(targets) >= 5, targets
    targets += [
        ("target", f"section:{story.sections[0]}"),
        ("target", f"decision:{_last_id(story.decisions[0])}"),
    ]
    # A colleague (a user with payloads in name, job and organisation) reads along.
    _sign_in(run, "colleague", story.colleagues[0])
    run.crawl("colleague", "/cases", story.case, story.case + "/plan", story.meeting)


def _minutes(run: Run, story: Story, fatima: Any) -> None:
    base = run.base
    fatima.goto(base + story.meeting)
    run.send(fatima, 'form[action$="/close"]')
    reacting = [("coordinator", fatima), ("household", run.contexts["household"][False].pages[0])]
    for n in range(max(pf.times("minutes_react"), len(reacting))):
        who, page = reacting[n % len(reacting)]
        page.goto(base + story.minutes)
        run.send(page, 'form[action$="/verslag/reacties"]')
    run.with_js("household")
    for who in ("coordinator", "household"):
        run.crawl(who, story.minutes)
        run.export(who, story.minutes + ".md")
        run.export(who, story.minutes + ".pdf")
    fatima.goto(base + story.minutes)
    compared = [a.get_attribute("href") or "" for a in fatima.locator('a[href*="/versies"]').all()]
    versions = [f"{story.case}/plan/sections/{s}/versies" for s in story.sections]
    run.crawl("coordinator", *compared, *versions)
    _read_case(run, story)
    run.crawl("coordinator", story.planned, story.other_case)
    run.export("coordinator", story.case + "/plan.md")


def _quote(page: Any, skip: int = 0) -> dict[str, str]:
    """Words exactly as they stand in the copy, a payload among them: an annotation's."""
    found = []
    for box in page.locator(".copy-text").all():
        for line in (box.text_content() or "").split("\n"):
            if "<script>" in line:
                start = line.index("<script>")
                quote = line[max(0, start - 10) : start + 50].strip()
                found.append(
                    {"section_id": box.get_attribute("data-section") or "", "quote": quote}
                )
    assert len(found) > skip, found
    return {**found[skip], "occurrence": "1"}


def _learning(run: Run, story: Story, fatima: Any) -> list[str]:
    """Reflections, intervision groups, a pseudonymised copy with annotations, sessions;
    read by the author, a colleague in the group, the manager. Returns pages to read again."""
    base = run.base
    case_title = {"label": run.marker_of("cases.title")}
    reflections = []
    for n in range(pf.times("add_reflection")):
        fatima.goto(base + "/leren/reflecties")
        audience = ("team", "manager")[n % 2]
        run.send(
            fatima,
            'form[action="/leren/reflecties"]',
            {"audience": audience, "case_id": case_title},
        )
        reflections.append(_path(fatima))
    # More, written plainly at first and then edited into payloads.
    for n in range(pf.times("edit_reflection")):
        fatima.goto(base + "/leren/reflecties")
        plain = {"title": "", "body": "Eerst zonder opmaak.", "p-*": "", "more_tags": ""}
        plain |= {"question": "", "signal": "", "audience": "private", "case_id": ""}
        run.send(fatima, 'form[action="/leren/reflecties"]', plain)
        path = _path(fatima)
        reflections.append(path)
        audience = ("team", "manager")[n % 2]
        run.send(fatima, f'form[action="{path}"]', {"audience": audience, "case_id": ""})
    fatima.goto(base + reflections[0])
    run.send(fatima, 'form[action$="/reactie"]')

    colleagues = ["sanne@demo.kring.nl", "mehmet@demo.kring.nl", "anouk@demo.kring.nl"]
    groups = []
    for n in range(pf.times("add_group")):
        fatima.goto(base + "/intervisie")
        emails = colleagues + (story.colleagues if n == 0 else [])
        run.send(fatima, 'form[action="/intervisie/groepen"]', {"emails": "\n".join(emails)})
        groups.append(_path(fatima))
    fatima.goto(base + "/intervisie")
    group = {"label": run.marker_of("learning_groups.name")}
    run.send(
        fatima, 'form[action="/intervisie/kopieen"]', {"case_id": case_title, "group_id": group}
    )
    review = _path(fatima)
    for _ in range(pf.times("copy_mark")):
        fatima.goto(base + review)
        run.send(fatima, 'form[action$="/woorden"]:has(input[name="word"][type="text"])')
    run.crawl("coordinator", review)
    fatima.goto(base + review)
    run.send(fatima, 'form[action$="/nagekeken"]')
    run.send(fatima, 'form[action$="/vrijgeven"]')
    copy = _path(fatima)
    quote = _quote(fatima)
    run.send(fatima, "form.annotation-form", quote)
    run.sent_by_hand("add_annotation", "quote", quote["quote"])

    sessions = []
    for n in range(max(pf.times("add_session"), 2)):
        fatima.goto(base + groups[0])
        on_copy = {"label": "Casus"} if n == 0 else ""
        run.send(fatima, 'form[action$="/sessies"]', {"method": "incident", "copy_id": on_copy})
        sessions.append(_path(fatima))
    session = sessions[0]
    fatima.goto(base + session)
    run.send(fatima, 'form[action$="/uitkomst"]')
    fatima.goto(base + session)
    quote = _quote(fatima, skip=1)
    run.send(fatima, "form.annotation-form", quote)
    run.sent_by_hand("add_annotation", "quote", quote["quote"])

    learning = ["/leren", "/leren/reflecties", *reflections, "/leren/team", "/intervisie"]
    run.crawl("coordinator", *learning, *groups, copy, *sessions, session + "/scherm")
    run.export("coordinator", session + "/verslag.md")
    run.export("coordinator", session + "/verslag.pdf")

    _sign_in(run, "colleague in the group", colleagues[0])
    group_pages = ["/intervisie", groups[0], copy, session, session + "/scherm"]
    run.crawl("colleague in the group", "/leren/team", reflections[0], *group_pages)
    run.export("colleague in the group", session + "/verslag.md")
    run.crawl("colleague", "/leren", *group_pages)

    manager = _sign_in(run, "manager", "manager@demo.kring.nl")
    manager.goto(base + reflections[1])
    run.send(manager, 'form[action$="/reactie"]')
    run.with_js("manager")
    run.crawl("manager", "/leren", "/leren/overzicht", *reflections)
    run.export("manager", "/leren/leeroverzicht.md")
    run.export("manager", "/leren/leeroverzicht.pdf")
    return [reflections[0], groups[0], copy, session, session + "/scherm"]


def _fill_and_read(run: Run) -> None:
    story = Story()
    _administrator(run, story)
    fatima = _sign_in(run, "coordinator", "fatima@demo.kring.nl")
    _case(run, story, fatima)
    _meeting(run, story, fatima)
    _people_join(run, story, fatima)
    _read_open_meeting(run, story, fatima)
    _minutes(run, story, fatima)
    again = _learning(run, story, fatima)

    # The same pages in English: other messages around the same words.
    english = run.person("coordinator (en)", like="coordinator")
    english.goto(run.base + story.case)
    run.send(english, 'form[action="/taal"]', button='button[name="lang"][value="en"]')
    assert english.locator("html").get_attribute("lang") == "en"
    plan = [story.case, story.case + "/plan", story.meeting, story.meeting + "/scherm"]
    run.crawl("coordinator (en)", *plan, story.minutes, *story.decisions, *again, js=(False,))


@pytest.fixture(scope="module")
def crawled(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("payloads") / "demo"
    with run_demo(data_dir) as server:
        run = Run(chromium, server.base_url, data_dir)
        try:
            _fill_and_read(run)
            yield run
        finally:
            run.close()


# -- the tests ----------------------------------------------------------------------------------


def _text_columns() -> list[str]:
    from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Interval, Numeric, Time, Uuid
    from sqlalchemy.types import TypeDecorator

    import realtime.tables  # noqa: F401 - registers its tables
    import workspace.app  # noqa: F401 - imports every model the app uses
    from workspace.models import Base

    plain = (Integer, Boolean, Date, DateTime, Time, Interval, Numeric, Float, Uuid)
    found = []
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, TypeDecorator):
                kind = kind.impl_instance
            if not isinstance(kind, plain):
                found.append(f"{table.name}.{column.name}")
    return found


def test_every_text_column_is_filled_or_explained() -> None:
    columns = _text_columns()
    filled = {f.column for f in pf.FORM_FIELDS.values()} | set(pf.CLI_FIELDS) | set(pf.COPIED)
    unlisted = [c for c in columns if c not in filled and c not in pf.NOT_USER_TEXT]
    assert not unlisted, (
        "these columns can hold text, but tests/e2e/payload_fields.py neither fills them "
        f"(FORM_FIELDS, CLI_FIELDS, COPIED) nor says why not (NOT_USER_TEXT): {unlisted}"
    )
    both = sorted(filled & set(pf.NOT_USER_TEXT))
    assert not both, f"filled and also called 'not user text': {both}"
    gone = sorted((filled | set(pf.NOT_USER_TEXT)) - set(columns))
    assert not gone, f"payload_fields.py names columns that do not exist (any more): {gone}"
    codes = [f.code for f in [*pf.FORM_FIELDS.values(), *pf.CLI_FIELDS.values()]]
    assert len(codes) == len(set(codes)), "two fields share a marker code"


def _unsafe_markdown(text: str) -> str:
    """What a Markdown renderer with raw HTML on and every link allowed makes of ``text``."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return str(md.render(text))


def test_the_checks_see_a_payload_that_got_in(chromium: Any) -> None:
    """The checks themselves, on pages served from here: every vector let in as markup - in
    text, out of a quoted attribute, through a Markdown renderer with raw HTML on - is seen;
    the same escaped, or through Kring's own renderer, is not."""
    from workspace.config import ROOT
    from workspace.markdown import to_html

    htmx = (ROOT / "workspace" / "static" / "vendor" / "htmx.min.js").read_text()
    pages: dict[str, str] = {}

    def serve(route: Any) -> None:
        path = urlsplit(route.request.url).path
        if path == "/static/htmx.js":
            route.fulfill(body=htmx, content_type="text/javascript")
        elif path in pages:
            route.fulfill(body=pages[path], content_type="text/html")
        else:
            route.fulfill(status=404, body="")

    context = chromium.new_context()
    context.add_init_script(CSP_WATCH)
    fired: list[str] = []
    context.on("request", lambda r: fired.append(r.url) if pf.MARK in r.url else None)
    context.route("http://kring.test/**", serve)

    page = context.new_page()

    def seen(body: str) -> bool:
        fired.clear()
        path = f"/{len(pages)}"
        pages[path] = (
            '<!doctype html><html><head><script src="/static/htmx.js"></script></head>'
            f"<body>{body}</body></html>"
        )
        page.goto("http://kring.test" + path)
        page.wait_for_function("() => !!window.htmx")
        page.evaluate(pf.REFETCH_JS)
        info = page.evaluate(pf.INSPECT_JS)
        return bool(info["bad"] or info["pwned"] or fired)

    try:
        vectors = [v.format(m=pf.marker("zz", n)) for n, v in enumerate(pf.VECTORS)]
        html, markdown = vectors[:4], vectors[4:]
        names = [pf.no_spaces("zz", 200, n) for n in range(2)]
        tail = pf.LONG_TAIL.format(m=pf.marker("zz", 9))
        cases = [
            *((f"markup: {v}", f"<p>{v}</p>") for v in html),
            (f"out of value='': {html[3]}", f"<input value='{html[3]}'>"),
            (f'out of value="": {html[2]}', f'<input value="{html[2]}">'),
            *((f"Markdown: {v}", _unsafe_markdown(v)) for v in [*markdown, tail]),
            (f"a name: {names[0]}", f"<p>{names[0]}</p>"),
            (f"a name: {names[1]}", _unsafe_markdown(names[1])),
            *((f"a label: {t}", f"<p>{t}</p>") for t in pf.TAGS if "](" not in t),
            *((f"a label: {t}", _unsafe_markdown(t)) for t in pf.TAGS if "](" in t),
        ]
        missed = [what for what, body in cases if not seen(body)]
        assert not missed, "the checks miss these when they get in:\n" + "\n".join(missed)
        texts = [*vectors, *names, pf.payload("zz", 4000, 0)[1]]
        escaped = "".join(f'<p title="{escape(t)}">{escape(t)}</p>' for t in texts)
        assert not seen(escaped), "the checks take escaped text for markup"
        assert not seen("".join(to_html(t) for t in texts)), "Kring's renderer lets markup in"
    finally:
        context.close()


def test_no_payload_became_markup(crawled: Run) -> None:
    assert crawled.pages > 150, crawled.pages
    assert crawled.fragments > 100, crawled.fragments
    assert crawled.rendered > 50, crawled.rendered
    assert not crawled.bad, "\n".join(crawled.bad)


def test_no_payload_fired_a_request_or_ran(crawled: Run) -> None:
    assert not crawled.fired, "\n".join(crawled.fired)


def test_every_payload_shows_as_typed(crawled: Run) -> None:
    missing = [
        f"{s.column} ({s.route} {s.name}) {s.marker or s.value!r}"
        for s in crawled.sent
        if not crawled.shown(s.value if s.shown == "text" else s.marker)
    ]
    assert not missing, "never shown as typed, on any page or in any export:\n" + "\n".join(missing)


def test_every_text_box_gets_every_payload(crawled: Run) -> None:
    unknown = [
        f"{route} {name} (on {where})"
        for (route, name), where in sorted(crawled.inventory.items())
        if pf.field_for(route, name) is None and pf.not_payload(route, name) is None
    ]
    assert not unknown, (
        "text boxes that tests/e2e/payload_fields.py neither fills (FORM_FIELDS) nor says "
        "why not (NOT_PAYLOAD_FIELDS):\n" + "\n".join(unknown)
    )
    sent = Counter((s.route, s.name) for s in crawled.sent)

    def least(route: str, pattern: str) -> int:
        """How often the least-filled field of a family (``principle-*``) was sent."""
        counts = [c for (r, n), c in sent.items() if r == route and fnmatch.fnmatchcase(n, pattern)]
        return min(counts, default=0)

    short = [
        f"{route} {pattern}: sent {least(route, pattern)} times, needs {want.times}"
        for (route, pattern), want in pf.FORM_FIELDS.items()
        if least(route, pattern) < want.times
    ]
    short += [
        f"{column}: sent {sent[('cli', column)]} times, needs {want.times}"
        for column, want in pf.CLI_FIELDS.items()
        if sent[("cli", column)] < want.times
    ]
    assert not short, "fields that did not get every payload:\n" + "\n".join(short)


def test_exports_answer_and_hold_the_words_as_text(crawled: Run) -> None:
    assert len(crawled.exports) >= 10, crawled.exports
    assert not crawled.export_problems, "\n".join(crawled.export_problems)
