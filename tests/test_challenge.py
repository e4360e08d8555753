"""Challenges: unguessable single-use nonces, digit rules, windows, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from liveness.challenge import Challenge, ChallengeFactory, MemoryNonceLedger, is_easy_pattern, random_digits


def test_nonces_never_repeat() -> None:
    factory = ChallengeFactory()
    nonces = {factory.issue().nonce for _ in range(3000)}
    assert len(nonces) == 3000
    assert all(len(n) >= 24 for n in nonces)


def test_digits_respect_the_rules() -> None:
    factory = ChallengeFactory()
    for _ in range(2000):
        ch = factory.issue()
        assert 4 <= len(ch.digits) <= 6 and ch.digits.isdigit()
        assert not is_easy_pattern(ch.digits)
        assert all(a != b for a, b in zip(ch.digits, ch.digits[1:], strict=False))
        assert ch.blinks in (1, 2)


@pytest.mark.parametrize("digits", ["1111", "1234", "9876", "4545", "1123", "5678", "8866"])
def test_easy_patterns_are_recognised(digits: str) -> None:
    assert is_easy_pattern(digits)


@pytest.mark.parametrize("digits", ["3816", "40725", "918364"])
def test_ordinary_digits_are_not_easy(digits: str) -> None:
    assert not is_easy_pattern(digits)


def test_the_digits_language_is_the_one_asked_for() -> None:
    factory = ChallengeFactory()
    assert factory.issue().language == "zh"
    assert factory.issue(language="en").language == "en"
    assert ChallengeFactory(kind="random").issue(language="en").language == "en"
    with pytest.raises(ValueError, match="digits are read in one of"):
        factory.issue(language="fr")


def test_digit_length_is_bounded() -> None:
    with pytest.raises(ValueError):
        random_digits(3)
    with pytest.raises(ValueError):
        random_digits(7)


def test_prompt_windows_follow_each_other_and_fit_the_digits() -> None:
    ch = ChallengeFactory().issue(blinks=1, digit_count=6)
    assert {p.action for p in ch.prompts} == {"blink", "digits"}
    first, second = ch.prompts
    assert first.start_s == 0 and second.start_s == first.end_s
    digits = ch.window("digits")
    assert digits is not None and digits.end_s - digits.start_s >= 6 * 1.0


def test_expiry_and_round_trip() -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    ch = ChallengeFactory(ttl_s=60).issue(now=now)
    assert not ch.is_expired(now + timedelta(seconds=59))
    assert ch.is_expired(now + timedelta(seconds=60))
    assert Challenge.from_dict(ch.to_dict()) == ch


def test_ledger_accepts_a_nonce_once() -> None:
    ledger = MemoryNonceLedger()
    assert ledger.consume("abc") is True
    assert ledger.consume("abc") is False


def test_a_random_factory_hands_out_timed_random_challenges_by_default() -> None:
    """`LIFECERT_CHALLENGES=random`: the service's plain issue() gives issue_random's kind
    (digits always, a blink and/or a head turn, each after its own pause); explicit requests
    (tests, benchmarks) keep the classic shape."""
    from liveness.challenge import ChallengeFactory

    factory = ChallengeFactory(kind="random")
    seen = [factory.issue() for _ in range(30)]
    assert all(c.digits for c in seen)
    assert any(c.turns for c in seen) and all(c.prompts[0].start_s > 0 for c in seen)
    assert {p.action for c in seen for p in c.prompts} >= {"digits", "blink"}
    classic = factory.issue(blinks=1)
    assert not classic.turns and classic.prompts[0].start_s == 0.0
