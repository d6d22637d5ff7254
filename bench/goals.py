"""The goals of issue #7, judged against a run's figures, and the printed table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RSS_LIMIT_MB = 250.0
GOAL_ROLES = ("connector", "anonymiser", "alerting")


@dataclass(frozen=True)
class Goal:
    name: str
    figure: str
    target: str
    met: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.met is None else "PASS" if self.met else "MISS"


def judge(results: dict[str, Any]) -> list[Goal]:
    """Every goal of the issue, PASS or MISS (or n/a if its part did not run)."""
    goals: list[Goal] = []
    anon = results.get("anonymiser")
    for variant, floor in (("at_least_once", 0.70), ("exactly_once", 0.60)):
        if anon is None:
            goals.append(Goal(f"anonymiser {variant}", "-", f">= {floor:.0%}", None))
            continue
        ratio = anon[variant]["ratio_to_passthrough"]
        goals.append(
            Goal(
                f"anonymiser {variant.replace('_', '-')} / pass-through",
                f"{ratio:.1%}",
                f">= {floor:.0%}",
                ratio is not None and ratio >= floor,
            )
        )
    sealing = results.get("sealing")
    if sealing is None:
        goals.append(Goal("sealing per record", "-", "<= 5 us", None))
        goals.append(Goal("sealing vs original", "-", ">= 4x", None))
    else:
        us = sealing["vitalstream_us_per_record"]
        goals.append(Goal("sealing per record", f"{us:.2f} us", "<= 5 us", us <= 5.0))
        speedup = sealing["speedup"]
        goals.append(
            Goal("sealing vs original", f"{speedup:.2f}x", ">= 4x", speedup >= 4.0)
        )
    latency = results.get("latency")
    for rate, limit_ms in (("1000", 250.0), ("5000", 1000.0)):
        measured = (latency or {}).get("rates", {}).get(rate)
        name = f"end-to-end p99 at {int(rate):,}/s"
        if measured is None:
            goals.append(Goal(name, "-", f"< {limit_ms:.0f} ms", None))
            continue
        p99 = measured["p99_ms"]
        complete = measured["alerts_matched"] >= 0.99 * measured["sent"]
        figure = f"{p99:.0f} ms" if p99 is not None else "none"
        if not complete:
            figure += f" ({measured['alerts_matched']}/{measured['sent']} in time)"
        goals.append(
            Goal(
                name,
                figure,
                f"< {limit_ms:.0f} ms",
                p99 is not None and complete and p99 < limit_ms,
            )
        )
    connector = results.get("connector")
    if connector is None:
        goals.append(Goal("connector channel polls", "-", ">= 1,000/s", None))
    else:
        polls = connector["process"]["steady_polls_per_s"]
        goals.append(
            Goal(
                "connector channel polls",
                f"{polls:,.0f}/s",
                ">= 1,000/s",
                polls >= 1000,
            )
        )
    peaks = results.get("peak_rss_mb", {})
    for role in GOAL_ROLES:
        mb = peaks.get(role)
        goals.append(
            Goal(
                f"peak RSS {role}",
                "-" if mb is None else f"{mb:.0f} MB",
                f"< {RSS_LIMIT_MB:.0f} MB",
                None if mb is None else mb < RSS_LIMIT_MB,
            )
        )
    return goals


def table(results: dict[str, Any], goals: list[Goal]) -> str:
    """The figures, then the goals, as fixed-width text."""
    lines = [
        f"vitalstream benchmarks ({results['mode']} run, {results['finished_at']})"
    ]
    machine = results["machine"]
    lines.append(
        f"commit {machine['git_commit'][:12]}"
        + (" (uncommitted changes)" if machine["git_dirty"] else "")
        + f", {machine['cpu_count']} CPUs, Python {machine['python']}"
    )
    lines.append("")
    lines += _figures(results)
    lines.append("")
    width = max(len(g.name) for g in goals)
    lines.append(f"{'goal':<{width}}  {'measured':>22}  {'target':>11}  verdict")
    for goal in goals:
        lines.append(
            f"{goal.name:<{width}}  {goal.figure:>22}  {goal.target:>11}  "
            + goal.verdict
        )
    return "\n".join(lines)


def _figures(results: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str]] = []
    anon = results.get("anonymiser")
    if anon:
        rows.append(("anonymiser records", f"{anon['records']:,}"))
        for variant in ("passthrough", "at_least_once", "exactly_once"):
            rows.append(
                (f"  {variant} records/s", f"{anon[variant]['records_per_s']:,.0f}")
            )
    sealing = results.get("sealing")
    if sealing:
        rows.append(
            ("sealing us/record", f"{sealing['vitalstream_us_per_record']:.2f}")
        )
        rows.append(
            (
                "  original approach us/record",
                f"{sealing['baseline_us_per_record']:.2f}",
            )
        )
        rows.append(
            (
                "  original, encryption only",
                f"{sealing['baseline_encrypt_only_us_per_record']:.2f}",
            )
        )
    latency = results.get("latency")
    for rate, figures in (latency or {}).get("rates", {}).items():
        rows.append(
            (
                f"end-to-end at {int(rate):,}/s p50/p95/p99 ms",
                f"{figures['p50_ms']}/{figures['p95_ms']}/{figures['p99_ms']}",
            )
        )
        share = figures["anonymiser_share"]
        rows.append(
            (
                "  of which raw -> anonymised p50/p99 ms",
                f"{share['p50_ms']}/{share['p99_ms']}",
            )
        )
    connector = results.get("connector")
    if connector:
        process = connector["process"]
        rows.append(
            (
                "connector backfill entries/s",
                f"{process['backfill_entries_per_s']:,.0f}",
            )
        )
        rows.append(
            ("connector steady polls/s", f"{process['steady_polls_per_s']:,.0f}")
        )
        for name, rate in connector["clients"].items():
            if name != "polls":
                shown = f"{rate:,.0f}" if isinstance(rate, float) else "failed"
                rows.append((f"  client {name} polls/s", shown))
    for role, mb in results.get("peak_rss_mb", {}).items():
        rows.append((f"peak RSS {role} MB", f"{mb:.0f}"))
    width = max(len(name) for name, _ in rows) if rows else 0
    return [f"{name:<{width}}  {value:>16}" for name, value in rows]
