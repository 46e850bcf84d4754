"""A batch of recordings analysed on a Ray cluster: ``fer analyze --ray [ADDRESS]``.

The driver (this process) starts a pool of Ray actors, each of which opens the model once (a SavedModel path
or a model server URL, through fer.serving.client.open_model) and then analyses one recording per task with
fer.playtest.sessions.analyze_session, into the same ``<out>/<name>/`` folders, with the same names
(session_names), the same skipping of finished sessions (already_done), the same
removal of a killed run's leftovers and the same ``<out>/batch.json`` as analyze_many. The recordings, the
model path and --out must be on storage that every node sees at the same path (NFS, a mounted bucket).

An actor whose process dies (killed, out of memory, its node lost) is restarted by Ray, which loads the model
again, and its recording is run again, up to ``retries`` times (Ray's ``max_restarts`` and
``max_task_retries``); a recording that still kills its worker is reported under "failed" and its worker is
replaced; the rest of the batch goes on. A recording that fails with an exception fails alone, as locally.

Ray is imported by this module only, which ``fer analyze`` imports only with ``--ray``.
"""
from __future__ import annotations

import logging
import os
import socket
from collections import deque
from pathlib import Path
from typing import Callable

import ray

from fer.contract import ServingError
from fer.playtest.sessions import (BatchInterrupted, analyze_one, events_beside, is_camera, is_done, remove_leftovers,
                                   session_folder, session_names, write_batch)
from fer.playtest.settings import AnalysisSettings

log = logging.getLogger(__name__)
LOCAL = "local"  # ray.init's address for a new local cluster, even where one was started with `ray start`
DEFAULT_RETRIES = 2


class Worker:
    """A Ray actor: the model, opened once, and the analysis of one recording per call."""

    def __init__(self, model_path: str, cwd: str, threads: int, verbose: bool = False,
                 before_each: Callable[[str, Path], None] | None = None, precision: str = "float32"):
        if os.path.isdir(cwd):  # relative paths mean what they meant to the driver, where that folder is shared
            os.chdir(cwd)
        from fer.tf import import_tensorflow, quiet_tensorflow
        quiet_tensorflow(verbose)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.before_each, self.model, self.error = before_each, None, None
        try:
            from fer.serving.client import needs_tensorflow, open_model
            if needs_tensorflow(model_path, precision):
                import_tensorflow(verbose)
                import tensorflow as tf
                try:  # as many threads as the CPUs Ray gave this worker, so that workers do not fight for cores
                    tf.config.threading.set_intra_op_parallelism_threads(threads)
                    tf.config.threading.set_inter_op_parallelism_threads(threads)
                except RuntimeError:  # TensorFlow already initialised in this process
                    pass
            import cv2
            cv2.setNumThreads(threads)
            self.model = open_model(model_path, precision=precision, threads=threads)
        except Exception as error:  # reported by ready(): the driver stops before any recording is tried
            self.error = f"{type(error).__name__}: {error}"

    def ready(self) -> dict:
        return {"error": self.error, "node": socket.gethostname(), "pid": os.getpid()}

    def analyze(self, source: str, out_dir: str, name: str, settings: dict, model_name: str,
                events_path: str | None, build: str | None, max_duration_s: float | None,
                live: bool) -> tuple[str, dict | None]:
        if self.before_each is not None:
            self.before_each(source, Path(out_dir))
        if self.model is None:
            return "failed", {"source": str(Path(source)), "type": "ServingError",
                              "error": f"the model cannot be used on this worker: {self.error}"}
        return analyze_one(source, Path(out_dir), name, self.model, AnalysisSettings(**settings), model_name,
                           Path(events_path) if events_path else None, build, False, max_duration_s, live)


