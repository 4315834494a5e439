"""A simulated Osirium PAM HA pair over SSH, for tests, demos and rehearsals."""
