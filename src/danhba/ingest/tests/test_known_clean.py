"""The reader reads a file's cells as the clean text ``extract`` made them (``Row.clean``), through
``core.normalize``'s entry points that do not check the cleaning again, and its shortcuts (a
Vietnamese fold, typed phone digits, a folded name as its search words): on the benchmark
generator's rows it must prepare exactly what the full checks prepare (decision 0027, 2026-12-07
session 3, reader)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from danhba.contacts import search
from danhba.core import normalize
from danhba.ingest import transform
from danhba.ingest.extract import Row, RowReader
from danhba.ingest.transform import _PHONE_SPLIT, Plan, Prepared

pytestmark = pytest.mark.django_db


def _prepared(files: list[tuple[Path, str, int]], *, clean: bool) -> list[Any]:
    from bench.import_bench import MAPPING

    out: list[Any] = []
    for path, _encoding, _rows in files:
        with open(path, "rb") as handle:
            source = RowReader(handle)
            rows = list(source)
        plan = Plan(MAPPING["columns"], MAPPING["options"], source.headers)
        for row in rows:
            assert row.clean  # every row of a CSV file is read clean
            out.append(plan.prepare(row if clean else Row(row.line, row.values, row.original)))
    return out


def _full_fold(cleaned: str) -> str:
    """How ``fold`` read a text before its Vietnamese shortcut."""
    text = cleaned.lower().replace("đ", "d")
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).translate(normalize._DROP_COMBINING))


def _full_typed_digits(text: str) -> str | None:
    """``_typed_digits`` as a pattern and ``translate``, before ``str.replace``."""
    return text.translate(str.maketrans("", "", " ().+-")) if re.fullmatch(r"[0-9 ().+\-]+", text) else None


class _EverySplit:
    """``transform._PHONE_SPLIT`` that sends every phone cell the way of a cell of several numbers."""

    def search(self, value: str) -> bool:
        return True

    def split(self, value: str) -> list[str]:
        return _PHONE_SPLIT.split(value)


def _name_by_the_rules(reader: normalize.NameReader, value: str) -> tuple[str, str, str, str, str]:
    """A full name read by the name rules, word memo and all shortcuts aside."""
    parts = normalize.split_name(value, reader.order, given_words=reader.given_words)
    full = (
        normalize.join_name(parts.family, parts.middle, parts.given, reader.order)
        if "," in value
        else normalize.name_case(value)
    )
    return full, parts.family, parts.middle, parts.given, normalize.fold(full)


def test_the_known_clean_path_prepares_what_the_full_checks_prepare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.import_bench import MessyCsv, dataset_files

    files = dataset_files(tmp_path, 1500)
    MessyCsv(11).write(files, lambda message: None)
    fast = _prepared(files, clean=True)

    # The same rows with every shortcut taken away: each value cleaned again and read by the
    # public functions, which clean it once more; the fold and the phone digits the long way.
    monkeypatch.setattr(normalize, "_fold_str", _full_fold)
    monkeypatch.setattr(normalize, "_typed_digits", _full_typed_digits)
    monkeypatch.setattr(transform, "phone_of_clean", normalize.normalize_phone)
    monkeypatch.setattr(transform, "email_hinted_of_clean", normalize.normalize_email_hinted)
    monkeypatch.setattr(transform, "fold_clean", normalize.fold)
    monkeypatch.setattr(transform, "date_of_clean", normalize.parse_import_date)
    monkeypatch.setattr(normalize.NameReader, "read_clean", _name_by_the_rules)
    monkeypatch.setattr(transform, "_address_part", transform._address_part_folded)
    monkeypatch.setattr(transform, "_PHONE_SPLIT", _EverySplit())  # every phone cell as a list of numbers
    monkeypatch.setattr(search, "_name_words", lambda name, folded: " ".join(normalize.fold_words(name)))
    full = _prepared(files, clean=False)

    assert len(fast) == len(full) == 1500
    assert fast == full
    made = [p for p in fast if isinstance(p, Prepared)]
    assert len(made) > 1400 and sum(bool(p.phones) for p in made) > 1200  # the rows are read, not refused


@given(st.text(alphabet="SsPpTtXxQqHhDdWwCc019 .\u0301\u0323\u0307\x01\u200bĐđÔôİIıKſ\u212a"))
@example("Số 12 Lê Lợi")
@example("P\u0301 3")
@example("Q.1")
@example("x\u200bã 1")
def test_an_address_part_s_first_letter_shortcut_reads_as_the_fold(segment: str) -> None:
    """A part of an address that starts with an ASCII letter or digit no ward or district name
    starts with is read as neither without folding it: the fold would say the same."""
    assert transform._address_part(segment) == transform._address_part_folded(segment)
