"""Settings for the benchmark server: the production settings plus one bench-only URL.

Only `python -m tests.bench.run` uses this module; production never mounts /bench/hash/.
"""

import os

from twofa_site.settings import *  # noqa: F403

ROOT_URLCONF = "tests.bench.urls"
# The bench collects the static files into its own temp folder, not the project's.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or STATIC_ROOT  # noqa: F405
