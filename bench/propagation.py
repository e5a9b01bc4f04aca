"""How long after a change's response can a worker still answer from before it? (issue 16)

Two `idgate serve` instances × 4 workers on PostgreSQL + Redis (or `--store postgresql`,
LISTEN/NOTIFY). One keep-alive connection per worker asks
/auth/verify for the member without pause, each in its own thread; meanwhile an admin flips the
member's role a number of times, then deactivates them. For every change: the latest request
*sent after the change's response had returned* that still got the old answer, in ms after that
moment (0 when none did). Requests already on their way when the response returned do not count.

Goal: ≤ 50 ms (the one-second per-process cache it replaces measured 979 ms).
Run: python bench/propagation.py [--changes 8] [--store redis|postgresql]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import fresh_postgres_database  # noqa: E402
from tests.helpers.cluster import RedisServer, running_cluster, verify  # noqa: E402


def _state(answer) -> str:
    return answer.headers.get("X-Auth-Role", "") if answer.status_code == 200 else str(answer.status_code)


def measure_change(connections, token: str, change, new_state: str, window: float = 0.6) -> tuple[float, int]:
    """(latest stale answer after the change returned, in ms; answers seen after it)."""
    stop, returned, answers = threading.Event(), [None], []

    def ask(connection):
        while not stop.is_set():
            sent = time.perf_counter()
            state = _state(verify(connection, token))
            answers.append((sent, state))

    threads = [threading.Thread(target=ask, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    time.sleep(0.15)
    change()
    returned[0] = time.perf_counter()
    time.sleep(window)
    stop.set()
    for thread in threads:
        thread.join()
    after = [(sent, state) for sent, state in answers if sent > returned[0]]
    stale = [sent - returned[0] for sent, state in after if state != new_state]
    return (max(stale) * 1000 if stale else 0.0), len(after)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--store", choices=["redis", "postgresql"], default="redis")
    args = parser.parse_args()
    pg = os.environ.get("IDGATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        redis = RedisServer(tmp).start() if args.store == "redis" else None
        try:
            with fresh_postgres_database(pg, "idgate_bench_propagation") as url:
                results = run(args, tmp, url, redis and redis.url)
        finally:
            if redis:
                redis.kill()
    worst = max(latest for _, latest, _ in results)
    for name, latest, seen in results:
        print(f"  {name:24s} latest stale answer {latest:6.1f} ms after the response ({seen} answers after it)")
    print(f"latest stale answer after a change's response, 2 instances × {args.workers} workers, "
          f"{args.store}: {worst:.1f} ms (goal ≤ 50 ms)")


def run(args, tmp: Path, url: str, redis_url: str | None) -> list:
    results = []
    with running_cluster(tmp, url, redis_url=redis_url, workers=args.workers) as cluster:
        connections = cluster.every_worker()
        role = "user"
        for n in range(args.changes):
            role = "admin" if role == "user" else "user"
            latest, seen = measure_change(connections, cluster.member, lambda r=role, n=n: cluster.set_role(r, via=n % 2),
                                          role)
            results.append((f"role change {n + 1} → {role}", latest, seen))
        latest, seen = measure_change(connections, cluster.member, cluster.deactivate, "401")
        results.append(("deactivation", latest, seen))
    return results


if __name__ == "__main__":
    main()
