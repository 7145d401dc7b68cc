"""What tests/e2e/test_payloads.py writes where, and why the rest is left alone.

Two lists decide it, and the test holds both against the code:

* Columns: every column of ``Base.metadata`` that can hold text (String, Text, JSON,
  LargeBinary: any type that is not a number, flag, date or id) is filled with payloads
  (``FORM_FIELDS`` through the web, ``CLI_FIELDS`` through ``kring``), or holds copies Kring
  makes of those (``COPIED``), or is named in ``NOT_USER_TEXT`` with the reason. A new column
  in none of them fails the test.
* Text boxes: every ``<textarea>`` and text-like ``<input>`` of every form on the pages the
  test reads is in ``FORM_FIELDS``, or in ``NOT_PAYLOAD_FIELDS`` with the reason. A new one in
  neither fails the test.

A payload is a row of markup "vectors" (an htmx attribute that fetches on load, an image with
onerror, quotes that close an attribute, a script, Markdown links to ``javascript:`` and
``data:``, a Markdown image...) sharing one marker ``pwn<code><n>``: every field and every
submission has its own, so whatever fires or lands in a page names the field it came from.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

#: Every marker starts with this, and nothing of Kring's own (ids are hex uuids) contains it.
MARK = "pwn"

#: The vectors, in the order they are packed into a field's length limit. ``{m}`` is the marker.
VECTORS: tuple[str, ...] = (
    # htmx: an element that fetches as soon as htmx sees it (with the page's CSRF header).
    '<b hx-get="/pwn/{m}" hx-trigger="load">{m}</b>',
    # An image that runs script when it fails to load (and fetches a URL when it loads).
    '<img src="/pwn/{m}" onerror="window.__pwned=\'{m}\'">',
    # Out of a double-quoted attribute, then a script.
    "\"><script>window.__pwned='{m}'</script>",
    # Out of a single-quoted attribute, then an element with a handler.
    "'><svg onload=\"window.__pwned='{m}'\">",
    # Markdown: links that run script or load a document, an image, an autolink.
    "[{m}](javascript:window.__pwned='{m}')",
    "[{m}](data:text/html,{m})",
    "![{m}](/pwn/{m}.css)",
    "<javascript:window.__pwned='{m}'>",
)

#: For long (Markdown) texts, after the vectors: a raw HTML block and a reference-style link.
LONG_TAIL = (
    '\n\n<div hx-get="/pwn/{m}" hx-trigger="load">{m}</div>\n\n'
    "[{m} ref][r{m}]\n\n[r{m}]: javascript:window.__pwned='{m}'\n"
)

#: Labels are at most 30 characters, lower-cased, split at commas: short vectors, one a label.
TAGS = (
    "<b hx-get=pwn hx-trigger=load>",
    '"><script>__pwned=1</script>',
    "<svg onload=__pwned=1>",
    "<img src=pwn onerror=x>",
    "[pwn](javascript:__pwned=1)",
)


def chunks(limit: int) -> list[list[str]]:
    """The vectors packed greedily into pieces of at most ``limit`` characters (markers have
    a fixed length, so the packing does not depend on the marker)."""
    if limit >= 1000:
        return [[*VECTORS, LONG_TAIL]]
    sample = f"{MARK}zz0"
    out: list[list[str]] = []
    current: list[str] = []
    for vector in VECTORS:
        trial = [*current, vector]
        if len(" ".join(v.format(m=sample) for v in trial)) <= limit:
            current = trial
            continue
        if current:
            out.append(current)
        if len(vector.format(m=sample)) > limit:
            raise ValueError(f"a vector does not fit in {limit} characters: {vector}")
        current = [vector]
    if current:
        out.append(current)
    return out


def marker(code: str, n: int) -> str:
    """``pwn`` + a field's two-character code + the submission's digit: fixed length."""
    assert len(code) == 2 and 0 <= n < 10, (code, n)
    return f"{MARK}{code}{n}"


def payload(code: str, limit: int, n: int) -> tuple[str, str]:
    """The ``n``-th payload (0-based) of a field: (marker, text). Submissions cycle through
    the field's pieces, each with its own marker."""
    pieces = chunks(limit)
    m = marker(code, n)
    return m, " ".join(v.format(m=m) for v in pieces[n % len(pieces)]).strip()


