"""``python -m optgen ...``: the same as the ``optgen`` command."""
import sys

from .cli import main

sys.exit(main())
