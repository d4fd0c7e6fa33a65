# The C scan of paydiag.parse.activity (built from _speedups.c where a compiler is at hand).
from paydiag.parse.activity import ActivityLine

class ActivityScanner:
    def __init__(
        self,
        words: list[tuple[bytes, int, int]],
        gateways: tuple[str, ...],
        stages: tuple[str, ...],
        environments: tuple[str, ...],
        flags: bytes,
        shape_rank: int,
    ) -> None: ...
    def scan(self, chunk: bytes) -> list[ActivityLine]: ...
