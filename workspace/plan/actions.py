"""Family plan domain functions: take a session and a CaseAccess, check access, validate,
mutate, audit. They never commit and never see a Request; the view owns the transaction and
publishes ``PlanChanged`` after commit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace import audit
from workspace.access import Action, CaseAccess
from workspace.errors import Conflict, NotFound, ValidationError
from workspace.i18n import N_, Label
from workspace.models import CaseRole, Participant, Person, PersonKind, utcnow
from workspace.plan import catalogue
from workspace.plan.models import (
    Agreement,
    AgreementStatus,
    Audience,
    Audienced,
    Decision,
    DecisionEntry,
    DecisionKind,
    DecisionState,
    EntryKind,
    Evaluation,
    Incident,
    Milestone,
    Regime,
    Score,
    ScoreQuestion,
    Section,
)
from workspace.plan.visibility import can_see, excluded_ids

MAX_LINE = 200
MAX_TEXT = 4000


@dataclass(frozen=True)
class PlanChanged:
    """Published after commit. ``what`` names the fragment that changed (e.g. "agreements-1");
    every open screen of the case re-fetches it with its own permissions.

    It carries the changed item's audience: the live channel tells nobody outside it that
    anything changed (that it happened, and when, is itself something the excluded person
    must not learn). ``agreement``: observers follow agreements, nothing else."""

    case_id: uuid.UUID
    what: str
    audience: str = Audience.ALL
    excluded: tuple[str, ...] = ()
    agreement: bool = False

    @classmethod
    def about(
        cls, case_id: uuid.UUID, what: str, item: Audienced | None, *, agreement: bool = False
    ) -> PlanChanged:
        if item is None:
            return cls(case_id, what, agreement=agreement)
        return cls(case_id, what, item.audience, tuple(item.excluded or ()), agreement)


# -- input cleaning -------------------------------------------------------------------------


def _line(value: object, limit: int = MAX_LINE) -> str:
    text = "".join(ch for ch in str(value or "") if ch.isprintable())
    return " ".join(text.split())[: limit + 1]


def _text(value: object, limit: int = MAX_TEXT) -> str:
    """Multi-line text: keep line breaks, drop other control characters, trim."""
    raw = str(value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in raw if ch.isprintable() or ch == "\n")
    return text.strip()[: limit + 1]


class Form:
    """Collects one Dutch message per field while cleaning a form's values."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.errors: dict[str, str] = {}

    def line(self, name: str, *, required: str = "", limit: int = MAX_LINE) -> str:
        value = _line(self.values.get(name), limit)
        if required and not value:
            self.errors[name] = required
        elif len(value) > limit:
            self.errors[name] = N_("Dit is te lang. Maak het korter.")
        return value

    def text(self, name: str, *, required: str = "", limit: int = MAX_TEXT) -> str:
        value = _text(self.values.get(name), limit)
        if required and not value:
            self.errors[name] = required
        elif len(value) > limit:
            self.errors[name] = N_("Dit is te lang. Maak het korter.")
        return value

    def choice(self, name: str, options: Sequence[str], message: str) -> str:
        value = str(self.values.get(name) or "")
        if value not in options:
            self.errors[name] = message
        return value

    def day(self, name: str, *, required: bool = True, not_future: bool = False) -> date | None:
        raw = str(self.values.get(name) or "").strip()
        if not raw:
            if required:
                self.errors[name] = N_("Vul een datum in, bijvoorbeeld 2026-11-23.")
            return None
        try:
            value = date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = N_(
                "Dit is geen datum. Schrijf hem als jaar-maand-dag, bijvoorbeeld 2026-11-23."
            )
            return None
        if not_future and value > date.today():
            self.errors[name] = N_("Deze datum ligt in de toekomst.")
        if value.year < 1900:
            self.errors[name] = N_(
                "Dit is geen datum. Schrijf hem als jaar-maand-dag, bijvoorbeeld 2026-11-23."
            )
        return value

    def phase(self, name: str = "phase") -> int:
        raw = str(self.values.get(name) or "")
        if raw not in ("1", "2", "3"):
            self.errors[name] = N_("Kies fase 1, 2 of 3.")
            return 1
        return int(raw)

    def check(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


@dataclass(frozen=True)
class AudienceInput:
    audience: str = Audience.ALL
    excluded: tuple[str, ...] = ()


async def _case_person_ids(db: AsyncSession, case_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await db.scalars(select(Person.id).where(Person.case_id == case_id)))


async def _audience(
    db: AsyncSession, who: CaseAccess, chosen: AudienceInput, form: Form
) -> tuple[str, list[str]]:
    """The audience a form asked for. Only those who may set audiences can narrow one;
    everyone else's records are for everyone in the plan."""
    if not who.can(Action.SET_AUDIENCE):
        return Audience.ALL, []
    if chosen.audience not in tuple(Audience):
        form.errors["audience"] = N_("Kies wie dit mag zien.")
        return Audience.ALL, []
    ticked = excluded_ids(chosen.excluded, await _case_person_ids(db, who.case.id))
    if chosen.audience == Audience.ALL and ticked:
        # Someone was ticked under "Wie mag dit zien?" while the choice stayed on "Iedereen":
        # the tick is what they meant. Saving it for everyone would show it to that person.
        return Audience.EXCEPT, ticked
    if chosen.audience == Audience.PROFESSIONALS and ticked:
        form.errors["audience"] = N_(
            "Je koos 'Alleen professionals' en vinkte ook mensen aan. Kies een van de twee."
        )
        return Audience.PROFESSIONALS, []
    if chosen.audience != Audience.EXCEPT:
        return chosen.audience, []
    excluded = ticked
    if not excluded:
        form.errors["audience"] = N_("Kies wie dit niet mag zien.")
    return Audience.EXCEPT, excluded


def _require_visible(who: CaseAccess, item: Audienced | None, *, agreement: bool = False) -> Any:
    """A missing record and one outside the reader's audience get the same answer."""
    if item is None or not can_see(who, item, agreement=agreement):
        raise NotFound("no such record, or not for this reader")
    return item


async def meeting_link(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str]
) -> uuid.UUID | None:
    """The meeting a form was sent from (``meeting_id``), if it is this case's open meeting:
    records made there are linked to it and end up in its minutes. Anything else links
    nothing (a stale meeting page never attaches a record to a closed meeting)."""
    from workspace.meetings.models import Meeting, MeetingState

    raw = str(values.get("meeting_id") or "")
    if not raw:
        return None
    try:
        meeting = await db.get(Meeting, uuid.UUID(raw))
    except ValueError:
        return None
    if meeting is None or meeting.case_id != who.case.id or meeting.state != MeetingState.OPEN:
        return None
    return meeting.id


