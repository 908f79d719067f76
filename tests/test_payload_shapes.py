"""Every payload path a staging model reads is in its raw table's shape (payload_shapes).

Raw keeps in `payload` only the shape's projection (schoolcx.load.packing); a model reading a
path the shape lacks would read NULL for every packed row, silently. This test reads the SQL of
every staging model (and the macro arguments written in it) and follows payload paths:
`payload -> 'a' ->> 'b'`, `x ? 'k'`, the elements of jsonb_array_elements over a path
(`alias.value -> 'k'`, and a column it is renamed to: `child.value as child`), and the values of
jsonb_each over a path (any key: the shape must keep that value whole).
"""

from __future__ import annotations

import re

import pytest

from schoolcx.load import packing, payload_shapes
from schoolcx.paths import DBT_PROJECT_DIR

STAGING = DBT_PROJECT_DIR / "models" / "staging"
ELEMENT = "[]"  # an array's elements
ANY_KEY = "{}"  # an object's values under any key

_CHAIN = r"((?:\s*(?:->>|->|\?)\s*'[^']*')*)"
_STEP = re.compile(r"(->>|->|\?)\s*'([^']*)'")
_SOURCE = re.compile(r"source\(\s*'(\w+)'\s*,\s*'(\w+)'\s*\)")
_EXPANDERS = re.compile(r"\b(jsonb_array_elements|jsonb_each)\s*\(", re.I)


def _balanced(sql: str, start: int) -> str:
    """The text inside the parentheses opening at sql[start - 1]."""
    depth = 1
    for i in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[i], 0)
        if depth == 0:
            return sql[start:i]
    raise ValueError("unbalanced parentheses")


def _roots_pattern(roots: dict[str, list]) -> re.Pattern:
    names = "|".join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:\w+\.)?({names})\b" + _CHAIN)


def read_paths(sql: str) -> list[tuple[list, str]]:
    """(path, how it ends) for every payload read in a model's SQL.

    A path is a list of keys, ELEMENT and ANY_KEY; it ends in '->' (a jsonb value), '->>' (as
    text), '?' (a key's presence) or 'type' (a value whose type is tested or whose elements are
    expanded).
    """
    sql = re.sub(r"--[^\n]*", "", sql)
    roots: dict[str, list] = {"payload": []}
    expanded = []  # spans of the expanders' arguments
    for m in _EXPANDERS.finditer(sql):
        expanded.append((m.end(), m.end() + len(_balanced(sql, m.end()))))
    # aliases over payload paths, until no new one appears (an alias may stand on another)
    while True:
        found = dict(roots)
        pattern = _roots_pattern(found)
        for m in _EXPANDERS.finditer(sql):
            inner = _balanced(sql, m.end())
            arg = pattern.search(inner)
            after = sql[m.end() + len(inner) + 1 :]
            alias = re.match(r"\s*(?:with\s+ordinality\s+)?as\s+(\w+)", after, re.I)
            if not arg or not alias:
                continue
            path = found[arg.group(1)] + [k for _, k in _STEP.findall(arg.group(2))]
            each = ANY_KEY if m.group(1).lower() == "jsonb_each" else ELEMENT
            found[f"{alias.group(1)}.value"] = [*path, each]
        for m in re.finditer(r"(?<![\w.])(\w+\.value)\s+as\s+(\w+)", sql, re.I):
            if m.group(1) in found:
                found[m.group(2)] = found[m.group(1)]
        if found == roots:
            break
        roots = found
    paths = []
    pattern = re.compile(
        r"(?<![\w.])(?:\w+\.)?("
        + "|".join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
        + r")\b"
        + _CHAIN
    )
    for m in pattern.finditer(sql):
        steps = _STEP.findall(m.group(2))
        if not steps:
            continue
        ending = steps[-1][0]
        if ending == "->" and (
            re.search(r"jsonb_typeof\s*\(\s*$", sql[: m.start()], re.I)
            or any(a <= m.start() < b for a, b in expanded)
        ):
            ending = "type"  # its type, or its elements: their keys are read paths of their own
        paths.append(([*roots[m.group(1)], *(k for _, k in steps)], ending))
    return paths


def missing(shape: dict | None, path: list, ending: str) -> str | None:
    """Why the shape loses the value `path` reads; None when it keeps it."""
    if shape is None:
        return None  # no shape: payload is the whole record
    node = shape
    for depth, key in enumerate(path):
        if node is payload_shapes.WHOLE:
            return None
        if key == ELEMENT:
            continue  # a nested shape applies to an array's elements
        if key == ANY_KEY:
            return "its values are read under any key: the shape must keep it WHOLE"
        if key not in node:
            return f"no key {'.'.join(path[: depth + 1])!r}"
        node = node[key]
    if node is payload_shapes.WHOLE or ending in ("?", "type"):
        return None
    if ending == "->>":
        # read as text: compared with a scalar (Zendesk's `via` is a string or an object;
        # a scalar is kept as it came, an object's text is never that scalar)
        return None
    return None if path and path[-1] == ELEMENT else "read whole but projected"


