# Reference values for engine.stats.univariable_table / multivariable_table: R glm (binomial) and survival::coxph
# (Efron ties) on survival::pbc, with numeric predictors, factors (first level as reference) and missing values.
#   Rscript tests/reference/regression.R        (from the repository root)
# Writes tests/reference/data/pbc.csv and tests/reference/regression.csv (dataset, stat, value); dataset is
# <uni|multi>_<logistic|cox>, stat is "<term>|<ratio|ci_low|ci_high|p_value>" or "<predictor>|<n|events>".
suppressMessages(library(survival))
data_dir <- "tests/reference/data"
rows <- list()
add <- function(ds, stat, value) rows[[length(rows) + 1]] <<- data.frame(dataset = ds, stat = stat, value = sprintf("%.17g", value))

pbc_data <- survival::pbc
d <- data.frame(time = pbc_data$time, event = as.integer(pbc_data$status == 2), age = pbc_data$age,
                sex = as.character(pbc_data$sex), edema = as.character(pbc_data$edema), stage = pbc_data$stage,
                albumin = pbc_data$albumin, log_bili = log(pbc_data$bili), hepato = pbc_data$hepato)
d$dead_5y <- as.integer(d$event == 1 & d$time <= 5 * 365.25)   # binary endpoint: death within 5 years
write.csv(format(d, digits = 17), file.path(data_dir, "pbc.csv"), row.names = FALSE, quote = FALSE, na = "")

# stage enters as a factor with the levels in reverse order (pandas Categorical with that category order), stages
# 1 and 2 merged: in the complete cases no stage-1 patient died within 5 years, where glm prints an odds ratio of
# 7e-12 (separation; the engine refuses it, tested separately). sex and edema: R's default (sorted) levels.
d$stage <- factor(ifelse(d$stage <= 2, "1-2", as.character(d$stage)), levels = c("4", "3", "1-2"))
d$sex <- factor(d$sex)
d$edema <- factor(d$edema)
predictors <- c("age", "sex", "edema", "stage", "albumin", "log_bili", "hepato")

term_names <- function(fit, data) {
  names <- c()
  for (p in attr(terms(fit), "term.labels")) {
    if (is.factor(data[[p]])) names <- c(names, paste0(p, "=", levels(data[[p]])[-1])) else names <- c(names, p)
  }
  names
}
record <- function(ds, fit, data, cox) {
  s <- summary(fit)$coefficients
  if (!cox) s <- s[-1, , drop = FALSE]
  est <- s[, 1]; se <- s[, if (cox) 3 else 2]; p <- s[, if (cox) 5 else 4]
  z <- qnorm(0.975)
  nm <- term_names(fit, data)
  for (k in seq_along(nm)) {
    add(ds, paste0(nm[k], "|ratio"), exp(est[k])); add(ds, paste0(nm[k], "|ci_low"), exp(est[k] - z * se[k]))
    add(ds, paste0(nm[k], "|ci_high"), exp(est[k] + z * se[k])); add(ds, paste0(nm[k], "|p_value"), p[k])
  }
}
ctl <- glm.control(epsilon = 1e-12, maxit = 100)
# glm's standard errors use the IRLS weights of the iteration before the last; refitting from the converged
# coefficients makes them the weights at the optimum (ratios are unchanged; SEs move by about 1e-7).
logistic <- function(formula, data) {
  first <- glm(formula, family = binomial, data = data, control = ctl)
  glm(formula, family = binomial, data = data, control = ctl, start = coef(first))
}
for (p in predictors) {
  used <- d[!is.na(d[[p]]), ]
  fit <- logistic(as.formula(paste("dead_5y ~", p)), used)
  record("uni_logistic", fit, used, FALSE)
  add("uni_logistic", paste0(p, "|n"), nrow(used)); add("uni_logistic", paste0(p, "|events"), sum(used$dead_5y))
  fit <- coxph(as.formula(paste("Surv(time, event) ~", p)), data = used, ties = "efron",
               control = coxph.control(eps = 1e-11, iter.max = 100))
  record("uni_cox", fit, used, TRUE)
  add("uni_cox", paste0(p, "|n"), nrow(used)); add("uni_cox", paste0(p, "|events"), sum(used$event))
}
used <- na.omit(d[, c("time", "event", "dead_5y", predictors)])
fit <- logistic(as.formula(paste("dead_5y ~", paste(predictors, collapse = " + "))), used)
record("multi_logistic", fit, used, FALSE)
add("multi_logistic", "all|n", nrow(used)); add("multi_logistic", "all|events", sum(used$dead_5y))
fit <- coxph(as.formula(paste("Surv(time, event) ~", paste(predictors, collapse = " + "))), data = used, ties = "efron",
             control = coxph.control(eps = 1e-11, iter.max = 100))
record("multi_cox", fit, used, TRUE)
add("multi_cox", "all|n", nrow(used)); add("multi_cox", "all|events", sum(used$event))

# Backward elimination by AIC, as step(direction = "backward"), on the complete cases: the kept predictors.
full <- glm(as.formula(paste("dead_5y ~", paste(predictors, collapse = " + "))), family = binomial, data = used, control = ctl)
kept <- attr(terms(step(full, direction = "backward", trace = 0)), "term.labels")
for (p in predictors) add("backward_aic_logistic", paste0(p, "|kept"), as.numeric(p %in% kept))
full <- coxph(as.formula(paste("Surv(time, event) ~", paste(predictors, collapse = " + "))), data = used, ties = "efron")
kept <- attr(terms(step(full, direction = "backward", trace = 0)), "term.labels")
for (p in predictors) add("backward_aic_cox", paste0(p, "|kept"), as.numeric(p %in% kept))
# Unmerged stages (levels 4, 3, 2, 1): one 5-year death among the 21 stage-1 patients.
d$stage4 <- factor(pbc_data$stage, levels = c(4, 3, 2, 1))
used <- d[!is.na(d$stage4), ]
record("uni_logistic_stage4", logistic(dead_5y ~ stage4, used), used, FALSE)
write.csv(do.call(rbind, rows), "tests/reference/regression.csv", row.names = FALSE, quote = FALSE)
