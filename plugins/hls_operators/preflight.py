"""What every converting run checks before it claims anything (``hls_migration``'s first task, and
``hls_convert_movie``'s ``claim_movie`` when triggered on its own): what every movie of the run
will need. It fails with what is wrong and how to fix it, in the task log and on the migration
view. The verdicts and their wording are ``core/preflight.py``; this gathers the facts."""

from __future__ import annotations

import json
import shutil
import urllib.request
import uuid
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from hls_operators.core import preflight
from hls_operators.core.preflight import Problem
from hls_operators.core.probe_commands import ffprobe_version, list_encoders
from hls_operators.edges import catalog, run_records
from hls_operators.edges.ffmpeg import run_ffprobe
from hls_operators.hooks import CatalogHook, StorageHook
from hls_operators.settings import (
    CATALOG_CONN_ID,
    CONVERT_DAG_ID,
    DAG_ID,
    STORAGE_CONN_ID,
    TRANSCODE_POOL,
    TRANSCODE_POOL_DESCRIPTION,
    Settings,
    load_settings,
)

API_TIMEOUT_SECONDS = 10


class PreflightOperator(BaseOperator):
    """The first task of a wave (``hls_migration``): ``check``. Not retried: what it finds needs a
    person, and the run fails within a minute instead of hanging."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)

    def execute(self, context: Any) -> None:
        check(context, log=self.log)


def check(context: Any, *, log) -> None:
    """Checks, in this order: the settings parse; the transcode pool exists with a slot; ffmpeg and
    ffprobe run with the encoders the settings need; the catalog answers; the bucket takes a write
    and a delete under the output and work prefixes; for a wave, ``hls_convert_movie`` is unpaused.
    Records the result for the migration view (when the catalog answers) and raises, unretried,
    with every problem and its fix. ``hls_convert_movie`` triggered on its own checks this first
    thing in ``claim_movie``: a task of its own there would cost every movie of every wave a
    task's start for nothing, as the wave checked already."""
    ti = context["ti"]
    problems, catalog_answers = find_problems(ti, wave=ti.dag_id == DAG_ID, log=log)
    if catalog_answers:
        with CatalogHook().connection() as conn:
            run_records.record_preflight(conn, dag_id=ti.dag_id, run_id=context["run_id"], problems=problems)
    for problem in problems:
        log.error("%s", problem.line())
    if problems:
        raise AirflowFailException(preflight.summary(problems))
    log.info("preflight: every check passed")


def find_problems(ti, *, wave: bool, log) -> tuple[list[Problem], bool]:
    """Every problem found, and whether the catalog answered (so that the result can be recorded)."""
    problems: list[Problem] = []
    settings: Settings | None = None
    try:
        settings = load_settings()
    except ValueError as error:
        problems.append(preflight.settings_problem(str(error)))
    problems += pool_problems(log)
    problems += ffmpeg_problems(settings)
    catalog_problems = check_catalog()
    problems += catalog_problems
    if settings is not None:
        problems += storage_problems(settings)
    if wave:
        problems += paused_problems(ti, CONVERT_DAG_ID, log)
    return problems, not catalog_problems


def pool_problems(log) -> list[Problem]:
    if runs_in_this_process():
        log.info("pool: not checked, airflow dags test runs every task inside the command, pools unused")
        return []
    try:
        slots = transcode_pool_slots()
    except OSError as error:
        return [preflight.unreachable_problem(f"pool {TRANSCODE_POOL}", str(error))]
    log.info("pool %s: %s", TRANSCODE_POOL, "missing" if slots is None else f"{slots} slot(s)")
    return [problem] if (problem := preflight.pool_problem(TRANSCODE_POOL, TRANSCODE_POOL_DESCRIPTION, slots)) else []


def runs_in_this_process() -> bool:
    """Inside ``airflow dags test`` (``dag.test()``) tasks run in the command's process, pools unused."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms

    return isinstance(getattr(task_runner, "SUPERVISOR_COMMS", None), InProcessSupervisorComms)


def transcode_pool_slots() -> int | None:
    """The pool's slots as the scheduler sees them (None: no such pool). A task may not read
    Airflow's metadata database, so it asks the api-server, where the migration view's plugin
    reads it (``/hls-migration/api/pool``), at the address the worker's tasks already use."""
    from airflow.executors.base_executor import get_execution_api_server_url

    base = get_execution_api_server_url().rstrip("/").removesuffix("/execution")
    with urllib.request.urlopen(f"{base}/hls-migration/api/pool", timeout=API_TIMEOUT_SECONDS) as response:
        return json.load(response)["slots"]


def ffmpeg_problems(settings: Settings | None) -> list[Problem]:
    if shutil.which("ffprobe") is None:
        return [preflight.missing_program_problem("ffprobe", "not found on PATH")]
    try:
        run_ffprobe(ffprobe_version(), timeout=30)
        listing = run_ffprobe(list_encoders(), timeout=30).stdout
    except (OSError, RuntimeError) as error:  # MigrationError is a RuntimeError
        return [preflight.missing_program_problem("ffmpeg", str(error))]
    needed = preflight.needed_encoders(settings.codecs if settings else {"h264"})
    problem = preflight.encoders_problem(preflight.parse_encoders(listing), needed)
    return [problem] if problem else []


def check_catalog() -> list[Problem]:
    """The catalog answers, and the pipeline's tables are there or can be made."""
    try:
        with CatalogHook().connection() as conn:
            catalog.ensure_schema(conn)
    except Exception as error:  # whatever the driver or the connection's lookup raises
        return [preflight.catalog_problem(CATALOG_CONN_ID, first_line(error))]
    return []


def storage_problems(settings: Settings) -> list[Problem]:
    """A small object written and deleted under each prefix the run writes to."""
    try:
        store = StorageHook().object_store(settings.bucket)
    except Exception as error:  # the connection's lookup
        return [preflight.storage_problem(STORAGE_CONN_ID, settings.bucket, settings.output_prefix, first_line(error))]
    for prefix in (settings.output_prefix, settings.work_prefix):
        key = f"{prefix}/.preflight-{uuid.uuid4().hex}"
        try:
            store.put_text(key, "preflight\n", {"ContentType": "text/plain"})
            store.delete(key)
        except Exception as error:  # MigrationError from the store, or the client's own
            return [preflight.storage_problem(STORAGE_CONN_ID, settings.bucket, prefix, first_line(error))]
    return []


def paused_problems(ti, dag_id: str, log) -> list[Problem]:
    try:
        paused = ti.get_dag(dag_id).is_paused
    except Exception as error:  # the execution API's answer for a DAG it does not know
        return [preflight.unreachable_problem(f"DAG {dag_id}", first_line(error))]
    log.info("%s: %s", dag_id, "paused" if paused else "unpaused")
    return [preflight.paused_problem(dag_id)] if paused else []


def first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
