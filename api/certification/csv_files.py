"""Reading the CSV files other systems send: every byte accounted for, or a clear refusal.

Chinese Excel saves CSV in GBK (GB18030 is its superset) or, as "Unicode text", UTF-16;
modern tools use UTF-8. The encoding is detected by trying the strict decoders in turn; a
file none of them reads is refused, never imported as replacement characters.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from api.certification.errors import INVALID, DomainError, Kind

ENCODINGS = ("utf-8-sig", "gb18030")
MAX_FIELD_CHARS = 1000  # far above any name or note; a longer field is a broken file


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a CSV file's bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates: tuple[str, ...] = ("utf-16",)
    else:
        candidates = ENCODINGS
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DomainError(
        Kind.INVALID, INVALID, "the file is neither UTF-8 nor GBK/GB18030 text: save it as CSV UTF-8"
    )


def rows(text: str, needed: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each data row; the header must name ``needed``. A malformed file
    (a field too long, an unterminated quote) is refused whole, naming the line."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fields = reader.fieldnames
        if not fields or not set(needed) <= {f.strip() for f in fields}:
            raise DomainError(Kind.INVALID, INVALID, f"CSV needs columns {sorted(needed)}")
        reader.fieldnames = [f.strip() for f in fields]
        for row in reader:
            line = reader.line_num
            if any(value is not None and len(value) > MAX_FIELD_CHARS for value in row.values()):
                raise DomainError(
                    Kind.INVALID, INVALID, f"line {line}: a field is longer than {MAX_FIELD_CHARS}"
                )
            yield line, {k: v for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
    except csv.Error as exc:
        raise DomainError(Kind.INVALID, INVALID, f"line {reader.line_num}: not valid CSV ({exc})") from exc


def text_problem(value: str, field: str, max_chars: int) -> str | None:
    """Names and notes: printable text of a bounded length (no NUL or other control codes,
    which SQLite keeps and PostgreSQL refuses: the same row must behave the same on both)."""
    if not value:
        return f"{field} is empty"
    if len(value) > max_chars:
        return f"{field} is longer than {max_chars} characters"
    if any(not ch.isprintable() for ch in value):
        return f"{field} contains control characters"
    return None
