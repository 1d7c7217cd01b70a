"""Update-sequence rules (sans-I/O), the same as Telegram's pts rules with pts_count = 1.

A client keeps the pts of the last update it applied. An incoming update with pts:
  * <= local pts          already applied (a duplicate push, or one replayed by a
                          difference): drop it;
  * == local pts + 1      apply it and advance;
  * >  local pts + 1      something is missing: stop applying pushes, fetch the difference
                          from the local pts, then go on.
"""

from __future__ import annotations

import enum


class Verdict(enum.Enum):
    APPLY = "apply"
    DUPLICATE = "duplicate"
    GAP = "gap"


class PtsCursor:
    def __init__(self, pts: int = 0) -> None:
        self.pts = pts

    def check(self, pts: int) -> Verdict:
        if pts <= self.pts:
            return Verdict.DUPLICATE
        if pts == self.pts + 1:
            return Verdict.APPLY
        return Verdict.GAP

    def advance(self, pts: int) -> None:
        if pts != self.pts + 1:
            raise ValueError(f"cannot advance from {self.pts} to {pts}")
        self.pts = pts
