"""`python -m fakescope ...`: how torchrun starts the command (`torchrun ... -m fakescope`)."""

import sys

from fakescope.cli import main

sys.exit(main())
