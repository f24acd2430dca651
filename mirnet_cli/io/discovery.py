"""Finding input images and deciding where their outputs go.

Rules that keep runs safe and repeatable:

* results are sorted (by relative path, roots in the order given), so runs are deterministic;
* hidden files and folders (name starting with ``.``) and our own temporary files are skipped in folders;
* files inside ``exclude_dirs`` (the output folder) are skipped, and so are folders that mirnet created for its
  outputs (they hold an :data:`~mirnet_cli.io.formats.OUTPUT_MARKER` file), so re-runs never eat their own outputs;
* with ``-o`` pointing into the input folder, inputs that are this command's own outputs are set aside
  (:func:`split_own_outputs`) instead of being processed again;
* images in formats we do not read (``.gif``, ``.avif``, …) are reported as skipped, never silently ignored;
* every image file found in a folder is checked with ``stat`` (links resolved): named pipes, sockets and devices
  (a ``z.png`` link to ``/dev/zero``) are skipped with the reason, never opened;
* an output path can never be an input path (:func:`ensure_not_input`), and two inputs can never share an
  output (:func:`plan_outputs`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mirnet_cli.errors import MirnetError
from mirnet_cli.io.formats import (
    IMAGE_EXTENSIONS,
    OUTPUT_MARKER,
    RAW_EXTENSIONS,
    TEMP_SUFFIX,
    UNSUPPORTED_IMAGE_EXTENSIONS,
    is_image_path,
    output_extension,
    special_file_reason,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "RAW_EXTENSIONS",
    "DualPixelPair",
    "DualPixelScan",
    "InputItem",
    "Scan",
    "default_output_dir",
    "ensure_no_output_is_input",
    "ensure_not_input",
    "find_dual_pixel_pairs",
    "find_inputs",
    "is_output_dir",
    "mark_output_dir",
    "output_path_for",
    "output_path_for_pair",
    "plan_outputs",
    "scan_dual_pixel_pairs",
    "scan_inputs",
    "split_own_outputs",
    "unsupported_reason",
]


@dataclass(frozen=True)
class InputItem:
    """One input file.

    Attributes:
        path: the file as found (not resolved, so messages show what the user typed).
        rel: path relative to the folder it was found in (``sub/a.png`` with ``--recursive``), or just the
            file name for a file given directly; outputs mirror it under the output folder.
    """

    path: Path
    rel: Path


@dataclass(frozen=True)
class DualPixelPair:
    """Left and right dual-pixel views of one scene.

    Attributes:
        name: scene name relative to the searched folder, POSIX style without extension
            (``"scene01"``, or ``"sub/scene01"`` when recursive); outputs are ``<name><suffix><ext>``.
        left: the left view file.
        right: the right view file.
    """

    name: str
    left: Path
    right: Path


def _skipped_name(name: str) -> bool:
    return name.startswith(".") or name.endswith(TEMP_SUFFIX)


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _is_within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _active_excludes(root: Path, exclude_dirs: Iterable[Path]) -> list[Path]:
    """Exclusions that apply under ``root``: an exclude dir equal to or containing the root is ignored
    (``-o`` pointing at the input folder itself must not hide every input)."""
    root_r = _resolve(root)
    return [ex for ex in (_resolve(Path(e)) for e in exclude_dirs) if not _is_within(root_r, ex)]


@dataclass
class Scan:
    """What a search of the inputs found.

    Attributes:
        items: the images to process (see :func:`find_inputs`).
        unsupported: images in formats we do not read (``.gif``, ``.avif``, …), found in folders.
        output_dirs: folders not descended into because mirnet wrote them (they hold :data:`OUTPUT_MARKER`).
        special: ``(path, reason)`` of image names found in folders that are not regular files (named pipes,
            sockets, devices, links to them): never opened.
    """

    items: list[InputItem] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)
    output_dirs: list[Path] = field(default_factory=list)
    special: list[tuple[Path, str]] = field(default_factory=list)


def is_output_dir(folder: Path) -> bool:
    """True for a folder that mirnet created for its outputs (it holds :data:`OUTPUT_MARKER`)."""
    return (folder / OUTPUT_MARKER).is_file()


def mark_output_dir(folder: str | Path, command: str) -> bool:
    """Create ``folder`` for outputs and mark it as mirnet's, so that discovery never descends into it.

    Only a folder that does not exist yet is marked: marking a folder of the user's (``-o ~/Pictures``) would
    hide its photos from later runs. Returns True when the folder was created (and marked).
    """
    folder = Path(folder)
    if folder.exists():
        return False
    folder.mkdir(parents=True)
    info = {"written_by": "mirnet", "command": command,
            "note": "mirnet does not look for inputs in this folder when searching sub-folders; delete this file "
                    "to let it"}
    try:
        (folder / OUTPUT_MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    except OSError:
        pass  # the folder is still usable; only the re-run protection is lost
    return True


def unsupported_reason(path: str | Path) -> str:
    """Why an image file is skipped: its format is not one we read."""
    supported = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS - RAW_EXTENSIONS))
    return f"unsupported format {Path(path).suffix.lower()} (images: {supported}; or a camera RAW file)"


def _is_unsupported_image(name: str) -> bool:
    return Path(name).suffix.lower() in UNSUPPORTED_IMAGE_EXTENSIONS


def _searchable(here: Path, dirs: Sequence[str], excludes: Sequence[Path], output_dirs: list[Path]) -> list[str]:
    """The sub-folders of ``here`` to descend into, sorted: not hidden, not excluded, not written by mirnet
    (those are appended to ``output_dirs``)."""
    kept = []
    for d in sorted(dirs):
        if _skipped_name(d) or any(_is_within(_resolve(here / d), ex) for ex in excludes):
            continue
        if is_output_dir(here / d):
            output_dirs.append(here / d)
            continue
        kept.append(d)
    return kept


def _walk_images(root: Path, recursive: bool, excludes: Sequence[Path], scan: Scan) -> list[Path]:
    """Image files under ``root`` (direct children unless ``recursive``), hidden/temp/excluded/mirnet's skipped."""
    found: list[Path] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        dirs[:] = _searchable(here, dirs, excludes, scan.output_dirs) if recursive else []
        for name in files:
            if _skipped_name(name):
                continue
            if is_image_path(name):
                why = special_file_reason(here / name)
                if why is None:
                    found.append(here / name)
                else:
                    scan.special.append((here / name, why))
            elif _is_unsupported_image(name):
                scan.unsupported.append(here / name)
    return found


