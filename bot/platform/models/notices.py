"""A notice pushed to terminals (2.15), also the body of `POST /platform/notices`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from bot.platform.models.base import Id, _Model


class Accessory(_Model):
    name: str
    url: str


class NoticeSender(_Model):
    id: Id
    name: str


class NoticeTargets(_Model):
    org_ids: list[Id] = Field(default_factory=list, alias="orgIds")
    user_ids: list[Id] = Field(default_factory=list, alias="userIds")


class Notice(_Model):
    """A notice pushed to terminals (2.15), also the body of `POST /platform/notices`."""

    sender: NoticeSender = Field(alias="from")
    to: NoticeTargets
    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, max_length=4000)
    accessory: list[Accessory] = Field(default_factory=list)

    @model_validator(mode="after")
    def _has_targets(self) -> Notice:
        if not self.to.org_ids and not self.to.user_ids:
            raise ValueError("to: name at least one of orgIds or userIds")
        return self

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "from": {"id": self.sender.id, "name": self.sender.name},
            "to": {},
            "title": self.title,
            "content": self.content,
        }
        if self.to.org_ids:
            body["to"]["orgIds"] = list(self.to.org_ids)
        if self.to.user_ids:
            body["to"]["userIds"] = list(self.to.user_ids)
        if self.accessory:
            body["accessory"] = [{"name": a.name, "url": a.url} for a in self.accessory]
        return body
