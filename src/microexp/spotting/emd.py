"""PyEMD's ``EMD`` class, loaded without PyEMD's package ``__init__``.

``import PyEMD`` also imports its ensemble variants (scipy.signal) and its plotting helper (matplotlib.pylab,
i.e. pyplot and a GUI backend search): about twice the cost of the EMD module itself, paid at every
``microexp spot`` although OF-FD only calls ``EMD().emd``. The class is the very same object either way
(``PyEMD.EMD`` is this module when the package is imported later), so results cannot differ.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types

_lock = threading.Lock()


def emd_class() -> type:
    """``PyEMD.EMD.EMD``; imports only ``PyEMD.EMD`` (and its splines/utils) unless the package is loaded."""
    with _lock:
        if "PyEMD.EMD" not in sys.modules and "PyEMD" not in sys.modules:
            spec = importlib.util.find_spec("PyEMD")
            if spec is None or spec.submodule_search_locations is None:
                raise ImportError("PyEMD (EMD-signal) is not installed")
            shell = types.ModuleType("PyEMD")  # a bare package: its submodules import, its __init__ does not run
            shell.__path__ = list(spec.submodule_search_locations)
            shell.__spec__ = spec
            sys.modules["PyEMD"] = shell
            try:
                importlib.import_module("PyEMD.EMD")
            finally:
                # a later ``import PyEMD`` runs the real __init__, which finds PyEMD.EMD already loaded
                del sys.modules["PyEMD"]
        return sys.modules["PyEMD.EMD"].EMD
