"""The audit chain's witness: its head (row count, last row and hash, HMAC'd) posted where the database
owner cannot reach, so deleting the newest rows (which leaves a valid, shorter chain) is detected.

golive posts the head in the release channel on every promotion, rollback, break-glass and waiver,
and once a day, and appends each head (with where it was posted: channel and message id) to the witness
file (`GOLIVE_AUDIT_WITNESS_FILE`, default `<state dir>/audit-witness.jsonl`). `golive audit verify`
then requires every witnessed head to still be in the chain. The same idea as the signed tree heads of
certificate-transparency logs: a log that once showed a head cannot later pretend it never had it.

The head's HMAC uses the audit key, so a witness line cannot be made up to match a truncated chain;
removing lines from the file is what the channel copy (and backups of the file) are for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.announcements.events import ChannelNotice, Notifier
from bot.store import Store
from bot.store.audit import ChainBreak, ChainReport, head_mac
from bot.store.auditkey import AuditKeys

log = logging.getLogger("golive.witness")
WITNESS_NAME = "audit-witness.jsonl"


@dataclass
class Head:
    count: int
    seq: int
    hash: str
    mac: str
    key_id: str
    at: str
    why: str = ""
    posted: list[dict[str, str]] = field(default_factory=list)
    line: int = 0

    def text(self) -> str:
        return (f"🔏 golive audit head ({self.why}): rows={self.count} seq={self.seq} hash={self.hash} "
                f"mac={self.mac} (audit key id {self.key_id})")


def witness_path(settings: Any = None) -> Path:
    if settings is None:
        from bot.settings import get_settings

        settings = get_settings()
    return Path(settings.audit_witness_file or Path(settings.state_dir) / WITNESS_NAME)


def current_head(store: Store, why: str) -> Head:
    keys = store.audit_keys
    count, seq, last = store.audit_head()
    return Head(count, seq, last, head_mac(keys.current, count, seq, last), keys.current_id,
                datetime.now(UTC).isoformat(timespec="seconds"), why)


def _append(path: Path, head: Head) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {k: v for k, v in head.__dict__.items() if k != "line"}
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")


async def witness(store: Store, notifier: Notifier | None, why: str, path: Path | None = None, *,
                  thread: str | None = None) -> Head:
    """Post the current head in the release channel (every transport configured; in the thread of the
    message posted under `thread`, e.g. the promotion's announcement, when there is one) and keep it on disk."""
    head = await asyncio.to_thread(current_head, store, why)
    if notifier is not None:
        notice = ChannelNotice(kind="witness", text=head.text(), subject="audit:witness", purpose=f"head:{head.seq}",
                               thread_subject=thread)
        try:
            await notifier.publish(notice)
        except Exception as exc:  # the local copy is still written; the next witness posts again
            log.warning("posting the audit head failed: %s", exc)
        head.posted = [{"transport": r.transport, "channel": r.channel, "ts": r.ts} for r in notice.delivered]
    await asyncio.to_thread(_append, path or witness_path(), head)
    return head


def read_heads(path: Path, keys: AuditKeys) -> tuple[list[Head], str | None]:
    """The witnessed heads in the file, and the first problem with it (a line whose HMAC fails)."""
    if not path.is_file():
        return [], None
    heads: list[Head] = []
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
                head = Head(**{k: data[k] for k in ("count", "seq", "hash", "mac", "key_id", "at")},
                            why=data.get("why", ""), posted=data.get("posted", []), line=number)
            except (ValueError, KeyError, TypeError):
                return heads, f"{path} line {number} is not a witnessed head"
            key = keys.keys.get(head.key_id)
            if key is None:
                return heads, f"{path} line {number} is signed with key {head.key_id}, which is not configured"
            if not hmac.compare_digest(head_mac(key, head.count, head.seq, head.hash), head.mac):
                return heads, f"{path} line {number}: its HMAC does not match (the witness file was edited)"
            heads.append(head)
    return heads, None


HEAD_LINE = re.compile(r"golive audit head \((?P<why>[^)]*)\): rows=(?P<count>\d+) seq=(?P<seq>\d+) "
                       r"hash=(?P<hash>[0-9a-f]*) mac=(?P<mac>[0-9a-f]{64}) \(audit key id (?P<key_id>[0-9a-f]+)\)")
CHANNEL_PAGES = 20
"""Pages of channel history read back (200 messages each): the newest heads are the ones that matter."""


def parse_head(text: str, keys: AuditKeys, where: dict[str, str]) -> Head | None:
    """A head posted in the channel, if `text` is one whose HMAC the configured keys confirm."""
    match = HEAD_LINE.search(text or "")
    if match is None:
        return None
    head = Head(int(match["count"]), int(match["seq"]), match["hash"], match["mac"], match["key_id"],
                where.get("at", ""), match["why"], [where])
    key = keys.keys.get(head.key_id)
    if key is None or not hmac.compare_digest(head_mac(key, head.count, head.seq, head.hash), head.mac):
        return None  # not golive's (or not under a key we hold): it vouches for nothing
    return head


async def read_slack_heads(token: str, api_url: str, channel: str, keys: AuditKeys) -> tuple[list[Head], str | None]:
    """The heads golive posted in the Slack release channel (conversations.history, newest pages first).
    Needs the channels:history (or groups:history) scope; without it, a note and no heads."""
    from bot.slack.client import build_web_client

    client = build_web_client(token, api_url)
    heads: list[Head] = []
    cursor = None
    try:
        for _ in range(CHANNEL_PAGES):
            page = await client.conversations_history(channel=channel, limit=200, cursor=cursor)
            for message in page.get("messages") or []:
                ts = str(message.get("ts", ""))
                at = datetime.fromtimestamp(float(ts or 0), UTC).isoformat(timespec="seconds")
                head = parse_head(str(message.get("text", "")), keys,
                                  {"transport": "slack", "channel": channel, "ts": ts, "at": at})
                if head is not None:
                    heads.append(head)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except Exception as exc:  # a missing scope or an outage: the witness file still counts
        error = getattr(getattr(exc, "response", None), "get", lambda *_: None)("error") or type(exc).__name__
        return heads, f"could not read the Slack channel back ({error})"
    return sorted(heads, key=lambda h: h.seq), None


def check_heads(report: ChainReport, heads: list[Head]) -> ChainBreak | None:
    """The first witnessed head the chain no longer holds: rows deleted from the end, or rewritten."""
    for head in heads:
        if head.seq == 0:
            continue
        where = ", posted " + ", ".join(f"in {p['transport']} {p['channel']} ({p['ts']})" for p in head.posted) \
            if head.posted else ""
        if head.seq > report.last_seq:
            return ChainBreak(head.seq, f"was witnessed on {head.at}{where} with {head.count} rows, but the log now "
                                        f"ends at row {report.last_seq} ({report.count} rows): the newest rows were "
                                        "deleted")
        if report.heads.get(head.seq) != head.hash:
            return ChainBreak(head.seq, f"differs from the head witnessed on {head.at}{where}: the log was rewritten "
                                        "from there")
    return None


def due(path: Path, every: timedelta, now: datetime | None = None) -> bool:
    """True when the last witnessed head in the file is older than `every` (or there is none)."""
    now = now or datetime.now(UTC)
    last = None
    if path.is_file():
        with path.open(encoding="utf-8") as handle:
            for raw in handle:
                if raw.strip():
                    last = raw
    if last is None:
        return True
    try:
        at = datetime.fromisoformat(json.loads(last)["at"])
    except (ValueError, KeyError):
        return True
    return now - at >= every


def _moved(store: Store, path: Path) -> bool:
    """The chain has rows, and a head other than the last one witnessed: an unchanged head is witnessed already."""
    count, seq, last = store.audit_head()
    if count == 0:
        return False
    if not path.is_file():
        return True
    lines = [raw for raw in path.read_text(encoding="utf-8").splitlines() if raw.strip()]
    try:
        latest = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return True
    return (latest.get("seq"), latest.get("hash")) != (seq, last)


async def keep_watch(store: Store, notifier: Notifier, *, every: timedelta, sweep: float,
                     stop: asyncio.Event, path: Path | None = None) -> None:
    """What the serving bot runs: post pending break-glass announcements at once and on every sweep,
    and witness the chain head once per `every`."""
    from bot.authority.breakglass import announce_pending

    while not stop.is_set():
        try:
            await announce_pending(store, notifier)
            target = path or witness_path()
            if await asyncio.to_thread(due, target, every) and await asyncio.to_thread(_moved, store, target):
                await witness(store, notifier, "daily", target)
        except Exception as exc:  # a store or chat outage: try again on the next sweep
            log.warning("break-glass announcements / daily witness: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=sweep)
