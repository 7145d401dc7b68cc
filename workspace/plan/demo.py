"""The Bakker family's living plan for ``kring demo`` (shared/demo-case.md): written through
the same domain functions as the web forms, so it is validated and audited like real work."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from workspace.access import CaseAccess
from workspace.models import Participant, Person
from workspace.notes import section_document
from workspace.plan import actions
from workspace.plan.actions import AudienceInput
from workspace.plan.models import EntryKind, Section

#: Section texts, by (catalogue key, first name of the person or "").
TEXTS = {
    ("wat-gebeurde", ""): (
        "Sinds Erik zijn baan kwijt is, is er steeds vaker ruzie over geld.\n\n"
        "Vorige maand liep een ruzie uit de hand: Erik gooide een stoel. De buurman belde de "
        "politie. Veilig Thuis heeft het lokaal team gevraagd om met het gezin verder te gaan.\n\n"
        "Het gezin woont aan de Lindelaan 14, 3521 AB Utrecht. Linda is bereikbaar op "
        "06-12345678 en linda.bakker@example.nl.\n\n"
        "**Wat moet stoppen:** het schreeuwen, het gooien met spullen, en dat de kinderen "
        "bang zijn in hun eigen huis."
    ),
    ("perspectief", "Linda"): "Het schreeuwen en het gooien met spullen.",
    ("perspectief", "Erik"): (
        "Ik wil niet meer ontploffen, maar niemand luistert als ik over geld begin."
    ),
    ("perspectief", "Noor"): "Dat ik 's nachts wakker lig omdat ik bang ben dat het weer gebeurt.",
    ("veiligheidsplan", ""): (
        "- Bij gevaar: bel **112**.\n"
        "- Oma Ria (10 minuten lopen, Merelstraat 8) heeft 's nachts haar telefoon aan: "
        "06-41235987.\n"
        "- Fatima (lokaal team) is op werkdagen bereikbaar: 030-2345678 of "
        "f.elidrissi@lokaalteamzuid.example; daarbuiten de crisisdienst."
    ),
    ("zorgen-krachten", ""): (
        "**Zorgen:** spanning over schulden; Noor slaapt slecht; Sem zegt weinig.\n\n"
        "**Krachten:** Linda en Erik willen allebei dat het stopt; oma Ria en buurman Hasan "
        "staan klaar; Noor (geboren 14-02-2013) praat met de schoolmaatschappelijk werker van "
        "het Nova College. Sem (geboren 3 juni 2018) zit in groep 5 van Basisschool De "
        "Regenboog, bij meester Van Dijk."
    ),
    ("risico-geld", ""): "Schulden sinds het ontslag van Erik. Aanmelding bij de schuldhulp loopt.",
    ("risico-werk", ""): "Erik is sinds vier maanden werkloos en zit veel thuis.",
    ("risico-psychisch", ""): "Erik heeft veel stress; hij praat er met Petra (GGZ) over.",
    ("beschermend", ""): "Oma Ria, buurman Hasan, Kees, en Noors school.",
}


async def seed(
    db: AsyncSession, fatima: CaseAccess, joost: CaseAccess, petra: CaseAccess
) -> dict[str, tuple[str, str]]:
    """Fill the plan; returns {document: (text, author)} to store as co-edited text."""
    case_id = fatima.case.id
    today = date.today()
    await actions.ensure_sections(db, case_id)
    persons = {
        p.name.split()[0]: p
        for p in await db.scalars(select(Person).where(Person.case_id == case_id))
    }
    participants = {
        p.display_name.split()[0]: p
        for p in await db.scalars(select(Participant).where(Participant.case_id == case_id))
    }
    texts: dict[str, tuple[str, str]] = {}
    author = f"participant:{fatima.participant.id}"
    for section in await db.scalars(select(Section).where(Section.case_id == case_id)):
        name = section.person.name.split()[0] if section.person is not None else ""
        text = TEXTS.get((section.key, name))
        if text:
            texts[section_document(case_id, section.id)] = (text, author)

    # A safety plan the person who used violence does not see (dwingende controle).
    extra = await actions.add_section(
        db,
        fatima,
        {"phase": "1", "title": "Veiligheidsplan van Linda en de kinderen"},
        AudienceInput("except", (str(persons["Erik"].id),)),
    )
    texts[section_document(case_id, extra.id)] = (
        "Als het thuis onveilig voelt, gaan Linda, Noor en Sem naar oma Ria. "
        "De reservesleutel ligt bij buurman Hasan.",
        author,
    )

    for what, who_does, when, checker, if_fails in (
        (
            "Als Erik de spanning voelt oplopen, gaat hij naar buiten en belt hij Kees.",
            "Erik",
            "als de spanning oploopt",
            "Kees; elke week belt hij met Fatima",
            "Linda belt oma Ria of Fatima.",
        ),
        (
            "Noor en Sem mogen altijd naar oma Ria. Oma houdt 's nachts haar telefoon aan.",
            "oma Ria",
            "altijd, ook 's nachts",
            "Fatima vraagt het Noor elke week",
            "Noor belt 112.",
        ),
        (
            "Over geld praten Linda en Erik alleen in het wekelijkse gesprek met de "
            "schuldhulpverlener.",
            "Linda en Erik",
            "elke dinsdag",
            "de schuldhulpverlener",
            "Het gesprek stopt; Fatima plant een nieuw gesprek.",
        ),
    ):
        await actions.add_agreement(
            db,
            fatima,
            {
                "phase": "1",
                "what": what,
                "who_does": who_does,
                "when": when,
                "checker": checker,
                "if_it_fails": if_fails,
            },
            AudienceInput(),
        )

    await actions.add_incident(
        db,
        fatima,
        {
            "occurred_on": (today - timedelta(days=33)).isoformat(),
            "what": "Ruzie over geld; Erik gooide een stoel. De buurman belde de politie.",
            "reported_by": "buurman Hasan (via Veilig Thuis)",
        },
        AudienceInput(),
    )

    question = (await actions.questions(db, case_id))[0]
    for days_ago, values in (
        (21, {"Linda": 4, "Erik": 6, "Noor": 3, "Fatima": 4, "Joost": 3}),
        (7, {"Linda": 5, "Erik": 6, "Noor": 4, "Fatima": 5, "Joost": 4}),
    ):
        await actions.add_scores(
            db,
            fatima,
            {
                "question_id": str(question.id),
                "asked_on": (today - timedelta(days=days_ago)).isoformat(),
                **{f"score-{participants[n].id}": str(v) for n, v in values.items()},
            },
        )

    decision = await actions.propose_decision(
        db,
        fatima,
        {
            "phase": "1",
            "kind": "core",
            "question": "Vrijwillig kader voortzetten?",
            "proposal": "We gaan vrijwillig verder met het gezin, met de veiligheidsafspraken.",
            "grounds": (
                "Linda en Erik werken mee en de afspraken worden nagekomen. Er was geen nieuw "
                "incident sinds de melding."
            ),
            "regime": "vrijwillig",
            "decider": "Fatima (regisseur) samen met Linda en Erik",
            "counter_id": str(joost.participant.id),
            "principle-hoor-wederhoor": "Linda, Erik en Noor zijn gehoord; hun woorden staan in het plan.",
            "principle-subsidiariteit": "Vrijwillig is het lichtste kader dat nu werkt.",
            "principle-proportionaliteit": "Het geweld is gestopt; zwaardere middelen zijn nu niet nodig.",
        },
        AudienceInput(),
    )
    await actions.add_entry(
        db,
        joost,
        decision.id,
        EntryKind.DISSENT,
        {
            "text": (
                "Noor is nog steeds bang en de schulden zijn niet opgelost. Is vrijwillig genoeg "
                "als het weer misgaat? Ik wil een duidelijke grens: bij een nieuw incident "
                "bespreken we direct inzet van bevoegdheden."
            )
        },
    )
    for name, text in (
        ("Linda", "Wij willen het zelf doen, met hulp. We houden ons aan de afspraken."),
        ("Erik", "Ik snap de zorg. Ik wil laten zien dat het lukt. Help ons met het geld."),
    ):
        await actions.add_entry(
            db,
            fatima,
            decision.id,
            EntryKind.RESPONSE,
            {"text": text, "author_id": str(participants[name].id)},
        )

    evaluation = await actions.add_evaluation(
        db,
        petra,
        {
            "phase": "1",
            "plan": "Afspraak: Erik gaat naar buiten en belt Kees als de spanning oploopt.",
            "do": "Erik deed dit twee keer. Kees nam beide keren op.",
            "check": "Geen nieuw incident. Scores van Linda en Noor gingen omhoog.",
            "act": "Erik oefent met Petra wat hij eerder kan merken.",
        },
        AudienceInput(),
    )
    # Shown as overdue in the demo: the next evaluation should have been last week.
    evaluation.next_on = today - timedelta(days=3)
    return texts
