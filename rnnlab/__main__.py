"""`python -m rnnlab train FILE` / `python -m rnnlab sample MODEL --text FILE`; see rnnlab.cli."""

from .cli import main

raise SystemExit(main())
