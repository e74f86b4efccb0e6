"""The records page's query string: filters, sort and cursor, read leniently (a bad value is dropped with a
note, never a crash) and written back into links."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlencode

from app.records.service import RecordFilter, Sort

SORTS: dict[str, tuple[Sort, Literal["asc", "desc"], str]] = {
    "newest": ("id", "desc", "Newest first"),
    "oldest": ("id", "asc", "Oldest first"),
    "most_similar": ("similarity", "desc", "Most similar to a neighbour first"),
    "least_similar": ("similarity", "asc", "Least similar to a neighbour first"),
}
STATUSES = {"kept": "Kept", "rejected": "Rejected by the generator", "any": "Kept or rejected"}
REVIEW_STATUSES = {"": "Any", "pending": "Pending", "approved": "Approved", "rejected": "Rejected"}
INPUTS = {"": "With or without", "yes": "With input", "no": "Without input"}
FILTER_PARAMS = (
    "job_id", "status", "review_status", "reason", "has_input", "language", "min_similarity",
    "max_similarity", "q",
)  # fmt: skip


def _number(raw: str, notes: list[str], name: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        notes.append(f"{name} '{raw}' is not a number; ignored")
        return None
    if not 0.0 <= value <= 1.0:
        notes.append(f"{name} must be between 0 and 1; ignored")
        return None
    return value


@dataclass(frozen=True)
class RecordQuery:
    """What the records page shows; ``params`` keeps the raw strings for the form and for links."""

    filter: RecordFilter
    sort_key: str = "newest"
    cursor: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def sort(self) -> Sort:
        return SORTS[self.sort_key][0]

    @property
    def order(self) -> Literal["asc", "desc"]:
        return SORTS[self.sort_key][1]

    @property
    def error(self) -> str | None:
        return "; ".join(self.notes) or None

    @classmethod
    def from_params(cls, source: Mapping[str, Any]) -> RecordQuery:
        raw = {k: str(source.get(k) or "").strip() for k in (*FILTER_PARAMS, "sort", "cursor")}
        notes: list[str] = []
        values: dict[str, Any] = {}
        if raw["job_id"]:
            if raw["job_id"].isdigit():
                values["job_id"] = int(raw["job_id"])
            else:
                notes.append(f"job '{raw['job_id']}' is not a job id; ignored")
        status = raw["status"] or "kept"
        if status not in STATUSES:
            notes.append(f"status '{status}' is unknown; showing kept records")
            status = "kept"
        values["status"] = None if status == "any" else status
        raw["status"] = status
        if raw["review_status"] in ("pending", "approved", "rejected"):
            values["review_status"] = raw["review_status"]
        if raw["reason"]:
            values["reason"] = raw["reason"]
        if raw["has_input"] in ("yes", "no"):
            values["has_input"] = raw["has_input"] == "yes"
        if raw["language"]:
            values["language"] = raw["language"]
        for name in ("min_similarity", "max_similarity"):
            if raw[name]:
                values[name] = _number(raw[name], notes, name.replace("_", " "))
        if raw["q"]:
            values["q"] = raw["q"][:500]
        sort_key = raw["sort"] if raw["sort"] in SORTS else "newest"
        raw["sort"] = sort_key
        params = {k: v for k, v in raw.items() if v and k != "cursor"}
        return cls(RecordFilter(**values), sort_key, raw["cursor"] or None, params, tuple(notes))

    def url(self, *, cursor: str | None = None, path: str = "/records", **extra: str) -> str:
        params = {**self.params, **extra}
        if params.get("status") == "kept":
            params.pop("status")
        if params.get("sort") == "newest":
            params.pop("sort")
        if cursor:
            params["cursor"] = cursor
        return f"{path}?{urlencode(params)}" if params else path

    def without_cursor(self) -> RecordQuery:
        return replace(self, cursor=None)

    def filter_params(self) -> list[tuple[str, str]]:
        """Hidden form fields that carry the filters (not sort or cursor) into a POST."""
        return [(k, v) for k, v in self.params.items() if k in FILTER_PARAMS]

    def describe(self, job_names: Mapping[int, str]) -> list[str]:
        """The filters in words, for the bulk confirmation."""
        f = self.filter
        words = [STATUSES["any" if f.status is None else f.status] + " records"]
        if f.job_id is not None:
            words.append(f"of {job_names.get(f.job_id, f'job {f.job_id}')}")
        if f.review_status:
            words.append(f"review status {f.review_status}")
        if f.reason:
            words.append(f"rejection reason {f.reason}")
        if f.has_input is not None:
            words.append("with input" if f.has_input else "without input")
        if f.language:
            words.append(f"language {f.language}")
        if f.min_similarity is not None:
            words.append(f"ROUGE-L ≥ {f.min_similarity}")
        if f.max_similarity is not None:
            words.append(f"ROUGE-L ≤ {f.max_similarity}")
        if f.q:
            words.append(f"containing “{f.q}”")
        return words
