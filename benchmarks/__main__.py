"""``python -m benchmarks``: see ``benchmarks/_harness.py``."""

from __future__ import annotations

import sys

from ._harness import main

if __name__ == "__main__":
    sys.exit(main())
