"""Streaming CSV profiling for dataset uploads: row count and inferred column types.

The file is read once, row by row (never whole into memory). Anything that does not parse is
refused with the line it happened on, so a data scientist can fix the file.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from apps.core.exceptions import ApplicationError
from apps.registry.choices import ColumnType

_BOOLEANS = {"true", "false", "yes", "no", "t", "f", "y", "n"}
# Lattice: a column starts EMPTY and only widens as values arrive.
_WIDENING = {
    ColumnType.EMPTY: 0,
    ColumnType.BOOLEAN: 1,
    ColumnType.INTEGER: 2,
    ColumnType.FLOAT: 3,
    ColumnType.DATETIME: 4,
    ColumnType.STRING: 5,
}


@dataclass
class CsvProfile:
    row_count: int
    columns: list[dict]


def _value_type(value: str) -> ColumnType:
    text = value.strip()
    if not text:
        return ColumnType.EMPTY
    lowered = text.lower()
    if lowered in _BOOLEANS:
        return ColumnType.BOOLEAN
    try:
        int(text)
        return ColumnType.INTEGER
    except ValueError:
        pass
    try:
        float(text)
        return ColumnType.FLOAT
    except ValueError:
        pass
    try:
        datetime.fromisoformat(text)
        return ColumnType.DATETIME
    except ValueError:
        return ColumnType.STRING


def _merge(current: ColumnType, seen: ColumnType) -> ColumnType:
    if seen == ColumnType.EMPTY or current == seen:
        return current
    if current == ColumnType.EMPTY:
        return seen
    numeric = {ColumnType.INTEGER, ColumnType.FLOAT}
    if current in numeric and seen in numeric:
        return ColumnType.FLOAT
    # Mixed kinds (for example booleans and dates) can only be read as text.
    return ColumnType.STRING if _WIDENING[current] != _WIDENING[seen] else current


def _header(reader) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise ApplicationError("The CSV file is empty.", field="file") from None
    names = [name.strip() for name in header]
    if not any(names):
        raise ApplicationError("Line 1: the header row has no column names.", field="file")
    if any(not name for name in names):
        raise ApplicationError("Line 1: a column has no name.", field="file")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ApplicationError(
            f"Line 1: duplicate column names: {', '.join(duplicates)}.", field="file"
        )
    return names


def profile_csv(binary_file, *, max_field_bytes: int) -> CsvProfile:
    """Count rows and infer column types; raise ApplicationError naming the line on bad input."""
    binary_file.seek(0)
    text = io.TextIOWrapper(binary_file, encoding="utf-8-sig", newline="", errors="strict")
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max_field_bytes)
    try:
        reader = csv.reader(text, strict=True)
        try:
            names = _header(reader)
            types = [ColumnType.EMPTY] * len(names)
            rows = 0
            for row in reader:
                if not row:
                    continue  # blank line
                if len(row) != len(names):
                    raise ApplicationError(
                        f"Line {reader.line_num}: expected {len(names)} fields, found {len(row)}.",
                        field="file",
                    )
                rows += 1
                for index, value in enumerate(row):
                    types[index] = _merge(types[index], _value_type(value))
        except csv.Error as exc:
            raise ApplicationError(
                f"Line {reader.line_num}: the CSV does not parse ({exc}).", field="file"
            ) from None
        except UnicodeDecodeError as exc:
            raise ApplicationError(
                f"The file is not UTF-8 text (byte {exc.start} of a read block, "
                f"near line {reader.line_num + 1}).",
                field="file",
            ) from None
    finally:
        csv.field_size_limit(previous_limit)
        text.detach()
    binary_file.seek(0)
    return CsvProfile(
        row_count=rows,
        columns=[{"name": n, "type": str(t)} for n, t in zip(names, types, strict=True)],
    )
