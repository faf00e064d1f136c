"""Extract: read any contact file into a stream of rows of text, nothing validated yet.

Formats: CSV/TSV (delimiter sniffed), XLSX (any sheet), JSON (array of objects), JSON Lines, vCard 3.0/4.0.
Encodings: UTF-8 (with or without BOM), UTF-16 LE/BE, cp1258, and the legacy TCVN3 and VNI encodings.
Every value comes out as NFC text with Excel damage repaired (``9.12345678E8`` → ``"912345678"``);
what the file itself had, where that differs, is kept beside it for the rejected-rows report.

Rows are streamed: text files are read line by line, XLSX in openpyxl's read-only mode, so a file of
millions of rows never sits in memory. Bad rows are returned like good ones — validation is a later layer —
each with the 1-based line (record, for JSON and vCard; sheet row, for XLSX) it came from.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from danhba.core.csvsafe import unwrap_excel_text
from danhba.core.normalize import all_clean, clean_text, joined_clean
from danhba.ingest import legacy_vn

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl", "vcard")
DELIMITERS = (",", ";", "\t", "|")
SAMPLE_SIZE = 64 * 1024

Source = str | Path | IO[bytes]


@dataclass(frozen=True, slots=True)
class EncodingGuess:
    """A detected encoding: a Python codec name (or ``"tcvn3"``/``"vni"``), 0–1 confidence, and why."""

    name: str
    confidence: float
    reason: str


@dataclass(slots=True)
class Row:
    """One source row: its 1-based line (or record) number and its values by column header.

    ``original`` holds, for the few cells where it differs, the text as the file had it (before
    spaces were trimmed and Excel damage repaired): ``"9.88776655E8"`` where the value reads
    ``"988776655"``. Someone fixing the rejected rows must see what their file says.

    ``clean``: every value is known to be clean text (``clean_text(v) == v``), as the reader
    makes every row of a file; the transform then reads the values without checking them again
    (a row made by hand is cleaned there first). Not frozen: a row is made per line, and a
    frozen dataclass costs three times as much to make."""

    line: int
    values: dict[str, str]
    original: dict[str, str] = field(default_factory=dict)
    clean: bool = field(default=False, compare=False)

    @property
    def as_read(self) -> dict[str, str]:
        """The row as the file had it, by header."""
        return {**self.values, **self.original} if self.original else self.values


# --- Excel damage ---------------------------------------------------------------------------------

_FLOAT_INT = re.compile(r"^[+-]?\d+\.0+$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+]?\d+$")


def repair_number(value: str) -> str:
    """Undo Excel's damage to long digit strings: ``"912345678.0"`` and ``"9.12345678E+08"`` → ``"912345678"``.

    Only values that are unmistakably Excel renderings of whole numbers are changed; anything else is
    returned as it was.
    """
    if not value or not (value[0].isdigit() or value[0] in "+-"):
        return value  # most cells (names, emails, addresses): neither pattern can match
    if "." not in value and "e" not in value and "E" not in value:
        return value  # phones and dates as people type them: both patterns need one of these
    if _FLOAT_INT.match(value):
        return value.split(".", 1)[0]
    if _SCIENTIFIC.match(value):
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern only admits valid numbers
            return value
        # The size first, read off the exponent: arithmetic on a huge one ("1E1000000")
        # overflows the decimal context.
        if number.adjusted() < 20 and number == number.to_integral_value():
            return str(int(number))
    return value


def clean_value(value: object) -> str:
    """A cell as clean NFC text: spaces (incl. non-breaking) trimmed and collapsed, Excel numbers repaired."""
    return repair_number(clean_text(value))


def csv_texts(cells: list[str]) -> tuple[list[str], list[str]]:
    """A CSV row's cells, ``="…"`` unwrapped, and their texts (:func:`clean_value`). Most rows
    are clean as they are, and hold no number Excel damaged: both are checked on the cells
    joined by ``|`` (``normalize.joined_clean``; a cell ``repair_number`` may change starts with
    a digit or a sign and holds a dot or an exponent); only then are cells looked at one by one.
    A hypothesis test holds it to ``clean_value`` of each cell (ingest/tests/test_extract.py)."""
    joined = "|".join(cells)
    if '="' in joined:
        cells = [unwrap_excel_text(cell) for cell in cells]
        joined = "|".join(cells)
    if not joined_clean(joined):
        return cells, [clean_value(cell) for cell in cells]
    if _MAYBE_EXCEL_NUMBER.search(joined) is None:
        return cells, cells
    return cells, [repair_number(c) if c and (c[0].isdigit() or c[0] in "+-") else c for c in cells]


# A cell (after the start of the row or a "|") that _FLOAT_INT or _SCIENTIFIC might match.
_MAYBE_EXCEL_NUMBER = re.compile(r"(?:^|\|)[+-]?\d[^|]*[.eE]")


def file_text(value: object) -> str:
    """A cell's text as the file had it; only NUL, which no database can store, is dropped."""
    text = value if isinstance(value, str) else cell_text(value)
    return text.replace("\x00", "")


