"""Read errors in the user's words (issue 20): no library internals in a message."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import PngImagePlugin

from mirnet_cli.errors import ImageReadError
from mirnet_cli.io.images import read_image


def test_a_png_text_chunk_bomb_is_explained_without_pillow_internals(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("bomb", "A" * (2 * PngImagePlugin.MAX_TEXT_CHUNK), zip=True)
    path = tmp_path / "bomb.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, pnginfo=info)
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert "text (metadata) chunk" in message and "decompression bomb" in message
    assert "MAX_TEXT" not in message and "PngImagePlugin" not in message