def scan_inputs(
    paths: Sequence[str | Path], recursive: bool = False, exclude_dirs: Sequence[str | Path] = ()
) -> Scan:
    """:func:`find_inputs`, also telling which unsupported images and mirnet output folders were passed over."""
    scan = Scan()
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            excludes = _active_excludes(path, [Path(e) for e in exclude_dirs])
            files = _walk_images(path, recursive, excludes, scan)
            found = sorted(((f, f.relative_to(path)) for f in files), key=lambda pair: pair[1].as_posix())
        elif path.is_file():
            if not is_image_path(path):
                raise MirnetError(f"{path}: {unsupported_reason(path).replace('format', 'file type', 1)}")
            found = [(path, Path(path.name))]
        elif path.exists():
            raise MirnetError(f"{path}: not a regular file or folder")
        else:
            raise MirnetError(f"{path}: no such file or folder")
        for file, rel in found:
            key = _resolve(file)
            if key not in seen:
                seen.add(key)
                scan.items.append(InputItem(path=file, rel=rel))
    scan.unsupported.sort()
    scan.special.sort()
    return scan


def find_inputs(
    paths: Sequence[str | Path], recursive: bool = False, exclude_dirs: Sequence[str | Path] = ()
) -> list[InputItem]:
    """Expand files and folders into the list of images to process.

    Args:
        paths: files and/or folders. A file is taken as given (even if hidden) but must have an image or
            RAW extension; a folder contributes the image files directly inside it (all levels with
            ``recursive``), skipping hidden entries, temporary files and folders mirnet wrote.
        recursive: descend into sub-folders; ``rel`` keeps the sub-folder so outputs mirror the tree.
        exclude_dirs: folders whose contents are never inputs (the output folder). Ignored for a root that
            lies inside one of them.

    Returns:
        Items in a deterministic order (roots as given, each sorted by relative POSIX path), without
        duplicates (the same file reached twice is kept once). :func:`scan_inputs` also returns what was
        passed over.

    Raises:
        MirnetError: a path does not exist, or a file given directly is not a supported image type.
    """
    return scan_inputs(paths, recursive, exclude_dirs).items


def default_output_dir(first_input: str | Path, task: str) -> Path:
    """Where results go when ``-o`` is not given: a new folder next to the input, never the input folder.

    Folder ``photos/`` → ``photos_mirnet-<task>/`` beside it; file ``photos/a.jpg`` →
    ``photos/mirnet-<task>/``.
    """
    path = Path(first_input)
    absolute = _resolve(path)
    if path.is_dir():
        name = absolute.name or "root"
        return absolute.parent / f"{name}_mirnet-{task}"
    return absolute.parent / f"mirnet-{task}"


