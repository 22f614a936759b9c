"""Line rate: the ATCS path against the Kafka client's own limit, in one run (issue 8).

``kendali bench throughput --out DIR [--quick]`` starts its own broker and Redis on free ports
(or uses ``--bootstrap``/``--redis-url``), pre-loads a topic with deterministic readings of a
synthetic city (:mod:`benchmarks.throughput_data`) and measures:

* A, the limit: a plain ``confluent-kafka`` batch consumer decoding with ``orjson``;
* B, Kendali: the production city flow (:func:`flows.city.build_flow`, production sinks and
  recovery), with 1 and 2 Bytewax processes, and that both produce the same incidents;
* B from memory (``B1-replay``, ``B2-replay``): the same flow, each process first reading its
  partitions to the end and then replaying them from memory, so that the broker sits idle while
  the flow runs. On a machine of few cores the broker's delivery caps B with 2 processes (A in
  2 processes gets no more than A), and this is how the flow's own scaling shows;
* C, the common pattern: ``stateful_map`` with a river ``GaussianScorer`` per detector, read
  and run as such a flow is written (``KafkaSource``'s batch of 1,000, Python's GC), and again
  with Kendali's ``flow.batch_size`` and ``flow.gc_threshold`` (``C-tuned``), like for like;
* D, the examples' pattern: a river ``HalfSpaceTrees`` per detector, at several detector counts;

then the state size per detector (a pickled traffic bank, as snapshotted) and the
event-to-incident latency of B at half its rate, paced for 15 s, beside the broker's own
delivery latency of the same readings at the same rate. A, B and C run several times,
interleaved, and each is rated by its best run: the VM is shared, and others can slow a run
down, not speed it up. Results: ``throughput.json``, ``throughput.md``, ``throughput.png`` in
``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pickle
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.throughput_data import base_city, readings, synthetic_city
from benchmarks.throughput_kafka import consume_limit, consume_limit_processes, preload
from benchmarks.throughput_latency import latency_probe
from benchmarks.throughput_paths import model_bytes
from benchmarks.throughput_report import chart, markdown
from benchmarks.throughput_run import (
    differences,
    digest,
    free_ports,
    incident_log,
    machine,
    run_flow,
    run_flows_at_once,
)
from detectors.traffic import TrafficBank
from kendali.codec import decode_traffic
from kendali.settings import Settings
from kendali.stack import EmbeddedStack, create_topics

__all__ = ["main"]

#: Sizes of a full run and of ``--quick`` (CI: every path runs, counts are compared).
FULL = {
    "detectors": 10_000,
    "readings": 2_000_000,
    "seconds": 60.0,
    "examples": (100, 300, 1_000),
    "examples_seconds": 20.0,
    "identity_detectors": 2_000,
    "identity_rounds": 60,
    "state_detectors": 100_000,
    "ablations": ("detect", "detect+sinks"),
    "repeats": 3,
    "latency_seconds": 15.0,
}
QUICK = {
    "detectors": 500,
    "readings": 25_000,
    "seconds": None,
    "examples": (50,),
    "examples_seconds": None,
    "identity_detectors": 250,
    "identity_rounds": 50,
    "state_detectors": 1_000,
    "ablations": (),
    "repeats": 1,
    "latency_seconds": None,
}
SEED = 7
#: Planted incidents in the identity topic: one corridor in this many detectors.
IDENTITY_EVERY = 25


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kendali bench throughput",
        description="ATCS line rate: Kafka client limit vs Kendali vs common Bytewax patterns.",
    )
    p.add_argument("--out", required=True, type=Path, help="folder for throughput.json/md/png")
    p.add_argument("--quick", action="store_true", help="small sizes for CI (about a minute)")
    p.add_argument("--readings", type=int, help="readings in the main topic (default 2,000,000)")
    p.add_argument("--detectors", type=int, help="synthetic detectors (default 10,000)")
    p.add_argument("--seconds", type=float, help="measure each flow at most this long")
    p.add_argument(
        "--latency-seconds",
        type=float,
        help="pace the latency phase for this long (default 15; --quick: one incident's rounds)",
    )
    p.add_argument("--bootstrap", help="use this Kafka broker instead of starting one")
    p.add_argument("--redis-url", help="use this Redis instead of starting one")
    return p


@contextlib.contextmanager
def _servers(args, workdir: Path) -> Iterator[tuple[str, str]]:
    if args.bootstrap and args.redis_url:
        yield args.bootstrap, args.redis_url
        return
    if args.bootstrap or args.redis_url:
        raise ValueError("give both --bootstrap and --redis-url, or neither")
    base = Settings()
    kafka_port, redis_port = free_ports(2)
    embedded = dataclasses.replace(
        base.embedded, kafka_port=kafka_port, redis_port=redis_port, workdir=str(workdir)
    )
    with EmbeddedStack(dataclasses.replace(base, embedded=embedded)) as stack:
        yield stack.bootstrap, stack.redis_url


def _settings(bootstrap: str, redis_url: str, tag: str) -> Settings:
    """Production settings on these servers, with topics and Redis prefix of their own."""
    base = Settings()
    topics = dataclasses.replace(
        base.topics,
        **{
            f.name: f"{getattr(base.topics, f.name)}.{tag}"
            for f in dataclasses.fields(base.topics)
            if f.name != "partitions"
        },
    )
    settings = dataclasses.replace(
        base,
        topics=topics,
        kafka=dataclasses.replace(base.kafka, bootstrap=bootstrap),
        redis=dataclasses.replace(base.redis, url=redis_url, prefix=f"bench-{tag}"),
    )
    create_topics(bootstrap, {t: topics.partitions for t in settings.all_topics()})
    return settings


def _state_bytes(n: int) -> float:
    """Bytes per detector of a traffic bank's snapshot after one round of readings."""
    city = synthetic_city(base_city(), n, SEED)
    bank = TrafficBank(city.detectors, city.tz)
    batch = [decode_traffic(value, now=None) for _, value in readings(city, 1, SEED)]
    bank.process(batch)
    return len(pickle.dumps((bank, batch[-1].ts), protocol=pickle.HIGHEST_PROTOCOL)) / n


