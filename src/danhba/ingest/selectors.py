"""What a reader may see of an import's rows.

An import's file, its preview and its report hold whole rows of personal data, birthdays and
income bands included. Every page, API answer and download that shows a row of an import shows
it through here, with the reader's field visibility (``contacts.selectors.hidden_fields``):
values of the columns that hold a field the reader may not see are left out, and so are the
values inside the reasons about them (``'…' is not a real date``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from danhba.contacts.selectors import hidden_fields
from danhba.ingest.fields import SYNONYMS, header_key
from danhba.ingest.models import Import, ImportIssue
from danhba.ingest.reasons import HIDDEN, Reason
from danhba.ingest.transform import Issue, Prepared, Rejected


@dataclass(frozen=True, slots=True)
class RowView:
    """What one reader may see of the rows of one import."""

    hidden: frozenset[str]  # field keys ("birthday", "custom.salary") the reader may not see
    columns: frozenset[str]  # the file's headers whose values hold one of them

    def value(self, column: str, value: str) -> str:
        return HIDDEN if column in self.columns and value else value

    def values(self, row: Mapping[str, str]) -> dict[str, str]:
        """A row as read, without the values of hidden columns."""
        return {k: v for k, v in row.items() if k not in self.columns}

    def reason(self, column: str, why: Reason) -> Reason:
        return why.masked() if column in self.columns else why

    def issue(self, issue: Issue) -> Issue:
        return Issue(issue.column, self.value(issue.column, issue.value), self.reason(issue.column, issue.reason))

    def sees(self, target: str) -> bool:
        """Whether the reader may see a contact field (``"birthday"``, ``"custom.salary"``)."""
        return target not in self.hidden


def row_view(user: Any, run: Import, columns: Mapping[str, str] | None = None) -> RowView:
    """``user``'s view of ``run``'s rows (``None``: the system, which sees everything), under the
    import's mapping or ``columns`` (the wizard's, before it is saved)."""
    hidden = frozenset(hidden_fields(user)) if user is not None else frozenset()
    return RowView(hidden, frozenset(hidden_columns(columns or run.columns or {}, list(run.headers or []), hidden)))


def hidden_columns(columns: Mapping[str, str], headers: list[str], hidden: frozenset[str] | set[str]) -> set[str]:
    """The headers whose values are fields in ``hidden``: those mapped to one, and those whose
    name says they hold one whatever they are mapped to (a "Ngày sinh" column left out of the
    import still holds birthdays)."""
    if not hidden:
        return set()
    out = set()
    for header in headers:
        for target in (columns.get(header) or "", SYNONYMS.get(header_key(header), "")):
            if target in hidden:  # targets and field keys are spelt alike: "birthday", "custom.salary"
                out.add(header)
    return out


@dataclass(frozen=True, slots=True)
class ShownIssue:
    line: int
    severity: str
    severity_label: str
    column: str
    value: str
    reason: str


def shown_issue(issue: ImportIssue, view: RowView) -> ShownIssue:
    """One stored issue as this reader sees it, its reason in the active language."""
    return ShownIssue(
        line=issue.line,
        severity=issue.severity,
        severity_label=str(issue.get_severity_display()),
        column=issue.column,
        value=view.value(issue.column, issue.value),
        reason=str(view.reason(issue.column, issue.why)),
    )


def shown_item(item: Prepared | Rejected | None, view: RowView) -> Prepared | Rejected | None:
    """A prepared row as this reader sees it: hidden fields and the values behind their issues
    left out."""
    if item is None:
        return None
    if isinstance(item, Rejected):
        return Rejected(item.line, view.values(item.raw), [view.issue(i) for i in item.errors])
    return replace(
        item,
        raw=view.values(item.cells()),
        fields={k: v for k, v in item.fields.items() if view.sees(k)},
        custom={k: v for k, v in item.custom.items() if view.sees(f"custom.{k}")},
        warnings=[view.issue(i) for i in item.warnings],
    )


def same_person(items: list[Prepared | Rejected | None], match_keys: list[str]) -> dict[int, int]:
    """Rows the import will merge into an earlier row of the file, by line: ``{line: earlier
    line}``. The loader's rule: a row joins the first earlier row it shares one of the import's
    match keys with (after normalisation), and its own keys then lead to that row too."""
    first: dict[tuple[str, ...], int] = {}
    merged: dict[int, int] = {}
    for item in items:
        if not isinstance(item, Prepared):
            continue
        keys: dict[str, list[tuple[str, ...]]] = {
            "external_id": [("x", s, v) for s, v in item.external_ids],
            "email": [("e", e) for e in item.emails],
            "phone": [("p", p[0]) for p in item.phones],
        }
        earlier = next((first[k] for kind in match_keys for k in keys.get(kind, []) if k in first), None)
        if earlier is not None:
            merged[item.line] = earlier
        for kind_keys in keys.values():
            for key in kind_keys:
                first.setdefault(key, earlier or item.line)
    return merged