def analyze_on_ray(sources: list[str | Path], out_root: Path, model_path: str | Path, settings: AnalysisSettings,
                   address: str | None = None, *, model_name: str | None = None, events_path: Path | None = None,
                   build: str | None = None, workers: int | None = None, cpus_per_worker: float = 1,
                   retries: int = DEFAULT_RETRIES, progress: bool = True, max_duration_s: float | None = None,
                   live: bool = False, verbose: bool = False, num_cpus: int | None = None,
                   before_each: Callable[[str, Path], None] | None = None, precision: str = "float32") -> dict:
    """analyze_many on Ray: each recording of ``sources`` is one task on a pool of ``workers`` actors (default:
    as many as the cluster has CPUs for, at most one per recording to do), each holding the model at
    ``model_path``; returns and writes the same ``out_root/batch.json`` (entries in the order of ``sources``).

    ``address``: a running cluster (``auto``, ``host:6379``, ``ray://host:10001``); None starts a local one
    with ``num_cpus`` CPUs (default: all), shut down at the end; if this process is already connected
    (ray.init was called), that cluster is used and left running. A worker that dies has its recording run
    again ``retries`` times before it is reported as failed. ``model_name`` goes into the fingerprints and
    summaries (default: ``str(model_path)``, as `fer analyze` writes). ``precision``: how the workers run a
    SavedModel (LocalModel). ``before_each(source, out_dir)`` runs in
    the worker before each recording (for tests and instrumentation). Raises ServingError, before any
    recording is tried, if a worker cannot open the model; ConnectionError if the cluster cannot be reached;
    BatchInterrupted on Ctrl-C, after writing batch.json."""
    cameras = [str(s) for s in sources if is_camera(s)]
    if cameras:
        raise ValueError(f"--ray analyses recordings, not cameras ({', '.join(cameras)})")
    model_name = str(model_path) if model_name is None else model_name
    out_root = Path(out_root)
    names = session_names(sources)
    outcomes: dict[int, tuple[str, dict | None]] = {}
    to_do = deque()
    for index, (source, name) in enumerate(zip(sources, names)):  # finished ones need no worker
        if _finished_here(Path(source), out_root / name, settings, model_name, events_path):
            outcomes[index] = ("skipped", None)
        else:
            to_do.append(index)

    started_here, skipped_here = False, len(outcomes)
    actors: list = []
    try:
        if to_do:
            if not ray.is_initialized():
                _connect(address, num_cpus)
                started_here = True
            count = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
            make = _actor_factory(model_path, cpus_per_worker, retries, verbose, before_each, precision)
            actors = [make() for _ in range(min(count, len(to_do)))]
            log.info("%d recordings to analyse on %d Ray workers", len(to_do), len(actors))
            _run(actors, make, to_do, outcomes, sources, names, out_root, settings, model_name, events_path, build,
                 max_duration_s, live, progress, retries)
    except KeyboardInterrupt:
        result = _result(sources, outcomes, interrupted=True)
        write_batch(out_root, result)
        raise BatchInterrupted(result) from None
    except Exception:  # a worker or the cluster lost midway: what was done, and the rest under "interrupted"
        if len(outcomes) > skipped_here:
            write_batch(out_root, _result(sources, outcomes, interrupted=True))
        raise
    finally:
        for actor in actors:
            _kill(actor)
        if started_here:
            ray.shutdown()
    result = _result(sources, outcomes)
    write_batch(out_root, result)
    return result


def _finished_here(source: Path, out_dir: Path, settings: AnalysisSettings, model_name: str,
                   events_path: Path | None) -> bool:
    """Whether the driver sees ``source``'s session folder finished (changing nothing: a worker removes
    leftovers under the session's lock); anything it cannot check (another node's paths, an error) is left to a
    worker."""
    try:
        return is_done(source, session_folder(out_dir, source), events_path or events_beside(source), settings,
                       model_name)
    except Exception:
        return False


def _connect(address: str | None, num_cpus: int | None) -> None:
    options = {"log_to_driver": True}
    if address in (None, "", LOCAL):
        options.update(address=LOCAL, num_cpus=num_cpus, include_dashboard=False)
    else:
        _answers(address)
        options.update(address=address)
    try:
        ray.init(**options)
    except ConnectionError:
        raise
    except Exception as error:  # Ray's errors for an unreachable or mistyped address are of several kinds
        raise ConnectionError(f"Ray cluster {address}: {type(error).__name__}: {error}") from None


