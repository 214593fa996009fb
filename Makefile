# Two commands do all the set-up: `make demo` and `make test`.
VENV   := .venv
PYTHON := $(VENV)/bin/python
# The demo tools import the pipeline package the way Airflow does: from plugins/.
export PYTHONPATH := $(CURDIR):$(CURDIR)/plugins

.PHONY: setup system-deps demo demo-stop test test-fast soak bench bench-ladder bench-overheads bench-scaling bench-chunk-scaling bench-eta clean

setup: $(VENV)/.installed player/node_modules/.installed

$(VENV)/.installed player/node_modules/.installed: | system-deps

system-deps:
	@bash devenv/system-deps.sh

player/node_modules/.installed: player/package.json player/package-lock.json
	cd player && npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements.txt constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt -c constraints.txt
	touch $@

## Convert a demo catalog end to end and print how to watch the result.
demo: setup
	$(PYTHON) -m devenv.demo

## Stop what the demo left running: storage, Airflow and the player page.
demo-stop:
	$(PYTHON) -m devenv.demo --stop

## The whole test suite, end-to-end tests included, in three processes (one per Airflow, one for the
## rest): most tests wait on Airflow, leaving the cores idle (tests/conftest.py says which tests go where).
test: setup
	$(PYTHON) -m pytest -n 3

## The transcode benchmark (not part of the tests): the seed's command against the pipeline's.
bench: setup
	$(PYTHON) -m bench.transcode $(BENCH_ARGS)

## The per-title ladder against the fixed one: bytes, VMAF, peaks and encode time per source and rung.
bench-ladder: setup
	$(PYTHON) -m bench.ladder $(BENCH_ARGS)

## What Airflow, storage and the database add per movie; upload concurrency; selection at 100,000 movies.
bench-overheads: setup
	$(PYTHON) -m bench.overheads $(BENCH_ARGS)

## One movie (hls_convert_movie, 8 chunks) encoded by Celery clusters of 1, then 2 pinned workers (BENCH_ARGS="--workers 1,4,8,16" on a larger machine).
bench-scaling: setup
	$(PYTHON) -m bench.scaling $(BENCH_ARGS)

## The chunk encode alone on 1, then 2 pinned worker processes: Python and ffmpeg only, for machines with no Airflow (BENCH_ARGS="--workers 1,4,8,16").
bench-chunk-scaling: setup
	$(PYTHON) -m bench.chunk_scaling $(BENCH_ARGS)

## How honest the migration view's ETA is: the ETA after a wave against what the next wave took.
bench-eta: setup
	$(PYTHON) -m bench.eta $(BENCH_ARGS)

## The chaos soak (not part of the tests; a 12-movie version is): 60 movies on a Celery cluster under faults.
soak: setup
	$(PYTHON) -m devenv.soak $(SOAK_ARGS)

## The tests that need no service, no ffmpeg and no running Airflow: seconds.
test-fast: setup
	$(PYTHON) -m pytest -m "not services and not airflow and not chaos"

clean:
	rm -rf .demo .test-artifacts
