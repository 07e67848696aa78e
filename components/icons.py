"""Icons and splash screens for the native wrappers, made with Pillow from one square source image.

Everything is rendered in memory and returned as PNG/ICO bytes, so the generators stay pure: the same
source always gives the same bytes (no timestamps in the files), and their hashes decide rebuilds.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import UserError
from core.files import ICON_CAP, FileRefused, read_capped

if TYPE_CHECKING:  # Pillow is the mobile extra's: loaded only when images are made
    from PIL import Image

# Below this the downscaled icons get visibly soft; the stores ask for 1024x1024.
MIN_SOURCE = 512
MAX_PIXELS = 8192 * 8192


class IconError(UserError, ValueError):
    """The source image cannot make icons; the message says what to give instead."""


def load_source(path: Path | None, background: str = "#4f46e5", field: str = "icon") -> Image.Image:
    """The square RGBA source: the given image, or a plain placeholder when the spec has none.

    The file is read safely (a regular file of at most ICON_CAP bytes) and decoded only when its
    header says it has at most MAX_PIXELS pixels: a small file can claim a huge image."""
    from PIL import Image, ImageDraw

    if path is None:
        image = Image.new("RGBA", (1024, 1024), background)
        draw = ImageDraw.Draw(image)
        draw.ellipse((256, 256, 768, 768), fill="#ffffff")
        return image
    try:
        content = read_capped(path, field, ICON_CAP)
    except FileRefused as exc:
        raise IconError(str(exc)) from None
    try:
        with Image.open(io.BytesIO(content)) as opened:
            size = opened.size
            decoded = opened.convert("RGBA") if size[0] * size[1] <= MAX_PIXELS else None
    except (OSError, ValueError, Image.DecompressionBombError):
        raise IconError(f"{field}: {path.name} is not an image Pillow can read; give a PNG") from None
    if decoded is None:
        raise IconError(
            f"{field}: {path.name} is {size[0]}x{size[1]}; give a square PNG of at most 8192x8192"
        )
    image = decoded
    if image.width != image.height:
        raise IconError(f"{field}: {path.name} is {image.width}x{image.height}; give a square image")
    if image.width < MIN_SOURCE:
        raise IconError(f"{field}: {path.name} is {image.width}px wide; give at least 1024x1024")
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def square(source: Image.Image, size: int, *, opaque: bool = False, background: str = "#ffffff") -> bytes:
    """`source` scaled to size x size; `opaque` flattens onto `background` (App Store forbids alpha)."""
    from PIL import Image

    image = source.resize((size, size), Image.Resampling.LANCZOS)
    if opaque:
        flat = Image.new("RGB", image.size, background)
        flat.paste(image, mask=image.getchannel("A"))
        return png(flat)
    return png(image)


def round_icon(source: Image.Image, size: int) -> bytes:
    """The icon cut to a circle (Android's ic_launcher_round)."""
    from PIL import Image, ImageDraw

    image = source.resize((size, size), Image.Resampling.LANCZOS)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    image.putalpha(Image.composite(image.getchannel("A"), mask, mask))
    return png(image)


def adaptive_foreground(source: Image.Image, size: int) -> bytes:
    """Android adaptive-icon foreground: the icon inside the central 66% safe zone, transparent around."""
    from PIL import Image

    inner = round(size * 0.66)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    offset = (size - inner) // 2
    canvas.paste(source.resize((inner, inner), Image.Resampling.LANCZOS), (offset, offset))
    return png(canvas)


def splash(source: Image.Image, width: int, height: int, background: str) -> bytes:
    """A solid background with the icon centred at a third of the shorter side."""
    from PIL import Image

    canvas = Image.new("RGB", (width, height), background)
    side = max(1, min(width, height) // 3)
    icon = source.resize((side, side), Image.Resampling.LANCZOS)
    canvas.paste(icon, ((width - side) // 2, (height - side) // 2), mask=icon.getchannel("A"))
    return png(canvas)


def ico(source: Image.Image, sizes: tuple[int, ...] = (16, 24, 32, 48, 64, 128, 256)) -> bytes:
    """A Windows .ico holding every size."""
    from PIL import Image

    out = io.BytesIO()
    source.resize((256, 256), Image.Resampling.LANCZOS).save(out, format="ICO", sizes=[(s, s) for s in sizes])
    return out.getvalue()