def no_spaces(code: str, limit: int, n: int) -> str:
    """The same payload as one word (``<b/hx-get=...>`` is the same tag to a browser): for
    names, which copies split into words and replace wherever those words stand."""
    pieces = chunks(limit)
    m = marker(code, n)
    return "".join(v.replace(" ", "/").format(m=m) for v in pieces[n % len(pieces)]).strip()


def submissions(limit: int) -> int:
    """How often a field must be sent so that every vector reaches it once."""
    return len(chunks(limit))


@dataclass(frozen=True)
class Field:
    #: Two characters, unique: part of every marker of this field.
    code: str
    #: The column ("table.column") the field is stored in.
    column: str
    #: The server's length limit (the payloads are packed into it); 0 for labels (``TAGS``).
    limit: int
    #: How it is shown: "text" (exactly as typed, somewhere), or "marker" (as Markdown, or
    #: split up by the editor's highlighting: its marker must show).
    shown: str = "text"

    @property
    def times(self) -> int:
        """How often it must be sent before every vector was in it."""
        return 1 if self.limit == 0 else submissions(self.limit)


#: (route name of the form's action, field name) -> what it writes. ``*`` in a name matches a
#: family of fields (one per principle, prompt...).
FORM_FIELDS: dict[tuple[str, str], Field] = {
    ("create_case", "title"): Field("ct", "cases.title", 200),
    ("add_person", "name"): Field("pn", "persons.name", 200),
    ("add_person", "relation"): Field("pr", "persons.relation", 200),
    ("add_professional", "case_function"): Field("cf", "participants.case_function", 200),
    ("save_notes", "text"): Field("nt", "realtime_updates.update", 4000, "marker"),
    ("section_text", "text"): Field("st", "realtime_updates.update", 4000, "marker"),
    ("add_section", "title"): Field("se", "plan_sections.title", 200),
    ("add_agreement", "what"): Field("aw", "plan_agreements.what", 1000),
    ("add_agreement", "who_does"): Field("ad", "plan_agreements.who_does", 200),
    ("add_agreement", "when"): Field("an", "plan_agreements.when", 200),
    ("add_agreement", "checker"): Field("ac", "plan_agreements.checker", 200),
    ("add_agreement", "if_it_fails"): Field("af", "plan_agreements.if_it_fails", 1000),
    ("add_incident", "what"): Field("iw", "plan_incidents.what", 2000),
    ("add_incident", "reported_by"): Field("ib", "plan_incidents.reported_by", 200),
    ("add_question", "question"): Field("sq", "plan_score_questions.text", 200),
    ("add_evaluation", "plan"): Field("ep", "plan_evaluations.plan", 2000),
    ("add_evaluation", "do"): Field("ed", "plan_evaluations.do", 2000),
    ("add_evaluation", "check"): Field("ec", "plan_evaluations.check", 2000),
    ("add_evaluation", "act"): Field("ea", "plan_evaluations.act", 2000),
    ("add_decision", "question"): Field("dq", "plan_decisions.question", 1000),
    ("add_decision", "proposal"): Field("dp", "plan_decisions.proposal", 1000),
    ("add_decision", "grounds"): Field("dg", "plan_decisions.grounds", 1000),
    ("add_decision", "decider"): Field("dd", "plan_decisions.decider", 200),
    ("add_decision", "principle-*"): Field("dr", "plan_decisions.principles", 1000),
    ("decision_entry", "text"): Field("de", "plan_decision_entries.text", 4000),
    ("add_meeting", "title"): Field("mt", "meetings.title", 200),
    ("add_meeting", "place"): Field("mp", "meetings.place", 300),
    ("meeting_agenda", "title"): Field("mi", "meeting_agenda_items.title", 300),
    ("join_post", "name"): Field("gn", "meeting_guests.name", 60),
    ("minutes_react", "text"): Field("mr", "meeting_minutes_reactions.text", 4000),
    ("add_group", "name"): Field("gr", "learning_groups.name", 200),
    ("add_session", "question"): Field("sn", "learning_sessions.question", 1000),
    ("session_outcome", "conclusions"): Field("so", "learning_sessions.conclusions", 8000),
    ("session_outcome", "lessons"): Field("sl", "learning_sessions.lessons", 8000),
    ("copy_mark", "word"): Field("cw", "learning_copies.marks", 100),
    ("copy_mark", "replacement"): Field("cr", "learning_copies.marks", 60),
    ("add_annotation", "quote"): Field("aq", "learning_annotations.quote", 4000),
    ("add_annotation", "body"): Field("ab", "learning_annotations.body", 4000),
    ("add_reflection", "title"): Field("rt", "learning_reflections.title", 200),
    ("add_reflection", "body"): Field("rb", "learning_reflections.body", 8000),
    ("add_reflection", "p-*"): Field("rp", "learning_reflections.answers", 4000),
    ("add_reflection", "more_tags"): Field("rg", "learning_reflections.tags", 0),
    ("add_reflection", "question"): Field("rq", "learning_reflections.question", 2000),
    ("add_reflection", "signal"): Field("rs", "learning_reflections.signal", 2000),
    ("edit_reflection", "title"): Field("et", "learning_reflections.title", 200),
    ("edit_reflection", "body"): Field("eb", "learning_reflections.body", 8000),
    ("edit_reflection", "p-*"): Field("ew", "learning_reflections.answers", 4000),
    ("edit_reflection", "more_tags"): Field("eg", "learning_reflections.tags", 0),
    ("edit_reflection", "question"): Field("eq", "learning_reflections.question", 2000),
    ("edit_reflection", "signal"): Field("es", "learning_reflections.signal", 2000),
    ("reflection_respond", "response"): Field("rr", "learning_responses.body", 4000),
}

