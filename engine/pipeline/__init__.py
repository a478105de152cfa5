"""A study from its files to the run store (study: the named steps over one state object), stratified studies (one
run per stratum) and new patients scored by a stored run."""
