"""Pseudonymisation of a case's text for intervision: pure functions, no database.

Two kinds of detection work together:

- **Known values**: what the database says identifies this household - the names of its
  persons and professionals, e-mail addresses, organisations, the case's title. Each is
  replaced by a role label ("moeder", "kind 1", "buurman", "regisseur") or a category in
  brackets ("[school]"). Matching is case-insensitive on word boundaries, longest first, and
  catches the Dutch genitive ("Noors school").
- **Patterns**: what looks identifying whatever the database knows - e-mail addresses,
  phone numbers, BSN-like numbers, bank accounts, postcodes with their place, street
  addresses, schools and organisations by their kind word, a short list of Dutch places, and
  dates, which are shifted by one fixed number of days per copy (so intervals stay true).

Nothing is perfect: capitalised words in the middle of a sentence that nothing explained are
returned as *suggestions*, so the maker reviews them before the copy is released.

The engine works on one text at a time and returns *segments* (original text, and what
replaces it, if anything), so a review page can show both sides with every replacement
highlighted, and the released text is exactly the right-hand side.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

# -- what replaces what ----------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A value the database knows identifies someone, and what stands in its place."""

    value: str
    replacement: str
    kind: str


@dataclass(frozen=True)
class Segment:
    """A piece of the original text; ``replacement`` is None where nothing was replaced."""

    text: str
    replacement: str | None = None
    kind: str = ""

    @property
    def out(self) -> str:
        return self.text if self.replacement is None else self.replacement


@dataclass(frozen=True)
class Replacement:
    original: str
    replacement: str
    kind: str


#: Words that are part of how people are named but identify nobody on their own.
NAME_PARTICLES = frozenset(
    [
        "oma",
        "opa",
        "buurman",
        "buurvrouw",
        "meester",
        "juf",
        "juffrouw",
        "tante",
        "oom",
        "mevrouw",
        "meneer",
        "mw",
        "dhr",
        "mr",
        "dr",
        "de",
        "van",
        "der",
        "den",
        "het",
        "el",
        "al",
        "ter",
        "ten",
        "te",
        "da",
        "di",
        "du",
        "le",
        "la",
        "bin",
        "ben",
        "ibn",
        "op",
        "in",
        "'t",
        "familie",
        "gezin",
    ]
)

#: Children's relations become "kind 1", "kind 2" (oldest first): no sex, no exact age.
CHILD_RELATIONS = frozenset(
    [
        "kind",
        "zoon",
        "dochter",
        "pleegkind",
        "pleegzoon",
        "pleegdochter",
        "stiefkind",
        "stiefzoon",
        "stiefdochter",
        "baby",
    ]
)

#: A short list of places (the largest municipalities and the places of the seeds). It is a
#: safety net, not a gazetteer: the review's suggestions catch the rest.
PLACES = [
    "Amsterdam",
    "Rotterdam",
    "Den",
    "Haag",
    "'s-Gravenhage",
    "Utrecht",
    "Eindhoven",
    "Groningen",
    "Tilburg",
    "Almere",
    "Breda",
    "Nijmegen",
    "Apeldoorn",
    "Haarlem",
    "Arnhem",
    "Enschede",
    "Amersfoort",
    "Zaanstad",
    "Haarlemmermeer",
    "'s-Hertogenbosch",
    "Den",
    "Bosch",
    "Zwolle",
    "Zoetermeer",
    "Leiden",
    "Maastricht",
    "Dordrecht",
    "Ede",
    "Alphen",
    "Westland",
    "Alkmaar",
    "Emmen",
    "Delft",
    "Venlo",
    "Deventer",
    "Sittard",
    "Helmond",
    "Oss",
    "Hilversum",
    "Heerlen",
    "Lelystad",
    "Dronten",
    "Zeewolde",
    "Urk",
    "Emmeloord",
    "Noordoostpolder",
    "Leeuwarden",
    "Purmerend",
    "Schiedam",
    "Roosendaal",
    "Vlaardingen",
    "Gouda",
    "Hoorn",
    "Den",
    "Helder",
    "Assen",
    "Middelburg",
    "Vlissingen",
    "Zaandam",
    "Spijkenisse",
    "Capelle",
    "Nieuwegein",
    "Veenendaal",
    "Zeist",
    "Hengelo",
    "Almelo",
    "Harderwijk",
    "Kampen",
    "Doetinchem",
    "Tiel",
]
_PLACES: tuple[str, ...] = tuple(
    sorted(
        {
            *(p for p in PLACES if p not in ("Den", "Haag", "Bosch", "Helder")),
            "Den Haag",
            "Den Bosch",
            "Den Helder",
        },
        key=len,
        reverse=True,
    )
)

MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)} | {"mrt": 3, "sept": 9, "okt": 10}
_MONTH_NUMBER = {m: i + 1 for i, m in enumerate(MONTHS)} | _MONTH_ABBR

#: Capitalised words that are ordinary in this field's writing: not suggested for review.
ORDINARY_CAPITALISED = frozenset(
    [
        "Veilig",
        "Thuis",
        "Raad",
        "Kinderbescherming",
        "Jeugdbescherming",
        "Gecertificeerde",
        "Instelling",
        "Instellingen",
        "GGZ",
        "Wmo",
        "Jeugdwet",
        "Politie",
        "Fase",
        "Wat",
        "Wie",
        "Als",
        "Bij",
        "Zorgen",
        "Krachten",
        "Het",
        "De",
        "Een",
        "Ik",
        "Wij",
        "We",
        "Zij",
        "Hij",
        "Ze",
        "Er",
        "Dit",
        "Dat",
        "Deze",
        "Die",
        "Sinds",
        "Vorige",
        "Nederlands",
        "Engels",
        "Arabisch",
        "Turks",
        "Pools",
        "Marokkaans",
        "Kerst",
        "Ramadan",
        "Pasen",
        "Suikerfeest",
        "Sinterklaas",
        "Januari",
        "Februari",
        "Maart",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Augustus",
        "September",
        "Oktober",
        "November",
        "December",
        "Maandag",
        "Dinsdag",
        "Woensdag",
        "Donderdag",
        "Vrijdag",
        "Zaterdag",
        "Zondag",
    ]
)


# -- the patterns ----------------------------------------------------------------------------

_W = r"[^\W\d_]"  # a letter, any script
_CAP = r"[A-ZÀ-ÖØ-ÞŁŚŻŹĆŃÇŞĞİÜÖ]"
_NAME_WORD = rf"{_CAP}[\w'’-]*"

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}[ ]?[A-Z]{4}(?:[ ]?\d{2,4}){2,5}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)\d{2}[\s.-]?(?:\(0\)[\s.-]?)?|0)(?:\d[\s.-]?){8}\d(?!\d)"
)
BSN = re.compile(r"(?<!\d)(?<!\d\.)(?:\d{9}|\d{4}\.\d{2}\.\d{3}|\d{3} \d{3} \d{3})(?!\d|\.\d)")
POSTCODE = re.compile(
    rf"\b[1-9]\d{{3}}[ ]?(?!SA|SD|SS)[A-Z]{{2}}\b(?:,?[ ]+{_NAME_WORD}(?:[ -]{_NAME_WORD})*)?"
)
_STREET_ENDINGS = (
    "straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|hof|pad|park|dreef|markt|ring|baan|"
    "plantsoen|erf|wal|dam|veld|hoek|allee|boulevard|lei|zoom|donk|akker|burcht|haven"
)
ADDRESS = re.compile(
    rf"(?<![\w-])(?:{_NAME_WORD}[ ]+(?:(?:van|de|der|den|het|ter|ten)[ ]+)*)*"
    rf"{_CAP}[\w'’-]*?(?:{_STREET_ENDINGS})[ ]+\d{{1,4}}(?:[ ]?[a-zA-Z](?![\w]))?(?:[-/]\d{{1,4}})?"
)
_AFTER_KIND = rf"(?:(?:[Dd]e|[Hh]et|'t|[Dd]en)[ ]+)?{_NAME_WORD}(?:[ ]+{_NAME_WORD})*"
SCHOOL = re.compile(
    r"(?<!\w)(?i:openbare basisschool|christelijke basisschool|basisschool|school|obs|cbs|"
    r"rkbs|pcbs|kindcentrum|ikc|sbo|vso|college|lyceum|gymnasium|scholengemeenschap|"
    r"kinderopvang|kinderdagverblijf|bso|peuterspeelzaal)[ ]+" + _AFTER_KIND
)
SCHOOL_AFTER = re.compile(
    rf"(?<![\w-])(?!(?:Het|De|Een|Wat|Op|In|Naar|Van|Bij|Dit|Die|Deze)\b){_NAME_WORD}"
    rf"(?:[ ]+{_NAME_WORD})*[ ]+(?:College|Lyceum|Gymnasium|Scholengemeenschap|"
    r"Basisschool|School|Kindcentrum)(?![\w-])"
)
ORGANISATION = re.compile(
    r"(?<!\w)(?i:stichting|zorggroep|woningcorporatie|woonstichting|ziekenhuis|"
    r"huisartsenpraktijk|praktijk|vereniging|kerk|moskee|sportclub|voetbalclub)[ ]+" + _AFTER_KIND
)
PLACE = re.compile(r"(?<![\w'-])(?:" + "|".join(re.escape(p) for p in _PLACES) + r")(?![\w-])")
BIRTH_YEAR = re.compile(r"(?i:geboren|geb\.)(?:[ ]+in)?[ ]+(?:19|20)\d{2}\b")

