"""What `watch` samples and judges: one sample of the pipeline's per-stage counts, and a
verdict. Apart from watch.py so that its two samplers (watch_local, watch_aws), which
watch.py chooses between, can build samples without importing watch back."""
from __future__ import annotations

from dataclasses import dataclass, field

HISTORY = 60  # samples kept: a minute at one a second


@dataclass
class Sample:
    at: float
    counts: dict[str, int | None]
    facts: dict = field(default_factory=dict)  # lag, errors, processes, last errors


@dataclass
class Verdict:
    level: str   # "ok", "warn", "fail"
    stage: str | None
    text: str

    def as_json(self) -> dict:
        return {"level": self.level, "stage": self.stage, "text": self.text}
