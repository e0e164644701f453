"""Allow ``python -m galaxylab ...`` to behave exactly like the ``galaxylab`` command."""

from galaxylab.cli import main

raise SystemExit(main())
