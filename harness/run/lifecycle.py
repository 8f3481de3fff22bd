"""The run lifecycle: plan → steady state → load and probes → baseline → faults → recovery →
steady state → evaluate → run folder → exit code.

Every exit path reverts: success, SLO failure, exception, guard abort, SIGINT, SIGTERM, SIGHUP. The
body of the run is one task; interrupting it (a signal, a guard) cancels that task. Fault tasks run in
a TaskGroup, so when one fails the others are cancelled *and awaited*; the blocking API calls they
started in threads are awaited too (``TrackingExecutor``) before any revert, so nothing acts after its
revert. The cleanup then reverts every fault that journaled an undo, under a shield, and reconciles
against the journal. An unexpected exception ends as status ``error`` with its traceback in
``error.txt``, never as a verdict.

What the run observes meanwhile lives beside it: the probe loops (``probing``), the steady-state check
(``steady``), the guards (``watch``); the verdict is ``outcome``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from harness.aio import TrackingExecutor, cancel_all
from harness.clients.connect import Connection, resolve_connection
from harness.errors import Aborted, FaultError, HarnessError, Refused
from harness.events import Event, RunStatus
from harness.faults.base import Fault, revert_pending
from harness.faults.env import fault_env
from harness.journal import Journal, pending_faults, read_journal
from harness.measure.timeline import TimelineWriter
from harness.notify import Notifier
from harness.plan.environment import describe_environment
from harness.plan.faults import PlanResult, build_faults, plan_faults
from harness.report.console import ConsoleView, LiveState
from harness.report.runfolder import make_run_dir, write_outputs
from harness.run.leasing import RunLease
from harness.run.outcome import Ending, leaves, verdict
from harness.run.probing import RunProbes
from harness.run.steady import steady_state
from harness.run.watch import journal_worker, watch
from harness.spec.loader import LoadedExperiment
from probes.env import probe_env

if TYPE_CHECKING:
    from harness.load.runner import LoadRunner, LoadTotals  # imported when the run has load

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Signals that stop a run and revert every fault (SIGHUP: the terminal closed, ssh dropped)."""