#: Text boxes that take no one's free words, and why.
NOT_PAYLOAD_FIELDS: dict[tuple[str, str], str] = {
    ("login", "email"): "an account's address, to sign in",
    ("add_person", "birth_year"): "a year: refused unless it is a number",
    ("add_professional", "email"): "an account's address: refused unless a user has it",
    ("join_post", "code"): "the meeting's code: refused unless an open meeting has it",
    ("add_group", "emails"): "accounts' addresses: refused unless users have them",
    ("group_member", "email"): "an account's address: refused unless a user has it",
}

#: Text a person writes that no web form takes: set by an administrator on the command line
#: (``kring org add``, ``kring user add``), which the test runs against the demo's data.
CLI_FIELDS: dict[str, Field] = {
    "organisations.name": Field("on", "organisations.name", 200),
    "organisations.kind": Field("ok", "organisations.kind", 100),
    "users.name": Field("un", "users.name", 200),
    "users.job_title": Field("uj", "users.job_title", 200),
}

#: Columns that hold copies Kring makes of the fields above: filled by filling those (and the
#: pages that show the copies are crawled).
COPIED: dict[str, str] = {
    "section_versions.text": "a section's text at a moment (realtime_updates.update)",
    "meeting_minutes.content": "the meeting's records, people and texts, frozen",
    "learning_copy_sections.title": "section titles and record groups, pseudonymised",
    "learning_reflections.shared": "the reflection's fields, pseudonymised",
    "realtime_snapshots.state": "realtime_updates.update, compacted",
}