DATE_DMY = re.compile(r"(?<![\d-])(\d{1,2})([-/.])(\d{1,2})\2((?:19|20)\d{2})(?!\d)")
DATE_ISO = re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)")
DATE_WORDS = re.compile(
    r"(?<!\w)(\d{1,2})[ ]+(?i:("
    + "|".join(MONTHS)
    + r"|(?:jan|feb|mrt|apr|jun|jul|aug|sept|sep|okt|nov|dec)\.?))"
    r"(?:[ ]+((?:19|20)\d{2}))?(?!\w)"
)

_SUGGEST = re.compile(rf"{_NAME_WORD}")


def _dmy(separator: str) -> Callable[[date], str]:
    return lambda d: d.strftime(f"%d{separator}%m{separator}%Y")


def _in_words(with_year: bool) -> Callable[[date], str]:
    return lambda d: f"{d.day} {MONTHS[d.month - 1]}" + (f" {d.year}" if with_year else "")


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    replacement: str
    kind: str
    priority: int


class Pseudonymiser:
    """Replaces what identifies a household in a text. One per copy: the date shift and the
    labels stay the same across every text of the copy. ``shift_days=None`` hides dates
    ("[datum]") instead of shifting them."""

    def __init__(self, known: Sequence[Known], *, shift_days: int | None) -> None:
        self.shift = None if shift_days is None else timedelta(days=shift_days)
        # Longest first, so "Linda Bakker" wins over "Linda" and over "Bakker".
        by_value: dict[str, Known] = {}
        for item in sorted(known, key=lambda k: len(k.value), reverse=True):
            value = " ".join(item.value.split())
            if len(value) >= 2 and value.casefold() not in by_value:
                by_value[value.casefold()] = Known(value, item.replacement, item.kind)
        self.known = by_value
        self._known_pattern: re.Pattern[str] | None = None
        if by_value:
            alternatives = "|".join(
                re.escape(k.value).replace(r"\ ", r"\s+")
                for k in sorted(by_value.values(), key=lambda k: len(k.value), reverse=True)
            )
            self._known_pattern = re.compile(
                rf"(?<![\w@.])({alternatives})(['’]s|s)?(?![\w@])", re.IGNORECASE
            )

    # -- detection ---------------------------------------------------------------------------

    def _hits(self, text: str) -> Iterator[_Hit]:
        if self._known_pattern is not None:
            for m in self._known_pattern.finditer(text):
                known = self.known.get(" ".join(m.group(1).split()).casefold())
                if known is None:
                    continue
                suffix = m.group(2) or ""
                replacement = known.replacement + ("’s" if suffix else "")
                yield _Hit(m.start(), m.end(), replacement, known.kind, 0)
        for m in EMAIL.finditer(text):
            # Before the known values: an address holds a name, the whole address must go.
            yield _Hit(m.start(), m.end(), "[e-mailadres]", "email", -1)
        for pattern, replacement, kind in (
            (IBAN, "[rekeningnummer]", "iban"),
            (PHONE, "[telefoonnummer]", "phone"),
            (BSN, "[BSN]", "bsn"),
            (POSTCODE, "[postcode en woonplaats]", "address"),
            (ADDRESS, "[adres]", "address"),
            (SCHOOL, "[school]", "school"),
            (SCHOOL_AFTER, "[school]", "school"),
            (ORGANISATION, "[organisatie]", "organisation"),
            (PLACE, "[woonplaats]", "place"),
            (BIRTH_YEAR, "geboren in [jaar]", "date"),
        ):
            for m in pattern.finditer(text):
                yield _Hit(m.start(), m.end(), replacement, kind, 1)
        for m in DATE_DMY.finditer(text):
            day, sep, month, year = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
            yield self._date_hit(m, (year, month, day), _dmy(sep))
        for m in DATE_ISO.finditer(text):
            ymd = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            yield self._date_hit(m, ymd, lambda d: d.isoformat())
        for m in DATE_WORDS.finditer(text):
            month = _MONTH_NUMBER.get(m.group(2).lower().rstrip("."), 0)
            year_text = m.group(3)
            # Without a year, a leap day may not exist in the year used: 2000 has one.
            year = int(year_text) if year_text else 2000
            yield self._date_hit(m, (year, month, int(m.group(1))), _in_words(bool(year_text)))

    def _date_hit(
        self, m: re.Match[str], ymd: tuple[int, int, int], fmt: Callable[[date], str]
    ) -> _Hit:
        try:
            if self.shift is None:
                raise ValueError("dates are hidden")
            shifted = date(*ymd) + self.shift
        except ValueError:
            return _Hit(m.start(), m.end(), "[datum]", "date", 1)
        return _Hit(m.start(), m.end(), fmt(shifted), "date", 1)

    def segments(self, text: str) -> list[Segment]:
        """The text cut into kept and replaced pieces. Overlaps: the earliest start wins, then
        an e-mail address, then a known value (its role label says more than a category), then
        the longest match."""
        hits = sorted(self._hits(text), key=lambda h: (h.start, h.priority, -(h.end - h.start)))
        out: list[Segment] = []
        position = 0
        for hit in hits:
            if hit.start < position or hit.end <= hit.start:
                continue
            if hit.start > position:
                out.append(Segment(text[position : hit.start]))
            out.append(Segment(text[hit.start : hit.end], hit.replacement, hit.kind))
            position = hit.end
        if position < len(text):
            out.append(Segment(text[position:]))
        return out

    def apply(self, text: str) -> str:
        return "".join(s.out for s in self.segments(text))