def _check_version(item: Any, seen: str) -> None:
    if str(item.version) != str(seen).strip():
        raise Conflict(f"stale form: version {seen!r}, now {item.version}")


# -- sections -------------------------------------------------------------------------------


async def ensure_sections(db: AsyncSession, case_id: uuid.UUID) -> None:
    """Create the catalogue's sections this case lacks (one per person where the catalogue
    says so). Idempotent: each has a unique slot."""
    existing = set(await db.scalars(select(Section.slot).where(Section.case_id == case_id)))
    persons = list(
        await db.scalars(
            select(Person).where(Person.case_id == case_id).order_by(Person.created_at)
        )
    )
    for position, kind in enumerate(catalogue.SECTIONS):
        if not kind.per_person:
            if kind.key not in existing:
                db.add(
                    Section(
                        case_id=case_id,
                        phase=kind.phase,
                        key=kind.key,
                        slot=kind.key,
                        position=position * 100,
                        excluded=[],
                    )
                )
            continue
        for offset, person in enumerate(persons):
            if kind.household_only and person.kind != PersonKind.HOUSEHOLD:
                continue
            slot = f"{kind.key}:{person.id}"
            if slot not in existing:
                db.add(
                    Section(
                        case_id=case_id,
                        phase=kind.phase,
                        key=kind.key,
                        slot=slot,
                        person_id=person.id,
                        position=position * 100 + offset + 1,
                        excluded=[],
                    )
                )
    await db.flush()


def section_label(section: Section) -> Label:
    """A section's name in the reader's language: the catalogue's title (per-person sections
    with the person's name in it, e.g. "Zo ziet mevrouw Yildiz het"), or the title someone
    typed for an added section, shown as typed."""
    if section.title:
        return Label.user(section.title)
    kind = catalogue.SECTIONS_BY_KEY.get(section.key)
    if kind is None:
        return Label.user(section.key)
    if kind.per_person and section.person is not None:
        return Label(kind.person_title, {"name": section.person.name})
    return Label(kind.title)


#: Every title the catalogue gives a section: what stored minutes may hold as a message.
CATALOGUE_TITLES = frozenset(
    title for kind in catalogue.SECTIONS for title in (kind.title, kind.person_title) if title
)


async def add_section(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], chosen: AudienceInput
) -> Section:
    """An extra co-edited section with its own audience (e.g. a safety plan that the person
    using violence must not see): its text lives in its own Yjs document."""
    who.require(Action.SET_AUDIENCE)
    form = Form(values)
    phase = form.phase()
    title = form.line("title", required=N_("Geef dit deel een titel."))
    audience, excluded = await _audience(db, who, chosen, form)
    form.check()
    section = Section(
        case_id=who.case.id,
        phase=phase,
        key="extra",
        slot=f"extra:{uuid.uuid4()}",
        title=title,
        position=10_000,
        audience=audience,
        excluded=excluded,
    )
    db.add(section)
    await db.flush()
    audit.record(db, who, "section.create", object_type="section", object_id=section.id)
    return section


async def get_section(db: AsyncSession, who: CaseAccess, section_id: uuid.UUID) -> Section:
    section = await db.get(Section, section_id)
    if section is None or section.case_id != who.case.id:
        raise NotFound("no such section")
    result: Section = _require_visible(who, section)
    return result


