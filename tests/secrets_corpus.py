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
    # -- issue 18: forms that leaked with secret-looking names ---------------------------------------
    _text("YAML password: | block", "db:\n  password: |\n    yaml-block-pw-8841\n  user: app\n", "yaml-block-pw-8841"),
    _text("YAML value on the next line", "password:\n  next-line-pw-5512\nuser: app\n", "next-line-pw-5512"),
    _text("password with wide spacing", "password        = wide-spaced-pw-3390", "wide-spaced-pw-3390"),
    _text("tabs before =", "DB_PASSWORD\t\t= tabbed-pw-7781", "tabbed-pw-7781"),
    _text("ANSI-coloured DB_PASSWORD=", "\x1b[33mDB_PASSWORD=\x1b[0mansi-pw-6620\x1b[0m", "ansi-pw-6620"),
    _text("ANSI-coloured name, then =", "\x1b[1;33mDB_PASSWORD\x1b[0m=ansi-name-pw-6621", "ansi-name-pw-6621"),
    _text("ODBC Password= with spaces", "Driver={ODBC Driver 18};Server=db;Uid=app;Password=odbc pw with spaces 91;",
          "odbc pw with spaces 91", "odbc pw"),
    _text("JSON key with a \\u escape", '{"p\\u0061ssword": "unicode-key-pw-4410"}', "unicode-key-pw-4410"),
    _text("unparsable JSON, key with a \\u escape", 'error {"p\\u0061ssword": "unicode-key-pw-2210", ',
          "unicode-key-pw-2210"),
    _json("JSON key three levels deep", {"a": {"b": {"c": {"password": "deep3-pw-5501"}}}}, "deep3-pw-5501"),
    _text("YAML key three levels deep", "a:\n  b:\n    c:\n      password: yaml-deep-pw-7720\n", "yaml-deep-pw-7720"),
    SecretForm("pretty-printed JSON", json.dumps({"user": "app", "db_password": "pretty-pw-6161", "n": 1}, indent=2),
               ("pretty-pw-6161",)),
    _text("unclosed quote", '{"db_password": "unclosed-pw-3341', "unclosed-pw-3341"),
    _text("--password=x", "pg_dump --password=flag-pw-6671 --host db", "flag-pw-6671"),
    _text("userpwd", "userpwd=userpwd-val-1181", "userpwd-val-1181"),
    _text("ADMINPASS", "ADMINPASS=adminpass-val-2291", "adminpass-val-2291"),
    _text("MASTERKEY", "MASTERKEY=masterkey-val-3391", "masterkey-val-3391"),
    _text("accesskey", "accesskey: accesskey-val-4491", "accesskey-val-4491"),
    _text("passcode", "passcode=passcode-val-5591", "passcode-val-5591"),
    # -- more structure: config files, dumps, prints -----------------------------------------------
    _text("INI section, spaced value", "[database]\nhost = db\nPassword = ini words pw 1201\n", "ini words pw 1201"),
    _text("YAML list item", "- name: app\n  api_key: yaml-list-key-1010\n", "yaml-list-key-1010"),
    _text("export SECRET_KEY_BASE", "export SECRET_KEY_BASE=skb-corpus-1919aa", "skb-corpus-1919aa"),
    _text("compact JSON in a sentence", 'HTTP 500: {"password":"embedded-json-pw-6060","ok":false}',
          "embedded-json-pw-6060"),
    _text("escaped JSON in a log line", 'body="{\\"api_key\\": \\"escaped-json-key-7070\\"}"',
          "escaped-json-key-7070"),
    _text("query string password", "GET /login?user=bob&password=query-pw-8080&next=/ 302", "query-pw-8080"),
    _text("Azure AccountKey", "DefaultEndpointsProtocol=https;AccountName=acc;AccountKey=azAccKeyCorpus0123+/==;"
          "EndpointSuffix=core.windows.net", "azAccKeyCorpus0123+/=="),
    _text("Azure SAS sig=", "https://acc.blob.core.windows.net/c/b?sv=2021-08-06&sig=sasSigCorpus%2F123%3D&se=x",
          "sasSigCorpus%2F123%3D"),
    _text("Service Bus SharedAccessKey", "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;"
          "SharedAccessKey=sbSharedKeyCorpus42=", "sbSharedKeyCorpus42="),
    _text("X-Auth-Token header", "X-Auth-Token: xauth-corpus-9191", "xauth-corpus-9191"),
    _text("Python repr dict", "{'password': 'repr-pw-1212', 'user': 'u'}", "repr-pw-1212"),
    _text("XML element", "<fault><password>xml-pw-1313</password></fault>", "xml-pw-1313"),
    _text("TOML string", 'password = "toml-pw-1414"', "toml-pw-1414"),
    _text("Java properties, dotted key", "spring.datasource.password=props-pw-1515", "props-pw-1515"),
    _json("docker env list", ["DB_PASSWORD=docker-env-pw-1616", "LOG_LEVEL=info"], "docker-env-pw-1616"),
    _text("Kubernetes name/value pair",
          "env:\n- name: DB_PASSWORD\n  value: k8s-val-1717\n- name: LOG\n  value: info\n", "k8s-val-1717"),
    _json("ECS name/value pair", [{"Name": "DB_PASSWORD", "Value": "ecs-pw-3232"}], "ecs-pw-3232"),
    _text("MongoDB SRV URL", "mongodb+srv://admin:mongo-pw-1818@cluster0.x.mongodb.net/db", "mongo-pw-1818"),
    _text("AMQP URL", "amqp://guest:amqp-pw-1919@rabbit:5672/", "amqp-pw-1919"),
    _text("JDBC URL password parameter", "jdbc:postgresql://db:5432/app?user=app&password=jdbc-pw-2020&ssl=true",
          "jdbc-pw-2020"),
    _text("OpenSSH private key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUcorpus\n"
          "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUcorpus"),
    _json("numeric secret", {"secret": 123456789012}, "123456789012"),
    _text("YAML double-quoted", 'api_key: "yaml-quoted-key-2222"', "yaml-quoted-key-2222"),
    _text("YAML single-quoted", "client_secret: 'yaml-single-cs-2323'", "yaml-single-cs-2323"),
    _text("YAML flow mapping", "{password: flow-pw-2424, user: u}", "flow-pw-2424"),
    _text("Digest authorization", 'Authorization: Digest username="u", response="digest-resp-2525"',
          "digest-resp-2525"),
    _text("docker run -e", "docker run -e DB_PASSWORD=docker-run-pw-2626 app", "docker-run-pw-2626"),
    _text("AWS credentials INI", "[default]\naws_secret_access_key = aws-ini-secret-2727\n", "aws-ini-secret-2727"),
    _text("netrc", "machine api.example.com login bob password netrc-pw-2828", "netrc-pw-2828"),
    _text("PGPASSWORD before a command", "PGPASSWORD=pgpassword-val-2929 psql -h db", "pgpassword-val-2929"),
    _text("compose file", "services:\n  db:\n    environment:\n      MYSQL_ROOT_PASSWORD: mysql-root-3030\n",
          "mysql-root-3030"),
    _text("clientSecret in a query", "POST /token?clientSecret=cs-query-3333&grant=x", "cs-query-3333"),
    _json("sessionToken", {"sessionToken": "aws-session-3434", "region": "eu"}, "aws-session-3434"),
    _text("access_token in a fragment", "https://app.example.com/#access_token=frag-tok-3535&expires_in=3600",
          "frag-tok-3535"),
    _text("lower-case bearer", "authorization: bearer lower-bearer-3636", "lower-bearer-3636"),
    _text("export quoted AWS secret", 'export AWS_SECRET_ACCESS_KEY="aws-export-3737"', "aws-export-3737"),
    _text("Windows set", "set PASSWORD=win-set-3838", "win-set-3838"),
    _text("PowerShell $env:", '$env:API_KEY = "ps-key-3939"', "ps-key-3939"),
    _text("Go struct print", "{Password:gostruct-pw-4242 User:u}", "gostruct-pw-4242"),
    _text("curl form data", "curl -d 'client_id=app&client_secret=curl-cs-4343' https://x", "curl-cs-4343"),
    _text("Python kwargs in a traceback", "connect(host='db', password='kwarg-pw-4444')", "kwarg-pw-4444"),
    _text("spaces around a JSON colon", '{"password" : "spaced-colon-4646"', "spaced-colon-4646"),
    _text("YAML key with spaces before the colon", "password   :   yaml-spaces-4747", "yaml-spaces-4747"),
    _text("passphrase", "passphrase=passphrase-val-4848", "passphrase-val-4848"),
    _text("YAML private_key block", "private_key: |\n  pk-block-line-4949\n  pk-block-line-5050\n",
          "pk-block-line-4949", "pk-block-line-5050"),
    _text("otp", "otp: 918273", "918273"),
)

