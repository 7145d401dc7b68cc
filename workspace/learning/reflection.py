"""Reflection logs and the manager's review: domain functions (session + actor, check, validate,
mutate, audit; never commit).

**Team** means the organisation: a professional's manager is every user with the manager role
in the same organisation, and their team is the professionals of that organisation. It is the
unit Kring already knows for every user, and the one the seeds give managers ("leidinggevenden
faciliteren leren"); a group across organisations learns through intervision instead.

Entries are private by default. Sharing one (with the manager, or with the team, which
includes the manager) stores a second, pseudonymised version of it, made by its author, who
may see the case: names, addresses, numbers and dates that identify the household are
replaced. Managers and colleagues only ever read that version - never the entry itself and
never its case - and every read is audited. A reflection they may not read answers the same
404 as one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace import audit
from workspace.access import Actor, case_access
from workspace.cases.actions import my_cases
from workspace.errors import Conflict, NotFound, ValidationError
from workspace.i18n import N_
from workspace.learning import methods
from workspace.learning.models import Audience, Group, Member, Reflection, Response, Session
from workspace.learning.models import SessionState as SessionStateEnum
from workspace.learning.pseudonym import (
    Known,
    PersonInfo,
    Pseudonymiser,
    name_parts,
    person_labels,
)
from workspace.models import Case, Organisation, Participant, Person, User, UserRole, utcnow
from workspace.plan.actions import Form

PROMPT_FIELDS = tuple(f"p-{p.key}" for p in methods.PROMPTS)
REFLECTION_FIELDS = (
    "title",
    "body",
    "case_id",
    "question",
    "signal",
    "audience",
    "more_tags",
    *PROMPT_FIELDS,
)


def require_professional(actor: Actor) -> User:
    if actor.user is None or actor.user.role != UserRole.PROFESSIONAL:
        raise NotFound("reflection logs are for professionals")
    return actor.user


def require_manager(actor: Actor) -> User:
    if actor.user is None or actor.user.role != UserRole.MANAGER:
        raise NotFound("the review is for managers")
    return actor.user


# -- writing ----------------------------------------------------------------------------------


def _tags(chosen: Sequence[str], more: str, form: Form) -> list[str]:
    tags: list[str] = []
    for raw in [*chosen, *more.replace(";", ",").split(",")]:
        tag = " ".join(raw.strip().lower().lstrip("#").split())
        if tag and tag not in tags:
            tags.append(tag)
    if any(len(t) > methods.MAX_TAG for t in tags):
        form.errors["more_tags"] = N_("Een label is hoogstens 30 tekens.")
    if len(tags) > methods.MAX_TAGS:
        form.errors["more_tags"] = N_("Kies hoogstens 8 labels.")
    return tags


async def _case_for(db: AsyncSession, actor: Actor, raw: str, form: Form) -> uuid.UUID | None:
    if not raw:
        return None
    try:
        who = await case_access(db, actor, uuid.UUID(raw))
    except (ValueError, NotFound):
        form.errors["case_id"] = N_("Kies een gezin waarin je meedoet, of 'algemeen'.")
        return None
    return who.case.id


async def _identifiers(db: AsyncSession, actor: Actor, case_id: uuid.UUID | None) -> list[Known]:
    """What identifies the households this entry may be about: its case, or - for a general
    entry - every case its author takes part in. Names become role labels where one person
    has the name, "[naam]" where several do."""
    case_ids = [case_id] if case_id else [case.id for case, _ in await my_cases(db, actor)]
    by_value: dict[str, set[str]] = {}
    kinds: dict[str, str] = {}
    for cid in case_ids:
        persons = list(await db.scalars(select(Person).where(Person.case_id == cid)))
        labels = person_labels(
            [PersonInfo(p.name, p.relation, p.kind, p.birth_year) for p in persons]
        )
        for person in persons:
            for part in name_parts(person.name):
                by_value.setdefault(part, set()).add(labels[person.name])
                kinds[part] = "person"
        for participant in await db.scalars(
            select(Participant).where(Participant.case_id == cid, Participant.user_id.is_not(None))
        ):
            assert participant.user is not None
            if actor.user is not None and participant.user_id == actor.user.id:
                continue  # the author's own name is no secret to their manager
            for part in name_parts(participant.user.name):
                by_value.setdefault(part, set()).add("een collega")
                kinds[part] = "professional"
        case = await db.get(Case, cid)
        if case is not None:
            by_value.setdefault(case.title, set()).add("[gezin]")
            kinds[case.title] = "case"
    known = [
        Known(value, next(iter(labels)) if len(labels) == 1 else "[naam]", kinds[value])
        for value, labels in by_value.items()
    ]
    known += [
        Known(o.name, f"[{o.kind or 'organisatie'}]", "organisation")
        for o in await db.scalars(select(Organisation))
        if actor.user is None or o.id != actor.user.organisation_id
    ]
    return known


async def _shared_version(db: AsyncSession, actor: Actor, reflection: Reflection) -> dict[str, Any]:
    engine = Pseudonymiser(await _identifiers(db, actor, reflection.case_id), shift_days=None)
    return {
        "title": engine.apply(reflection.title),
        "body": engine.apply(reflection.body),
        "answers": {k: engine.apply(v) for k, v in reflection.answers.items()},
        "question": engine.apply(reflection.question),
        "signal": engine.apply(reflection.signal),
        "tags": list(reflection.tags),
        "about_a_case": reflection.case_id is not None,
    }


def _read_form(values: Mapping[str, str], tags: Sequence[str]) -> tuple[Form, dict[str, Any]]:
    form = Form(values)
    data: dict[str, Any] = {
        "title": form.line("title", limit=200),
        "body": form.text("body", limit=8000),
        "answers": {
            p.key: answer
            for p in methods.PROMPTS
            if (answer := form.text(f"p-{p.key}", limit=4000))
        },
        "question": form.text("question", limit=2000),
        "signal": form.text("signal", limit=2000),
        "audience": form.choice(
            "audience",
            tuple(Audience),
            N_("Kies met wie je dit deelt: niemand, je leidinggevende of je team."),
        ),
        "tags": _tags(tags, values.get("more_tags", ""), form),
    }
    if not (data["body"] or data["answers"] or data["question"] or data["signal"]):
        form.errors["body"] = N_(
            "Schrijf iets op: je reflectie, of een antwoord op een van de vragen."
        )
    return form, data


async def write_reflection(
    db: AsyncSession, actor: Actor, values: Mapping[str, str], tags: Sequence[str]
) -> Reflection:
    user = require_professional(actor)
    form, data = _read_form(values, tags)
    case_id = await _case_for(db, actor, values.get("case_id", ""), form)
    form.check()
    reflection = Reflection(author_id=user.id, case_id=case_id, **data)
    db.add(reflection)
    await db.flush()
    await _share(db, actor, reflection)
    audit.record(db, actor, "reflection.create", object_type="reflection", object_id=reflection.id)
    return reflection


async def update_reflection(
    db: AsyncSession,
    actor: Actor,
    reflection_id: uuid.UUID,
    values: Mapping[str, str],
    tags: Sequence[str],
) -> Reflection:
    reflection = await own_reflection(db, actor, reflection_id)
    form, data = _read_form(values, tags)
    case_id = await _case_for(db, actor, values.get("case_id", ""), form)
    form.check()
    if str(reflection.version) != values.get("version", "").strip():
        raise Conflict("stale reflection form")
    for key, value in data.items():
        setattr(reflection, key, value)
    reflection.case_id = case_id
    reflection.updated_at = utcnow()
    reflection.version += 1
    await _share(db, actor, reflection)
    audit.record(db, actor, "reflection.update", object_type="reflection", object_id=reflection.id)
    return reflection


async def _share(db: AsyncSession, actor: Actor, reflection: Reflection) -> None:
    """Keep the shared version in step with the entry and its audience."""
    if reflection.audience == Audience.PRIVATE:
        reflection.shared = {}
        reflection.shared_at = None
        return
    reflection.shared = await _shared_version(db, actor, reflection)
    reflection.shared_at = utcnow()


async def own_reflection(db: AsyncSession, actor: Actor, reflection_id: uuid.UUID) -> Reflection:
    user = require_professional(actor)
    reflection = await db.get(Reflection, reflection_id)
    if reflection is None or reflection.author_id != user.id:
        raise NotFound("no such reflection of this author")
    return reflection


async def my_reflections(db: AsyncSession, actor: Actor) -> list[Reflection]:
    user = require_professional(actor)
    return list(
        await db.scalars(
            select(Reflection)
            .where(Reflection.author_id == user.id)
            .order_by(Reflection.created_at.desc())
        )
    )


# -- reading what others shared ---------------------------------------------------------------


def _may_read(reader: User, reflection: Reflection) -> bool:
    """The rule, in one place: the author; a manager of the author's organisation for entries
    shared with the manager or the team; a colleague in it for entries shared with the team."""
    if reflection.author_id == reader.id:
        return True
    org = reflection.author.organisation_id
    if org is None or reader.organisation_id != org or not reflection.shared:
        return False
    if reader.role == UserRole.MANAGER:
        return reflection.audience in (Audience.MANAGER, Audience.TEAM)
    if reader.role == UserRole.PROFESSIONAL:
        return reflection.audience == Audience.TEAM
    return False


async def shared_reflection(db: AsyncSession, actor: Actor, reflection_id: uuid.UUID) -> Reflection:
    """A reflection someone else shared with ``actor``. Unshared, someone else's, missing:
    the same NotFound. The read is audited here."""
    if actor.user is None:
        raise NotFound("not signed in as a user")
    reflection = await db.get(Reflection, reflection_id)
    if (
        reflection is None
        or reflection.author_id == actor.user.id
        or not _may_read(actor.user, reflection)
    ):
        raise NotFound("no such reflection shared with this reader")
    audit.record(db, actor, "reflection.read", object_type="reflection", object_id=reflection.id)
    return reflection


async def _shared_in_org(
    db: AsyncSession, org_id: uuid.UUID | None, audiences: Sequence[str], since: datetime | None
) -> list[Reflection]:
    if org_id is None:
        return []
    stmt = (
        select(Reflection)
        .join(User, User.id == Reflection.author_id)
        .where(User.organisation_id == org_id, Reflection.audience.in_(audiences))
        .order_by(Reflection.shared_at.desc())
    )
    if since is not None:
        stmt = stmt.where(Reflection.shared_at >= since)
    return [r for r in await db.scalars(stmt) if r.shared]


async def team_reflections(db: AsyncSession, actor: Actor) -> list[Reflection]:
    """Colleagues' entries shared with the team. Each one shown is audited as read."""
    user = require_professional(actor)
    found = [
        r
        for r in await _shared_in_org(db, user.organisation_id, (Audience.TEAM,), None)
        if r.author_id != user.id
    ]
    audit.record(db, actor, "team.view", object_type="organisation", object_id=user.organisation_id)
    for r in found:
        audit.record(db, actor, "reflection.read", object_type="reflection", object_id=r.id)
    return found


