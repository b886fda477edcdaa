"""Running a job: build it from the config, train, validate and test it, write results.json with
its status and exit code (job.py); what a job prints and logs."""
