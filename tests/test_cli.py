"""`lifecert verify` and `lifecert bench` from the command line, on real photos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from models import ModelStore
from tests.conftest import FACES

pytestmark = pytest.mark.needs_data
runner = CliRunner()


def _verify(a: Path, b: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(app, ["verify", str(a), str(b)])
    return result.exit_code, json.loads(result.stdout)


def test_verify_same_person_exits_0_with_report() -> None:
    code, out = _verify(FACES / "deepface/img1.jpg", FACES / "deepface/img2.jpg")
    assert code == 0 and out["match"] is True
    assert out["score"] >= out["threshold"]
    assert out["id_photo"]["quality"]["passed"] is True
    assert {"detect", "landmarks", "align", "embed"} <= set(out["timings_ms"]["live_photo"])


def test_verify_different_people_exits_1() -> None:
    # img1 (deepface_id01) and img3 (another identity in the deepface manifest).
    code, out = _verify(FACES / "deepface/img1.jpg", FACES / "deepface/img3.jpg")
    assert code == 1 and out["match"] is False


def test_verify_bad_input_exits_2_with_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    code, out = _verify(FACES / "deepface/img1.jpg", empty)
    assert code == 2 and out["error"]["code"] == "file_empty"
    code, out = _verify(tmp_path / "missing.jpg", FACES / "deepface/img1.jpg")
    assert code == 2 and out["error"]["code"] == "file_missing"


def test_bench_writes_a_complete_report(tmp_path: Path) -> None:
    rows = [line for line in (FACES / "pairs.csv").read_text().splitlines() if ",deepface" in line]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_a,file_b,same,set,fold\n" + "\n".join(rows[:12] + rows[-12:]) + "\n")
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "bench",
            str(pairs),
            "--root",
            str(FACES),
            "--out",
            str(out),
            "--preset",
            "fast",
            "--workers",
            "1",
            "--no-cache",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in (
        "metrics.json",
        "report.md",
        "report.html",
        "roc.png",
        "det.png",
        "scores.png",
        "scores.csv",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pairs_total"] == 24
    assert metrics["overall"]["genuine"] + metrics["overall"]["impostor"] == 24
    assert metrics["images"]["no_face_count"] == 0
    assert "deepface" in metrics["per_set"]
    assert metrics["overall"]["auc"] > 0.9


def test_bench_refuses_a_malformed_pairs_file(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("left,right\na,b\n")
    result = runner.invoke(app, ["bench", str(pairs), "--root", str(FACES), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "missing columns" in result.output


def test_payment_run_command_records_a_month_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import date, timedelta

    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    last = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    bad = runner.invoke(app, ["payment-run", "2026-13"])
    assert bad.exit_code == 2 and "month must be YYYY-MM" in bad.output
    first = runner.invoke(app, ["payment-run", last])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) | {"counts": None} == {
        "month": last,
        "decided_on": f"{last}-27",
        "counts": None,
    }
    again = runner.invoke(app, ["payment-run", last])
    assert again.exit_code == 2 and "already recorded" in again.output


def test_bench_impostors_scores_every_pair_of_different_people(tmp_path: Path) -> None:
    folder = tmp_path / "people"
    lfw = FACES / "lfw"
    for person in ("Aaron_Peirsol", "Abdullah_Gul", "Adrien_Brody"):
        (folder / person).mkdir(parents=True)
        for photo in sorted((lfw / person).glob("*.jpg"))[:2]:
            (folder / person / photo.name).symlink_to(photo)
    out = tmp_path / "report"
    args = ["bench-impostors", str(folder), "--out", str(out), "--workers", "1", "--no-cache"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    # 6 photos of 3 people: 15 pairs, 3 of them the same person.
    assert (metrics["impostor_pairs"], metrics["genuine_pairs"]) == (12, 3)
    assert set(metrics["at_threshold"]) == {
        "1:1 match (calibration in force)",
        "register screening (service)",
    }
    assert metrics["at_threshold"]["1:1 match (calibration in force)"]["tar"] == 1.0
    assert metrics["at_fmr"] == {}  # 12 impostor pairs resolve no FMR of 1e-3 or below
    assert len(metrics["top_impostors"]) == 10
    assert all(p["a"].split("/")[0] != p["b"].split("/")[0] for p in metrics["top_impostors"])
    for name in ("report.md", "report.html", "fmr_tail.png"):
        assert (out / name).stat().st_size > 0, name
    lonely = tmp_path / "one"
    (lonely / "Aaron_Peirsol").mkdir(parents=True)
    (lonely / "Aaron_Peirsol" / "a.jpg").symlink_to(sorted((lfw / "Aaron_Peirsol").glob("*.jpg"))[0])
    refused = runner.invoke(app, ["bench-impostors", str(lonely), "--out", str(out), "--no-cache"])
    assert refused.exit_code == 2 and "at least two people" in refused.output


def test_bench_reads_pgm_counts_unreadable_apart_and_reports_groups(tmp_path: Path) -> None:
    import cv2

    grey = cv2.cvtColor(cv2.imread(str(FACES / "deepface/img1.jpg")), cv2.COLOR_BGR2GRAY)
    assert cv2.imwrite(str(tmp_path / "img1.pgm"), grey)
    (tmp_path / "broken.jpg").write_text("not a photo")
    for name in ("img2.jpg", "img3.jpg", "img11.jpg", "img22.jpg"):
        (tmp_path / name).symlink_to(FACES / "deepface" / name)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "file_a,file_b,same,population\n"
        "img1.pgm,img2.jpg,1,grey\n"
        "img1.pgm,img3.jpg,0,grey\n"
        "img2.jpg,img11.jpg,1,colour\n"
        "img3.jpg,img22.jpg,0,colour\n"
        "broken.jpg,img3.jpg,0,colour\n"
    )
    out = tmp_path / "report"
    args = ["bench", str(pairs), "--root", str(tmp_path), "--out", str(out), "--workers", "1", "--no-cache"]
    result = runner.invoke(app, [*args, "--group", "population"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    images = metrics["images"]
    assert images["no_face_count"] == 0, images["no_face"]  # the PGM's face is found
    assert images["unreadable_count"] == 1 and list(images["unreadable"]) == ["broken.jpg"]
    assert metrics["pairs_unscored"] == 1
    groups = metrics["groups"]["population"]["groups"]
    assert groups["grey"]["genuine"] == 1 and groups["grey"]["false_non_matches"] == 0
    assert groups["colour"]["impostor"] == 1  # the unreadable pair is not counted
    assert "fmr_max_min" in metrics["groups"]["population"]["differential"]
    assert metrics["score_scale"]["by_score"][0]["threshold"] == 0.2
    report = (out / "report.md").read_text()
    assert "## By population" in report and "Calibration in force" in report
    assert "unreadable files, counted apart and not scored: 1" in report


def test_bench_refuses_a_group_column_the_file_lacks(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("file_a,file_b,same\ndeepface/img1.jpg,deepface/img2.jpg,1\n")
    result = runner.invoke(
        app, ["bench", str(pairs), "--root", str(FACES), "--out", str(tmp_path / "r"), "--group", "age_band"]
    )
    assert result.exit_code == 2 and "age_band" in result.output


def test_register_index_rebuild_counts_every_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: ModelStore
) -> None:
    """`lifecert register-index rebuild` rebuilds from the sealed templates it finds."""
    from api.certification import enrolment
    from api.certification.rules import load_policies
    from api.certification.service import CertificationService
    from api.certification.settings import load_settings
    from api.certification.storage.db import Database, migrate
    from tests.conftest import DATA, random_id_number

    (tmp_path / "models").symlink_to(store.model_dir)
    monkeypatch.setenv("LIFECERT_HOME", str(tmp_path))
    settings = load_settings()
    db = Database(settings.database_url)
    migrate(db.engine)
    service = CertificationService(settings, db, load_policies())
    idn = random_id_number()
    with db.transaction() as s:
        enrolment.import_persons(
            service, s, f"id_number,name,category,benefit_start\n{idn},索引,retiree,2020-01-01\n", "t"
        )
    with db.transaction() as s:
        from api.certification.people import find_person

        person = find_person(service, s, idn, "索引")
        enrolment.enrol_photo(service, s, person, (DATA / "faces/deepface/img1.jpg").read_bytes(), "t")
    db.engine.dispose()
    result = runner.invoke(app, ["register-index", "rebuild"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["references"] == 1
