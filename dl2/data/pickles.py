"""Reading the pickled files datasets ship without running code from them.

CIFAR-10's batches and Planetoid's raw files are Python pickles, and `pickle.load` of a crafted
file calls whatever the file names (`os.system`, `subprocess.call`, ...). The unpickler here
builds only the classes its caller admits: numpy arrays by default; lists, dicts, strings and
numbers need no class. Anything else fails naming the file and the class it asked for."""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dl2.errors import ConfigValueError

# numpy arrays and scalars, under numpy 1's module names (the files' age) and numpy 2's; a
# protocol-2 pickle written by Python 3 spells bytes as _codecs.encode(text, "latin1")
NUMPY = frozenset(
    {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }
)
# scipy's CSR matrices (Planetoid's features) and the graph's dict of neighbour lists
SPARSE = frozenset({("scipy.sparse.csr", "csr_matrix"), ("scipy.sparse._csr", "csr_matrix")})
NEIGHBOURS = frozenset(
    {("collections", "defaultdict"), ("__builtin__", "list"), ("builtins", "list")}
)


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that imports only the (module, name) pairs in `allowed`."""

    def __init__(self, file: Any, allowed: Iterable[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.allowed = frozenset(allowed)

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a data file has no reason to hold"
            )
        return super().find_class(module, name)


def load_data_pickle(path: str | Path, key: str, allowed: Iterable[tuple[str, str]] = NUMPY) -> Any:
    """The object pickled in `path` (Python 2 pickles read as latin-1), built from plain Python
    values and the `allowed` classes only. A file that is not such a pickle fails as a
    ConfigValueError on `key` naming the file."""
    try:
        with open(path, "rb") as f:
            return RestrictedUnpickler(f, allowed, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ImportError, ValueError, TypeError) as err:
        raise ConfigValueError(
            key, str(path), f"is a corrupt or unsafe data file ({type(err).__name__}: {err})"
        ) from None
