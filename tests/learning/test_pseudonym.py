"""The pseudonymisation engine on its own: known values, patterns, dates, suggestions."""

from __future__ import annotations

from datetime import date

from workspace.learning.pseudonym import (
    Known,
    PersonInfo,
    Pseudonymiser,
    age_band,
    fingerprint,
    name_parts,
    person_labels,
    replacements,
    suggestions,
)

BAKKERS = [
    PersonInfo("Linda Bakker", "moeder", "household", 1988),
    PersonInfo("Erik Bakker", "vader", "household", 1985),
    PersonInfo("Noor", "dochter", "household", 2013),
    PersonInfo("Sem", "zoon", "household", 2018),
    PersonInfo("oma Ria", "oma, moeder van Linda", "network", 1958),
    PersonInfo("buurman Hasan", "buurman", "network", 1975),
    PersonInfo("Kees", "broer van Erik", "network", 1982),
]


def engine(shift: int | None = -100) -> Pseudonymiser:
    labels = person_labels(BAKKERS)
    known = [Known(part, labels[p.name], "person") for p in BAKKERS for part in name_parts(p.name)]
    return Pseudonymiser(known, shift_days=shift)


def test_role_labels_say_the_role_and_number_children_oldest_first() -> None:
    labels = person_labels(BAKKERS)
    assert labels["Linda Bakker"] == "moeder"
    assert labels["Noor"] == "kind 1" and labels["Sem"] == "kind 2"
    assert labels["oma Ria"] == "oma" and labels["Kees"] == "broer"
    twins = person_labels(
        [PersonInfo("A", "buurman", "network", None), PersonInfo("B", "buurman", "network", None)]
    )
    assert twins == {"A": "buurman 1", "B": "buurman 2"}
    named = person_labels(
        [
            PersonInfo("Kees", "broer", "network", None),
            PersonInfo("Anna", "Kees' vriendin", "network", None),
        ]
    )
    assert named["Anna"] == "[naam]' vriendin"


def test_name_parts_keep_surnames_with_particles_and_drop_titles() -> None:
    assert name_parts("Fatima el Idrissi") == [
        "Fatima el Idrissi",
        "Fatima",
        "Idrissi",
        "el Idrissi",
    ]
    assert "oma" not in [p.lower() for p in name_parts("oma Ria")[1:]]
    assert name_parts("meester Van Dijk")[1:] == ["Dijk", "Van Dijk"]


def test_names_are_replaced_whole_first_case_insensitive_and_in_the_genitive() -> None:
    out = engine().apply("Linda Bakker belde. LINDA zei dat Noors kamer klein is; Erik zweeg.")
    assert out == "moeder belde. moeder zei dat kind 1’s kamer klein is; vader zweeg."


def test_names_inside_other_words_are_left_alone() -> None:
    assert engine().apply("Semester en Kees' fiets") == "Semester en broer' fiets"


def test_patterns_cover_contact_details_numbers_addresses_schools_and_places() -> None:
    text = (
        "Adres: Lindelaan 14, 3521 AB Utrecht. Tel 06-12345678 of +31 6 1234 5678 of 020 123 4567. "
        "Mail l.bakker@example.nl. BSN 123456782. IBAN NL91 ABNA 0417 1643 00. "
        "Sem zit op Basisschool De Regenboog; Erik werkt bij Stichting Groen Werk in Almere."
    )
    out = engine().apply(text)
    for gone in (
        "Lindelaan",
        "3521",
        "Utrecht",
        "12345678",
        "1234 5678",
        "123 4567",
        "example",
        "123456782",
        "ABNA",
        "Regenboog",
        "Groen Werk",
        "Almere",
    ):
        assert gone not in out, gone
    for kind in (
        "[adres]",
        "[postcode en woonplaats]",
        "[telefoonnummer]",
        "[e-mailadres]",
        "[BSN]",
        "[rekeningnummer]",
        "[school]",
        "[organisatie]",
        "[woonplaats]",
    ):
        assert kind in out, kind
    assert "112" in engine().apply("Bel 112 bij gevaar.")


def test_dates_shift_by_one_amount_in_every_format_so_intervals_stay_true() -> None:
    out = engine(-10).apply("Op 14-02-2013, 2026-03-04 en 3 maart 2026; ook 12 mei.")
    assert out == "Op 04-02-2013, 2026-02-22 en 21 februari 2026; ook 2 mei."
    assert engine(None).apply("geboren 14-02-2013") == "geboren [datum]"
    assert engine().apply("geboren in 2013") == "geboren in [jaar]"
    assert engine().apply("31-02-2026") == "[datum]"


def test_segments_keep_the_original_beside_its_replacement() -> None:
    segments = engine().segments("Erik belde 06-12345678.")
    replaced = [(s.text, s.replacement, s.kind) for s in segments if s.replacement]
    assert replaced == [("Erik", "vader", "person"), ("06-12345678", "[telefoonnummer]", "phone")]
    assert "".join(s.text for s in segments) == "Erik belde 06-12345678."


def test_suggestions_are_capitalised_words_mid_sentence_that_nothing_explained() -> None:
    segments = engine().segments(
        "Erik sprak met Jan Pietersen uit Lemmer. Daarna ging hij naar huis."
    )
    assert suggestions([segments]) == ["Jan", "Pietersen", "Lemmer"]


def test_the_fingerprint_changes_with_the_list_and_with_the_text() -> None:
    a = engine().segments("Erik belde.")
    b = engine().segments("Erik belde niet.")
    assert fingerprint(replacements([a]), ["x"]) == fingerprint(replacements([b]), ["x"])
    assert fingerprint(replacements([a]), ["x"]) != fingerprint(replacements([a]), ["y"])
    assert fingerprint(replacements([a]), ["x"]) != fingerprint([], ["x"])


def test_age_bands_are_five_years_wide() -> None:
    assert age_band(2013, date(2026, 12, 1)) == "10-14 jaar"
    assert age_band(None, date(2026, 12, 1)) == ""
