"""Stand-in ``cuquantum.bindings`` (see ../../README.md): ``custatevec`` is the stand-in binding."""

import standin_custatevec as custatevec

__all__ = ["custatevec"]
