"""Photos: check that an upload is the image it claims to be, strip its metadata (EXIF
location above all), and make thumbnails. Pure CPU work on bytes (Pillow); callers run it
in a worker thread."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps, UnidentifiedImageError

from chapar.errors import BadRequest

# The formats we accept as photos, by the MIME type the client declares.
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "image/gif": "GIF"}
THUMB_SIDES: dict[Literal["s", "m", "x"], int] = {"s": 90, "m": 320, "x": 800}
MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding

Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class Thumb:
    type: Literal["s", "m", "x"]
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Photo:
    data: bytes
    mime_type: str
    width: int
    height: int
    thumbs: list[Thumb]


def process_photo(data: bytes, mime_type: str) -> Photo:
    """Decode and verify, re-encode without metadata, and make JPEG thumbnails."""
    fmt = FORMATS.get(mime_type)
    if fmt is None:
        raise BadRequest(
            "MEDIA_INVALID", f"photos are {', '.join(FORMATS)}; send this as a document"
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # structure check; the image must be reopened after verify
        img = Image.open(io.BytesIO(data))
        if img.format != fmt:
            raise BadRequest("IMAGE_INVALID", f"the file is {img.format}, not {fmt}")
        img.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
        raise BadRequest("IMAGE_INVALID", "the file is not a readable image") from e
    # Apply the EXIF orientation to the pixels, then drop every metadata block.
    clean = ImageOps.exif_transpose(img)
    # Pillow writes metadata only when given it at save time; clear info so nothing
    # (EXIF, XMP, ICC text chunks) can ride along, keeping only transparency.
    transparency = clean.info.get("transparency")
    clean.info = {} if transparency is None else {"transparency": transparency}
    out = io.BytesIO()
    save_kwargs: dict[str, object] = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    clean.save(out, format=fmt, **save_kwargs)
    thumbs = []
    rgb = clean.convert("RGB")
    for kind, side in THUMB_SIDES.items():
        if max(clean.size) <= side and kind != "s":
            continue
        t = rgb.copy()
        t.thumbnail((side, side))
        buf = io.BytesIO()
        t.save(buf, format="JPEG", quality=80)
        thumbs.append(Thumb(kind, buf.getvalue(), t.width, t.height))
    return Photo(out.getvalue(), mime_type, clean.width, clean.height, thumbs)
