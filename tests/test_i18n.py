"""Dutch first, English second: every message in code and templates has its translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from workspace.config import ROOT
from workspace.i18n import catalog_files, load_catalog


def test_english_catalogue_is_complete(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    catalogue = load_catalog("en")
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    missing = sorted(wanted - translated)
    assert not missing, "untranslated (run pybabel update, then translate): " + "; ".join(
        missing[:10]
    )


def test_no_message_is_translated_twice_in_different_files() -> None:
    """The catalogue is split per area; one message belongs in one file."""
    seen: dict[str, str] = {}
    for path in catalog_files("en"):
        with path.open("rb") as fh:
            for message in read_po(fh):
                if message.id:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    assert key not in seen, f"{key!r} is in {seen.get(key)} and {path.name}"
                    seen[key] = path.name
