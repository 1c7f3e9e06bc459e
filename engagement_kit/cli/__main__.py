"""``python -m engagement_kit.cli``: the same as the ``engagement-kit`` command."""

from .common import main

main()
