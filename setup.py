"""Build hook: put the notebooks and the example settings files into the wheel.

``notebooks/`` and the ``*.example`` files at the project's root stay the only copies we edit;
``build_py`` copies them into ``engagement_kit/_bundled/`` of the built package, where
:func:`engagement_kit.config.project.bundled_file` finds them after a ``pip install``. An editable
install (``pip install -e .``) reads the checkout's own files instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Files copied into the package, relative to the project root (keep in step with
#: engagement_kit/config/project.py BUNDLED).
BUNDLED = (
    "notebooks/reports/weekly_report.ipynb",
    "notebooks/explore/01_explore.ipynb",
    ".env.example",
    "streams.example.toml",
)


class BuildWithBundledFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "engagement_kit" / "_bundled"
        for relative in BUNDLED:
            dest = target / relative
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / relative, dest)


setup(cmdclass={"build_py": BuildWithBundledFiles})
