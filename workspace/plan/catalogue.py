"""What a plan holds: the phases, their sections, reasoning steps and principles.

The one place an organisation adapts the plan's shape. Section keys are stored with each
section (``plan_sections.key``), so keep a key once it is in use; titles and hints may change.
All text is Dutch source text, marked for translation."""

from __future__ import annotations

from dataclasses import dataclass

from workspace.i18n import N_


@dataclass(frozen=True)
class Phase:
    number: int
    title: str
    #: The result that closes the phase (GSV).
    result: str


PHASES = (
    Phase(
        1,
        N_("Directe veiligheid"),
        N_(
            "Het geweld, misbruik of de verwaarlozing is gestopt, en veiligheidsafspraken zorgen "
            "dat het gestopt blijft. De spanning neemt af."
        ),
    ),
    Phase(
        2,
        N_("Stabiele veiligheid"),
        N_(
            "Een half jaar zonder incidenten, en de belangrijkste risicofactoren maken de "
            "veiligheid in de relaties niet meer kapot."
        ),
    ),
    Phase(
        3,
        N_("Duurzame veiligheid door herstel"),
        N_(
            "Iedereen heeft een eigen herstelplan, met zelfgekozen doelen voor welzijn, groei en "
            "meedoen."
        ),
    ),
)

#: The reasoning steps of every phase: guidance, never a checklist that blocks.
REASONING_STEPS = (
    (N_("Vraagverheldering"), N_("Wat is de vraag precies? Wat willen we weten?")),
    (N_("Analyse"), N_("Wat gebeurt er, en waardoor? Wat zegt ieder zelf?")),
    (N_("Weging"), N_("Hoe ernstig is het? Wat weegt zwaar, wat minder?")),
    (N_("Oordeelsvorming"), N_("Wat vinden we ervan, en waarom? Kan het ook anders zijn?")),
    (N_("Prioritering"), N_("Wat moet eerst?")),
    (N_("Besluitvorming"), N_("Wat besluiten we, met welke redenen, en wie is gehoord?")),
    (N_("Acties bepalen"), N_("Wie doet wat, wanneer?")),
    (N_("Uitvoering"), N_("Doen wat is afgesproken.")),
    (N_("Evaluatie"), N_("Werkt het? Wat zeggen de scores en de incidenten?")),
    (N_("Bijstelling"), N_("Wat veranderen we?")),
    (N_("Borging"), N_("Hoe houden we vast wat goed gaat?")),
)


@dataclass(frozen=True)
class SectionKind:
    key: str
    phase: int
    title: str
    hint: str
    #: One section per household or network member who takes part ("Zo ziet Noor het").
    per_person: bool = False
    #: For per-person sections: the title with the person's first name in it.
    person_title: str = ""
    #: Only household members get one (not the network), e.g. a recovery plan.
    household_only: bool = False


LIFE_DOMAINS = (
    ("wonen", N_("Wonen")),
    ("werk", N_("Werk en dagbesteding")),
    ("geld", N_("Inkomen en schulden")),
    ("psychisch", N_("Psychische gezondheid")),
    ("verslaving", N_("Verslaving")),
    ("beperking", N_("Beperking")),
    ("relatie", N_("Relatie")),
    ("opvoeding", N_("Opvoeding")),
    ("trauma", N_("Trauma")),
    ("anders", N_("Anders")),
)