async def responses(db: AsyncSession, reflection_id: uuid.UUID) -> list[Response]:
    return list(
        await db.scalars(
            select(Response)
            .where(Response.reflection_id == reflection_id)
            .order_by(Response.created_at, Response.id)
        )
    )


async def respond(
    db: AsyncSession, actor: Actor, reflection_id: uuid.UUID, values: Mapping[str, str]
) -> Response:
    """A response to a shared entry (or the author's reply to one): never a verdict, never
    edited afterwards."""
    if actor.user is None:
        raise NotFound("not signed in as a user")
    reflection = await db.get(Reflection, reflection_id)
    if reflection is None or not _may_read(actor.user, reflection):
        raise NotFound("no such reflection shared with this reader")
    if reflection.author_id == actor.user.id and reflection.audience == Audience.PRIVATE:
        raise NotFound("a private entry has nobody to reply to")
    form = Form(values)
    body = form.text("response", required=N_("Schrijf je reactie op."), limit=4000)
    form.check()
    response = Response(reflection_id=reflection.id, author_id=actor.user.id, body=body)
    db.add(response)
    await db.flush()
    audit.record(db, actor, "reflection.respond", object_type="reflection", object_id=reflection.id)
    return response


async def raise_signal(db: AsyncSession, actor: Actor, reflection_id: uuid.UUID) -> Reflection:
    """A manager marks a signal as taken to policy makers ("geagendeerd")."""
    require_manager(actor)
    reflection = await shared_reflection(db, actor, reflection_id)
    if not reflection.shared.get("signal"):
        raise ValidationError({"signal": N_("Deze reflectie heeft geen signaal om te agenderen.")})
    if reflection.signal_raised_at is None:
        reflection.signal_raised_at = utcnow()
        audit.record(
            db, actor, "reflection.signal", object_type="reflection", object_id=reflection.id
        )
    return reflection


