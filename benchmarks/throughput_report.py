"""The throughput benchmark's human outputs: a markdown summary and a PNG bar chart.

>>> r = {"limit_rps": 100.0, "kendali_rps": 50.0, "common_rps": 25.0, "examples_rps": 5.0,
...      "paths": {}, "workers": {"1": 50.0, "2": 90.0}}
>>> rows(r)[1]
('B1', 'B Kendali (real flow, 1 process)', 50.0, 0.5)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["chart", "markdown", "rows"]


def rows(result: dict) -> list[tuple[str, str, float, float]]:
    """(path, label, readings/s, fraction of the limit) per measured configuration."""
    limit = result["limit_rps"] or 1.0
    workers, replay = result["workers"], result.get("workers_replay") or {}
    named = [
        ("A", "A limit (confluent-kafka + orjson)", result["limit_rps"]),
        ("B1", "B Kendali (real flow, 1 process)", result["kendali_rps"]),
        ("B2", "B Kendali (real flow, 2 processes)", workers.get("2")),
        ("B1-replay", "B from memory, broker idle (1 process)", replay.get("1")),
        ("B2-replay", "B from memory, broker idle (2 processes)", replay.get("2")),
        ("C", "C common (GaussianScorer per detector)", result["common_rps"]),
        ("D", "D examples (HalfSpaceTrees per detector)", result["examples_rps"]),
    ]
    return [(key, label, rps, rps / limit) for key, label, rps in named if rps is not None]


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.0f}{unit}" if abs(value) >= 100 else f"{value:,.2f}{unit}"
    return f"{value:,}{unit}"


def _diff(identity: dict) -> str:
    diffs = identity.get("differences") or []
    return f"; differing versions: {'; '.join(diffs[:3])}" if diffs else ""


def _broker_line(broker: dict | None) -> list[str]:
    if not broker:
        return []
    return [
        "- the broker alone (the same readings, producer and rate, a plain consumer in another "
        f"process): p50 {_fmt(broker['p50'], ' ms')}, p95 {_fmt(broker['p95'], ' ms')}, "
        f"p99 {_fmt(broker['p99'], ' ms')} over {_fmt(broker['n'])} readings"
    ]


def markdown(result: dict) -> str:
    """The summary table and the method, as ``throughput.md``."""
    m, lat, sizes = result["machine"], result["latency_ms"], result["sizes"]
    mem = result["peak_rss_mb"]
    lines = [
        "# Throughput: the ATCS path against the Kafka client's limit",
        "",
        "| path | readings/s | × limit | peak RSS (MB) |",
        "|---|---:|---:|---:|",
    ]
    for key, label, rps, frac in rows(result):
        lines.append(f"| {label} | {_fmt(rps)} | {frac:.3f} | {_fmt(mem.get(key))} |")
    probe = ", ".join(f"{n} detectors: {_fmt(v)}/s" for n, v in result["examples_probe"].items())
    layouts = result.get("limit_layouts") or {}
    busy = result.get("machine_cpu_busy") or {}
    cores = result["machine"].get("cpus")
    lines += [
        "",
        "- machine CPU busy while each path ran (all processes, incl. broker and Redis, "
        f"{cores} vCPUs): " + ", ".join(f"{k} {v:.0%}" for k, v in busy.items()),
        f"- A is the faster of two plain loops: one consumer for all partitions "
        f"{_fmt(layouts.get('single'))}/s (one run), one consumer per partition polled in turn "
        f"{_fmt(layouts.get('per_partition'))}/s",
        "- A per partition, B, C and C tuned are each their best run; the runs, interleaved "
        "(A, A in 2 processes, B1, B2, B1 and B2 from memory, B1 from memory twice at once, C, "
        "C tuned, then again): "
        + "; ".join(
            f"{k} {', '.join(_fmt(r) for r in result['paths'][k]['runs'])}"
            for k in (
                "A",
                "A2",
                "B1",
                "B2",
                "B1-replay",
                "B2-replay",
                "B1-replay-pair",
                "C",
                "C-tuned",
            )
            if result["paths"].get(k, {}).get("runs")
        ),
        f"- B/A = **{result['kendali_vs_limit']:.3f}** (target ≥ 0.8), "
        f"B/C = **{result['kendali_vs_common']:.2f}** (target ≥ 2.5), "
        f"B/D = **{result['kendali_vs_examples']:.1f}**",
        f"- C with Kendali's batch size and GC setting (`flow.batch_size`, `flow.gc_threshold`, "
        f"as B runs): {_fmt(result.get('common_tuned_rps'))} readings/s; B/C like for like = "
        f"**{result.get('kendali_vs_common_tuned', 0.0):.2f}**",
        f"- D by detector count: {probe}",
        *(
            f"- B with {name} switched off (ablation, 1 process): {_fmt(stats['rps'])} readings/s"
            for name, stats in result.get("ablations", {}).items()
        ),
        *_scaling_lines(result),
        *_cpu_lines(result.get("cpu") or {}),
        f"- event-to-incident latency at {_fmt(lat.get('rate'))} readings/s (50 % of B; "
        f"{_fmt(lat.get('rate_achieved'))}/s achieved, "
        f"paced for {_fmt(lat.get('paced_s'), ' s')}): "
        f"p50 {_fmt(lat['p50'], ' ms')}, p95 {_fmt(lat['p95'], ' ms')}, "
        f"p99 {_fmt(lat['p99'], ' ms')} over {lat.get('n', 0)} of {lat.get('planted', '?')} "
        "planted incidents (target p99 ≤ 500 ms)",
        *_broker_line(lat.get("broker")),
        "- state per detector (pickled bank / detectors): "
        f"{_fmt(result['state_bytes_per_detector'])} B at {sizes['detectors']:,} detectors, "
        f"{_fmt(result['state_bytes_per_detector_100k'])} B at "
        f"{sizes['state_detectors']:,} (target ≤ 2 KB at 100,000); one river model pickled: "
        f"C {_fmt(result['model_bytes_per_detector']['C'])} B, "
        f"D {_fmt(result['model_bytes_per_detector']['D'])} B",
        *(
            f"- incidents identical with 1 and 2 processes, readings keyed by {keys}: "
            f"**{same['identical']}** ({same['incidents']} incidents, {same['versions']} versions, "
            f"same ids: {same['same_ids']}){_diff(same)}"
            for keys, same in result["identity"].items()
        ),
        "",
        f"Method: {sizes['readings']:,} readings from {sizes['detectors']:,} synthetic detectors "
        f"in one topic of {sizes['partitions']} partitions, pre-loaded; B, C, D measured for at "
        f"most {sizes['seconds'] or 'unlimited'} s each after their first message. "
        f"Machine: {m['cpus']} vCPU {m['cpu']}, Python {m['python']}, bytewax {m['bytewax']}, "
        f"confluent-kafka {m['confluent_kafka']} (librdkafka {m['librdkafka']}), "
        f"river {m['river']}.",
        "",
    ]
    return "\n".join(lines)


def _scaling_lines(result: dict) -> list[str]:
    """2 processes against 1: from the broker (capped by its delivery here), and from memory."""
    lines = [
        f"- 2 processes / 1 process, reading the broker: **{result['scaling']:.2f}×**",
        f"- A in 2 processes (each one consumer per partition of its half): "
        f"{_fmt(result['limit_2_processes_rps'])}/s = **{result['limit_scaling']:.2f}×** A, "
        "what plain consumers get from this broker when the partitions are split; "
        f"B with 2 processes / A in 2 processes = **{result['kendali_vs_limit_2_processes']:.3f}**",
    ]
    if "scaling_replay" in result:
        lines.append(
            "- 2 processes / 1 process with the cores free for the flow (B from memory: each "
            "process reads its partitions up front, the broker idle while the flow runs): "
            f"**{result['scaling_replay']:.2f}×** (target ≥ 1.7 where the machine has the cores)"
        )
    if "machine_scaling_replay" in result:
        lines.append(
            "- the machine's own ceiling: two independent 1-process runs from memory at once, "
            f"each reading the whole topic, {_fmt(result['replay_pair_rps'])}/s together = "
            f"**{result['machine_scaling_replay']:.2f}×** one alone; B with 2 processes from "
            f"memory reaches **{result['kendali_vs_replay_pair']:.2f}** of that"
        )
    return lines


def _cpu_lines(cpu: dict) -> list[str]:
    """Where the cores went (flow processes against everything else) and the cluster's cost."""
    if not cpu.get("flow_cores"):
        return []
    used = ", ".join(
        f"{k} {v:.2f} (+{cpu['other_cores'].get(k, 0.0):.2f} other) cores, "
        f"{_fmt(cpu['us_per_reading'].get(k))} µs a reading"
        for k, v in cpu["flow_cores"].items()
        if k.startswith("B")
    )
    lines = [f"- CPU of the flow's processes (and of everything else on the machine): {used}"]
    if "cluster_cost" in cpu:
        lines.append(
            f"- 2 processes need {cpu['cluster_cost']:.2f}× the CPU per reading of 1; given "
            f"the cores 1 process used here each, they would reach "
            f"{cpu['scaling_with_free_cores']:.2f}× (projection, not measured)"
        )
    if "cluster_own_cost_replay" in cpu:
        lines.append(
            f"- from memory, 2 processes need {cpu['cluster_cost_replay']:.2f}× the CPU per "
            f"reading of 1: {cpu['co_run_cost_replay']:.2f}× for sharing the machine (two "
            f"independent runs at once against one alone), {cpu['cluster_own_cost_replay']:.2f}× "
            "for the cluster itself"
        )
    return lines


def chart(result: dict, path: Path) -> None:
    """Horizontal bars of readings/s per configuration, the 80 % of the limit target marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = rows(result)
    labels = [label for _, label, _, _ in data][::-1]
    values = [rps for _, _, rps, _ in data][::-1]
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110)
    colors = ["#c44e52" if label.startswith("B") else "#7a7a7a" for label in labels]
    bars = ax.barh(labels, values, color=colors)
    ax.bar_label(bars, [f"{v:,.0f}/s" for v in values], padding=3, fontsize=8)
    ax.axvline(0.8 * result["limit_rps"], color="k", ls="--", lw=0.8)
    ax.text(0.8 * result["limit_rps"], -0.6, " 80 % of limit", fontsize=7, va="bottom")
    ax.set_xscale("log")
    ax.set_xlabel("readings per second (log scale)")
    ax.set_title(f"ATCS readings/s, {result['sizes']['detectors']:,} detectors", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
