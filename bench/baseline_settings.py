"""The benchmark's portal settings with one change: the URLconf is the bare baseline view.

Same middleware, same database settings, same gunicorn shape: whatever the webhook costs beyond
this is the portal's own work.
"""

from __future__ import annotations

from bench.portal_settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
