"""``python -m valuecapture`` runs the command line."""

from valuecapture.cli.main import main

raise SystemExit(main())
