"""Refusals keyed last (tokens, metrics, records, staffing, auth) and the caller named in
a refusal of rights: in Chinese on a Chinese screen, by their key; in English the
message the error carries. Through the CLI, on a file and through a real server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from commands.main import app
from cstool.services.tokens import TokenStore
from tests.server_support import serve

ENGLISH_IN_CHINESE = ("must", "cannot", "given", "dimension", "expected", "agent '", "may not")

REFUSALS = [  # (args, exit code, Chinese, English)
    (["token", "create", "--agent", "a", "--role", "nobody"], 1,
     "错误：角色只能是 agent, supervisor, admin 之一，而不是 'nobody'",
     "Error: role must be one of agent, supervisor, admin, not 'nobody'"),
    (["token", "create", "--role", "agent"], 2,
     "错误：请给出客服（--agent 账号）；只有管理员令牌可以不绑定客服",
     "Error: give the agent (--agent HANDLE); only an admin token may be bound to no agent"),
    (["token", "create", "--agent", "a", "--role", "admin"], 1,
     "错误：客服 'a' 是客服；令牌的权限不能高于其客服（申请的是：管理员）",
     "Error: agent 'a' is an agent; a token cannot have more rights than its agent "
     "(asked: admin)"),
    (["token", "create", "--agent", "a", "--expires", "soon"], 2,
     "错误：有效期应形如 30d、12h、90m、2w 或 never，而不是 'soon'",
     "Error: expiry must be like 30d, 12h, 90m, 2w or never, not 'soon'"),
    (["metrics", "report", "--by", "colour"], 2,
     "错误：不能按 'colour' 分组（可用：shop, group, channel, hour, day, agent；多个用逗号分隔，"
     "例如 shop,channel,hour）", None),
    (["metrics", "report", "--by", "shop,shop"], 2, "错误：同一个维度给了两次",
     "Error: a dimension is given twice"),
    (["metrics", "report", "--from", "tuesday"], 2, "错误：--from：不是时间：'tuesday'", None),
]


@pytest.mark.parametrize("args,code,zh,en", REFUSALS, ids=[" ".join(r[0]) for r in REFUSALS])
def test_refusals_by_their_key(cli, monkeypatch, args, code, zh, en):
    cli("shop", "create", "s", "--name", "翎衣女装")
    cli("agent", "create", "a", "--name", "小美", "--shop", "s")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli(*args)
    assert result.exit_code == code and result.stderr.startswith(zh), result.stderr
    assert not any(w in result.stderr for w in ENGLISH_IN_CHINESE), result.stderr
    monkeypatch.setenv("CSTOOL_LANG", "en")
    result = cli(*args)
    assert result.exit_code == code
    if en is not None:
        assert result.stderr == en + "\n"


def test_a_file_with_a_duplicate_key_speaks_chinese(cli, monkeypatch, tmp_path):
    doc = tmp_path / "d.yaml"
    doc.write_text("shops:\n  - key: s\n    name: 店\n  - key: s\n    name: 店二\n",
                   encoding="utf-8")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli("apply", "-f", str(doc))
    assert result.exit_code == 1
    assert "shops[1].key：键 's' 重复（shops[0] 也用了它）" in result.stderr, result.stderr


def test_a_refusal_of_rights_names_the_caller_in_the_language(db_path, monkeypatch):
    """Principal.describe: 客服 'a' in Chinese, agent 'a' in English, through the API."""
    served = serve(db_path)
    try:
        served.backend.apply({"shops": [{"key": "s", "name": "店"}],
                              "agents": [{"handle": "a", "name": "小美", "shops": ["s"]}]})
        secret = TokenStore(served.backend).create_token("a", "agent")["token"]
        env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": secret}
        args = ["shop", "create", "t", "--name", "新店"]
        zh = CliRunner().invoke(app, args, env={**env, "CSTOOL_LANG": "zh"})
        en = CliRunner().invoke(app, args, env={**env, "CSTOOL_LANG": "en"})
    finally:
        served.close()
    assert (zh.exit_code, zh.stderr) == (1, "错误：客服 'a' 不能修改记录；这需要主管权限\n")
    assert (en.exit_code, en.stderr) == (
        1, "Error: agent 'a' may not change records; that needs a supervisor\n")
