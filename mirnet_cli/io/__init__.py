"""Image I/O: reading/writing without loss, camera RAW, atomic writes, input discovery.

Names are loaded lazily (``from mirnet_cli.io import read_image`` imports numpy/Pillow only then), so that
``mirnet_cli.io.formats`` and ``mirnet_cli.io.discovery`` stay cheap to import.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "Image": "images",
    "ImageIOWarning": "images",
    "ImageWriteWarning": "images",
    "read_image": "images",
    "image_size": "images",
    "write_image": "images",
    "encode_image": "images",
    "quantize": "images",
    "atomic_open": "atomic",
    "atomic_write_bytes": "atomic",
    "AtomicWriteError": "atomic",
    "is_temp_file": "atomic",
    "clean_stale_temp_files": "atomic",
    "max_pixels_limit": "images",
    "read_raw": "raw",
    "IMAGE_EXTENSIONS": "formats",
    "RAW_EXTENSIONS": "formats",
    "ext_for": "formats",
    "format_for_path": "formats",
    "output_extension": "formats",
    "is_raw_path": "formats",
    "is_image_path": "formats",
    "InputItem": "discovery",
    "DualPixelPair": "discovery",
    "find_inputs": "discovery",
    "find_dual_pixel_pairs": "discovery",
    "default_output_dir": "discovery",
    "output_path_for": "discovery",
    "output_path_for_pair": "discovery",
    "ensure_not_input": "discovery",
    "ensure_no_output_is_input": "discovery",
    "plan_outputs": "discovery",
    "scan_inputs": "discovery",
    "scan_dual_pixel_pairs": "discovery",
    "split_own_outputs": "discovery",
    "mark_output_dir": "discovery",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(globals(), _EXPORTS)
