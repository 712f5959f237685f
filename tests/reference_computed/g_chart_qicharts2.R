# Reference values for the g-chart (issue 13, item 5): qicharts2's own g-chart functions run in R on the inputs of
# g_chart_inputs.csv. Run from a checkout of anhoej/qicharts2 (commit 03470c0, R/helper.functions.R: qic.agg,
# qic.g, runs.analysis, crsignal, makeparts, fixnotes), with ggplot2 and scales installed (Debian: r-base-core
# r-cran-ggplot2 r-cran-scales), as
#   Rscript g_chart_qicharts2.R path/to/qicharts2 g_chart_inputs.csv g_chart_qicharts2.csv
# qic(y, chart = "g", part = p) hands qic.agg exactly this data frame (R/qic.R: x = seq_along(y) when only y is
# given, no n, freeze = Inf and exclude = Inf when not given); the plot is not drawn.
args <- commandArgs(trailingOnly = TRUE)
source(file.path(args[1], "R", "helper.functions.R"))
inputs <- read.csv(args[2], na.strings = "")
out <- NULL
for (case in unique(inputs$case)) {
  rows <- inputs[inputs$case == case, ]
  part <- unique(rows$part_start[!is.na(rows$part_start)])
  if (length(part) == 0) part <- NULL
  d <- data.frame(x = seq_along(rows$y), y = rows$y, n = NA, notes = NA, facet1 = 1, facet2 = 1, cl = NA * 1,
                  target = NA * 1)
  r <- qic.agg(d, got.n = FALSE, part = part, agg.fun = "mean", freeze = Inf, exclude = Inf, chart.fun = qic.g,
               multiply = 1, dots.only = FALSE, chart = "g", method = "anhoej", y.neg = TRUE)
  out <- rbind(out, data.frame(case = case, index = r$x, y = r$y, part = r$part, cl = r$cl, lcl = r$lcl,
                               ucl = r$ucl, lcl.95 = r$lcl.95, ucl.95 = r$ucl.95, sigma.signal = r$sigma.signal,
                               runs.signal = r$runs.signal, n.useful = r$n.useful, longest.run = r$longest.run,
                               longest.run.max = r$longest.run.max, n.crossings = r$n.crossings,
                               n.crossings.min = r$n.crossings.min))
}
write.csv(out, args[3], row.names = FALSE, na = "")
