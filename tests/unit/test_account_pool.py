"""Accounts are counted by the objects that use them; an unused one is handed back to close."""

from __future__ import annotations

from dataclasses import dataclass, field

from cfgpu_operator.handlers.accounts import Pool


@dataclass
class FakePoller:
    started: int = 0

    def start(self) -> None:
        self.started += 1


@dataclass
class FakeAccount:
    token: str
    poller: FakePoller = field(default_factory=FakePoller)


def pool() -> Pool:  # type: ignore[type-arg]
    return Pool(FakeAccount)


def test_one_account_per_token_started_once() -> None:
    p = pool()
    a, b = p.get("t1", "uid-a"), p.get("t1", "uid-b")
    assert a is b
    assert a.poller.started == 1
    assert p.unused() == []


def test_an_account_is_unused_once_its_last_object_is_gone() -> None:
    p = pool()
    account = p.get("t1", "uid-a")
    p.get("t1", "uid-b")
    p.release("uid-a")
    assert p.unused() == []
    p.release("uid-b")
    assert p.unused() == [account]
    assert p.all() == []


def test_switching_tokens_leaves_the_old_one_unused() -> None:
    p = pool()
    old = p.get("t1", "uid-a")
    new = p.get("t2", "uid-a")
    assert p.unused() == [old]
    assert p.all() == [new]