#: Columns that hold text but never anyone's free words.
NOT_USER_TEXT: dict[str, str] = {
    "users.email": "an address checked by `kring user add`; used to sign in, never shown",
    "users.role": "enum",
    "users.password_hash": "hash",
    "cases.regime": "enum",
    "persons.kind": "enum",
    "participants.role": "enum",
    "invitations.token_hash": "hash",
    "invitations.device_hash": "hash",
    "sessions.token_hash": "hash",
    "login_failures.email_hash": "hash",
    "login_failures.source": "a client address",
    "login_failures.kind": "enum",
    "audit_events.action": "Kring's own name for what happened",
    "audit_events.outcome": "enum",
    "audit_events.object_type": "Kring's own name",
    "audit_events.object_id": "an id",
    "audit_events.role": "enum",
    "audit_events.on_behalf_of": "an id",
    "audit_events.source": "a client address",
    "audit_events.channel": "enum",
    "plan_sections.audience": "enum",
    "plan_sections.excluded": "person ids",
    "plan_sections.key": "a catalogue key",
    "plan_sections.slot": "made by Kring from a key and an id",
    "plan_agreements.audience": "enum",
    "plan_agreements.excluded": "person ids",
    "plan_agreements.status": "enum",
    "plan_incidents.audience": "enum",
    "plan_incidents.excluded": "person ids",
    "plan_scores.audience": "enum",
    "plan_scores.excluded": "person ids",
    "plan_decisions.audience": "enum",
    "plan_decisions.excluded": "person ids",
    "plan_decisions.kind": "enum",
    "plan_decisions.regime": "enum",
    "plan_decisions.new_regime": "enum",
    "plan_decisions.state": "enum",
    "plan_decision_entries.kind": "enum",
    "plan_evaluations.audience": "enum",
    "plan_evaluations.excluded": "person ids",
    "plan_milestones.kind": "enum",
    "plan_milestones.before": "enum (a regime or a phase)",
    "plan_milestones.after": "enum (a regime or a phase)",
    "meetings.state": "enum",
    "meetings.code": "made by Kring",
    "meetings.focus": "an agenda item's id, chosen from the agenda",
    "meeting_agenda_items.kind": "enum",
    "meeting_agenda_items.ref": "an id, or Kring's own reference",
    "meeting_attendance.source": "enum",
    "meeting_guests.token_hash": "hash",
    "meeting_guests.state": "enum",
    "section_versions.reason": "enum",
    "meeting_minutes.state": "enum",
    "learning_copies.title": "made by Kring ('Casus K12')",
    "learning_copies.state": "enum",
    "learning_copies.reviewed": "a fingerprint",
    "learning_sessions.method": "a catalogue key",
    "learning_sessions.state": "enum",
    "learning_annotations.start": "a Yjs position",
    "learning_annotations.end": "a Yjs position",
    "learning_reflections.audience": "enum",
    "realtime_updates.document": "a document name made by Kring from ids",
    "realtime_updates.author": "made by Kring from an id",
    "realtime_snapshots.document": "a document name made by Kring from ids",
    "realtime_ended_grants.key": "a grant key made by Kring from ids (session:<id>, ...)",
}


def times(route: str) -> int:
    """How often a form must be sent before every vector was in each of its fields."""
    return max(f.times for (r, _), f in FORM_FIELDS.items() if r == route)


def field_for(route: str, name: str) -> Field | None:
    for (r, pattern), field in FORM_FIELDS.items():
        if r == route and fnmatch.fnmatchcase(name, pattern):
            return field
    return None


def not_payload(route: str, name: str) -> str | None:
    return NOT_PAYLOAD_FIELDS.get((route, name))


# -- what is looked for in every page ----------------------------------------------------------

