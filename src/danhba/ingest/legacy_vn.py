"""The legacy Vietnamese 8-bit encodings TCVN3 (ABC) and VNI (VNI-Windows), to and from Unicode NFC.

Both predate Unicode and were used with special fonts (".VnTime", "VNI-Times"), so a file written in them
looks like mojibake in any standard code page: TCVN3 "Nguyễn" reads as "NguyÔn" in cp1252, VNI "Nguyễn"
as "Nguyeãn".

* **TCVN3** is single-byte: every lower-case vowel with every tone has its own byte (0xB5–0xFE), and the
  upper-case forms exist only for the tone-less letters Ă Â Ê Ô Ơ Ư Đ (0xA1–0xA7). Upper-case toned letters
  were written with a separate upper-case font using the lower-case codes, so they decode as lower case.
* **VNI** writes a base letter followed by one or two modifier bytes: ``a`` + ``ù`` is "á", ``a`` + ``â``
  is "â", ``a`` + ``á`` is "ấ"; "ơ"/"ư"/"đ" and the toned "i" forms are single bytes.

The tables below are built from the letter/tone structure of Vietnamese rather than listed code by code.
"""

from __future__ import annotations

import re
import unicodedata

# Tones as combining marks, in a fixed order used by the tables below:
# none, grave (huyền), hook (hỏi), tilde (ngã), acute (sắc), dot below (nặng).
_TONES = ("", "\u0300", "\u0309", "\u0303", "\u0301", "\u0323")

# The twelve vowel forms.
_VOWELS = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")


def _toned(vowel: str, tone: str) -> str:
    return unicodedata.normalize("NFC", vowel + tone)


def all_letters() -> list[str]:
    """Every Vietnamese letter outside ASCII, lower and upper case, each vowel with each tone, plus đ/Đ."""
    letters: list[str] = []
    for vowel in _VOWELS:
        for tone in _TONES:
            letter = _toned(vowel, tone)
            letters.extend((letter, letter.upper()))
    letters.extend(("đ", "Đ"))
    return [letter for letter in letters if not letter.isascii()]


# --- TCVN3 --------------------------------------------------------------------------------------

# Bytes of each lower-case vowel form, one per tone in _TONES order (None = the plain ASCII letter).
_TCVN3_VOWEL_BYTES: dict[str, tuple[int | None, int, int, int, int, int]] = {
    "a": (None, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9),
    "ă": (0xA8, 0xBB, 0xBC, 0xBD, 0xBE, 0xC6),
    "â": (0xA9, 0xC7, 0xC8, 0xC9, 0xCA, 0xCB),
    "e": (None, 0xCC, 0xCE, 0xCF, 0xD0, 0xD1),
    "ê": (0xAA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6),
    "i": (None, 0xD7, 0xD8, 0xDC, 0xDD, 0xDE),
    "o": (None, 0xDF, 0xE1, 0xE2, 0xE3, 0xE4),
    "ô": (0xAB, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9),
    "ơ": (0xAC, 0xEA, 0xEB, 0xEC, 0xED, 0xEE),
    "u": (None, 0xEF, 0xF1, 0xF2, 0xF3, 0xF4),
    "ư": (0xAD, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9),
    "y": (None, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE),
}
_TCVN3_OTHER = {"đ": 0xAE, "Ă": 0xA1, "Â": 0xA2, "Ê": 0xA3, "Ô": 0xA4, "Ơ": 0xA5, "Ư": 0xA6, "Đ": 0xA7}


def _tcvn3_tables() -> tuple[dict[int, str], dict[str, int]]:
    decode: dict[int, str] = {}
    for vowel, codes in _TCVN3_VOWEL_BYTES.items():
        for tone, code in zip(_TONES, codes, strict=True):
            if code is not None:
                decode[code] = _toned(vowel, tone)
    for char, code in _TCVN3_OTHER.items():
        decode[code] = char
    encode = {char: code for code, char in decode.items()}
    # Upper-case toned letters have no code of their own: written with the lower-case code.
    for char, code in list(encode.items()):
        upper = char.upper()
        if upper != char and upper not in encode:
            encode[upper] = code
    return decode, encode


_TCVN3_DECODE, _TCVN3_ENCODE = _tcvn3_tables()
# Every byte maps to one character: the Vietnamese ones per the table, the rest as Latin-1.
_TCVN3_TRANSLATE = {code: char for code, char in _TCVN3_DECODE.items()}
#: The bytes that only occur in TCVN3 text as Vietnamese letters.
TCVN3_LETTER_BYTES = frozenset(_TCVN3_DECODE)


_WORD = re.compile(r"\w+")


def _upper_word(match: re.Match[str]) -> str:
    word = match.group()
    ascii_letters = [ch for ch in word if ch.isascii() and ch.isalpha()]
    if (
        any(ch.islower() for ch in word if not ch.isascii())
        and not any(ch.islower() for ch in ascii_letters)
        and sum(1 for ch in word if ch.isupper()) >= 2
    ):
        return word.upper()
    return word