async def set_section_audience(
    db: AsyncSession, who: CaseAccess, section_id: uuid.UUID, chosen: AudienceInput, seen: str
) -> Section:
    who.require(Action.SET_AUDIENCE)
    section = await get_section(db, who, section_id)
    _check_version(section, seen)
    form = Form({})
    section.audience, section.excluded = await _audience(db, who, chosen, form)
    form.check()
    section.version += 1
    audit.record(db, who, "section.audience", object_type="section", object_id=section.id)
    return section


# -- agreements -----------------------------------------------------------------------------

AGREEMENT_FIELDS = ("phase", "what", "who_does", "when", "checker", "if_it_fails")


async def add_agreement(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], chosen: AudienceInput
) -> Agreement:
    who.require(Action.ADD_RECORD)
    form = Form(values)
    phase = form.phase()
    what = form.text("what", required=N_("Schrijf op wat er is afgesproken."), limit=1000)
    who_does = form.line("who_does", required=N_("Schrijf op wie het doet."))
    when = form.line("when")
    checker = form.line("checker", required=N_("Schrijf op wie controleert of het lukt."))
    if_it_fails = form.text("if_it_fails", limit=1000)
    audience, excluded = await _audience(db, who, chosen, form)
    form.check()
    agreement = Agreement(
        case_id=who.case.id,
        phase=phase,
        what=what,
        who_does=who_does,
        when=when,
        checker=checker,
        if_it_fails=if_it_fails,
        audience=audience,
        excluded=excluded,
        created_by_id=who.participant.id,
        updated_by_id=who.participant.id,
        meeting_id=await meeting_link(db, who, values),
    )
    db.add(agreement)
    await db.flush()
    audit.record(db, who, "agreement.create", object_type="agreement", object_id=agreement.id)
    return agreement


async def set_agreement_status(
    db: AsyncSession, who: CaseAccess, agreement_id: uuid.UUID, status: str, seen: str
) -> Agreement:
    who.require(Action.ADD_RECORD)
    agreement = _require_visible(who, await _in_case(db, who, Agreement, agreement_id))
    _check_version(agreement, seen)
    if status not in tuple(AgreementStatus):
        raise ValidationError({"status": N_("Kies hoe het met deze afspraak gaat.")})
    agreement.status = status
    agreement.version += 1
    agreement.updated_at = utcnow()
    agreement.updated_by_id = who.participant.id
    audit.record(db, who, "agreement.update", object_type="agreement", object_id=agreement.id)
    assert isinstance(agreement, Agreement)
    return agreement


async def _in_case(db: AsyncSession, who: CaseAccess, model: Any, item_id: uuid.UUID) -> Any:
    item = await db.get(model, item_id)
    if item is None or item.case_id != who.case.id:
        return None
    return item


# -- incidents ------------------------------------------------------------------------------


async def add_incident(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], chosen: AudienceInput
) -> Incident:
    who.require(Action.ADD_RECORD)
    form = Form(values)
    occurred_on = form.day("occurred_on", not_future=True)
    what = form.text("what", required=N_("Schrijf op wat er gebeurde."), limit=2000)
    reported_by = form.line("reported_by") or who.participant.display_name
    audience, excluded = await _audience(db, who, chosen, form)
    form.check()
    assert occurred_on is not None
    incident = Incident(
        case_id=who.case.id,
        phase=who.case.phase,
        occurred_on=occurred_on,
        what=what,
        reported_by=reported_by,
        audience=audience,
        excluded=excluded,
        created_by_id=who.participant.id,
        meeting_id=await meeting_link(db, who, values),
    )
    db.add(incident)
    await db.flush()
    audit.record(db, who, "incident.create", object_type="incident", object_id=incident.id)
    return incident


# -- scores ---------------------------------------------------------------------------------


async def questions(db: AsyncSession, case_id: uuid.UUID) -> list[ScoreQuestion]:
    """The plan's scaling questions; "Hoe veilig is het thuis?" always comes first."""
    found = list(
        await db.scalars(
            select(ScoreQuestion)
            .where(ScoreQuestion.case_id == case_id)
            .order_by(ScoreQuestion.position, ScoreQuestion.created_at)
        )
    )
    if not any(q.text == catalogue.DEFAULT_QUESTION for q in found):
        default = ScoreQuestion(case_id=case_id, text=catalogue.DEFAULT_QUESTION, position=0)
        db.add(default)
        await db.flush()
        found.insert(0, default)
    return found


async def add_question(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str]
) -> ScoreQuestion:
    who.require(Action.EVALUATE)
    form = Form(values)
    text = form.line(
        "question", required=N_("Schrijf de vraag op, bijvoorbeeld: Hoe gaat het met geld?")
    )
    existing = {q.text for q in await questions(db, who.case.id)}
    if text in existing:
        form.errors["question"] = N_("Deze vraag staat er al.")
    form.check()
    question = ScoreQuestion(case_id=who.case.id, text=text, position=len(existing) + 1)
    db.add(question)
    await db.flush()
    audit.record(db, who, "question.create", object_type="question", object_id=question.id)
    return question


async def scorable(db: AsyncSession, who: CaseAccess) -> list[Participant]:
    """Whose score ``who`` may fill in: their own, and - for professionals - everyone's."""
    if not who.can(Action.SCORE_FOR_OTHERS):
        return [who.participant] if who.can(Action.ADD_RECORD) else []
    return list(
        await db.scalars(
            select(Participant)
            .where(Participant.case_id == who.case.id, Participant.revoked_at.is_(None))
            .order_by(Participant.added_at)
        )
    )


