"""Stand-in ``cupy`` (see ../README.md): the stand-in of standin_custatevec, with
``QRS_STANDIN_GPUS`` devices."""

import os

import standin_custatevec as _standin

_standin.MEMORY.device_count = int(os.environ.get("QRS_STANDIN_GPUS", "1"))
globals().update(vars(_standin.cupy))
