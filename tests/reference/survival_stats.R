# Reference values for engine.stats (survival): survival 3.x, riskRegression, maxstat, survminer (Debian packages).
#   Rscript tests/reference/survival_stats.R        (from the repository root)
# Writes tests/reference/data/lung.csv (survival::lung, complete cases, status recoded 0/1, with a Cox risk
# score), tests/reference/survival_stats.csv (dataset, stat, value) and tests/reference/km_<dataset>.csv.
suppressMessages({library(survival); library(riskRegression); library(maxstat); library(survminer)})
data_dir <- "tests/reference/data"
rows <- list()
add <- function(ds, stat, value) rows[[length(rows) + 1]] <<- data.frame(dataset = ds, stat = stat, value = sprintf("%.17g", value))
km_rows <- list()

lung_cc <- na.omit(survival::lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung_cc$event <- lung_cc$status - 1
lung_cc$ecog <- pmin(lung_cc$ph.ecog, 2)  # ECOG 3 has a single patient: merged into 2
lung_cc$risk <- predict(coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lung_cc), type = "lp")
lung_cc$sex_f <- ifelse(lung_cc$sex == 2, "F", "M")
lung <- lung_cc[, c("time", "event", "age", "sex_f", "ecog", "risk")]
names(lung)[names(lung) == "sex_f"] <- "sex"
write.csv(format(lung, digits = 17), file.path(data_dir, "lung.csv"), row.names = FALSE, quote = FALSE)
ties <- read.csv(file.path(data_dir, "survival_ties.csv"))
ties$ecog <- ties$grade

run_all <- function(ds, d, times, td_times) {
  for (ct in c("log", "log-log", "plain")) {
    fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = ct)
    s <- summary(fit, censored = TRUE)
    km_rows[[length(km_rows) + 1]] <<- data.frame(dataset = ds, conf_type = ct, kind = "all", time = s$time,
      at_risk = s$n.risk, events = s$n.event, survival = s$surv, std_err = s$std.err / s$surv, ci_low = s$lower, ci_high = s$upper)
    s <- summary(fit, times = times)
    km_rows[[length(km_rows) + 1]] <<- data.frame(dataset = ds, conf_type = ct, kind = "times", time = s$time,
      at_risk = s$n.risk, events = s$n.event, survival = s$surv, std_err = s$std.err / s$surv, ci_low = s$lower, ci_high = s$upper)
  }
  lr <- survdiff(Surv(time, event) ~ sex, data = d)
  add(ds, "logrank_sex_chisq", lr$chisq); add(ds, "logrank_sex_p", pchisq(lr$chisq, 1, lower.tail = FALSE))
  lr3 <- survdiff(Surv(time, event) ~ ecog, data = d)
  add(ds, "logrank_ecog_chisq", lr3$chisq); add(ds, "logrank_ecog_df", length(lr3$n) - 1)
  add(ds, "logrank_ecog_p", pchisq(lr3$chisq, length(lr3$n) - 1, lower.tail = FALSE))
  for (g in seq_along(lr3$n)) add(ds, paste0("logrank_ecog_expected_", g), lr3$exp[g])
  cx <- coxph(Surv(time, event) ~ factor(sex, levels = c("F", "M")), data = d)
  sm <- summary(cx)
  add(ds, "hr_sex_M", sm$conf.int[1, 1]); add(ds, "hr_sex_M_low", sm$conf.int[1, 3]); add(ds, "hr_sex_M_high", sm$conf.int[1, 4])
  add(ds, "hr_sex_M_p", sm$coefficients[1, 5])
  for (v in c("risk", "ecog")) {
    cc <- concordance(Surv(time, event) ~ d[[v]], data = d, reverse = TRUE)
    add(ds, paste0("harrell_", v), cc$concordance); add(ds, paste0("harrell_", v, "_se"), sqrt(cc$var))
    add(ds, paste0("harrell_", v, "_concordant"), cc$count[["concordant"]])
    add(ds, paste0("harrell_", v, "_discordant"), cc$count[["discordant"]])
    add(ds, paste0("harrell_", v, "_tied_x"), cc$count[["tied.x"]])
    uno <- concordance(Surv(time, event) ~ d[[v]], data = d, reverse = TRUE, timewt = "n/G2")
    add(ds, paste0("uno_", v), uno$concordance)
  }
  d$p <- plogis(d$risk)
  sc <- Score(list(model = matrix(d$p, nrow(d), length(td_times))), formula = Hist(time, event) ~ 1, data = d,
              times = td_times, metrics = "auc", cens.model = "km", null.model = FALSE, conf.int = TRUE)
  auc <- sc$AUC$score
  for (k in seq_along(td_times)) {
    add(ds, paste0("td_auc_", td_times[k]), auc$AUC[k])
    add(ds, paste0("td_auc_", td_times[k], "_low"), auc$lower[k]); add(ds, paste0("td_auc_", td_times[k], "_high"), auc$upper[k])
  }
  mt <- maxstat.test(Surv(time, event) ~ risk, data = d, smethod = "LogRank", pmethod = "Lau92", minprop = 0.1, maxprop = 0.9)
  add(ds, "maxstat_cutpoint", mt$estimate); add(ds, "maxstat_statistic", mt$statistic); add(ds, "maxstat_p_lau92", mt$p.value)
  cp <- surv_cutpoint(d, time = "time", event = "event", variables = "risk", minprop = 0.1)
  add(ds, "survminer_cutpoint", cp$cutpoint$cutpoint); add(ds, "survminer_statistic", cp$cutpoint$statistic)
}

run_all("lung", lung, times = c(100, 200, 365, 500, 730), td_times = c(180, 365, 540))
run_all("survival_ties", ties, times = c(6, 12, 24, 36, 48), td_times = c(12, 24, 36))
write.csv(do.call(rbind, rows), "tests/reference/survival_stats.csv", row.names = FALSE, quote = FALSE)
km <- do.call(rbind, km_rows)
write.csv(format(km, digits = 17), "tests/reference/km.csv", row.names = FALSE, quote = FALSE)