def cell_text(value: object) -> str:
    """A typed spreadsheet/JSON value as text: whole floats as digits, dates as ISO, booleans as true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return clean_value(value)


# --- encoding detection ---------------------------------------------------------------------------

# fmt: off
_VOWEL_NUCLEI = frozenset({
    "a", "e", "i", "o", "u", "y", "ai", "ao", "au", "ay", "eo", "eu", "ia", "ie", "iu", "oa", "oe", "oi", "ua",
    "ue", "ui", "uo", "uu", "uy", "ya", "ye", "ieu", "yeu", "oai", "oay", "oao", "oeo", "uoi", "uou", "uay", "uya",
    "uye", "uyu",
})
# fmt: on
_SYLLABLE = re.compile(r"^(?:ngh|ng|gh|gi|nh|ch|tr|th|kh|ph|qu|[bcdđghklmnpqrstvx])?([aeiouy]+)(?:ng|nh|ch|[cmnpt])?$")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")
_WORD = re.compile(r"[^\W\d_]+")


def _vietnamese_score(text: str) -> tuple[int, int]:
    """(plausible, implausible) counts of non-ASCII words in ``text`` read as Vietnamese syllables."""
    good = bad = 0
    for word in _WORD.findall(text):
        if word.isascii():
            continue
        if any(ch.isupper() for ch in word[1:]) and not word.isupper():
            bad += 1  # "NguyÔn": a capital in the middle of a word
            continue
        decomposed = unicodedata.normalize("NFD", word.lower())
        tones = sum(1 for ch in decomposed if ch in _TONE_MARKS)
        base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        match = _SYLLABLE.match(base)
        if tones <= 1 and match and match.group(1) in _VOWEL_NUCLEI and base.isalpha():
            good += 1
        else:
            bad += 1
    return good, bad


def _decode_as(data: bytes, name: str) -> str:
    if name == "tcvn3":
        return legacy_vn.decode_tcvn3(data)
    if name == "vni":
        return legacy_vn.decode_vni(data)
    return unicodedata.normalize("NFC", data.decode(name, errors="replace"))


def _looks_utf16(data: bytes) -> str | None:
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even_nul = sample[0::2].count(0)
    odd_nul = sample[1::2].count(0)
    half = len(sample) / 2
    if odd_nul > 0.3 * half and even_nul < 0.05 * half:
        return "utf-16-le"
    if even_nul > 0.3 * half and odd_nul < 0.05 * half:
        return "utf-16-be"
    return None


def detect_encoding(data: bytes) -> EncodingGuess:
    """Guess the encoding of the start of a file (pass a sample; 64 KiB is plenty).

    Order: BOMs, UTF-16 by its NUL pattern, valid UTF-8, then the Vietnamese 8-bit candidates (cp1258,
    TCVN3, VNI) scored by how many words decode to plausible Vietnamese syllables — byte-level detectors
    cannot tell these apart — and finally charset-normalizer.
    """
    if data.startswith(codecs.BOM_UTF8):
        return EncodingGuess("utf-8-sig", 1.0, "UTF-8 byte order mark")
    if data.startswith(codecs.BOM_UTF16_LE):
        return EncodingGuess("utf-16", 1.0, "UTF-16 LE byte order mark")
    if data.startswith(codecs.BOM_UTF16_BE):
        return EncodingGuess("utf-16", 1.0, "UTF-16 BE byte order mark")
    utf16 = _looks_utf16(data)
    if utf16:
        return EncodingGuess(utf16, 0.9, "NUL bytes in every other position")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=False)
    except UnicodeDecodeError:
        pass
    else:
        if data.isascii():
            return EncodingGuess("utf-8", 0.9, "ASCII only")
        return EncodingGuess("utf-8", 0.99, "valid UTF-8")

    scores: dict[str, tuple[int, int]] = {}
    for name in ("cp1258", "vni", "tcvn3"):
        scores[name] = _vietnamese_score(_decode_as(data, name))
    best = max(scores, key=lambda n: (scores[n][0] - scores[n][1], scores[n][0]))
    good, bad = scores[best]
    if good and good > bad:
        confidence = round(good / (good + bad), 2)
        others = ", ".join(f"{n} {g}/{g + b}" for n, (g, b) in scores.items() if n != best)
        reason = f"{good} of {good + bad} accented words read as Vietnamese (others: {others})"
        return EncodingGuess(best, confidence, reason)

    import charset_normalizer

    result = charset_normalizer.from_bytes(data).best()
    if result is not None:
        return EncodingGuess(result.encoding, 0.5, "charset-normalizer")
    return EncodingGuess("cp1258", 0.1, "no better guess")


def _canonical_encoding(name: str) -> str:
    lowered = name.lower().replace("_", "-")
    if lowered in {"tcvn3", "tcvn", "abc", "tcvn-3", "tcvn5712"}:
        return "tcvn3"
    if lowered in {"vni", "vni-windows", "vni-win"}:
        return "vni"
    return codecs.lookup(name).name


# --- text streams ---------------------------------------------------------------------------------


def _text_lines(binary: IO[bytes], encoding: str) -> Iterator[str]:
    """The decoded lines of a binary stream, read lazily, line endings kept (as ``csv`` wants them)."""
    if encoding in {"tcvn3", "vni"}:
        decode = legacy_vn.decode_tcvn3 if encoding == "tcvn3" else legacy_vn.decode_vni
        first = True
        for raw in binary:
            text = decode(raw)
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield text
        return
    wrapper = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
    try:
        first = True
        for line in wrapper:
            if first:
                line = line.removeprefix("\ufeff")
                first = False
            if encoding.startswith("cp1258"):
                line = unicodedata.normalize("NFC", line)
            yield line
    finally:
        wrapper.detach()


def sniff_delimiter(lines: Iterable[str]) -> str:
    """The delimiter among ``, ; TAB |`` that splits the sample lines most consistently."""
    sample = [line for line in lines if line.strip()][:20]
    if not sample:
        return ","
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        counts = []
        for line in sample:
            try:
                counts.append(len(next(csv.reader([line], delimiter=delim))) - 1)
            except (csv.Error, StopIteration):
                counts.append(0)
        header = counts[0]
        if header == 0:
            continue
        consistent = sum(1 for c in counts if c == header) / len(counts)
        score = (consistent, header)
        if score > best_score:
            best, best_score = delim, score
    return best


def _unique_headers(raw: list[str]) -> list[str]:
    headers: list[str] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(raw, start=1):
        header = clean_text(name) or f"column_{index}"
        if header in seen:
            seen[header] += 1
            header = f"{header} ({seen[header]})"
        else:
            seen[header] = 1
        headers.append(header)
    return headers


def _cells_row(line: int, headers: list[str], cells: list[Any], texts: list[str], clean: bool = True) -> Row:
    """A row from its cells as read and their ``texts`` (clean, :func:`clean_value`, unless
    ``clean`` is false); the text of the cells cleaning changed is kept as the file had it."""
    original: dict[str, str] = {}
    if len(texts) == len(headers) == len(cells):  # most rows: a cell for every column
        values = dict(zip(headers, texts, strict=True))
        if texts is cells or cells == texts:  # most rows: cleaning changed nothing
            return Row(line, values, original, clean)
    values = dict.fromkeys(headers, "")
    if len(cells) <= len(headers) and len(texts) == len(cells):
        values.update(zip(headers, texts, strict=False))
        if texts is cells or cells == texts:
            return Row(line, values, original, clean)
    for index, (cell, text) in enumerate(zip(cells, texts, strict=True)):
        key = headers[index] if index < len(headers) else f"column_{index + 1}"
        values[key] = text
        if cell != text and (as_read := file_text(cell)) != text:
            original[key] = as_read
    return Row(line, values, original, clean)


# --- the reader -----------------------------------------------------------------------------------


def _sniff_format(name: str, head: bytes, text_head: str) -> str:
    suffix = Path(name).suffix.lower() if name else ""
    by_suffix = {
        ".csv": "csv",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".json": "json",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".vcf": "vcard",
        ".vcard": "vcard",
    }
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = text_head.lstrip()
    if stripped[:11].upper() == "BEGIN:VCARD":
        return "vcard"
    if suffix in by_suffix:
        return by_suffix[suffix]
    if stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        return "jsonl"
    return "csv"


@dataclass
class RowReader:
    """An opened source: what was detected about it, and its rows (iterate once)."""

    source: Source
    format: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    delimiter: str | None = None
    encoding_guess: EncodingGuess | None = None
    headers: list[str] = field(default_factory=list)
    sheets: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Row]:
        with _open_binary(self.source) as binary:
            head = binary.read(SAMPLE_SIZE)
            binary.seek(0)
            if head.startswith(b"PK\x03\x04"):
                self.encoding_guess = None  # a zip (XLSX): no text encoding
            elif self.encoding:
                name = _canonical_encoding(self.encoding)
                self.encoding_guess = EncodingGuess(name, 1.0, "chosen by the user")
            else:
                self.encoding_guess = detect_encoding(head)
            encoding = self.encoding_guess.name if self.encoding_guess else "utf-8"
            text_head = _decode_as(head[:4096], encoding) if self.encoding_guess else ""
            if not self.format:
                self.format = _sniff_format(_source_name(self.source), head, text_head.lstrip("\ufeff"))
            if self.format not in FORMATS:
                raise ValueError(f"unknown format {self.format!r}")
            if self.format == "xlsx":
                yield from self._xlsx(binary)
            elif self.format in {"csv", "tsv"}:
                yield from self._csv(binary, encoding)
            elif self.format == "json":
                yield from self._json(binary, encoding)
            elif self.format == "jsonl":
                yield from self._jsonl(binary, encoding)
            else:
                yield from self._vcard(binary, encoding)

    # CSV / TSV
    def _csv(self, binary: IO[bytes], encoding: str) -> Iterator[Row]:
        if not self.delimiter:
            if self.format == "tsv":
                self.delimiter = "\t"
            else:
                sample: list[str] = []
                for line in _text_lines(binary, encoding):
                    sample.append(line)
                    if len(sample) >= 20:
                        break
                binary.seek(0)
                self.delimiter = sniff_delimiter(sample)
        reader = csv.reader(_text_lines(binary, encoding), delimiter=self.delimiter)
        previous_end = 0
        header_seen = False
        for cells in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not "".join(cells).strip():  # no cell with anything but spaces
                continue
            if not header_seen:
                self.headers = _unique_headers(cells)
                header_seen = True
                continue
            cells, texts = csv_texts(cells)
            yield _cells_row(start, self.headers, cells, texts)

    # XLSX
    def _xlsx(self, binary: IO[bytes]) -> Iterator[Row]:
        from openpyxl import load_workbook

        workbook = load_workbook(binary, read_only=True, data_only=True)
        try:
            self.sheets = list(workbook.sheetnames)
            name = self.sheet or self.sheets[0]
            if name not in self.sheets:
                raise ValueError(f"no sheet named {name!r}; sheets: {', '.join(self.sheets)}")
            self.sheet = name
            header_seen = False
            for cells in workbook[name].iter_rows():
                texts = [cell_text(getattr(cell, "value", None)) for cell in cells]
                if not any(texts):
                    continue
                line = next((cell.row for cell in cells if getattr(cell, "row", None)), 0)
                if not header_seen:
                    self.headers = _unique_headers(texts)
                    header_seen = True
                    continue
                yield _cells_row(int(line or 0), self.headers, [getattr(c, "value", None) for c in cells], texts)
        finally:
            workbook.close()

    # JSON array, streamed object by object
    def _json(self, binary: IO[bytes], encoding: str) -> Iterator[Row]:
        decoder = json.JSONDecoder()
        wrapper = io.TextIOWrapper(binary, encoding=_python_codec(encoding), errors="replace")
        try:
            buffer = wrapper.read(SAMPLE_SIZE).lstrip("\ufeff").lstrip()
            if not buffer.startswith("["):
                raise ValueError("a JSON file must hold an array of objects")
            buffer = buffer[1:]
            record = 0
            while True:
                buffer = buffer.lstrip().lstrip(",").lstrip()
                if buffer.startswith("]"):
                    return
                try:
                    value, end = decoder.raw_decode(buffer)
                except json.JSONDecodeError:
                    more = wrapper.read(SAMPLE_SIZE)
                    if not more:
                        if buffer.strip():
                            record += 1
                            yield Row(record, {"_error": "invalid JSON"})
                        return
                    buffer += more
                    continue
                record += 1
                buffer = buffer[end:]
                yield self._object_row(record, value)
                if len(buffer) < SAMPLE_SIZE // 2:
                    buffer += wrapper.read(SAMPLE_SIZE)
        finally:
            wrapper.detach()

    def _object_row(self, record: int, value: Any) -> Row:
        if not isinstance(value, dict):
            return Row(record, {"_error": f"not an object: {cell_text(value)[:80]}"})
        keys = [clean_text(key) for key in value]
        cells = list(value.values())
        texts = [cell_text(item) for item in cells]
        row = _cells_row(record, keys, cells, texts, all_clean(texts))  # a nested value's JSON may not be
        for key in row.values:
            if key not in self.headers:
                self.headers.append(key)
        return row

    # JSON Lines
    def _jsonl(self, binary: IO[bytes], encoding: str) -> Iterator[Row]:
        for number, line in enumerate(_text_lines(binary, _python_codec(encoding)), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield Row(number, {"_error": f"invalid JSON: {exc.msg}"})
                continue
            yield self._object_row(number, value)

    # vCard
    def _vcard(self, binary: IO[bytes], encoding: str) -> Iterator[Row]:
        card: list[str] = []
        start = 0
        for number, line in enumerate(_text_lines(binary, encoding), start=1):
            if line.strip().upper() == "BEGIN:VCARD":
                card, start = [line], number
            elif card:
                card.append(line)
                if line.strip().upper() == "END:VCARD":
                    values = vcard_values("".join(card))
                    for key in values:
                        if key not in self.headers:
                            self.headers.append(key)
                    yield Row(start, values)
                    card = []
        if card:
            yield Row(start, {"_error": "vCard without END:VCARD"})


def _python_codec(encoding: str) -> str:
    return "utf-8" if encoding in {"tcvn3", "vni"} else encoding


class _open_binary:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.owned: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        if isinstance(self.source, str | Path):
            self.owned = open(self.source, "rb")
            return self.owned
        if not self.source.seekable():
            raise ValueError("the file must be seekable")
        self.source.seek(0)
        return self.source

    def __exit__(self, *exc: object) -> None:
        if self.owned is not None:
            self.owned.close()


def _source_name(source: Source) -> str:
    if isinstance(source, str | Path):
        return str(source)
    return str(getattr(source, "name", "") or "")


# --- vCard ----------------------------------------------------------------------------------------

_VCARD_KEYS = (
    "full_name",
    "family_name",
    "given_name",
    "middle_name",
    "email",
    "phone",
    "organization",
    "title",
    "address",
    "birthday",
    "note",
)


def _vcard_date(value: str) -> str:
    text = value.strip()
    digits = re.fullmatch(r"(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?", text)
    if digits:
        return f"{digits[1]}-{digits[2]}-{digits[3]}"
    return text


def vcard_values(text: str) -> dict[str, str]:
    """The flat values of one vCard: full_name, family/given/middle name, email and phone (several joined
    with ``"; "``), organization, title, address, birthday (ISO), note. A card vobject cannot parse gives
    ``{"_error": …}``."""
    import vobject

    try:
        card = vobject.readOne(text, ignoreUnreadable=True)
    except Exception as exc:  # vobject raises many kinds of errors on bad input
        return {"_error": f"unreadable vCard: {exc}"[:200]}
    values: dict[str, str] = dict.fromkeys(_VCARD_KEYS, "")
    contents: dict[str, list[Any]] = card.contents

    def first(key: str) -> Any:
        items = contents.get(key) or []
        return items[0].value if items else None

    values["full_name"] = clean_text(first("fn"))
    name = first("n")
    if name is not None and not isinstance(name, str):
        values["family_name"] = clean_text(" ".join(_as_list(name.family)))
        values["given_name"] = clean_text(" ".join(_as_list(name.given)))
        values["middle_name"] = clean_text(" ".join(_as_list(name.additional)))
    values["email"] = "; ".join(clean_text(item.value) for item in contents.get("email", []) if item.value)
    phones = (clean_value(str(item.value)).removeprefix("tel:") for item in contents.get("tel", []) if item.value)
    values["phone"] = "; ".join(phones)
    org = first("org")
    values["organization"] = clean_text(" ".join(_as_list(org))) if org else ""
    for key in ("title", "note"):
        if key in contents:
            values[key] = clean_text(first(key))
    if "bday" in contents:
        values["birthday"] = _vcard_date(str(first("bday")))
    if "adr" in contents:
        adr = first("adr")
        parts = [adr.street, adr.city, adr.region, adr.code, adr.country] if not isinstance(adr, str) else [adr]
        values["address"] = ", ".join(clean_text(" ".join(_as_list(p))) for p in parts if clean_text(p))
    return values


def _as_list(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)] if value else []


# --- entry points ---------------------------------------------------------------------------------


def read_rows(
    path_or_file: Source,
    *,
    format: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
) -> Iterator[Row]:
    """Stream the rows of a contact file. ``format``/``encoding``/``sheet``/``delimiter`` override detection."""
    yield from RowReader(path_or_file, format=format, encoding=encoding, sheet=sheet, delimiter=delimiter)


def list_sheets(path_or_file: Source) -> list[str]:
    """The sheet names of an XLSX workbook, in order."""
    from openpyxl import load_workbook

    with _open_binary(path_or_file) as binary:
        workbook = load_workbook(binary, read_only=True)
        try:
            return list(workbook.sheetnames)
        finally:
            workbook.close()


@dataclass(frozen=True, slots=True)
class Preview:
    format: str
    encoding: EncodingGuess | None
    delimiter: str | None
    sheets: list[str]
    sheet: str | None
    headers: list[str]
    rows: list[Row]


def preview(
    path_or_file: Source,
    n: int = 20,
    *,
    format: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    delimiter: str | None = None,
) -> Preview:
    """What the import wizard shows first: detected format, encoding, delimiter, sheets, headers, first rows."""
    reader = RowReader(path_or_file, format=format, encoding=encoding, sheet=sheet, delimiter=delimiter)
    rows: list[Row] = []
    iterator = iter(reader)
    try:
        for row in iterator:
            rows.append(row)
            if len(rows) >= n:
                break
    finally:
        close = getattr(iterator, "close", None)
        if close:
            close()
    return Preview(
        format=reader.format or "csv",
        encoding=reader.encoding_guess,
        delimiter=reader.delimiter,
        sheets=reader.sheets,
        sheet=reader.sheet,
        headers=list(reader.headers),
        rows=rows,
    )
