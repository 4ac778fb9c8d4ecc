"""The portal's own settings, with collectstatic's output kept under bench/out/.

Production serves hashed static files that `collectstatic` wrote (README); the benchmarks do the
same, but write them beside their other output instead of into the checkout's `staticfiles/`.
"""

from __future__ import annotations

from portal.settings import *  # noqa: F403
from portal.settings import BASE_DIR

STATIC_ROOT = BASE_DIR / "bench" / "out" / "staticfiles"
