"""polyarbctl: the control CLI (`python -m polyarb.ctl`); gamma.py builds structures from Gamma events."""