async def add_scores(db: AsyncSession, who: CaseAccess, values: Mapping[str, str]) -> list[Score]:
    """One round of answers: field ``score-<participant id>`` holds 0-10 or is left empty."""
    who.require(Action.ADD_RECORD)
    form = Form(values)
    asked_on = form.day("asked_on", not_future=True)
    question_ids = {str(q.id): q for q in await questions(db, who.case.id)}
    question = question_ids.get(str(values.get("question_id") or ""))
    if question is None:
        form.errors["question_id"] = N_("Kies een vraag.")
    allowed = {str(p.id): p for p in await scorable(db, who)}
    given: list[tuple[Participant, int]] = []
    for name, raw in values.items():
        if not name.startswith("score-") or not str(raw).strip():
            continue
        participant = allowed.get(name.removeprefix("score-"))
        if participant is None:
            form.errors[name] = N_("Je kunt alleen je eigen score invullen.")
            continue
        text = str(raw).strip()
        if not text.isdigit() or not 0 <= int(text) <= 10:
            form.errors[name] = N_("Kies een getal van 0 tot en met 10.")
            continue
        given.append((participant, int(text)))
    if not given and not any(k.startswith("score-") for k in form.errors):
        form.errors["scores"] = N_("Vul minstens één score in.")
    form.check()
    assert asked_on is not None and question is not None
    meeting_id = await meeting_link(db, who, values)
    scores = []
    for participant, value in given:
        score = Score(
            case_id=who.case.id,
            phase=who.case.phase,
            question_id=question.id,
            participant_id=participant.id,
            value=value,
            asked_on=asked_on,
            recorded_by_id=who.participant.id,
            excluded=[],
            meeting_id=meeting_id,
        )
        db.add(score)
        scores.append(score)
    await db.flush()
    for score in scores:
        audit.record(
            db,
            who,
            "score.create",
            object_type="score",
            object_id=score.id,
            on_behalf_of=score.participant_id
            if score.participant_id != who.participant.id
            else None,
        )
    return scores


# -- decisions ------------------------------------------------------------------------------

DECISION_FIELDS = (
    "phase",
    "kind",
    "question",
    "proposal",
    "grounds",
    "regime",
    "new_regime",
    "closes_phase",
    "decider",
    "counter_id",
    *(f"principle-{key}" for key in catalogue.PRINCIPLE_KEYS),
)


async def propose_decision(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], chosen: AudienceInput
) -> Decision:
    who.require(Action.PROPOSE_DECISION)
    form = Form(values)
    phase = form.phase()
    kind = form.choice("kind", tuple(DecisionKind), N_("Kies: besluit of kernbeslissing."))
    question = form.text(
        "question", required=N_("Schrijf de vraag op waarover besloten wordt."), limit=1000
    )
    proposal = form.text("proposal", required=N_("Schrijf op wat het voorstel is."))
    grounds = form.text("grounds", required=N_("Schrijf op waarom: de redenen voor dit besluit."))
    regime = form.choice("regime", tuple(Regime), N_("Kies het kader waarin dit besluit valt."))
    new_regime = str(values.get("new_regime") or "") or None
    if new_regime is not None:
        if new_regime not in tuple(Regime):
            form.errors["new_regime"] = N_("Kies het nieuwe kader, of laat dit leeg.")
        elif new_regime == who.case.regime:
            form.errors["new_regime"] = N_(
                "Dit is al het kader. Laat dit leeg als het kader blijft."
            )
        elif kind != DecisionKind.CORE:
            # The step between regimes passes through a core decision (TKG).
            form.errors["kind"] = N_("Een ander kader kiezen kan alleen met een kernbeslissing.")
    closes_raw = str(values.get("closes_phase") or "")
    closes_phase = None
    if closes_raw:
        if closes_raw != str(who.case.phase) or who.case.phase >= 3:
            form.errors["closes_phase"] = N_(
                "Alleen de huidige fase (1 of 2) kan worden afgesloten."
            )
        else:
            closes_phase = int(closes_raw)
            if phase != closes_phase:
                form.errors["phase"] = N_("Een besluit dat een fase afsluit hoort bij die fase.")
    decider = form.line("decider", required=N_("Schrijf op wie dit besluit neemt."))
    counter_id: uuid.UUID | None = None
    counter_raw = str(values.get("counter_id") or "")
    if counter_raw:
        counter = await _participant(db, who, counter_raw)
        if counter is None:
            form.errors["counter_id"] = N_("Kies iemand die meedoet aan dit plan.")
        else:
            counter_id = counter.id
    elif kind == DecisionKind.CORE:
        form.errors["counter_id"] = N_(
            "Bij een kernbeslissing spreekt altijd iemand tegen. Kies wie."
        )
    principles = {}
    for key in catalogue.PRINCIPLE_KEYS:
        text = form.text(f"principle-{key}", limit=1000)
        if text:
            principles[key] = text
    audience, excluded = await _audience(db, who, chosen, form)
    form.check()
    decision = Decision(
        case_id=who.case.id,
        phase=phase,
        kind=kind,
        question=question,
        proposal=proposal,
        grounds=grounds,
        regime=regime,
        new_regime=new_regime,
        closes_phase=closes_phase,
        decider=decider,
        counter_id=counter_id,
        principles=principles,
        audience=audience,
        excluded=excluded,
        created_by_id=who.participant.id,
        meeting_id=await meeting_link(db, who, values),
    )
    db.add(decision)
    await db.flush()
    audit.record(db, who, "decision.create", object_type="decision", object_id=decision.id)
    return decision


