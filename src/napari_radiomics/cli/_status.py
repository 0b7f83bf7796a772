"""The exit statuses every subcommand uses, so scripts and schedulers can rely on them."""

EXIT_OK = 0  #: every case succeeded (or, with --check, would run)
#: a usage error (bad option, missing input, invalid setting, output there), the output held by
#: another run, or an output file that cannot be written (a full disk; rerun with --resume)
EXIT_USAGE = 2
EXIT_FAILED_CASES = 3  #: some cases failed (listed in the errors file); good rows are written
EXIT_INTERRUPTED = 130  #: Ctrl-C: finished cases are kept, rerun with --resume
#: SIGTERM (a scheduler stopping the job, `kill`): as Ctrl-C, finished cases are kept
EXIT_TERMINATED = 143
