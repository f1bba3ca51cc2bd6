"""The audit log's hash chain: each row carries the hash of the row before it and of its own content.

Changing this function changes the format of every stored chain; it would need a migration that
rehashes, so treat it as frozen. `verify_chain` is what `golive audit verify` runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = ""
FIELDS = ("at", "actor", "action", "subject", "detail")


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """sha256 over the previous row's hash and this row's stored text (detail as stored, not re-encoded)."""
    payload = json.dumps([prev_hash, *(str(row[f]) for f in FIELDS)], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit row {self.seq}: {self.reason}"


def verify_chain(rows: Iterable[Mapping[str, Any]]) -> tuple[int, ChainBreak | None]:
    """Walk rows in seq order; (rows checked, the first break or None)."""
    prev_hash, prev_seq, count = GENESIS, None, 0
    for row in rows:
        count += 1
        seq = int(row["seq"])
        if row["prev_hash"] != prev_hash:
            where = f"row {prev_seq}" if prev_seq is not None else "the start of the log"
            return count, ChainBreak(seq, f"does not follow {where}: a row between them was deleted, or "
                                          f"row {prev_seq} was rewritten" if prev_seq is not None else
                                     f"does not follow {where}: earlier rows were deleted")
        if row_hash(prev_hash, row) != row["hash"]:
            return count, ChainBreak(seq, "its content does not match its hash: the row was edited")
        prev_hash, prev_seq = row["hash"], seq
    return count, None