def output_path_for(item: InputItem, output_dir: str | Path, suffix: str, ext: str) -> Path:
    """``output_dir / rel.parent / (rel.stem + suffix + ext)``; ``ext`` includes the dot (``".png"``)."""
    if ext and not ext.startswith("."):
        ext = "." + ext
    return Path(output_dir) / item.rel.parent / f"{item.rel.stem}{suffix}{ext}"


def output_path_for_pair(pair: DualPixelPair, output_dir: str | Path, suffix: str, ext: str) -> Path:
    """``output_dir / (pair.name + suffix + ext)`` for a dual-pixel pair."""
    if ext and not ext.startswith("."):
        ext = "." + ext
    return Path(output_dir) / f"{pair.name}{suffix}{ext}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):  # also catches hard links and case-insensitive file systems
            return True
    except OSError:
        pass
    return _resolve(a) == _resolve(b)


def ensure_not_input(out_path: str | Path, in_path: str | Path) -> None:
    """Raise :class:`MirnetError` when writing ``out_path`` would overwrite the input ``in_path``."""
    if _same_file(Path(out_path), Path(in_path)):
        raise MirnetError(
            f"{out_path}: output would overwrite its input; choose another output folder (-o) or a suffix"
        )


def _key(path: Path) -> str:
    return os.path.normcase(str(_resolve(path)))


def _planned_paths(
    items: Sequence[InputItem], output_dir: str | Path, suffix: str, ext_option: str, bit_depth: int | None
) -> list[Path]:
    """Each item's output path; inputs that differ only by extension get it appended to the stem."""
    planned = [
        output_path_for(item, output_dir, suffix, output_extension(item.path, ext_option, bit_depth))
        for item in items
    ]
    groups: dict[str, list[int]] = defaultdict(list)
    for index, out in enumerate(planned):
        groups[_key(out)].append(index)
    for indices in groups.values():
        if len(indices) > 1:
            for index in indices:
                item, out = items[index], planned[index]
                tag = item.path.suffix.lower().lstrip(".")
                planned[index] = out.with_name(f"{item.rel.stem}_{tag}{suffix}{out.suffix}")
    return planned


def split_own_outputs(
    items: Sequence[InputItem],
    output_dir: str | Path,
    suffix: str,
    ext_option: str = "same",
    bit_depth: int | None = None,
) -> tuple[list[InputItem], list[InputItem]]:
    """``(inputs, own_outputs)``: set aside the inputs that are outputs this command makes from other inputs.

    With ``-o`` pointing at the input folder and a ``--suffix``, a re-run finds the earlier results
    (``a_dn.png`` beside ``a.png``) among its inputs. Such a file is the planned output of another input, so it is
    not processed again (nor does it abort the run as "output would overwrite its input"); repeated re-runs
    never pile up ``a_dn_dn.png``. An input whose *own* output is itself is kept, and :func:`plan_outputs`
    refuses it.
    """
    planned = _planned_paths(items, output_dir, suffix, ext_option, bit_depth)
    producer = {_key(out): index for index, out in enumerate(planned)}
    kept: list[InputItem] = []
    own: list[InputItem] = []
    for index, item in enumerate(items):
        maker = producer.get(_key(item.path))
        (own if maker is not None and maker != index else kept).append(item)
    return kept, own