def _examples(bootstrap, redis_url, tag, sizes, workdir) -> dict[str, float]:
    """Path D at each detector count, on a topic of that many detectors."""
    out = {}
    for n in sizes["examples"]:
        s = _settings(bootstrap, redis_url, f"{tag}-d{n}")
        rounds = max(3, 30_000 // n) if sizes["examples_seconds"] else 10
        preload(bootstrap, s.topics.traffic, readings(synthetic_city(base_city(), n, SEED), rounds))
        stats = run_flow(
            f"D{n}", "D", s, workdir, detectors=n, seed=SEED, seconds=sizes["examples_seconds"]
        )
        _progress(f"D ({n} detectors): {stats['rps']:,.0f} readings/s")
        out[str(n)] = stats
    return out


def _identity(bootstrap, redis_url, tag, sizes, workdir, by_corridor) -> tuple[dict, dict]:
    """Run B to the end of one topic with 1 and 2 processes; compare the incidents."""
    n, rounds = sizes["identity_detectors"], sizes["identity_rounds"]
    tag = f"{tag}-id{'c' if by_corridor else 'd'}"
    base = _settings(bootstrap, redis_url, tag)
    city = synthetic_city(base_city(), n, SEED)
    data = readings(city, rounds, SEED, every=IDENTITY_EVERY, by_corridor=by_corridor)
    preload(bootstrap, base.topics.traffic, data)
    logs, stats = {}, {}
    for procs in (1, 2):
        s = dataclasses.replace(
            base, redis=dataclasses.replace(base.redis, prefix=f"{base.redis.prefix}-w{procs}")
        )
        stats[str(procs)] = run_flow(
            f"{tag}-w{procs}", "B", s, workdir, processes=procs, detectors=n, seed=SEED
        )
        logs[procs] = incident_log(redis_url, s.redis.prefix)
    same = digest(logs[1]) == digest(logs[2])
    ids = {i["id"] for i in logs[1]}
    keys = "corridor" if by_corridor else "detector"
    _progress(f"identity ({keys} keys): {len(ids)} incidents, same with 1 and 2 processes: {same}")
    result = {
        "identical": same,
        "incidents": len(ids),
        "versions": len(logs[1]),
        "same_ids": ids == {i["id"] for i in logs[2]},
        "readings": n * rounds,
        "keys": keys,
        "differences": differences(logs[1], logs[2]),
    }
    return result, stats


def _sizes(args) -> dict:
    sizes = dict(QUICK if args.quick else FULL)
    for name in ("readings", "detectors", "seconds", "latency_seconds"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    sizes["rounds"] = max(1, sizes["readings"] // sizes["detectors"])
    sizes["readings"] = sizes["rounds"] * sizes["detectors"]
    return sizes


def _rates(main: Settings, sizes: dict, workdir: Path) -> tuple[dict, dict]:
    """Paths A, B (1 and 2 processes, from the broker and from memory), C and B's ablations on
    the pre-loaded main topic."""
    bootstrap, topic = main.kafka.bootstrap, main.topics.traffic
    single = consume_limit(bootstrap, topic)  # one consumer for all partitions: the slower loop
    _progress(f"A, one consumer: {single['rps']:,.0f} readings/s")
    common = dict(detectors=sizes["detectors"], seed=SEED, seconds=sizes["seconds"])
    runs: dict[str, list[dict]] = {
        k: []
        for k in ("A", "A2", "B1", "B2", "B1-replay", "B2-replay", "B1-replay-pair", "C", "C-tuned")
    }
    for rep in range(sizes["repeats"]):  # interleaved, so that a slow spell hits all alike
        runs["A"].append(consume_limit(bootstrap, topic, per_partition=True))
        _progress(f"A, one consumer per partition: {runs['A'][-1]['rps']:,.0f} readings/s")
        runs["A2"].append(consume_limit_processes(bootstrap, topic, 2))
        _progress(f"A in 2 processes: {runs['A2'][-1]['rps']:,.0f} readings/s")
        for replay, procs in ((False, 1), (False, 2), (True, 1), (True, 2)):
            key = f"B{procs}-replay" if replay else f"B{procs}"
            runs[key].append(
                run_flow(
                    f"{key}-{rep}", "B", main, workdir, processes=procs, replay=replay, **common
                )
            )
            how = " from memory" if replay else ""
            _progress(f"B{how} ({procs} process(es)): {runs[key][-1]['rps']:,.0f} readings/s")
        runs["B1-replay-pair"].append(_pair(main, workdir, f"B1-replay-pair-{rep}", common))
        _progress(f"B1 from memory twice at once: {runs['B1-replay-pair'][-1]['rps']:,.0f}/s")
        if rep < 2:
            for key, tuned in (("C", False), ("C-tuned", True)):
                runs[key].append(
                    run_flow(f"{key}-{rep}", "C", main, workdir, **common, tuned=tuned)
                )
                _progress(f"{key}: {runs[key][-1]['rps']:,.0f} readings/s")
    per_partition = _best(runs.pop("A"))
    layouts = {"single": single, "per_partition": per_partition}
    limit = dict(max(layouts.values(), key=lambda r: r["rps"]), layouts=layouts)
    paths = {"A": limit} | {key: _best(of) for key, of in runs.items()}
    ablations = {}
    for ablate in sizes["ablations"]:
        ablations[ablate] = run_flow(f"B-{ablate}", "B", main, workdir, **common, ablate=ablate)
        _progress(f"B without {ablate}: {ablations[ablate]['rps']:,.0f} readings/s")
    return paths, ablations


def _pair(main: Settings, workdir: Path, name: str, common: dict) -> dict:
    """Two independent 1-process B runs from memory at once, started by one barrier, each
    reading the whole topic into a Redis prefix of its own: what two processes of B's work get
    from this machine with no cluster between them (the ceiling for B2 from memory), and their
    CPU per reading, the baseline for what the cluster itself adds."""
    twin = dataclasses.replace(main.redis, prefix=f"{main.redis.prefix}-twin")
    pair = [(f"{name}-a", main), (f"{name}-b", dataclasses.replace(main, redis=twin))]
    one, two = run_flows_at_once(pair, "B", workdir, replay=True, **common)
    us = [r.get("flow_cpu_us_per_reading") for r in (one, two)]
    return {
        "rps": (one["processed"] + two["processed"]) / max(one["seconds"], two["seconds"]),
        "processed": one["processed"],
        "machine_cpu_busy": one.get("machine_cpu_busy"),
        "flow_cpu_cores": (one.get("flow_cpu_cores") or 0) + (two.get("flow_cpu_cores") or 0),
        "flow_cpu_us_per_reading": sum(us) / 2 if None not in us else None,
        "each": [one, two],
    }


def _best(runs: list[dict]) -> dict:
    """The fastest of a path's runs, with every run's rate: each path is rated by its best run,
    as A is (the machine is shared and noisy; a run can only be slowed down, not sped up)."""
    best = max(runs, key=lambda r: r["rps"])
    return dict(best, runs=[r["rps"] for r in runs])


def run(args) -> dict:
    """Every measurement of one benchmark run (see the module docstring)."""
    sizes = _sizes(args)
    workdir = args.out / "work"
    tag = f"t{int(time.time())}"
    result: dict = {"quick": args.quick, "machine": machine()}
    with _servers(args, workdir / "stack") as (bootstrap, redis_url):
        main = _settings(bootstrap, redis_url, tag)
        sizes["partitions"] = main.topics.partitions
        result["sizes"] = sizes
        city = synthetic_city(base_city(), sizes["detectors"], SEED)
        _progress(
            f"pre-loading {sizes['readings']:,} readings from {len(city.detectors):,} detectors"
        )
        t0 = time.perf_counter()
        data = readings(city, sizes["rounds"], SEED)
        produced = preload(bootstrap, main.topics.traffic, data, _progress)
        _progress(f"  done in {time.perf_counter() - t0:.1f} s")
        paths, ablations = _rates(main, sizes, workdir)
        examples = _examples(bootstrap, redis_url, tag, sizes, workdir)
        paths["D"] = examples.get("1000") or examples[str(max(sizes["examples"]))]
        identity = {
            keys: _identity(bootstrap, redis_url, tag, sizes, workdir, keys == "corridor")
            for keys in ("detector", "corridor")
        }
        latency = latency_probe(
            _settings(bootstrap, redis_url, f"{tag}-lat"),
            workdir,
            detectors=sizes["identity_detectors"],
            seed=SEED,
            rate=0.5 * paths["B1"]["rps"],
            progress=_progress,
            seconds=sizes["latency_seconds"],
        )
        _progress(f"latency: {latency}")
    result.update(_summary(paths, examples, identity, latency, produced, sizes))
    result["ablations"] = ablations
    result["counts"].update({f"B-{k}": v["processed"] for k, v in ablations.items()})
    return result


def _summary(paths, examples, identity, latency, produced, sizes) -> dict:
    a, b, b2, c, d = (paths[k]["rps"] for k in ("A", "B1", "B2", "C", "D"))
    r1, r2, pair = (paths[k]["rps"] for k in ("B1-replay", "B2-replay", "B1-replay-pair"))
    counts = {k: v.get("processed", v.get("count")) for k, v in paths.items()}
    return {
        "limit_rps": a,
        "limit_layouts": {k: v["rps"] for k, v in paths["A"].get("layouts", {}).items()},
        "kendali_rps": b,
        "common_rps": c,
        "examples_rps": d,
        "kendali_vs_limit": b / a,
        "kendali_vs_common": b / c,
        "common_tuned_rps": paths["C-tuned"]["rps"],
        "kendali_vs_common_tuned": b / paths["C-tuned"]["rps"],
        "kendali_vs_examples": b / d,
        "latency_ms": latency,
        "state_bytes_per_detector": _state_bytes(sizes["detectors"]),
        "state_bytes_per_detector_100k": _state_bytes(sizes["state_detectors"]),
        "model_bytes_per_detector": model_bytes(),
        "workers": {"1": b, "2": b2},
        "scaling": b2 / b,
        "workers_replay": {"1": r1, "2": r2},
        "scaling_replay": r2 / r1,
        "replay_pair_rps": pair,
        "machine_scaling_replay": pair / r1,
        "kendali_vs_replay_pair": r2 / pair,
        "limit_2_processes_rps": paths["A2"]["rps"],
        "limit_scaling": paths["A2"]["rps"] / a,
        "kendali_vs_limit_2_processes": b2 / paths["A2"]["rps"],
        "identical_across_workers": identity["detector"][0]["identical"],
        "identical_with_corridor_keys": identity["corridor"][0]["identical"],
        "identity": {k: {**v, "runs": runs} for k, (v, runs) in identity.items()},
        "examples_probe": {k: v["rps"] for k, v in examples.items()},
        "paths": paths,
        "counts": {"produced": produced, **counts},
        "peak_rss_mb": {k: v["peak_rss"] / 2**20 for k, v in paths.items() if "peak_rss" in v},
        "machine_cpu_busy": {
            k: v["machine_cpu_busy"] for k, v in paths.items() if v.get("machine_cpu_busy")
        },
        "cpu": _cpu(paths),
    }


def _cpu(paths: dict) -> dict:
    """Where the cores went while B ran, and what 2 processes cost per reading against 1.

    ``scaling_with_free_cores`` is a projection, not a measurement: the rate 2 processes would
    reach if each had the CPU that 1 process used here, at the CPU per reading they needed.
    ``cluster_cost_replay`` is the same ratio with the broker idle (B from memory);
    ``co_run_cost_replay`` is what a second busy process costs B1 from memory per reading on
    this machine (two independent runs at once against one alone), and
    ``cluster_own_cost_replay`` what the cluster adds beyond that.
    """
    cpus = os.cpu_count() or 1
    out: dict = {"flow_cores": {}, "other_cores": {}, "us_per_reading": {}}
    for key, stats in paths.items():
        cores, busy = stats.get("flow_cpu_cores"), stats.get("machine_cpu_busy")
        if cores is None:
            continue
        out["flow_cores"][key] = cores
        out["us_per_reading"][key] = stats.get("flow_cpu_us_per_reading")
        if busy is not None:
            out["other_cores"][key] = max(busy * cpus - cores, 0.0)
    one, two = (out["us_per_reading"].get(k) for k in ("B1", "B2"))
    if one and two:
        out["cluster_cost"] = two / one
        out["scaling_with_free_cores"] = 2 * one / two
    one, two = (out["us_per_reading"].get(f"B{n}-replay") for n in (1, 2))
    pair = out["us_per_reading"].get("B1-replay-pair")
    if one and two:
        out["cluster_cost_replay"] = two / one
    if one and two and pair:
        out["co_run_cost_replay"] = pair / one
        out["cluster_own_cost_replay"] = two / pair
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; ``--help`` for the options."""
    args = _parser().parse_args(argv)
    # A plain SIGTERM would skip the clean-up that stops the broker and Redis we started.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        result = run(args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"throughput: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    (args.out / "throughput.json").write_text(json.dumps(result, indent=2, sort_keys=True))
    (args.out / "throughput.md").write_text(markdown(result))
    chart(result, args.out / "throughput.png")
    _progress(f"wrote {args.out}/throughput.json, throughput.md, throughput.png")
    return 0
