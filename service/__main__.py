"""`python -m service ...` is `medcite ...`."""
import sys

from service.cli import main

sys.exit(main())
