"""Writes: the message lifecycle and what changes it.

- outbound.py: send, retry, reconcile, adopting the carrier's SID for our row.
- carrier_events.py: what the carrier sent us → our messages and conversations; the one function
  that applies an SMS object to a message (`message_update_from_sms`), used by both.
- opt_out.py, auto_reply.py, carrier_health.py, task_leases.py: one job each.

The background entry points that run them are in messaging/tasks.py. Modules in the cycle
tasks ↔ services import each other as modules (`from messaging import tasks`), never by name, so
any of them can be imported first.
"""
