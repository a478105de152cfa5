# Reference values for the nomogram calculator's intervals (engine.models.regression):
#   LogisticModel.predict_interval: R predict(glm, type = "link", se.fit = TRUE), Wald CI on the logit scale;
#   CoxModel.survival_interval: R survfit(coxph(..., ties = "efron"), newdata, conf.type = "log") (the default).
# On survival::pbc (tests/reference/data/pbc.csv, written by regression.R), complete cases.
#   Rscript tests/reference/prediction_intervals.R        (from the repository root)
# Writes tests/reference/prediction_intervals.csv (model, patient, time, stat, value).
suppressMessages(library(survival))
d <- read.csv("tests/reference/data/pbc.csv")
d <- d[complete.cases(d[, c("time", "event", "dead_5y", "age", "log_bili", "albumin", "edema")]), ]
d$edema <- factor(as.character(d$edema))
newdata <- data.frame(age = c(45, 60, 72), log_bili = c(0.2, 1.5, 2.8), albumin = c(3.9, 3.2, 2.7),
                      edema = factor(c("0", "0.5", "1"), levels = levels(d$edema)))
rows <- list()
add <- function(model, patient, time, stat, value) rows[[length(rows) + 1]] <<- data.frame(
  model = model, patient = patient, time = time, stat = stat, value = sprintf("%.17g", value))

logistic <- glm(dead_5y ~ age + log_bili + albumin + edema, family = binomial, data = d,
                control = glm.control(epsilon = 1e-14, maxit = 100))  # converged fully, as statsmodels
link <- predict(logistic, newdata, type = "link", se.fit = TRUE)
for (i in 1:3) {
  add("logistic", i, NA, "lp", link$fit[i])
  add("logistic", i, NA, "se", link$se.fit[i])
  add("logistic", i, NA, "prob", plogis(link$fit[i]))
  add("logistic", i, NA, "ci_low", plogis(link$fit[i] - qnorm(0.975) * link$se.fit[i]))
  add("logistic", i, NA, "ci_high", plogis(link$fit[i] + qnorm(0.975) * link$se.fit[i]))
}

cox <- coxph(Surv(time, event) ~ age + log_bili + albumin + edema, data = d, ties = "efron")
curves <- survfit(cox, newdata = newdata, conf.type = "log")
times <- c(400, 1000, 2000, 3000)
at <- summary(curves, times = times)
for (i in 1:3) {
  for (k in seq_along(times)) {
    add("cox", i, times[k], "surv", at$surv[k, i])
    add("cox", i, times[k], "std_err", at$std.err[k, i])  # of S(t); R's log CI uses std.err / surv
    add("cox", i, times[k], "lower", at$lower[k, i])
    add("cox", i, times[k], "upper", at$upper[k, i])
  }
}
write.csv(do.call(rbind, rows), "tests/reference/prediction_intervals.csv", row.names = FALSE, quote = FALSE)
