"""Stored files follow the database transaction (crm_host.storage)."""

import io

import pytest
from sqlalchemy import text

from crm_host import storage


@pytest.fixture
def store(tmp_path):
    return storage.DirectoryStorage(tmp_path / "files")


def _exists(store, key):
    try:
        store.open(key).close()
        return True
    except FileNotFoundError:
        return False


def test_a_saved_file_goes_away_when_the_transaction_rolls_back(crm_db, store):
    key = storage.save_in_transaction(crm_db, store, io.BytesIO(b"draft"))
    assert _exists(store, key)
    crm_db.rollback()
    assert not _exists(store, key)
    # The session goes on: the next save is kept once committed.
    kept = storage.save_in_transaction(crm_db, store, io.BytesIO(b"final"))
    crm_db.execute(text("SELECT 1"))
    crm_db.commit()
    crm_db.rollback()  # a later rollback does not touch what an earlier commit kept
    assert store.open(kept).read() == b"final"


def test_a_deleted_file_stays_until_the_commit(crm_db, store):
    key = store.save(io.BytesIO(b"contract"))
    storage.delete_after_commit(crm_db, store, key)
    crm_db.rollback()  # the row naming it is still there: so is the file
    assert _exists(store, key)
    storage.delete_after_commit(crm_db, store, key)
    assert _exists(store, key)
    crm_db.commit()
    assert not _exists(store, key)


def test_a_deletion_rolled_back_is_forgotten(crm_db, store):
    key = store.save(io.BytesIO(b"contract"))
    storage.delete_after_commit(crm_db, store, key)
    crm_db.rollback()
    crm_db.commit()  # a later, unrelated commit must not carry the abandoned deletion out
    assert _exists(store, key)
