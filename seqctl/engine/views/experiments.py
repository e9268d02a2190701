"""A/B tests: how each variant of a step did, and how sure the difference is, said plainly.

Two numbers per comparison, both from the standard library: the p-value of a two-proportion
z-test (pooled), and the probability that the leader's true rate beats the runner-up's, with
a uniform prior on each rate (Beta(1 + events, 1 + sent - events)), summed exactly (Evan
Miller's closed form, one term per event of the smaller side; past 20,000 events the normal
approximation, which is exact enough there). Below a hundred sends per variant, or a handful
of events, the verdict is "too few to tell" whatever the numbers say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Per variant: the messages sent, then contacts with each kind of event on them.
METRICS = ("opened", "clicked", "replied", "bounced", "unsubscribed")
EVENT_TYPES = {
    "opened": "open",
    "clicked": "click",
    "replied": "reply",
    "bounced": "bounce",
    "unsubscribed": "unsubscribe",
}
LOWER_IS_BETTER = frozenset({"bounced", "unsubscribed"})
RATE_NAMES = {
    "opened": "open rate",
    "clicked": "click rate",
    "replied": "reply rate",
    "bounced": "bounce rate",
    "unsubscribed": "unsubscribe rate",
}
MIN_SENT = 100  # per variant, before a difference is worth stating
MIN_EVENTS = 5  # of the metric, over the two variants compared
SURE = 0.95  # from here on a difference is stated as found


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def z_test(hits_a: int, sent_a: int, hits_b: int, sent_b: int) -> float:
    """Two-sided p-value of a two-proportion z-test (pooled); 1.0 when it cannot tell."""
    if not sent_a or not sent_b:
        return 1.0
    pooled = (hits_a + hits_b) / (sent_a + sent_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / sent_a + 1 / sent_b))
    if spread == 0:
        return 1.0
    z = (hits_a / sent_a - hits_b / sent_b) / spread
    return math.erfc(abs(z) / math.sqrt(2.0))


EXACT_TERMS = 20_000


def probability_higher(hits_a: int, sent_a: int, hits_b: int, sent_b: int) -> float:
    """P(rate A > rate B) given what was seen, with a uniform prior on each rate."""
    alpha_a, beta_a = 1 + hits_a, 1 + max(sent_a - hits_a, 0)
    alpha_b, beta_b = 1 + hits_b, 1 + max(sent_b - hits_b, 0)
    if min(alpha_a, alpha_b) > EXACT_TERMS:
        mean_a, var_a = _beta(hits_a, sent_a)
        mean_b, var_b = _beta(hits_b, sent_b)
        return normal_cdf((mean_a - mean_b) / math.sqrt(var_a + var_b))
    if alpha_a <= alpha_b:
        return _beats(alpha_a, beta_a, alpha_b, beta_b)
    return 1.0 - _beats(alpha_b, beta_b, alpha_a, beta_a)


def _beats(alpha_a: int, beta_a: int, alpha_b: int, beta_b: int) -> float:
    """P(X > Y) for X ~ Beta(alpha_a, beta_a), Y ~ Beta(alpha_b, beta_b), integer alpha_a:
    a sum of alpha_a terms."""
    base = _log_beta(alpha_b, beta_b)
    total = 0.0
    for i in range(alpha_a):
        total += math.exp(
            _log_beta(alpha_b + i, beta_a + beta_b)
            - math.log(beta_a + i)
            - _log_beta(1 + i, beta_a)
            - base
        )
    return min(max(total, 0.0), 1.0)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _beta(hits: int, sent: int) -> tuple[float, float]:
    a, b = 1 + hits, 1 + max(sent - hits, 0)
    total = a + b
    return a / total, a * b / (total * total * (total + 1))


@dataclass(frozen=True)
class Comparison:
    """The best variant on one metric against the next best."""

    metric: str
    leader: str
    runner_up: str
    probability: float  # that the leader's rate really is the better one
    p_value: float
    enough: bool  # enough sends and events to say anything
    verdict: str

    def as_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "leader": self.leader,
            "runner_up": self.runner_up,
            "probability": round(self.probability, 4),
            "p_value": round(self.p_value, 4),
            "enough": self.enough,
            "verdict": self.verdict,
        }


def compare(metric: str, variants: Sequence[Mapping[str, Any]]) -> Comparison | None:
    """The leader on `metric` (highest rate; lowest for bounces and unsubscribes) against
    the runner-up, with a verdict in words; None with fewer than two variants."""
    if len(variants) < 2:
        return None
    lower = metric in LOWER_IS_BETTER

    def rate(v: Mapping[str, Any]) -> float:
        return int(v[metric]) / int(v["sent"]) if v["sent"] else 0.0

    ranked = sorted(variants, key=lambda v: rate(v) if not lower else -rate(v), reverse=True)
    best, second = ranked[0], ranked[1]
    hits_a, sent_a, hits_b, sent_b = best[metric], best["sent"], second[metric], second["sent"]
    if lower:  # "better" is the lower rate: the chance the runner-up's is really higher
        probability = probability_higher(hits_b, sent_b, hits_a, sent_a)
    else:
        probability = probability_higher(hits_a, sent_a, hits_b, sent_b)
    p_value = z_test(hits_a, sent_a, hits_b, sent_b)
    enough = min(sent_a, sent_b) >= MIN_SENT and hits_a + hits_b >= MIN_EVENTS
    return Comparison(
        metric,
        str(best["id"]),
        str(second["id"]),
        probability,
        p_value,
        enough,
        _verdict(metric, best, second, probability, enough, len(variants)),
    )


def _verdict(
    metric: str,
    best: Mapping[str, Any],
    second: Mapping[str, Any],
    probability: float,
    enough: bool,
    count: int,
) -> str:
    name = RATE_NAMES[metric]
    if not enough:
        return (
            f"too few to tell ({best['sent']} and {second['sent']} sent, "
            f"{best[metric] + second[metric]} {metric}; needs {MIN_SENT} sent per variant "
            f"and {MIN_EVENTS} {metric})"
        )
    better = "lower" if metric in LOWER_IS_BETTER else "higher"
    most = "lowest" if metric in LOWER_IS_BETTER else "highest"
    sure = _percent(probability)
    if best[metric] * second["sent"] == second[metric] * best["sent"]:
        return f"no difference in {name} between {best['id']} and {second['id']}"
    if probability < SURE:
        return (
            f"no clear difference yet: {best['id']}'s {name} is {better} "
            f"than {second['id']}'s, but only {sure} sure"
        )
    if count > 2:
        return f"{best['id']}'s {name} is the {most}; {sure} sure it beats {second['id']}"
    return f"{best['id']}'s {name} is {better}; {sure} sure"


def _percent(probability: float) -> str:
    """A probability as people say it: never 100% (nothing here is certain)."""
    if probability > 0.99:
        return "over 99%"
    return f"{math.floor(probability * 100)}%"


def variant_rows(
    declared: Sequence[tuple[str, str | None, float]],
    counts: Mapping[str, Mapping[str, int]],
    winner: str | None,
) -> list[dict[str, Any]]:
    """Each variant's results: the declared ones (id, name, weight) in order, then any other
    found in the messages (an older version's), with rates of those sent."""
    total = sum(weight for _, _, weight in declared) or 1.0
    rows = []
    known = [(vid, name, weight / total) for vid, name, weight in declared]
    known += [(vid, None, 0.0) for vid in counts if vid not in {d[0] for d in declared}]
    for vid, name, share in known:
        found = counts.get(vid, {})
        row: dict[str, Any] = {"id": vid, "name": name, "share": round(share, 3)}
        row["sent"] = int(found.get("sent", 0))
        for metric in METRICS:
            row[metric] = int(found.get(metric, 0))
        row["rates"] = {
            metric: round(row[metric] / row["sent"], 3) if row["sent"] else 0.0
            for metric in METRICS
        }
        row["winner"] = vid == winner
        rows.append(row)
    return rows


def comparisons(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The comparison on each metric, as `status --json` prints it."""
    found = {}
    for metric in METRICS:
        result = compare(metric, rows)
        if result is not None:
            found[metric] = result.as_json()
    return found
