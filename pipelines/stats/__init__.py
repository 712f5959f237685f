"""Pure statistical functions for clinic outcome monitoring, one module per kind of method:
``intervals``, ``spc`` (control charts), ``funnel`` and ``cusum``. Everything public is
re-exported here, so ``from pipelines import stats; stats.p_chart(...)`` reads as before.

No I/O, no project imports, no UI: numpy / scipy / pandas only. Every public function is tested
against values produced by the established R tools (reference CSVs copied verbatim into
``tests/reference_data``; its README describes each file) or, where no R reference exists, against
values worked out by hand in the test:

* ``wilson_interval`` - PHEindicatormethods 2.0.2 ``phe_proportion`` (95 %, 99.8 %) and base R
  ``prop.test(correct = FALSE)`` (``tests/test_stats_ci.py``);
* ``wilson_cc_interval`` - base R ``prop.test(correct = TRUE)`` (``test_stats_ci.py``);
* ``clopper_pearson_interval`` - base R ``binom.test``, 95 % and 99.8 % (``test_stats_ci.py``);
* ``jeffreys_interval`` - base R ``qbeta(c(.025, .975), x + .5, n - x + .5)`` (``test_stats_ci.py``);
* ``observed_expected`` - exact Poisson (gamma) limits written out by hand (``test_stats_ci.py``);
* ``p_chart`` - qicharts2 0.8.1 ``qic(chart = "p")`` and ``chart = "pp"`` on its ``cabg`` data,
  per point and summary; freeze / parts / n = 0 by hand (``test_stats_spc.py``);
* ``g_chart`` - qicharts2's ``qic.g`` with its run rules, run in R on the qicharts2 vignette's published
  "Surgeries between deaths" values, the demo's ptosis (one and two parts) and two made-up sequences
  (``tests/reference_computed``, ``test_g_chart.py``), and worked by hand;
* ``anhoej_rules`` - qicharts2 run-rule limits for n_useful = 1..100 (``test_stats_spc.py``);
* ``mdc_rules``, ``variation_reading`` - hand-counted sequences (``test_stats_spc.py``);
* ``funnel_proportions``, ``funnel_limit_curve`` - FunnelPlotR 0.6.0 ``data_type = "PR"`` on
  COUNT::medpar (z, limits adjusted and unadjusted, phi, tau2, outliers) and the README worked
  example n = 15, 3.6 % (``test_stats_funnel.py``);
* ``funnel_ratios`` - FunnelPlotR 0.6.0 ``data_type = "SR"``, SHMI at 95 % and CQC at 99.8 %
  (``test_stats_funnel.py``);
* ``bernoulli_cusum`` - hand-computed S_t sequences; ``cusum_arl`` / ``cusum_threshold`` - exact
  lattice ARL (independent linear solve) and Monte Carlo run lengths (``test_stats_cusum.py``).

Conventions: proportions are on the 0-1 scale; missing values are ``nan``; a denominator of 0 gives
a ``nan`` rate and is ignored by every calculation that the reference tools would also ignore.
"""

from __future__ import annotations

from pipelines.stats.cusum import *  # noqa: F403
from pipelines.stats.cusum import __all__ as _cusum_all
from pipelines.stats.funnel import *  # noqa: F403
from pipelines.stats.funnel import __all__ as _funnel_all
from pipelines.stats.intervals import *  # noqa: F403
from pipelines.stats.intervals import __all__ as _intervals_all
from pipelines.stats.spc import *  # noqa: F403
from pipelines.stats.spc import __all__ as _spc_all

__all__ = [*_intervals_all, *_spc_all, *_funnel_all, *_cusum_all]