async def _participant(db: AsyncSession, who: CaseAccess, raw: str) -> Participant | None:
    try:
        participant_id = uuid.UUID(raw)
    except ValueError:
        return None
    participant = await db.get(Participant, participant_id)
    if participant is None or participant.case_id != who.case.id or participant.revoked_at:
        return None
    return participant


async def get_decision(db: AsyncSession, who: CaseAccess, decision_id: uuid.UUID) -> Decision:
    decision: Decision = _require_visible(who, await _in_case(db, who, Decision, decision_id))
    return decision


@dataclass
class Thread:
    """A decision's entries, current versions with the versions they replaced."""

    entries: list[DecisionEntry]
    #: entry id -> the entry that corrected it
    corrected_by: dict[uuid.UUID, DecisionEntry] = field(default_factory=dict)
    #: dissent id -> its (current) answers
    answers: dict[uuid.UUID, list[DecisionEntry]] = field(default_factory=dict)

    def current(self, kind: EntryKind) -> list[DecisionEntry]:
        return [e for e in self.entries if e.kind == kind and e.id not in self.corrected_by]

    def unanswered(self) -> list[DecisionEntry]:
        return [d for d in self.current(EntryKind.DISSENT) if not self.answers.get(d.id)]

    def history(self, entry: DecisionEntry) -> list[DecisionEntry]:
        """The earlier versions of ``entry``, newest first."""
        by_id = {e.id: e for e in self.entries}
        out = []
        previous = entry.supersedes_id
        while previous is not None and previous in by_id:
            out.append(by_id[previous])
            previous = by_id[previous].supersedes_id
        return out


async def thread(db: AsyncSession, decision_id: uuid.UUID) -> Thread:
    entries = list(
        await db.scalars(
            select(DecisionEntry)
            .where(DecisionEntry.decision_id == decision_id)
            .order_by(DecisionEntry.created_at, DecisionEntry.id)
        )
    )
    result = Thread(entries)
    for entry in entries:
        if entry.supersedes_id is not None:
            result.corrected_by[entry.supersedes_id] = entry
    for entry in entries:
        if (
            entry.kind == EntryKind.ANSWER
            and entry.answers_id
            and entry.id not in result.corrected_by
        ):
            result.answers.setdefault(entry.answers_id, []).append(entry)
    return result


async def writes_for_others(db: AsyncSession, who: CaseAccess, values: Mapping[str, str]) -> bool:
    """May ``who`` write down someone else's words (a response, a score)? The coordinator may;
    so may the professional chairing the open meeting this form was sent from."""
    from workspace.meetings.models import Meeting

    if who.role == CaseRole.COORDINATOR:
        return True
    meeting_id = await meeting_link(db, who, values)
    if meeting_id is None or who.role != CaseRole.PROFESSIONAL:
        return False
    meeting = await db.get(Meeting, meeting_id)
    return meeting is not None and meeting.chair_id == who.participant.id


async def writes_down_words(db: AsyncSession, who: CaseAccess) -> bool:
    """May ``who`` write in other people's own sections (their words, written down)? The
    coordinator may; so may the professional chairing an open meeting of the case."""
    from workspace.meetings.models import Meeting, MeetingState

    if who.role == CaseRole.COORDINATOR:
        return True
    if who.role != CaseRole.PROFESSIONAL:
        return False
    chairing = await db.scalar(
        select(Meeting.id).where(
            Meeting.case_id == who.case.id,
            Meeting.state == MeetingState.OPEN,
            Meeting.chair_id == who.participant.id,
        )
    )
    return chairing is not None


def may_write(who: CaseAccess, section: Section, *, for_others: bool) -> bool:
    """Own words stay one's own. A per-person section ("Zo ziet Linda het", her recovery
    plan) is written by that person, or by whoever ``writes_down_words`` (the versions show
    who wrote what). Anyone else may read it and respond elsewhere, never overwrite it."""
    if not who.can(Action.EDIT_NOTES):
        return False
    if section.person_id is None or who.participant.person_id == section.person_id:
        return True
    return for_others


async def may_write_section(db: AsyncSession, who: CaseAccess, section: Section) -> bool:
    """``may_write`` for one section (a page of many asks ``writes_down_words`` once)."""
    for_others = section.person_id is not None and await writes_down_words(db, who)
    return may_write(who, section, for_others=for_others)


ENTRY_ACTIONS = {
    EntryKind.DISSENT: Action.DISSENT,
    EntryKind.ANSWER: Action.ANSWER_DISSENT,
    EntryKind.RESPONSE: Action.RESPOND,
}