def ensure_no_output_is_input(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> None:
    """Raise :class:`MirnetError` when any of ``outputs`` is any of ``inputs`` (the same path under another
    spelling, a hard link, a case-insensitive file system): reports, saved images, both views of a pair."""
    by_path: dict[str, Path] = {}
    by_inode: dict[tuple[int, int], Path] = {}
    for raw in inputs:
        path = Path(raw)
        by_path[_key(path)] = path
        with contextlib.suppress(OSError):
            st = os.stat(path)
            by_inode[(st.st_dev, st.st_ino)] = path
    for raw in outputs:
        out = Path(raw)
        clash = by_path.get(_key(out))
        if clash is None:
            with contextlib.suppress(OSError):
                st = os.stat(out)
                clash = by_inode.get((st.st_dev, st.st_ino))
        if clash is not None:
            ensure_not_input(out, clash)


def plan_outputs(
    items: Sequence[InputItem],
    output_dir: str | Path,
    suffix: str,
    ext_option: str = "same",
    bit_depth: int | None = None,
) -> list[tuple[InputItem, Path]]:
    """Output path for every input, with every safety check done before any work starts.

    The extension comes from :func:`mirnet_cli.io.formats.output_extension`. When inputs differ only by
    extension (``IMG_1.CR2`` + ``IMG_1.JPG`` → both ``IMG_1_x.tif``...), their outputs get the source
    extension appended to the stem: ``IMG_1_cr2_x.tif``, ``IMG_1_jpg_x.tif``.

    Raises:
        MirnetError: an output would overwrite an input (any input, not only its own), or two inputs
            would still write the same file (e.g. ``a/x.png`` and ``b/x.png`` given as separate folders).
    """
    planned = _planned_paths(items, output_dir, suffix, ext_option, bit_depth)
    owners: dict[str, InputItem] = {}
    inputs = {_resolve(item.path): item for item in items}
    for item, out in zip(items, planned, strict=True):
        key = os.path.normcase(str(_resolve(out)))
        if key in owners:
            raise MirnetError(
                f"{out}: both {owners[key].path} and {item.path} would be written here; "
                "process them separately or use --recursive on a common parent folder"
            )
        owners[key] = item
        clash = inputs.get(_resolve(out))
        if clash is not None:
            ensure_not_input(out, clash.path)
        ensure_not_input(out, item.path)
    return list(zip(items, planned, strict=True))


# --------------------------------------------------------------------------------------------- dual pixel

_DPDD_LEFT, _DPDD_RIGHT = "inputL", "inputR"
_DPDD_OTHER = {"inputC", "target"}  # the DPDD combined view and ground truth: not inputs


def _view_side(stem: str) -> tuple[str, str] | None:
    """``("L"|"R", prefix)`` for names like ``scene_L`` / ``scene_r``; ``None`` otherwise."""
    if len(stem) > 2 and stem[-2] == "_" and stem[-1] in "LRlr":
        return stem[-1].upper(), stem[:-2]
    return None


def _images_in(folder: Path, keep=is_image_path, special: list[tuple[Path, str]] | None = None) -> list[Path]:
    """Files directly in ``folder`` (sorted, hidden and temporary ones left out) whose name ``keep`` accepts.

    Named pipes, sockets and devices (links resolved) are left out too, and added to ``special`` with the reason.
    """
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    kept = []
    for p in entries:
        if _skipped_name(p.name) or not keep(p.name) or p.is_dir():
            continue
        why = special_file_reason(p)
        if why is not None:
            if special is not None:
                special.append((p, why))
            continue
        if p.is_file():
            kept.append(p)
    return kept


def _pair_dpdd(root: Path, rel_prefix: str, special: list[tuple[Path, str]] | None = None
               ) -> tuple[list[DualPixelPair], list[tuple[Path, str]]]:
    """Pairs from ``root/inputL/<name>`` + ``root/inputR/<name>`` (same file name)."""
    left_dir, right_dir = root / _DPDD_LEFT, root / _DPDD_RIGHT
    lefts = {p.name: p for p in _images_in(left_dir, special=special)}
    rights = {p.name: p for p in _images_in(right_dir, special=special)}
    pairs, problems = [], []
    for name in sorted(lefts.keys() | rights.keys()):
        left, right = lefts.get(name), rights.get(name)
        if left is not None and right is not None:
            pairs.append(DualPixelPair(name=rel_prefix + Path(name).stem, left=left, right=right))
        elif left is not None:
            problems.append((left, f"left view without its right view (expected {right_dir / name})"))
        else:
            assert right is not None
            problems.append((right, f"right view without its left view (expected {left_dir / name})"))
    return pairs, problems


def _pair_suffixed(folder: Path, rel_prefix: str, special: list[tuple[Path, str]] | None = None
                   ) -> tuple[list[DualPixelPair], list[tuple[Path, str]]]:
    """Pairs from ``<prefix>_L.<ext>`` + ``<prefix>_R.<ext>`` in one folder (extensions may differ)."""
    views: dict[str, dict[str, list[Path]]] = defaultdict(lambda: {"L": [], "R": []})
    pairs, problems = [], []
    for path in _images_in(folder, special=special):
        side = _view_side(path.stem)
        if side is None:
            problems.append(
                (path, "not a dual-pixel view (name must end in _L or _R, or sit in inputL/ and inputR/)")
            )
            continue
        views[side[1]][side[0]].append(path)
    for prefix in sorted(views):
        lefts, rights = views[prefix]["L"], views[prefix]["R"]
        if len(lefts) > 1 or len(rights) > 1:
            for path in lefts + rights:
                problems.append((path, f"ambiguous dual-pixel view: several files for scene '{prefix}'"))
        elif lefts and rights:
            pairs.append(DualPixelPair(name=rel_prefix + prefix, left=lefts[0], right=rights[0]))
        elif lefts:
            expected = folder / f"{prefix}_R{lefts[0].suffix}"
            problems.append((lefts[0], f"left view without its right view (expected {expected})"))
        else:
            expected = folder / f"{prefix}_L{rights[0].suffix}"
            problems.append((rights[0], f"right view without its left view (expected {expected})"))
    return pairs, problems


@dataclass
class DualPixelScan:
    """What :func:`scan_dual_pixel_pairs` found: pairs, problems (failures), and what was passed over."""

    pairs: list[DualPixelPair] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)
    unsupported: list[Path] = field(default_factory=list)
    output_dirs: list[Path] = field(default_factory=list)
    special: list[tuple[Path, str]] = field(default_factory=list)  # pipes, sockets, devices: never opened


