"""The bench's portal settings (bench/portal_settings.py) with the sandbox's status steps on a task
queue of their own.

The sandbox stands in for the carrier, whose status updates and callbacks never wait in the
portal's task queue. Here its steps go on the `sandbox` queue (sandbox/tasks.py), which only the
bench's sandbox workers take (`db_worker --queue-name sandbox`); the portal's workers take the
`default` queue as always. With no sandbox worker running, no status step runs and no callback
is fired: the "callbacks off" case of bench/bench_campaign.py.
"""

from __future__ import annotations

from bench.portal_settings import *  # noqa: F403

SANDBOX_TASK_QUEUE = "sandbox"
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", SANDBOX_TASK_QUEUE],
    }
}
