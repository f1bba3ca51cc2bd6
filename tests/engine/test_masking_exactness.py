"""Masking is exact: every secret form of the corpus is gone, every harmless line comes through byte for
byte, known values are scrubbed in their encoded forms, and masking never breaks JSON or YAML."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest
import yaml

from bot.diagnostics.observability import register_secrets
from bot.settings import Settings, secret_fields
from checks.masking import MASK, MIN_KNOWN_LENGTH, Masker, is_secret_name
from tests.secrets_corpus import CORPUS, HARMLESS, leaks


def test_both_corpora_hold_at_least_eighty_entries() -> None:
    assert len(CORPUS) >= 80 and len(HARMLESS) >= 80


@pytest.mark.parametrize("form", CORPUS, ids=[f.label for f in CORPUS])
def test_no_secret_form_survives_masking_as_text_or_as_data(form) -> None:  # type: ignore[no-untyped-def]
    m = Masker()
    assert leaks(m.mask(form.text)) == [], m.mask(form.text)
    assert m.mask(m.mask(form.text)) == m.mask(form.text)  # the runner and the store may both mask it
    assert leaks(json.dumps(m.mask_data({"body": form.text, "bodies": [form.text]}))) == []


@pytest.mark.parametrize("line", HARMLESS)
def test_harmless_text_comes_through_byte_for_byte(line: str) -> None:
    m = Masker()
    assert m.mask(line) == line
    assert m.scrub(line) == line
    assert m.mask_data({"summary": line, "evidence": [line]}) == {"summary": line, "evidence": [line]}
    assert m.scrub_data({"summary": line}) == {"summary": line}


def test_harmless_text_reaches_slack_and_the_logs_byte_for_byte() -> None:
    import io
    import logging

    from bot.diagnostics.observability import remove_logging, setup_logging
    from bot.slack.views.blocks import safe

    for fmt in ("text", "json"):
        stream = io.StringIO()
        setup_logging(stream=stream, fmt=fmt, level="INFO")
        try:
            for line in HARMLESS:
                logging.getLogger("golive.test.harmless").warning("target said: %s", line)
        finally:
            remove_logging()
        shown = stream.getvalue()
        for line in HARMLESS:
            assert (line if fmt == "text" else json.dumps(line, ensure_ascii=False)[1:-1]) in shown, (fmt, line)
    for line in HARMLESS:
        assert safe(line) == line


def test_masked_json_stays_json_and_masked_yaml_stays_yaml() -> None:
    m = Masker()
    for form in CORPUS:
        if form.is_json:
            assert json.loads(m.mask(form.text)) is not None, form.label
            continue
        try:
            before = yaml.safe_load(form.text)
        except yaml.YAMLError:
            continue
        if isinstance(before, dict | list) and any(is_secret_name(str(k)) for k in _keys(before)):
            after = yaml.safe_load(m.mask(form.text))  # raises if masking broke the document
            assert type(after) is type(before), form.label


def _keys(data: object) -> list[object]:
    if isinstance(data, dict):
        return [*data, *(k for v in data.values() for k in _keys(v))]
    if isinstance(data, list):
        return [k for v in data for k in _keys(v)]
    return []


def test_an_unclosed_quote_is_masked_to_the_end_of_the_line_and_nothing_else_moves() -> None:
    assert Masker().mask('{"db_password": "abc\nnext line') == '{"db_password": "***\nnext line'


def test_known_values_are_scrubbed_raw_url_encoded_base64_and_json_escaped() -> None:
    m = Masker()
    value = 'k/n"own+S3cret\\value'
    m.add(value)
    forms = [value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode(),
             base64.urlsafe_b64encode(value.encode()).decode().rstrip("="), json.dumps(value)[1:-1]]
    for form in forms:
        for rule in (m.mask, m.scrub):
            out = rule(f"the target said {form} twice")
            assert value not in out and form not in out and MASK in out, (form, out)
    as_json = json.dumps({"said": f"x {value} y"})
    assert json.loads(m.scrub(as_json)) == {"said": f"x {MASK} y"}  # masked as data, still JSON


def test_short_known_values_never_mask_ordinary_text() -> None:
    m = Masker()
    m.add("1", "yes", "prod", "abc12")  # all shorter than MIN_KNOWN_LENGTH: not registered
    text = "1 check passed: yes, prod is ready (abc12 deployed)"
    assert m.mask(text) == text and len("abc12") < MIN_KNOWN_LENGTH
    m.add("rehearse")  # short-ish values are replaced only as whole words
    assert m.scrub("rehearsed: rehearse") == f"rehearsed: {MASK}"


def test_every_secret_setting_of_golive_is_a_known_value_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"GOLIVE_DATABASE_URL": "postgresql://app:store-pw-5561@db/golive",
              "GOLIVE_REDIS_URL": "redis://:redis-pw-5562@cache:6379/0",
              "GOLIVE_SENTRY_DSN": "https://sentrykey0123456789abcdef@o1.ingest.sentry.io/1",
              "SLACK_BOT_TOKEN": "bot-token-value-5563", "SLACK_SIGNING_SECRET": "signing-secret-5564",
              "SLACK_APP_TOKEN": "app-token-value-5565", "TEAMS_APP_PASSWORD": "teams-password-5566"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert {"database_url", "redis_url", "sentry_dsn", "slack_bot_token", "slack_signing_secret",
            "slack_app_token", "teams_app_password"} <= set(secret_fields())
    from checks.masking import masker
    saved = set(masker._values)
    try:
        register_secrets(settings)
        said = " ".join(["store-pw-5561", "redis-pw-5562", "sentrykey0123456789abcdef", *list(values.values())[3:]])
        out = masker.scrub(said)
        assert out == " ".join([MASK] * 7), out
    finally:
        masker._values.clear()
        masker._values.update(saved)


def test_the_target_settings_secret_values_are_known_and_bearer_headers_yield_the_token() -> None:
    m = Masker()
    m.add_from_env({"FLAG_SERVICE_AUTHORIZATION": "Bearer flag-service-tok-77", "HUNTER_API_KEY": "hunter-key-88",
                    "LOG_LEVEL": "INFO", "PWD": "/var/lib/app"})
    assert m.scrub("got flag-service-tok-77 and hunter-key-88 in /var/lib/app/checklists/.env at INFO") == \
        f"got {MASK} and {MASK} in /var/lib/app/checklists/.env at INFO"


@pytest.mark.parametrize("name", ["password", "db_password", "DB_PASSWORD", "userpwd", "ADMINPASS", "MASTERKEY",
                                  "accesskey", "passcode", "api_key", "apiKey", "x-api-key", "SMTP_PASS",
                                  "client_secret", "private_key_id", "sessionId", "refresh_token", "credentials",
                                  "SECRET_KEY_BASE", "spring.datasource.password", "csrftoken", "oauth", "sig"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["keyboard", "secret_scan", "api.token_check", "env.sentry_dsn", "max_tokens",
                                  "token_count", "password_file", "token_url", "pass", "author", "monkey",
                                  "bypass", "PWD", "auth.login", "keys", "SECRET_NAME", "passes"])
def test_names_about_secrets_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)
