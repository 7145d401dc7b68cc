"""Intervision domain functions: groups, pseudonymised copies, sessions and annotations.

Like every domain function here they take a session and an actor, check access, validate,
mutate and audit; they never commit and never see a Request. Co-edited text is read and
written by the caller (outside the transaction, through the realtime store) and handed in.

Access: a group's pages, copies, sessions and documents are for its active members only; a
copy's review is for its maker only, who must still take part in the case as a professional.
Everything else - a missing record, another group's, an ended copy - is the same NotFound.
"""

from __future__ import annotations

import itertools
import random
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from realtime.tables import snapshots, updates
from workspace import audit
from workspace.access import Actor, CaseAccess, case_access
from workspace.errors import Conflict, NotFound, ValidationError
from workspace.i18n import N_
from workspace.learning import anchors, copy_document, methods
from workspace.learning.models import (
    Annotation,
    Copy,
    CopySection,
    CopyState,
    Group,
    Member,
    Session,
    SessionState,
)
from workspace.learning.pseudonym import (
    Known,
    PersonInfo,
    Pseudonymiser,
    Replacement,
    Segment,
    age_band,
    fingerprint,
    name_parts,
    person_labels,
    replacements,
    suggestions,
)
from workspace.models import CaseRole, Organisation, Participant, User, UserRole, utcnow
from workspace.plan import actions as plan_actions
from workspace.plan import catalogue
from workspace.plan.actions import Form
from workspace.plan.visibility import PROFESSIONAL_ROLES

# -- who --------------------------------------------------------------------------------------


def require_professional(actor: Actor) -> User:
    """Intervision is for professionals. Anyone else gets the same 404 as for a missing page."""
    if actor.user is None or actor.user.role != UserRole.PROFESSIONAL:
        raise NotFound("intervision is for professionals")
    return actor.user


async def active_members(db: AsyncSession, group_id: uuid.UUID) -> list[Member]:
    return list(
        await db.scalars(
            select(Member)
            .where(Member.group_id == group_id, Member.left_at.is_(None))
            .order_by(Member.joined_at)
        )
    )


