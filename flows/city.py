"""The city dataflow: every input topic in, incidents out to Redis and the alerts topic.

Run it with ``python -m bytewax.run "flows.city:build_flow()"`` (settings from ``kendali.toml``
and ``KENDALI_*``), or through ``kendali run``. Step ids are part of the recovery schema: renaming
one orphans its state, so a rename is a changelog entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from detectors.hydromet import HydrometBank
from detectors.incidents import IncidentBook
from detectors.reports import ReportBank
from flows.bank_logic import Gather, Tick, bank_builder
from flows.routing import Router, SeriesBatch, TrafficBatch
from kendali.actions import decode_action
from kendali.city import City, load_city
from kendali.codec import Rejected
from kendali.records import DeadLetter, Incident
from kendali.runtime import tune_gc, tune_gil
from kendali.settings import Settings, load_settings
from kendali.store import incident_json
from sinks.redis_incidents import RedisIncidentSink
from sinks.redis_series import RedisSeriesSink
from sources.cap import CapError, cap_to_signals, parse_cap
from sources.kafka_batches import KafkaBatchSource
from sources.kafka_decode import Decoded, Decoder

__all__ = ["FlowSinks", "build_flow"]

TICK = timedelta(seconds=2)
#: Report clusters, gauges and the incident book see their inputs in event-time order whatever
#: the batch cuts (flows/bank_logic.OrderedBankLogic), so a replay after a crash reproduces the
#: same ids. Traffic banks get theirs in event-time order across partitions (a detector's
#: readings share one partition, but its downstream neighbour's may sit in another).
ORDER_WAIT = timedelta(seconds=1)
#: Signals of one event from different banks reach the book within milliseconds of each other;
#: a short wait keeps them ordered. Every signal waits this long (the book has no watermark), so
#: it is most of the event-to-incident latency: traced at 155k readings/s, a reading's signal
#: left its bank ~150 ms after production and reached the book's output 250 ms + ~45 ms later
#: with a 250 ms wait (p99 514 ms); 200 ms here and a 20 ms gather gave p99 334-385 ms.
FUSION_WAIT = timedelta(milliseconds=200)
#: Traffic banks are called with at least this many readings, or after this wait: a call has a
#: fixed numpy cost that small batches (each poll is cut into one batch per shard) repeat. When
#: catching up the rows fill a call at once; live, the wait is what a reading waits.
#: Readings are released in event-time order across partitions (flows/bank_logic.Gather).
GATHER_ROWS, GATHER_WAIT = 1024, timedelta(milliseconds=20)


@dataclass(frozen=True)
class FlowSinks:
    """Where the flow writes; tests replace these with ``TestingSink``s."""

    incidents: Sink
    alerts: Sink
    deadletters: Sink
    series: Sink


def default_sinks(settings: Settings) -> FlowSinks:
    brokers = [settings.kafka.bootstrap]
    conf = {"message.max.bytes": 10_000_000, **settings.kafka.config}
    redis = settings.redis
    return FlowSinks(
        incidents=RedisIncidentSink(
            redis.url, redis.prefix, redis.stream_maxlen, redis.closed_retention_s
        ),
        alerts=KafkaSink(brokers, settings.topics.alerts, add_config=conf),
        deadletters=KafkaSink(brokers, settings.topics.deadletter, add_config=conf),
        series=RedisSeriesSink(redis.url, redis.prefix),
    )


def _dead_letter_message(dl: DeadLetter) -> KafkaSinkMessage:
    headers = [("kendali.reason", dl.reason.encode()), ("kendali.topic", dl.topic.encode())]
    if dl.partition is not None:
        headers.append(("kendali.partition", str(dl.partition).encode()))
    if dl.offset is not None:
        headers.append(("kendali.offset", str(dl.offset).encode()))
    return KafkaSinkMessage(dl.key, dl.value, headers=headers)


def _alert_message(incident: Incident) -> KafkaSinkMessage:
    return KafkaSinkMessage(incident.id.encode(), incident_json(incident))


def _cap_decoder(raw: bytes | None):
    try:
        return parse_cap(raw or b"")
    except CapError as exc:
        return Rejected(f"invalid CAP: {exc}")


def build_flow(
    settings: Settings | None = None,
    *,
    source: Source | None = None,
    sinks: FlowSinks | None = None,
    city: City | None = None,
    tail: bool = True,
) -> Dataflow:
    """The whole city pipeline; ``source`` (of ``MessageBatch`` or ``KafkaSourceMessage``) and
    ``sinks`` for tests.

    ``tail=False`` ends at the current end of the input topics (backfills, benchmarks).
    """
    settings = settings or load_settings()
    city = city or load_city(settings.city)
    sinks = sinks or default_sinks(settings)
    topics = settings.topics
    route = Router(city, settings.flow.traffic_shards)
    flow = Dataflow("kendali")

    source = source or KafkaBatchSource(
        [settings.kafka.bootstrap],
        list(settings.input_topics()),
        tail=tail,
        add_config={**settings.kafka.config, **settings.flow.consumer_config},
        batch_size=settings.flow.batch_size,
    )
    messages = op.input("in", flow, source)
    # messages: MessageBatch (one per partition per poll), or KafkaSourceMessage | KafkaError
    decoder = Decoder(
        topics,
        settings.flow.limits,
        extra={
            topics.warnings: ("warnings", _cap_decoder),
            topics.actions: ("actions", decode_action),
        },
        detectors=route.codes,
    )
    decoded = op.flat_map_batch("decode", messages, lambda batch: route.batch(decoder(batch)))
    # decoded: DeadLetter | Decoded (not ATCS) | TrafficBatch | SeriesBatch, per source batch
    by_stream = {
        name: op.filter(
            f"is_{name}", decoded, lambda x, n=name: type(x) is Decoded and x.stream == n
        )
        for name in ("hydromet", "complaints", "warnings", "actions")
    }
    traffic = op.filter_map(
        "traffic_batches",
        decoded,
        lambda x: (x.shard, (x.partition, x.readings)) if type(x) is TrafficBatch else None,
    )
    # traffic: (shard, (partition, TrafficColumns))
    series = op.filter_map(
        "series_batches", decoded, lambda x: x.points if type(x) is SeriesBatch else None
    )
    keyed = {
        name: op.branch(
            f"known_{name}",
            op.map(f"route_{name}", by_stream[name], fn),
            lambda x: not isinstance(x, DeadLetter),
        )
        for name, fn in (("hydromet", route.hydromet), ("complaints", route.complaints))
    }
    # keyed[*].trues: (key, (partition, record)); keyed[*].falses: DeadLetter (unknown entity)

    tz = city.tz
    by_partition = {"partitions": tuple(range(topics.partitions)), "max_wait": ORDER_WAIT}
    traffic_signals = op.stateful_batch(
        "traffic_detect",
        traffic,
        bank_builder(
            route.traffic_bank,
            TICK,
            ticks=True,
            gather=Gather(GATHER_ROWS, GATHER_WAIT, by_partition["partitions"], ORDER_WAIT),
            adopt=route.adopt_traffic_bank,
        ),
    )
    gauges, flood_areas = city.gauges, city.flood_areas
    hydromet_signals = op.stateful_batch(
        "hydromet_detect",
        keyed["hydromet"].trues,
        bank_builder(
            lambda _: HydrometBank(gauges, flood_areas, tz),
            TICK,
            ordered=by_partition,
            ticks=True,
            adopt=lambda bank, now: bank.adopt(gauges, flood_areas, now),
        ),
    )
    report_signals = op.stateful_batch(
        "reports_detect",
        keyed["complaints"].trues,
        bank_builder(
            lambda _: ReportBank(city),
            TICK,
            ordered=by_partition,
            ticks=True,
            adopt=lambda bank, _now: bank.adopt(city),
        ),
    )
    warning_signals = op.flat_map(
        "cap_signals",
        by_stream["warnings"],
        lambda d: cap_to_signals(d.record, city.zone_index, city.name, datetime.now(UTC)),
    )
    signals = op.merge(
        "signals",
        op.key_rm("traffic_sig", traffic_signals),
        op.key_rm("hydromet_sig", hydromet_signals),
        op.key_rm("reports_sig", report_signals),
        warning_signals,
    )
    # signals: Signal | Tick (each bank's clock, every TICK)
    # The series sink writes at most once a second; the banks' ticks (empty lists) let it write
    # what it holds when no new readings come, so freshness and sparklines never lag behind.
    flushes = op.filter_map("series_flush", signals, lambda x: [] if type(x) is Tick else None)
    op.output("series_out", op.merge("series_all", series, flushes), sinks.series)
    routing = dict(city.routing)

    def book() -> IncidentBook:
        return IncidentBook.for_city(routing, city.folder)

    incidents = op.key_rm(
        "incidents_out",
        op.stateful_batch(
            "incidents",
            op.merge(
                "zone_items",
                op.flat_map("by_zone", signals, route.zone),
                op.map("actions_by_zone", by_stream["actions"], route.action),
            ),
            bank_builder(
                lambda _: book(),
                TICK,
                ordered={"max_wait": FUSION_WAIT},
                adopt=lambda held, _now: held.adopt(book()),
            ),
        ),
    )
    # incidents: Incident, one per new version
    op.output("redis_out", incidents, sinks.incidents)
    op.output("alerts_out", op.map("alert_msg", incidents, _alert_message), sinks.alerts)

    dead_in = op.filter("dead_in", decoded, lambda x: type(x) is DeadLetter)
    dead = op.merge("dead", dead_in, *(k.falses for k in keyed.values()))
    op.output("dlq_out", op.map("dlq_msg", dead, _dead_letter_message), sinks.deadletters)
    tune_gc(settings.flow.gc_threshold)  # last: the built flow and the city are long-lived
    tune_gil(settings.flow.gil_switch_ms)
    return flow
