"""The embedded embedding store used by ``clap retrieve`` and ``clap embed --db`` (SQLite, stdlib)."""

from clapcli.store.sqlite import (
    Collection,
    EmbeddingStore,
    ItemRow,
    content_hash,
    default_db_path,
    open_store,
)

__all__ = ["Collection", "EmbeddingStore", "ItemRow", "content_hash", "default_db_path", "open_store"]
