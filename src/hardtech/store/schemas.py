"""The declared column types of the tables a run writes.

A table's columns are typed here, not by the data of whichever run happens to
be stored first: a run with no dragons (or no events, no panel rows) has empty
columns that carry no type of their own, and a table created from them would
refuse every later run with values (DuckDB: ``VARCHAR -> "NULL"``). Before a
table is written, :func:`conform` casts each declared column to its declared
type and turns NaN into NULL (see the store's docstring).

Adding a column to a model table? Declare it here too. Columns that are not
declared are stored with the type of their data, and a column without any
type (all values missing, no declared type) is left out until a run brings
values for it; ``tests/test_store.py`` fails when a column's stored type
would depend on the run (a short run without dragons or exits against a long
one), when a text, boolean or untyped column is not declared, or when a
declared column is no longer written.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

F64, I64, I32, I16, STR, BOOL = pa.float64(), pa.int64(), pa.int32(), pa.int16(), pa.string(), pa.bool_()
_STAMP = [("step", I64), ("quarter", STR), ("year", F64)]


def _schema(*columns: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema(list(columns))


RUN_TABLES: dict[str, pa.Schema] = {
    "step_metrics": _schema(
        *_STAMP,
        ("region", STR),
        ("field", STR),
        ("firms", I64),
        ("births", I64),
        ("deaths", I64),
        ("new_dragons", I64),
        ("dragons", I64),
        ("scenes_defined", I64),
        ("talent", F64),
        ("talent_in", F64),
        ("talent_out", F64),
        ("graduates", F64),
        ("retirements", F64),
        ("invested", F64),
        ("returned", F64),
        ("exits", I64),
        ("revenue", F64),
        ("headcount", F64),
        ("gap_to_frontier", F64),
        ("coop_links", I64),
        ("coop_density", F64),
        ("foreign_dependency", F64),
        ("location_quotient", F64),
        ("experiments", F64),
        ("spinouts", F64),
        ("dragons_par", I64),
        ("new_par_dragons", I64),
        ("follower_scenes", I64),
        ("scene_gain_rd", F64),
        ("scene_gain_imitation", F64),
        ("scene_gain_partners", F64),
        ("imitation_gain", F64),
    ),
    "region_metrics": _schema(
        *_STAMP,
        ("region", STR),
        ("talent", F64),
        ("arrivals", F64),
        ("departures", F64),
        ("graduates", F64),
        ("retirements", F64),
        ("investor_capital", F64),
        ("angel_inflow", F64),
        ("deal_price", F64),
        ("wage", F64),
        ("living_cost", F64),
        ("founder_wealth", F64),
        ("firms", I64),
        ("headcount", F64),
        ("lever_talent_subsidy", F64),
        ("lever_startup_support", F64),
        ("lever_basic_research", F64),
        ("lever_procurement", F64),
        ("lever_cluster_programme", F64),
        ("lever_fund_injection", F64),
        ("recycled_in", F64),
        ("place_utility", F64),
        ("experiment_cost", F64),
        ("link_ends", I64),
        ("spillover_boost", F64),
    ),
    "field_metrics": _schema(
        *_STAMP,
        ("field", STR),
        ("frontier", F64),
        ("maturity", F64),
        ("adoption", F64),
        ("demand", F64),
        ("niches", I64),
        ("platform_revenue", F64),
        ("niche_revenue", F64),
        ("small_share_platform", F64),
        ("small_share_niche", F64),  # NULL where the segment has no revenue
        ("platform_spending", F64),
        ("niche_spending", F64),
        ("small_platform_revenue", F64),
        ("small_niche_revenue", F64),
        ("demand_started", BOOL),
        ("usable", BOOL),
        ("niche_firms", I64),
    ),
    "bloc_metrics": _schema(
        *_STAMP,
        ("bloc", STR),
        ("field", STR),
        ("science", F64),
        ("frontier", F64),
        ("knowledge_cut", F64),
        ("component_cut", F64),
        ("market_cut", F64),
        ("component_loss", F64),
    ),
    "ledger": _schema(*_STAMP, ("account", STR), ("amount", F64)),
    "region_flows": _schema(*_STAMP, ("from_region", STR), ("to_region", STR), ("talent", F64), ("capital", F64)),
    "firm_panel": _schema(("step", I64), ("firm_id", I64), ("headcount", F64), ("revenue", F64), ("incumbent", BOOL)),
    "firm_events": _schema(
        ("step", I32),
        ("quarter", STR),
        ("firm_id", I64),
        ("region", STR),
        ("field", STR),
        ("event", STR),
        ("value", F64),
    ),
    "firms": _schema(
        ("firm_id", I64),
        ("region", STR),
        ("field", STR),
        ("segment", I64),
        ("capability", F64),
        ("cash", F64),
        ("revenue", F64),
        ("niche_revenue", F64),
        ("demand", F64),
        ("segment_share", F64),
        ("core_income", F64),
        ("revenue_smooth", F64),
        ("headcount", F64),
        ("founded", I32),
        ("stage", I16),
        ("round_capability", F64),
        ("round_revenue", F64),
        ("post_money", F64),
        ("round_step", I32),
        ("valuation", F64),
        ("investor_share", F64),
        ("invested", F64),
        ("lead_investor", I16),
        ("largest_round", F64),
        ("fit", F64),
        ("dependency", F64),
        ("incumbent", BOOL),
        ("public", BOOL),
        ("expanded", BOOL),
        ("dragon_step", I32),
        ("founder", I64),
        ("parent", I64),
        ("experiments", F64),
        ("post_money_par", F64),
        ("founding_gap", F64),
        ("gain_rd", F64),
        ("gain_imitation", F64),
        ("gain_partners", F64),
        ("valuation_par", F64),
        ("par_dragon_step", I32),
        ("founded_quarter", STR),
        ("dragon_quarter", STR),
    ),
    "dragons": _schema(
        ("firm_id", I64),
        ("region", STR),
        ("field", STR),
        ("founded_quarter", STR),
        ("dragon_quarter", STR),
        ("dragon_step", I32),
        ("valuation_musd", F64),
        ("spinout", BOOL),
        ("niche", BOOL),
    ),
}

# Tables the evidence commands write (one row per claim / lever / fact measurement).
EVIDENCE_TABLES: dict[str, pa.Schema] = {
    "sobol": _schema(("names", STR), ("S1", F64), ("S1_conf", F64), ("ST", F64), ("ST_conf", F64)),
}

DECLARED: dict[str, pa.Schema] = {**RUN_TABLES, **EVIDENCE_TABLES}


def nan_to_null(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """NaN values of a floating-point column as NULL (other values unchanged)."""
    if not pa.types.is_floating(column.type):
        return column
    nan = pc.is_nan(column)
    if not pc.any(nan).as_py():
        return column
    return pc.if_else(nan, pa.scalar(None, column.type), column)


def conform(name: str, table: pa.Table, schemas: dict[str, pa.Schema] | None = None) -> pa.Table:
    """``table`` as it is stored: declared columns cast to their declared types, NaN as NULL.

    Columns without a type (all missing, undeclared) are left out.

    Raises ValueError naming the table and column when a value does not convert.
    """
    declared = (DECLARED if schemas is None else schemas).get(name)
    names, columns = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = (
            declared.field(field.name).type if declared is not None and field.name in declared.names else field.type
        )
        if pa.types.is_null(target):
            continue
        if column.type != target:
            try:
                column = column.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
                raise ValueError(
                    f"table {name!r}, column {field.name!r}: {column.type} values do not convert to "
                    f"the declared {target} ({exc})"
                ) from None
        names.append(field.name)
        columns.append(nan_to_null(column))
    return pa.table(dict(zip(names, columns, strict=True))) if names else pa.table({})
