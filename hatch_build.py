"""Builds paydiag's optional C speedups (paydiag/_speedups.c) into the wheel.

Where no C compiler or Python headers are at hand the build goes on without them and
paydiag runs its pure-Python reference of the same scan: the speedups change how fast a
report comes, never what it says.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSION = "paydiag._speedups"
SOURCE = Path("paydiag") / "_speedups.c"


class SpeedupsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        work = Path(tempfile.mkdtemp(prefix="paydiag-speedups-"))
        try:
            built = _compile(root / SOURCE, work)
        except Exception as error:  # a missing compiler raises one of several types
            self.app.display_warning(
                f"paydiag: C speedups not built ({error}); the pure-Python scan is used"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version == "editable":
            # An editable install imports from the source tree, so the module goes there.
            shutil.copy2(built, root / "paydiag" / built.name)
        else:
            build_data["force_include"][str(built)] = f"paydiag/{built.name}"


def _compile(source: Path, work: Path) -> Path:
    from setuptools import Distribution, Extension

    distribution = Distribution(
        {"name": "paydiag", "ext_modules": [Extension(EXTENSION, [str(source)])]}
    )
    command: Any = distribution.get_command_obj("build_ext")
    command.build_lib = str(work / "lib")
    command.build_temp = str(work / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(EXTENSION))
