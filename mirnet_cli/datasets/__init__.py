"""Benchmark dataset adapters: find the (input, target) pairs of a test set on disk and say how to score them.

Every adapter returns a :class:`Dataset`: a list of :class:`Sample` (name = the input's file stem, input
path(s), target path or ``None``, and a ``load()`` that returns float32 arrays in [0, 1]) plus the
:class:`Protocol`, i.e. the metric conventions of the authors' evaluation for that test set.

One module per adapter, each documenting the layouts it accepts (``data_dir`` is the folder you pass with
``--data-dir``): :mod:`.sidd`, :mod:`.dnd`, :mod:`.paired` (``lol``, ``fivek``), :mod:`.realsr`, :mod:`.dpdd`,
:mod:`.folder`, :mod:`.synthetic`. Below them :mod:`._protocols` (scoring conventions), :mod:`._base` (samples,
listing, loading, pairing by stem) and :mod:`._mat` (``.mat`` files). :mod:`._registry` is the table of names,
aliases, tasks and help text that ``mirnet benchmark`` and :func:`load_dataset` read; it imports an adapter
module by name only when its test set is opened. :mod:`.degradations` (over :mod:`.camera`, a camera pipeline run
backwards and forwards) makes degraded inputs from clean photos, for the ``synthetic`` test set and for training.

The package sits below :mod:`mirnet_cli.benchmark` and :mod:`mirnet_cli.train`, which both import it and neither
of which it imports (``tests/test_layers.py``).

Names are loaded lazily, so that ``mirnet benchmark --help`` can read the registry without importing numpy.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "DATASETS": "_registry",
    "DATASET_SPECS": "_registry",
    "DATASET_TASKS": "_registry",
    "SYNTHETIC_TASKS": "_registry",
    "DatasetRequest": "_registry",
    "DatasetSpec": "_registry",
    "dataset_task": "_registry",
    "find_spec": "_registry",
    "load_dataset": "_registry",
    "Protocol": "_protocols",
    "_sr_protocol": "_protocols",
    "IMAGE_EXTENSIONS": "_base",
    "Dataset": "_base",
    "Sample": "_base",
    "list_images": "_base",
    "load_rgb": "_base",
    "natural_key": "_base",
    "select_names": "_base",
    "upsample_bicubic": "_base",
    "sidd_dataset": "sidd",
    "dnd_dataset": "dnd",
    "lol_dataset": "paired",
    "fivek_dataset": "paired",
    "realsr_dataset": "realsr",
    "dpdd_dataset": "dpdd",
    "folder_dataset": "folder",
    "synthetic_dataset": "synthetic",
}

__all__ = sorted(name for name in _EXPORTS if not name.startswith("_"))

__getattr__ = lazy_exports(globals(), _EXPORTS)
