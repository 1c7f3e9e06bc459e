"""``python -m engagement_kit.cli``: the same as the ``engagement-kit`` command."""

from engagement_kit.cli.common import main

main()
