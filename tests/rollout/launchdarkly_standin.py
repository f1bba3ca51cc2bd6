"""A local stand-in for the part of LaunchDarkly's REST API the launchdarkly provider uses. The real
service cannot be reached from the tests, so this is the only verification of that provider: each
behaviour below follows, and names, the page of LaunchDarkly's public API reference it comes from.

Pages:
- [overview] https://launchdarkly.com/docs/api (Authentication, Errors, Rate limiting)
- [get] https://launchdarkly.com/docs/api/feature-flags/get-feature-flag
- [patch] https://launchdarkly.com/docs/api/feature-flags/patch-feature-flag
- [environment] https://launchdarkly.com/docs/api/environments/get-environment
"""

from __future__ import annotations

import copy
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SEMANTIC = "domain-model=launchdarkly.semanticpatch"


def error(status: int, code: str, message: str, **headers: str) -> web.Response:
    # [overview] "Errors": an error answers a JSON body with `code` and `message` (the API reference's
    # *ErrorRep schemas: InvalidRequestErrorRep, UnauthorizedErrorRep, ForbiddenErrorRep, NotFoundErrorRep,
    # MethodNotAllowedErrorRep, StatusConflictErrorRep, RateLimitedErrorRep).
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def boolean_flag(key: str, environments: list[str]) -> dict[str, Any]:
    # [get] the flag representation: `variations` with `_id` and `value`, and an `environments` map whose
    # entries hold `on`, `fallthrough` ({variation} or {rollout: {variations: [{variation, weight}]}}),
    # `offVariation` and `version`.
    variations = [{"_id": str(uuid.uuid4()), "value": True, "name": "true"},
                  {"_id": str(uuid.uuid4()), "value": False, "name": "false"}]
    return {"key": key, "kind": "boolean", "_version": 1, "variations": variations,
            "environments": {env: {"on": False, "fallthrough": {"variation": 0}, "offVariation": 1, "version": 1,
                                   "_environmentName": env} for env in environments}}


