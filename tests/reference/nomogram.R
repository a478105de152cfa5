# Reference nomogram points from rms 6.5 (Debian r-cran-rms) for an lrm and a cph fit on survival::lung.
#   Rscript tests/reference/nomogram.R      (after survival_stats.R, which writes data/lung.csv)
# Writes tests/reference/nomogram.csv: model, variable, value, points (rms's own axis ticks),
# and the datadist display limits of age.
suppressMessages(library(rms))
lung <- read.csv("tests/reference/data/lung.csv", strip.white = TRUE)
lung$ecog <- factor(lung$ecog)
lung$sex <- factor(lung$sex, levels = c("F", "M"))
dd <- datadist(lung); options(datadist = "dd")
rows <- list()
collect <- function(model_name, nom) {
  for (v in c("age", "sex", "ecog")) {
    axis <- nom[[v]]
    rows[[length(rows) + 1]] <<- data.frame(model = model_name, variable = v, value = as.character(axis[[v]]),
                                           points = sprintf("%.17g", axis$points))
  }
}
f_lrm <- lrm(event ~ age + sex + ecog, data = lung)
collect("lrm", nomogram(f_lrm, fun = plogis, funlabel = "Risk"))
f_cph <- cph(Surv(time, event) ~ age + sex + ecog, data = lung, x = TRUE, y = TRUE, surv = TRUE)
collect("cph", nomogram(f_cph))
out <- do.call(rbind, rows)
limits <- dd$limits$age
out <- rbind(out, data.frame(model = "datadist", variable = "age", value = c("low", "high"),
                             points = sprintf("%.17g", c(limits[4], limits[5]))))
write.csv(out, "tests/reference/nomogram.csv", row.names = FALSE, quote = FALSE)

# Cox model predictions (survfit on a coxph fit, Efron ties) for the first 5 patients at 180 and 365 days,
# and the hazard-ratio table.
f <- coxph(Surv(time, event) ~ age + sex + ecog, data = lung)
s <- summary(survfit(f, newdata = lung[1:5, ]), times = c(180, 365))$surv
pred <- data.frame(patient = rep(1:5, each = 2), time = rep(c(180, 365), 5), survival = sprintf("%.17g", as.vector(s)))
write.csv(pred, "tests/reference/cox_predictions.csv", row.names = FALSE, quote = FALSE)
sm <- summary(f)$coefficients
write.csv(data.frame(term = rownames(sm), coef = sprintf("%.17g", sm[, 1]), se = sprintf("%.17g", sm[, 3]),
                     p = sprintf("%.17g", sm[, 5])), "tests/reference/cox_coefficients.csv", row.names = FALSE, quote = FALSE)
g <- glm(event ~ age + sex + ecog, data = lung, family = binomial)
sg <- summary(g)$coefficients
write.csv(data.frame(term = rownames(sg), coef = sprintf("%.17g", sg[, 1]), se = sprintf("%.17g", sg[, 2])),
          "tests/reference/logistic_coefficients.csv", row.names = FALSE, quote = FALSE)
