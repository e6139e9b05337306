"""The bounded memory soak of the paper pipeline (issue 11); run it with ``make soak``."""
