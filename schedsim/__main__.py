"""``python -m schedsim``: the same command line as the ``schedsim`` console script."""

from schedsim.cli import main

main()
