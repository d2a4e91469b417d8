"""The optional model endpoint (issue #20): an OpenAI-compatible embeddings URL in a
shop's settings (or the platform's environment) used in place of the bundled model;
timeouts and failures fall back to the local ranker, never to an error; no key and no
customer text in the logs; `bot info` says which ranker is active.

The endpoint is a small fake server on loopback (real HTTP, a test double for a model
server outside our control): it embeds texts as hashed character bigrams, records what
it was asked, and can be told to fail (HTTP 500), to hang past the timeout, or to answer
nonsense. Through the CLI as a merchant uses it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cstool.bot import embeddings, endpoint

DIM = 128
SECRET = "sk-test-do-not-log-4711"
KB = [
    {"key": "remote_ship", "question": "偏远地区包邮吗？",
     "similar": ["新疆西藏能包邮吗", "偏远地区运费多少", "哪些地方不包邮"],
     "answer": "亲，新疆、西藏等偏远地区需补运费15元哦。"},
    {"key": "return_7d", "question": "支持七天无理由退货吗？",
     "similar": ["不喜欢可以退吗", "怎么申请退货", "退货要运费吗"],
     "answer": "亲，签收7天内未使用可以无理由退货哦。"},
    {"key": "invoice", "question": "可以开发票吗？",
     "similar": ["怎么开发票", "能开公司抬头的发票吗", "电子发票在哪下载"],
     "answer": "亲，确认收货后在订单详情里下载电子发票哦。"},
    {"key": "stroller_plane", "question": "婴儿车可以带上飞机吗？",
     "similar": ["推车能登机吗", "推车需要托运吗", "婴儿车符合登机尺寸吗"],
     "answer": "亲，这款推车折叠后符合登机尺寸哦。"},
]


def fake_embedding(text: str) -> list[float]:
    """Hashed character bigrams (and characters), L2-normalised: similar texts are close."""
    v = np.zeros(DIM)
    t = "".join(ch for ch in text.lower() if ch.isalnum())
    for gram in [*t, *(t[i:i + 2] for i in range(len(t) - 1))]:
        v[zlib.crc32(gram.encode()) % DIM] += 1.0
    n = np.linalg.norm(v)
    return list(v / n) if n else list(v)


class FakeEmbeddings:
    """An OpenAI-compatible ``POST /v1/embeddings`` on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.mode = "ok"  # ok | error | hang | garbage
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get(
                    "Authorization"), "model": body.get("model"), "input": body["input"]})
                if fake.mode == "hang":
                    time.sleep(1.5)
                if fake.mode == "error":
                    self._send(500, {"error": {"message": "overloaded"}})
                elif fake.mode == "garbage":
                    self._send(200, {"data": [{"index": 0, "embedding": "nope"}]})
                else:
                    self._send(200, {"object": "list", "model": body.get("model"), "data": [
                        {"object": "embedding", "index": i, "embedding": fake_embedding(t)}
                        for i, t in enumerate(body["input"])]})

            def _send(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up (a timeout)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/embeddings"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        """Every text the server was asked to embed."""
        return [t for r in self.requests for t in r["input"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_server():
    srv = FakeEmbeddings()
    endpoint.reset()
    yield srv
    endpoint.reset()
    srv.close()


@pytest.fixture
def shop_cli(cli, tmp_path, monkeypatch, fake_server):
    """A shop whose settings name the fake endpoint, its key in the environment."""
    monkeypatch.setenv("CSTOOL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHOP_EMBED_KEY", SECRET)
    monkeypatch.delenv("CSTOOL_BOT_EMBEDDINGS_URL", raising=False)
    monkeypatch.setattr(endpoint, "RETRY_AFTER_S", 0.0)  # try again at each question
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in KB), "utf-8")
    assert cli("kb", "import", str(path)).exit_code == 0
    assert cli("shop", "create", "s", "--name", "店").exit_code == 0
    for setting in (f"bot_embeddings_url={fake_server.url}",
                    "bot_embeddings_model=fake-embed-1",
                    "bot_embeddings_key_env=SHOP_EMBED_KEY",
                    "bot_embeddings_timeout=0.5"):
        r = cli("shop", "update", "s", "--setting", setting)
        assert r.exit_code == 0, r.output
    return cli


def test_the_shops_endpoint_is_used_in_place_of_the_bundled_model(shop_cli, fake_server,
                                                                   monkeypatch):
    monkeypatch.setattr(embeddings, "load_encoder", lambda: None)  # no bundled model
    r = shop_cli.json("bot", "ask", "推车能登机吗", "--shop", "s")
    assert r["entry"] == "stroller_plane" and r["action"] in ("answer", "suggest")
    asked = fake_server.texts()
    assert "推车能登机吗" in asked and "婴儿车可以带上飞机吗？" in asked  # question, entries
    assert {q["model"] for q in fake_server.requests} == {"fake-embed-1"}
    assert {q["auth"] for q in fake_server.requests} == {f"Bearer {SECRET}"}
    assert {q["path"] for q in fake_server.requests} == {"/v1/embeddings"}
    info = shop_cli.json("bot", "info", "--shop", "s")
    assert info["ranker"] == "hybrid" and info["encoder"].startswith("endpoint fake-embed-1")
    assert info["endpoint"] == {"host": fake_server.url.split("/")[2], "model": "fake-embed-1",
                                "ok": True, "error": None, "key": True}
    assert SECRET not in json.dumps(info)
    # without the shop, the bundled model (here: none) and no request
    n = len(fake_server.requests)
    assert shop_cli.json("bot", "info")["ranker"] == "lexical"
    assert len(fake_server.requests) == n


@pytest.mark.parametrize("mode", ["error", "hang", "garbage"])
def test_a_failing_endpoint_falls_back_to_the_local_ranker(shop_cli, fake_server, mode,
                                                           caplog):
    assert shop_cli.json("bot", "ask", "推车能登机吗", "--shop", "s")["entry"] == \
        "stroller_plane"  # built and answered through the endpoint
    fake_server.mode = mode
    caplog.set_level(logging.DEBUG)
    question = "可以開發票嗎 我的手机号13800001111"
    r = shop_cli("bot", "ask", question, "--shop", "s", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["entry"] == "invoice"  # ranked lexically, Traditional converted
    assert got["action"] in ("answer", "suggest")
    assert any("13800001111" in t for t in fake_server.texts())  # the endpoint was asked
    logged = caplog.text + r.output
    assert "embeddings endpoint failed" in caplog.text
    assert SECRET not in logged and "13800001111" not in caplog.text
    assert "開發票" not in caplog.text and "开发票" not in caplog.text
    info = shop_cli.json("bot", "info", "--shop", "s")
    assert info["endpoint"]["ok"] is False and info["endpoint"]["error"]
    assert SECRET not in json.dumps(info)
    r = shop_cli("bot", "info", "--shop", "s")
    assert r.exit_code == 0 and "not answering" in r.stdout and SECRET not in r.stdout


def test_knowledge_built_while_the_endpoint_fails_is_still_answered(shop_cli, fake_server):
    fake_server.mode = "error"
    r = shop_cli("bot", "ask", "怎么申请退货", "--shop", "s", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["entry"] == "return_7d"


def test_the_platform_endpoint_comes_from_the_environment(cli, fake_server, monkeypatch,
                                                          tmp_path):
    monkeypatch.setenv("CSTOOL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CSTOOL_BOT_EMBEDDINGS_URL", fake_server.url)
    monkeypatch.setenv("CSTOOL_BOT_EMBEDDINGS_MODEL", "platform-embed")
    monkeypatch.setenv("CSTOOL_BOT_EMBEDDINGS_KEY", SECRET)
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in KB), "utf-8")
    assert cli("kb", "import", str(path)).exit_code == 0
    assert cli.json("bot", "ask", "发票怎么开")["entry"] == "invoice"
    assert {q["model"] for q in fake_server.requests} == {"platform-embed"}
    info = cli.json("bot", "info")
    assert info["encoder"] == f"endpoint platform-embed @ {fake_server.url.split('/')[2]}"


@pytest.mark.parametrize("setting", ["bot_embeddings_url=ftp://x", "bot_embeddings_url=no url",
                                     "bot_embeddings_timeout=0", "bot_embeddings_timeout=99",
                                     "bot_embeddings_key_env=not a name"])
def test_bad_endpoint_settings_are_refused(cli, setting):
    assert cli("shop", "create", "s", "--name", "店").exit_code == 0
    r = cli("shop", "update", "s", "--setting", setting)
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    assert cli.json("shop", "show", "s")["settings"].get("bot_embeddings_url") is None