def find_dual_pixel_pairs(
    folder: str | Path, recursive: bool = False, exclude_dirs: Sequence[str | Path] = ()
) -> tuple[list[DualPixelPair], list[tuple[Path, str]]]:
    """Find left/right dual-pixel view pairs.

    Two layouts, both accepted in any folder visited:

    * DPDD: ``folder/inputL/<name>`` and ``folder/inputR/<name>`` matched by file name (``inputC/`` and
      ``target/`` are ignored);
    * suffixed names: ``<scene>_L.<ext>`` and ``<scene>_R.<ext>`` in the same folder (``_l``/``_r`` too).

    Folders mirnet wrote (:data:`OUTPUT_MARKER`) are not descended into.

    Returns:
        ``(pairs, problems)``: pairs sorted by name; ``problems`` lists ``(path, reason)`` for views
        without a partner (``"left view without its right view (expected ...)"``), ambiguous views, and other
        images that are not views, so that nothing is skipped silently. :func:`scan_dual_pixel_pairs` also
        returns the unsupported images and mirnet folders passed over.

    Raises:
        MirnetError: ``folder`` does not exist or is not a folder.
    """
    scan = scan_dual_pixel_pairs(folder, recursive, exclude_dirs)
    return scan.pairs, scan.problems


def scan_dual_pixel_pairs(
    folder: str | Path, recursive: bool = False, exclude_dirs: Sequence[str | Path] = ()
) -> DualPixelScan:
    """:func:`find_dual_pixel_pairs` with what was passed over (unsupported images, mirnet output folders)."""
    root = Path(folder)
    if not root.exists():
        raise MirnetError(f"{root}: no such folder")
    if not root.is_dir():
        raise MirnetError(
            f"{root}: dual-pixel input must be a folder (with inputL/ + inputR/, or *_L/*_R files)"
        )
    excludes = _active_excludes(root, [Path(e) for e in exclude_dirs])
    scan = DualPixelScan()
    pairs: list[DualPixelPair] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        rel = here.relative_to(root)
        prefix = "" if rel == Path(".") else rel.as_posix() + "/"
        if any(_is_within(_resolve(here), ex) for ex in excludes):
            dirs[:] = []
            continue
        is_dpdd = _DPDD_LEFT in dirs or _DPDD_RIGHT in dirs
        if is_dpdd:
            found, issues = _pair_dpdd(here, prefix, scan.special)
            pairs += found
            scan.problems += issues
            for side in (_DPDD_LEFT, _DPDD_RIGHT):
                scan.unsupported += _images_in(here / side, keep=_is_unsupported_image)
        found, issues = _pair_suffixed(here, prefix, scan.special)
        pairs += found
        scan.problems += issues
        scan.unsupported += [here / f for f in sorted(files) if not _skipped_name(f) and _is_unsupported_image(f)]
        skip = {_DPDD_LEFT, _DPDD_RIGHT} | (_DPDD_OTHER if is_dpdd else set())
        dirs[:] = _searchable(here, [d for d in dirs if d not in skip], [], scan.output_dirs) if recursive else []
    names: dict[str, DualPixelPair] = {}
    for pair in sorted(pairs, key=lambda p: p.name):
        if pair.name in names:
            scan.problems.append((pair.left, f"scene '{pair.name}' found twice (also {names[pair.name].left})"))
            continue
        names[pair.name] = pair
        scan.pairs.append(pair)
    return scan

