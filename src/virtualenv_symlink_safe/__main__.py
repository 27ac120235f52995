"""``python -m virtualenv_symlink_safe``: the ``virtualenv-symlink-safe`` command."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
