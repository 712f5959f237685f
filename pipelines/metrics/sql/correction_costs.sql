-- correction_costs: one row per correction session known on the as-of date, with what it cost the clinic.
-- cost = units x the product's cost per unit valid on the correction date (product_prices, latest valid_from on
-- or before it) + chair minutes x the clinician's cost per minute + a fixed consumables amount.
-- Every correction session counts, whatever its delay: also those more than $late_after_days days after the
-- session they correct (`is_late`), which the correction rate leaves out.
-- A part that cannot be priced is NULL in its own column and counts as 0 NOK in `correction_cost_nok`, so the
-- rest of the correction stays in every total, and the correction is flagged: `is_unpriced` (no price for the
-- product on that date: the units are unpriced), `is_chair_time_unknown` (minutes blank, or no cost per minute for
-- the clinician in a what-if). A total holding a flagged correction is a lower bound; never a guess.
-- The correction is attributed to the session it corrects: its clinician and product.
-- Parameters: $as_of (DATE), $consumables_nok (DOUBLE), $late_after_days (INTEGER).
-- Relations: {product_prices} (product, valid_from, cost_per_unit_nok) and {clinicians} (clinician,
-- cost_per_minute_nok) are filled in by pipelines/costs.py: the loaded tables, or what-if overrides registered on
-- the connection (never values pasted into this text).
WITH corrections AS (
    SELECT c.treatment_id,
           c.treated_on,
           c.units,
           c.minutes,
           c.product AS correction_product,
           c.clinician AS correction_clinician,
           p.treatment_id AS corrected_treatment_id,
           p.treated_on AS corrected_on,
           date_diff('day', p.treated_on, c.treated_on) AS days_after,
           p.clinician,
           p.product,
           p.indication,
           p.areas
    FROM treatments c
    JOIN treatments p ON p.treatment_id = c.corrects_treatment_id
    WHERE c.treated_on <= $as_of
),

priced AS (
    SELECT c.*, pp.cost_per_unit_nok, cl.cost_per_minute_nok
    FROM corrections c
    ASOF LEFT JOIN {product_prices} pp
      ON pp.product = c.correction_product AND c.treated_on >= pp.valid_from
    LEFT JOIN {clinicians} cl ON cl.clinician = c.correction_clinician
),

parts AS (
    SELECT * EXCLUDE (cost_per_minute_nok),
           units * cost_per_unit_nok AS product_cost_nok,
           minutes * cost_per_minute_nok AS chair_cost_nok,
           CAST($consumables_nok AS DOUBLE) AS consumables_nok,
           cost_per_unit_nok IS NULL AS is_unpriced,
           minutes IS NULL OR cost_per_minute_nok IS NULL AS is_chair_time_unknown,
           days_after > $late_after_days AS is_late
    FROM priced
)

SELECT * EXCLUDE (is_unpriced, is_chair_time_unknown, is_late),
       coalesce(product_cost_nok, 0) + coalesce(chair_cost_nok, 0) + consumables_nok AS correction_cost_nok,
       is_unpriced, is_chair_time_unknown, is_late
FROM parts
