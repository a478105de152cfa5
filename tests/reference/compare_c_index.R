# Reference values for engine.stats.compare_c_index: the paired comparison of two models' Harrell C on the same
# patients, survival::concordance(fit1, fit2) with the contrast c(1, -1) (infinitesimal-jackknife covariance).
#   Rscript tests/reference/compare_c_index.R        (from the repository root; after survival_stats.R)
# Reads tests/reference/data/lung.csv (survival::lung complete cases), writes tests/reference/data/lung_models.csv
# (the linear predictors of three Cox models) and tests/reference/compare_c_index.csv (dataset, stat, value).
suppressMessages(library(survival))
lung <- read.csv("tests/reference/data/lung.csv")
fits <- list(
  ecog = coxph(Surv(time, event) ~ ecog, data = lung),                 # three distinct risks: many ties
  age = coxph(Surv(time, event) ~ age, data = lung),
  full = coxph(Surv(time, event) ~ age + sex + ecog, data = lung)
)
models <- data.frame(time = lung$time, event = lung$event)
for (name in names(fits)) models[[name]] <- predict(fits[[name]], type = "lp")
write.csv(format(models, digits = 17), "tests/reference/data/lung_models.csv", row.names = FALSE, quote = FALSE)
rows <- list()
add <- function(ds, stat, value) rows[[length(rows) + 1]] <<- data.frame(dataset = ds, stat = stat, value = sprintf("%.17g", value))
for (pair in list(c("age", "full"), c("ecog", "full"), c("ecog", "age"))) {
  both <- concordance(fits[[pair[1]]], fits[[pair[2]]])
  contrast <- c(1, -1)
  diff <- sum(contrast * coef(both))
  se <- sqrt(drop(contrast %*% vcov(both) %*% contrast))
  ds <- paste(pair, collapse = "_vs_")
  add(ds, "c_a", coef(both)[1]); add(ds, "c_b", coef(both)[2])
  add(ds, "se_a", sqrt(vcov(both)[1, 1])); add(ds, "se_b", sqrt(vcov(both)[2, 2]))
  add(ds, "diff", diff); add(ds, "se", se); add(ds, "z", diff / se); add(ds, "p_value", 2 * pnorm(-abs(diff / se)))
  add(ds, "ci_low", diff - qnorm(0.975) * se); add(ds, "ci_high", diff + qnorm(0.975) * se)
}
write.csv(do.call(rbind, rows), "tests/reference/compare_c_index.csv", row.names = FALSE, quote = FALSE)