def _models():
    for path in sorted(STAGING.glob("*/*.sql")):
        sql = path.read_text()
        source = _SOURCE.search(sql)
        if source and "payload" in sql:
            yield path.stem, source.group(2), sql


@pytest.mark.parametrize("model, table, sql", list(_models()), ids=lambda v: str(v)[:40])
def test_every_payload_path_is_in_the_shape(model, table, sql):
    shape = packing.shape_of(table)
    problems = []
    for path, ending in read_paths(sql):
        why = missing(shape, path, ending)
        if why:
            problems.append(f"{model} reads payload {'.'.join(path)} ({ending}): {why}")
    assert not problems, f"shape of raw.{table} (payload_shapes.SHAPES):\n" + "\n".join(problems)


def test_the_scan_finds_nested_array_and_renamed_paths():
    sql = """
        select source.payload -> 'via' ->> 'channel', c.child ->> 'author_id',
            children.child ? 'status', item.value ->> 'text', answer.value ->> 'x'
        from source
        cross join lateral jsonb_array_elements(
            case when jsonb_typeof(source.payload -> 'child_events') = 'array'
            then source.payload -> 'child_events' else '[]'::jsonb end
        ) with ordinality as child (value, ordinality)
        cross join lateral jsonb_array_elements(
            coalesce(page.value -> 'questions', '[]')
        ) as q (value)
        cross join lateral jsonb_array_elements(source.payload -> 'pages') as page (value)
        cross join lateral jsonb_array_elements(q.value -> 'answers') as item (value)
        cross join lateral jsonb_each(source.payload -> 'values') as answer (key, value)
        -- child.value as child: the renamed column
        , child.value as child
    """
    paths = {tuple(p) for p, _ in read_paths(sql)}
    assert ("via", "channel") in paths
    assert ("child_events", ELEMENT, "author_id") in paths
    assert ("child_events", ELEMENT, "status") in paths
    assert ("pages", ELEMENT, "questions", ELEMENT, "answers", ELEMENT, "text") in paths
    assert ("values", ANY_KEY, "x") in paths
    shape = {"via": {"channel": True}, "child_events": {"status": True}, "values": True}
    assert missing(shape, ["child_events", ELEMENT, "author_id"], "->>") == (
        "no key 'child_events.[].author_id'"
    )
    assert missing(shape, ["values", ANY_KEY, "x"], "->>") is None
    assert missing({"values": {"a": True}}, ["values", ANY_KEY, "x"], "->>") is not None


def test_every_staging_model_with_payload_reads_is_scanned():
    scanned = {table for _, table, _ in _models()}
    assert scanned == set(payload_shapes.SHAPES), "a raw table without a model, or the reverse"


def _leaves(shape: dict, prefix: tuple = ()):
    for key, sub in shape.items():
        if sub is payload_shapes.WHOLE:
            yield (*prefix, key)
        else:
            yield from _leaves(sub, (*prefix, key))


def test_every_shape_key_is_read_by_a_model():
    """The projection keeps nothing staging does not read (rows stay small)."""
    read: dict[str, set] = {}
    for _, table, sql in _models():
        for path, _ in read_paths(sql):
            keys = tuple(k for k in path if k not in (ELEMENT, ANY_KEY))
            read.setdefault(table, set()).update(keys[:n] for n in range(1, len(keys) + 1))
    for table, paths in payload_shapes.READ_OUTSIDE_STAGING.items():
        read.setdefault(table, set()).update(p[:n] for p in paths for n in range(1, len(p) + 1))
    unread = [
        f"{table}: {'.'.join(leaf)}"
        for table, shape in payload_shapes.SHAPES.items()
        for leaf in _leaves(shape)
        if leaf not in read.get(table, set())
    ]
    assert not unread, "shape keys no staging model reads:\n" + "\n".join(unread)


def test_python_code_reads_raw_payloads_only_within_the_shapes():
    """Code outside staging that selects payload paths from raw (the IMAP connector's threading)
    reads what the shapes keep, and says so in READ_OUTSIDE_STAGING."""
    plugins = DBT_PROJECT_DIR.parent / "plugins" / "schoolcx"
    problems, found = [], {}
    for path in sorted(plugins.rglob("*.py")):
        if path.parent.name in ("load", "bench", "dbt") or "sandbox" in path.parts:
            continue
        text = path.read_text()
        tables = set(re.findall(r"\braw\.(\w+)", text)) & set(payload_shapes.SHAPES)
        for table in tables:
            for keys, ending in read_paths(text):
                found.setdefault(table, set()).add(tuple(keys))
                why = missing(packing.shape_of(table), keys, ending)
                if why:
                    problems.append(f"{path.name} reads raw.{table} payload {keys}: {why}")
    assert not problems, "\n".join(problems)
    declared = {t: set(p) for t, p in payload_shapes.READ_OUTSIDE_STAGING.items()}
    assert found == declared
