"""Foot-strike accuracy on the shared clips: ``python -m tests.analysis.feet_accuracy``.

One JSON line per clip and side, from the stored foot points (the fixtures the
tests read): contacts in the truth, measured, left out (by reason), the RMSE of
the touchdown angle's distance outside the hand-measured bracket [IC, IC-1],
the side's mean against the bracket's mean, and the pattern agreement on the
contacts the truth marks with high confidence. docs/analysis.md quotes it.
"""
from __future__ import annotations

import json

import numpy as np

from tests.analysis.test_feet import CLIPS, _outside, _scored


def main() -> None:
    for name in CLIPS:
        scored, truth = _scored(name)
        for side in ("left", "right"):
            rows = scored[side]
            ok = [r for r in rows if np.isfinite(r[0])]
            n_truth = sum(1 for c in truth["contacts"] if c["side"] == side)
            high = [r for r in ok if r[4] == "high" and r[5] is not None]
            print(json.dumps({
                "clip": name, "side": side, "near": truth.get("near_side") == side,
                "truth_contacts": n_truth, "matched": len(rows), "measured": len(ok),
                "rmse_outside_bracket_deg": round(float(np.sqrt(np.mean([_outside(*r[:3]) ** 2 for r in ok]))), 2)
                if ok else None,
                "mean_deg": round(float(np.mean([r[0] for r in ok])), 2) if ok else None,
                "bracket_mean_deg": round(float(np.mean([(r[1] + r[2]) / 2 for r in rows])), 2) if rows else None,
                "high_conf_pattern_agree": f"{sum(r[3] == r[5] for r in high)}/{len(high)}",
            }))


if __name__ == "__main__":
    main()
