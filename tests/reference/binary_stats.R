# Reference values for engine.stats (binary outcome): pROC 1.18, Hmisc 4.8, rms 6.5 (Debian packages).
#   Rscript tests/reference/binary_stats.R        (from the repository root)
# Reads tests/reference/data/{ties,large}.csv, writes tests/reference/data/asah.csv (pROC's aSAH with two
# logistic models' probabilities) and tests/reference/binary_stats.csv (dataset, stat, value).
suppressMessages({library(pROC); library(Hmisc); library(rms)})
set.seed(1)
data_dir <- "tests/reference/data"

# ResourceSelection::hoslem.test (0.3-5), verbatim; ResourceSelection is not packaged by Debian.
hoslem.test <- function(x, y, g = 10) {
  yhat <- y; y <- x
  qq <- unique(quantile(yhat, probs = seq(0, 1, 1/g)))
  cutyhat <- cut(yhat, breaks = qq, include.lowest = TRUE)
  observed <- xtabs(cbind(y0 = 1 - y, y1 = y) ~ cutyhat)
  expected <- xtabs(cbind(yhat0 = 1 - yhat, yhat1 = yhat) ~ cutyhat)
  chisq <- sum((observed - expected)^2 / expected)
  PVAL <- 1 - pchisq(chisq, g - 2)
  list(statistic = chisq, parameter = g - 2, p.value = PVAL, groups = nrow(observed),
       # not in hoslem.test: an interpolated break can leave a group empty, whose 0/0 cells make chisq NaN
       statistic_nonempty = sum(((observed - expected)^2 / expected)[rowSums(observed) > 0, ]),
       groups_nonempty = sum(rowSums(observed) > 0))
}

rows <- list()
add <- function(ds, stat, value) rows[[length(rows) + 1]] <<- data.frame(dataset = ds, stat = stat, value = sprintf("%.17g", value))

run_all <- function(ds, d, cutoffs = c(0.1, 0.3)) {
  y <- d$y
  ra <- roc(y, d$score_a, levels = c(0, 1), direction = "<", quiet = TRUE)
  rb <- roc(y, d$score_b, levels = c(0, 1), direction = "<", quiet = TRUE)
  for (nm in c("a", "b")) {
    r <- if (nm == "a") ra else rb
    ci <- ci.auc(r, method = "delong")
    add(ds, paste0("auc_", nm), ci[2]); add(ds, paste0("auc_", nm, "_ci_low"), ci[1]); add(ds, paste0("auc_", nm, "_ci_high"), ci[3])
    add(ds, paste0("auc_", nm, "_se"), sqrt(var(r, method = "delong")))
  }
  ci90 <- ci.auc(ra, method = "delong", conf.level = 0.9)
  add(ds, "auc_a_ci90_low", ci90[1]); add(ds, "auc_a_ci90_high", ci90[3])
  boot <- ci.auc(ra, method = "bootstrap", boot.n = 10000, boot.stratified = TRUE, progress = "none")
  add(ds, "auc_a_boot_ci_low", boot[1]); add(ds, "auc_a_boot_ci_high", boot[3])
  t <- roc.test(ra, rb, method = "delong", paired = TRUE)
  add(ds, "delong_z", t$statistic); add(ds, "delong_p", t$p.value)
  add(ds, "delong_ci_low", t$conf.int[1]); add(ds, "delong_ci_high", t$conf.int[2])
  odd <- seq(1, nrow(d), by = 2); even <- seq(2, nrow(d), by = 2)
  r1 <- roc(y[odd], d$score_a[odd], levels = c(0, 1), direction = "<", quiet = TRUE)
  r2 <- roc(y[even], d$score_b[even], levels = c(0, 1), direction = "<", quiet = TRUE)
  u <- roc.test(r1, r2, method = "delong", paired = FALSE)
  add(ds, "unpaired_t", u$statistic); add(ds, "unpaired_df", u$parameter); add(ds, "unpaired_p", u$p.value)
  ip <- improveProb(d$prob_old, d$prob_new, y)
  for (s in c("nri", "se.nri", "z.nri", "nri.ev", "se.nri.ev", "nri.ne", "se.nri.ne", "idi", "se.idi", "z.idi", "improveSens", "improveSpec"))
    add(ds, s, ip[[s]])
  add(ds, "p.nri", 2 * pnorm(-abs(ip$z.nri))); add(ds, "p.idi", 2 * pnorm(-abs(ip$z.idi)))
  # Categorical NRI: improveProb on the risk categories (scaled into [0, 1]); only the direction of change counts.
  cat_of <- function(p) as.numeric(cut(p, c(0, cutoffs, 1), right = FALSE, include.lowest = TRUE)) / (length(cutoffs) + 2)
  ic <- improveProb(cat_of(d$prob_old), cat_of(d$prob_new), y)
  for (s in c("nri", "se.nri", "z.nri", "nri.ev", "nri.ne")) add(ds, paste0("cat_", s), ic[[s]])
  for (g in c(10, 5)) {
    h <- hoslem.test(y, d$prob_new, g = g)
    add(ds, paste0("hl", g, "_statistic"), h$statistic); add(ds, paste0("hl", g, "_groups"), h$groups)
    add(ds, paste0("hl", g, "_p_r"), h$p.value)
  }
  coarse <- floor(d$prob_new * 4.999) / 5 + 0.1  # five distinct values: quantile breaks merge, groups < g
  h <- hoslem.test(y, coarse, g = 10)
  add(ds, "hl_coarse_statistic", h$statistic); add(ds, "hl_coarse_groups", h$groups)
  add(ds, "hl_coarse_statistic_nonempty", h$statistic_nonempty); add(ds, "hl_coarse_groups_nonempty", h$groups_nonempty)
  v <- val.prob(d$prob_new, y, pl = FALSE)
  for (s in c("Intercept", "Slope", "Brier", "Eavg", "E90", "Emax", "S:z", "S:p")) add(ds, paste0("valprob_", s), v[[s]])
  ok <- d$prob_new > 0 & d$prob_new < 1
  citl <- glm(y[ok] ~ 1, offset = qlogis(d$prob_new[ok]), family = binomial)
  add(ds, "citl", coef(citl)[1])
}

data(aSAH)
asah <- data.frame(y = as.integer(aSAH$outcome == "Poor"), score_a = aSAH$s100b, score_b = aSAH$ndka,
                   age = aSAH$age, wfns = as.integer(aSAH$wfns))
asah$prob_old <- fitted(glm(y ~ age + wfns, family = binomial, data = asah))
asah$prob_new <- fitted(glm(y ~ age + wfns + score_a, family = binomial, data = asah))
write.csv(format(asah, digits = 17), file.path(data_dir, "asah.csv"), row.names = FALSE, quote = FALSE)

run_all("asah", asah)
run_all("ties", read.csv(file.path(data_dir, "ties.csv")), cutoffs = c(0.2, 0.5))
run_all("large", read.csv(file.path(data_dir, "large.csv")))
write.csv(do.call(rbind, rows), "tests/reference/binary_stats.csv", row.names = FALSE, quote = FALSE)
