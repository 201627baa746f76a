"""Schemathesis hooks of `npm run fuzz` (deploy/fuzz/fuzz.ts loads them with SCHEMATHESIS_HOOKS).

- Every request says who it is, and only that: FUZZ_COOKIES ("name=value; ...") and FUZZ_HEADERS
  (a JSON object) are set on each generated request, and no cookie a response sets is kept (a
  client that kept them would be signed in after the first registration it happened to get right).
- Three kinds of generated request are not what schemathesis 3.39 labels them (fixed here, each
  with its reason below): coverage-phase cases with an empty path parameter (urllib3 drops the
  empty segment, so they go to another path), and two kinds of "negative" case that are valid:
  a query value that is text (every query value is) or an extra query parameter (OpenAPI does
  not forbid them; the BFF ignores unknown query parameters), and a case in which nothing was
  negated (e.g. no body where the body is optional).
- `auth_enforced` takes the place of schemathesis' `ignored_auth`, which strips every credential
  of a request, CSRF token included, and then expects 401: the BFF answers a state-changing
  request without a CSRF token 403 before it looks for a session (API.md). This check drops or
  forges only the credential (session cookie or API key), keeps the CSRF token, and expects 401.
"""

import http.cookiejar
import json
import os

import requests
import schemathesis
from schemathesis import DataGenerationMethod
from schemathesis.types import NotSet

SESSION_COOKIE = "tessera_session"
COOKIES = dict(
    part.strip().split("=", 1) for part in os.environ.get("FUZZ_COOKIES", "").split(";") if "=" in part
)
HEADERS = json.loads(os.environ.get("FUZZ_HEADERS") or "{}")
# A signed-out browser's CSRF cookie, token and Origin: what a request keeps when its credential is dropped.
ANONYMOUS_COOKIES = dict(
    part.strip().split("=", 1) for part in os.environ.get("FUZZ_ANONYMOUS_COOKIES", "").split(";") if "=" in part
)
ANONYMOUS_HEADERS = json.loads(os.environ.get("FUZZ_ANONYMOUS_HEADERS") or "{}")


class _KeepNoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie, request):
        return False


_session_init = requests.Session.__init__


def _stateless_session(self, *args, **kwargs):
    _session_init(self, *args, **kwargs)
    self.cookies.set_policy(_KeepNoCookies())


requests.Session.__init__ = _stateless_session


# The coverage phase (experimental in 3.39) misses the rule its own generator applies to path
# parameters (schemathesis.specs.openapi._hypothesis.is_valid_path): an empty one is dropped from
# the URL by urllib3, so "/chats/{id}" with id "" is sent as "/chats/" (another operation).
from schemathesis import _hypothesis as _generation  # noqa: E402
from schemathesis.specs.openapi._hypothesis import is_valid_path  # noqa: E402

_coverage_cases = _generation._iter_coverage_cases


def _coverage_cases_on_their_own_path(*args, **kwargs):
    for case in _coverage_cases(*args, **kwargs):
        if is_valid_path(case.path_parameters or {}):
            yield case


_generation._iter_coverage_cases = _coverage_cases_on_their_own_path


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _query_negated_on_the_wire(case) -> bool:
    """Whether the query, as sent, breaks its parameters' schemas (unknown parameters do not)."""
    validator = case.operation.schema.validator_cls
    query = case.query or {}
    for parameter in case.operation.query:
        schema = parameter.definition.get("schema") or {}
        value = query.get(parameter.name)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        # Absent: an empty list sends nothing, an object is spread into other (unknown) names.
        if parameter.name not in query or value == [] or isinstance(value, dict):
            if parameter.is_required:
                return True
            continue
        if isinstance(value, list):
            return True  # repeated: several values where one is expected
        text = _as_text(value)
        kind = schema.get("type")
        if kind in ("integer", "number"):
            try:
                number = int(text) if kind == "integer" else float(text)
            except ValueError:
                return True
            if not validator(schema).is_valid(number):
                return True
        elif kind == "boolean":
            if text not in ("true", "false"):
                return True
        elif not validator(schema).is_valid(text):
            return True
    return False


def _negated_on_the_wire(case) -> bool:
    meta, operation = case.meta, case.operation
    negated = lambda component: component is not None and component.is_negative  # noqa: E731
    # 3.39 marks a location negated even where the operation has nothing to put (no header
    # parameters, an optional body left out): only a location that carries something counts.
    return (
        (negated(meta.path_parameters) and len(operation.path_parameters) > 0)
        or (negated(meta.headers) and len(operation.headers) > 0)
        or (negated(meta.cookies) and len(operation.cookies) > 0)
        or (negated(meta.body) and not isinstance(case.body, NotSet))
        or (negated(meta.query) and len(operation.query) > 0 and _query_negated_on_the_wire(case))
    )


@schemathesis.hook
def before_call(context, case):
    """Relabels as positive the "negative" cases that are valid requests once sent (see the module's note)."""
    if case.data_generation_method is None or not case.data_generation_method.is_negative or case.meta is None:
        return
    if (case.meta.description or "").startswith("Unspecified HTTP method"):
        return
    if not _negated_on_the_wire(case):
        case.data_generation_method = DataGenerationMethod.positive


if COOKIES or HEADERS:

    @schemathesis.auth()
    class Credentials:
        def get(self, case, context):
            return True

        def set(self, case, data, context):
            case.cookies = {**(case.cookies or {}), **COOKIES}
            case.headers = {**(case.headers or {}), **HEADERS}


def _needs_credentials(case) -> bool:
    security = case.operation.definition.raw.get("security")
    if security is None:
        security = case.operation.schema.raw_schema.get("security", [])
    return bool(security) and all(requirement for requirement in security)


def _send(ctx, case, cookies, headers):
    probe = case.partial_deepcopy()
    probe.cookies = cookies
    probe.headers = headers
    kwargs = dict(ctx.transport_kwargs or {})
    kwargs.pop("session", None)
    return case.operation.schema.transport.send(probe, **kwargs)


@schemathesis.check
def auth_enforced(ctx, response, case):
    if not 200 <= response.status_code < 300 or not _needs_credentials(case):
        return None
    cookies = dict(case.cookies or {})
    headers = {name: value for name, value in (case.headers or {}).items() if name.lower() != "authorization"}
    if SESSION_COOKIE in cookies:
        bare = {name: value for name, value in cookies.items() if name != SESSION_COOKIE}
        probes = [
            ("without the session cookie", bare, headers),
            ("with a forged session cookie", {**bare, SESSION_COOKIE: "SCHEMATHESIS-INVALID-VALUE"}, headers),
        ]
    elif any(name.lower() == "authorization" for name in (case.headers or {})):
        anonymous_cookies = {**cookies, **ANONYMOUS_COOKIES}
        anonymous_headers = {**headers, **ANONYMOUS_HEADERS}
        probes = [
            ("without the API key", anonymous_cookies, anonymous_headers),
            ("with a forged API key", anonymous_cookies, {**anonymous_headers, "Authorization": "Bearer tsk_SCHEMATHESISINVALIDVALUE"}),
        ]
    else:
        return None
    for label, probe_cookies, probe_headers in probes:
        answer = _send(ctx, case, probe_cookies, probe_headers)
        if answer.status_code != 401:
            raise AssertionError(
                f"{case.operation.verbose_name} answered {response.status_code} with its credential and "
                f"{answer.status_code} {label} (expected 401)"
            )
    return None
