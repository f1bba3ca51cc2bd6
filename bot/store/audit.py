"""The audit log's keyed chain: each row carries the previous row's hash and an HMAC over that hash and
its own content, under a key held outside the database (bot.store.auditkey).

Why keyed: a plain hash chain proves nothing to someone who can rewrite the table, because they can
recompute every hash after their edit. An HMAC cannot be recomputed without the key, so whoever owns
the database (and can drop its triggers) still cannot edit, reorder or append a row that verifies.
Deleting the newest rows leaves a valid, shorter chain; that is what the witness (bot.authority.witness) is for.

Rows written before the key (the unkeyed sha256 chain of 0002) carry `key_id = ''`; they may only
form the start of the log: once a keyed row exists, every later row must be keyed.

Changing `row_mac` or `row_hash` changes the format of every stored chain; treat both as frozen.
`verify_chain` is what `golive audit verify` runs; it reads rows as a stream (bounded memory).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GENESIS = ""
FIELDS = ("at", "actor", "action", "subject", "detail")
UNKEYED = ""
ROTATION = "audit.key_rotated"


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The unkeyed format (before 0005): sha256 over the previous hash and the row's stored text."""
    payload = json.dumps([prev_hash, *(str(row[f]) for f in FIELDS)], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def row_mac(key: bytes, key_id: str, prev_hash: str, row: Mapping[str, Any]) -> str:
    """HMAC-SHA256 under `key` over the previous row's hash, the key id and this row's stored text."""
    payload = json.dumps(["golive-audit-v2", key_id, prev_hash, *(str(row[f]) for f in FIELDS)],
                         separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, count: int, seq: int, last_hash: str) -> str:
    """The witness of a chain head (row count, last seq, last hash): posted in the channel, kept on disk."""
    return hmac.new(key, f"golive-audit-head:{count}:{seq}:{last_hash}".encode(), hashlib.sha256).hexdigest()


@dataclass
class ChainBreak:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit row {self.seq}: {self.reason}"


@dataclass
class ChainReport:
    """What a walk found: rows checked, the unkeyed prefix (count and last time), the head, the first break."""

    count: int = 0
    unkeyed: int = 0
    unkeyed_until: str = ""
    last_seq: int = 0
    last_hash: str = GENESIS
    key_ids: list[str] = field(default_factory=list)
    broken: ChainBreak | None = None
    heads: dict[int, str] = field(default_factory=dict)  # seq -> hash, for the seqs the caller asked about


def verify_chain(rows: Iterable[Mapping[str, Any]], keys: Mapping[str, bytes] | None = None, *,
                 watch: Iterable[int] = ()) -> ChainReport:
    """Walk rows in seq order (an iterator is consumed once, never held): the first break or none.

    `keys` (key id -> key) verifies the keyed rows; a keyed row whose key is not given is a break,
    since nothing can vouch for it. `watch` names seqs whose hashes the report keeps (witnessed heads)."""
    keys = keys or {}
    wanted = set(watch)
    report = ChainReport()
    prev_hash, prev_seq, prev_key = GENESIS, None, None
    for row in rows:
        report.count += 1
        seq = int(row["seq"])
        key_id = str(row.get("key_id") or UNKEYED)

        def broken(reason: str, seq: int = seq) -> ChainReport:
            report.broken = ChainBreak(seq, reason)
            return report

        if row["prev_hash"] != prev_hash:
            if prev_seq is None:
                return broken("does not follow the start of the log: earlier rows were deleted")
            return broken(f"does not follow row {prev_seq}: a row between them was deleted, or row {prev_seq} "
                          "was rewritten")
        if key_id == UNKEYED:
            if prev_key not in (None, UNKEYED):
                return broken("is unkeyed after keyed rows: it was appended or rewritten by someone without the "
                              "audit key")
            if row_hash(prev_hash, row) != row["hash"]:
                return broken("its content does not match its hash: the row was edited")
            report.unkeyed += 1
            report.unkeyed_until = str(row["at"])
        else:
            key = keys.get(key_id)
            if key is None:
                return broken(f"is keyed with key {key_id}, which is not configured: add that (retired) key to "
                              "GOLIVE_AUDIT_KEY_FILE to verify it; without it the row may be forged")
            if prev_key not in (None, UNKEYED, key_id) and row["action"] != ROTATION:
                return broken(f"changes the key from {prev_key} to {key_id} without a key rotation row: forged")
            if not hmac.compare_digest(row_mac(key, key_id, prev_hash, row), str(row["hash"])):
                return broken("its HMAC does not match: the row was edited, reordered or forged without the key")
            if key_id not in report.key_ids:
                report.key_ids.append(key_id)
        if seq in wanted:
            report.heads[seq] = str(row["hash"])
        prev_hash, prev_seq, prev_key = str(row["hash"]), seq, key_id
        report.last_seq, report.last_hash = seq, prev_hash
    return report
