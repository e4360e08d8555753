"""Where a certification's CPU goes: the clip's judgement against everything else (issue 13).

One process, the real service in-process (TestClient, SQLite), one person enrolled with a frame
of a real clip. Two timed runs of N each, on the same clip, after a warm-up:

1. N whole certifications over HTTP: lookup-free session start + upload of the clip (liveness,
   matching, the look-alike screening, the attempt, the certification, the audit entries);
2. N judgements of the same clip alone (``judging.judge_clip``: decode, liveness, best frame
   against the reference), as the service calls it.

Process CPU (every thread: the models' own threads included) per item for each; the
difference is what the service adds around the judgement. Load-mode challenge: blink only,
with a window that fits the recorded clip (a recording cannot follow random prompts).

    python benchmarks/certification_cost.py ../shared/data --clip d0 --n 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="../shared/data")
    ap.add_argument("--clip", default="d0", help="talking clip: liveportrait_driving_<clip>.mp4")
    ap.add_argument("--n", type=int, default=8)
    args = ap.parse_args()
    from models.store import default_home

    models_home = default_home()  # the installed models; the database goes to a scratch home
    os.environ["LIFECERT_HOME"] = tempfile.mkdtemp(prefix="lifecert-cost-")
    import cv2
    from fastapi.testclient import TestClient

    from api.certification import judging
    from api.certification.settings import load_settings
    from api.demo import ensure_client
    from api.http.app import create_app
    from liveness.challenge import FixedWindowChallenges
    from liveness.video import read_video
    from matcher import FaceMatcher
    from matcher.pipeline import Role
    from matcher.templates import Reference
    from models import ModelStore

    models = ModelStore(models_home)
    path = args.data / f"videos/talking/liveportrait_driving_{args.clip}.mp4"
    clip = read_video(path)
    data = path.read_bytes()
    home = Path(os.environ["LIFECERT_HOME"])
    settings = replace(
        load_settings(database_url=f"sqlite:///{home / 'cost.db'}"),
        rate_per_minute=100_000,
        max_video_bytes=max(len(data) + 1, 5_000_000),
    )
    app = create_app(settings, FaceMatcher(models))
    svc = app.state.service
    svc.challenges = FixedWindowChallenges(window_s=clip.duration_s)
    staff, kiosk = (ensure_client(svc, f"cost-{r}", r) for r in ("staff", "kiosk"))
    photo = cv2.imencode(".jpg", clip.frames[5])[1].tobytes()
    idn, name = "110101195001010017", "成本"
    with TestClient(app) as tc:
        begun = (date.today() - timedelta(days=60)).isoformat()  # due, and no 24-month proof
        rows = f"id_number,name,category,benefit_start,phone\n{idn},{name},retiree,{begun},13900000009\n"
        tc.post("/v1/persons/import", headers={"X-API-Key": staff}, files={"file": ("p.csv", rows)})
        pid = tc.post("/v1/persons/search", headers={"X-API-Key": staff}, json={"q": idn}).json()[0][
            "person_id"
        ]
        enrolled = tc.post(
            f"/v1/persons/{pid}/id-photo", headers={"X-API-Key": staff}, files={"photo": ("id.jpg", photo)}
        )
        assert enrolled.status_code == 200, enrolled.text

        def certify() -> str:
            body = {"id_number": idn, "name": name, "channel": "kiosk", "consent": True}
            sid = tc.post("/v1/sessions", headers={"X-API-Key": kiosk}, json=body).json()["session_id"]
            files = {"video": ("clip.mp4", data, "video/mp4")}
            r = tc.post(f"/v1/sessions/{sid}/response", headers={"X-API-Key": kiosk}, files=files)
            return str(r.json().get("outcome"))

        outcomes = [certify()]  # warm-up
        c0 = time.process_time()
        outcomes += [certify() for _ in range(args.n)]
        whole = (time.process_time() - c0) / args.n
    ref = Reference(svc.matcher.analyse(clip.frames[5], Role.REFERENCE).embedding, "id_photo")  # type: ignore[arg-type]
    challenge = svc.challenges.issue()
    judging.judge_clip(svc, challenge, data, [ref])  # warm-up
    c0 = time.process_time()
    for _ in range(args.n):
        judging.judge_clip(svc, challenge, data, [ref])
    judge = (time.process_time() - c0) / args.n
    print(f"clip {path.name}: {clip.duration_s:.1f} s, {len(clip.frames)} frames; outcomes {outcomes}")
    print(f"CPU per certification (whole, over HTTP): {whole:.3f} s")
    print(f"CPU per judgement of the clip alone:      {judge:.3f} s ({judge / whole:.0%} of the whole)")
    print(f"around the judgement (HTTP, session, screening, storage, audit): {whole - judge:.3f} s")


if __name__ == "__main__":
    main()
