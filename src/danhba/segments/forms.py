"""Forms of the segment pages, and the builder's tree in a plain HTML form.

The builder keeps the whole condition tree in the form's inputs, named by the node's path:
``n__op`` is the top group's operator, ``n-0-1__field`` the field of the second condition in
the first nested group (``n-0-1-…``). :func:`parse_tree` reads them back into the raw JSON tree
(values as typed; :func:`conditions.clean` checks and types them), :func:`apply_action` adds and
removes nodes, and :func:`tree_view` makes what the templates render. Everything is server-side:
the page needs htmx only to avoid full reloads.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from danhba.accounts import permissions as perms
from danhba.accounts.models import User
from danhba.core.normalize import clean_text
from danhba.segments import conditions as C
from danhba.segments.extensions import CONDITION_KINDS
from danhba.segments.models import Segment

COUNT_LABELS = {"gte": _("at least"), "lte": _("at most"), "eq": _("exactly")}
KIND_LABELS = {
    "field": _("Contact field"),
    "tag": _("Tags"),
    "consent": _("Consent"),
    "event": _("Did an event"),
    "event_time": _("When an event happened"),
    "email": _("Email activity"),
    "purchase": _("Purchases"),
    "bought": _("Bought a product"),
    "segment": _("In a segment or list"),
}
# The permission each kind needs besides segment editing (the checker refuses the rest).
KIND_NEEDS = {
    "consent": "consent", "event": "event", "event_time": "event", "email": "event", "purchase": "order",
    "bought": "order",
}  # fmt: skip
MAX_NODES = C.MAX_CONDITIONS + 50
_NAME = re.compile(r"^n((?:-\d{1,3}){0,12})__([a-z_]+(?:-\d{1,2}-[a-z_]+)?)$")

Path = tuple[int, ...]


def node_name(path: Path) -> str:
    return "n" + "".join(f"-{i}" for i in path)


def is_node_name(text: str) -> bool:
    """``n``, ``n-0``, ``n-1-2``… as :func:`node_name` writes them."""
    return _NAME.match(f"{text}__name") is not None


def _split(text: str) -> list[str]:
    return [v for v in (clean_text(x) for x in re.split(r"[,\n;]", text or "")) if v]


# --- form → tree ------------------------------------------------------------------------------


def _values(data: Any, key: str) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(key)]
    value = data.get(key)
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def parse_tree(data: Mapping[str, Any]) -> dict[str, Any]:
    """The raw condition tree posted by the builder (an empty ``all`` group when there is none)."""
    nodes: dict[Path, dict[str, list[str]]] = {}
    for key in data:
        m = _NAME.match(key)
        if not m:
            continue
        path = tuple(int(p) for p in m.group(1).split("-")[1:])
        nodes.setdefault(path, {})[m.group(2)] = _values(data, key)
        if len(nodes) > MAX_NODES:
            break
    if () not in nodes:
        return {"op": "all", "conditions": []}
    return _build((), nodes)


def _build(path: Path, nodes: dict[Path, dict[str, list[str]]]) -> dict[str, Any]:
    attrs = nodes[path]
    if "op" in attrs:
        children = sorted(p for p in nodes if len(p) == len(path) + 1 and p[: len(path)] == path)
        return {"op": _one(attrs, "op"), "conditions": [_build(p, nodes) for p in children]}
    return _leaf(attrs)


def _one(attrs: dict[str, list[str]], name: str) -> str:
    values = attrs.get(name) or [""]
    return clean_text(values[0])


def _operand(attrs: dict[str, list[str]], out: dict[str, Any], multi: bool) -> None:
    op = out["operator"]
    if op in C.NO_VALUE or not op:
        return
    if op in C.DAYS_VALUE:
        out["days"] = _one(attrs, "days")
    elif op in C.LIST_VALUE:
        out["value"] = (
            [clean_text(v) for v in attrs.get("values", []) if clean_text(v)] if multi else _split(_one(attrs, "value"))
        )
    elif op in C.PAIR_VALUE:
        out["value"] = [_one(attrs, "value"), _one(attrs, "value_to")]
    else:
        out["value"] = _one(attrs, "value")


def _period(attrs: dict[str, list[str]]) -> dict[str, Any] | None:
    mode = _one(attrs, "period")
    if mode == "last":
        return {"last_days": _one(attrs, "period_days")}
    if mode == "range":
        return {"from": _one(attrs, "period_from"), "to": _one(attrs, "period_to")}
    return None


def _leaf(attrs: dict[str, list[str]]) -> dict[str, Any]:
    kind = _one(attrs, "kind")
    out: dict[str, Any] = {"kind": kind}
    if kind == "field":
        out["field"] = _one(attrs, "field")
        out["operator"] = _one(attrs, "operator")
        _operand(attrs, out, multi="values" in attrs)
    elif kind == "tag":
        out["operator"] = _one(attrs, "operator") or "any"
        out["tags"] = _split(_one(attrs, "tags"))
    elif kind == "consent":
        out["purpose"] = _one(attrs, "purpose")
        out["status"] = _one(attrs, "status")
    elif kind == "event":
        out.update(_event_leaf(attrs))
    elif kind == "event_time":
        out["name"] = _one(attrs, "name")
        out["which"] = _one(attrs, "which") or "last"
        out["operator"] = _one(attrs, "operator")
        _operand(attrs, out, multi=False)
    elif kind == "email":
        out.update(_email_leaf(attrs))
    elif kind == "purchase":
        out["metric"] = _one(attrs, "metric")
        out["operator"] = _one(attrs, "operator")
        _operand(attrs, out, multi=False)
        period = _period(attrs)
        if period is not None:
            out["period"] = period
    elif kind == "bought":
        what = _one(attrs, "what")
        if _one(attrs, "match") == "category":
            out["category"] = what
        else:
            out["product"] = what
        out["negate"] = _one(attrs, "negate") == "1"
        out["period"] = _period(attrs)
    elif kind == "segment":
        out["segment"] = _one(attrs, "segment")
        out["operator"] = _one(attrs, "operator") or "in"
    elif (extra := CONDITION_KINDS.get(kind)) is not None:
        out.update(extra.parse(attrs))
    return out


def _event_leaf(attrs: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    out["name"] = _one(attrs, "name")
    if _one(attrs, "event_type"):
        out["event_type"] = _one(attrs, "event_type")
    out["count"] = {"operator": _one(attrs, "count_op") or "gte", "value": _one(attrs, "count_value")}
    where = []
    for i in range(20):
        prop = attrs.get(f"where-{i}-property")
        if prop is None:
            continue
        row = {"property": _one(attrs, f"where-{i}-property"), "operator": _one(attrs, f"where-{i}-operator")}
        if row["operator"] not in ("exists", "not_exists"):
            row["value"] = _one(attrs, f"where-{i}-value")
        where.append(row)
    out["where"] = where
    out["period"] = _period(attrs)
    return out


def _email_leaf(attrs: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "action": _one(attrs, "action") or "opened",
        "campaign": _one(attrs, "campaign") or None,
        "negate": _one(attrs, "negate") == "1",
        "period": _period(attrs),
    }


# --- structural edits -------------------------------------------------------------------------


def new_condition(kind: str, user: User | None) -> dict[str, Any]:
    """A condition of ``kind`` with its first choices made, ready for a value."""
    if kind == "tag":
        return {"kind": "tag", "operator": "any", "tags": []}
    if kind == "consent":
        return {"kind": "consent", "purpose": "", "status": "granted"}
    if kind == "event":
        return {"kind": "event", "name": "", "count": {"operator": "gte", "value": "1"}, "where": [], "period": None}
    if kind == "event_time":
        return {"kind": "event_time", "name": "", "which": "last", "operator": "within_last", "days": "30"}
    if kind == "email":
        return {"kind": "email", "action": "opened", "campaign": None, "negate": False, "period": {"last_days": "30"}}
    if kind == "purchase":
        return {"kind": "purchase", "metric": "order_count", "operator": "gte", "value": ""}
    if kind == "bought":
        return {"kind": "bought", "product": "", "period": None}
    if kind == "segment":
        return {"kind": "segment", "segment": "", "operator": "in"}
    extra = CONDITION_KINDS.get(kind)
    if extra is not None:
        return {"kind": kind, **extra.new()}
    first = next(iter(C.fields(user).values()))
    return {"kind": "field", "field": first.key, "operator": C.OPERATORS[first.type][0], "value": ""}


def _node_at(tree: dict[str, Any], path: Path) -> dict[str, Any] | None:
    node: Any = tree
    for i in path:
        children = node.get("conditions") if isinstance(node, dict) else None
        if not isinstance(children, list) or not 0 <= i < len(children):
            return None
        node = children[i]
    return node if isinstance(node, dict) else None


def _parse_path(text: str) -> Path | None:
    if text == "":
        return ()
    try:
        return tuple(int(p) for p in text.split("-"))
    except ValueError:
        return None


def apply_action(tree: dict[str, Any], action: str, user: User | None = None) -> dict[str, Any]:
    """``add_condition:<path>[:<kind>]``, ``add_group:<path>``, ``remove:<path>``,
    ``add_where:<path>``, ``remove_where:<path>:<i>``; paths are like ``0-1`` (``""`` is the
    top group). An action on a node that is not there changes nothing."""
    verb, _sep, rest = action.partition(":")
    target, _sep, extra = rest.partition(":")
    path = _parse_path(target)
    if path is None:
        return tree
    node = _node_at(tree, path)
    if node is None:
        return tree
    if verb in ("add_condition", "add_group") and "op" in node:
        if verb == "add_group":
            child = {"op": "any", "conditions": [new_condition("field", user)]}
        else:
            child = new_condition(extra if extra in C.KINDS else "field", user)
        node.setdefault("conditions", []).append(child)
    elif verb == "remove" and path:
        parent = _node_at(tree, path[:-1])
        if parent is not None:
            del parent["conditions"][path[-1]]
    elif verb == "add_where" and node.get("kind") == "event":
        node.setdefault("where", []).append({"property": "", "operator": "eq", "value": ""})
    elif (
        verb == "remove_where"
        and node.get("kind") == "event"
        and extra.isascii()
        and extra.isdigit()
        and len(extra) < 4
    ):
        where = node.get("where") or []
        if int(extra) < len(where):
            del where[int(extra)]
    return tree


def normalize_choices(tree: dict[str, Any], user: User | None, changed: str = "") -> dict[str, Any]:
    """After an input changed (``changed`` is its name, as htmx reports it): a new kind starts
    the condition afresh, an unknown field becomes the first one, and an operator the field's
    type does not take becomes its first one (the value widgets follow)."""
    m = _NAME.match(changed or "")
    if m and m.group(2) == "kind":
        path = tuple(int(p) for p in m.group(1).split("-")[1:])
        node = _node_at(tree, path)
        if path and node is not None and "op" not in node:
            parent = _node_at(tree, path[:-1])
            if parent is not None:
                parent["conditions"][path[-1]] = new_condition(str(node.get("kind")), user)
    _normalize(tree, C.fields(user), user)
    return tree


def _normalize(tree: dict[str, Any], fields: dict[str, C.Field], user: User | None) -> None:
    for i, child in enumerate(tree.get("conditions", [])):
        if "op" in child:
            _normalize(child, fields, user)
            continue
        kind = child.get("kind")
        if kind not in C.KINDS and CONDITION_KINDS.get(str(kind)) is None:
            tree["conditions"][i] = new_condition("field", user)
            continue
        if kind == "field" and child.get("field") not in fields:
            child["field"] = next(iter(fields))
        if kind == "purchase" and child.get("metric") not in C.PURCHASE_METRICS:
            child["metric"] = "order_count"
        allowed = operators_for(child, fields)
        if allowed and child.get("operator") not in [v for v, _label in allowed]:
            child["operator"] = allowed[0][0]
            child.pop("value", None)
            child.pop("days", None)


def operators_for(node: dict[str, Any], fields: dict[str, C.Field]) -> list[tuple[str, str]]:
    kind = node.get("kind")
    ops: list[str] = []
    if kind == "field":
        f = fields.get(str(node.get("field")))
        ops = C.field_operators(f) if f else []
    elif kind == "event_time":
        ops = C.EVENT_TIME_OPERATORS
    elif kind == "purchase":
        metric = C.PURCHASE_METRICS.get(str(node.get("metric")))
        ops = C.PURCHASE_DATE_OPERATORS if metric and metric[0] == C.DATETIME else C.PURCHASE_NUMBER_OPERATORS
    return [(op, str(C.OPERATOR_LABELS.get(op, op))) for op in ops]


# --- tree → what the templates render ---------------------------------------------------------


@dataclass
class NodeView:
    path: Path
    node: dict[str, Any]
    children: list[NodeView] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operators: list[tuple[str, str]] = field(default_factory=list)
    # For operands: "none", "days", "list", "pair", "single"; the input type; choices of a select.
    value_mode: str = "none"
    input_type: str = "text"
    choices: list[tuple[str, str]] | None = None
    where: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Event conditions: property names seen on the event, and whether its name was never seen.
    properties: list[str] = field(default_factory=list)
    unseen: bool = False
    # A kind an app above segments adds (extensions.CONDITION_KINDS): its inputs and their data.
    extra_template: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return node_name(self.path)

    @property
    def target(self) -> str:
        return "-".join(str(i) for i in self.path)

    @property
    def is_group(self) -> bool:
        return "op" in self.node

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def kind(self) -> str:
        return str(self.node.get("kind", ""))

    @property
    def value(self) -> Any:
        return self.node.get("value")

    @property
    def value_text(self) -> str:
        value = self.node.get("value")
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return "" if value is None else str(value)

    @property
    def value_list(self) -> list[str]:
        value = self.node.get("value")
        return [str(v) for v in value] if isinstance(value, list) else []

    def pair(self, i: int) -> str:
        value = self.node.get("value")
        if isinstance(value, list) and len(value) > i and value[i] is not None:
            return str(value[i])
        return ""

    @property
    def low(self) -> str:
        return self.pair(0)

    @property
    def high(self) -> str:
        return self.pair(1)

    @property
    def period_mode(self) -> str:
        period = self.node.get("period")
        if isinstance(period, dict) and "last_days" in period:
            return "last"
        if isinstance(period, dict) and ("from" in period or "to" in period):
            return "range"
        return ""

    @property
    def period(self) -> dict[str, Any]:
        period = self.node.get("period")
        return period if isinstance(period, dict) else {}

    @property
    def count(self) -> dict[str, Any]:
        count = self.node.get("count")
        return count if isinstance(count, dict) else {"operator": "gte", "value": 1}

    @property
    def tags_text(self) -> str:
        tags = self.node.get("tags")
        return ", ".join(str(t) for t in tags) if isinstance(tags, list) else ""

    @property
    def bought_match(self) -> str:
        return "category" if self.node.get("category") and not self.node.get("product") else "product"

    @property
    def bought_what(self) -> str:
        return str(self.node.get("category") or self.node.get("product") or "")


_TYPE_INPUTS = {C.NUMBER: "number", C.DATE: "date", C.DATETIME: "date"}


def _operand_view(view: NodeView, type_: str, choices: Any) -> None:
    op = str(view.node.get("operator", ""))
    if op in C.NO_VALUE or not op:
        view.value_mode = "none"
    elif op in C.DAYS_VALUE:
        view.value_mode = "days"
    elif op in C.LIST_VALUE:
        view.value_mode = "list"
    elif op in C.PAIR_VALUE:
        view.value_mode = "pair"
    else:
        view.value_mode = "single"
    view.input_type = _TYPE_INPUTS.get(type_, "text")
    if choices is not None and type_ in (C.CHOICE, C.MULTI) and view.value_mode in ("single", "list"):
        view.choices = choices()
        view.input_type = "select"


# What a person fills in, per kind of condition: while it is empty the condition is not wrong,
# just not written yet (a fresh builder must not open saying its conditions are not valid).
_OPERANDS = {
    "field": ("value", "days"), "tag": ("tags",), "consent": ("purpose",), "event": ("name",),
    "event_time": ("name",), "purchase": ("value", "days"), "bought": ("product", "category"),
    "segment": ("segment",),
}  # fmt: skip


def _empty(value: Any) -> bool:
    if isinstance(value, list):
        return all(_empty(v) for v in value)
    return value is None or (isinstance(value, str) and not value.strip())


def is_blank(node: Mapping[str, Any]) -> bool:
    """A condition whose operand nobody has filled in yet."""
    operands = _OPERANDS.get(str(node.get("kind")), ())
    return bool(operands) and all(_empty(node.get(key)) for key in operands)


def without_blank(tree: dict[str, Any], errors: Mapping[Path, list[str]]) -> dict[Path, list[str]]:
    """``errors`` less those of conditions not filled in yet."""
    return {path: messages for path, messages in errors.items() if not _blank_at(tree, path)}


def _blank_at(tree: dict[str, Any], path: Path) -> bool:
    node = _node_at(tree, path)
    return node is not None and "op" not in node and is_blank(node)


def event_nodes(view: NodeView) -> Iterator[NodeView]:
    """The event and event-time conditions of a rendered tree."""
    if view.is_group:
        for child in view.children:
            yield from event_nodes(child)
    elif view.kind in ("event", "event_time"):
        yield view


def event_names_in(tree: Mapping[str, Any]) -> list[str]:
    """The event names a (checked) tree uses, in order, once each."""
    names: list[str] = []
    for child in tree.get("conditions", []):
        if "op" in child:
            names.extend(n for n in event_names_in(child) if n not in names)
        elif child.get("kind") in ("event", "event_time") and child.get("name") and child["name"] not in names:
            names.append(child["name"])
    return names


def errors_by_node(details: Mapping[str, Any]) -> dict[Path, list[str]]:
    """Error messages of :func:`conditions.clean` (keyed ``conditions.0.1.value``) by node path."""
    out: dict[Path, list[str]] = {}
    for key, messages in details.items():
        tokens = str(key).split(".")
        if not tokens or tokens[0] != "conditions":
            continue
        path: list[int] = []
        rest: list[str] = []
        for token in tokens[1:]:
            if token == "conditions" and not rest:
                continue
            if token.isdigit() and not rest:
                path.append(int(token))
            else:
                rest.append(token)
        where = ".".join(rest)
        for message in messages if isinstance(messages, list) else [messages]:
            out.setdefault(tuple(path), []).append(f"{where}: {message}" if where else str(message))
    return out


def tree_view(
    tree: dict[str, Any], user: User | None, errors: Mapping[Path, list[str]] | None = None, path: Path = ()
) -> NodeView:
    fields = C.fields(user)
    return _view(tree, fields, errors or {}, path)


def _view(node: dict[str, Any], fields: dict[str, C.Field], errors: Mapping[Path, list[str]], path: Path) -> NodeView:
    view = NodeView(path=path, node=node, errors=list(errors.get(path, [])))
    if "op" in node:
        view.children = [_view(c, fields, errors, (*path, i)) for i, c in enumerate(node.get("conditions", []))]
        return view
    kind = node.get("kind")
    view.operators = operators_for(node, fields)
    if kind == "field":
        f = fields.get(str(node.get("field")))
        if f is not None:
            _operand_view(view, f.type, f.choices)
    elif kind == "event_time":
        _operand_view(view, C.DATETIME, None)
    elif kind == "purchase":
        metric = C.PURCHASE_METRICS.get(str(node.get("metric")))
        _operand_view(view, metric[0] if metric else C.NUMBER, None)
    elif kind == "event":
        where = node.get("where")
        view.where = list(enumerate(where)) if isinstance(where, list) else []
    elif (extra := CONDITION_KINDS.get(str(kind))) is not None:
        view.extra_template, view.extra = extra.template, extra.view(node)
    return view


def kind_choices(user: User) -> list[tuple[str, str]]:
    return [
        (k, str(label))
        for k, label in KIND_LABELS.items()
        if k not in KIND_NEEDS or user.can(KIND_NEEDS[k], perms.VIEW)
    ] + [(k, str(extra.label)) for k, extra in CONDITION_KINDS.items() if user.can(extra.permission, perms.VIEW)]


def field_groups(user: User) -> list[tuple[str, list[tuple[str, str]]]]:
    """The fields a user may use, grouped for ``<optgroup>``: contact, company, custom."""
    groups: dict[str, list[tuple[str, str]]] = {"contact": [], "company": [], "custom": []}
    for f in C.fields(user).values():
        group = "company" if f.is_company else "custom" if f.is_custom else "contact"
        label = str(f.label)
        groups[group].append((f.key, label[:1].upper() + label[1:]))
    names = {"contact": gettext("Contact"), "company": gettext("Company"), "custom": gettext("Custom fields")}
    return [(names[g], items) for g, items in groups.items() if items]


# --- plain forms ------------------------------------------------------------------------------


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def apply_errors(self, details: Mapping[str, Any]) -> None:
        for key in ("name", "description"):
            for message in details.get(key, []) if isinstance(details.get(key), list) else []:
                self.add_error(key, str(message))


class SnapshotForm(forms.Form):
    name = forms.CharField(label=_("Name of the new list"), max_length=200)


class ListAddForm(forms.Form):
    """Contacts ticked in the search results (or ids typed)."""

    ids = forms.CharField(required=False)

    def contact_ids(self, data: Any) -> list[str]:
        raw = data.getlist("ids") if hasattr(data, "getlist") else []
        return [v for item in raw for v in _split(item)]


# Headers of a file's column that holds contact ids (only there is a bare number an id).
ID_HEADERS = frozenset({"id", "contact id", "contact_id", "mã liên hệ"})


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect | None:
    """The file's CSV dialect (``,``, ``;`` or tab between cells, quoting), or None for a file of
    one value per line."""
    sample = text[: 64 * 1024]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return None


def file_lines(text: str) -> list[str]:
    """One key per line of an uploaded file, read as CSV (quoted cells, ``,`` ``;`` or tab): the
    column named id, each value written ``#id``, or else the first column. The header line
    becomes empty, and a quoted cell running over several lines leaves its other lines empty,
    so line numbers stay the file's."""
    text = text.removeprefix("\ufeff")
    dialect = _dialect(text)
    if dialect is None:
        return [line.strip() for line in text.splitlines()]
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    keys: list[str] = []
    column: int | None = None
    for number, row in enumerate(reader):
        cells = [cell.strip() for cell in row]
        if number == 0:
            column = next((i for i, cell in enumerate(cells) if cell.casefold() in ID_HEADERS), None)
        if column is None:
            keys.append(cells[0] if cells else "")
        elif number == 0:
            keys.append("")
        else:
            value = cells[column] if column < len(cells) else ""
            keys.append(f"#{value}" if value else "")
        keys.extend([""] * (reader.line_num - len(keys)))  # the other lines of a quoted cell
    return keys


class ListImportForm(forms.Form):
    text = forms.CharField(
        label=_("Emails, phone numbers or contact ids written #123, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    file = forms.FileField(
        label=_("…or a text or CSV file with one per line (a column named id holds contact ids)"), required=False
    )

    MAX_BYTES = 10 * 1024 * 1024

    def lines(self) -> list[str]:
        """The pasted text, or the first column of the uploaded file, line by line."""
        upload = self.cleaned_data.get("file")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(gettext("The file is larger than 10 MB."))
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                from charset_normalizer import from_bytes

                best = from_bytes(raw).best()
                text = str(best) if best is not None else raw.decode("latin-1")
            return file_lines(text)
        return (self.cleaned_data.get("text") or "").splitlines()


def kind_of(request_kind: str) -> str:
    return Segment.Kind.STATIC if request_kind == Segment.Kind.STATIC else Segment.Kind.DYNAMIC
