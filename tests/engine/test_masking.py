"""Secrets never survive masking, whatever shape they come in."""

from __future__ import annotations

from checks.masking import Masker, redact_url


def test_url_password_is_masked_in_free_text() -> None:
    m = Masker()
    text = m.mask("could not connect to postgresql://hunter:S3cr3t-pass@db.prod:5432/hunter?sslmode=require")
    assert "S3cr3t-pass" not in text and "hunter:***@db.prod" in text


def test_known_secret_values_are_masked_anywhere_even_without_url_shape() -> None:
    m = Masker()
    m.add_from_env({"DATABASE_URL": "postgresql://u:pw-from-env-123@h/db", "HUNTER_API_KEY": "k3y-abcdef",
                    "LOG_LEVEL": "INFO"})
    text = m.mask("error: password pw-from-env-123 rejected; key k3y-abcdef; level INFO")
    assert "pw-from-env-123" not in text and "k3y-abcdef" not in text and "INFO" in text


def test_sentry_dsn_key_and_slack_tokens_are_masked() -> None:
    m = Masker()
    text = m.mask("dsn https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/42 token xoxb-1234-5678-abcdefgh")
    assert "0123456789abcdef0123456789abcdef" not in text and "xoxb-1234" not in text
    assert "o1.ingest.sentry.io/42" in text


def test_nested_data_and_secret_named_keys_are_masked() -> None:
    m = Masker()
    data = m.mask_data({"password": "plain", "items": ["redis://:r3dispw@cache:6379/0"], "n": 3})
    assert data == {"password": "***", "items": ["redis://:***@cache:6379/0"], "n": 3}


def test_redact_url_keeps_what_helps_and_drops_the_secret() -> None:
    assert redact_url("postgresql://app:pw@db:5432/x?sslmode=require") == "postgresql://app:***@db:5432/x?sslmode=require"
    assert redact_url("https://abcdef0123456789@sentry.io/1") == "https://***@sentry.io/1"
    assert redact_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_masking_long_unbroken_text_does_not_stall() -> None:
    """Evidence can be a 100 kB body without spaces: masking must stay linear (it was quadratic once)."""
    import time

    m = Masker()
    text = "a" * 100_000 + " postgresql://app:Long-Pw-1@db/x " + "b://" * 25_000
    started = time.thread_time()  # CPU of this thread: other processes loading the machine do not count
    masked = m.mask(text)
    assert time.thread_time() - started < 3, "masking went quadratic"
    assert "Long-Pw-1" not in masked and "app:***@db/x" in masked


def test_name_and_shape_masking_stays_linear_on_hostile_text() -> None:
    """Text built to make the name, URL and token patterns backtrack: each must still mask quickly. CPU time
    of this thread, with a wide margin (the slowest takes about 0.4 s; quadratic would take minutes)."""
    import time

    m = Masker()
    for text in ("a:" * 50_000, "password=" * 20_000, "eyJ" * 30_000, '"token": "' * 10_000, "Basic " * 20_000,
                 "b://a:" * 20_000, "x@" * 50_000, "-----BEGIN PRIVATE KEY-----" + "A" * 100_000):
        started = time.thread_time()  # other processes loading the machine do not count
        m.mask(text)
        assert time.thread_time() - started < 3, f"masking {text[:12]!r}... went superlinear"


def test_harmless_words_next_to_secret_words_stay_readable() -> None:
    m = Masker()
    text = 'Basic checks passed; author: Jane; {"pass": 3, "fail": 0}; https://example.com/a@b'
    assert m.mask(text) == text
    assert m.mask('{"refresh_token": 12345678, "SMTP_PASS": "x"}') == '{"refresh_token": "***", "SMTP_PASS": "***"}'
