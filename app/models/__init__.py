"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from app.models.evaluation import (
    AnsweredBy,
    Evaluation,
    EvaluationAnswer,
    EvaluationStatus,
    Judgment,
    JudgmentKind,
    JudgmentStatus,
    JudgmentTarget,
    ModelEndpoint,
    Question,
    QuestionSet,
    Role,
)
from app.models.exports import Export, ExportLine
from app.models.jobs import Job, JobStatus, TeacherCall, TeacherCallStatus
from app.models.records import Record, RecordStatus, ReviewStatus
from app.models.review import EditKind, RecordEdit
from app.models.seeds import SeedSet, SeedTask
from app.models.training import TrainingProgress, TrainingRun, TrainingRunStatus

__all__ = [
    "AnsweredBy",
    "EditKind",
    "Evaluation",
    "EvaluationAnswer",
    "EvaluationStatus",
    "Export",
    "ExportLine",
    "Job",
    "JobStatus",
    "Judgment",
    "JudgmentKind",
    "JudgmentStatus",
    "JudgmentTarget",
    "ModelEndpoint",
    "Question",
    "QuestionSet",
    "Record",
    "RecordEdit",
    "RecordStatus",
    "ReviewStatus",
    "Role",
    "SeedSet",
    "SeedTask",
    "TeacherCall",
    "TeacherCallStatus",
    "TrainingProgress",
    "TrainingRun",
    "TrainingRunStatus",
]
