"""Resident identity numbers (居民身份证号码, GB 11643-1999): normalised, then checked.

Normalised with NFKC first, so fullwidth digits typed on a Chinese keyboard (１１０１…) and a
lowercase x are the same number as their ASCII form: one person, one record, one hash.
"""

from __future__ import annotations

import unicodedata
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def normalise(id_number: str) -> str:
    return unicodedata.normalize("NFKC", id_number).strip().upper().replace(" ", "")


def check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def problem(id_number: str) -> str | None:
    """Why this is not a valid ID number, or None. 18 characters with a correct check
    character and a real birth date; or the old 15-digit form (issued before 1999)."""
    n = normalise(id_number)
    if len(n) == 15:
        digits, birth = n, "19" + n[6:12]
    elif len(n) == 18:
        if not n[:17].isdigit() or n[17] not in "0123456789X":
            return "id_number must be 17 digits and a check digit or X"
        if check_char(n[:17]) != n[17]:
            return "id_number check digit is wrong (GB 11643)"
        digits, birth = n[:17], n[6:14]
    else:
        return "id_number must have 18 characters (or 15 digits for old cards)"
    if not digits.isdigit():
        return "id_number must be digits (the last may be X)"
    try:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
    except ValueError:
        return "id_number holds no valid birth date"
    if not date(1890, 1, 1) <= born <= date.today():
        return "id_number holds an implausible birth date"
    return None
