"""Tables of the knowledge module (every name starts with ``knowledge_``).

Counters that readers change (``view_count``, ``helpful_yes``, ``helpful_no``) are written
with plain UPDATE statements, never through the ORM, so a reader does not bump an article's
``version`` and an editor does not get a spurious 409.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_host.db import Base, TimestampMixin, VersionedMixin, utcnow

KINDS = ("article", "qa")
STATUSES = ("draft", "published")
VISIBILITIES = ("internal", "restricted", "public")
LOCALES = ("en", "zh_Hant", "zh_Hans")


class KnowledgeCategory(VersionedMixin, Base):
    """A node of the category tree. ``names`` holds the name per locale (``name`` is the
    name in the instance's main language); a category installed from a pack carries the
    pack's name and the category's key there, so an upgrade finds it again."""

    __tablename__ = "knowledge_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_category.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    names: Mapped[dict] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=100)
    pack_name: Mapped[str | None] = mapped_column(String(64))
    pack_key: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (UniqueConstraint("pack_name", "pack_key"),)

    def label(self, locale: str | None) -> str:
        return (self.names or {}).get(locale or "") or self.name


class KnowledgeArticle(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="article")
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_category.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    #: The language of ``title``/``body``; translations live in KnowledgeTranslation.
    locale: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    visibility: Mapped[str] = mapped_column(String(10), default="internal")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column()
    #: Tags joined by ``|`` for display; KnowledgeTag rows answer filters.
    tags: Mapped[str] = mapped_column(String(500), default="")
    #: Tokens of title, body and translations (crm_host.textsearch).
    search_text: Mapped[str] = mapped_column(Text, default="")
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    helpful_yes: Mapped[int] = mapped_column(Integer, default=0)
    helpful_no: Mapped[int] = mapped_column(Integer, default=0)
    #: Installed from a pack: its name, the article's slug, the pack version and the hash of
    #: the content the pack gave (a different hash of the current content = edited locally).
    pack_name: Mapped[str | None] = mapped_column(String(64))
    pack_key: Mapped[str | None] = mapped_column(String(80))
    pack_version: Mapped[str | None] = mapped_column(String(40))
    pack_hash: Mapped[str | None] = mapped_column(String(64))

    category: Mapped[KnowledgeCategory | None] = relationship(lazy="joined")
    translations: Mapped[list[KnowledgeTranslation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="article"
    )
    rules: Mapped[list[KnowledgeAccessRule]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="article"
    )

    __table_args__ = (
        UniqueConstraint("pack_name", "pack_key"),
        Index("ix_knowledge_article_list", "status", "visibility", "updated_at"),
        Index("ix_knowledge_article_category", "category_id", "status", "visibility"),
        Index("ix_knowledge_article_views", "view_count"),
        # The help center's "popular questions": published + public by views, newest id first.
        Index("ix_knowledge_article_popular", "status", "visibility", "view_count", "id"),
    )

    @property
    def tag_list(self) -> list[str]:
        return [t for t in (self.tags or "").split("|") if t]

    def translation(self, locale: str | None):
        for t in self.translations:
            if t.locale == locale:
                return t
        return None


class KnowledgeTranslation(Base):
    __tablename__ = "knowledge_translation"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_article.id", ondelete="CASCADE"), primary_key=True
    )
    locale: Mapped[str] = mapped_column(String(8), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")

    article: Mapped[KnowledgeArticle] = relationship(back_populates="translations")


class KnowledgeTag(Base):
    __tablename__ = "knowledge_tag"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_article.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)

    __table_args__ = (Index("ix_knowledge_tag_tag", "tag", "article_id"),)


class KnowledgeAccessRule(Base):
    """Who may read a ``restricted`` article: a role or a department per row."""

    __tablename__ = "knowledge_access_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_article.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_role.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="CASCADE"), index=True
    )

    article: Mapped[KnowledgeArticle] = relationship(back_populates="rules")


class KnowledgeRevision(Base):
    """A saved state of an article: revision ``number`` is the article as it was after
    that save. A pack's text that could not be applied (edited locally) is kept as a
    revision too, ``note`` saying so."""

    __tablename__ = "knowledge_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_article.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("article_id", "number"),)


class KnowledgeAttachment(Base):
    """A file attached to an article; the bytes live in the storage."""

    __tablename__ = "knowledge_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_article.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeVote(Base):
    """One "was this helpful" answer per article and voter (``u:<user id>`` for a
    signed-in person, ``v:<random id>`` from a signed cookie for a public visitor)."""

    __tablename__ = "knowledge_vote"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_article.id", ondelete="CASCADE"), primary_key=True
    )
    voter: Mapped[str] = mapped_column(String(64), primary_key=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeProduct(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(60), unique=True)
    category: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (Index("ix_knowledge_product_name", "name"),)


class KnowledgeCompetitor(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_competitor"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    website: Mapped[str] = mapped_column(String(300), default="")
    summary: Mapped[str] = mapped_column(String(1000), default="")
    strengths: Mapped[str] = mapped_column(Text, default="")
    weaknesses: Mapped[str] = mapped_column(Text, default="")

    products: Mapped[list[KnowledgeCompetitorProduct]] = relationship(
        cascade="all, delete-orphan",
        lazy="selectin",
        back_populates="competitor",
        order_by="KnowledgeCompetitorProduct.name",
    )


class KnowledgeCompetitorProduct(Base):
    __tablename__ = "knowledge_competitor_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    competitor_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_competitor.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(120), default="")
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Our product it competes with, if any.
    versus_product_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_product.id", ondelete="SET NULL")
    )

    competitor: Mapped[KnowledgeCompetitor] = relationship(back_populates="products")


class KnowledgeDocument(VersionedMixin, TimestampMixin, Base):
    """A standard document (contract template, price list, brochure). Without rules it is
    open to everyone holding ``knowledge.view``; with rules only to those roles and
    departments (and editors)."""

    __tablename__ = "knowledge_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(64))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("host_user.id", ondelete="SET NULL"))

    rules: Mapped[list[KnowledgeDocumentRule]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", back_populates="document"
    )


class KnowledgeDocumentRule(Base):
    __tablename__ = "knowledge_document_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_document.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[int | None] = mapped_column(ForeignKey("host_role.id", ondelete="CASCADE"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("host_department.id", ondelete="CASCADE")
    )

    document: Mapped[KnowledgeDocument] = relationship(back_populates="rules")


class KnowledgePackInstall(Base):
    """A pack installed here, and the version last applied."""

    __tablename__ = "knowledge_pack_install"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    upgraded_at: Mapped[datetime | None] = mapped_column()
    by: Mapped[str | None] = mapped_column(String(255))


# Short names for this package's code.
Category = KnowledgeCategory
Article = KnowledgeArticle
Translation = KnowledgeTranslation
Tag = KnowledgeTag
AccessRule = KnowledgeAccessRule
Revision = KnowledgeRevision
Attachment = KnowledgeAttachment
Vote = KnowledgeVote
Product = KnowledgeProduct
Competitor = KnowledgeCompetitor
CompetitorProduct = KnowledgeCompetitorProduct
Document = KnowledgeDocument
DocumentRule = KnowledgeDocumentRule
PackInstall = KnowledgePackInstall
