"""The Vietnamese translation: the catalogue is complete and compiled, every string marked for
translation in the code and templates is in it, and a Vietnamese-speaking user sees the pages,
form errors and API errors in Vietnamese.

The catalogue is read with a small parser of our own (no polib, no GNU gettext tools), so these
tests run wherever the suite runs. When one fails because a new string is not translated yet:
``cd src/danhba && ../../.venv/bin/danhba makemessages -l vi --no-obsolete --ignore "tests/*"``,
translate the new entries, then ``../../.venv/bin/danhba compilemessages``.
"""

from __future__ import annotations

import ast
import gettext
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from danhba.conftest import actor_for
from danhba.contacts.services.companies import company_save
from danhba.contacts.services.contacts import contact_create
from danhba.core.errors import InvalidInput

PACKAGE = Path(settings.PACKAGE_DIR)
PO = PACKAGE / "locale" / "vi" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _back_to_default_language() -> Iterator[None]:
    """Pages rendered for a Vietnamese user leave Vietnamese active in this thread; later tests
    in the same worker expect the site default."""
    yield
    translation.deactivate()


# --- the catalogue --------------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def _unquote(text: str) -> str:
    return ast.literal_eval(text)  # a PO string is a double-quoted C-style literal


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file (obsolete ``#~`` entries skipped); the header is ``msgid ""``."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgstr:
                entries.append(entry)
                entry = None
            entry = entry or Entry()
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        keyword, _sep, rest = line.partition(" ")
        if line.startswith('"'):
            assert entry is not None and target is not None, f"continuation line without a keyword: {raw!r}"
            name, index = target
            if name == "msgstr":
                entry.msgstr[index] += _unquote(line)
            else:
                setattr(entry, name, (getattr(entry, name) or "") + _unquote(line))
            continue
        if keyword in ("msgctxt", "msgid") and entry is not None and entry.msgstr:
            entries.append(entry)
            entry = None
        entry = entry or Entry()
        if keyword.startswith("msgstr"):
            index = int(keyword[7:-1]) if "[" in keyword else 0
            while len(entry.msgstr) <= index:
                entry.msgstr.append("")
            entry.msgstr[index] = _unquote(rest)
            target = ("msgstr", index)
        else:
            assert keyword in ("msgctxt", "msgid", "msgid_plural"), f"unexpected line {raw!r}"
            setattr(entry, keyword, _unquote(rest))
            target = (keyword, 0)
    if entry is not None and entry.msgstr:
        entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    return parse_po(PO)


def test_header_declares_vietnamese_with_one_plural_form(catalogue: list[Entry]) -> None:
    header = catalogue[0]
    assert header.msgid == "" and "fuzzy" not in header.flags
    assert "Language: vi\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=1; plural=0;\n" in header.msgstr[0]
    assert "charset=UTF-8" in header.msgstr[0]


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue: list[Entry]) -> None:
    messages = catalogue[1:]
    assert len(messages) > 500
    untranslated = [e.msgid for e in messages if not e.msgstr or not all(s.strip() for s in e.msgstr)]
    fuzzy = [e.msgid for e in messages if "fuzzy" in e.flags]
    plural_forms = [e.msgid for e in messages if e.msgid_plural is not None and len(e.msgstr) != 1]
    assert untranslated == [] and fuzzy == [] and plural_forms == []


def test_translations_keep_every_placeholder(catalogue: list[Entry]) -> None:
    """An extra ``%(name)s`` raises KeyError when the message is shown; a lost one silently
    drops the value, so only entries marked ``no-python-format`` in the code (a library's
    English reason the Vietnamese leaves out) may lose one."""
    wrong = []
    for e in catalogue[1:]:
        expected = set(PLACEHOLDER.findall(e.msgid)) | set(PLACEHOLDER.findall(e.msgid_plural or ""))
        for text in e.msgstr:
            found = set(PLACEHOLDER.findall(text))
            if not found <= expected or (found != expected and "no-python-format" not in e.flags):
                wrong.append(e.msgid)
    assert wrong == []