def replacements(segment_lists: Iterable[Sequence[Segment]]) -> list[Replacement]:
    """Every distinct replacement made, in a stable order (by kind, then original)."""
    found = {
        (s.text, s.replacement, s.kind)
        for segments in segment_lists
        for s in segments
        if s.replacement is not None
    }
    return [
        Replacement(o, r, k) for o, r, k in sorted(found, key=lambda x: (x[2], x[0].casefold()))
    ]


def suggestions(segment_lists: Iterable[Sequence[Segment]]) -> list[str]:
    """Capitalised words in the middle of a sentence that nothing replaced: probably a name,
    a place or an organisation. The maker decides."""
    found: dict[str, None] = {}
    for segments in segment_lists:
        for s in segments:
            if s.replacement is not None:
                continue
            for m in _SUGGEST.finditer(s.text):
                word = m.group(0).rstrip("'’-")
                if len(word) < 2 or word.isupper() or word in ORDINARY_CAPITALISED:
                    continue
                before = s.text[: m.start()].rstrip(" \t*_(\"'“‘")
                if not before or before[-1] in ".!?:\n-•" or before.endswith(("1.", "2.")):
                    continue  # the start of a sentence or a list item
                found.setdefault(word, None)
    return list(found)


def fingerprint(replaced: Sequence[Replacement], outputs: Sequence[str]) -> str:
    """What the maker reviewed: the replacement list and the texts that would be released.
    Any change to either (a word marked, the plan edited) asks for a new review."""
    payload = json.dumps(
        {"replacements": [[r.original, r.replacement, r.kind] for r in replaced], "out": outputs},
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# -- labels ----------------------------------------------------------------------------------


def name_parts(name: str) -> list[str]:
    """The full name and the parts that identify on their own: "Fatima el Idrissi" ->
    ["Fatima el Idrissi", "Fatima", "el Idrissi", "Idrissi"]; "oma Ria" -> ["oma Ria", "Ria"]."""
    words = name.split()
    if not words:
        return []
    parts = [" ".join(words)]
    meaningful = [w for w in words if w.casefold() not in NAME_PARTICLES and len(w) >= 2]
    parts.extend(meaningful)
    # A surname with particles ("el Idrissi", "van Dijk", "de Boer") is also said whole.
    for i, word in enumerate(words):
        if word.casefold() in NAME_PARTICLES and i + 1 < len(words) and i > 0:
            parts.append(" ".join(words[i:]))
    return list(dict.fromkeys(p for p in parts if len(p) >= 2))


def age_band(birth_year: int | None, today: date) -> str:
    """Five-year bands: exact ages identify."""
    if birth_year is None:
        return ""
    age = max(0, today.year - birth_year)
    low = age - age % 5
    return f"{low}-{low + 4} jaar"


@dataclass(frozen=True)
class PersonInfo:
    name: str
    relation: str
    kind: str
    birth_year: int | None


def person_labels(persons: Sequence[PersonInfo]) -> dict[str, str]:
    """Role labels for the household and its network: "moeder", "kind 1" (oldest first),
    "buurman"; the same label twice is numbered ("buurman 1", "buurman 2"). A relation that
    names someone ("broer van Erik") is kept short ("broer")."""
    labels: dict[str, str] = {}
    children = sorted(
        (p for p in persons if _relation_word(p.relation) in CHILD_RELATIONS),
        key=lambda p: (p.birth_year or 9999, p.name),
    )
    for n, person in enumerate(children, 1):
        labels[person.name] = f"kind {n}"
    others = [p for p in persons if p.name not in labels]
    base: dict[str, str] = {}
    for person in others:
        word = _relation_word(person.relation)
        base[person.name] = word or (
            "gezinslid" if person.kind == "household" else "belangrijke ander"
        )
    counts: dict[str, int] = {}
    for label in base.values():
        counts[label] = counts.get(label, 0) + 1
    seen: dict[str, int] = {}
    for person in others:
        label = base[person.name]
        if counts[label] > 1:
            seen[label] = seen.get(label, 0) + 1
            label = f"{label} {seen[label]}"
        labels[person.name] = label
    # A relation is typed by people and may name someone ("vriendin van Kees" is cut, but
    # "Kees' vriendin" is not): a label must never carry a name into the copy.
    names = Pseudonymiser(
        [Known(part, "[naam]", "person") for p in persons for part in name_parts(p.name)],
        shift_days=None,
    )
    return {name: names.apply(label) for name, label in labels.items()}


def _relation_word(relation: str) -> str:
    """The first words of a relation, before any comma or "van": "oma, moeder van Linda" ->
    "oma"; "broer van Erik" -> "broer"."""
    head = relation.split(",")[0].strip().lower()
    head = re.split(r"\s+(?:van|of|en)\s+", head)[0]
    return " ".join(head.split()[:2])
