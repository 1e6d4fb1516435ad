"""``python -m clipasso_core``: the ``clipasso`` command."""
import sys

from .launcher import main

sys.exit(main())