@dataclass
class LaunchDarklyStandIn:
    token: str
    project: str = "shop"
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: tuple[str, ...] = ("production", "test")  # the project's environment keys
    approval_required: set[str] = field(default_factory=set)  # environments that require approvals
    rate_limit_next: int = 0  # answer 429 to this many next requests
    rate_limit_reset_ms: int = 1500  # ... with X-Ratelimit-Reset this far ahead
    requests: list[dict[str, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    url: str = ""

    def add_flag(self, key: str, environments: tuple[str, ...] = ("production", "test")) -> dict[str, Any]:
        self.flags[key] = boolean_flag(key, list(environments))
        return self.flags[key]

    def env(self, key: str, environment: str = "production") -> dict[str, Any]:
        return dict(self.flags[key]["environments"][environment])

    async def start(self) -> LaunchDarklyStandIn:
        app = web.Application()
        app.router.add_get("/api/v2/flags/{project}/{key}", self._get)
        app.router.add_patch("/api/v2/flags/{project}/{key}", self._patch)
        app.router.add_get("/api/v2/projects/{project}/environments/{environment}", self._environment)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # started above
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "content_type": request.headers.get("Content-Type", "")})
        # [overview] "Authentication": the access token goes in the Authorization header as is; a missing
        # or unknown token answers 401.
        if request.headers.get("Authorization") != self.token:
            return error(401, "unauthorized", "Invalid access token")
        # [overview] "Rate limiting": over a limit the API answers 429, and X-Ratelimit-Reset is "the time at
        # which the current rate limit window resets in epoch milliseconds" (X-Ratelimit-Route-Remaining: 0).
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            reset = int(time.time() * 1000) + self.rate_limit_reset_ms
            return error(429, "rate_limited", "You've exceeded the API rate limit. Try again later.",
                         **{"X-Ratelimit-Reset": str(reset), "X-Ratelimit-Route-Remaining": "0"})
        key = request.match_info["key"]
        if request.match_info["project"] != self.project or key not in self.flags:
            return error(404, "not_found", "Unknown resource")  # [get] and [patch]: 404 Invalid resource identifier
        return None

    async def _environment(self, request: web.Request) -> web.Response:
        # [environment] GET /api/v2/projects/{projectKey}/environments/{environmentKey} answers the
        # environment (`key`, `name`, `_id`, `apiKey`, `mobileKey`, ...); 401 for a bad token, 404 for an
        # unknown project or environment key.
        self.requests.append({"method": request.method, "path": request.path, "query": {}, "content_type": ""})
        if request.headers.get("Authorization") != self.token:
            return error(401, "unauthorized", "Invalid access token")
        key = request.match_info["environment"]
        if request.match_info["project"] != self.project or key not in self.environments:
            return error(404, "not_found", "Unknown resource")
        return web.json_response({"_id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)), "key": key, "name": key,
                                  "apiKey": f"sdk-{key}-secret", "mobileKey": f"mob-{key}-secret"})

    async def _get(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        flag = copy.deepcopy(self.flags[request.match_info["key"]])
        # [get] query parameter `env`: "Filter configurations by environment".
        if "env" in request.query:
            flag["environments"] = {k: v for k, v in flag["environments"].items() if k == request.query["env"]}
        return web.json_response(flag)

    async def _patch(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is not None:
            return refused
        # [patch] "To make a semantic patch request, you must append domain-model=launchdarkly.semanticpatch
        # to your Content-Type header"; without it the body is read as JSON Patch, which these bodies are not.
        if SEMANTIC not in request.headers.get("Content-Type", ""):
            return error(400, "invalid_request", "Invalid JSON Patch: expected an array of patch operations")
        body = await request.json()
        self.requests[-1]["body"] = body
        flag = self.flags[request.match_info["key"]]
        environment = body.get("environmentKey")
        # [patch] the on/off and targeting instructions "require the environmentKey parameter".
        if not environment or environment not in flag["environments"]:
            return error(400, "invalid_request", "environmentKey is required and must name an environment")
        # [patch] "Required approvals": "If a request attempts to alter a flag configuration in an environment
        # where approvals are required for the flag, the request will fail with a 405."
        if environment in self.approval_required:
            return error(405, "method_not_allowed", "This environment requires approvals for flag changes. "
                         "Create an approval request instead.")
        env = copy.deepcopy(flag["environments"][environment])
        ids = [v["_id"] for v in flag["variations"]]
        for instruction in body.get("instructions") or []:
            kind = instruction.get("kind")
            if kind == "turnFlagOn":  # [patch] turnFlagOn: sets the flag's targeting state to On
                env["on"] = True
            elif kind == "turnFlagOff":  # [patch] turnFlagOff: sets the flag's targeting state to Off
                env["on"] = False
            elif kind == "updateFallthroughVariationOrRollout":
                # [patch] updateFallthroughVariationOrRollout: `variationId`, or `rolloutWeights` ("Map of
                # variationId to weight, in thousandths of a percent (0-100000)"), `rolloutBucketBy`,
                # `rolloutContextKind` (defaults to user).
                if "variationId" in instruction:
                    if instruction["variationId"] not in ids:
                        return error(400, "invalid_request", "unknown variationId")
                    env["fallthrough"] = {"variation": ids.index(instruction["variationId"])}
                else:
                    weights = instruction.get("rolloutWeights") or {}
                    if set(weights) - set(ids) or sum(weights.values()) != 100_000:
                        return error(400, "invalid_request", "rolloutWeights must name the flag's variations "
                                     "and add up to 100000")
                    rollout: dict[str, Any] = {"variations": [{"variation": ids.index(v), "weight": w}
                                                              for v, w in weights.items()],
                                               "contextKind": instruction.get("rolloutContextKind", "user")}
                    if instruction.get("rolloutBucketBy"):
                        rollout["bucketBy"] = instruction["rolloutBucketBy"]
                    env["fallthrough"] = {"rollout": rollout}
            else:
                return error(400, "invalid_request", f"unsupported instruction kind {kind!r}")
        # [patch] the instructions of one request apply together: all of them, or none on an error above.
        env["version"] += 1
        flag["environments"][environment] = env
        flag["_version"] += 1
        return web.json_response(copy.deepcopy(flag))