async def add_entry(
    db: AsyncSession,
    who: CaseAccess,
    decision_id: uuid.UUID,
    kind: EntryKind,
    values: Mapping[str, str],
) -> DecisionEntry:
    """Record dissent, an answer to dissent, or the household's response - or a correction of
    one (``supersedes``): a new entry, the old one stays and is shown as corrected."""
    for_others = await writes_for_others(db, who, values)
    if not (kind == EntryKind.RESPONSE and for_others):
        who.require(ENTRY_ACTIONS[kind])
    decision = await get_decision(db, who, decision_id)
    form = Form(values)
    text = form.text(
        "text",
        required={
            EntryKind.DISSENT: N_("Schrijf op waarom je het er niet mee eens bent."),
            EntryKind.ANSWER: N_("Schrijf het antwoord op de tegenspraak op."),
            EntryKind.RESPONSE: N_("Schrijf de reactie van het gezin op, in hun eigen woorden."),
        }[kind],
    )
    current = await thread(db, decision.id)
    by_id = {e.id: e for e in current.entries}
    if decision.state == DecisionState.WITHDRAWN:
        form.errors["text"] = N_("Dit besluit is ingetrokken.")
    elif kind == EntryKind.DISSENT and decision.state == DecisionState.TAKEN:
        form.errors["text"] = N_(
            "Dit besluit is al genomen. Stel een nieuw besluit voor als het anders moet."
        )
    supersedes = _entry_ref(values.get("supersedes"), by_id)
    if values.get("supersedes") and (
        supersedes is None or supersedes.kind != kind or supersedes.id in current.corrected_by
    ):
        raise Conflict("correcting an entry that is gone or already corrected")
    author = who.participant
    on_behalf = None
    if supersedes is not None:
        if who.participant.id not in (supersedes.author_id, supersedes.recorded_by_id):
            raise NotFound("only the author or the one who wrote it down corrects an entry")
        author_row = await db.get(Participant, supersedes.author_id)
        assert author_row is not None
        author = author_row
    elif kind == EntryKind.RESPONSE and (
        values.get("author_id") or who.participant.person_id is None
    ):
        # Someone else's words: only the coordinator, or the chair of the open meeting the
        # form came from, writes them down (theirs, recorded by the one who typed them).
        # Everyone else writes as themselves: a member can never speak for another.
        chosen = await _participant(db, who, str(values.get("author_id") or ""))
        if chosen is not None and chosen.id == who.participant.id:
            pass
        elif not for_others:
            form.errors["author_id"] = N_(
                "Je schrijft hier je eigen reactie. Alleen de regisseur of de voorzitter van "
                "het overleg schrijft de woorden van iemand anders op."
            )
        elif chosen is None or chosen.person_id is None:
            form.errors["author_id"] = N_("Kies het gezinslid van wie deze reactie is.")
        else:
            author = chosen
    answers = None
    if kind == EntryKind.ANSWER:
        answers = supersedes.answers_id if supersedes else None
        if answers is None:
            target = _entry_ref(values.get("answers"), by_id)
            if (
                target is None
                or target.kind != EntryKind.DISSENT
                or target.id in current.corrected_by
            ):
                raise Conflict("answering dissent that is gone or was corrected meanwhile")
            answers = target.id
    form.check()
    if author.id != who.participant.id:
        on_behalf = author.id
    entry = DecisionEntry(
        decision_id=decision.id,
        kind=kind,
        answers_id=answers,
        supersedes_id=supersedes.id if supersedes else None,
        author_id=author.id,
        recorded_by_id=who.participant.id if author.id != who.participant.id else None,
        text=text,
        meeting_id=await meeting_link(db, who, values),
    )
    db.add(entry)
    if kind == EntryKind.DISSENT and decision.state == DecisionState.DRAFT:
        decision.state = DecisionState.DISSENT
    decision.version += 1
    await db.flush()
    audit.record(
        db,
        who,
        f"{kind.value}.create" if supersedes is None else f"{kind.value}.correct",
        object_type="decision",
        object_id=decision.id,
        on_behalf_of=on_behalf,
    )
    return entry


def _entry_ref(raw: object, by_id: dict[uuid.UUID, DecisionEntry]) -> DecisionEntry | None:
    try:
        return by_id.get(uuid.UUID(str(raw or "")))
    except ValueError:
        return None


async def open_for_dissent(
    db: AsyncSession, who: CaseAccess, decision_id: uuid.UUID, seen: str
) -> Decision:
    """Draft -> in tegenspraak: the proposal is put to the counter-position and everyone."""
    who.require(Action.PROPOSE_DECISION)
    decision = await get_decision(db, who, decision_id)
    _check_version(decision, seen)
    if decision.state != DecisionState.DRAFT:
        raise Conflict(f"decision is {decision.state}, not a draft")
    decision.state = DecisionState.DISSENT
    decision.version += 1
    audit.record(db, who, "decision.dissent", object_type="decision", object_id=decision.id)
    return decision


class NotReady(ValidationError):
    """A decision that cannot be taken yet, with the reason per field."""


