"""``python -m gaitlake``: the same command line as the ``gaitlake`` console script."""
from gaitlake.cli import main

raise SystemExit(main())
