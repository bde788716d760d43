"""The lifecycle rows of the GpuInstance decision: the power state spec.state asks for,
narrowed by the power windows and by the stops the operator made itself, and when the
instance is released for good.

A stop the operator makes (stopAfter, idleStopAfter, a window closing) is a ``Hold``: it
keeps the instance stopped until a window opens or the spec changes (a new generation), so
a person who edits the object gets what they asked for. An edit made outside every window
waives the schedule until the next window closes. A prepaid instance is never stopped
before it expires (that saves nothing), and released no earlier than that.
No I/O and no clock: ``v.now`` is the time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cfgpu_operator.models.lifecycle import Hold, Lifecycle, LifecycleStatus, Schedule, seconds
from cfgpu_operator.reconcile import schedule as windows
from cfgpu_operator.reconcile.decision import Event, stamp
from cfgpu_operator.reconcile.gpuinstance_view import Instance, View
from cfgpu_operator.reconcile.reasons import EventReason
from cfgpu_operator.reconcile.status import epoch

State = Literal["Running", "Stopped"]
# The spec field behind each rule, for messages.
FIELD = {
    "StopAfter": "stopAfter",
    "IdleStopAfter": "idleStopAfter",
    "Schedule": "schedule",
    "ReleaseAfter": "releaseAfter",
}
WHY = {
    "StopAfter": "it has been Running for {d} (stopAfter)",
    "IdleStopAfter": "no SafeWorkload referencing it has been active for {d} (idleStopAfter)",
    "Schedule": "no power window of spec.lifecycle.schedule is open",
    "ReleaseAfter": "{d} have passed since the object was created (releaseAfter)",
}


@dataclass(frozen=True)
class Plan:
    wanted: State  # spec.state, narrowed by the lifecycle
    patch: dict[str, Any] = field(default_factory=dict)  # {"lifecycle": ...} or {}: as is
    events: tuple[Event, ...] = ()
    releasing: bool = False  # releaseAfter is due: stop, then release
    cause: str | None = None  # the rule a power change now follows, for the metric


def problem(lc: Lifecycle | None) -> str | None:
    """What the API server could not check in spec.lifecycle (cron fields, the zone)."""
    return None if lc is None or lc.schedule is None else windows.problem(lc.schedule)


def expired_hold(v: View) -> Hold | None:
    hold = v.status.lifecycle.hold if v.status.lifecycle else None
    return hold if hold is not None and hold.by == "ReleaseAfter" else None


def plan(v: View, inst: Instance) -> Plan:
    lc, stored = v.spec.lifecycle, v.status.lifecycle
    expired = expired_hold(v)
    if not v.may_mutate:
        return Plan(v.spec.state)
    if lc is None:
        if expired is not None:
            return Plan("Stopped", releasing=True)
        return Plan(v.spec.state, {} if stored is None else {"lifecycle": None})
    return _Rules(v, lc, stored or LifecycleStatus(), inst).plan()


def waived_at(v: View, sched: Schedule, stored: LifecycleStatus) -> float | None:
    """When the spec was last edited outside every window (creation is no edit)."""
    edited = v.changed and v.status.observed_generation is not None
    if edited and not windows.inside(sched, v.now):
        return v.now
    return _t(stored.schedule_waived_at)


def outside_windows(v: View) -> tuple[float | None, float | None] | None:
    """Before anything is rented: (when the next window opens, the waiver to store) while
    the schedule keeps the instance from being rented; None when it may be rented now."""
    lc = v.spec.lifecycle
    if lc is None or lc.schedule is None or v.spec.state != "Running":
        return None
    sched = lc.schedule
    if windows.inside(sched, v.now):
        return None
    waived = waived_at(v, sched, v.status.lifecycle or LifecycleStatus())
    if waived is not None and waived >= windows.last_close(sched, v.now):
        return None
    return windows.next_open(sched, v.now), waived


def summary(action: str, at: float | None, reason: str) -> dict[str, Any]:
    """The status.lifecycle fields that announce the next action."""
    when = stamp(at) if at is not None else None
    line = f"{action} at {when} ({FIELD[reason]})" if when else f"{action} ({FIELD[reason]})"
    return {"nextAction": action, "nextActionTime": when, "reason": reason, "next": line}


class _Rules:
    def __init__(self, v: View, lc: Lifecycle, stored: LifecycleStatus, inst: Instance) -> None:
        self.v, self.lc, self.stored, self.inst = v, lc, stored, inst
        self.now = v.now
        self.events: list[Event] = []
        running = inst.status_code == "RUNNING"
        self.running_since = (_t(stored.running_since) or self.now) if running else None
        self.idle_since: float | None = None
        if lc.idle_stop_after and not v.workloads_active:
            self.idle_since = _t(stored.idle_since) or self.now
        self.sched = lc.schedule
        self.waived = waived_at(v, self.sched, stored) if self.sched else None
        self.prepaid_until = (
            inst.expire_at
            if inst.prepaid and inst.expire_at is not None and self.now < inst.expire_at
            else None
        )

    def plan(self) -> Plan:
        hold, reopened = self._hold()
        cause = "Schedule" if reopened else None
        release_at = self._release_at()
        if expired_hold(self.v) is not None or (release_at is not None and release_at <= self.now):
            return self._release(expired_hold(self.v))
        stops = self._stops() if hold is None and self.v.spec.state == "Running" else []
        deferred = self._deferred(stops)
        due = min(stops, default=None)
        if due is not None and due[0] <= self.now:
            hold, cause = (
                Hold(by=due[1], since=stamp(self.now), generation=self.v.generation),
                due[1],
            )
            what = "stopping the instance" if self.running_since else "keeping the instance stopped"
            self._say(EventReason.LIFECYCLE_STOP, f"{what}: {self._why(due[1])}")
            due = None
        if reopened and hold is None and self.v.spec.state == "Running":
            self._say(EventReason.LIFECYCLE_START, "starting the instance: a window opened")
        if hold is not None and not hold.done and self.inst.status_code == "CLOSED":
            hold = hold.model_copy(update={"done": True})
            self._say(EventReason.LIFECYCLE_STOPPED, self._stopped(hold))
        wanted: State = "Stopped" if hold is not None else self.v.spec.state
        cause = hold.by if hold is not None else cause
        status = {**self._times(hold, deferred), **self._next(hold, due, release_at)}
        return Plan(wanted, {"lifecycle": status}, tuple(self.events), cause=cause)

    # -- the rules --------------------------------------------------------------------------

    def _hold(self) -> tuple[Hold | None, bool]:
        """The stored hold while it holds, and whether a window opening just ended one."""
        hold = self.stored.hold
        if hold is None or hold.by == "ReleaseAfter":
            return None, False
        if hold.generation != self.v.generation:
            return None, False  # the spec changed: the person's wish wins
        since = _t(hold.since) or self.now
        if self.sched and windows.opened_between(self.sched, since, self.now):
            return None, True
        return hold, False

    def _release_at(self) -> float | None:
        if not self.lc.release_after or self.v.created_at is None:
            return None
        at = self.v.created_at + seconds(self.lc.release_after)
        if self.inst.prepaid and self.inst.expire_at is not None:
            at = max(at, self.inst.expire_at)  # prepaid: paid for until then anyway
        return at

    def _release(self, hold: Hold | None) -> Plan:
        if hold is None:
            hold = Hold(by="ReleaseAfter", since=stamp(self.now), generation=self.v.generation)
            self._say(
                EventReason.LIFECYCLE_RELEASE, f"releasing the instance: {self._why(hold.by)}"
            )
        status = {**self._times(hold, ()), **_no_next()}
        patch = {"lifecycle": status}
        return Plan("Stopped", patch, tuple(self.events), releasing=True, cause="ReleaseAfter")

    def _stops(self) -> list[tuple[float, str]]:
        """(when, rule) of each stop rule that applies, prepaid ones moved to the expiry."""
        lc, out = self.lc, []
        if lc.stop_after and self.running_since is not None:
            out.append((self.running_since + seconds(lc.stop_after), "StopAfter"))
        if lc.idle_stop_after and self.running_since is not None and self.idle_since is not None:
            idle = max(self.running_since, self.idle_since)
            out.append((idle + seconds(lc.idle_stop_after), "IdleStopAfter"))
        if self.sched is not None:
            at = self._schedule_stop(self.sched)
            if at is not None:
                out.append((at, "Schedule"))
        return out

    def _schedule_stop(self, sched: Schedule) -> float | None:
        if windows.inside(sched, self.now):
            return windows.next_close(sched, self.now)
        if self.waived is not None and self.waived >= windows.last_close(sched, self.now):
            opens = windows.next_open(sched, self.now)  # waived: until the next close
            return None if opens is None else windows.next_close(sched, opens)
        return self.now

    def _deferred(self, stops: list[tuple[float, str]]) -> tuple[str, ...]:
        """Rules a prepaid expiry holds back; says so once per expiry time."""
        until = self.prepaid_until
        held = tuple(r for at, r in stops if until is not None and at < until)
        if not held or until is None:
            return ()
        stops[:] = [(max(at, until), r) for at, r in stops]
        if self.stored.deferred_noticed != stamp(until):
            names = ", ".join(FIELD[r] for r in held)
            self._say(
                EventReason.LIFECYCLE_DEFERRED,
                f"the instance is prepaid until {stamp(until)}: stopping it earlier saves "
                f"nothing, so {names} wait{'s' if len(held) == 1 else ''} until then",
            )
        return held

    # -- status ------------------------------------------------------------------------------

    def _times(self, hold: Hold | None, deferred: tuple[str, ...]) -> dict[str, Any]:
        until = self.prepaid_until
        return {
            "runningSince": _s(self.running_since),
            "idleSince": _s(self.idle_since),
            "scheduleWaivedAt": _s(self.waived),
            "hold": None if hold is None else hold.model_dump(by_alias=True, mode="json"),
            "deferredNoticed": stamp(until)
            if deferred and until is not None
            else self.stored.deferred_noticed,
        }

    def _next(
        self, hold: Hold | None, due: tuple[float, str] | None, release_at: float | None
    ) -> dict[str, Any]:
        options: list[tuple[float, str, str]] = []
        if due is not None:
            options.append((due[0], "Stop", due[1]))
        if hold is not None and self.sched is not None and self.v.spec.state == "Running":
            opens = windows.next_open(self.sched, self.now)
            if opens is not None:
                options.append((opens, "Start", "Schedule"))
        if release_at is not None:
            options.append((release_at, "Release", "ReleaseAfter"))
        if not options:
            return _no_next()
        at, action, reason = min(options)
        return summary(action, at, reason)

    def _why(self, rule: str) -> str:
        duration = {
            "StopAfter": self.lc.stop_after,
            "IdleStopAfter": self.lc.idle_stop_after,
            "ReleaseAfter": self.lc.release_after,
        }.get(rule)
        return WHY[rule].format(d=duration)

    def _stopped(self, hold: Hold) -> str:
        until = "the spec changes"
        if self.sched is not None:
            until = "the next power window opens or the spec changes"
        return f"stopped by {FIELD[hold.by]}; it stays stopped until {until}"

    def _say(self, reason: str, message: str) -> None:
        self.events.append(Event(reason, message))


NO_NEXT: dict[str, Any] = {"nextAction": None, "nextActionTime": None, "reason": None, "next": None}


def _no_next() -> dict[str, Any]:
    return dict(NO_NEXT)


def _t(value: str | None) -> float | None:
    return None if value is None else epoch(value)


def _s(value: float | None) -> str | None:
    return None if value is None else stamp(value)
