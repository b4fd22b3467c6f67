from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_host.db import Base, TimestampMixin, VersionedMixin


class Item(VersionedMixin, TimestampMixin, Base):
    __tablename__ = "alpha_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    owner_id: Mapped[int] = mapped_column(ForeignKey("host_user.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("host_department.id"))
