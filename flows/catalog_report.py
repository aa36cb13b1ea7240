"""The ``catalog-report`` flow: what the catalog holds, as UI artifacts (and a returned dict).

Per sol and camera: products by state; outputs by kind; the latest runs with their failures.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from rovercam.config import load

from rovercam_flows.console import quiet_expected_tracebacks
from rovercam_flows.parameters import ConfigFile, Overrides, Sols
from rovercam_tasks._runtime import catalog_for


def catalog_summary(settings: Any, *, sols: list[int] | None = None, runs: int = 20) -> dict[str, Any]:
    """Counts by (sol, instrument, state), outputs by (sol, kind), and the latest runs."""
    catalog = catalog_for(settings)
    products = [p for p in catalog.products() if sols is None or p.sol in sols]
    outputs = [o for o in catalog.outputs() if sols is None or o.sol in sols]
    by_state = Counter((p.sol, p.instrument or "?", p.state) for p in products)
    by_kind = Counter((o.sol, o.kind) for o in outputs)
    recent = catalog.runs(limit=runs)
    return {
        "products": [{"sol": s, "instrument": i, "state": st, "count": n} for (s, i, st), n in sorted(by_state.items(),
                     key=lambda kv: (kv[0][0] if kv[0][0] is not None else -1, kv[0][1], kv[0][2]))],
        "outputs": [{"sol": s, "kind": k, "count": n} for (s, k), n in sorted(by_kind.items())],
        "runs": [{"run_id": r.run_id, "flow": r.flow, "sol": r.sol, "status": r.status,
                  "started_at": r.started_at.isoformat() if r.started_at else "",
                  "failed": len(r.summary.get("failed", [])), "quarantined": len(r.summary.get("quarantined", [])),
                  "published": len(r.summary.get("published", []))} for r in recent],
        "quarantined": [{"sol": p.sol, "product": p.product_id, "reason": p.reason or ""} for p in products
                        if p.state == "quarantined"],
    }


@flow(name="catalog-report", description="Summarize the catalog: products, outputs, runs and problems.")
def catalog_report(sols: Sols = None, config_file: ConfigFile = None, overrides: Overrides = None) -> dict[str, Any]:
    """Write the report as artifacts (``catalog-report`` markdown, ``catalog-products`` table)."""
    quiet_expected_tracebacks()
    settings = load(config_file, overrides=overrides)
    summary = catalog_summary(settings, sols=sols)
    n_products = sum(r["count"] for r in summary["products"])
    lines = [
        "# Catalog report",
        f"- products: {n_products}; outputs: {sum(r['count'] for r in summary['outputs'])}; "
        f"quarantined: {len(summary['quarantined'])}",
        "", "| sol | kind | outputs |", "|---|---|---|",
        *[f"| {r['sol']} | {r['kind']} | {r['count']} |" for r in summary["outputs"]],
        "", "## Latest runs", "", "| flow | sol | status | published | failed | quarantined | started |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['flow']} | {r['sol']} | {r['status']} | {r['published']} | {r['failed']} | {r['quarantined']} "
          f"| {r['started_at'][:19]} |" for r in summary["runs"]],
    ]
    if summary["quarantined"]:
        lines += ["", "## Quarantined products", "", "| sol | product | reason |", "|---|---|---|"]
        lines += [f"| {q['sol']} | {q['product']} | {q['reason'].replace('|', '/')} |" for q in summary["quarantined"]]
    create_markdown_artifact(key="catalog-report", markdown="\n".join(lines), description="catalog contents")
    if summary["products"]:
        create_table_artifact(key="catalog-products", table=summary["products"],
                              description="products by sol, camera and state")
    return summary
