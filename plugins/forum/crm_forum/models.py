"""Tables of the forum module (every name starts with ``forum_``).

A topic's counters (``reply_count``, ``last_post_at``) are written with plain UPDATE
statements, never through the ORM, so a reply does not bump the topic's ``version`` and an
author editing the topic while others reply does not get a spurious 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_host.db import Base, TimestampMixin, VersionedMixin, utcnow

MODES = ("instant", "digest", "off")


class ForumCategory(VersionedMixin, Base):
    """A board. Who may read and post is given by :class:`ForumCategoryRule` rows: a category
    without ``read`` rules is open to everyone holding ``forum.view``; without ``post`` rules
    everyone who may read it and holds ``forum.post`` may post."""

    __tablename__ = "forum_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer, default=100)
    color: Mapped[str] = mapped_column(String(16), default="primary")

    rules: Mapped[list[ForumCategoryRule]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="category"
    )


class ForumCategoryRule(Base):
    """One grant on a category: ``right`` (``read`` or ``post``) to a role or a department."""

    __tablename__ = "forum_category_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("forum_category.id", ondelete="CASCADE"), index=True
    )
    right: Mapped[str] = mapped_column(String(8))
    role_id: Mapped[int | None] = mapped_column(ForeignKey("host_role.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="CASCADE")
    )

    category: Mapped[ForumCategory] = relationship(back_populates="rules")


class ForumTopic(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "forum_topic"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("forum_category.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    last_post_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_post_by: Mapped[int | None] = mapped_column(ForeignKey("host_user.id"))
    edited_at: Mapped[datetime | None] = mapped_column()
    #: A case discussion: the (entity name, record id) the topic is about, e.g.
    #: ("customers.customer", 42). Generic, so the forum depends on no other module.
    link_entity: Mapped[str | None] = mapped_column(String(64))
    link_id: Mapped[int | None] = mapped_column(Integer)
    #: Tokens for full-text search (see search.py); indexed by FTS5 / a GIN tsvector.
    search_text: Mapped[str] = mapped_column(Text, default="")

    category: Mapped[ForumCategory] = relationship(lazy="joined")

    __table_args__ = (
        Index("ix_forum_topic_list", "category_id", "hidden", "last_post_at"),
        Index("ix_forum_topic_last_post", "pinned", "last_post_at"),
        Index("ix_forum_topic_link", "link_entity", "link_id"),
    )


class ForumReply(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "forum_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("forum_topic.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text, default="")
    quote_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_reply.id", ondelete="SET NULL")
    )
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    edited_at: Mapped[datetime | None] = mapped_column()

    quote_of: Mapped[ForumReply | None] = relationship(remote_side=[id], lazy="joined")

    __table_args__ = (Index("ix_forum_reply_topic", "topic_id", "id"),)


class ForumRevision(Base):
    """The text of a topic or reply before an edit (its edit history)."""

    __tablename__ = "forum_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), index=True
    )
    reply_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_reply.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForumAttachment(Base):
    """A file attached to a topic or a reply; the bytes live in the storage, not here."""

    __tablename__ = "forum_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), index=True
    )
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("forum_reply.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64))
    uploader_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForumFollow(Base):
    __tablename__ = "forum_follow"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForumReadMark(Base):
    """When a person last opened a topic (a topic with a later post is unread)."""

    __tablename__ = "forum_read"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class ForumProfile(Base):
    """A person's interest profile: how matching topics reach them."""

    __tablename__ = "forum_profile"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    #: ``instant`` (a notification per topic), ``digest`` (one a day) or ``off``.
    mode: Mapped[str] = mapped_column(String(8), default="instant")
    #: "Mark all as read": topics with no post after this count as read.
    read_all_at: Mapped[datetime | None] = mapped_column()


class ForumInterestCategory(Base):
    __tablename__ = "forum_interest_category"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("forum_category.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ForumInterestKeyword(Base):
    """A keyword someone follows; ``tokens`` is how many search tokens it has."""

    __tablename__ = "forum_interest_keyword"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"))
    keyword: Mapped[str] = mapped_column(String(60))
    tokens: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("user_id", "keyword"),)


class ForumInterestToken(Base):
    """One search token of a keyword: a new topic's tokens are joined against these rows, so
    matching every profile is one indexed query, not a loop over people."""

    __tablename__ = "forum_interest_token"

    keyword_id: Mapped[int] = mapped_column(
        ForeignKey("forum_interest_keyword.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("host_user.id", ondelete="CASCADE"), index=True)

    __table_args__ = (Index("ix_forum_interest_token_token", "token", "keyword_id"),)


class ForumDigestItem(Base):
    """A topic waiting for (or already sent in) someone's daily digest. The primary key
    makes a topic enter a person's digest at most once."""

    __tablename__ = "forum_digest_item"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("host_user.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_forum_digest_item_pending", "sent_at", "user_id"),)


class ForumReport(Base):
    """Someone flagged a topic or reply for the moderators."""

    __tablename__ = "forum_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("forum_topic.id", ondelete="CASCADE"), index=True
    )
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("forum_reply.id", ondelete="CASCADE"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()


# Short names for this package's code (the classes carry the Forum prefix because every
# plugin shares one declarative registry, where names must be unique).
CategoryRule = ForumCategoryRule
Category = ForumCategory
Topic = ForumTopic
Reply = ForumReply
Revision = ForumRevision
Attachment = ForumAttachment
Follow = ForumFollow
ReadMark = ForumReadMark
Profile = ForumProfile
InterestCategory = ForumInterestCategory
InterestKeyword = ForumInterestKeyword
InterestToken = ForumInterestToken
DigestItem = ForumDigestItem
Report = ForumReport
