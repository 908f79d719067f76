"""Parquet files with an explicit, exact schema, and folders on any fsspec file system.

Numerics are written as Parquet decimals, never floats: a figure read back is the figure
sent, to the last digit (a float would round 1/3 and percentile_cont's exact results). The
scale of a column is the largest scale among its values (PostgreSQL numeric keeps each value's
own scale), the precision 38 (decimal128, what BI tools read) or 76 (decimal256) when a value
needs more digits; a value that fits neither, or NaN, stops the export instead of rounding.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq


class FileSchemaError(ValueError):
    """A file that is not the Parquet file its name says (columns, types, unreadable)."""


def _decimal_type(name: str, values: list) -> pa.DataType:
    scale, whole = 0, 1
    for v in values:
        if v is None:
            continue
        if not isinstance(v, Decimal) or not v.is_finite():
            raise FileSchemaError(f"column {name}: {v!r} is not a finite decimal")
        _sign, digits, exponent = v.as_tuple()
        scale = max(scale, -exponent if exponent < 0 else 0)
        whole = max(whole, len(digits) + exponent)
    if whole + scale <= 38:
        return pa.decimal128(38, scale)
    if whole + scale <= 76:
        return pa.decimal256(76, scale)
    raise FileSchemaError(f"column {name}: values need {whole + scale} digits (at most 76)")


_PLAIN = {
    "text": pa.string(),
    "date": pa.date32(),
    "int": pa.int64(),
    "text[]": pa.list_(pa.string()),
}


def encode(rows: list[tuple], columns: tuple[tuple[str, str], ...]) -> bytes:
    """Parquet bytes of rows (tuples in column order) under an explicit schema."""
    arrays, fields = [], []
    for i, (name, kind) in enumerate(columns):
        values = [r[i] for r in rows]
        typ = _decimal_type(name, values) if kind == "numeric" else _PLAIN[kind]
        arrays.append(pa.array(values, type=typ))
        fields.append(pa.field(name, typ))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _kind_matches(kind: str, typ: pa.DataType) -> bool:
    if kind == "text":
        return pa.types.is_string(typ) or pa.types.is_large_string(typ)
    if kind == "date":
        return pa.types.is_date32(typ)
    if kind == "int":
        return pa.types.is_integer(typ)
    if kind == "numeric":
        return pa.types.is_decimal(typ) or pa.types.is_integer(typ)
    return pa.types.is_list(typ) and pa.types.is_string(typ.value_type)


def decode(data: bytes, columns: tuple[tuple[str, str], ...]) -> list[tuple]:
    """The rows of a Parquet file that must have exactly these columns, of these kinds."""
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileSchemaError(f"not a readable Parquet file ({exc})") from None
    want = [c for c, _ in columns]
    got = table.schema.names
    if sorted(got) != sorted(want):
        extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
        raise FileSchemaError(
            f"columns differ: unexpected {extra or 'none'}, missing {missing or 'none'}"
        )
    for name, kind in columns:
        typ = table.schema.field(name).type
        if not _kind_matches(kind, typ):
            raise FileSchemaError(f"column {name} is {typ}, expected {kind}")
    table = table.select(want)
    out = []
    for row in table.to_pylist():
        values = []
        for name, kind in columns:
            v = row[name]
            if kind == "numeric" and isinstance(v, int):
                v = Decimal(v)
            if kind == "date" and v is not None and not isinstance(v, dt.date):
                raise FileSchemaError(f"column {name}: {v!r} is not a date")
            values.append(v)
        out.append(tuple(values))
    return out


def fs_and_path(url: str):
    """The fsspec file system and the path on it of a folder or URL (s3://, gs://, file)."""
    fs, path = fsspec.core.url_to_fs(url)
    return fs, path.rstrip("/")


def write_folder(url: str, parts: list[str], files: list[tuple[str, bytes]]) -> str:
    """Write files, in the order given, into url/parts...; returns the folder's URL."""
    fs, root = fs_and_path(url)
    folder = "/".join([root, *parts])
    fs.makedirs(folder, exist_ok=True)
    for name, data in files:
        with fs.open(f"{folder}/{name}", "wb") as f:
            f.write(data)
    return fs.unstrip_protocol(folder)


def find_folders(url: str, marker: str) -> list[str]:
    """URLs of the folders under url holding a file named marker (sorted)."""
    fs, root = fs_and_path(url)
    if not fs.exists(root):
        return []
    found = sorted(p.rsplit("/", 1)[0] for p in fs.find(root) if p.rsplit("/", 1)[-1] == marker)
    return [fs.unstrip_protocol(p) for p in found]


def read_or_none(folder_url: str, name: str) -> bytes | None:
    fs, folder = fs_and_path(folder_url)
    path = f"{folder}/{name}"
    try:
        with fs.open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