async def member_group(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> Group:
    """The group, if ``actor`` is one of its active members; otherwise NotFound."""
    user = require_professional(actor)
    group = await db.get(Group, group_id)
    if group is None:
        raise NotFound("no such group")
    membership = await db.scalar(
        select(Member).where(
            Member.group_id == group.id, Member.user_id == user.id, Member.left_at.is_(None)
        )
    )
    if membership is None:
        raise NotFound("not a member of this group")
    return group


async def my_groups(db: AsyncSession, actor: Actor) -> list[Group]:
    user = require_professional(actor)
    return list(
        await db.scalars(
            select(Group)
            .join(Member, Member.group_id == Group.id)
            .where(Member.user_id == user.id, Member.left_at.is_(None))
            .order_by(Group.created_at.desc())
        )
    )


# -- groups -----------------------------------------------------------------------------------

GROUP_FIELDS = ("name", "emails")


def _emails(raw: str) -> list[str]:
    return list(
        dict.fromkeys(e.strip().lower() for e in raw.replace(",", "\n").split() if e.strip())
    )


async def _professional_by_email(db: AsyncSession, email: str) -> User | None:
    user = await db.scalar(select(User).where(User.email == email))
    if user is None or not user.active or user.role != UserRole.PROFESSIONAL:
        return None
    return user


async def create_group(db: AsyncSession, actor: Actor, values: Mapping[str, str]) -> Group:
    """A new group with ``actor`` and the colleagues named by e-mail: 4 to 8 in all."""
    me = require_professional(actor)
    form = Form(values)
    name = form.line("name", required=N_("Geef de groep een naam."))
    colleagues: list[User] = []
    unknown: list[str] = []
    for email in _emails(values.get("emails", "")):
        if email == me.email:
            continue
        user = await _professional_by_email(db, email)
        if user is None:
            unknown.append(email)
        else:
            colleagues.append(user)
    if unknown:
        form.errors["emails"] = N_(
            "Niet iedereen is gevonden. Gebruik het e-mailadres waarmee een collega inlogt."
        )
    elif not methods.GROUP_MIN <= len(colleagues) + 1 <= methods.GROUP_MAX:
        form.errors["emails"] = N_(
            "Een intervisiegroep heeft 4 tot 8 deelnemers: jij en 3 tot 7 collega's."
        )
    form.check()
    group = Group(name=name, created_by_id=me.id)
    db.add(group)
    await db.flush()
    for user in (me, *colleagues):
        db.add(Member(group_id=group.id, user_id=user.id))
    audit.record(db, actor, "group.create", object_type="group", object_id=group.id)
    return group


async def add_member(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, values: Mapping[str, str]
) -> Member:
    """Any member may add a colleague (no hierarchy), up to eight."""
    group = await member_group(db, actor, group_id)
    form = Form(values)
    email = form.line("email", required=N_("Vul het e-mailadres van je collega in.")).lower()
    members = await active_members(db, group.id)
    user = await _professional_by_email(db, email) if email else None
    if email and user is None:
        form.errors["email"] = N_(
            "Niet gevonden. Gebruik het e-mailadres waarmee een collega inlogt."
        )
    elif user is not None and any(m.user_id == user.id for m in members):
        form.errors["email"] = N_("Deze collega zit al in de groep.")
    elif len(members) >= methods.GROUP_MAX:
        form.errors["email"] = N_(
            "De groep is vol: een intervisiegroep heeft hoogstens 8 deelnemers."
        )
    form.check()
    assert user is not None
    former = await db.scalar(
        select(Member).where(Member.group_id == group.id, Member.user_id == user.id)
    )
    if former is not None:
        former.left_at = None
        member = former
    else:
        member = Member(group_id=group.id, user_id=user.id)
        db.add(member)
    group.version += 1
    await db.flush()
    audit.record(db, actor, "group.member", object_type="group", object_id=group.id)
    return member


async def leave_group(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> None:
    group = await member_group(db, actor, group_id)
    assert actor.user is not None
    membership = await db.scalar(
        select(Member).where(Member.group_id == group.id, Member.user_id == actor.user.id)
    )
    assert membership is not None
    membership.left_at = utcnow()
    group.version += 1
    audit.record(db, actor, "group.leave", object_type="group", object_id=group.id)


# -- copies: what they are made from ----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One text of the case, as the maker may see it: a plan section's document (read from the
    realtime store by the caller) or records written out as Markdown."""

    title: str
    document: str = ""
    text: str = ""


@dataclass
class Material:
    """Everything of the case a copy is made from, read as the maker may see it."""

    case_title: str
    persons: list[PersonInfo]
    professionals: list[tuple[str, str, str]]  # name, e-mail, label
    organisations: list[tuple[str, str]]  # name, kind
    sources: list[Source]
    today: date


async def _maker_access(db: AsyncSession, actor: Actor, copy: Copy) -> CaseAccess:
    """The maker's access to the source case: they must still take part as a professional."""
    if actor.user is None or copy.made_by_id != actor.user.id or copy.source_case_id is None:
        raise NotFound("not the maker of this copy")
    who = await case_access(db, actor, copy.source_case_id)
    if who.role not in PROFESSIONAL_ROLES:
        raise NotFound("only the case's professionals make or review a copy")
    return who


def _professional_labels(participants: Sequence[Participant]) -> dict[uuid.UUID, str]:
    base: dict[uuid.UUID, str] = {}
    for p in participants:
        if p.user is None:
            continue
        if p.role == CaseRole.COORDINATOR:
            base[p.id] = "regisseur"
        else:
            kind = p.user.organisation.kind if p.user.organisation is not None else ""
            base[p.id] = f"professional ({kind})" if kind else "professional"
    counts: dict[str, int] = {}
    for label in base.values():
        counts[label] = counts.get(label, 0) + 1
    seen: dict[str, int] = {}
    out = {}
    for pid, label in base.items():
        if counts[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            label = f"{label} {seen[label]}"
        out[pid] = label
    return out


async def gather(db: AsyncSession, actor: Actor, copy: Copy) -> Material:
    """Read the case as the maker may see it (same audiences as the plan page). The caller
    reads the section texts (``Source.document``) from the realtime store afterwards."""
    who = await _maker_access(db, actor, copy)
    plan = await plan_actions.load_plan(db, who)
    persons = [PersonInfo(p.name, p.relation, p.kind, p.birth_year) for p in plan.persons]
    pro_labels = _professional_labels(plan.participants)
    professionals = [
        (p.user.name, p.user.email, pro_labels[p.id])
        for p in plan.participants
        if p.user is not None and p.id in pro_labels
    ]
    organisations = [(o.name, o.kind) for o in await db.scalars(select(Organisation))]
    sources: list[Source] = []
    for section in plan.sections:
        # The copy is in Dutch, the catalogue's source language: no translation here.
        label = plan_actions.section_label(section)
        title = label.text % dict(label.params) if label.params else label.text
        sources.append(Source(title, document=_document_of(who, section.id)))
    labels = person_labels(persons)
    names = {p.id: p.display_name for p in plan.participants}
    sources.extend(_records(plan, names))
    sources.extend(await _threads(db, plan, names))
    who_is_who = [
        f"- {labels[p.name]}: "
        + ("gezin" if p.kind == "household" else "netwerk")
        + (f", {age_band(p.birth_year, plan.today)}" if p.birth_year else "")
        for p in persons
    ] + [f"- {label}" for _, _, label in professionals]
    sources.insert(0, Source("Wie is wie", text="\n".join(who_is_who)))
    return Material(
        case_title=who.case.title,
        persons=persons,
        professionals=professionals,
        organisations=organisations,
        sources=sources,
        today=plan.today,
    )


def _document_of(who: CaseAccess, section_id: uuid.UUID) -> str:
    from workspace.notes import section_document

    return section_document(who.case.id, section_id)


async def _threads(
    db: AsyncSession, plan: plan_actions.Plan, names: Mapping[uuid.UUID, str]
) -> list[Source]:
    """Dissent, answers and the household's responses of every decision the maker may see
    (records with legal weight in the case; in the copy they are text to learn from)."""
    words = {"dissent": "Tegenspraak", "answer": "Antwoord", "response": "Reactie van het gezin"}
    lines: list[str] = []
    for d in plan.decisions:
        thread = await plan_actions.thread(db, d.id)
        if not thread.entries:
            continue
        lines.append(f"### {d.question}\n")
        for e in thread.entries:
            corrected = " (gecorrigeerd)" if e.id in thread.corrected_by else ""
            who = names.get(e.author_id, "")
            lines.append(f"- {words.get(e.kind, e.kind)}{corrected}, {who}: {e.text}")
        lines.append("")
    return [Source("Tegenspraak en reacties", text="\n".join(lines).strip())] if lines else []


def _clause(text: str) -> str:
    """Text that a sentence around it ends: without its own final full stop."""
    return text.strip().rstrip(".") or "-"


def _day(value: date | None) -> str:
    return value.strftime("%d-%m-%Y") if value is not None else ""


def _records(plan: plan_actions.Plan, names: Mapping[uuid.UUID, str]) -> list[Source]:
    """The plan's records written out as Markdown, one text per kind (then pseudonymised like
    every other text). Only what the maker may see is in ``plan``."""
    out: list[Source] = []
    if plan.agreements:
        lines = []
        for a in plan.agreements:
            status = catalogue.AGREEMENT_STATUS_LABELS.get(a.status, a.status)
            lines.append(
                f"- **{a.what}**\n  Wie: {_clause(a.who_does)}. Wanneer: {_clause(a.when)}. "
                f"Wie controleert: {_clause(a.checker)}. "
                f"Als het misgaat: {_clause(a.if_it_fails)}. Status: {status}."
            )
        out.append(Source("Veiligheidsafspraken", text="\n".join(lines)))
    if plan.incidents:
        lines = [
            f"- {_day(i.occurred_on)}: {i.what} (gemeld door {i.reported_by})"
            for i in plan.incidents
        ]
        out.append(Source("Incidenten", text="\n".join(lines)))
    if plan.scores:
        questions = {q.id: q.text for q in plan.questions}
        rounds: dict[tuple[uuid.UUID, date], list[str]] = {}
        for s in plan.scores:
            rounds.setdefault((s.question_id, s.asked_on), []).append(
                f"{names.get(s.participant_id, '')} {s.value}"
            )
        lines = [
            f"- {questions.get(q, '')} ({_day(day)}): " + ", ".join(values)
            for (q, day), values in rounds.items()
        ]
        out.append(Source("Scores (0-10)", text="\n".join(lines)))
    if plan.decisions:
        lines = []
        for d in plan.decisions:
            state = catalogue.DECISION_STATE_LABELS.get(d.state, d.state)
            kind = catalogue.DECISION_KIND_LABELS.get(d.kind, d.kind)
            regime = catalogue.REGIME_LABELS.get(d.regime, d.regime)
            lines.append(f"### {kind}: {d.question}\n")
            lines.append(f"- Voorstel: {d.proposal}")
            lines.append(f"- Redenen: {d.grounds}")
            lines.append(f"- Kader: {regime}. Wie besluit: {d.decider}. Stand: {state}.")
            if d.counter is not None:
                lines.append(f"- Tegenspraak georganiseerd door: {d.counter.display_name}")
            for key, label, _hint in catalogue.PRINCIPLES:
                if d.principles.get(key):
                    lines.append(f"- {label}: {d.principles[key]}")
            lines.append("")
        out.append(Source("Besluiten", text="\n".join(lines).strip()))
    if plan.evaluations:
        lines = [
            f"- Plan: {e.plan}\n  Gedaan: {e.do or '-'}\n  Gezien: {e.check}\n"
            f"  Aanpassing: {e.act or '-'}\n  Volgende evaluatie: {_day(e.next_on) or '-'}"
            for e in plan.evaluations
        ]
        out.append(Source("Evaluaties (PDCA)", text="\n".join(lines)))
    return out


# -- copies: the draft ------------------------------------------------------------------------


@dataclass
class DraftText:
    title: list[Segment]
    text: list[Segment]

    @property
    def title_out(self) -> str:
        return "".join(s.out for s in self.title)

    @property
    def text_out(self) -> str:
        return "".join(s.out for s in self.text)


@dataclass
class Draft:
    """What releasing would publish, with what was replaced: for the side-by-side review."""

    texts: list[DraftText]
    replaced: list[Replacement]
    suggested: list[str]
    fingerprint: str
    marks: list[dict[str, str]] = field(default_factory=list)


def known_values(material: Material, marks: Sequence[Mapping[str, str]]) -> list[Known]:
    """Everything the database knows that identifies this household, with its stand-in.
    Marked words come first: the maker's choice wins."""
    known = [
        Known(str(m.get("word", "")), str(m.get("replacement", "")) or "[weggelaten]", "manual")
        for m in marks
    ]
    labels = person_labels(material.persons)
    by_part: dict[str, set[str]] = {}
    surnames: set[str] = set()
    names = [(p.name, labels[p.name], "person") for p in material.persons] + [
        (name, label, "professional") for name, _email, label in material.professionals
    ]
    for name, label, _kind in names:
        words = name.split()
        if len(words) > 1:
            surnames.add(words[-1].casefold())
        for part in name_parts(name):
            by_part.setdefault(part.casefold(), set()).add(label)
    for name, label, kind in names:
        for part in name_parts(name):
            owners = by_part[part.casefold()]
            if len(owners) == 1:
                known.append(Known(part, label, kind))
            else:
                # The same word names several people (a shared surname): say which kind.
                stand_in = "[achternaam]" if part.casefold() in surnames else "[naam]"
                known.append(Known(part, stand_in, kind))
    for _name, email, _label in material.professionals:
        known.append(Known(email, "[e-mailadres]", "email"))
    for org, kind in material.organisations:
        known.append(Known(org, f"[{kind or 'organisatie'}]", "organisation"))
    known.append(Known(material.case_title, "[gezin]", "case"))
    return known


def make_draft(copy: Copy, material: Material, texts: Sequence[str]) -> Draft:
    """Pseudonymise every text of ``material`` (``texts[i]`` is the text of source i)."""
    engine = Pseudonymiser(
        known_values(material, copy.marks or []), shift_days=copy.shift_days or 0
    )
    drafted = [
        DraftText(engine.segments(source.title), engine.segments(text))
        for source, text in zip(material.sources, texts, strict=True)
    ]
    drafted = [d for d in drafted if d.text_out.strip()]
    segment_lists = [d.title for d in drafted] + [d.text for d in drafted]
    replaced = replacements(segment_lists)
    outputs = [part for d in drafted for part in (d.title_out, d.text_out)]
    return Draft(
        texts=drafted,
        replaced=replaced,
        suggested=suggestions(segment_lists),
        fingerprint=fingerprint(replaced, outputs),
        marks=list(copy.marks or []),
    )


# -- copies: making, reviewing, releasing, ending ---------------------------------------------

COPY_FIELDS = ("case_id", "group_id", "ends_on")


def _random_shift() -> int:
    """A fixed shift per copy: one to thirteen months back, never zero."""
    return -random.SystemRandom().randint(30, 400)


async def start_copy(db: AsyncSession, actor: Actor, values: Mapping[str, str]) -> Copy:
    """A draft copy of a case for a group. Nothing of the case is copied yet: the maker
    reviews the replacements first (``make_draft``), then releases."""
    require_professional(actor)
    form = Form(values)
    who: CaseAccess | None = None
    try:
        who = await case_access(db, actor, uuid.UUID(values.get("case_id", "")))
        if who.role not in PROFESSIONAL_ROLES:
            who = None
    except (ValueError, NotFound):
        who = None
    if who is None:
        form.errors["case_id"] = N_("Kies een gezin waarin jij als professional meedoet.")
    group: Group | None = None
    try:
        group = await member_group(db, actor, uuid.UUID(values.get("group_id", "")))
    except (ValueError, NotFound):
        form.errors["group_id"] = N_("Kies een intervisiegroep waar je zelf in zit.")
    ends_on = _ends_on(form)
    form.check()
    assert who is not None and group is not None and ends_on is not None
    code = secrets.choice("ABCDEFGHJKLMNPRSTUVWZ") + str(secrets.randbelow(90) + 10)
    copy = Copy(
        group_id=group.id,
        source_case_id=who.case.id,
        made_by_id=who.actor.user.id if who.actor.user else None,
        title=f"Casus {code}",
        shift_days=_random_shift(),
        ends_on=ends_on,
        marks=[],
    )
    db.add(copy)
    await db.flush()
    audit.record(db, who, "copy.create", object_type="copy", object_id=copy.id)
    return copy


def _ends_on(form: Form) -> date | None:
    ends_on = form.day("ends_on")
    today = date.today()
    if ends_on is not None and "ends_on" not in form.errors:
        if ends_on <= today:
            form.errors["ends_on"] = N_("De einddatum ligt in de toekomst.")
        elif ends_on > today + timedelta(days=methods.COPY_MAX_DAYS):
            form.errors["ends_on"] = N_(
                "Een kopie bestaat hoogstens een half jaar. Kies een eerdere einddatum."
            )
    return ends_on


async def maker_copy(db: AsyncSession, actor: Actor, copy_id: uuid.UUID) -> Copy:
    """A draft copy, for its maker (who must still take part in the case)."""
    copy = await db.get(Copy, copy_id)
    if copy is None or copy.state != CopyState.DRAFT:
        raise NotFound("no such draft")
    await _maker_access(db, actor, copy)
    return copy


def _check_version(item: Copy | Session, seen: str) -> None:
    if str(item.version) != str(seen).strip():
        raise Conflict(f"stale form: version {seen!r}, now {item.version}")


async def mark_word(
    db: AsyncSession, actor: Actor, copy_id: uuid.UUID, values: Mapping[str, str]
) -> Copy:
    """Mark one more word (a name, a place...) to replace everywhere in the copy."""
    copy = await maker_copy(db, actor, copy_id)
    form = Form(values)
    word = form.line("word", required=N_("Schrijf het woord op dat weg moet."), limit=100)
    replacement = form.line("replacement", limit=60) or "[weggelaten]"
    if word and len(word) < 2:
        form.errors["word"] = N_("Kies een woord van minstens twee tekens.")
    elif any(m["word"].casefold() == word.casefold() for m in copy.marks or []):
        form.errors["word"] = N_("Dit woord staat al op de lijst.")
    if word and word.casefold() in replacement.casefold():
        form.errors["replacement"] = N_("De vervanging mag het woord zelf niet bevatten.")
    form.check()
    _check_version(copy, values.get("version", ""))
    copy.marks = [*(copy.marks or []), {"word": word, "replacement": replacement}]
    copy.version += 1
    audit.record(
        db, actor, "copy.mark", case_id=copy.source_case_id, object_type="copy", object_id=copy.id
    )
    return copy


async def unmark_word(
    db: AsyncSession, actor: Actor, copy_id: uuid.UUID, word: str, seen: str
) -> Copy:
    copy = await maker_copy(db, actor, copy_id)
    _check_version(copy, seen)
    copy.marks = [m for m in copy.marks or [] if m["word"] != word]
    copy.version += 1
    audit.record(
        db, actor, "copy.mark", case_id=copy.source_case_id, object_type="copy", object_id=copy.id
    )
    return copy


#: Why a release is refused, in the maker's words.
NOT_REVIEWED = N_(
    "Je hebt de lijst met vervangingen nog niet nagekeken. Kijk alle vervangingen na en klik "
    "op 'Ik heb alles nagekeken'."
)
CHANGED = N_(
    "De lijst met vervangingen is veranderd sinds je hem nakeek (een woord gemarkeerd, of de "
    "tekst van het plan is veranderd). Kijk hem opnieuw na."
)


async def review_copy(
    db: AsyncSession, actor: Actor, copy_id: uuid.UUID, draft: Draft, seen: str
) -> Copy:
    """The maker says: I reviewed this list. Only the list they saw counts: if it changed
    since the page was shown, they must look again."""
    copy = await maker_copy(db, actor, copy_id)
    if seen != draft.fingerprint:
        raise ValidationError({"reviewed": CHANGED})
    copy.reviewed = draft.fingerprint
    copy.reviewed_at = utcnow()
    copy.version += 1
    audit.record(
        db, actor, "copy.review", case_id=copy.source_case_id, object_type="copy", object_id=copy.id
    )
    return copy


@dataclass(frozen=True)
class Release:
    """The released copy's texts, to write into their documents (``document``: text)."""

    copy_id: uuid.UUID
    texts: dict[str, str]
    sections: list[CopySection]


def plan_release(copy: Copy, draft: Draft) -> Release:
    """Check that the maker reviewed exactly this draft, and lay out its documents (new ids:
    a refused or failed release leaves nothing anyone can open). Changes nothing."""
    if not copy.reviewed:
        raise ValidationError({"reviewed": NOT_REVIEWED})
    if copy.reviewed != draft.fingerprint:
        raise ValidationError({"reviewed": CHANGED})
    sections = [
        CopySection(id=uuid.uuid4(), copy_id=copy.id, position=n, title=d.title_out[:200])
        for n, d in enumerate(draft.texts)
    ]
    texts = {
        copy_document(copy.id, s.id): d.text_out for s, d in zip(sections, draft.texts, strict=True)
    }
    return Release(copy.id, texts, sections)


async def release_copy(
    db: AsyncSession,
    actor: Actor,
    copy_id: uuid.UUID,
    draft: Draft,
    release: Release,
    seen: str,
) -> Copy:
    """Release a reviewed copy to its group. The caller wrote ``release.texts`` already; the
    date shift is forgotten here, so the copy cannot be turned back into the case. ``seen``
    is the draft's version the texts were made from: a word marked since means a new review."""
    copy = await maker_copy(db, actor, copy_id)
    _check_version(copy, seen)
    plan_release(copy, draft)  # checks again, in this transaction
    for section in release.sections:
        db.add(section)
    copy.state = CopyState.RELEASED
    copy.released_at = utcnow()
    # What turned the case into the copy goes: the shift would undo the dates, and marked
    # words are the very names the maker wanted out.
    copy.shift_days = None
    copy.marks = []
    copy.version += 1
    await db.flush()
    audit.record(
        db,
        actor,
        "copy.release",
        case_id=copy.source_case_id,
        object_type="copy",
        object_id=copy.id,
    )
    return copy


async def member_copy(db: AsyncSession, actor: Actor, copy_id: uuid.UUID) -> Copy:
    """A released copy for a member of its group, within its end date; otherwise NotFound."""
    copy = await db.get(Copy, copy_id)
    if copy is None or copy.state != CopyState.RELEASED or copy.ends_on < date.today():
        raise NotFound("no such copy, or ended")
    await member_group(db, actor, copy.group_id)
    return copy


async def copy_sections(db: AsyncSession, copy_id: uuid.UUID) -> list[CopySection]:
    return list(
        await db.scalars(
            select(CopySection).where(CopySection.copy_id == copy_id).order_by(CopySection.position)
        )
    )


async def _purge(db: AsyncSession, copy: Copy) -> list[str]:
    """Delete a copy's text (documents, sections, annotations); the row stays, ended, so
    sessions and the audit log still say a copy existed. Returns the documents deleted."""
    documents = [copy_document(copy.id, s.id) for s in await copy_sections(db, copy.id)]
    if documents:
        await db.execute(delete(updates).where(updates.c.document.in_(documents)))
        await db.execute(delete(snapshots).where(snapshots.c.document.in_(documents)))
    await db.execute(delete(Annotation).where(Annotation.copy_id == copy.id))
    await db.execute(delete(CopySection).where(CopySection.copy_id == copy.id))
    copy.state = CopyState.ENDED
    copy.ended_at = utcnow()
    copy.source_case_id = None
    copy.marks = []
    copy.shift_days = None
    copy.version += 1
    return documents


async def end_copy(db: AsyncSession, actor: Actor, copy_id: uuid.UUID) -> list[str]:
    """End a copy before its date: any member of the group, or its maker while it is a draft.
    The caller closes the documents' open connections after commit."""
    copy = await db.get(Copy, copy_id)
    if copy is None:
        raise NotFound("no such copy")
    if copy.state == CopyState.DRAFT:
        await maker_copy(db, actor, copy_id)
    else:
        copy = await member_copy(db, actor, copy_id)
    documents = await _purge(db, copy)
    audit.record(db, actor, "copy.end", object_type="copy", object_id=copy.id)
    return documents


async def end_expired(db: AsyncSession, today: date | None = None) -> list[str]:
    """End every copy past its end date (called whenever groups are listed, and by the demo
    reset): pseudonymised data is not kept longer than promised."""
    today = today or date.today()
    expired = list(
        await db.scalars(select(Copy).where(Copy.state != CopyState.ENDED, Copy.ends_on < today))
    )
    documents: list[str] = []
    for copy in expired:
        documents += await _purge(db, copy)
        audit.record(
            db, None, "copy.expire", object_type="copy", object_id=copy.id, channel="system"
        )
    return documents


async def group_copies(db: AsyncSession, group_id: uuid.UUID) -> list[Copy]:
    """The group's released copies within their end date (drafts are the maker's own)."""
    return list(
        await db.scalars(
            select(Copy)
            .where(
                Copy.group_id == group_id,
                Copy.state == CopyState.RELEASED,
                Copy.ends_on >= date.today(),
            )
            .order_by(Copy.released_at.desc())
        )
    )


async def my_drafts(db: AsyncSession, actor: Actor) -> list[Copy]:
    user = require_professional(actor)
    return list(
        await db.scalars(
            select(Copy)
            .where(Copy.made_by_id == user.id, Copy.state == CopyState.DRAFT)
            .order_by(Copy.created_at.desc())
        )
    )


# -- sessions ---------------------------------------------------------------------------------

SESSION_FIELDS = ("method", "question", "held_on", "copy_id")


async def start_session(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, values: Mapping[str, str]
) -> Session:
    group = await member_group(db, actor, group_id)
    form = Form(values)
    method = form.choice(
        "method", tuple(methods.METHODS_BY_KEY), N_("Kies een methode voor deze bijeenkomst.")
    )
    question = form.text("question", required=N_("Schrijf de casusvraag op."), limit=1000)
    held_on = form.day("held_on")
    copy_id: uuid.UUID | None = None
    if values.get("copy_id"):
        available = {str(c.id): c for c in await group_copies(db, group.id)}
        chosen = available.get(values["copy_id"])
        if chosen is None:
            form.errors["copy_id"] = N_("Kies een kopie van deze groep, of geen.")
        else:
            copy_id = chosen.id
    if len(await active_members(db, group.id)) < methods.GROUP_MIN:
        form.errors["group"] = N_(
            "Deze groep heeft minstens 4 deelnemers nodig. Voeg eerst een collega toe."
        )
    form.check()
    assert held_on is not None
    session = Session(
        group_id=group.id,
        copy_id=copy_id,
        method=method,
        question=question,
        held_on=held_on,
        created_by_id=actor.user.id if actor.user else None,
    )
    db.add(session)
    await db.flush()
    audit.record(db, actor, "session.create", object_type="session", object_id=session.id)
    return session


async def member_session(db: AsyncSession, actor: Actor, session_id: uuid.UUID) -> Session:
    session = await db.get(Session, session_id)
    if session is None:
        raise NotFound("no such session")
    await member_group(db, actor, session.group_id)
    return session


async def set_step(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, step: str, seen: str
) -> Session:
    """Move the shared screen to another step. Two people pressing "next" at once move it
    one step, not two: the second gets the news instead (stale version)."""
    session = await member_session(db, actor, session_id)
    _check_version(session, seen)
    steps = methods.METHODS_BY_KEY[session.method].steps
    if not step.isdigit() or not 0 <= int(step) < len(steps):
        raise ValidationError({"step": N_("Deze stap bestaat niet.")})
    session.step = int(step)
    session.version += 1
    audit.record(db, actor, "session.step", object_type="session", object_id=session.id)
    return session


async def save_outcome(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, values: Mapping[str, str]
) -> Session:
    session = await member_session(db, actor, session_id)
    form = Form(values)
    conclusions = form.text("conclusions", limit=8000)
    lessons = form.text("lessons", limit=8000)
    form.check()
    _check_version(session, values.get("version", ""))
    session.conclusions = conclusions
    session.lessons = lessons
    session.version += 1
    audit.record(db, actor, "session.update", object_type="session", object_id=session.id)
    return session


async def close_session(
    db: AsyncSession, actor: Actor, session_id: uuid.UUID, seen: str
) -> Session:
    session = await member_session(db, actor, session_id)
    _check_version(session, seen)
    if session.state == SessionState.CLOSED:
        raise Conflict("already closed")
    if not session.lessons.strip():
        raise ValidationError(
            {"lessons": N_("Schrijf eerst op wat de groep heeft geleerd, dan kun je afsluiten.")}
        )
    session.state = SessionState.CLOSED
    session.closed_at = utcnow()
    session.version += 1
    audit.record(db, actor, "session.close", object_type="session", object_id=session.id)
    return session


async def group_sessions(db: AsyncSession, group_id: uuid.UUID) -> list[Session]:
    return list(
        await db.scalars(
            select(Session)
            .where(Session.group_id == group_id)
            .order_by(Session.held_on.desc(), Session.created_at.desc())
        )
    )


# -- annotations ------------------------------------------------------------------------------

ANNOTATION_FIELDS = ("section_id", "quote", "occurrence", "body", "session_id")


async def add_annotation(
    db: AsyncSession,
    actor: Actor,
    copy_id: uuid.UUID,
    values: Mapping[str, str],
    states: Mapping[uuid.UUID, bytes],
) -> Annotation:
    """Anchor a remark to a quoted passage. ``states`` holds each section document's current
    state (read by the caller from the realtime store): the quote is looked up there, and the
    anchor names its characters, so it stays put while others edit."""
    copy = await member_copy(db, actor, copy_id)
    sections = {str(s.id): s for s in await copy_sections(db, copy.id)}
    form = Form(values)
    section = sections.get(values.get("section_id", ""))
    if section is None:
        form.errors["section_id"] = N_("Kies het deel van de casus waar je opmerking over gaat.")
    quote = form.text(
        "quote", required=N_("Kopieer de woorden waar je opmerking over gaat."), limit=1000
    )
    body = form.text("body", required=N_("Schrijf je opmerking op."), limit=4000)
    occurrence = values.get("occurrence", "") or "1"
    if not occurrence.isdigit() or int(occurrence) < 1:
        form.errors["occurrence"] = N_("Vul een getal in: 1 voor de eerste keer dat het er staat.")
        occurrence = "1"
    session_id: uuid.UUID | None = None
    if values.get("session_id"):
        try:
            session = await member_session(db, actor, uuid.UUID(values["session_id"]))
            session_id = session.id if session.copy_id == copy.id else None
        except (ValueError, NotFound):
            session_id = None
    anchor: anchors.Anchor | None = None
    if section is not None and quote:
        state = states.get(section.id, b"")
        text = anchors.resolve_all(state, [])[0]
        start = anchors.find_quote(text, quote, int(occurrence))
        if start is None:
            form.errors["quote"] = N_(
                "Deze woorden staan niet (meer) zo in de tekst. Kopieer ze precies."
            )
        else:
            anchor = anchors.anchor(state, start, start + len(quote))
    form.check()
    assert section is not None and anchor is not None
    annotation = Annotation(
        copy_id=copy.id,
        section_id=section.id,
        session_id=session_id,
        author_id=actor.user.id if actor.user else None,
        body=body,
        quote=quote,
        start=anchor.start,
        end=anchor.end,
    )
    db.add(annotation)
    await db.flush()
    audit.record(db, actor, "annotation.create", object_type="copy", object_id=copy.id)
    return annotation


async def copy_annotations(db: AsyncSession, copy_id: uuid.UUID) -> list[Annotation]:
    return list(
        await db.scalars(
            select(Annotation)
            .where(Annotation.copy_id == copy_id)
            .order_by(Annotation.created_at, Annotation.id)
        )
    )


@dataclass(frozen=True)
class Placed:
    """An annotation and where its words are now."""

    annotation: Annotation
    resolved: anchors.Resolved


def place(
    annotations: Sequence[Annotation], section_id: uuid.UUID, state: bytes
) -> tuple[str, list[Placed]]:
    """The section's current text and its annotations, each anchored or detached."""
    mine = [a for a in annotations if a.section_id == section_id]
    text, resolved = anchors.resolve_all(state, [anchors.Anchor(a.start, a.end) for a in mine])
    return text, [Placed(a, r) for a, r in zip(mine, resolved, strict=True)]


def highlight(text: str, placed: Sequence[Placed]) -> list[tuple[str, list[int]]]:
    """The text cut at every anchored annotation's ends: (piece, numbers of the annotations
    that cover it), numbers counting from 1 in ``placed`` order."""
    cuts = {0, len(text)}
    for p in placed:
        if not p.resolved.detached:
            cuts.update((p.resolved.start, p.resolved.end))
    points = sorted(cuts)
    out = []
    for a, b in itertools.pairwise(points):
        covering = [
            n
            for n, p in enumerate(placed, 1)
            if not p.resolved.detached and p.resolved.start <= a and b <= p.resolved.end
        ]
        out.append((text[a:b], covering))
    return out
