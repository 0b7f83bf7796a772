"""Windows starts processes only with `spawn`: this folder, put first on PYTHONPATH, makes
`spawn` the only start method multiprocessing offers (and its default) in every Python
process started with that PYTHONPATH, and refuses `fork` and `forkserver` as Windows does
(`ValueError: cannot find context`); `os.fork` itself raises.

Used by `.ci/run` for a second run of the batch, robustness and maps tests.
"""

import multiprocessing
import os
from multiprocessing import context

for _method in ("fork", "forkserver"):
    context._concrete_contexts.pop(_method, None)
context.DefaultContext.get_all_start_methods = lambda self: ["spawn"]
context._default_context._default_context = context._concrete_contexts["spawn"]
context._default_context._actual_context = None
# The package-level function is a method bound at import: bind it again.
multiprocessing.get_all_start_methods = context._default_context.get_all_start_methods


def _no_fork() -> int:
    raise OSError("fork is refused here: only spawn is available, as on Windows")


os.fork = _no_fork