async def take_decision(
    db: AsyncSession, who: CaseAccess, decision_id: uuid.UUID, seen: str
) -> Decision:
    """Take a decision that went through dissent. Refused while any dissent is unanswered.
    A regime change or a phase transition is applied here and marked in the timeline."""
    who.require(Action.DECIDE)
    decision = await get_decision(db, who, decision_id)
    _check_version(decision, seen)
    errors: dict[str, str] = {}
    if decision.state == DecisionState.DRAFT:
        errors["state"] = N_(
            "Leg het voorstel eerst voor aan tegenspraak: zet het op 'in tegenspraak'."
        )
    elif decision.state != DecisionState.DISSENT:
        raise Conflict(f"decision is {decision.state}")
    current = await thread(db, decision.id)
    if current.unanswered():
        errors["dissent"] = N_(
            "Er is tegenspraak zonder antwoord. Beantwoord eerst alle tegenspraak."
        )
    if decision.closes_phase is not None and decision.closes_phase != who.case.phase:
        errors["phase"] = N_("Deze fase is al afgesloten.")
    if decision.new_regime is not None and decision.new_regime == who.case.regime:
        errors["regime"] = N_("Het plan staat al in dit kader.")
    if errors:
        raise NotReady(errors)
    now = utcnow()
    decision.state = DecisionState.TAKEN
    decision.decided_at = now
    decision.decided_by_id = who.participant.id
    decision.version += 1
    case = who.case
    if decision.new_regime is not None:
        db.add(
            Milestone(
                case_id=case.id,
                kind="regime",
                before=case.regime,
                after=decision.new_regime,
                decision_id=decision.id,
                at=now,
            )
        )
        case.regime = decision.new_regime
        audit.record(db, who, "case.regime", object_type="case", object_id=case.id)
    if decision.closes_phase is not None:
        db.add(
            Milestone(
                case_id=case.id,
                kind="phase",
                before=str(case.phase),
                after=str(case.phase + 1),
                decision_id=decision.id,
                at=now,
            )
        )
        case.phase += 1
        audit.record(db, who, "case.phase", object_type="case", object_id=case.id)
    audit.record(db, who, "decision.take", object_type="decision", object_id=decision.id)
    await db.flush()
    return decision


async def withdraw_decision(
    db: AsyncSession, who: CaseAccess, decision_id: uuid.UUID, seen: str
) -> Decision:
    who.require(Action.DECIDE)
    decision = await get_decision(db, who, decision_id)
    _check_version(decision, seen)
    if decision.state in (DecisionState.TAKEN, DecisionState.WITHDRAWN):
        raise Conflict(f"decision is {decision.state}")
    decision.state = DecisionState.WITHDRAWN
    decision.decided_at = utcnow()
    decision.decided_by_id = who.participant.id
    decision.version += 1
    audit.record(db, who, "decision.withdraw", object_type="decision", object_id=decision.id)
    return decision


# -- evaluations ----------------------------------------------------------------------------

EVALUATION_FIELDS = ("phase", "plan", "do", "check", "act", "next_on")


async def add_evaluation(
    db: AsyncSession, who: CaseAccess, values: Mapping[str, str], chosen: AudienceInput
) -> Evaluation:
    who.require(Action.EVALUATE)
    form = Form(values)
    phase = form.phase()
    plan = form.text(
        "plan", required=N_("Schrijf op welke afspraak of welk doel je evalueert."), limit=1000
    )
    do = form.text("do", limit=2000)
    check = form.text("check", required=N_("Schrijf op wat de evaluatie liet zien."), limit=2000)
    act = form.text("act", limit=2000)
    next_on = form.day("next_on", required=False)
    if next_on is not None and next_on < date.today():
        form.errors["next_on"] = N_("De volgende evaluatie ligt in de toekomst.")
    audience, excluded = await _audience(db, who, chosen, form)
    form.check()
    evaluation = Evaluation(
        case_id=who.case.id,
        phase=phase,
        plan=plan,
        do=do,
        check=check,
        act=act,
        next_on=next_on,
        audience=audience,
        excluded=excluded,
        created_by_id=who.participant.id,
        meeting_id=await meeting_link(db, who, values),
    )
    db.add(evaluation)
    await db.flush()
    audit.record(db, who, "evaluation.create", object_type="evaluation", object_id=evaluation.id)
    return evaluation


# -- reading the plan -----------------------------------------------------------------------


