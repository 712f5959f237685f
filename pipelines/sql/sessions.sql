-- sessions: one row per treatment session known on the as-of date, with what the outcome definitions need.
-- Parameter: $as_of (DATE). Staging only renames and derives; no outcome is defined here.
WITH treatments_as_of AS (
    SELECT * FROM treatments WHERE treated_on <= $as_of
),

contacts_as_of AS (
    SELECT * FROM follow_ups WHERE seen_on <= $as_of
),

-- the first correction session of each corrected session, and how many there were
corrections AS (
    SELECT c.corrects_treatment_id AS treatment_id,
           min(c.treated_on - p.treated_on) AS first_correction_after_days,
           count(*) AS corrections_n
    FROM treatments_as_of c
    JOIN treatments_as_of p ON p.treatment_id = c.corrects_treatment_id
    GROUP BY 1
),

-- sessions judged to have full effect at some contact (for secondary non-response)
full_effect AS (
    SELECT DISTINCT treatment_id FROM contacts_as_of WHERE effect = 'full'
),

enriched AS (
    SELECT t.*,
           t.corrects_treatment_id IS NULL AS is_primary,
           string_split(t.areas, '|') AS area_list,
           t.units * p.botox_equivalent_factor AS botox_equivalent_units,
           c.first_correction_after_days,
           coalesce(c.corrections_n, 0) AS corrections_n,
           fe.treatment_id IS NOT NULL AS had_full_effect
    FROM treatments_as_of t
    JOIN products p USING (product)
    LEFT JOIN corrections c USING (treatment_id)
    LEFT JOIN full_effect fe USING (treatment_id)
)

SELECT *,
       -- repeat treatment: the export says so, else an earlier primary session of the same patient in the data
       CASE WHEN prior_treatments IS NOT NULL THEN prior_treatments > 0
            ELSE row_number() OVER (PARTITION BY patient_ref, is_primary ORDER BY treated_on, treatment_id) > 1
       END AS is_repeat,
       -- an earlier primary session of the same patient had full effect
       coalesce(bool_or(had_full_effect AND is_primary) OVER (
           PARTITION BY patient_ref ORDER BY treated_on, treatment_id
           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS responded_before
FROM enriched