# -- the manager's review ---------------------------------------------------------------------


@dataclass
class Review:
    """What a manager may see: only the shared versions of their team's entries."""

    reflections: list[Reflection]
    since: date

    @property
    def questions(self) -> list[Reflection]:
        return [r for r in self.reflections if r.shared.get("question")]

    @property
    def signals(self) -> list[Reflection]:
        return [r for r in self.reflections if r.shared.get("signal")]

    def themes_by_month(self) -> dict[str, dict[str, int]]:
        """month ("2026-11") -> prompt key -> how many entries answered it."""
        out: dict[str, dict[str, int]] = {}
        for r in self.reflections:
            month = _month(r)
            for key in r.shared.get("answers", {}):
                out.setdefault(month, {}).setdefault(key, 0)
                out[month][key] += 1
        return out

    def tags_by_month(self, top: int = 6) -> tuple[list[str], dict[str, dict[str, int]]]:
        """The ``top`` most used tags, and month -> tag -> count for them."""
        totals: dict[str, int] = {}
        for r in self.reflections:
            for tag in r.shared.get("tags", []):
                totals[tag] = totals.get(tag, 0) + 1
        chosen = [t for t, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]
        out: dict[str, dict[str, int]] = {}
        for r in self.reflections:
            for tag in r.shared.get("tags", []):
                if tag in chosen:
                    out.setdefault(_month(r), {}).setdefault(tag, 0)
                    out[_month(r)][tag] += 1
        return chosen, out


