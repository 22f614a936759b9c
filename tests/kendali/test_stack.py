"""The embedded stack: real servers come up, topics get their partitions, errors are clear."""

from __future__ import annotations

import dataclasses
import socket

import pytest
import redis
from confluent_kafka.admin import AdminClient

from kendali.settings import Settings
from kendali.stack import EmbeddedStack, StackError, create_topics
from tests.support import free_port

pytestmark = pytest.mark.integration


def test_session_stack_serves_kafka_and_redis(stack):
    assert redis.Redis.from_url(stack.redis_url).ping()
    create_topics(stack.bootstrap, {"stack.test": 3})
    create_topics(stack.bootstrap, {"stack.test": 3})  # idempotent
    meta = AdminClient({"bootstrap.servers": stack.bootstrap}).list_topics(timeout=10)
    assert len(meta.topics["stack.test"].partitions) == 3


def _settings(tmp_path, kafka_port: int, redis_port: int) -> Settings:
    base = Settings()
    return dataclasses.replace(
        base,
        embedded=dataclasses.replace(
            base.embedded, kafka_port=kafka_port, redis_port=redis_port, workdir=str(tmp_path)
        ),
    )


def test_taken_port_is_a_clear_error_and_nothing_is_left_running(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = EmbeddedStack(_settings(tmp_path, port, free_port()))
        with pytest.raises(StackError, match=f"port {port} for the broker is taken"):
            stack.start()
    assert not stack.procs, "redis started before the failure must have been stopped"


def test_missing_broker_binary_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KENDALI_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    stack = EmbeddedStack(_settings(tmp_path, free_port(), free_port()))
    with pytest.raises(StackError, match=r"cannot start broker .*no-such-tansu"):
        stack.start()
    assert not stack.procs
