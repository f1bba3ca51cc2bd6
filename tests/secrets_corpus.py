"""One corpus of secret forms, shared by every test that proves no secret leaves the process.

Each form is how a secret shows up in the wild (a target's JSON error body, an env dump, a header, a
URL, a token by its shape) and the values that must never be seen in any output. The values are
distinctive, so finding one anywhere is a leak and never a coincidence.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class SecretForm:
    label: str
    text: str  # how it appears: a JSON body, an env line, a header, free text
    secrets: tuple[str, ...]  # what must never appear in any output

    @property
    def is_json(self) -> bool:
        try:
            json.loads(self.text)
        except ValueError:
            return False
        return True


def _json(label: str, body: object, *secrets: str) -> SecretForm:
    return SecretForm(label, json.dumps(body), secrets)


def _text(label: str, text: str, *secrets: str) -> SecretForm:
    return SecretForm(label, text, secrets)


_BASIC = base64.b64encode(b"admin:basic-pass-9931").decode()
_BASIC_JSON = base64.b64encode(b"svc:json-basic-pw-4410").decode()
_PEM_BODY = ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
             "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu")
_PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(_PEM_BODY) + "\n-----END PRIVATE KEY-----"
_RSA_BODY = "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu"
_JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtand0LTQ0In0."
        "kTq3v9Xk2m0aW8Qe7uYd1sRb5nCf4hLg6jPz0oVtE2c")

CORPUS: tuple[SecretForm, ...] = (
    # -- the target's JSON error bodies: secret-named keys, nested and odd-typed -----------------
    _json("json db_password", {"error": "boom", "db_password": "Jb-dbpass-4471"}, "Jb-dbpass-4471"),
    _json("json client_secret", {"client_secret": "cs-9f8e7d6c5b4a"}, "cs-9f8e7d6c5b4a"),
    _json("json access_token", {"access_token": "at-Zx81mQ0pL2"}, "at-Zx81mQ0pL2"),
    _json("json aws_secret_access_key", {"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYcorpus01"},
          "wJalrXUtnFEMI/K7MDENG/bPxRfiCYcorpus01"),
    _json("json nested credentials.pwd", {"nested": {"credentials": {"pwd": "nested-pwd-5521"}}},
          "nested-pwd-5521"),
    _json("json camelCase apiKey", {"apiKey": "apk-77aa88bb99cc"}, "apk-77aa88bb99cc"),
    _json("json passwd", {"user": "app", "passwd": "pw-x81-q-passwd"}, "pw-x81-q-passwd"),
    _json("json private_key_id", {"private_key_id": "pkid-31415926"}, "pkid-31415926"),
    _json("json sessionId", {"sessionId": "sess-ABCDEF123456"}, "sess-ABCDEF123456"),
    _json("json cookie", {"cookie": "sid=cookie-val-8812; theme=dark"}, "cookie-val-8812"),
    _json("json auth", {"auth": "auth-val-661-x"}, "auth-val-661-x"),
    _json("json numeric refresh_token", {"refresh_token": 918273645546372}, "918273645546372"),
    _json("json list of credentials", {"credentials": ["list-cred-aa1", "list-cred-bb2"]},
          "list-cred-aa1", "list-cred-bb2"),
    _json("json Authorization Basic", {"headers": {"Authorization": f"Basic {_BASIC_JSON}"}}, _BASIC_JSON),
    _json("json PEM private key", {"private_key": _PEM}, *_PEM_BODY),
    _json("json signing key", {"jwt_signing_key": "jsk-feed-beef-0042"}, "jsk-feed-beef-0042"),
    # -- env and command output --------------------------------------------------------------------
    _text("env SMTP_PASS", "SMTP_HOST=mail\nSMTP_PASS=smtp-pass-3310\n", "smtp-pass-3310"),
    _text("env DB_PASS quoted", 'DB_PASS="db-pass-quoted-72"', "db-pass-quoted-72"),
    _text("env SESSION_KEY", "SESSION_KEY=sessk-90210abc", "sessk-90210abc"),
    _text("env JWT_SIGNING_KEY", "JWT_SIGNING_KEY=jwtsk-55aa66bb", "jwtsk-55aa66bb"),
    _text("env export API_TOKEN", "export API_TOKEN=tok-export-1881", "tok-export-1881"),
    _text("yaml STRIPE_SECRET", "STRIPE_SECRET: yaml-stripe-secret-4", "yaml-stripe-secret-4"),
    _text("ini password with spaces", "[db]\npassword = spaced-pw-6060", "spaced-pw-6060"),
    _text("libpq key=value DSN", "host=db user=app password=dsnkv-pw-77 dbname=x", "dsnkv-pw-77"),
    _text("env PRIVATE_KEY single-quoted", "PRIVATE_KEY='privk-single-8080'", "privk-single-8080"),
    # -- tokens by their shape -------------------------------------------------------------------
    _text("GitHub classic token", "token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 rejected",
          "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"),
    _text("GitHub fine-grained token", "github_pat_11ABCDEFG0corpus_abcdefghijklmnopqrstuvwxyz0123456789AB",
          "github_pat_11ABCDEFG0corpus_abcdefghijklmnopqrstuvwxyz0123456789AB"),
    _text("AWS access key id", "using AKIAQ3CORPUS7EXAMPLE for s3", "AKIAQ3CORPUS7EXAMPLE"),
    _text("Stripe live secret key", "stripe: sk_live_51HcorpusAbCdEfGhIjKlMnOp failed",
          "sk_live_51HcorpusAbCdEfGhIjKlMnOp"),
    _text("Stripe restricted key", "rk_live_4eC39HqLyjWDarjtT1zdp7dc", "rk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    _text("Stripe webhook secret", "whsec_corpus5ZzT4uW3vX2yA1bC", "whsec_corpus5ZzT4uW3vX2yA1bC"),
    _text("JWT in free text", f"invalid session {_JWT} expired", _JWT, _JWT.split(".")[2]),
    _text("Bearer header", "Authorization: Bearer bearer-tok.abc-123456789", "bearer-tok.abc-123456789"),
    _text("Basic header", f"Authorization: Basic {_BASIC}", _BASIC),
    _text("PEM RSA private key block", "-----BEGIN RSA PRIVATE KEY-----\n" + _RSA_BODY
          + "\n-----END RSA PRIVATE KEY-----", _RSA_BODY),
    _text("Slack bot token", "slack said invalid_auth for xoxb-9999999999-8888888888-corpusbottoken",
          "xoxb-9999999999-8888888888-corpusbottoken"),
    _text("Slack user token", "xoxp-1234567890-0987654321-corpususertok", "xoxp-1234567890-0987654321-corpususertok"),
    _text("Slack app token", "xapp-1-A0CORPUS-12345-corpusapptoken", "xapp-1-A0CORPUS-12345-corpusapptoken"),
    _text("Slack incoming webhook", "posting to https://hooks.slack.com/services/T0CORPUS/B0CORPUS/corpusWebhookXyz123",
          "corpusWebhookXyz123"),
    _text("Google API key", "key AIzaSyCorpus-0123456789abcdefghijklmnopq", "AIzaSyCorpus-0123456789abcdefghijklmnopq"),
    _text("OpenAI project key", "sk-proj-corpusAbCdEfGhIjKlMnOpQrStUv", "sk-proj-corpusAbCdEfGhIjKlMnOpQrStUv"),
    _text("SendGrid key", "SG.corpusSendGrid12345.corpusSendGridSecretPart67890",
          "SG.corpusSendGrid12345.corpusSendGridSecretPart67890"),
    _text("npm token", "npm_corpusNpmToken0123456789abcdefgh", "npm_corpusNpmToken0123456789abcdefgh"),
    _text("GitLab token", "glpat-corpusGitLab0123456789", "glpat-corpusGitLab0123456789"),
    # -- URLs with userinfo, well-formed or not ------------------------------------------------------
    _text("postgres URL password", "could not connect to postgresql://app:plain-url-pw-1@db:5432/x",
          "plain-url-pw-1"),
    _text("password with an unencoded @", "postgresql://app:p@ss-with-at-9@db.prod/x refused",
          "p@ss-with-at-9", "ss-with-at-9"),
    _text("password with an unencoded / and @", "mysql://root:pw/with@slash-5@db/x down",
          "pw/with@slash-5", "with@slash-5", "slash-5@db"),
    _text("redis URL password only", "redis://:redis-pw-only-3@cache:6379/0 timeout", "redis-pw-only-3"),
    _text("https URL with user and password", "GET https://user:http-pw-4@example.com/path 401", "http-pw-4"),
    _text("Sentry DSN key", "dsn https://0123456789abcdef0123456789corpus@o1.ingest.sentry.io/1",
          "0123456789abcdef0123456789corpus"),
    # -- headers ---------------------------------------------------------------------------------
    _text("Cookie header", "Cookie: sid=ck-sid-4242; csrftoken=csrf-tok-8383", "ck-sid-4242", "csrf-tok-8383"),
    _text("Set-Cookie header", "Set-Cookie: session=setck-77aa; Path=/; HttpOnly", "setck-77aa"),
    _text("X-Api-Key header", "X-Api-Key: xak-corpus-5150", "xak-corpus-5150"),
)

SECRET_VALUES: tuple[str, ...] = tuple(value for form in CORPUS for value in form.secrets)


def leaks(text: str) -> list[str]:
    """The corpus values found in `text` (empty when nothing leaked)."""
    return [value for value in SECRET_VALUES if value in text]


# -- a hostile target that hands the corpus out --------------------------------------------------
class _LeakyHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            form = CORPUS[int(self.path.rsplit("/", 1)[-1])]
        except (ValueError, IndexError):
            self.send_error(404)
            return
        body = form.text.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json" if form.is_json else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def hostile_target() -> Iterator[str]:
    """A local service whose every error body is one corpus form: GET /leak/<i> -> 500 + form i."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LeakyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def leaky_checklist(folder: Path, base_url: str, *, name: str = "leaky") -> Path:
    """A checklist whose phase `leaks` fetches every form from the hostile target (HTTP 500 bodies) and
    prints every form from a file (command output), so every form reaches results and evidence."""
    checks = []
    for i, form in enumerate(CORPUS):
        (folder / f"leak_{i}.txt").write_text(form.text)
        checks.append({"id": f"leak.http.{i}", "kind": "http", "criticality": "low", "timeout": 5,
                       "params": {"url": f"{base_url}/leak/{i}"}})
        checks.append({"id": f"leak.cmd.{i}", "kind": "command", "criticality": "low", "timeout": 5,
                       "params": {"command": ["cat", str(folder / f"leak_{i}.txt")], "pass_target_env": False,
                                  "expect_exit": [1]}})
    checklist = {"name": name, "settings": {"source": "process"},
                 "phases": [{"id": "leaks", "title": "Hostile target", "checks": checks}]}
    path = folder / "leaky.yml"
    path.write_text(json.dumps(checklist, indent=1))  # JSON is YAML
    return path