def _answers(address: str) -> None:
    """ConnectionError unless something accepts a connection at a ``[ray://]host:port`` address (Ray itself
    would keep trying, deaf to Ctrl-C); other addresses (auto) are left to Ray."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as error:
        raise ConnectionError(f"Ray cluster {address}: nothing answers there: {error.strerror or error}") from None


def _actor_factory(model_path, cpus_per_worker: float, retries: int, verbose: bool, before_each, precision: str):
    remote = ray.remote(Worker).options(num_cpus=cpus_per_worker, max_restarts=-1, max_task_retries=retries)
    threads = max(1, int(cpus_per_worker))
    return lambda: remote.remote(str(model_path), os.getcwd(), threads, verbose, before_each, precision)


def _run(actors: list, make, to_do: deque, outcomes: dict, sources, names, out_root: Path,
         settings: AnalysisSettings, model_name: str, events_path: Path | None, build: str | None,
         max_duration_s: float | None, live: bool, progress: bool, retries: int) -> None:
    """Hands the recordings of ``to_do`` to the actors as each becomes free, until all have an outcome."""
    from dataclasses import asdict

    from tqdm import tqdm
    bar = tqdm(total=len(sources), initial=len(outcomes), unit="recording", disable=not progress)
    pending: dict = {actor.ready.remote(): (actor, None) for actor in actors}  # a worker is free once ready
    try:  # until every recording has an outcome (a worker that never gets a CPU is not waited for)
        while to_do or any(index is not None for _, index in pending.values()):
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            actor, index = pending.pop(ref)
            try:
                reply = ray.get(ref)
            except ray.exceptions.RayActorError as error:  # its process died more often than it was retried
                if index is None:
                    raise ServingError("UNAVAILABLE", f"a Ray worker could not start: {error}") from None
                log.error("%s: its worker died %d times: %s", sources[index], 1 + retries, error)
                reply = ("failed", {"source": str(Path(sources[index])), "type": type(error).__name__,
                                    "error": f"its Ray worker died: {_first_line(error)}"})
                _kill(actor)
                actors.remove(actor)
                outcomes[index] = reply
                bar.update()
                if to_do:  # a fresh worker for the rest of the batch
                    actor = make()
                    actors.append(actor)
                    pending[actor.ready.remote()] = (actor, None)
                continue
            if index is None:
                if reply["error"]:
                    raise ServingError("FAILED_PRECONDITION", f"the model cannot be used on Ray worker"
                                                              f" {reply['node']}: {reply['error']}")
            else:
                outcomes[index] = tuple(reply)
                bar.update()
            if to_do:
                index = to_do.popleft()
                source = sources[index]
                ref = actor.analyze.remote(str(source), str(out_root / names[index]), names[index], asdict(settings),
                                           model_name, str(events_path) if events_path else None, build,
                                           max_duration_s, live)
                pending[ref] = (actor, index)
    except KeyboardInterrupt:  # the workers stopped, then the folders they were writing removed, as locally
        for actor in actors:
            _kill(actor)
        ray.wait(list(pending), num_returns=len(pending), timeout=10)
        for _, index in pending.values():
            if index is not None:
                remove_leftovers(out_root / names[index])
        raise
    finally:
        bar.close()


def _kill(actor) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception as error:  # already gone
        log.debug("killing a Ray worker: %s", error)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _result(sources, outcomes: dict, interrupted: bool = False) -> dict:
    result: dict[str, list] = {"done": [], "skipped": [], "failed": [], "interrupted": []}
    for index, source in enumerate(sources):
        if index not in outcomes:
            if interrupted:
                result["interrupted"].append(str(source))
            continue
        status, failure = outcomes[index]
        shown = str(source if is_camera(source) else Path(source))
        result[status].append(failure if status == "failed" else shown)
    return result