def test_compiled_catalogue_matches_the_po_file(catalogue: list[Entry]) -> None:
    """The committed .mo is what Django loads: it must hold exactly what the .po says."""
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in catalogue[1:]:
        if e.msgid_plural is not None:
            got = (
                compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
                if e.msgctxt
                else compiled.ngettext(e.msgid, e.msgid_plural, 1)
            )
        else:
            got = compiled.pgettext(e.msgctxt, e.msgid) if e.msgctxt else compiled.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(e.msgid)
    assert stale == [], "run compilemessages: the .mo is older than the .po"
    assert compiled.info().get("plural-forms", "").startswith("nplurals=1")


# --- every marked string is in the catalogue ------------------------------------------------

_CALLS = {
    "_": ("msgid",),
    "gettext": ("msgid",),
    "gettext_lazy": ("msgid",),
    "gettext_noop": ("msgid",),
    "ngettext": ("msgid", "plural"),
    "ngettext_lazy": ("msgid", "plural"),
    "pgettext": ("context", "msgid"),
    "pgettext_lazy": ("context", "msgid"),
    "npgettext": ("context", "msgid", "plural"),
    "npgettext_lazy": ("context", "msgid", "plural"),
}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Other names the gettext functions go by in a module: ``L = gettext_lazy``, ``from
    django.utils.translation import gettext_lazy as L`` (xgettext misses them, this check must not)."""
    aliases = {name: name for name in _CALLS}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name in _CALLS})
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            aliases.update({t.id: aliases[node.value.id] for t in node.targets if isinstance(t, ast.Name)})
    return aliases


def _marked_in_python(source: str) -> set[tuple[str | None, str]]:
    found: set[tuple[str | None, str]] = set()
    tree = ast.parse(source)
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id not in aliases:
            continue
        names = _CALLS[aliases[node.func.id]]
        texts = [a.value for a in node.args[: len(names)] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if len(texts) < len(names):
            continue  # e.g. ``_(_INVALID)``: the constant is marked where it is defined
        values = dict(zip(names, texts, strict=True))
        found.add((values.get("context"), values["msgid"]))
    return found


def _marked_in_template(source: str) -> set[tuple[str | None, str]]:
    """The strings makemessages extracts from a template: Django's ``templatize`` turns the
    template into the gettext calls xgettext reads."""
    code = templatize(source)
    found: set[tuple[str | None, str]] = set()
    for match in re.finditer(r"\b(_|n?p?gettext)\(", code):
        depth, i, quote = 0, match.end() - 1, ""
        while True:
            ch = code[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        found |= _marked_in_python(code[match.start() : i + 1])
    return found


def _sources(pattern: str) -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob(pattern)):
        parts = path.relative_to(PACKAGE).parts
        if "tests" not in parts and "locale" not in parts:
            yield path


def test_every_string_marked_for_translation_is_in_the_catalogue(catalogue: list[Entry]) -> None:
    translated = {e.key for e in catalogue[1:] if e.msgstr and e.msgstr[0]}
    marked: dict[tuple[str | None, str], str] = {}
    for path in _sources("*.py"):
        for key in _marked_in_python(path.read_text(encoding="utf-8")):
            marked.setdefault(key, str(path.relative_to(PACKAGE)))
    for path in _sources("*.html"):
        for key in _marked_in_template(path.read_text(encoding="utf-8")):
            marked.setdefault(key, str(path.relative_to(PACKAGE)))
    assert len(marked) > 500
    missing = sorted(f"{where}: {key[1]!r}" for key, where in marked.items() if key not in translated)
    assert missing == [], "not in locale/vi/LC_MESSAGES/django.po (see this module's docstring)"


# --- what a Vietnamese-speaking user sees ---------------------------------------------------


@pytest.fixture
def vi_admin(users: dict[str, Any]) -> Any:
    user = users["admin"]
    user.language = "vi"
    user.save(update_fields=["language"])
    return user


def test_contact_list_in_vietnamese(client_for: Any, vi_admin: Any, make_contact: Any) -> None:
    make_contact(full_name="Trần Thị Bình")
    page = client_for(vi_admin).get(reverse("contacts:list")).content.decode()
    assert '<html lang="vi">' in page
    for text in ("<h1>Liên hệ</h1>", "Liên hệ mới", "Tìm kiếm", "Bộ lọc", "Giai đoạn vòng đời", "Người phụ trách"):
        assert text in page
    assert "Nhật ký kiểm tra" in page and "Đăng xuất" in page  # the sidebar
    assert "1 liên hệ" in page and "Trần Thị Bình" in page
    for english in (">Contacts<", "New contact", "Audit log", "Log out", "Last activity"):
        assert english not in page


def test_the_same_page_stays_english_for_an_english_user(client_for: Any, users: dict[str, Any]) -> None:
    page = client_for(users["admin"]).get(reverse("contacts:list")).content.decode()
    assert '<html lang="en">' in page and "<h1>Contacts</h1>" in page and "Liên hệ" not in page


def test_contact_page_sections_in_vietnamese(client_for: Any, vi_admin: Any, make_contact: Any) -> None:
    contact = make_contact(emails=["binh@example.vn"])
    page = client_for(vi_admin).get(reverse("contacts:detail", args=[contact.pk])).content.decode()
    for heading in (
        "Thông tin nhận dạng",
        "Thông tin mô tả",
        "Thông tin định tính",
        "Quan hệ khách hàng",
        "Dòng thời gian",
        "Sự đồng ý",
        "Hoạt động",
    ):
        assert f"<h2>{heading}</h2>" in page
    assert "Họ và tên" in page and "Ngày sinh" in page and "Thêm vào dòng thời gian" in page
    assert "cá nhân" in page  # the default label of the email, named in the reader's language


def test_login_page_in_vietnamese_after_choosing_the_language(client: Any, db: Any) -> None:
    login = reverse("accounts:login")
    assert "Log in" in client.get(login).content.decode()
    client.post(reverse("accounts:language"), {"language": "vi", "next": login})
    page = client.get(login).content.decode()
    assert '<html lang="vi">' in page and "<h1>Đăng nhập</h1>" in page and "Mật khẩu" in page
    assert "Log in" not in page


def test_browser_language_vi_gives_a_vietnamese_login_page(client: Any, db: Any) -> None:
    page = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="vi-VN,vi;q=0.9").content.decode()
    assert '<html lang="vi">' in page and "Toàn bộ khách hàng của bạn, ở cùng một nơi." in page


def test_invalid_email_on_the_create_page_gives_the_reason_in_vietnamese(client_for: Any, vi_admin: Any) -> None:
    response = client_for(vi_admin).post(
        reverse("contacts:create"), {"full_name": "Lê Văn Cường", "email": ["khong-phai-email"], "phone": ["12ab"]}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert "không phải địa chỉ email hợp lệ" in body and "số điện thoại có chứa chữ cái" in body
    assert "not a valid email address" not in body


def test_service_errors_follow_the_active_language(admin: Any) -> None:
    actor = actor_for(admin)
    with translation.override("vi"), pytest.raises(InvalidInput) as vi_error:
        contact_create(actor=actor, data={"full_name": "An", "birthday": "31/02/1990", "country": "Việt Nam"})
    assert vi_error.value.details["country"] == ["phải là mã quốc gia gồm hai chữ cái"]
    assert "ngày không hợp lệ: '31/02/1990'" in vi_error.value.details["birthday"][0]
    with translation.override("en"), pytest.raises(InvalidInput) as en_error:
        contact_create(actor=actor, data={"full_name": "An", "country": "Việt Nam"})
    assert en_error.value.details["country"] == ["must be a two-letter country code"]


def test_api_errors_in_vietnamese_for_a_vietnamese_client(client: Any, admin: Any) -> None:
    from danhba.accounts.services import apikey_create

    _key, raw = apikey_create(actor=actor_for(admin), user=admin, name="tests")
    response = client.post(
        "/api/contacts",
        json.dumps({"full_name": "Phạm Minh", "emails": ["sai@"]}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}", "Accept-Language": "vi"},
    )
    assert response.status_code == 422
    details = response.json()["details"]
    assert any("không phải địa chỉ email hợp lệ" in text for texts in details.values() for text in texts)


def test_audit_log_names_actions_and_objects_in_vietnamese(client_for: Any, vi_admin: Any) -> None:
    company_save(actor=actor_for(vi_admin), company=None, data={"name": "Công ty Hoa Sen"})
    page = client_for(vi_admin).get(reverse("audit:log")).content.decode()
    assert "<h1>Nhật ký kiểm tra</h1>" in page and "Công ty Hoa Sen" in page
    assert "đã tạo" in page and ">công ty<" in page
