"""crm_host.textsearch: any module's table searchable in Chinese and English."""

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, create_engine, select
from sqlalchemy.orm import Session

from crm_host import textsearch


class _Op:
    """The two things textsearch asks of Alembic's ``op``."""

    def __init__(self, conn):
        self.conn = conn

    def get_bind(self):
        return self.conn

    def execute(self, stmt):
        self.conn.exec_driver_sql(stmt)


def test_install_match_and_drop_on_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 't.db'}")
    notes = Table("visits_note", MetaData(), Column("id", Integer, primary_key=True),
                  Column("search_text", Text))  # fmt: skip
    with engine.begin() as conn:
        notes.create(conn)
        textsearch.install(_Op(conn), "visits_note")
        for i, text in enumerate(
            ["北京海宇勇創科技有限公司 call back", "Pacific Trading", "無關"], 1
        ):
            conn.execute(notes.insert().values(id=i, search_text=textsearch.index_text(text)))
    with Session(engine) as s:

        def ids(q):
            cond = textsearch.match(s, "visits_note", notes.c.id, q)
            return sorted(s.scalars(select(notes.c.id).where(cond))) if cond is not None else None

        assert ids("海宇") == [1] and ids("北京海宇") == [1] and ids("pac") == [2]
        assert ids("海") == [1] and ids("   ") is None
    with engine.begin() as conn:
        textsearch.drop(_Op(conn), "visits_note")
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
    assert not [n for n in names if "_fts" in n]


def test_table_names_are_checked():
    with pytest.raises(ValueError):
        textsearch.install(_Op(None), "x; DROP TABLE users")