def decode_tcvn3(data: bytes) -> str:
    """TCVN3 (ABC) bytes to Unicode NFC text.

    TCVN3 has no upper-case toned letters, so "NGUYỄN" was stored as "NGUY" + "ễ" + "N": a word whose other
    letters are all capitals (at least two) is read as all capitals. A capital toned letter at the start of a
    mixed-case word ("Ánh") cannot be recovered and comes back lower case ("ánh").
    """
    text = data.decode("latin-1").translate(_TCVN3_TRANSLATE)
    return unicodedata.normalize("NFC", _WORD.sub(_upper_word, text))


def encode_tcvn3(text: str, *, errors: str = "strict") -> bytes:
    """Unicode text to TCVN3 bytes. Upper-case toned letters become their lower-case code (as TCVN3 does).

    ``errors="replace"`` writes ``?`` for characters TCVN3 cannot express; ``"strict"`` raises ``ValueError``.
    """
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        code = _TCVN3_ENCODE.get(char)
        if code is None:
            if ord(char) < 0x80:
                code = ord(char)
            elif errors == "replace":
                code = ord("?")
            else:
                raise ValueError(f"character {char!r} cannot be encoded in TCVN3")
        out.append(code)
    return bytes(out)


# --- VNI ----------------------------------------------------------------------------------------

# Modifier characters (as the bytes read in Latin-1) for each tone in _TONES order.
_VNI_TONE = ("", "ø", "û", "õ", "ù", "ï")  # on a plain vowel
_VNI_CIRCUMFLEX = ("â", "à", "å", "ã", "á", "ä")  # circumflex combined with the tone
_VNI_BREVE = ("ê", "è", "ú", "ü", "é", "ë")  # breve combined with the tone
_VNI_I = ("i", "ì", "æ", "ó", "í", "ò")  # the toned i forms are single bytes
_VNI_HORN = {"ơ": "ô", "ư": "ö"}  # horned vowels are single bytes, tones follow as on a plain vowel


def _vni_lower_table() -> dict[str, str]:
    """Lower-case Unicode letter → its VNI form (as a Latin-1 string)."""
    table: dict[str, str] = {}
    for i, tone in enumerate(_TONES):
        for base in "aeouy":
            table[_toned(base, tone)] = base + _VNI_TONE[i]
        for base, vowel in (("a", "â"), ("e", "ê"), ("o", "ô")):
            table[_toned(vowel, tone)] = base + _VNI_CIRCUMFLEX[i]
        table[_toned("ă", tone)] = "a" + _VNI_BREVE[i]
        for vowel, byte in _VNI_HORN.items():
            table[_toned(vowel, tone)] = byte + _VNI_TONE[i]
        table[_toned("i", tone)] = _VNI_I[i]
    table["ỵ"] = "î"  # y with dot below is a single byte
    table["đ"] = "ñ"
    return table


def _vni_tables() -> tuple[dict[str, str], dict[str, str]]:
    encode: dict[str, str] = {}
    decode: dict[str, str] = {}
    for letter, vni in _vni_lower_table().items():
        if letter.isascii():  # plain ASCII vowel
            continue
        encode[letter] = vni
        encode[letter.upper()] = vni.upper()
        decode[vni] = letter
        decode[vni.upper()] = letter.upper()
        if len(vni) > 1:
            # Seen in the wild: an upper-case base letter with lower-case modifiers ("Aù" for "Á").
            decode.setdefault(vni[0].upper() + vni[1:], letter.upper())
    return encode, decode


_VNI_ENCODE, _VNI_DECODE = _vni_tables()
_VNI_PATTERN = re.compile("|".join(re.escape(seq) for seq in sorted(_VNI_DECODE, key=len, reverse=True)))
#: The modifier bytes that follow a base vowel in VNI text (Latin-1 characters).
VNI_MODIFIERS = frozenset("".join(_VNI_TONE + _VNI_CIRCUMFLEX + _VNI_BREVE)) | frozenset(
    "".join(_VNI_TONE + _VNI_CIRCUMFLEX + _VNI_BREVE).upper()
)


def decode_vni(data: bytes) -> str:
    """VNI (VNI-Windows) bytes to Unicode NFC text."""
    text = data.decode("latin-1")
    return unicodedata.normalize("NFC", _VNI_PATTERN.sub(lambda m: _VNI_DECODE[m.group()], text))


def encode_vni(text: str, *, errors: str = "strict") -> bytes:
    """Unicode text to VNI bytes. ``errors`` as for :func:`encode_tcvn3`."""
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        vni = _VNI_ENCODE.get(char)
        if vni is None:
            if ord(char) < 0x80:
                vni = char
            elif errors == "replace":
                vni = "?"
            else:
                raise ValueError(f"character {char!r} cannot be encoded in VNI")
        out.append(vni)
    return "".join(out).encode("latin-1")