#: Runs in the page. Returns what came from a payload as markup, and the page's text (without
#: form controls, scripts and <noscript>: those are not what a reader sees).
INSPECT_JS = r"""
() => {
  const bad = [];
  const show = el => el.outerHTML.slice(0, 400);
  // Attributes whose value is text for people (or our own data), not markup or a URL.
  const TEXT_ATTR = /^(value|title|alt|placeholder|label|content|aria-[a-z-]+|data-(?!hx-)[a-z0-9-]+|hx-confirm|hx-prompt)$/;
  const URL_ATTR = /^(href|src|srcset|action|formaction|xlink:href|poster|data|srcdoc|background|ping|cite|hx-get|hx-post|hx-put|hx-patch|hx-delete|sse-connect)$/;
  const FOREIGN = new Set(['iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'portal']);
  for (const el of document.querySelectorAll('*')) {
    const tag = el.localName;
    if (FOREIGN.has(tag)) bad.push(`<${tag}> in the page: ${show(el)}`);
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      const value = a.value;
      if (name.startsWith('on')) bad.push(`inline handler ${name}: ${show(el)}`);
      if (name.includes('pwn')) bad.push(`attribute named from a payload (${name}): ${show(el)}`);
      if (URL_ATTR.test(name) && /^\s*(javascript|data|vbscript|file):/i.test(value)) {
        bad.push(`${name} with a ${value.trim().split(':')[0]}: URL: ${show(el)}`);
      }
      if (/pwn/i.test(value) && !TEXT_ATTR.test(name)) {
        bad.push(`attribute ${name} from a payload: ${show(el)}`);
      }
      if ((name.startsWith('hx-') || name.startsWith('data-hx-')) && name !== 'hx-confirm'
          && /pwn/i.test(value)) {
        bad.push(`htmx attribute ${name} from a payload: ${show(el)}`);
      }
    }
    if (tag === 'script' && (/pwn/i.test(el.textContent) || /pwn/i.test(el.getAttribute('src') || ''))) {
      bad.push(`a script from a payload: ${show(el)}`);
    }
    if (tag === 'script' && el.getAttribute('src') && !el.getAttribute('src').startsWith('/static/')) {
      bad.push(`a script not ours: ${show(el)}`);
    }
    if (tag === 'style' && /pwn/i.test(el.textContent)) bad.push(`a style from a payload: ${show(el)}`);
    if (tag === 'meta' && /refresh/i.test(el.getAttribute('http-equiv') || '') && /url/i.test(el.content)) {
      bad.push(`a refresh to elsewhere: ${show(el)}`);
    }
    if (tag === 'a' && /pwn/i.test(el.getAttribute('href') || '')) bad.push(`a link from a payload: ${show(el)}`);
    if (tag === 'img' || tag === 'image' || tag === 'video' || tag === 'audio' || tag === 'source') {
      if (/pwn/i.test(el.outerHTML)) bad.push(`media from a payload: ${show(el)}`);
    }
  }
  // Text a reader sees (incl. the title, SVG text and option labels), not form controls.
  const SKIP = new Set(['script', 'style', 'noscript', 'textarea', 'template']);
  const parts = [document.title];
  // No filter callback: a page without JavaScript cannot call back into one.
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const skipped = n => { for (let p = n.parentElement; p; p = p.parentElement) if (SKIP.has(p.localName)) return true; return false; };
  while (walker.nextNode()) if (!skipped(walker.currentNode)) parts.push(walker.currentNode.nodeValue);
  // Text boxes of the page's forms: the inventory of what can be typed where.
  const forms = [...document.forms].map(f => ({
    action: f.getAttribute('action') || '',
    method: (f.getAttribute('method') || 'get').toLowerCase(),
    fields: [...f.elements].filter(e => e.name && (e.localName === 'textarea' || (e.localName === 'input'
        && ['text', 'search', 'url', 'tel', 'email', ''].includes((e.getAttribute('type') || '').toLowerCase()))))
      .map(e => e.name),
  }));
  const rendered = document.querySelectorAll('.notes-rendered *').length;
  return {bad, rendered, text: parts.join(' '), forms, pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned)};
}
"""

#: Runs in the page (JavaScript on): every live block fetches itself again, as htmx does on a
#: live event, so that each fragment is swapped in (and processed by htmx) once. The test
#: waits for an answer to each block's URL on its side (htmx drops a fetch for a block that
#: is already fetching because of a live event: then that fetch's answer counts).
REFETCH_JS = r"""
async () => {
  const blocks = [...document.querySelectorAll('[hx-get]')].filter(el => !/pwn/i.test(el.getAttribute('hx-get')));
  const results = await Promise.allSettled(blocks.map(el => htmx.ajax('GET', el.getAttribute('hx-get'),
    {source: el, target: el, swap: el.getAttribute('hx-swap') || 'innerHTML'})));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return {urls: blocks.map(el => new URL(el.getAttribute('hx-get'), location.href).href),
          failed: results.filter(r => r.status === 'rejected').map(r => String(r.reason))};
}
"""
