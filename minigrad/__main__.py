from minigrad.apps.cli import main

raise SystemExit(main())