SECTIONS: tuple[SectionKind, ...] = (
    SectionKind(
        "wat-gebeurde",
        1,
        N_("Wat er gebeurde en wat moet stoppen"),
        N_("In gewone woorden: wat is er gebeurd, en wat moet er stoppen?"),
    ),
    SectionKind(
        "perspectief",
        1,
        N_("Zo ziet ieder het"),
        N_("In je eigen woorden: wat is er volgens jou gebeurd, en wat moet er stoppen?"),
        per_person=True,
        person_title=N_("Zo ziet %(name)s het"),
    ),
    SectionKind(
        "veiligheidsplan",
        1,
        N_("Veiligheidsplan"),
        N_(
            "Wat doen we als het misgaat? Wie bel je, waar kun je heen? Zet hier ook de "
            "telefoonnummers die je nodig hebt."
        ),
    ),
    SectionKind(
        "zorgen-krachten",
        1,
        N_("Zorgen en krachten"),
        N_("Waar maken we ons zorgen over? En wat gaat er goed, wat kan dit gezin?"),
    ),
    *(
        SectionKind(
            f"risico-{key}",
            2,
            title,
            N_("Wat in dit deel van het leven maakt dat het onveilig kan worden? Wat helpt al?"),
        )
        for key, title in LIFE_DOMAINS
    ),
    SectionKind(
        "beschermend",
        2,
        N_("Wat beschermt"),
        N_("Mensen, plekken en gewoontes die helpen om het veilig te houden."),
    ),
    SectionKind(
        "herstelplan",
        3,
        N_("Herstelplan"),
        N_("Mijn eigen doelen. Wie helpt mij? Hoe merken we dat het lukt?"),
        per_person=True,
        person_title=N_("Herstelplan van %(name)s"),
        household_only=True,
    ),
)

SECTIONS_BY_KEY = {s.key: s for s in SECTIONS}

#: The principles every decision is tested against (organised dissent is one of them).
PRINCIPLES = (
    ("hoor-wederhoor", N_("Hoor en wederhoor"), N_("Wie is gehoord, en wat zeiden zij?")),
    ("tegenspraak", N_("Kritische tegenspraak"), N_("Wie sprak tegen, en wat is daarop gezegd?")),
    ("transparantie", N_("Transparantie"), N_("Weet het gezin wat er besloten wordt en waarom?")),
    ("navolgbaarheid", N_("Navolgbaarheid"), N_("Kan iemand anders de redenering volgen?")),
    ("rechtsgelijkheid", N_("Rechtsgelijkheid"), N_("Zou een ander gezin hetzelfde besluit krijgen?")),
    ("subsidiariteit", N_("Subsidiariteit"), N_("Is dit het lichtste middel dat werkt?")),
    (
        "proportionaliteit",
        N_("Proportionaliteit"),
        N_("Past wat we doen bij hoe ernstig het is?"),
    ),
    ("legitimiteit", N_("Legitimiteit"), N_("Op welke wettelijke grond rust dit besluit?")),
)
PRINCIPLE_KEYS = tuple(key for key, _, _ in PRINCIPLES)

REGIME_LABELS = {
    "vrijwillig": N_("Vrijwillig"),
    "bevoegdheden": N_("Inzet bevoegdheden"),
    "maatregel": N_("Juridische maatregel"),
}
REGIME_HINTS = {
    "vrijwillig": N_("Het gezin werkt vrijwillig mee."),
    "bevoegdheden": N_("Het regionaal veiligheidsteam zet zijn bevoegdheden in."),
    "maatregel": N_("Er is een maatregel van de rechter (of de burgemeester)."),
}

AGREEMENT_STATUS_LABELS = {
    "agreed": N_("Afgesproken"),
    "going_well": N_("Gaat goed"),
    "not_working": N_("Lukt niet"),
    "ended": N_("Gestopt"),
}

DECISION_STATE_LABELS = {
    "draft": N_("Voorstel"),
    "dissent": N_("In tegenspraak"),
    "taken": N_("Genomen"),
    "withdrawn": N_("Ingetrokken"),
}
DECISION_KIND_LABELS = {"ordinary": N_("Besluit"), "core": N_("Kernbeslissing")}

AUDIENCE_LABELS = {
    "all": N_("Iedereen in dit plan"),
    "professionals": N_("Alleen professionals"),
    "except": N_("Iedereen behalve:"),
}

DEFAULT_QUESTION = N_("Hoe veilig is het thuis?")

#: Phase 2's clock: half a year without incidents (shown, never enforced).
QUIET_DAYS_FOR_PHASE_2 = 182
