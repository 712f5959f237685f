-- correction_costs: one row per correction session known on the as-of date, with what it cost the clinic.
-- cost = units x the product's cost per unit valid on the correction date (product_prices, latest valid_from on
-- or before it) + chair minutes x the clinician's cost per minute + a fixed consumables amount.
-- The correction is attributed to the session it corrects: its clinician and product.
-- Parameters: $as_of (DATE), $consumables_nok (DOUBLE).
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
           p.clinician,
           p.product,
           p.indication,
           p.areas
    FROM treatments c
    JOIN treatments p ON p.treatment_id = c.corrects_treatment_id
    WHERE c.treated_on <= $as_of
),

priced AS (
    SELECT c.*, pp.cost_per_unit_nok
    FROM corrections c
    ASOF LEFT JOIN {product_prices} pp
      ON pp.product = c.correction_product AND c.treated_on >= pp.valid_from
)

SELECT p.*,
       p.units * p.cost_per_unit_nok AS product_cost_nok,
       coalesce(p.minutes, 0) * cl.cost_per_minute_nok AS chair_cost_nok,
       CAST($consumables_nok AS DOUBLE) AS consumables_nok,
       p.units * p.cost_per_unit_nok + coalesce(p.minutes, 0) * cl.cost_per_minute_nok
           + CAST($consumables_nok AS DOUBLE) AS correction_cost_nok,
       p.cost_per_unit_nok IS NULL AS is_unpriced
FROM priced p
LEFT JOIN {clinicians} cl ON cl.clinician = p.correction_clinician
