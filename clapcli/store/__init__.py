"""The embedded embedding store used by ``clap retrieve`` and ``clap embed --db`` (SQLite, stdlib)."""

from clapcli.store.collection import Collection, ItemRow, StoredMatrix
from clapcli.store.sqlite import EmbeddingStore, content_hash, default_db_path, open_store

__all__ = ["Collection", "EmbeddingStore", "ItemRow", "StoredMatrix", "content_hash", "default_db_path", "open_store"]
