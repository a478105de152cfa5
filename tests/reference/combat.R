# ComBat reference values: sva::ComBat (Bioconductor, Debian r-bioc-sva), parametric empirical Bayes, no covariates.
#   Rscript tests/reference/combat.R   (reads data/combat_input.csv, writes combat.csv)
# Used by tests/stats/test_combat_against_R.py.
suppressMessages(library(sva))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
data <- read.csv(file.path(here, "data", "combat_input.csv"), stringsAsFactors = FALSE)
features <- grep("^f", names(data), value = TRUE)
dat <- t(as.matrix(data[, features]))
adjusted <- ComBat(dat = dat, batch = data$center, mod = NULL, par.prior = TRUE, prior.plots = FALSE)
out <- data.frame(patient_id = data$patient_id, center = data$center, t(adjusted))
write.csv(out, file.path(here, "combat.csv"), row.names = FALSE)
# train on C1 + C2 only, apply to their own patients (the harmonised training table)
train <- data$center != "C3"
adjusted_train <- ComBat(dat = dat[, train], batch = data$center[train], mod = NULL, par.prior = TRUE)
out <- data.frame(patient_id = data$patient_id[train], center = data$center[train], t(adjusted_train))
write.csv(out, file.path(here, "combat_two_centres.csv"), row.names = FALSE)
