"""The batch display: live status line (terminal), per-file lines, quiet, pixel-weighted ETA, escaped names."""

from __future__ import annotations

import io
import time

from mirnet_cli.restore.progress import Progress, format_duration, one_line


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_one_line_escapes_control_characters():
    assert one_line("plain é 日本.png") == "plain é 日本.png"
    assert one_line("a\nerror: forged.png") == "a\\nerror: forged.png"
    assert one_line("x\r\x1b[2Ky\t") == "x\\r\\x1b[2Ky\\t"
    assert "\n" not in one_line("a\u2028b\x00")


def test_format_duration():
    assert format_duration(7.4) == "0:07"
    assert format_duration(190) == "3:10"
    assert format_duration(3723) == "1:02:03"


def test_off_a_terminal_only_permanent_lines():
    out = io.StringIO()
    with Progress(out) as progress:
        assert not progress.live
        progress.start_batch(100, 1)
        progress.start_item(1, "a.png", 100)
        progress.update(0.5)
        progress.line("ok a.png  40x28  0.1 s  -> out/a.png")
    assert out.getvalue() == "ok a.png  40x28  0.1 s  -> out/a.png\n"


def test_quiet_keeps_only_errors():
    out = Tty()
    with Progress(out, quiet=True) as progress:
        progress.start_batch(1, 1)
        progress.start_item(1, "a.png", 1)
        progress.line("done a.png")
        progress.error("error: b.png: broken")
    assert out.getvalue() == "error: b.png: broken\n"


def test_live_line_refreshes_elapsed_time_without_any_callback():
    out = Tty()
    clock = FakeClock()
    progress = Progress(out, interval=0.01, clock=clock)
    assert progress.live
    with progress:
        progress.start_batch(100, 1)
        progress.start_item(1, "big.dng", 100)
        for seconds in (1, 2, 3):  # the engine reports nothing for a while: the timer still redraws
            clock.now += 1.0
            deadline = time.monotonic() + 5
            while f"mirnet 0:0{seconds}" not in out.getvalue() and time.monotonic() < deadline:
                time.sleep(0.01)
            assert f"mirnet 0:0{seconds} | big.dng" in out.getvalue()
        progress.line("ok big.dng  6000x4000  3.0 s  -> out/big.tif")
    text = out.getvalue()
    assert "\r\x1b[2K" in text
    # the permanent line stands on its own line, and the status line is erased at the end
    assert "\r\x1b[2Kok big.dng  6000x4000  3.0 s  -> out/big.tif\n" in text
    assert text.endswith("\r\x1b[2K")


def test_status_shows_progress_within_the_image_and_a_pixel_weighted_eta():
    clock = FakeClock()
    progress = Progress(Tty(), clock=clock)
    # two files: a 3 MP photo and a 0.4 MP one; work is counted in pixels, not in files
    progress.start_batch(3.0e6 + 0.4e6, 2)
    progress.start_item(1, "a.jpg", 3.0e6)
    clock.now += 60
    progress.update(0.5)  # half of the big photo in a minute
    status = progress.status()
    assert "1/2 a.jpg [#####.....] 50%" in status
    assert "all 44%" in status
    # 1.5 MP/min: 1.9 MP left → about 76 s (counting files would say 3 minutes)
    assert abs(progress.eta() - 76.0) < 0.5 and "~1:16 left" in status
    progress.end_item()
    progress.start_item(2, "b.jpg", 0.4e6)
    clock.now += 60  # the second file has made no progress yet
    assert progress.eta() < 60


def test_phase_before_the_batch():
    progress = Progress(Tty(), clock=FakeClock())
    progress.phase("loading mirnet_v2-nf16-denoise")
    assert progress.status() == "mirnet 0:00 | loading mirnet_v2-nf16-denoise"


def test_names_in_lines_cannot_forge_lines():
    out = io.StringIO()
    with Progress(out) as progress:
        progress.error("error: evil\nerror: forged.png: cannot decode")
    assert out.getvalue().count("\n") == 1