def _month(r: Reflection) -> str:
    at = r.shared_at or r.created_at
    return at.strftime("%Y-%m")


def _since(since: date) -> datetime:
    return datetime.combine(since, time(0), tzinfo=UTC)


async def review(db: AsyncSession, actor: Actor, since: date) -> Review:
    """The manager's review of their team's shared entries since ``since``. Every entry it
    shows is audited as read."""
    manager = require_manager(actor)
    found = await _shared_in_org(
        db, manager.organisation_id, (Audience.MANAGER, Audience.TEAM), _since(since)
    )
    audit.record(
        db, actor, "review.view", object_type="organisation", object_id=manager.organisation_id
    )
    for r in found:
        audit.record(db, actor, "reflection.read", object_type="reflection", object_id=r.id)
    return Review(found, since)


@dataclass
class Digest:
    """Lessons and signals for the team's learning meeting."""

    since: date
    until: date
    lessons: list[Session]
    signals: list[Reflection]
    questions: list[Reflection]


async def digest(db: AsyncSession, actor: Actor, since: date, until: date) -> Digest:
    """Lessons of closed intervision sessions of groups with a member in the manager's team,
    and the team's shared signals and open questions. Audited like every read."""
    manager = require_manager(actor)
    start, end = _since(since), _since(until + timedelta(days=1))  # ``until`` included
    shared = [
        r
        for r in await _shared_in_org(
            db, manager.organisation_id, (Audience.MANAGER, Audience.TEAM), start
        )
        if r.shared_at is not None and r.shared_at < end
    ]
    groups = (
        select(Member.group_id)
        .join(User, User.id == Member.user_id)
        .where(User.organisation_id == manager.organisation_id)
    )
    lessons = (
        [
            s
            for s in await db.scalars(
                select(Session)
                .join(Group, Group.id == Session.group_id)
                .where(
                    Session.group_id.in_(groups),
                    Session.state == SessionStateEnum.CLOSED,
                    Session.held_on >= since,
                    Session.held_on <= until,
                )
                .order_by(Session.held_on)
            )
            if s.lessons.strip()
        ]
        if manager.organisation_id is not None
        else []
    )
    audit.record(
        db, actor, "digest.export", object_type="organisation", object_id=manager.organisation_id
    )
    for r in shared:
        audit.record(db, actor, "reflection.read", object_type="reflection", object_id=r.id)
    for s in lessons:
        audit.record(db, actor, "session.read", object_type="session", object_id=s.id)
    return Digest(
        since,
        until,
        lessons,
        [r for r in shared if r.shared.get("signal")],
        [r for r in shared if r.shared.get("question")],
    )
