"""Schemathesis with every check (as ``schemathesis run --checks all``) against a live
server over the tenancy suite's mall, with an admin's, an agent's and a customer's
token: a few generated examples per operation; ``benchmarks/fuzz_api.py`` runs many.

Beyond "no 5xx" this holds the server to its own OpenAPI document (D7 of issue 16):
status codes and content types it declares, schema-valid requests accepted (not
refused as invalid), invalid ones rejected. Every error body is
``{"error": {"code", "message"}}``. The coverage phase (which also sends the methods a
path does not take, wanting 405 with ``Allow``) runs in ``benchmarks/fuzz_api.py`` and
with CSTOOL_SCHEMA_COVERAGE=1; ``tests/test_tenancy_probes.py`` asks for 405 directly.

More examples: CSTOOL_SCHEMA_EXAMPLES=25 pytest tests/test_schemathesis.py
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from tests.tenancy_support import build_mall

EXAMPLES = int(os.environ.get("CSTOOL_SCHEMA_EXAMPLES", "2"))
SKIP = ("event_stream",)  # never ends: the stream has its own tests
ROLES = ("admin", "agent_a", "customer_a")
COVERAGE = os.environ.get("CSTOOL_SCHEMA_COVERAGE", "") == "1"
ROOT = Path(__file__).resolve().parents[1]


def all_checks() -> list:
    """Every check schemathesis has (``--checks all``)."""
    import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)

    return list(CHECKS.get_all())


def error_is_json_with_a_code(ctx, response, case):
    """An error answer is ``{"error": {"code", "message"}}``."""
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"], response.text


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The two-shop mall on a live server."""
    m = build_mall(tmp_path_factory.mktemp("schemathesis"))
    yield m
    m.close()


@pytest.fixture(scope="module")
def api_schema(live):
    """The server's own OpenAPI document, as it publishes it (generated examples only:
    the coverage phase's hundreds of boundary cases per operation run in
    ``benchmarks/fuzz_api.py``)."""
    config = SchemathesisConfig.from_path(ROOT / "schemathesis.toml")  # see its comments
    loaded = schemathesis.openapi.from_url(live.served.url + "/openapi.json", config=config)
    loaded.config.phases.coverage.enabled = COVERAGE
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")
for _name in SKIP:
    schema = schema.exclude(operation_id=_name)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          database=None, print_blob=True)
def test_every_check_passes_for_admin_agent_and_customer(case, live):
    for role in ROLES:
        token = live.served.admin if role == "admin" else live.tokens[role]
        case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, timeout=20,
                               checks=all_checks(), additional_checks=[error_is_json_with_a_code])


def test_fuzz_api_quick_runs_and_finds_no_failure():
    """``benchmarks/fuzz_api.py --quick``: the CLI with ``--checks all`` finds nothing."""
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "benchmarks" / "fuzz_api.py"), "--quick"],
                          capture_output=True, text=True, timeout=600, cwd=root)
    assert "cases/s" in proc.stdout and "baseline" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 0 and "failures: 0 " in proc.stdout, proc.stdout[-6000:]


def admin_call(live, method: str, path: str, **kw):
    """A request with a fresh admin token (the fuzzing above may have revoked the
    mall's)."""
    from cstool.auth import TokenStore

    token = TokenStore(live.served.backend).create_token(None, "admin", label="t")["token"]
    return live.client.request(method, path, headers={"Authorization": f"Bearer {token}"},
                               **kw)


@pytest.mark.parametrize("path, body", [
    ("/v1/knowledge/dismiss", {"group": "#" + "9" * 25}),
    ("/v1/knowledge/learn", {"question": "#" + "9" * 25, "entry": "size_guide"}),
])
def test_a_group_id_past_sqlites_range_is_not_found(live, path, body):
    """Found by schemathesis: ``#`` and 25 digits was a 500 (SQLite's integer overflow)."""
    r = admin_call(live, "POST", path, json=body)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path, params, body", [
    ("/v1/tokens", None, {}),
    ("/v1/tickets", None, {"type": "other", "title": "x"}),
    ("/v1/knowledge/learn", None, {"question": "x"}),
])
def test_the_document_says_what_a_body_needs_across_its_fields(live, path, params, body):
    """The cross-field rules are in the OpenAPI document (anyOf / oneOf), and a body that
    breaks them is refused."""
    doc = admin_call(live, "GET", "/openapi.json").json()
    ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
    assert "anyOf" in model or "oneOf" in model
    assert admin_call(live, "POST", path, json=body).status_code in (400, 422)


def test_what_depends_on_the_caller_is_a_refusal_and_an_empty_range_is_empty(live):
    """A staff token posting a customer message without naming the customer is refused
    with 403 (the request's form is valid); arrivals over an empty range are none."""
    r = admin_call(live, "POST", "/v1/shops/lingyi-fashion/messages", json={"text": "你好"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    r = admin_call(live, "GET", "/v1/shops/lingyi-fashion/arrivals",
                  params={"since": 1_800_000_000_000, "until": 1_800_000_000_000})
    assert r.status_code == 200 and r.json()["buckets"] == [], r.text
    r = admin_call(live, "GET", "/v1/metrics/report",
                  params={"since": "2026-11-21", "until": "2026-11-20"})
    assert r.status_code == 200 and r.json()["total"]["conversations"] == 0, r.text
