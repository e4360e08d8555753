"""Policies are data: one TOML file each, shipped in api/certification/policies/ or added by an operator.

An operator adds a region's rules without code by dropping a TOML file with the same keys
into ``$LIFECERT_HOME/policies/``; it is validated on load and refused with a clear message
when a category or cycle is unknown.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CATEGORIES = (
    "retiree",
    "resident_pension",
    "enterprise_survivor",
    "work_injury",
    "work_injury_dependent",
    "supported_relative",
)
CYCLES = ("rolling", "window")
WINDOW_MONTHS = (1, 3, 6, 12)


class PolicyError(ValueError):
    """A policy file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class CycleRule:
    """``rolling``: due N months after the last certification. ``window``: at least one
    certification in each calendar window of N months (1 month, quarter, half-year)."""

    cycle: str
    months: int


@dataclass(frozen=True)
class Policy:
    key: str
    title: str
    rules: dict[str, CycleRule]
    reminder_days: int = 30
    review_after_months: int = 24
    payday_cutoff_day: int = 28
    late_payment_day: int = 20
    allow_data_comparison: bool = False

    def rule_for(self, category: str) -> CycleRule:
        if category not in self.rules:
            raise PolicyError(f"policy {self.key!r} has no rule for category {category!r}")
        return self.rules[category]


def parse_policy(text: str, origin: str) -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{origin}: not valid TOML ({exc})") from exc
    for field in ("key", "categories"):
        if field not in data:
            raise PolicyError(f"{origin}: missing {field!r}")
    rules = {}
    for category, spec in data["categories"].items():
        if category not in CATEGORIES:
            raise PolicyError(f"{origin}: unknown category {category!r}; known: {', '.join(CATEGORIES)}")
        cycle, months = spec.get("cycle"), spec.get("months")
        if cycle not in CYCLES:
            raise PolicyError(f"{origin}: {category}.cycle must be one of {CYCLES}, got {cycle!r}")
        if not isinstance(months, int) or months < 1 or (cycle == "window" and months not in WINDOW_MONTHS):
            raise PolicyError(f"{origin}: {category}.months is invalid: {months!r}")
        rules[category] = CycleRule(cycle, months)
    cutoff = int(data.get("payday_cutoff_day", 28))
    if not 2 <= cutoff <= 28:
        raise PolicyError(f"{origin}: payday_cutoff_day must be 2-28")
    return Policy(
        key=str(data["key"]),
        title=str(data.get("title", data["key"])),
        rules=rules,
        reminder_days=int(data.get("reminder_days", 30)),
        review_after_months=int(data.get("review_after_months", 24)),
        payday_cutoff_day=cutoff,
        late_payment_day=int(data.get("late_payment_day", 20)),
        allow_data_comparison=bool(data.get("allow_data_comparison", False)),
    )


def load_policies(extra_dir: Path | None = None) -> dict[str, Policy]:
    """Built-in policies plus any ``*.toml`` in ``extra_dir`` (an operator's additions)."""
    policies: dict[str, Policy] = {}
    builtin = resources.files("api.certification").joinpath("policies")
    sources = [(f.name, f.read_text(encoding="utf-8")) for f in builtin.iterdir() if f.name.endswith(".toml")]
    if extra_dir is not None and extra_dir.is_dir():
        sources += [(str(p), p.read_text(encoding="utf-8")) for p in sorted(extra_dir.glob("*.toml"))]
    for origin, text in sources:
        policy = parse_policy(text, origin)
        policies[policy.key] = policy
    return policies
