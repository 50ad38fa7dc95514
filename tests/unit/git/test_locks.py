"""ReadWriteLock and SharedRuns: the asyncio primitives of the git mirrors."""

from __future__ import annotations

import asyncio

import pytest

from shunter.git.locks import ReadWriteLock, SharedRuns


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestReadWriteLock:
    async def test_readers_share_writers_exclude(self) -> None:
        lock = ReadWriteLock()
        log: list[str] = []
        release = asyncio.Event()

        async def reader(name: str) -> None:
            async with lock.read():
                log.append(f"{name} in")
                await release.wait()
                log.append(f"{name} out")

        async def writer() -> None:
            async with lock.write():
                log.append("writer")

        readers = [asyncio.create_task(reader(n)) for n in ("r1", "r2")]
        await _settle()
        assert log == ["r1 in", "r2 in"]  # both readers at once
        write = asyncio.create_task(writer())
        late = asyncio.create_task(reader("r3"))
        await _settle()
        assert "writer" not in log
        assert "r3 in" not in log  # a waiting writer goes before readers that came later
        release.set()
        await asyncio.gather(*readers, write, late)
        assert log.index("writer") < log.index("r3 in")
        assert not lock.busy

    async def test_a_cancelled_waiting_writer_lets_readers_in(self) -> None:
        lock = ReadWriteLock()
        held = asyncio.Event()
        release = asyncio.Event()

        async def hold() -> None:
            async with lock.read():
                held.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await held.wait()

        async def write() -> None:
            async with lock.write():
                pass

        writer = asyncio.create_task(write())
        await _settle()
        reader_done = asyncio.Event()

        async def read() -> None:
            async with lock.read():
                reader_done.set()

        reader = asyncio.create_task(read())
        await _settle()
        assert not reader_done.is_set()
        writer.cancel()
        await asyncio.wait_for(reader_done.wait(), 5)
        release.set()
        await asyncio.gather(holder, reader)
        with pytest.raises(asyncio.CancelledError):
            await writer
        assert not lock.busy


class TestSharedRuns:
    async def test_queued_runs_are_shared_started_ones_are_not(self) -> None:
        runs: SharedRuns[str, int] = SharedRuns()
        lock = ReadWriteLock()
        started = 0
        gate = asyncio.Event()

        async def work() -> int:
            nonlocal started
            started += 1
            number = started
            await gate.wait()
            return number

        first = asyncio.create_task(runs.run("k", lock.write, work))
        await _settle()
        assert started == 1  # the lock was free: the first run started at once
        joiners = [asyncio.create_task(runs.run("k", lock.write, work)) for _ in range(5)]
        other = asyncio.create_task(runs.run("other", lock.write, work))
        await _settle()
        gate.set()
        results = await asyncio.gather(first, *joiners, other)
        assert results[0] == 1
        assert set(results[1:6]) == {results[1]}  # the five shared one queued run
        assert started == 3  # first, the shared one, and "other"

    async def test_a_failure_is_shared_and_a_cancelled_leader_is_replaced(self) -> None:
        runs: SharedRuns[str, str] = SharedRuns()
        lock = ReadWriteLock()
        blocker_in = asyncio.Event()
        unblock = asyncio.Event()

        async def block() -> str:
            blocker_in.set()
            await unblock.wait()
            return "blocker"

        async def fail() -> str:
            raise RuntimeError("remote said no")

        blocker = asyncio.create_task(runs.run("block", lock.write, block))
        await blocker_in.wait()
        leader = asyncio.create_task(runs.run("k", lock.write, fail))
        await _settle()
        follower = asyncio.create_task(runs.run("k", lock.write, fail))
        await _settle()
        unblock.set()
        for task in (leader, follower):
            with pytest.raises(RuntimeError, match="remote said no"):
                await task
        await blocker

        unblock.clear()
        blocker_in.clear()
        blocker = asyncio.create_task(runs.run("block", lock.write, block))
        await blocker_in.wait()

        async def succeed() -> str:
            return "fresh"

        leader = asyncio.create_task(runs.run("k", lock.write, succeed))
        await _settle()
        follower = asyncio.create_task(runs.run("k", lock.write, succeed))
        await _settle()
        leader.cancel()
        await _settle()
        unblock.set()
        assert await follower == "fresh"  # it queued a run of its own
        with pytest.raises(asyncio.CancelledError):
            await leader
        await blocker
