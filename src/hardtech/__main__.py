"""``python -m hardtech`` is the ``hardtech`` command."""

from hardtech.cli import main

main()
