"""Reading an uploaded (or opened) file whole, within a size limit checked before and while it is read."""

from __future__ import annotations


class TooLarge(Exception):
    """The file is over the limit: `size` is its declared size (None: found while reading, past the limit)."""

    def __init__(self, size: int | None):
        super().__init__(size)
        self.size = size


def read_within(upload, limit: int) -> bytes:
    """The bytes of `upload` (a Django upload or a binary file), from its start: refused (`TooLarge`) by its declared
    size before anything is read, else while it is read — never more than `limit` + 1 bytes in memory."""
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise TooLarge(declared)
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(None)
    return data
