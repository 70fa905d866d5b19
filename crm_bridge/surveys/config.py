"""The survey configuration file (``config/surveys.yml``, or ``SURVEY_CONFIG``): stages and their
offsets, questions and their scales, wording in both languages. Validated when it is loaded."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Scale = Literal["satisfaction", "recommend", "text"]
# The range of each scale's scores (the free comment has none).
SCALE_RANGE: dict[str, tuple[int, int]] = {"satisfaction": (1, 5), "recommend": (0, 10)}


class Wording(BaseModel):
    """One text in both languages."""

    model_config = ConfigDict(extra="forbid")

    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, language: str | None) -> str:
        return self.en if language == "en" else self.zh


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scale: Scale
    text: Wording


class Stage(BaseModel):
    """One survey of a kind, sent ``after_hours`` after the delivery or test drive."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]{1,8}$")
    after_hours: float = Field(gt=0, le=24 * 366)
    questions: list[str] = Field(min_length=1)

    @property
    def after(self) -> timedelta:
        return timedelta(hours=self.after_hours)


class Kind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    intro: Wording
    stages: list[Stage] = Field(min_length=1)


class LowScore(BaseModel):
    """Answers at or below these open a complaint ticket."""

    model_config = ConfigDict(extra="forbid")

    satisfaction: int = Field(default=2, ge=1, le=5)
    recommend: int = Field(default=6, ge=0, le=10)


class SurveyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reminder_after_hours: float = Field(default=48, gt=0)
    link_valid_days: int = Field(default=14, ge=1)
    low_score: LowScore = LowScore()
    questions: dict[str, Question]
    kinds: dict[str, Kind]

    @model_validator(mode="after")
    def _consistent(self) -> SurveyConfig:
        for kind, spec in self.kinds.items():
            ids = [stage.id for stage in spec.stages]
            if len(set(ids)) != len(ids):
                raise ValueError(f"{kind}: stage ids repeat: {ids}")
            for stage in spec.stages:
                unknown = [q for q in stage.questions if q not in self.questions]
                if unknown:
                    raise ValueError(f"{kind}.{stage.id}: unknown questions {unknown}")
                if len(set(stage.questions)) != len(stage.questions):
                    raise ValueError(f"{kind}.{stage.id}: a question is asked twice")
        if set(self.kinds) != {"post_delivery", "post_test_drive"}:
            raise ValueError("kinds must be exactly post_delivery and post_test_drive")
        return self

    @property
    def reminder_after(self) -> timedelta:
        return timedelta(hours=self.reminder_after_hours)

    def stage(self, kind: str, stage_id: str | None) -> Stage:
        """The stage of a survey row; a survey without one (older rows) gets the kind's first."""
        stages = self.kinds[kind].stages
        return next((s for s in stages if s.id == stage_id), stages[0])

    def questions_of(self, kind: str, stage_id: str | None) -> list[tuple[str, Question]]:
        return [(q, self.questions[q]) for q in self.stage(kind, stage_id).questions]

    def is_low(self, question_id: str, value: object) -> bool:
        """Whether an answer is low enough to be a complaint."""
        scale = self.questions[question_id].scale if question_id in self.questions else None
        if not isinstance(value, int) or isinstance(value, bool) or scale == "text":
            return False
        limit = self.low_score.recommend if scale == "recommend" else self.low_score.satisfaction
        return value <= limit


def load(path: Path) -> SurveyConfig:
    """The configuration in ``path``; ValueError (pydantic's ValidationError) or OSError if bad."""
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top")
    return SurveyConfig.model_validate(data)


@cache
def cached(path: Path) -> SurveyConfig:
    """``load``, once per path for the life of the process."""
    return load(path)
