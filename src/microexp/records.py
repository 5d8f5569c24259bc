"""Plain records shared by every stage. Frames are 0-based and inclusive in memory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("me", "mae")
REST_S = 0.5  # a face counts as at rest this long after the previous spotted expression (the macro look-back)


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


def at_rest(reference: int, previous_offset: int, previous_open: bool, fps: float, seen_from: int = 0,
            rest_s: float = REST_S) -> bool | None:
    """Whether the face at ``reference`` follows at least ``rest_s`` without a spotted expression: the previous
    expression ended at ``previous_offset`` (-1: none) and did not run on past it (``previous_open``). The face
    has been in view since ``seen_from`` (the video's start, or where it came back into view); when that is after
    the previous expression, rest is seen only if ``rest_s`` of face precede ``reference``, and with less nothing
    is known (None): what came before was not seen."""
    n = max(1, round(rest_s * fps))
    if seen_from > previous_offset:
        return True if reference - seen_from >= n else None
    return not previous_open and reference - previous_offset >= n


@dataclass
class Expression:
    """What ``analyze`` returns per spotted expression.

    The recogniser reads *change*: ``reference`` is the frame whose face it compared with the apex (the onset for
    a micro-expression, the macro path's reference face for a macro-expression), and ``rested`` says whether the
    face had shown no spotted expression for ``REST_S`` before that frame. ``rested=False`` marks a reading that
    compares two expressive faces (never-neutral footage, an expression right after another), which can name the
    wrong emotion; None when it cannot be known (a reference within ``REST_S`` of the video's start or of the face
    coming into view) or nothing was read.
    """

    interval: Interval
    emotion: str
    probabilities: dict[str, float] = field(default_factory=dict)
    reference: int | None = None
    rested: bool | None = None

    @property
    def confidence(self) -> float:
        return float(self.probabilities.get(self.emotion, 0.0))
