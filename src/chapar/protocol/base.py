"""Building blocks shared by every method's parameter types."""

from __future__ import annotations

from typing import Annotated

import msgspec

Str64 = Annotated[str, msgspec.Meta(max_length=64)]
Str256 = Annotated[str, msgspec.Meta(max_length=256)]
Name = Annotated[str, msgspec.Meta(max_length=64)]
Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
# An id or pts where 0 means "none": bounded like Id, since the store holds signed 64-bit ints.
NonNegId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Params(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass
