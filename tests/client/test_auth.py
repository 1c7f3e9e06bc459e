"""Credentials: JWTs checked with PyJWT, environment and .env, secrets never shown."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import subprocess
import sys

import jwt
import pytest

from engagement_kit.client.auth import (
    TOKEN_WARNING,
    Credentials,
    credentials_from_env,
    mint_token_for_cli,
)
from engagement_kit.errors import ConfigError

CLIENT_ID = "cs-5f0c2c4e-1234-5678-9abc-0123456789ab"
SECRET = "canary-SECRET-0123456789abcdefghijklmnopqrstuv"  # >= 32 bytes for HS256
NOW = 1_765_000_000.0


def decode(token: str, **kwargs) -> dict:
    return jwt.decode(token, SECRET, algorithms=["HS256"], **kwargs)


def test_minted_token_is_hs256_with_the_platform_claims():
    token = Credentials(CLIENT_ID, SECRET, subject="analyst-1", ttl=300).token(now=NOW)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = decode(token, options={"verify_exp": False})
    assert claims["appId"] == CLIENT_ID
    assert claims["sub"] == "analyst-1"
    assert claims["iat"] == int(NOW)
    assert claims["exp"] == int(NOW) + 300
    assert set(claims) == {"sub", "appId", "iat", "exp", "jti"}


def test_token_signed_with_another_secret_fails_verification():
    token = Credentials(CLIENT_ID, SECRET).token()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "another-secret-of-at-least-32-bytes!!", algorithms=["HS256"])
    assert decode(token)["appId"] == CLIENT_ID  # and it is valid now (exp in the future)


def test_every_token_has_a_fresh_jti_when_jti_is_enforced():
    creds = Credentials(CLIENT_ID, SECRET)
    tokens = [creds.token(now=NOW) for _ in range(50)]
    jtis = {decode(t, options={"verify_exp": False})["jti"] for t in tokens}
    assert len(jtis) == 50


def test_without_jti_a_token_is_reused_then_reminted_before_expiry():
    creds = Credentials(CLIENT_ID, SECRET, ttl=300, enforce_jti=False)
    first = creds.token(now=NOW)
    assert "jti" not in decode(first, options={"verify_exp": False})
    assert creds.token(now=NOW + 200) == first  # well inside its life
    margin = creds.margin
    assert margin == 60
    renewed = creds.token(now=NOW + 300 - margin)  # the margin reached: re-minted
    assert renewed != first
    claims = decode(renewed, options={"verify_exp": False})
    assert claims["iat"] == int(NOW + 300 - margin)
    assert claims["exp"] > NOW + 300  # outlives the first token


def test_now_may_be_an_aware_datetime_but_not_a_naive_one():
    when = dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
    token = Credentials(CLIENT_ID, SECRET).token(now=when)
    assert decode(token, options={"verify_exp": False})["iat"] == int(when.timestamp())
    with pytest.raises(ValueError, match="timezone-aware"):
        Credentials(CLIENT_ID, SECRET).token(now=dt.datetime(2025, 12, 1))


def test_ready_made_token_is_used_as_is():
    ready = jwt.encode({"sub": "x", "appId": "y", "exp": int(NOW) + 60}, SECRET, algorithm="HS256")
    creds = Credentials(token=ready)
    assert creds.token(now=NOW) == ready
    assert creds.mode == "token" and creds.client_id is None


def test_expired_ready_made_token_is_refused_without_showing_it():
    ready = jwt.encode({"sub": "x", "appId": "y", "exp": int(NOW) - 1}, SECRET, algorithm="HS256")
    with pytest.raises(ConfigError, match="expired") as info:
        Credentials(token=ready).token(now=NOW)
    assert ready not in str(info.value)
    assert "KORE_CLIENT_ID" in str(info.value)


def test_opaque_or_encrypted_token_is_passed_through():
    jwe_like = "aaaa.bbbb.cccc.dddd.eeee"
    assert Credentials(token=jwe_like).token() == jwe_like


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({}, ["client_id", "client_secret", "KORE_CLIENT_ID", "KORE_JWT"]),
        ({"client_id": CLIENT_ID}, ["client_secret"]),
        ({"client_secret": SECRET}, ["client_id"]),
        ({"client_id": " ", "client_secret": SECRET}, ["client_id"]),
        ({"token": ""}, ["token"]),
    ],
)
def test_missing_credentials_name_what_to_give(kwargs, names):
    with pytest.raises(ConfigError) as info:
        Credentials(**kwargs)
    for name in names:
        assert name in str(info.value)
    assert SECRET not in str(info.value)


def test_token_and_secret_together_are_refused():
    with pytest.raises(ConfigError, match="not both"):
        Credentials(CLIENT_ID, SECRET, token="abc")


@pytest.mark.parametrize("ttl", [0, 5, 86_401, 30.5, True])
def test_ttl_is_checked(ttl):
    with pytest.raises(ConfigError, match="ttl"):
        Credentials(CLIENT_ID, SECRET, ttl=ttl)


def test_repr_and_str_never_show_secret_or_token():
    creds = Credentials(CLIENT_ID, SECRET)
    token = creds.token()
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text
        assert token not in text
        assert "<hidden>" in text
    assert CLIENT_ID in repr(creds)  # the client id is not a secret and helps debugging
    ready = Credentials(token=token)
    assert token not in repr(ready) and token not in str(ready)


def test_credentials_cannot_be_pickled():
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(Credentials(CLIENT_ID, SECRET))


# -- the environment and .env ------------------------------------------------------------------
def test_from_env_prefers_a_ready_made_token():
    env = {"KORE_JWT": "tok.en.x", "KORE_CLIENT_ID": CLIENT_ID, "KORE_CLIENT_SECRET": SECRET}
    creds = credentials_from_env(env, dotenv=False)
    assert creds.mode == "token" and creds.token() == "tok.en.x"


def test_from_env_with_client_id_and_secret():
    creds = credentials_from_env(
        {"KORE_CLIENT_ID": CLIENT_ID, "KORE_CLIENT_SECRET": SECRET}, dotenv=False
    )
    assert decode(creds.token())["appId"] == CLIENT_ID


def test_from_env_reads_os_environ_by_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KORE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("KORE_CLIENT_SECRET", SECRET)
    assert credentials_from_env().client_id == CLIENT_ID


def test_from_env_reads_dotenv_in_the_current_directory(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(
        f"# comment\nKORE_CLIENT_ID={CLIENT_ID}\nKORE_CLIENT_SECRET='{SECRET}'\n"
    )
    monkeypatch.chdir(tmp_path)
    creds = credentials_from_env({})
    assert creds.client_id == CLIENT_ID
    assert decode(creds.token())["appId"] == CLIENT_ID  # the quoted secret was unquoted
    with pytest.raises(ConfigError):
        credentials_from_env({}, dotenv=False)  # and without the file there is nothing


def test_environment_wins_over_dotenv(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text(f"KORE_CLIENT_ID=from-file\nKORE_CLIENT_SECRET={SECRET}\n")
    monkeypatch.chdir(tmp_path)
    creds = credentials_from_env({"KORE_CLIENT_ID": "from-env"})
    assert creds.client_id == "from-env"


def test_dotenv_may_be_an_explicit_path(tmp_path):
    path = tmp_path / "team.env"
    path.write_text("KORE_JWT=abc.def.ghi\n")
    assert credentials_from_env({}, dotenv=path).token() == "abc.def.ghi"
    with pytest.raises(ConfigError, match="no such settings file"):
        credentials_from_env({}, dotenv=tmp_path / "missing.env")


def test_missing_env_names_the_variables_and_the_example(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        credentials_from_env({})
    text = str(info.value)
    for name in ("KORE_CLIENT_ID", "KORE_CLIENT_SECRET", "KORE_JWT", ".env.example"):
        assert name in text


@pytest.mark.parametrize(
    ("env", "have", "lack"),
    [
        ({"KORE_CLIENT_ID": CLIENT_ID}, "KORE_CLIENT_ID", "KORE_CLIENT_SECRET"),
        ({"KORE_CLIENT_SECRET": SECRET}, "KORE_CLIENT_SECRET", "KORE_CLIENT_ID"),
        (
            {"KORE_CLIENT_ID": CLIENT_ID, "KORE_CLIENT_SECRET": ""},
            "KORE_CLIENT_ID",
            "KORE_CLIENT_SECRET",
        ),
    ],
)
def test_half_configured_env_says_which_variable_is_missing(env, have, lack):
    with pytest.raises(ConfigError, match=f"{have} is set but {lack} is not") as info:
        credentials_from_env(env, dotenv=False)
    assert SECRET not in str(info.value)


def test_nothing_is_read_at_import(tmp_path):
    # a .env that cannot be parsed and a store path that cannot be created: importing the
    # modules must touch neither (settings are read when first needed, never at import)
    (tmp_path / ".env").write_bytes(b"\xff\xfe not text")
    env = {"PATH": os.environ.get("PATH", ""), "ENGAGEMENT_KIT_STORE": "/proc/nope/x.sqlite3"}
    code = (
        "import engagement_kit.client.auth, engagement_kit.client, engagement_kit.config.streams, "
        "engagement_kit.store; print('ok')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_mint_token_for_cli(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    token = mint_token_for_cli({"KORE_CLIENT_ID": CLIENT_ID, "KORE_CLIENT_SECRET": SECRET})
    assert decode(token)["appId"] == CLIENT_ID
    assert "secret" in TOKEN_WARNING
    with pytest.raises(ConfigError, match="KORE_CLIENT_ID"):
        mint_token_for_cli({})
