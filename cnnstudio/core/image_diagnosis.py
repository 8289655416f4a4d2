"""Why a file is not a readable image, in words: the reasons ``images.load_image`` gives
when Pillow cannot identify or decode a file (cut short, text, corrupt, another format)."""

from __future__ import annotations

from pathlib import Path


def unidentified_reason(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        head = b""
    kind = _format_from_signature(head)
    if kind is not None:
        return (
            f"the file starts like a {kind} image but its header is truncated or corrupt; "
            "re-export or re-download it"
        )
    if _looks_like_text(head):
        return "this is a text file, not an image; pick a PNG, JPEG, WebP, BMP, GIF or TIFF file"
    return (
        "not an image format this app can read (or the header is corrupt); "
        "pick a PNG, JPEG, WebP, BMP, GIF or TIFF file"
    )


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _format_from_signature(head: bytes) -> str | None:
    """Name the format a file claims by its magic bytes (to tell "cut short" from "not an
    image" when Pillow cannot identify it)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 4:
            return False
    return True


def decode_failure_reason(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, EOFError) or "truncated" in lowered or "premature end" in lowered:
        return (
            "the file is truncated (it ends before the image data does); "
            "re-export or re-download it"
        )
    if isinstance(exc, ValueError) and "mode" in lowered:
        return f"unsupported colour mode ({text}); convert it to RGB with an image editor"
    detail = f" ({text})" if text else ""
    return f"the image data is corrupt{detail}; re-export or re-download it"
