"""Schemathesis against the live /openapi.json: generated requests for every operation
(bounded), none of which may make the server fail (5xx); every error is JSON with a code.

More or other examples: CSTOOL_SCHEMA_EXAMPLES=50 pytest tests/test_server_schema.py
--hypothesis-seed=123.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.server_support import serve

EXAMPLES = int(os.environ.get("CSTOOL_SCHEMA_EXAMPLES", "12"))
SKIP = ("event_stream",)  # never ends: the stream has its own tests


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A server over a small mall with a chat, with an admin token."""
    s = serve(tmp_path_factory.mktemp("schema") / "api.db")
    s.backend.apply({
        "shops": [{"key": "lf", "name": "翎衣女装", "service_mode": "human_first"}],
        "groups": [{"key": "lf-pre", "shop": "lf", "name": "售前"}],
        "agents": [{"handle": "xm", "name": "小美", "shops": ["lf"], "groups": ["lf-pre"],
                    "status": "online"}],
        "products": [{"key": "dress", "shop": "lf", "title": "连衣裙", "price": 299}],
        "customers": [{"key": "wl", "name": "王丽", "profiles": [{"shop": "lf"}]}],
    })
    s.backend.post_message("lf", "wl", "有M码吗")
    s.tokens = [s.admin, s.token("xm"), s.customer_token("lf", "wl")]
    yield s
    s.close()


@pytest.fixture(scope="module")
def api_schema(live):
    """The server's own schema, as it publishes it."""
    return schemathesis.openapi.from_url(live.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
for _name in SKIP:
    schema = schema.exclude(operation_id=_name)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
          database=None, print_blob=True)
def test_no_generated_request_makes_the_server_fail(case, live):
    for token in live.tokens:  # an admin, an agent and a customer each send it
        response = case.call(headers={"Authorization": f"Bearer {token}"}, timeout=20)
        assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
        if response.status_code >= 400:
            error = response.json()["error"]
            assert error["code"] and error["message"], response.text
