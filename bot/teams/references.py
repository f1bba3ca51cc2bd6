"""Conversation references and display names, kept in the store's key/value table.

Teams only lets a bot post by itself into a conversation it has heard from (the reference carries the
service URL, tenant and bot account), so every incoming activity refreshes its conversation's reference;
the notifier reads the release channel's from here. Names make Entra object ids readable on cards.
"""

from __future__ import annotations

import asyncio
from typing import Any

from microsoft_agents.activity import Activity, ChannelAccount, ConversationAccount, ConversationReference

from bot.store import Store
from bot.teams.ids import CHANNEL_ID, REFERENCE_KEY, USER_NAME_KEY

ACCOUNT_KEY = "teams:account:{user}"
"""A user's Teams channel account id (29:…), the one a 1:1 chat is opened with, by the id roles use."""


def base_conversation(conversation_id: str) -> str:
    """A channel thread's conversation id is `<channel>;messageid=<root>`; the channel itself is the part
    before the `;`. Posting to the bare channel id starts a new thread there."""
    return conversation_id.split(";", 1)[0]


def thread_conversation(channel: str, root_message_id: str) -> str:
    return f"{base_conversation(channel)};messageid={root_message_id}"


def user_id_of(account: ChannelAccount | None) -> str:
    """The id roles are mapped to: the Entra object id when Teams sends it, else the channel account id."""
    if account is None:
        return ""
    return account.aad_object_id or account.id or ""


class References:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._names: dict[str, str] = {}
        self._accounts: dict[str, str] = {}

    # -- writing (every incoming activity) --------------------------------------------------------------
    async def remember(self, activity: Activity) -> None:
        await asyncio.to_thread(self._remember, activity)

    def _remember(self, activity: Activity) -> None:
        if activity.conversation is None or not activity.service_url:
            return
        reference = channel_reference(activity.get_conversation_reference())
        key = REFERENCE_KEY.format(conversation=reference.conversation.id)
        data = dump(reference)
        if self.store.get(key) != data:
            self.store.put(key, data)
        user = user_id_of(activity.from_property)
        name = activity.from_property.name if activity.from_property else None
        if user and name and self.name(user) != name:
            self._names[user] = name
            self.store.put(USER_NAME_KEY.format(user=user), name)
        account = activity.from_property.id if activity.from_property else None
        if user and account and self._accounts.get(user) != account:
            self._accounts[user] = account
            if self.store.get(ACCOUNT_KEY.format(user=user)) != account:
                self.store.put(ACCOUNT_KEY.format(user=user), account)

    # -- reading ----------------------------------------------------------------------------------------
    def reference(self, conversation_id: str) -> ConversationReference | None:
        data = self.store.get(REFERENCE_KEY.format(conversation=base_conversation(conversation_id)))
        return ConversationReference.model_validate(data) if data else None

    def account(self, user_id: str) -> str | None:
        """The channel account id to open a private chat with; None for a user never heard from."""
        if user_id.startswith("29:"):
            return user_id
        return self._accounts.get(user_id) or self.store.get(ACCOUNT_KEY.format(user=user_id))

    def name(self, user_id: str) -> str:
        """A display name seen for this user, else the id itself. Only names are cached, never a miss: a
        concurrent turn may be storing the name right now."""
        if not user_id:
            return user_id
        known = self._names.get(user_id)
        if known is None:
            known = self.store.get(USER_NAME_KEY.format(user=user_id))
            if known:
                self._names[user_id] = known
        return known or user_id


def channel_reference(reference: ConversationReference) -> ConversationReference:
    """The reference to post into the conversation itself: no activity to reply to, no thread suffix, and
    for group conversations no particular user."""
    ref = reference.model_copy(deep=True)
    ref.activity_id = None
    ref.conversation.id = base_conversation(ref.conversation.id)
    if ref.conversation.conversation_type in ("channel", "groupChat") or ref.conversation.is_group:
        ref.user = None
    return ref


def configured_reference(channel: str, service_url: str, *, app_id: str | None,
                         tenant_id: str | None) -> ConversationReference:
    """A reference built from configuration alone (TEAMS_SERVICE_URL), for a channel the bot has not
    heard from yet."""
    return ConversationReference(
        channel_id=CHANNEL_ID, service_url=service_url,
        conversation=ConversationAccount(id=base_conversation(channel), conversation_type="channel", is_group=True,
                                         tenant_id=tenant_id),
        agent=ChannelAccount(id=f"28:{app_id}" if app_id else "golive"))


def dump(reference: ConversationReference) -> dict[str, Any]:
    return reference.model_dump(mode="json", by_alias=True, exclude_none=True)
