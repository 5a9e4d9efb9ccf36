"""`python -m dsl ...` is the `dsl` command."""

import sys

from dsl.cli import main

sys.exit(main())
