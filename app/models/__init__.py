"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from app.models.jobs import Job, JobStatus, TeacherCall, TeacherCallStatus
from app.models.records import Record, RecordStatus, ReviewStatus
from app.models.seeds import SeedSet, SeedTask

__all__ = [
    "Job",
    "JobStatus",
    "Record",
    "RecordStatus",
    "ReviewStatus",
    "SeedSet",
    "SeedTask",
    "TeacherCall",
    "TeacherCallStatus",
]
