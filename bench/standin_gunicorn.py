"""gunicorn settings for the campaign benchmark's carrier stand-in (`--config`): its workers run
without Python's cyclic garbage collector.

The stand-in stamps each send when it arrives (`SandboxMessage.received_at`), and the benchmark
counts a DID's sends per second by those stamps. A full collection holds every thread of its
worker: with a hundred 2 s sends in flight, the stand-in's took 70–330 ms, and every arrival
held more than 50 ms between the portal's call and the stamp fell inside one (bench/RESULTS.md,
run AD). The count then measured the stand-in's collector, not the portal's pace; a carrier
stamps at its edge. Left uncollected, the cycles of a run come to ~1,700 objects a second per worker
(~280,000 by the end of a 2 s run), a few tens of MB.
"""

from __future__ import annotations

import gc


def post_worker_init(worker) -> None:
    gc.disable()
