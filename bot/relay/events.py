"""The bodies the platform POSTs to the bridge (section 三, 3.1–3.5), validated.

Strict where the bridge depends on a field (an incident's `id` and `code`, the
ids of org/user events), lenient elsewhere: ids as strings or numbers, levels
and types as text or numbers, missing optional fields.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from bot.platform.models import Id, Notice

M = TypeVar("M", bound=BaseModel)

__all__ = [
    "EVENT_ROUTES",
    "BodyError",
    "IdsEvent",
    "IncidentReport",
    "parse_body",
]


def _text(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        raise ValueError("expected text, got a boolean")
    if isinstance(v, int | float):
        return str(v)
    return v


Text = Annotated[str, BeforeValidator(_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class ReportTarget(_Model):
    id: Text = ""
    name: Text = ""


class ReportSender(_Model):
    id: Id | None = None
    account: Text = ""
    name: Text = ""


class IncidentReport(_Model):
    """3.1: an incident report filed by field staff and forwarded by an org admin."""

    id: Id
    code: Annotated[str, BeforeValidator(_text)] = Field(min_length=1, max_length=200)
    type: Text = ""
    level: Text = ""
    to: ReportTarget = Field(default_factory=ReportTarget)
    sender: ReportSender = Field(default_factory=ReportSender, alias="from")
    topic: Text = ""
    content: Text = Field(default="", max_length=20000)
    address: Text = ""
    urls: list[Text] = Field(default_factory=list, max_length=50)

    @field_validator("urls", mode="before")
    @classmethod
    def _urls(cls, v: Any) -> Any:
        if v is None:
            return []
        if isinstance(v, str):
            return [u.strip() for u in v.split(",") if u.strip()]
        return v

    @property
    def dedupe_key(self) -> str:
        return f"report:{self.id}:{self.code}"

    @property
    def org_id(self) -> int | None:
        """The org the report was forwarded to, when its id is numeric."""
        s = self.to.id.strip()
        digits = s.removeprefix("-")
        # ASCII digits within SQLite's INTEGER range: "²".isdigit() is true but int("²")
        # raises, and so does a 5,000-digit id (both answered 500).
        if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):
            return None
        n = int(s)
        return n if -(2**63) <= n < 2**63 else None


# Ids the bridge stores and looks up: SQLite's INTEGER range.
StoredId = Annotated[Id, Field(ge=-(2**63), le=2**63 - 1)]


class IdsEvent(_Model):
    """3.2–3.5: `{id: [ids]}` of orgs or users created, updated or deleted."""

    id: list[StoredId] = Field(min_length=1, max_length=10000)

    @field_validator("id", mode="before")
    @classmethod
    def _ids(cls, v: Any) -> Any:
        if isinstance(v, str | int) and not isinstance(v, bool):
            return [v]
        return v


# route suffix -> (event kind, model)
EVENT_ROUTES: dict[str, tuple[str, type[BaseModel]]] = {
    "report": ("report", IncidentReport),
    "org-updated": ("org-updated", IdsEvent),
    "org-deleted": ("org-deleted", IdsEvent),
    "user-updated": ("user-updated", IdsEvent),
    "user-deleted": ("user-deleted", IdsEvent),
}


class BodyError(Exception):
    """The body is not valid: `field` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_body(model: type[M], data: Any) -> M:
    """Validate a decoded JSON body; a failure names the first bad field."""
    if not isinstance(data, dict):
        raise BodyError("body", "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "body"
        raise BodyError(field, str(err["msg"])) from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise BodyError("body", str(exc)) from None


__all__ += ["Notice"]
