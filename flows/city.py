"""The city dataflow: every input topic in, incidents out to Redis and the alerts topic.

Run it with ``python -m bytewax.run "flows.city:build_flow()"`` (settings from ``kendali.toml``
and ``KENDALI_*``), or through ``kendali run``. Step ids are part of the recovery schema: renaming
one orphans its state, so a rename is a changelog entry.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import bytewax.operators as op
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage
from bytewax.connectors.kafka import operators as kop
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.outputs import Sink

from detectors.hydromet import HydrometBank
from detectors.incidents import IncidentBook
from detectors.reports import ReportBank, report_key
from detectors.traffic import TrafficBank, corridors
from flows.bank_logic import bank_builder
from geo.locate import locate
from kendali.actions import Action, decode_action
from kendali.city import City, load_city
from kendali.codec import Rejected
from kendali.records import DeadLetter, Incident, Signal, TrafficReading
from kendali.settings import Settings, load_settings
from kendali.store import incident_json
from sinks.redis_incidents import RedisIncidentSink
from sinks.redis_series import RedisSeriesSink, SensorPoint
from sources.cap import CapError, cap_to_signals, parse_cap
from sources.kafka_decode import Decoded, Decoder

__all__ = ["FlowSinks", "build_flow"]

TICK = timedelta(seconds=2)
#: Report clusters, gauges and the incident book see their inputs in event-time order whatever
#: the batch cuts (flows/bank_logic.OrderedBankLogic), so a replay after a crash reproduces the
#: same ids. Traffic banks need no reordering: a detector's readings share one partition.
ORDER_WAIT = timedelta(seconds=1)
#: Signals of one event from different banks reach the book within milliseconds of each other;
#: a short wait keeps them ordered without adding much to the event-to-incident latency.
FUSION_WAIT = timedelta(milliseconds=250)


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


class _Router:
    """Known-entity checks and keys per stream; unknown entities become dead letters."""

    def __init__(self, city: City, traffic_shards: int):
        self.city = city
        chains = corridors(city.detectors)
        self.shard_of = {
            det: f"traffic-{zlib.crc32(chain.encode()) % traffic_shards}"
            for det, chain in chains.items()
        }

    def traffic_bank(self, first: TrafficReading) -> TrafficBank:
        """The bank of the first reading's shard, holding exactly that shard's detectors."""
        shard = self.shard_of[first.detector_id]
        mine = {d: det for d, det in self.city.detectors.items() if self.shard_of[d] == shard}
        return TrafficBank(mine, self.city.tz)

    def traffic(self, item: Decoded):
        reading = item.record
        if reading.detector_id not in self.city.detectors:
            return item.reject(f"unknown detector {reading.detector_id!r}")
        return (self.shard_of[reading.detector_id], (item.partition, reading))

    def hydromet(self, item: Decoded):
        reading = item.record
        if reading.station not in self.city.gauges:
            return item.reject(f"unknown station {reading.station!r}")
        return ("hydromet", (item.partition, reading))

    def complaints(self, item: Decoded):
        located = locate(item.record, self.city)
        if isinstance(located, str):
            return item.reject(located)
        report = replace(item.record, lat=located.lat, lon=located.lon)
        return (report_key(report), (item.partition, report))

    def zone(self, signal: Signal) -> tuple[str, tuple[None, Signal]]:
        if signal.zone is None:
            signal = replace(signal, zone=self.city.zone_of(signal.lon, signal.lat))
        return (signal.zone or "outside", (None, signal))


def _action_by_zone(item: Decoded) -> tuple[str, tuple[None, Action]]:
    """Operator actions go to the incident book of their incident's zone (as signals do)."""
    return (item.record.zone or "outside", (None, item.record))


def _sensor_point(item: Decoded) -> SensorPoint | None:
    rec = item.record
    if item.stream == "traffic":
        values = {"volume": rec.volume, "occupancy": rec.occupancy, "speed": rec.speed}
        return SensorPoint("atcs", f"atcs:{rec.detector_id}", rec.ts.timestamp(), values)
    if item.stream == "hydromet":
        values = {"level_cm": rec.level_cm, "rain_mm": rec.rain_mm}
        return SensorPoint("hydromet", f"gauge:{rec.station}", rec.ts.timestamp(), values)
    if item.stream == "complaints":
        return SensorPoint("reports", "reports", rec.ts.timestamp(), {})
    return None


