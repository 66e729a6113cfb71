"""A flow whose import has a side effect: discover and validate must never run it.

Importing this file (or its sibling module) writes a marker file beside it.
"""

from pathlib import Path

Path(__file__).with_name("IMPORTED_WORKFLOW").write_text("workflow.py was executed\n")

import helper  # noqa: E402  (the sibling's import writes its own marker)
from prefect import flow  # noqa: E402


@flow(name="SideEffectFlow")
def side_effect_flow() -> str:
    """Return the helper's answer."""
    return helper.answer()
