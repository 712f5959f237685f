"""Counting: the outcome registry, the SQL it compiles to, the per-session outcome mart, rates, costs, headache
and sweating responses, and the analysis frames (control charts, funnels, case mix, CUSUM) and signals."""
