"""What learning offers, in one place an organisation can adapt: the intervision methods and
their steps, the reflection prompts (the seeds' own questions), suggested tags, and limits.

Keys are stored with sessions and reflections: keep a key once it is in use; titles and
texts may change. All text is Dutch source text, marked for translation."""

from __future__ import annotations

from dataclasses import dataclass

from workspace.i18n import N_

GROUP_MIN = 4
GROUP_MAX = 8

#: How long a released copy may live at most, and by default (pseudonymised data is still
#: personal data: it is kept no longer than the group needs it).
COPY_MAX_DAYS = 183
COPY_DEFAULT_DAYS = 56


@dataclass(frozen=True)
class Step:
    title: str
    hint: str


@dataclass(frozen=True)
class Method:
    key: str
    title: str
    summary: str
    steps: tuple[Step, ...]


METHODS: tuple[Method, ...] = (
    Method(
        "incident",
        N_("Incidentmethode"),
        N_("Eén inbrenger, één concrete situatie. De groep vraagt door en leert van elkaar."),
        (
            Step(N_("Inbreng"), N_("De inbrenger vertelt kort over de situatie en de vraag.")),
            Step(
                N_("Informatievragen"),
                N_("Alleen vragen om het te begrijpen. Nog geen adviezen of meningen."),
            ),
            Step(N_("Vraag scherp"), N_("Wat is de vraag nu precies? De inbrenger kiest.")),
            Step(
                N_("Ieder aan het woord"),
                N_("Iedereen zegt wat hij of zij zou doen, en waarom. De inbrenger luistert."),
            ),
            Step(N_("Reactie inbrenger"), N_("Wat neemt de inbrenger mee? Wat niet, en waarom?")),
            Step(N_("Lessen"), N_("Wat leren we hiervan, ook voor andere gezinnen?")),
        ),
    ),
    Method(
        "balint",
        N_("Balint"),
        N_(
            "Aandacht voor de relatie tussen professional en gezin: wat roept deze situatie "
            "bij ons op?"
        ),
        (
            Step(N_("Vertellen"), N_("De inbrenger vertelt vrij, zonder aantekeningen.")),
            Step(N_("Verheldering"), N_("Korte vragen over de feiten.")),
            Step(
                N_("Terugtreden"),
                N_(
                    "De inbrenger luistert alleen. De groep praat over gevoelens, beelden en "
                    "wat de relatie met het gezin doet."
                ),
            ),
            Step(N_("Terugkomen"), N_("De inbrenger vertelt wat hem of haar raakte.")),
            Step(N_("Lessen"), N_("Wat nemen we mee naar ons werk?")),
        ),
    ),
    Method(
        "dilemma",
        N_("Moreel beraad (dilemmamethode)"),
        N_("Een moreel dilemma: twee goede dingen die niet allebei kunnen."),
        (
            Step(N_("Casus"), N_("Wat is er aan de hand? Wie zijn erbij betrokken?")),
            Step(
                N_("Dilemma"),
                N_("Formuleer het dilemma: moet ik A doen of B? Wat verlies je bij elk?"),
            ),
            Step(N_("Perspectieven"), N_("Wie heeft hier belang bij? Wat vindt ieder van hen?")),
            Step(N_("Waarden en normen"), N_("Welke waarden staan op het spel, bij A en bij B?")),
            Step(N_("Alternatieven"), N_("Is er een derde weg?")),
            Step(N_("Afweging"), N_("Wat kies je, waarom, en hoe beperk je de schade?")),
            Step(N_("Acties en lessen"), N_("Wat doen we nu? Wat leren we?")),
        ),
    ),
)
METHODS_BY_KEY = {m.key: m for m in METHODS}


@dataclass(frozen=True)
class Prompt:
    key: str
    title: str
    question: str


#: The seeds' questions for reflection (Handelingskader: "het besef dat hij/zij het mis kan
#: hebben", "do no harm", ethische dilemma's). Each answered prompt is a theme of the entry.
PROMPTS: tuple[Prompt, ...] = (
    Prompt(
        "normen",
        N_("Eigen normen en waarden"),
        N_("Welke eigen normen en waarden speelden mee? Wat vond je vanzelfsprekend?"),
    ),
    Prompt("twijfel", N_("Twijfel"), N_("Waar twijfelde je over?")),
    Prompt("ongemak", N_("Ongemak"), N_("Wat voelde ongemakkelijk? Hoe ging je daarmee om?")),
    Prompt("mis", N_("Kan ik het mis hebben?"), N_("Wat als het anders is dan je denkt?")),
    Prompt(
        "schade",
        N_("Doet onze hulp schade?"),
        N_("Kan onze hulp (of het wachten erop) schade doen? Is ingrijpen erger dan niet?"),
    ),
    Prompt("dilemma", N_("Ethisch dilemma"), N_("Welke twee goede dingen botsten?")),
)
PROMPTS_BY_KEY = {p.key: p for p in PROMPTS}

#: Offered as one-click tags; professionals may add their own.
SUGGESTED_TAGS = (
    "wachtlijst",
    "samenwerking",
    "veiligheid",
    "taal",
    "cultuur",
    "armoede",
    "schulden",
    "wonen",
    "regels",
    "tijdsdruk",
    "kinderen",
    "netwerk",
)

MAX_TAGS = 8
MAX_TAG = 30

AUDIENCE_LABELS = {
    "private": N_("Alleen ik"),
    "manager": N_("Ik en mijn leidinggevende"),
    "team": N_("Mijn team (collega's en leidinggevende)"),
}

#: Shown beside the response form: learning, not judging (Handelingskader, facilitation).
RESPONSE_HINTS = (
    N_("Vraag naar beweegredenen, niet naar goed of fout."),
    N_("Wat heb je nodig om hiermee verder te kunnen?"),
    N_("Wat neem je mee, en wat kan het team hiervan leren?"),
)