SECRET_VALUES: tuple[str, ...] = tuple(value for form in CORPUS for value in form.secrets)


def leaks(text: str) -> list[str]:
    """The corpus values found in `text` (empty when nothing leaked), also JSON-escaped (as in --json)."""
    return [value for value in SECRET_VALUES if value in text or json.dumps(value)[1:-1] in text]


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


# -- the other side: text that must come through masking byte for byte ---------------------------
HARMLESS: tuple[str, ...] = (
    # (A secret-named key at the start of a line, `Password: anything`, is a YAML/INI key and is masked:
    # those lines are not harmless by design, so none is listed here.)
    # check ids and our result lines with secret-like words
    "api.token_check: passed in 3 ms",
    "api.token_check: has not run",
    "env.sentry_dsn: has not run",
    "env.sentry_dsn: set (https://o1.ingest.sentry.io/42)",
    "secret_scan: 0 findings",
    "secret_scan: 3 findings in 2 files",
    "security.secret_rotation: rotated 12 days ago",
    "auth.login: 200 OK in 41 ms",
    "smoke.password_reset_page: 200 OK",
    "✅ api.token_check — 200 OK in 3 ms",
    "❌ db.credentials_check — role app lacks CONNECT",
    "[3/12] ✅ api.token_check (3 ms)",
    "token_count: 17",
    "max_tokens=4096",
    "password_policy: min 12 characters",
    "password_file: /run/secrets/db_password",
    "token_url=https://auth.example.com/oauth/token",
    "api_key_rotation: every 90 days",
    "SECRET_NAME=db-credentials",
    "auth_latency_ms=12",
    "session_count=4",
    "keys=12,expires=0,avg_ttl=0",
    "db0:keys=12,expires=0,avg_ttl=0",
    "pass: 3, fail: 0",
    '{"pass": 3, "fail": 0}',
    "passes: 12, failures: 0",
    "Basic checks passed",
    "Basic Information → App-Level Tokens: generate a token with the connections:write scope",
    "api.slack.com/apps → your app → Basic Information → App-Level Tokens: generate a token with the "
    "connections:write scope and set SLACK_APP_TOKEN to it",
    "Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token with connections:write)",
    # paths
    "/var/lib/app/checklists/.env",
    "flag file /srv/golive/checklists/.env (5 flags)",
    "./secrets/README.md",
    "/run/secrets/db_password",
    "C:\\Users\\ops\\golive\\checklists\\.env",
    "golive-state/golive.db",
    "see docs/tokens.md#rotation",
    # ordinary sentences with key, token, generate, passes...
    "the key to a smooth go-live is rehearsal",
    "press any key to continue",
    "keyboard: us",
    "token bucket refilled at 10/s",
    "generate a token, then paste it here",
    "the secret is rehearsal, not luck",
    "session expired, please sign in again",
    "cookie consent banner shown",
    "Authorization header missing",
    "x-api-key header is optional for /healthz",
    "Bearer authentication failed for the probe",
    "the digest of the run is posted at 09:00",
    "private beta: 12 users",
    "passwd file parsed",
    "author: Jane Doe",
    "the test passes when all 12 checks pass",
    "sign-off tech_lead missing",
    "waived until 2026-12-08 by U012 (reason: vendor outage)",
    "Go/No-Go: GO (conditional)",
    "NO-GO: 2 critical checks failed",
    "settings are key: value pairs read from .env files",
    "Tokens and keys are never logged.",
    "The Password field is never logged; see the vault entry prod/db",
    # URLs, e-mail, ids, hashes, numbers
    "https://example.com/a@b",
    "ops@example.com",
    "mailto:ops@example.com",
    "postgresql://app@db:5432/golive",
    "redis://cache:6379/0",
    "https://status.example.com/healthz/ready",
    "GOLIVE_DATABASE_URL=postgresql://app@db/golive",
    "commit 3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "deployed 3f2a9c1 to production",
    "run 2f6c1a0e9b8d4c3f",
    "request id 123e4567-e89b-42d3-a456-426614174000",
    "550e8400-e29b-41d4-a716-446655440000",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "12345",
    "3.14159",
    "latency p95=120ms p99=340ms",
    "error rate 0.4% (threshold 1%)",
    "2026-12-07T12:54:40Z",
    "HTTP 503 Service Unavailable",
    # ANSI colours
    "\x1b[32m✔ passed\x1b[0m",
    "\x1b[31mFAIL\x1b[0m api.token_check",
    "\x1b[1mScan\x1b[0m: no secrets found",
    # structured text without secrets
    '{"status": "ok", "checks": 12}',
    "status: ok\nchecks: 12\n",
    "LOG_LEVEL=info\nFEATURE_NEW_CHECKOUT_ENABLED=true\n",
    "[database]\nhost = db\nport = 5432\n",
    '{"password": null, "token": ""}',
    "password: ~",
    "DB_PASSWORD=",
    "password=***",
)
