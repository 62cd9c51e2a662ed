"""`python -m kiosk` runs the `moodkiosk` command."""
from kiosk.cli import main

raise SystemExit(main())