@dataclass
class Plan:
    """Everything of one case's plan that ``who`` may see."""

    sections: list[Section]
    agreements: list[Agreement]
    incidents: list[Incident]
    questions: list[ScoreQuestion]
    scores: list[Score]
    decisions: list[Decision]
    evaluations: list[Evaluation]
    milestones: list[Milestone]
    participants: list[Participant]
    persons: list[Person]
    today: date

    def in_phase(self, items: Sequence[Any], phase: int) -> list[Any]:
        return [i for i in items if i.phase == phase]

    @property
    def last_incident(self) -> Incident | None:
        return max(self.incidents, key=lambda i: i.occurred_on, default=None)

    @property
    def quiet_days(self) -> int | None:
        """Days since the last incident this reader may see (None: none recorded)."""
        last = self.last_incident
        return None if last is None else (self.today - last.occurred_on).days

    @property
    def quiet_until(self) -> date | None:
        """When phase 2's half year without incidents is reached, if nothing happens."""
        last = self.last_incident
        if last is None:
            return None
        return last.occurred_on + timedelta(days=catalogue.QUIET_DAYS_FOR_PHASE_2)

    def next_evaluation(self, phase: int) -> date | None:
        """The next evaluation date the newest evaluation of ``phase`` set."""
        evaluations = self.in_phase(self.evaluations, phase)
        newest = max(evaluations, key=lambda e: e.created_at, default=None)
        return newest.next_on if newest is not None else None

    def evaluation_overdue(self, phase: int) -> bool:
        due = self.next_evaluation(phase)
        return due is not None and due < self.today


async def load_plan(db: AsyncSession, who: CaseAccess, *, today: date | None = None) -> Plan:
    """Read the plan as ``who`` may see it. The caller audits the read."""
    case_id = who.case.id
    agreement_only = not who.can(Action.VIEW_PLAN)

    async def rows(model: Any, *order: Any) -> list[Any]:
        found = list(
            await db.scalars(select(model).where(model.case_id == case_id).order_by(*order))
        )
        return [r for r in found if can_see(who, r, agreement=model is Agreement)]

    agreements = await rows(Agreement, Agreement.created_at)
    if agreement_only:
        return Plan([], agreements, [], [], [], [], [], [], [], [], today or date.today())
    await ensure_sections(db, case_id)
    return Plan(
        sections=await rows(Section, Section.phase, Section.position, Section.created_at),
        agreements=agreements,
        incidents=await rows(Incident, Incident.occurred_on.desc(), Incident.created_at.desc()),
        questions=await questions(db, case_id),
        scores=await rows(Score, Score.asked_on, Score.created_at),
        decisions=await rows(Decision, Decision.created_at),
        evaluations=await rows(Evaluation, Evaluation.created_at.desc()),
        milestones=list(
            await db.scalars(
                select(Milestone).where(Milestone.case_id == case_id).order_by(Milestone.at)
            )
        ),
        participants=list(
            await db.scalars(
                select(Participant)
                .where(Participant.case_id == case_id, Participant.revoked_at.is_(None))
                .order_by(Participant.added_at)
            )
        ),
        persons=list(
            await db.scalars(
                select(Person).where(Person.case_id == case_id).order_by(Person.created_at)
            )
        ),
        today=today or date.today(),
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime | date
    kind: str
    title: str
    detail: str
    anchor: str
    marked: bool = False
    #: A page of its own (a meeting), instead of an anchor on the plan.
    link: str = ""


TIMELINE_KINDS = {
    "agreement": N_("Afspraken"),
    "incident": N_("Incidenten"),
    "score": N_("Scores"),
    "decision": N_("Besluiten"),
    "evaluation": N_("Evaluaties"),
    "milestone": N_("Kader en fase"),
    "meeting": N_("Overleggen"),
}


def _sort_key(entry: TimelineEntry) -> datetime:
    at = entry.at
    if isinstance(at, datetime):
        return at
    from datetime import UTC, time

    return datetime.combine(at, time(12), tzinfo=UTC)


def timeline(
    plan: Plan, kinds: set[str] | None = None, extra: Sequence[TimelineEntry] = ()
) -> list[TimelineEntry]:
    """One chronological view of what the reader may see, newest first. ``extra`` holds
    entries from outside the plan's rows (meetings), already checked for this reader."""
    entries: list[TimelineEntry] = list(extra)
    for a in plan.agreements:
        entries.append(
            TimelineEntry(a.created_at, "agreement", a.what, a.who_does, f"agreement-{a.id}")
        )
    for i in plan.incidents:
        entries.append(
            TimelineEntry(i.occurred_on, "incident", i.what, i.reported_by, f"incident-{i.id}")
        )
    rounds: dict[tuple[date, uuid.UUID], list[Score]] = {}
    for s in plan.scores:
        rounds.setdefault((s.asked_on, s.question_id), []).append(s)
    question_text = {q.id: str(q.label) for q in plan.questions}
    for (day, question_id), scores in rounds.items():
        detail = ", ".join(f"{s.participant.display_name} {s.value}" for s in scores)
        entries.append(
            TimelineEntry(day, "score", question_text.get(question_id, ""), detail, "scores")
        )
    for d in plan.decisions:
        entries.append(
            TimelineEntry(d.created_at, "decision", d.question, d.state, f"decision-{d.id}")
        )
    for e in plan.evaluations:
        entries.append(
            TimelineEntry(e.created_at, "evaluation", e.plan, e.check, f"evaluation-{e.id}")
        )
    for m in plan.milestones:
        entries.append(
            TimelineEntry(
                m.at,
                "milestone",
                m.kind,
                f"{m.before} -> {m.after}",
                f"decision-{m.decision_id}",
                marked=True,
            )
        )
    if kinds:
        entries = [e for e in entries if e.kind in kinds]
    return sorted(entries, key=_sort_key, reverse=True)
