"""Plain records shared by every stage. Frames are 0-based and inclusive in memory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("me", "mae")


def kind_of(onset: int, offset: int, fps: float, split_s: float = 0.5) -> str:
    """MEGC typing rule used by the OF-FD code: MaE when (offset - onset) / fps > 0.5 s."""
    return "mae" if (offset - onset) / fps > split_s else "me"


@dataclass(frozen=True)
class Interval:
    """One spotted or annotated expression: inclusive 0-based frame indices."""

    onset: int
    apex: int
    offset: int
    kind: str  # "me" (micro) or "mae" (macro)
    score: float = 1.0
    open: bool = False  # the expression continues past ``offset`` (OF-FD: the reference was not neutral)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not (self.onset <= self.offset):
            raise ValueError(f"onset {self.onset} > offset {self.offset}")

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Expression:
    """What ``analyze`` returns per spotted expression."""

    interval: Interval
    emotion: str
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return float(self.probabilities.get(self.emotion, 0.0))
