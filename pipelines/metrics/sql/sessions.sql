-- sessions: one row per treatment session known on the as-of date, with what the outcome definitions need.
-- Parameter: $as_of (DATE). Staging only renames and derives; no outcome is defined here.
WITH treatments_as_of AS (
    SELECT * FROM treatments WHERE treated_on <= $as_of
),

contacts_as_of AS (
    SELECT treatment_id, effect FROM follow_ups WHERE seen_on <= $as_of
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

-- each patient's sessions on earlier days; the window runs over a narrow row, not the whole session.
-- "Earlier" is an earlier date: sessions of the same day (two areas treated at one visit) are one visit and never
-- each other's history
history AS (
    SELECT t.treatment_id,
           sum(CAST(t.corrects_treatment_id IS NULL AS INTEGER)) OVER earlier AS earlier_primary_n,
           bool_or(t.corrects_treatment_id IS NULL AND fe.treatment_id IS NOT NULL) OVER earlier AS responded_before
    FROM (SELECT treatment_id, patient_ref, treated_on, corrects_treatment_id FROM treatments_as_of) t
    LEFT JOIN full_effect fe USING (treatment_id)
    WINDOW earlier AS (PARTITION BY t.patient_ref ORDER BY t.treated_on
                       RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 DAY PRECEDING)
)

SELECT t.*,
       t.corrects_treatment_id IS NULL AS is_primary,
       string_split(t.areas, '|') AS area_list,
       t.units * p.botox_equivalent_factor AS botox_equivalent_units,
       c.first_correction_after_days,
       coalesce(c.corrections_n, 0) AS corrections_n,
       -- repeat treatment: the export says so, else a primary session of the same patient on an earlier day
       CASE WHEN t.prior_treatments IS NOT NULL THEN t.prior_treatments > 0
            ELSE coalesce(h.earlier_primary_n, 0) > 0 END AS is_repeat,
       -- a primary session of the same patient on an earlier day had full effect
       coalesce(h.responded_before, false) AS responded_before
FROM treatments_as_of t
JOIN history h USING (treatment_id)
JOIN products p USING (product)
LEFT JOIN corrections c USING (treatment_id)
