"""The dispatch tests would notice a changed rule: mutation testing of queue_server/domain/dispatch.py.

Each mutation edits the module's source the way a careless change would
(drop the run guard, order urgent promises by class instead of deadline, count
real minutes instead of opening time...), loads the edited module in place of
the real one for the window rules, and runs the property and liveness tests
of test_dispatch_properties.py against it: at least one must fail. The edit
must apply to the source as it is, so a mutation cannot go stale silently
when the module changes.
"""

from __future__ import annotations

import inspect
import sys
import types

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

from queue_server.domain import dispatch, windows
from queue_server.domain.errors import DomainError
from tests.queue_server import test_dispatch_liveness as liveness
from tests.queue_server import test_dispatch_properties as props

MUTATIONS = {
    "no run guard: promises always before overdue tickets": [
        ("if run < policy.max_in_a_row:", "if True:")],
    "promises urgent only at their deadline": [
        ("URGENT_SHARE if c.klass != ORDINARY else 1.0", "1.0")],
    "promises urgent half-way to their deadline": [
        ("URGENT_SHARE if c.klass != ORDINARY else 1.0", "0.5 if c.klass != ORDINARY else 1.0")],
    "urgent promises by class, not by deadline": [
        ("return (1, policy.deadline(c), c.klass, c.id)", "return (1, c.klass, policy.deadline(c), c.id)")],
    "overdue tickets by arrival, not by deadline": [
        ("return (2, policy.deadline(c), c.id)", "return (2, c.arrived_at, c.id)")],
    "overdue tickets before urgent promises": [
        ("return (1, policy.deadline(c), c.klass, c.id)", "return (2.5, policy.deadline(c), c.klass, c.id)")],
    "the window's ranking before the class": [
        ("return (3, klass, ranks.get(c.business, 99), c.promise_from, c.id)",
         "return (3, ranks.get(c.business, 99), klass, c.promise_from, c.id)")],
    "an appointment checked in early jumps the queue": [
        ("klass = c.klass if datetime.fromisoformat(c.promise_from) <= now else ORDINARY", "klass = c.klass")],
    "the SQL forgets the appointments' queue": [
        ("for k in (GREEN, APPOINTMENT, ORDINARY))", "for k in (GREEN, ORDINARY))")],
    "real minutes instead of opening time": [
        ("self.hours.add_open_minutes(datetime.fromisoformat(c.promise_from), minutes)",
         "datetime.fromisoformat(c.promise_from) + timedelta(minutes=minutes)")],
}

FAST = settings(max_examples=150, stateful_step_count=60, deadline=None, phases=[Phase.generate],
                suppress_health_check=list(HealthCheck), database=None)


def mutant(edits: list[tuple[str, str]]) -> types.ModuleType:
    source = inspect.getsource(dispatch)
    for old, new in edits:
        assert source.count(old) == 1, f"the mutation no longer applies to dispatch.py: {old!r}"
        source = source.replace(old, new)
    module = types.ModuleType("dispatch_mutant")
    sys.modules[module.__name__] = module  # dataclasses look their module up while the class is made
    try:
        exec(compile(source, "dispatch_mutant.py", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    return module


def _liveness(tmp_path_factory):
    for check, strategies in liveness.LIVENESS_CHECKS:
        settings(max_examples=20, deadline=None, phases=[Phase.generate], database=None,
                 suppress_health_check=list(HealthCheck))(given(**strategies)(check))(tmp_path_factory)


def _examples(tmp_path_factory):
    for example in props.WORKED_EXAMPLES:
        try:
            example(tmp_path_factory.mktemp("example"))
        except DomainError as e:  # "nobody waiting" while a ticket waits: the rule lost it
            raise AssertionError(f"{example.__name__}: {e.code}") from e


def _only_assertions(e: BaseException) -> bool:
    if isinstance(e, BaseExceptionGroup):
        return all(_only_assertions(x) for x in e.exceptions)
    return isinstance(e, AssertionError)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_changed_rule_fails_the_dispatch_tests(name, monkeypatch, tmp_path_factory):
    monkeypatch.setattr(windows, "dispatch", mutant(MUTATIONS[name]))
    with pytest.raises(BaseException) as failure:  # noqa: PT011 (checked below: assertions only)
        _examples(tmp_path_factory)
        _liveness(tmp_path_factory)
        run_state_machine_as_test(props.HallDay, settings=FAST)
    assert _only_assertions(failure.value), f"the mutant broke, rather than a rule being caught: {failure.value!r}"


def test_the_unchanged_rule_passes_the_same_runs(monkeypatch, tmp_path_factory):
    """The control: the real module loaded the same way passes, so the failures above are the mutations'."""
    monkeypatch.setattr(windows, "dispatch", mutant([]))
    _examples(tmp_path_factory)
    _liveness(tmp_path_factory)
    run_state_machine_as_test(props.HallDay, settings=FAST)
