-- contacts: follow-up contacts known on the as-of date, with the days since the session they follow up and the
-- session's values the response outcomes compare against. Parameter: $as_of (DATE).
-- Relation: {follow_ups} (the follow_ups table, or a subset of it when only some sessions' contacts are needed).
SELECT f.*,
       f.seen_on - t.treated_on AS days_after,
       t.indication,
       t.baseline_headache_days,
       t.baseline_hdss
FROM {follow_ups} f
JOIN treatments t USING (treatment_id)
WHERE f.seen_on <= $as_of
  AND t.treated_on <= $as_of