class Run:
    """One execution of one loaded experiment."""

    def __init__(self, loaded: LoadedExperiment, *, reports: Path, live_stream: TextIO | None = None,
                 seed: int | None = None, notes: Sequence[tuple[Event, dict[str, Any]]] = ()) -> None:
        self.loaded = loaded
        self.notes = list(notes)
        """Events journaled right after run.started (e.g. ``freeze.overridden``: who and why)."""
        self.exp = loaded.experiment
        self.reports = reports
        self.seed = seed
        self.conn: Connection = resolve_connection(loaded.target)
        self.env = fault_env(self.conn, seed=seed, max_pods_fraction=self.exp.safety.max_pods_fraction)
        self.env.require_capacity = self.exp.safety.require_capacity
        self.faults = build_faults(self.exp, self.env)
        self.live = ConsoleView(LiveState(self.exp.name), stream=live_stream)
        self.run_dir: Path | None = None
        self.journal: Journal | None = None
        self.timeline: TimelineWriter | None = None
        self.aborted_by: str | None = None
        self.extra_status: RunStatus | None = None
        self.revert_failures: list[str] = []
        self._reverted: set[str] = set()
        self._body: asyncio.Task[None] | None = None
        self._canceller: asyncio.Task[None] | None = None
        self._load: LoadRunner | None = None
        self._load_totals: LoadTotals | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._probes: RunProbes | None = None
        self._reverting = False
        self._signals = 0
        self._steady_after: list[str] = []
        self._error: str | None = None
        self._executor = TrackingExecutor()
        self._fault_tasks: list[asyncio.Task[None]] = []
        self.target_name = str(getattr(loaded.target, "name", "") or self.exp.target)
        self.lease = RunLease(self.conn, loaded.target.lease, self.target_name, self.exp.name)
        self.notifier = Notifier.for_target(loaded.target, self.exp)  # Slack and Grafana, when configured

    # -- plan --------------------------------------------------------------------------------------
    async def plan(self) -> PlanResult:
        return await plan_faults(self.faults)

    # -- execute -----------------------------------------------------------------------------------
    async def execute(self) -> dict[str, Any]:
        """Run the experiment; returns the run.json content. Raises Refused before anything starts."""
        plan = await self.plan()
        if plan.refusals:
            raise Refused("; ".join(plan.refusals))
        await self.lease.take()  # another run holds the target: Refused, nothing created
        try:
            environment = await describe_environment(self.env.kube, self.seed)
            self._open_folder(plan, environment)
        except BaseException:
            await self.lease.give_back()
            raise
        assert self.journal is not None
        self.lease.journal(self.journal.write)
        self.notifier.started(self.journal.write, self.journal.path.parent)
        loop = asyncio.get_running_loop()
        loop.set_default_executor(self._executor)
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        self.live.start()
        self._body = asyncio.create_task(self._run_body())
        try:
            await self._body
        except asyncio.CancelledError:
            if self.aborted_by is None:
                raise
        except (Refused, Aborted) as exc:
            self._set_abort(str(exc), status=RunStatus.REFUSED if isinstance(exc, Refused) else RunStatus.ABORTED)
        except HarnessError as exc:
            self._set_abort(f"{type(exc).__name__}: {exc}", status=RunStatus.ABORTED)
        except BaseException as exc:  # noqa: BLE001 - any other failure is an error, never a verdict
            self._on_error(exc)
        finally:
            run = await asyncio.shield(self._cleanup())
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
        return run

    def _on_error(self, exc: BaseException) -> None:
        """An unexpected exception (or a group of them from the fault tasks): status ``error``, the
        traceback in ``error.txt``; a HarnessError inside a group is an abort like any other."""
        inner = leaves(exc)
        if all(isinstance(e, HarnessError) for e in inner):
            status = RunStatus.REFUSED if isinstance(inner[0], Refused) else RunStatus.ABORTED
            self._set_abort("; ".join(f"{type(e).__name__}: {e}" for e in inner), status=status)
            return
        text = "".join(traceback.format_exception(exc))
        self._error = text
        if self.run_dir is not None:
            (self.run_dir / "error.txt").write_text(text)
        self._set_abort(f"harness error: {type(exc).__name__}: {exc}", status=RunStatus.ERROR)

    def _interrupt_body(self) -> None:
        """Cancel the body, and keep cancelling until it ends: a cancellation can be swallowed by
        library code (asyncio.wait_for on 3.11 races), and an interrupted run must never keep going."""

        async def keep_cancelling(task: asyncio.Task[None]) -> None:
            while not task.done():
                task.cancel()
                await asyncio.sleep(0.5)

        if self._body is not None and not self._body.done():
            self._canceller = asyncio.create_task(keep_cancelling(self._body))

    def _set_abort(self, reason: str, status: RunStatus = RunStatus.ABORTED, **fields: Any) -> None:
        """Record the first reason the run stops early; the journal gets a ``run.aborted`` event with
        the phase it happened in (the report judges no SLO whose window it cut short)."""
        if self.aborted_by is not None:
            return
        self.aborted_by, self.extra_status = reason, status
        if self.journal is not None:
            self.journal.write(Event.RUN_ABORTED, reason=reason, status=status, phase=self.live.state.phase, **fields)
        self.notifier.aborted(reason, status, self.live.state.active_faults)

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        name = signal.Signals(sig).name
        if self._signals == 1 or not self._reverting:
            self._set_abort(f"interrupted by {name}", status=RunStatus.INTERRUPTED, signal=name)
            self.live.say(f"{name}: stopping the run and reverting every fault")
            self._interrupt_body()
            return
        pending = [f.id for f in self.faults if f._undo and f.id not in self._reverted]
        self.live.say(f"{name} again: still reverting {', '.join(pending) or 'nothing'}; reverts are never skipped")

    def _open_folder(self, plan: PlanResult, environment: dict[str, Any]) -> None:
        start = time.time()
        self.run_dir = make_run_dir(self.reports, self.exp.name, start)
        (self.run_dir / "experiment.yaml").write_text(self.loaded.redact(self.loaded.source_text))
        self.journal = Journal(self.run_dir / "events.jsonl", redact=self.loaded.redact)
        self.env.record = self.journal.write
        self.timeline = TimelineWriter(self.run_dir / "timeline.jsonl", start=start)
        self.journal.listeners.append(self._to_timeline)
        provisional = {"name": self.exp.name, "target": self.target_name, "status": RunStatus.RUNNING, "exit_code": None,
                       "run_dir": str(self.run_dir), "note": "the run has not ended (or its process died): "
                       "`harness rollback` this folder, then `harness report` it"}
        write_outputs(self.run_dir, provisional, self.loaded.redact, summary=False)
        self.journal.write(
            Event.RUN_STARTED,
            name=self.exp.name,
            target=self.target_name,
            connection=self.conn.public(),
            plan=[{"id": f.id, "kind": f.kind, "targets": p.targets, "notes": p.notes} for f, p in plan.faults],
            environment=environment,
        )
        for kind, fields in self.notes:
            self.journal.write(kind, **fields)

    def _to_timeline(self, event: dict[str, Any]) -> None:
        if self.timeline is not None and event["type"] not in ("retry",):
            self.timeline.add_event({k: v for k, v in event.items() if k not in ("plan", "connection", "undo")})

    def _phase(self, name: str) -> None:
        assert self.journal and self.timeline
        self.journal.write(Event.PHASE, phase=name)
        self.timeline.set_phase(name, time.time())
        self.live.state.phase = name
        self.live.refresh(force=True)

    # -- the body ----------------------------------------------------------------------------------
    async def _run_body(self) -> None:
        exp = self.exp
        await self._start_probes()
        if exp.steady_state.before:
            self._phase("steady-before")
            failed = await self._steady_state()
            if failed:
                raise Refused("steady state not met before the run: " + "; ".join(failed))
        await self._start_load()
        assert self.timeline and self.journal
        self._tasks.append(asyncio.create_task(
            watch(exp.safety, self.timeline, self.journal, self.live, self._load, self._abort,
                  max_lost_workers=exp.load.max_lost_workers if exp.load else 0)))
        self._phase("baseline")
        await asyncio.sleep(exp.timeline.baseline)
        if self.faults:
            self._phase("fault")
            base = time.time()
            async with asyncio.TaskGroup() as group:  # one fails: the others are cancelled and awaited
                self._fault_tasks = [group.create_task(self._run_fault(f, step.at, base))
                                     for f, step in zip(self.faults, exp.timeline.faults, strict=True)]
        self._phase("recovery")
        await asyncio.sleep(exp.timeline.recovery)
        if exp.steady_state.after:
            self._phase("steady-after")
            self._steady_after = await self._steady_state()
            if self._steady_after:
                assert self.journal
                self.journal.write(Event.STEADY_STATE_FAILED, problems=self._steady_after)

    async def _run_fault(self, fault: Fault, at: float, base: float) -> None:
        assert self.journal and self.timeline
        await asyncio.sleep(max(0.0, base + at - time.time()))
        fault.on_first_action = self._active_changed  # the timeline's fault window opens at the first action
        with self._fault_errors(fault, "inject"):
            await fault.inject()
        self.journal.write(Event.FAULT_INJECTED, id=fault.id, kind=fault.kind, targets=fault.targets)
        self._active_changed()
        with self._fault_errors(fault, "hold"):  # repeated actions and re-checks happen while held
            await fault.hold(base + at + fault.hold_seconds)
        await self._revert(fault)

    @contextlib.contextmanager
    def _fault_errors(self, fault: Fault, step: str) -> Iterator[None]:
        """Journal any failure of a fault's inject or hold (``fault.error``); a HarnessError becomes a
        FaultError naming the fault, anything else propagates as is (the run ends as ``error``)."""
        assert self.journal
        try:
            yield
        except HarnessError as exc:
            self.journal.write(Event.FAULT_ERROR, id=fault.id, kind=fault.kind, step=step, error=str(exc))
            raise FaultError(f"{fault.id} ({fault.kind}) failed during {step}: {exc}") from exc
        except Exception as exc:
            self.journal.write(Event.FAULT_ERROR, id=fault.id, kind=fault.kind, step=step,
                               error=f"{type(exc).__name__}: {exc}")
            raise

    def _active_changed(self) -> None:
        assert self.timeline
        active = [f.id for f in self.faults if f._undo and f.id not in self._reverted]
        self.timeline.set_active_faults(active, time.time())
        self.live.state.active_faults = active

    async def _revert(self, fault: Fault) -> None:
        assert self.journal
        if fault.id in self._reverted or not fault._undo:
            return
        try:
            await fault.revert()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none hides another
            self.journal.write(Event.FAULT_REVERT_FAILED, id=fault.id, kind=fault.kind, error=str(exc))
            self.revert_failures.append(f"{fault.id} ({fault.kind}): {exc}")
            self.notifier.revert_failed(self.revert_failures[-1], self.live.state.active_faults)
            return
        self._reverted.add(fault.id)
        restores = getattr(type(fault).undo, "__func__", None) is not getattr(Fault.undo, "__func__", None)
        self.journal.write(Event.FAULT_REVERTED, id=fault.id, kind=fault.kind, targets=fault.targets,
                           measurements=fault.measurements, restores=restores)
        self._active_changed()

    # -- load, probes, guards (harness.run.probing, .steady, .watch) -----------------------------
    async def _start_load(self) -> None:
        spec = self.exp.load
        if spec is None:
            return
        from harness.load.runner import LoadRunner, LoadTimeouts, RemoteWorkers

        assert self.run_dir and self.timeline
        self._load = LoadRunner(
            journeys=Path(self.loaded.journeys or spec.journeys),
            host=spec.host or self.conn.site_url,
            users=spec.users,
            spawn_rate=spec.spawn_rate,
            workers=spec.workers,
            think_time=spec.think_time,
            stages=[(c.at, c.users, c.spawn_rate, c.target_rps) for c in spec.schedule()],
            run_dir=self.run_dir,
            on_second=self.timeline.add_load,
            timeouts=LoadTimeouts(max_seconds=self.exp.safety.max_duration + 60),
            target_rps=spec.target_rps,
            remote=RemoteWorkers(spec.remote_workers, spec.master_bind, spec.master_port, spec.remote_worker_wait),
            on_event=lambda message: journal_worker(self.journal, message, spec.max_lost_workers),
        )
        await asyncio.to_thread(self._load.start)
        assert self.journal
        self.journal.write(Event.LOAD_STARTED, users=spec.users, spawn_rate=spec.spawn_rate)

    async def _start_probes(self) -> None:
        if not self.exp.probes:
            return
        assert self.timeline and self.journal
        self._probes = RunProbes(self.exp.probes, probe_env(self.conn, self.env.kube))
        self._tasks += self._probes.start(self.timeline, self.journal)

    async def _steady_state(self) -> list[str]:
        ss = self.exp.steady_state
        return await steady_state(self._probes.select(ss.probes) if self._probes else [], ss.timeout)

    def _abort(self, reason: str) -> None:
        self._set_abort(reason)
        self.live.say(f"aborting: {reason}")
        self._interrupt_body()

    # -- cleanup -----------------------------------------------------------------------------------
    async def _cleanup(self) -> dict[str, Any]:
        assert self.journal and self.timeline and self.run_dir
        self._reverting = True
        await cancel_all(self._fault_tasks)
        stuck = await self._executor.settle(timeout=60.0)
        if stuck:
            self.journal.write(Event.RUN_THREADS_STUCK, count=len(stuck))
            self.revert_failures.append(f"{len(stuck)} API call(s) still running after 60 s; "
                                        "what they change may be left behind")
        for fault in reversed(self.faults):
            await self._revert(fault)
        await self._reconcile()
        await cancel_all(self._tasks)
        if self._load is not None:
            try:
                self._load_totals = await asyncio.to_thread(self._load.stop)
            except Exception as exc:  # noqa: BLE001 - reported, the run still ends cleanly
                self.journal.write(Event.LOAD_ERROR, error=str(exc))
        if self._probes is not None:
            await self._probes.close()
        self.journal.write(Event.RUN_STOPPING)
        self.timeline.close()
        run = verdict(self.run_dir, self.exp, Ending(self.aborted_by, self.extra_status, self.revert_failures,
                                                     self._error, self._steady_after, self._load_totals))
        await self.notifier.ended(run)  # bounded: a hanging receiver costs notify.timeout at most
        self.journal.write(Event.RUN_ENDED, status=run["status"], exit_code=run["exit_code"])
        write_outputs(self.run_dir, run, self.loaded.redact)
        await self.lease.give_back()
        self.journal.close()
        self.live.stop()
        return run

    async def _reconcile(self) -> None:
        """Revert, from the journal's own records, any fault the journal still shows as injected (an
        undo journaled by an inject that was cut short, or a revert that failed)."""
        assert self.journal
        pending = pending_faults(read_journal(self.journal.path))
        failures = await revert_pending(pending, self.env, by="reconcile")
        failed = {pf.id: f"{pf.id} ({pf.kind}): {exc}" for pf, exc in failures}
        reverted_now = {pf.id for pf in pending} - failed.keys()
        self.revert_failures = [f for f in self.revert_failures if f.split(" ", 1)[0] not in reverted_now]
        self.revert_failures += [text for fid, text in failed.items()
                                 if not any(f.startswith(f"{fid} ") for f in self.revert_failures)]