def build_flow(
    settings: Settings | None = None,
    *,
    source: Source | None = None,
    sinks: FlowSinks | None = None,
    city: City | None = None,
) -> Dataflow:
    """The whole city pipeline; ``source`` (of ``KafkaSourceMessage``) and ``sinks`` for tests."""
    settings = settings or load_settings()
    city = city or load_city(settings.city)
    sinks = sinks or default_sinks(settings)
    topics = settings.topics
    route = _Router(city, settings.flow.traffic_shards)
    flow = Dataflow("kendali")

    if source is None:
        kafka_in = kop.input(
            "in",
            flow,
            brokers=[settings.kafka.bootstrap],
            topics=list(settings.input_topics()),
            add_config=settings.kafka.config,
            batch_size=settings.flow.batch_size,
        )
        messages = op.merge("in_all", kafka_in.oks, kafka_in.errs)
    else:
        messages = op.input("in", flow, source)
    # messages: KafkaSourceMessage | KafkaError
    decoder = Decoder(
        topics,
        settings.flow.limits,
        extra={
            topics.warnings: ("warnings", _cap_decoder),
            topics.actions: ("actions", decode_action),
        },
    )
    decoded = op.flat_map_batch("decode", messages, decoder)
    # decoded: Decoded | DeadLetter
    valid = op.branch("valid", decoded, lambda x: isinstance(x, Decoded))
    by_stream = {
        name: op.filter(f"is_{name}", valid.trues, lambda x, n=name: x.stream == n)
        for name in ("traffic", "hydromet", "complaints", "warnings", "actions")
    }
    op.output("series_out", op.filter_map("sensor", valid.trues, _sensor_point), sinks.series)

    keyed = {
        name: op.branch(
            f"known_{name}",
            op.map(f"route_{name}", by_stream[name], fn),
            lambda x: not isinstance(x, DeadLetter),
        )
        for name, fn in (
            ("traffic", route.traffic),
            ("hydromet", route.hydromet),
            ("complaints", route.complaints),
        )
    }
    # keyed[*].trues: (key, (partition, record)); keyed[*].falses: DeadLetter (unknown entity)

    tz = city.tz
    by_partition = {"partitions": tuple(range(topics.partitions)), "max_wait": ORDER_WAIT}
    traffic_signals = op.stateful_batch(
        "traffic_detect",
        keyed["traffic"].trues,
        bank_builder(route.traffic_bank, TICK),
    )
    gauges, flood_areas = city.gauges, city.flood_areas
    hydromet_signals = op.stateful_batch(
        "hydromet_detect",
        keyed["hydromet"].trues,
        bank_builder(lambda _: HydrometBank(gauges, flood_areas, tz), TICK, ordered=by_partition),
    )
    report_signals = op.stateful_batch(
        "reports_detect",
        keyed["complaints"].trues,
        bank_builder(lambda _: ReportBank(city), TICK, ordered=by_partition),
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
    # signals: Signal
    routing = dict(city.routing)
    incidents = op.key_rm(
        "incidents_out",
        op.stateful_batch(
            "incidents",
            op.merge(
                "zone_items",
                op.map("by_zone", signals, route.zone),
                op.map("actions_by_zone", by_stream["actions"], _action_by_zone),
            ),
            bank_builder(
                lambda _: IncidentBook.for_city(routing, city.folder),
                TICK,
                ordered={"max_wait": FUSION_WAIT},
            ),
        ),
    )
    # incidents: Incident, one per new version
    op.output("redis_out", incidents, sinks.incidents)
    op.output("alerts_out", op.map("alert_msg", incidents, _alert_message), sinks.alerts)

    dead = op.merge("dead", valid.falses, *(k.falses for k in keyed.values()))
    op.output("dlq_out", op.map("dlq_msg", dead, _dead_letter_message), sinks.deadletters)
    return flow
