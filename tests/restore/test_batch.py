"""The batch runner with fake engines: progress within images, failures contained, skips, chains, sheets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from mirnet_cli.restore.batch import BatchRunner, Job, Step, Summary, work_units
from mirnet_cli.restore.progress import Progress
from mirnet_cli.restore.tasks import TaskSpec, mean_luminance, task_for


class FakeEngine:
    """Scales the image; reports progress in ``units`` steps as the lead's engine does (``progress(done, total)``)."""

    def __init__(self, gain=0.5, units=4, fail_on=None, error=None):
        self.gain, self.units, self.fail_on, self.error = gain, units, fail_on, error
        self.calls = []
        self.dtype = "float32"

    def restore(self, image, progress=None):
        self.calls.append(image.shape)
        if self.fail_on is not None and image.shape[1] == self.fail_on:
            raise self.error
        if progress is not None:
            progress(0, self.units)
            for done in range(1, self.units + 1):
                progress(done, self.units)
        return np.clip(image * self.gain, 0, 1)


class Recorder(Progress):
    def __init__(self):
        super().__init__(io.StringIO())
        self.fractions = []

    def update(self, fraction):
        self.fractions.append(round(fraction, 6))
        super().update(fraction)


def _photo(path: Path, width=24, height=16, value=None, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    arr = (rng.random((height, width, 3)) * 255 if value is None else np.full((height, width, 3), value)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(arr).save(path)
    return path


def _job(src: Path, out_dir: Path, **kw) -> Job:
    return Job((src,), out_dir / src.name, str(src), **kw)


def test_progress_within_the_image_comes_from_the_engine(tmp_path):
    progress = Recorder()
    summary = Summary()
    BatchRunner([Step(task_for("denoise"), FakeEngine(units=4))], progress=progress, summary=summary).run(
        [_job(_photo(tmp_path / "a.png"), tmp_path / "out")])
    assert summary.count("done") == 1
    assert progress.fractions[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert "ok " in progress.stream.getvalue() and "24x16" in progress.stream.getvalue()


def test_memory_error_and_unexpected_errors_fail_one_file_and_the_batch_goes_on(tmp_path):
    files = [_photo(tmp_path / f"{name}.png", width=w) for name, w in (("a", 20), ("b", 24), ("c", 28))]
    for error in (MemoryError(), KeyError("boom")):
        out = tmp_path / f"out_{type(error).__name__}"
        progress = Progress(io.StringIO())
        summary = BatchRunner([Step(task_for("denoise"), FakeEngine(fail_on=24, error=error))],
                              progress=progress, summary=Summary()).run([_job(f, out) for f in files])
        assert [r.status for r in summary.results] == ["done", "failed", "done"]
        assert (out / "c.png").is_file()  # the next good file was processed
        reason = summary.results[1].reason
        assert "b.png" in reason and "\n" not in reason
        assert ("out of memory" in reason) if isinstance(error, MemoryError) else ("KeyError" in reason)
        assert progress.stream.getvalue().count("error: ") == 1


def test_keyboard_interrupt_is_not_swallowed(tmp_path):
    runner = BatchRunner([Step(task_for("denoise"), FakeEngine(fail_on=24, error=KeyboardInterrupt()))],
                         progress=Progress(io.StringIO()), summary=Summary())
    with pytest.raises(KeyboardInterrupt):
        runner.run([_job(_photo(tmp_path / "b.png", width=24), tmp_path / "out")])


def test_existing_outputs_are_skipped_with_the_reason(tmp_path):
    src = _photo(tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.png").write_bytes(b"old")
    summary = BatchRunner([Step(task_for("denoise"), FakeEngine())], progress=Progress(io.StringIO()),
                          summary=Summary()).run([_job(src, tmp_path / "out")])
    assert summary.results[0].status == "skipped"
    assert "skipped 1 (output exists; --overwrite to redo)" in summary.line()
    assert (tmp_path / "out" / "a.png").read_bytes() == b"old"


def test_low_light_skips_a_well_exposed_photo_unless_forced(tmp_path):
    bright = _photo(tmp_path / "bright.png", value=150)  # mean luminance 0.59
    dark = _photo(tmp_path / "dark.png", value=15)
    spec = task_for("enhance", task="lowlight")
    assert spec.check(np.full((4, 4, 3), 150 / 255, np.float32)) is not None
    out = io.StringIO()
    summary = BatchRunner([Step(spec, FakeEngine())], progress=Progress(out), summary=Summary()).run(
        [_job(bright, tmp_path / "o1"), _job(dark, tmp_path / "o1")])
    assert [r.status for r in summary.results] == ["skipped", "done"]
    assert "well exposed" in summary.results[0].reason and "--force" in summary.results[0].reason
    assert "skipped " in out.getvalue() and "bright.png" in out.getvalue()
    assert not (tmp_path / "o1" / "bright.png").exists()
    forced = BatchRunner([Step(spec, FakeEngine())], progress=Progress(io.StringIO()), summary=Summary(),
                         force=True).run([_job(bright, tmp_path / "o2")])
    assert forced.results[0].status == "done"
    # denoising has no such check
    assert task_for("denoise").check(np.ones((4, 4, 3), np.float32)) is None
    assert mean_luminance(np.full((8, 8, 3), 0.5, np.float32)) == pytest.approx(0.5)


def test_a_chain_runs_each_step_on_the_previous_result_without_intermediate_files(tmp_path):
    src = _photo(tmp_path / "a.png", width=12, height=8)
    first, second = FakeEngine(gain=0.5, units=2), FakeEngine(gain=1.0, units=2)
    steps = [Step(task_for("denoise"), first, cost=1.0), Step(task_for("super-resolve", scale=2), second, cost=1.0)]
    progress = Recorder()
    summary = BatchRunner(steps, progress=progress, summary=Summary()).run([_job(src, tmp_path / "out")])
    assert summary.count("done") == 1
    assert first.calls == [(8, 12, 3)] and second.calls == [(16, 24, 3)]  # SR upsampled the denoised image
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png"]
    assert PILImage.open(tmp_path / "out" / "a.png").size == (24, 16)
    # progress split by work: the x2 step runs on 4x the pixels, so the first step is 1/5 of the image
    assert work_units(96, steps) == 96 + 4 * 96
    assert 0.2 in progress.fractions and progress.fractions[-1] == 1.0


def test_compare_sheet_is_written_beside_the_outputs(tmp_path):
    src = _photo(tmp_path / "a.png", width=20, height=10)
    sheet = tmp_path / "out" / "mirnet-compare" / "a.jpg"
    BatchRunner([Step(task_for("super-resolve", scale=2), FakeEngine(gain=1.0))], progress=Progress(io.StringIO()),
                summary=Summary()).run([_job(src, tmp_path / "out", compare=sheet)])
    im = PILImage.open(sheet)
    assert im.format == "JPEG" and im.size == (2 * 40 + 8, 20)  # input (resized to the output) | gap | output


def test_work_units_weights_pixels_and_costs():
    steps = [Step(TaskSpec("a", "a"), None, cost=2.0)]
    assert work_units(1000, steps) == 2000
    assert work_units(1000, steps + [Step(TaskSpec("b", "b", scale=3), None, cost=1.0)]) == 2000 + 9000


def test_compare_sheet_is_labelled_and_keeps_the_panels():
    from mirnet_cli.restore.compare import GAP, compare_sheet

    before = np.zeros((200, 300, 3), np.float32)
    after = np.ones((200, 300, 3), np.float32)
    sheet = compare_sheet(before, after)
    assert sheet.dtype == np.uint8 and sheet.shape == (200, 600 + GAP, 3)
    assert sheet[150:, :300].max() == 0 and sheet[150:, 300 + GAP:].min() == 255  # panels away from the labels
    assert sheet[:20, :60].max() == 255  # white caption on the black input


def test_a_photo_that_cannot_fit_in_memory_is_refused_before_decoding_and_the_batch_goes_on(tmp_path, monkeypatch):
    from mirnet_cli.restore import batch as batch_mod

    big, small = _photo(tmp_path / "big.png", width=300, height=200), _photo(tmp_path / "small.png", width=30)
    decoded = []
    real_read = batch_mod.BatchRunner._read

    def spy(self, job):
        decoded.append(job.inputs[0].name)
        return real_read(self, job)

    monkeypatch.setattr(batch_mod.BatchRunner, "_read", spy)
    steps = [Step(task_for("denoise"), FakeEngine())]
    available = batch_mod.memory_needed(300 * 200, steps) // 2  # the big photo needs twice what is free
    out = io.StringIO()
    summary = BatchRunner(steps, progress=Progress(out), summary=Summary(),
                          memory_check=lambda job: batch_mod.check_memory(job, steps, available=available)).run(
        [Job((big,), tmp_path / "o" / "big.png", str(big), size=(300, 200)),
         Job((small,), tmp_path / "o" / "small.png", str(small), size=(30, 16))])
    assert [r.status for r in summary.results] == ["failed", "done"]
    assert decoded == ["small.png"]  # refused from the header alone
    reason = summary.results[0].reason
    assert "big.png: needs about" in reason and "300x200" in reason and "available" in reason
    assert out.getvalue().count("error: ") == 1


def test_memory_plan_of_the_30000_square_png_of_the_issue():
    from mirnet_cli.restore.batch import check_memory, memory_needed

    steps = [Step(task_for("denoise"), None)]
    need = memory_needed(30000 * 30000, steps)
    assert need == 900e6 * (24 + 80 + 12)  # decode, engine buffers, the step's input: 116 bytes per pixel
    with pytest.raises(Exception, match=r"needs about 104.4 GB of memory \(30000x30000, 900 MP\) but 20.0 GB is available"):
        check_memory(Job((Path("huge.png"),), Path("o.png"), "huge.png", size=(30000, 30000)), steps,
                     available=20 * 10**9)
    sr = [Step(task_for("super-resolve", scale=4), None)]
    assert memory_needed(1000, sr) == 1000 * (24 + 80 * 16 + 12)  # ×4: the step runs on 16× the pixels


def test_reading_and_writing_overlap_the_restoring_and_keep_the_order(tmp_path, monkeypatch):
    """The next photo is decoded and the previous one written in helper threads while one is restored; results
    and lines stay in input order, and a file that fails to write fails alone."""
    import threading
    import time

    from mirnet_cli.io import images

    events = []
    real_read, real_write = images.read_image, images.write_image

    def read(path, *a, **kw):
        events.append(("read", Path(path).stem, threading.current_thread().name))
        return real_read(path, *a, **kw)

    def write(path, *a, **kw):
        events.append(("write", Path(path).stem, threading.current_thread().name))
        if Path(path).stem == "c":
            raise OSError("No space left on device")
        return real_write(path, *a, **kw)

    class SlowEngine(FakeEngine):
        def restore(self, image, progress=None):
            events.append(("restore", None, threading.current_thread().name))
            time.sleep(0.2)
            return super().restore(image, progress)

    monkeypatch.setattr(images, "read_image", read)
    monkeypatch.setattr(images, "write_image", write)
    srcs = [_photo(tmp_path / "in" / f"{n}.png", seed=i) for i, n in enumerate("abcd")]
    summary = Summary()
    progress = Recorder()
    runner = BatchRunner([Step(task_for("denoise"), SlowEngine(), "fake", 1.0)], progress=progress, summary=summary)
    runner.run([_job(s, tmp_path / "out") for s in srcs])
    assert [r.status for r in summary.results] == ["done", "done", "failed", "done"]
    assert [Path(r.input).stem for r in summary.results] == ["a", "b", "c", "d"]
    assert "No space left" in summary.results[2].reason
    assert all(t.startswith("mirnet-read") for kind, _, t in events if kind == "read")
    assert all(t.startswith("mirnet-write") for kind, _, t in events if kind == "write")
    # b was read before a's restore had finished writing: reading overlapped restoring
    order = [(kind, stem) for kind, stem, _ in events]
    assert order.index(("read", "b")) < order.index(("write", "a"))
    assert (tmp_path / "out" / "d.png").exists() and not (tmp_path / "out" / "c.png").exists()
