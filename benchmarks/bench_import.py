"""6. Import cost: ``import engagement_kit`` in a fresh process against ``import pandas``."""

from __future__ import annotations

from ._util import fresh_process_seconds, summary

TARGET_RATIO = 1.3


def run() -> list[dict]:
    results = []
    cases = [
        ("import engagement_kit", "import engagement_kit"),
        (
            "import engagement_kit + build the demo client",
            "import engagement_kit as ek; ek.demo_client(store=False)",
        ),
    ]
    base = None
    samples: dict[str, list[float]] = {}
    # alternate the processes so noise hits all of them alike
    for _ in range(7):
        for code in ["import pandas"] + [c for _, c in cases]:
            samples.setdefault(code, []).extend(fresh_process_seconds(code, runs=1))
    base = summary(samples["import pandas"])
    for what, code in cases:
        ours = summary(samples[code])
        results.append(
            {
                "what": f"{what} (fresh process, wall time incl. interpreter start)",
                "baseline": "import pandas",
                "baseline_seconds": base["median"],
                "ours_seconds": ours["median"],
                "spread": f"ours {ours['min']:.3f}–{ours['max']:.3f} s, pandas {base['min']:.3f}–{base['max']:.3f} s",
                "ratio": ours["median"] / base["median"],
                "target": f"≤ {TARGET_RATIO}×" if what == "import engagement_kit" else "(context)",
                "met": ours["median"] / base["median"] <= TARGET_RATIO
                if what == "import engagement_kit"
                else None,
                "runs": ours["runs"],
            }
        )
    return results
